"""Benchmark: the grid fit by per-point simulation against one integration per orbit.

For one sample (40:40 nmol/L, dead time 20 s, the demo's time grid of 121 spectra) and one
model (3), in the same run and process (one core, compile/load time excluded):

1. the paper's 13^3 grid point by point and by orbits: CPU-seconds of each and the ratio;
   beside it model 4 (docs/model4.md): the 13^3 grid by orbits at each value of the config's
   ``fit.grid.beta`` axis (default 9; each β value its own set of orbits), its total and the
   ratio to model 3's; ``--model4-betas N`` times the first N values only and extrapolates
   (said so in the output). The grid stage only: rule fit_model4 also re-optimises the
   profile and refines (bench_model4.py measures the whole fit);
2. a 40^3 grid over the same range by orbits (complete), and point by point on a seeded random
   sample of the points, extrapolated to all 64,000 (said so in the output);
3. the zoom stage with the demo's settings (config.yaml ``fit.zoom``) around the best point;
4. peak RSS of the streaming chi² aggregation (``fit.chi2_streaming``) over chunk files of
   20^3, 40^3 and 60^3 points (each in a fresh subprocess, ``resource.getrusage``), the
   import-only baseline, and the extrapolation to a 130^3 grid (a line through the three).

The "experiment" is the model itself at the virtual experiment's truth (t_max of a noise-free
simulation), which is all chi² needs here; the numbers are costs, not fits.

    .venv/bin/python benchmarks/bench_grid.py [--sample-40 N] [--chunks N]
        [--model4-betas N] [--paper-grid-only]

The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import os

# One thread per process, before numpy/numba are imported: parallelism is by jobs.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from intercluster import exchange_bias, fit  # noqa: E402
from intercluster.fit import zoom  # noqa: E402
from intercluster.network import ReactionNetwork  # noqa: E402
from intercluster.observables import TmaxSettings  # noqa: E402
from intercluster.records import RateConstants  # noqa: E402
from intercluster.settings import ZoomSettings  # noqa: E402
from intercluster.system import DEFAULT_SYSTEM  # noqa: E402
from intercluster.validation import validate_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ION_LABELS = DEFAULT_SYSTEM.observables()["species"].tolist()
NUCLEARITY = DEFAULT_SYSTEM.nuclearity  # the demo's system, asked for explicitly
TIMES_MIN = np.arange(0.0, 60.0 + 1e-9, 0.5)
COND = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
MODEL = 3
TRUTH = (1.0e-2, 5.6e-2, 3.2e-2)


def grid(n: int) -> dict:
    return {k: {"min": 1.0e-3, "max": 1.0, "n": n} for k in ("k_dim", "k_diss", "k_ex")}


def cpu(fn, *args, **kwargs):
    started = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - started


def experiment(settings, options) -> pd.DataFrame:
    status, message, t_max = fit.simulate_tmax(
        ReactionNetwork(MODEL, nuclearity=NUCLEARITY), RateConstants(*TRUTH), COND, TIMES_MIN,
        settings, options=options
    )
    assert status == "ok", message
    table = DEFAULT_SYSTEM.observables()[["species", "kind", "charge", "n_first"]].copy()
    table["t_max_min"] = t_max
    table["peak_norm"] = 1.0
    table["included"] = True
    table["reason"] = ""
    return table


def by_points(points, settings, options):
    return fit.run_chunk(ReactionNetwork(MODEL, nuclearity=NUCLEARITY), points, COND, TIMES_MIN,
                         ION_LABELS, settings,
                         options=options, log_every_s=1e9)  # fmt: skip


def by_orbits(points, settings, options, network=None):
    plan = fit.grid_orbits(points)
    assert plan.orbits is not None, plan.reason
    network = network or ReactionNetwork(MODEL, nuclearity=NUCLEARITY)
    return fit.run_chunk(network, points, COND, TIMES_MIN, ION_LABELS, settings,
                         options=options, orbits=plan.orbits, log_every_s=1e9)  # fmt: skip


def model4_by_orbits(points, betas, settings, options) -> tuple[list[float], int]:
    """CPU-seconds of the grid by orbits at each β value (model 4: one network and one set
    of orbits per β, as exchange_bias.fit_beta_grid), and the failed points over all."""
    seconds, failed = [], 0
    for beta in betas:
        network = ReactionNetwork(4, beta=float(beta), nuclearity=NUCLEARITY)
        table, t = cpu(by_orbits, points, settings, options, network)
        seconds.append(t)
        failed += int((table["status"] != "ok").sum())
    return seconds, failed


CHI2_CHILD = """
import resource, sys, time
import pandas as pd
from intercluster import fit  # noqa: E402
paths, exp_path, n_points = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
exp = pd.read_parquet(exp_path)
if n_points:
    chi2 = fit.chi2_streaming({"s": paths}, {"s": exp}, n_points)
    fit.write_parquet(chi2, paths[0] + ".chi2.parquet")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
