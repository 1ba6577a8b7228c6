"""Benchmark: how often each interval rule contains the truth (SYNTHETIC virtual experiment).

N noise replicas of the 40:40 virtual experiment (model 3, truth on the grid, new noise
seeds) go through the MS front end (spectra, deconvolution, t_max with bootstrap σ); ONE
table of the grid's simulated t_max (noise-free, computed once) scores all of them. Printed:
the coverage of the relative rule, the F rule, the weighted rule (χ²₁ threshold) and the
leave-one-out calibrated weighted rule side by side, the parametric-bootstrap threshold
calibration, the replicas' minimum weighted χ² (what a correct model gives) and an AIC
comparison of models 1-3 on the first replica.

    .venv/bin/python benchmarks/bench_coverage.py [N] [--k-ex-step 0.25] [--bootstrap 100]
        [--scan-interval 1.0] [--confidence 0.95] [--no-models]

``--k-ex-step`` sets the k_ex grid step in decades (7 values around the truth; default the
paper's quarter decade). A step other than 0.25 leaves k_dim*c/k_ex out (it needs equal
steps of k_dim and k_ex). The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import chi2 as chi2_dist

from intercluster import coverage, fit, model_comparison, weighted_chi2
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings
from intercluster.replicas import virtual_replica
from intercluster.settings import DeconvolutionSettings
from intercluster.system import system_of_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "ag40_au40"
C_NM = 40.0
TRUTH = {"k_dim": 1e-2, "k_diss": 10**-1.25, "k_ex": 10**-1.5}


def grid(k_ex_step: float) -> dict:
    return {
        "k_dim": {"min": 10**-2.5, "max": 10**-1.5, "n": 5},
        "k_diss": {"min": 10**-1.75, "max": 10**-0.75, "n": 5},
        "k_ex": {"min": 10 ** (-1.5 - 3 * k_ex_step), "max": 10 ** (-1.5 + 3 * k_ex_step), "n": 7},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20, help="noise replicas (default 20)")
    parser.add_argument("--k-ex-step", type=float, default=0.25)
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap replicas per run")
    parser.add_argument("--scan-interval", type=float, default=1.0, help="minutes")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--no-models", action="store_true", help="skip the model comparison")
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    system = system_of_config(config, search_dirs=[ROOT]).cluster_system()
    ve = copy.deepcopy(config["virtual_experiment"])
    ve["samples"] = {SAMPLE: ve["samples"][SAMPLE]}
    ve["rate_constants"] = dict(TRUTH)
    ve["cid"]["times_min"] = []
    times = np.arange(0.0, 60.0 + 1e-9, args.scan_interval)
    species = system.observables()["species"]
    points = fit.grid_points(grid(args.k_ex_step))
    conditions = fit.Conditions.from_dict(
        {"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": float(ve["dead_time_s"])}
    )
    options = fit.simulator_options(config["kinetics"])
    c_nM = C_NM if abs(args.k_ex_step - 0.25) < 1e-9 else None

    started = time.perf_counter()
    sims = {
        model: fit.run_chunk(ReactionNetwork(model), points, conditions, times, species,
                             TmaxSettings.schema_default(), options=options)
        for model in ((3,) if args.no_models else (1, 2, 3))
    }  # fmt: skip
    t_grid = time.perf_counter() - started
    started = time.perf_counter()
    replicas = [
        virtual_replica(system, ve, SAMPLE, 1000 + r, times, n_replicas=args.bootstrap,
                            deconvolution=DeconvolutionSettings.from_config(
                                config["deconvolution"]))[1]
        for r in range(args.n)
    ]  # fmt: skip
    t_replicas = time.perf_counter() - started
    result = coverage.coverage(sims[3], replicas, TRUTH, c_nM=c_nM, confidence=args.confidence)
    table = coverage.coverage_table(result)
    lo, hi = coverage.binomial_range(args.n, args.confidence)

    print(f"SYNTHETIC virtual experiment {SAMPLE}, model 3, truth {TRUTH}")
    print(f"grid 5 x 5 x 7 (k_ex step {args.k_ex_step} decades), {len(times)} spectra per run, "
          f"{args.n} replicas, {args.bootstrap} bootstrap replicas each")  # fmt: skip
    print(f"grid simulations {t_grid:.1f} s ({len(sims)} model(s)), replicas {t_replicas:.1f} s")
    print(f"\ncoverage at {args.confidence:g} (fraction of replicas whose interval contains the "
          f"truth; binomial 99 % range {lo}-{hi} of {args.n})")  # fmt: skip
    with pd.option_context("display.width", 160):
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    widths = result.intervals.copy()
    widths["decades"] = [
        np.log10(h) - np.log10(lo_) if h is not None and lo_ is not None else np.nan
        for lo_, h in zip(widths["low"], widths["high"], strict=True)
    ]
    median_width = widths.pivot_table(index="name", columns="rule", values="decades",
                                      aggfunc="median")  # fmt: skip
    print("\nmedian interval width (decades; NaN: an end open)")
    print(median_width.reindex(index=table.index, columns=table.columns).to_string(
        float_format=lambda v: f"{v:.4f}"))  # fmt: skip
    print("\nparametric-bootstrap threshold calibration (Δχ²_w at the truth over the replicas)")
    for name, cal in result.calibration.items():
        used = "USED" if cal["used"] else "not used"
        print(f"  {name:14s} calibrated Δ {cal['calibrated']:.3g} vs χ²₁ "
              f"{cal['chi2_quantile']:.3g}: {used} ({cal['reason']})")  # fmt: skip

    chi2_min = []
    for exp in replicas:
        table = weighted_chi2.weighted_chi2_table({SAMPLE: (sims[3], exp)})
        chi2_min.append(float(table["chi2"].min()))
    n_obs = int(replicas[0]["included"].sum())
    limit = float(chi2_dist.ppf(0.99, n_obs - 3))
    print(f"\nminimum weighted χ² of the replicas (correct model, {n_obs} observables): median "
          f"{np.median(chi2_min):.1f}, 5-95 % {np.percentile(chi2_min, 5):.1f}-"
          f"{np.percentile(chi2_min, 95):.1f}; above the χ²({n_obs - 3}) 0.99 quantile "
          f"{limit:.1f}: {int(np.sum(np.array(chi2_min) > limit))} of {len(chi2_min)}")  # fmt: skip
    comparison = None
    if not args.no_models:
        first = {
            m: float(weighted_chi2.weighted_chi2_table({SAMPLE: (s, replicas[0])})["chi2"].min())
            for m, s in sims.items()
        }
        comparison = model_comparison.compare_models(first, n_obs, replica_chi2_min=chi2_min[1:])
        print("\nmodel comparison on replica 0 (reference: the other replicas), on this "
              "sub-grid around model 3's truth: models 1 and 2 may have their optimum outside "
              "it")  # fmt: skip
        print(model_comparison.model_comparison_statement(comparison))
    summary = result.summary
    print(json.dumps({
        "n_replicas": args.n,
        "k_ex_step_decades": args.k_ex_step,
        "confidence": args.confidence,
        "binomial_99_range": [lo, hi],
        "coverage": {rule: {name: float(table.loc[name, rule]) for name in table.index}
                     for rule in table.columns},
        "weighted_k_ex_consistent": bool(summary.set_index(["rule", "name"])
                                         .loc[("weighted", "k_ex"), "consistent"]),
        "calibration_used": {n: c["used"] for n, c in result.calibration.items()},
        "replica_chi2w_min_median": float(np.median(chi2_min)),
        "models_chi2w_min": None if comparison is None else
        dict(zip(comparison["model"].astype(str), comparison["chi2_weighted_min"], strict=True)),
        "seconds": {"grid": round(t_grid, 1), "replicas": round(t_replicas, 1)},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
