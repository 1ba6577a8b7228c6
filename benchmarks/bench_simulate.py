"""Benchmark: the project's simulator against libroadrunner (CVODE) on the fit grid.

For each model, on the same grid points (a seeded sample of the 13^3 grid plus the Table 1
point and the stiff corner, all constants = 1): milliseconds per simulation of both
(one core, compile/load time excluded), their speed ratio, each one's largest deviation
from a tight-tolerance scipy Radau reference (relative, floor 1e-3 nmol/L) and the atom
drift. Then the wall time of the whole 3 x 2197 grid on 2 worker processes.

    .venv/bin/python benchmarks/bench_simulate.py [--quick] [--points N] [--no-grid]

The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import os

# One thread per process, before numpy/numba are imported: parallelism is by processes.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

from intercluster.network import ReactionNetwork  # noqa: E402
from intercluster.records import RateConstants, SampleConditions  # noqa: E402
from intercluster.settings import SolverOptions  # noqa: E402
from intercluster.simulate import simulate, simulate_many  # noqa: E402

TABLE1 = {1: (3.2e-3, 3.2e-2, 3.2e-2), 2: (1e-2, 1e-1, 3.2e-2), 3: (1e-2, 5.6e-2, 3.2e-2)}
GRID_VALUES = np.logspace(-3, 0, 13)
C_A = C_B = 40.0
DEAD_TIME = 20.0
CONDITIONS = SampleConditions.from_dict({"ag_nM": C_A, "au_nM": C_B, "dead_time_s": DEAD_TIME})
TIMES = np.arange(0.0, 3600.0 + 1, 15.0)
OPTIONS = SolverOptions.schema_default()  # the workflow's fast simulator
REFERENCE = SolverOptions(rtol=1e-10, atol=1e-13, max_steps=OPTIONS.max_steps, method="reference")
RTOL, ATOL = OPTIONS.rtol, OPTIONS.atol
FLOOR = 1e-3


def grid() -> np.ndarray:
    return (
        np.array(np.meshgrid(GRID_VALUES, GRID_VALUES, GRID_VALUES, indexing="ij")).reshape(3, -1).T
    )


def sample_points(n: int, model: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed + model)
    full = grid()
    picks = full[rng.choice(len(full), size=max(n - 2, 0), replace=False)]
    return np.vstack([[1.0, 1.0, 1.0], TABLE1[model], picks])


def rel_dev(a, ref) -> float:
    return float(np.max(np.abs(a - ref) / np.maximum(np.abs(ref), FLOOR)))


def atom_drift(net, states) -> float:
    y0 = net.initial_state(CONDITIONS)
    return max(
        float(np.max(np.abs(states @ w - w @ y0)) / (w @ y0)) for w in (net.atoms_a, net.atoms_b)
    )


class RoadRunnerSim:
    """libroadrunner on the project's SBML, stiff CVODE, same tolerances."""

    def __init__(self, net: ReactionNetwork):
        import roadrunner

        from intercluster.sbml import sbml_string

        self.net = net
        text = sbml_string(net, RateConstants(*TABLE1[net.model]), CONDITIONS)
        self.rr = roadrunner.RoadRunner(text)
        self.rr.timeCourseSelections = ["time"] + [f"[{s}]" for s in net.species_ids]
        self.times = np.concatenate([[0.0], TIMES + DEAD_TIME])

    def __call__(self, k_dim, k_diss, k_ex):
        rr = self.rr
        rr.resetAll()  # back to the initial concentrations and the SBML parameter values
        rr.k_dim, rr.k_diss, rr.k_ex = k_dim, k_diss, k_ex
        integ = rr.integrator
        integ.stiff = True
        integ.relative_tolerance = RTOL
        integ.absolute_tolerance = ATOL
        integ.maximum_num_steps = 100_000
        return np.asarray(rr.simulate(times=self.times))[1:, 1:]