"""


def chi2_peak_rss_mb(n: int, n_chunks: int, exp: pd.DataFrame, work: Path) -> float:
    """Peak RSS (MB) of a fresh process that streams chi² over n^3 points in n_chunks files
    (random t_max: the memory does not depend on the values); n = 0: imports only."""
    rng = np.random.default_rng(n)
    n_points = n**3
    paths = []
    exp_path = work / "exp.parquet"
    exp.to_parquet(exp_path)
    if n:
        for c in range(n_chunks):
            ids = np.arange(c, n_points, n_chunks, dtype=np.int64)
            frame = pd.DataFrame({"point": ids, "k_dim": rng.random(ids.size),
                                  "k_diss": rng.random(ids.size), "k_ex": rng.random(ids.size),
                                  "status": "ok", "message": ""})  # fmt: skip
            tmax = pd.DataFrame(rng.uniform(0, 60, (ids.size, len(ION_LABELS))), columns=ION_LABELS)
            path = work / f"n{n}_{c}.parquet"
            fit.write_parquet(pd.concat([frame, tmax], axis=1), path)
            paths.append(str(path))
            del frame, tmax
    else:
        paths = ["none"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "workflow" / "src"))
    command = [sys.executable, "-c", CHI2_CHILD, ",".join(paths), str(exp_path), str(n_points)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    for path in paths:
        Path(path).unlink(missing_ok=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-40", type=int, default=600,
                        help="per-point simulations timed on the 40^3 grid (extrapolated)")
    parser.add_argument("--chunks", type=int, default=8, help="chunk files of the chi2 test")
    parser.add_argument("--model4-betas", type=int, default=None,
                        help="model 4: time the first N values of fit.grid.beta and "
                             "extrapolate to all (default: all of them)")
    parser.add_argument("--paper-grid-only", action="store_true",
                        help="only the 13^3 grid (models 3 and 4): no 40^3, zoom or memory")
    args = parser.parse_args()
    # validated: the schema's defaults filled in (fit.grid.beta is one, not in config.yaml)
    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    options = fit.simulator_options(config["kinetics"])
    settings = TmaxSettings.from_config(config["fit"]["tmax"])
    exp = experiment(settings, options)

    # warm-up: numba kernels loaded from the cache (and compiled on a first run)
    warm = fit.grid_points(grid(2))
    by_orbits(warm, settings, options)
    by_points(warm.head(2), settings, options)

    print(f"one sample (40:40 nmol/L), model {MODEL}, {TIMES_MIN.size} time points, rtol "
          f"{options.rtol:g}, atol {options.atol:g}; CPU-seconds of one process")  # fmt: skip
    results = {}
    paper = fit.grid_points(grid(13))
    orbit_13, t_orbit_13 = cpu(by_orbits, paper, settings, options)
    point_13, t_point_13 = cpu(by_points, paper, settings, options)
    chi2_o = fit.chi2_single(orbit_13, exp)
    chi2_p = fit.chi2_single(point_13, exp)
    ok = (point_13["status"] == "ok").to_numpy() & (orbit_13["status"] == "ok").to_numpy()
    by_orbit, by_point = orbit_13[ION_LABELS].to_numpy(), point_13[ION_LABELS].to_numpy()
    dev = np.nanmax(np.abs(by_orbit[ok] - by_point[ok]))
    n_orbits_13 = len(fit.grid_orbits(paper).orbits)
    results["speedup_paper_grid"] = t_point_13 / t_orbit_13
    print(f"paper grid 13^3 = {len(paper)} points, {n_orbits_13} orbits:")
    print(f"  per point {t_point_13:8.2f} s   orbits {t_orbit_13:8.2f} s   "
          f"ratio {results['speedup_paper_grid']:.2f}x")  # fmt: skip
    same_best = fit.ranked(chi2_o)["point"].iloc[0] == fit.ranked(chi2_p)["point"].iloc[0]
    print(f"  largest t_max difference {dev:.2e} min; same best point: {same_best}")

    betas = exchange_bias.beta_axis(config["fit"]["grid"])
    timed = betas if args.model4_betas is None else betas[: max(1, args.model4_betas)]
    t_betas, failed4 = model4_by_orbits(paper, timed, settings, options)
    t_model4 = float(np.sum(t_betas)) * len(betas) / len(timed)
    extrapolated = len(timed) < len(betas)
    results["model4_over_model3_paper_grid"] = t_model4 / t_orbit_13
    print(f"  model 4, 13^3 x {len(betas)} beta values ({betas.min():g}..{betas.max():g}, "
          f"each its own {n_orbits_13} orbits): by orbits {t_model4:8.2f} s"
          + (f" (EXTRAPOLATED from the first {len(timed)} beta values: "
             f"{np.sum(t_betas):.2f} s)" if extrapolated else "")
          + f"   = {results['model4_over_model3_paper_grid']:.2f}x model 3's "
          f"{t_orbit_13:.2f} s; per beta value "
          + ", ".join(f"{t:.2f}" for t in t_betas)
          + f" s; failed points {failed4}")  # fmt: skip
    results.update(cpu_s_model4_paper_orbits=t_model4, model4_betas=len(betas),
                   model4_betas_timed=len(timed))  # fmt: skip
    if args.paper_grid_only:
        results.update(cpu_s_paper_points=t_point_13, cpu_s_paper_orbits=t_orbit_13,
                       orbits_paper=n_orbits_13)  # fmt: skip
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                          for k, v in results.items()}))  # fmt: skip
        return

    big = fit.grid_points(grid(40))
    orbit_40, t_orbit_40 = cpu(by_orbits, big, settings, options)
    rng = np.random.default_rng(40)
    picks = big.iloc[np.sort(rng.choice(len(big), size=args.sample_40, replace=False))]
    point_40, t_point_sample = cpu(by_points, picks.reset_index(drop=True), settings, options)
    t_point_40 = t_point_sample * len(big) / len(picks)
    sampled = orbit_40.set_index("point").loc[point_40["point"], ION_LABELS].to_numpy()
    ok40 = (point_40["status"] == "ok").to_numpy()
    dev40 = np.nanmax(np.abs(sampled[ok40] - point_40[ION_LABELS].to_numpy()[ok40]))
    n_orbits_40 = len(fit.grid_orbits(big).orbits)
    results["speedup_40"] = t_point_40 / t_orbit_40
    print(f"40^3 grid = {len(big)} points, {n_orbits_40} orbits:")
    print(f"  per point {t_point_40:8.2f} s (EXTRAPOLATED from a random sample of "
          f"{len(picks)} points: {t_point_sample:.2f} s)")  # fmt: skip
    print(f"  orbits    {t_orbit_40:8.2f} s (complete)   ratio {results['speedup_40']:.2f}x")
    print(f"  largest t_max difference on the sample {dev40:.2e} min; "
          f"failed: orbits {int((orbit_40['status'] != 'ok').sum())}, "
          f"sample {int((~ok40).sum())}")  # fmt: skip
    # cost = a * orbits + b * points, through the 13^3 and 40^3 runs
    a, b = np.linalg.solve([[n_orbits_13, len(paper)], [n_orbits_40, len(big)]],
                           [t_orbit_13, t_orbit_40])  # fmt: skip
    t_orbit_130 = a * 50431 + b * 130**3
    t_point_130 = t_point_40 / len(big) * 130**3
    print(f"  -> 130^3 grid (2,197,000 points, 50,431 orbits), per sample and model: by orbits "
          f"~ {t_orbit_130 / 3600:.2f} core-hours ({1e3 * a:.1f} ms per orbit + "
          f"{1e3 * b:.2f} ms per point), point by point ~ {t_point_130 / 3600:.1f} "
          "core-hours")  # fmt: skip

    zoom_settings = ZoomSettings.from_config(config["fit"]["zoom"])
    chi2_13 = fit.chi2_single(orbit_13, exp)
    delta = float(config["fit"]["interval_delta_chi2_rel"])
    zoom_points = zoom.zoom_points(chi2_13, grid(13), delta, zoom_settings)
    n_centres = len(zoom.zoom_centres(chi2_13, fit.grid_axes(grid(13)), delta, zoom_settings))
    _, t_zoom = cpu(by_orbits, zoom_points, settings, options)
    results["zoom_s"] = t_zoom
    print(f"zoom (step {zoom_settings.step_decades:g} decades, "
          f"+-{zoom_settings.half_width_steps:g} grid steps, {n_centres} centre(s)): "
          f"{len(zoom_points)} points in {len(fit.grid_orbits(zoom_points).orbits)} orbits, "
          f"{t_zoom:.2f} s")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        baseline = chi2_peak_rss_mb(0, args.chunks, exp, work)
        sizes = [20, 40, 60]
        rss = [chi2_peak_rss_mb(n, args.chunks, exp, work) for n in sizes]
    slope, intercept = np.polyfit([n**3 for n in sizes], rss, 1)
    rss_130 = intercept + slope * 130**3
    results["chi2_peak_rss_mb_40"] = rss[1]
    results["chi2_peak_rss_mb_130_extrapolated"] = rss_130
    results["chi2_baseline_rss_mb"] = baseline
    print(f"chi2 aggregation (streaming, {args.chunks} chunk files), peak RSS of a fresh process:"
          f" imports only {baseline:.0f} MB; " + ", ".join(
              f"{n}^3 {r:.0f} MB" for n, r in zip(sizes, rss, strict=True)))  # fmt: skip
    print(f"  -> 130^3 (line through the three): {rss_130:.0f} MB "
          f"({1e6 * slope:.1f} MB per million points, the output table)")  # fmt: skip
    results.update(
        cpu_s_paper_points=t_point_13, cpu_s_paper_orbits=t_orbit_13,
        cpu_s_40_points_extrapolated=t_point_40, cpu_s_40_orbits=t_orbit_40,
        orbits_paper=n_orbits_13, orbits_40=n_orbits_40, sample_40=len(picks),
        max_tmax_diff_min=float(max(dev, dev40)),
        core_hours_paper_points=t_point_13 / 3600, core_hours_paper_orbits=t_orbit_13 / 3600,
        core_hours_130_orbits=t_orbit_130 / 3600, core_hours_130_points=t_point_130 / 3600,
    )  # fmt: skip
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