def compare_model(model: int, n_points: int) -> dict:
    net = ReactionNetwork(model, "S")
    points = sample_points(n_points, model)
    rr = RoadRunnerSim(net)
    simulate(net, RateConstants(*points[0]), CONDITIONS, TIMES)  # compile / load the numba cache
    rr(*points[0])  # roadrunner JIT-compiles the model at load; warm it too
    ours_ms, rr_ms, ours_dev, rr_dev, ours_drift, rr_drift = [], [], [], [], [], []
    failed = 0
    for k in points:
        ref = simulate(net, RateConstants(*k), CONDITIONS, TIMES, REFERENCE)
        t0 = time.perf_counter()
        ours = simulate(net, RateConstants(*k), CONDITIONS, TIMES, OPTIONS)
        t1 = time.perf_counter()
        try:
            theirs = rr(*k)
        except Exception as exc:  # noqa: BLE001 - report, do not stop the benchmark
            theirs = None
            print(f"  roadrunner failed at {k}: {exc}")
        t2 = time.perf_counter()
        if not (ours.ok and ref.ok):
            failed += 1
            print(f"  failed at {k}: ours {ours.message!r}, reference {ref.message!r}")
            continue
        ours_ms.append(1e3 * (t1 - t0))
        ours_dev.append(rel_dev(ours.states, ref.states))
        ours_drift.append(atom_drift(net, ours.states))
        if theirs is not None:
            rr_ms.append(1e3 * (t2 - t1))
            rr_dev.append(rel_dev(theirs, ref.states))
            rr_drift.append(atom_drift(net, theirs))
    row = {
        "model": model,
        "points": len(points),
        "failed": failed,
        "ours_median_ms": float(np.median(ours_ms)),
        "ours_worst_ms": float(np.max(ours_ms)),
        "rr_median_ms": float(np.median(rr_ms)),
        "rr_worst_ms": float(np.max(rr_ms)),
        "ratio_median": float(np.median(rr_ms) / np.median(ours_ms)),
        "ratio_total": float(np.sum(rr_ms) / np.sum(ours_ms)),
        "ours_max_rel_dev": float(np.max(ours_dev)),
        "rr_max_rel_dev": float(np.max(rr_dev)),
        "ours_max_drift": float(np.max(ours_drift)),
        "rr_max_drift": float(np.max(rr_drift)),
    }
    print(
        f"model {model}: {len(points)} points ({failed} failed)\n"
        f"  ours       median {row['ours_median_ms']:8.2f} ms  worst {row['ours_worst_ms']:8.2f} ms"
        f"  max rel dev {row['ours_max_rel_dev']:.2e}  atom drift {row['ours_max_drift']:.1e}\n"
        f"  roadrunner median {row['rr_median_ms']:8.2f} ms  worst {row['rr_worst_ms']:8.2f} ms"
        f"  max rel dev {row['rr_max_rel_dev']:.2e}  atom drift {row['rr_max_drift']:.1e}\n"
        f"  speed ratio (roadrunner / ours): median {row['ratio_median']:.1f}x,"
        f" total {row['ratio_total']:.1f}x",
        flush=True,
    )
    return row


def _grid_chunk(args) -> tuple[int, int, float]:
    model, params = args
    net = ReactionNetwork(model, "S")
    t0 = time.perf_counter()
    res = simulate_many(net, params, CONDITIONS, TIMES, OPTIONS)
    return int(np.sum(res.status == "ok")), len(params), time.perf_counter() - t0


def _warm(model: int) -> None:
    simulate(ReactionNetwork(model, "S"), RateConstants(1e-2, 1e-2, 1e-2), CONDITIONS, TIMES[:2])


def run_grid(workers: int = 2, chunk: int = 64) -> dict:
    params = grid()
    jobs = [(m, params[s : s + chunk]) for m in (1, 2, 3) for s in range(0, len(params), chunk)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_warm, [1, 2, 3] * workers))  # load numba caches outside the timing
        t0 = time.perf_counter()
        results = list(pool.map(_grid_chunk, jobs))
        wall = time.perf_counter() - t0
    ok = sum(r[0] for r in results)
    total = sum(r[1] for r in results)
    cpu = sum(r[2] for r in results)
    print(
        f"grid: {total} simulations (3 models x {len(params)}), {ok} ok, on {workers} processes:"
        f" wall {wall:.1f} s, {1e3 * cpu / total:.1f} ms per simulation per process",
        flush=True,
    )
    return {
        "grid_s": wall,
        "grid_ok": ok,
        "grid_total": total,
        "grid_ms_per_sim": 1e3 * cpu / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 points per model")
    parser.add_argument("--points", type=int, default=30, help="grid points per model")
    parser.add_argument("--no-grid", action="store_true", help="skip the 3 x 2197 grid")
    args = parser.parse_args()
    n_points = 8 if args.quick else args.points
    print(f"rtol {RTOL}, atol {ATOL}; 0..60 min every 15 s, dead time {DEAD_TIME} s, 40:40 nM")
    rows = [compare_model(m, n_points) for m in (1, 2, 3)]
    summary = {
        "ratio_vs_libroadrunner": min(r["ratio_median"] for r in rows),
        "ratio_vs_libroadrunner_total": min(r["ratio_total"] for r in rows),
        "median_ms": float(np.median([r["ours_median_ms"] for r in rows])),
        "worst_ms": max(r["ours_worst_ms"] for r in rows),
        "max_rel_dev": max(r["ours_max_rel_dev"] for r in rows),
        "roadrunner_max_rel_dev": max(r["rr_max_rel_dev"] for r in rows),
        "max_atom_drift": max(r["ours_max_drift"] for r in rows),
        "grid_s": None,
    }
    if not args.no_grid:
        summary.update(run_grid())
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
