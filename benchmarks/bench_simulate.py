"""Benchmark: the project's simulator against libroadrunner (CVODE) and COPASI (LSODA, through
basico) on the fit grid, at matched accuracy.

For each model, on the same grid points (a seeded sample of the 13^3 grid plus the Table 1
point and the stiff corner, all constants = 1): milliseconds per simulation (one core,
compile/load time excluded) and the largest deviation from a tight-tolerance scipy Radau
reference (relative, floor 1e-3 nmol/L) and the atom drift, of

* ours: the default method (Rodas5P) and the former one (RODAS4), the workflow's tolerances;
* libroadrunner at the workflow's tolerances and 10x and 100x tighter;
* COPASI (where basico is installed; slow, so on the first ``--copasi-points`` points) at
  the workflow's tolerances and 10x tighter.

The ratio "at matched accuracy" is against the loosest tolerance of the other simulator whose
largest deviation is no larger than ours on the same points (marked when none is).
Then the wall time of the whole 3 x 2197 grid on 2 worker processes.

With ``--step-profile`` it prints instead where a step's time goes: microseconds per call of
the kernels' factorisation, linear solve and right-hand side (model 3, Table 1 constants,
40:40 nM, the state at 300 s, ``1 / (gamma h)`` for h = 20 s; each called in a compiled loop,
the minimum of 25 rounds, so the figures are the machine's floor, not a loaded average) and
the step they add up to with Rodas5P (one factorisation, 8 solves, 8 right-hand sides).

    .venv/bin/python benchmarks/bench_simulate.py [--quick] [--points N] [--copasi-points N]
                                                  [--no-grid] [--step-profile]

The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import os

# One thread per process, before numpy/numba are imported: parallelism is by processes.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import locale  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

from intercluster.network import ReactionNetwork  # noqa: E402
from intercluster.records import RateConstants, SampleConditions  # noqa: E402
from intercluster.settings import SolverOptions  # noqa: E402
from intercluster.simulate import simulate, simulate_many  # noqa: E402
from intercluster.system import default_system  # noqa: E402

TABLE1 = {1: (3.2e-3, 3.2e-2, 3.2e-2), 2: (1e-2, 1e-1, 3.2e-2), 3: (1e-2, 5.6e-2, 3.2e-2)}
SYSTEM = default_system()  # the demo's system, asked for explicitly (the library has no default)
NUCLEARITY = SYSTEM.nuclearity
GRID_VALUES = np.logspace(-3, 0, 13)
C_A = C_B = 40.0
DEAD_TIME = 20.0
CONDITIONS = SampleConditions.from_dict({"ag_nM": C_A, "au_nM": C_B, "dead_time_s": DEAD_TIME})
TIMES = np.arange(0.0, 3600.0 + 1, 15.0)
OPTIONS = SolverOptions.schema_default()  # the workflow's simulator (method and tolerances)
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
        text = sbml_string(net, RateConstants(*TABLE1[net.model]), CONDITIONS, SYSTEM)
        self.rr = roadrunner.RoadRunner(text)
        self.rr.timeCourseSelections = ["time"] + [f"[{s}]" for s in net.species_ids]
        self.times = np.concatenate([[0.0], TIMES + DEAD_TIME])

    def __call__(self, k_dim, k_diss, k_ex, rtol=RTOL, atol=ATOL):
        rr = self.rr
        rr.resetAll()  # back to the initial concentrations and the SBML parameter values
        rr.k_dim, rr.k_diss, rr.k_ex = k_dim, k_diss, k_ex
        integ = rr.integrator
        integ.stiff = True
        integ.relative_tolerance = rtol
        integ.absolute_tolerance = atol
        integ.maximum_num_steps = 100_000
        return np.asarray(rr.simulate(times=self.times))[1:, 1:]


class CopasiSim:
    """COPASI (basico) on the project's SBML, its default LSODA, same tolerances."""

    def __init__(self, net: ReactionNetwork):
        import basico

        from intercluster.sbml import sbml_string

        self.basico = basico
        self.net = net
        self.model = basico.load_model_from_string(
            sbml_string(net, RateConstants(*TABLE1[net.model]), CONDITIONS, SYSTEM)
        )
        self.times = list(TIMES + DEAD_TIME)

    def __call__(self, k_dim, k_diss, k_ex, rtol=RTOL, atol=ATOL):
        b = self.basico
        for name, value in (("k_dim", k_dim), ("k_diss", k_diss), ("k_ex", k_ex)):
            b.set_parameters(name, initial_value=value, model=self.model)
        b.set_task_settings(b.T.TIME_COURSE, {"method": {
            "Relative Tolerance": rtol, "Absolute Tolerance": atol,
            "Max Internal Steps": 100_000}}, model=self.model)  # fmt: skip
        frame = b.run_time_course(values=self.times, model=self.model, use_sbml_id=True,
                                  update_model=False)  # fmt: skip
        return frame.reindex(self.times, method="nearest")[list(self.net.species_ids)].to_numpy()


TIGHTER = (1.0, 0.1, 0.01)  # the other simulators' tolerances, times the workflow's


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - report, do not stop the benchmark
        print(f"  {getattr(fn, '__name__', type(fn).__name__)} failed at {args}: {exc}")
        out = None
    return out, 1e3 * (time.perf_counter() - t0)


def _matched(ours_ms, ours_dev, theirs: dict) -> tuple[float, str]:
    """Speed ratio against the loosest tolerance of the other simulator that is at least as
    accurate as ours (median ms over median ms), and that tolerance's label."""
    for factor in sorted(theirs, reverse=True):
        ms, dev = theirs[factor]
        if ms and max(dev) <= max(ours_dev):
            return float(np.median(ms) / np.median(ours_ms)), f"x{factor:g}"
    factor = min(theirs)
    ms, _ = theirs[factor]
    return float(np.median(ms) / np.median(ours_ms)), f"x{factor:g} (still less accurate)"


def compare_model(model: int, n_points: int, n_copasi: int) -> dict:
    net = ReactionNetwork(model, "S", nuclearity=NUCLEARITY)
    points = sample_points(n_points, model)
    rr = RoadRunnerSim(net)
    copasi = None
    if n_copasi:
        try:
            copasi = CopasiSim(net)
        except ImportError:
            print("  basico not installed: no COPASI column")
    rodas4 = SolverOptions(RTOL, ATOL, OPTIONS.max_steps, "rodas4")
    for o in (OPTIONS, rodas4):  # compile / load the numba cache
        simulate(net, RateConstants(*points[0]), CONDITIONS, TIMES, o)
    rr(*points[0])  # roadrunner JIT-compiles the model at load; warm it too
    if copasi is not None:
        copasi(*points[0])
    ours = {"ms": [], "dev": [], "drift": []}
    former = {"ms": [], "dev": []}
    rr_runs = {f: ([], []) for f in TIGHTER}
    cp_runs = {f: ([], []) for f in TIGHTER[:2]}
    rr_drift = []
    failed = 0
    for n, k in enumerate(points):
        ref = simulate(net, RateConstants(*k), CONDITIONS, TIMES, REFERENCE)
        mine, ms = _timed(simulate, net, RateConstants(*k), CONDITIONS, TIMES, OPTIONS)
        old, ms_old = _timed(simulate, net, RateConstants(*k), CONDITIONS, TIMES, rodas4)
        if not (mine.ok and old.ok and ref.ok):
            failed += 1
            print(f"  failed at {k}: ours {mine.message!r}, reference {ref.message!r}")
            continue
        ours["ms"].append(ms)
        ours["dev"].append(rel_dev(mine.states, ref.states))
        ours["drift"].append(atom_drift(net, mine.states))
        former["ms"].append(ms_old)
        former["dev"].append(rel_dev(old.states, ref.states))
        for f in TIGHTER:
            rr_rtol, rr_atol = RTOL * f, ATOL * f
            theirs, ms = _timed(rr, *k, rtol=rr_rtol, atol=rr_atol)
            if theirs is not None:
                rr_runs[f][0].append(ms)
                rr_runs[f][1].append(rel_dev(theirs, ref.states))
                if f == 1.0:
                    rr_drift.append(atom_drift(net, theirs))
        if copasi is not None and n < n_copasi:
            for f in cp_runs:
                theirs, ms = _timed(copasi, *k, rtol=RTOL * f, atol=ATOL * f)
                if theirs is not None:
                    cp_runs[f][0].append(ms)
                    cp_runs[f][1].append(rel_dev(theirs, ref.states))
    rr_ratio, rr_at = _matched(ours["ms"], ours["dev"], rr_runs)
    row = {
        "model": model,
        "points": len(points),
        "failed": failed,
        "ours_median_ms": float(np.median(ours["ms"])),
        "ours_worst_ms": float(np.max(ours["ms"])),
        "ours_max_rel_dev": float(np.max(ours["dev"])),
        "ours_max_drift": float(np.max(ours["drift"])),
        "rodas4_median_ms": float(np.median(former["ms"])),
        "rodas4_max_rel_dev": float(np.max(former["dev"])),
        "rr_median_ms": float(np.median(rr_runs[1.0][0])),
        "rr_max_rel_dev": float(np.max(rr_runs[1.0][1])),
        "rr_max_drift": float(np.max(rr_drift)),
        "ratio_median": float(np.median(rr_runs[1.0][0]) / np.median(ours["ms"])),
        "ratio_total": float(np.sum(rr_runs[1.0][0]) / np.sum(ours["ms"])),
        "ratio_matched": rr_ratio,
        "rr_matched_at": rr_at,
    }
    lines = [
        f"model {model}: {len(points)} points ({failed} failed)",
        f"  ours (rodas5p) median {row['ours_median_ms']:8.2f} ms  worst "
        f"{row['ours_worst_ms']:8.2f} ms  max rel dev {row['ours_max_rel_dev']:.2e}  atom drift "
        f"{row['ours_max_drift']:.1e}",
        f"  ours (rodas4)  median {row['rodas4_median_ms']:8.2f} ms"
        f"  max rel dev {row['rodas4_max_rel_dev']:.2e}"
        f"  (rodas5p {row['rodas4_median_ms'] / row['ours_median_ms']:.2f}x faster)",
    ]
    for f, (ms, dev) in rr_runs.items():
        if ms:
            ratio = np.median(ms) / row["ours_median_ms"]
            lines.append(f"  roadrunner tol x{f:<5g} median {np.median(ms):8.2f} ms  max rel dev "
                         f"{max(dev):.2e}  ratio {ratio:.1f}x")  # fmt: skip
    lines.append(f"  roadrunner atom drift {row['rr_max_drift']:.1e}; at matched accuracy "
                 f"(tol {rr_at}): {rr_ratio:.1f}x")  # fmt: skip
    if any(ms for ms, _ in cp_runs.values()):
        n_cp = len(cp_runs[1.0][0])
        sub_ms, sub_dev = ours["ms"][:n_cp], ours["dev"][:n_cp]
        for f, (ms, dev) in cp_runs.items():
            if ms:
                ratio = np.median(ms) / np.median(sub_ms)
                lines.append(
                    f"  COPASI tol x{f:<5g} median {np.median(ms):8.2f} ms  max rel dev "
                    f"{max(dev):.2e}  ratio {ratio:.1f}x (first {n_cp} points)"
                )
        cp_ratio, cp_at = _matched(sub_ms, sub_dev, cp_runs)
        lines.append(f"  COPASI at matched accuracy (tol {cp_at}): {cp_ratio:.1f}x")
        row.update({"copasi_median_ms": float(np.median(cp_runs[1.0][0])),
                    "copasi_max_rel_dev": float(np.max(cp_runs[1.0][1])),
                    "copasi_ratio_matched": cp_ratio, "copasi_matched_at": cp_at})  # fmt: skip
    print("\n".join(lines), flush=True)
    return row


def _grid_chunk(args) -> tuple[int, int, float]:
    model, params = args
    net = ReactionNetwork(model, "S", nuclearity=NUCLEARITY)
    t0 = time.perf_counter()
    res = simulate_many(net, params, CONDITIONS, TIMES, OPTIONS)
    return int(np.sum(res.status == "ok")), len(params), time.perf_counter() - t0


def _warm(model: int) -> None:
    simulate(ReactionNetwork(model, "S", nuclearity=NUCLEARITY), RateConstants(1e-2, 1e-2, 1e-2),
             CONDITIONS, TIMES[:2])


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


def step_profile(rounds: int = 25, reps: int = 400) -> dict:
    """Microseconds per call of factorize, solve and rhs (see the module docstring)."""
    import numba as nb

    from intercluster import _kernels as kern
    from intercluster.simulate import _kernel_network

    net = ReactionNetwork(3, "S")
    knet = _kernel_network(net)
    k_dim, k_diss, k_ex = TABLE1[3]
    n_m, n_d = net.n_monomers, net.n_dimers
    state = simulate(net, RateConstants(*TABLE1[3]), CONDITIONS, [300.0 - DEAD_TIME],
                     SolverOptions(RTOL, ATOL, OPTIONS.max_steps, OPTIONS.method),
                     return_states=True).states[-1]  # fmt: skip
    gamma, a_mat = kern.TABLEAUS["rodas5p"][:2]
    g = 1.0 / (gamma * 20.0)
    factors = (np.empty(n_d), np.empty(n_d), np.empty(n_d), np.empty((n_d, 2)))
    blk_y, s_lu, piv = np.empty((n_m, n_m)), np.empty((n_m, n_m)), np.empty(n_m, np.int64)
    b = np.random.default_rng(0).standard_normal(net.n_species)
    x, xm, work, dy = np.empty_like(b), np.empty(n_m), np.empty(n_d), np.empty_like(b)

    @nb.njit
    def factorize_loop(reps, y, g, kd, kdi, kex, knet, tc, ti, tl, dm, blk_y, s_lu, piv):
        for _ in range(reps):
            kern.factorize(y, g, kd, kdi, kex, knet, tc, ti, tl, dm, blk_y, s_lu, piv)

    @nb.njit
    def solve_loop(reps, b, x, kdi, knet, tc, ti, tl, dm, s_lu, piv, xm, work):
        for _ in range(reps):
            kern.solve(b, x, kdi, knet, tc, ti, tl, dm, s_lu, piv, xm, work)

    @nb.njit
    def rhs_loop(reps, y, kd, kdi, kex, knet, dy):
        for _ in range(reps):
            kern.rhs(y, kd, kdi, kex, knet, dy)

    calls = {
        "factorize": lambda n: factorize_loop(n, state, g, k_dim, k_diss, k_ex, knet, *factors,
                                              blk_y, s_lu, piv),
        "solve": lambda n: solve_loop(n, b, x, k_diss, knet, *factors, s_lu, piv, xm, work),
        "rhs": lambda n: rhs_loop(n, state, k_dim, k_diss, k_ex, knet, dy),
    }  # fmt: skip
    best = {name: np.inf for name in calls}
    for call in calls.values():
        call(1)  # compile
    for _ in range(rounds):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call(reps)
            best[name] = min(best[name], 1e6 * (time.perf_counter() - t0) / reps)
    stages = a_mat.shape[0]
    step = best["factorize"] + stages * (best["solve"] + best["rhs"])
    print(f"per call (model 3, state at 300 s, h = 20 s; min of {rounds} rounds): factorize "
          f"{best['factorize']:.2f} us, solve {best['solve']:.2f} us, rhs {best['rhs']:.2f} us;"
          f" a Rodas5P step (1 + {stages} x (solve + rhs)) {step:.1f} us: factorisation "
          f"{100 * best['factorize'] / step:.0f} %, solves "
          f"{100 * stages * best['solve'] / step:.0f} %, right-hand sides "
          f"{100 * stages * best['rhs'] / step:.0f} %", flush=True)  # fmt: skip
    return {f"{name}_us": value for name, value in best.items()} | {"step_us": step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 points per model")
    parser.add_argument("--points", type=int, default=30, help="grid points per model")
    parser.add_argument("--copasi-points", type=int, default=4,
                        help="of those, how many COPASI runs too (0: none)")  # fmt: skip
    parser.add_argument("--no-grid", action="store_true", help="skip the 3 x 2197 grid")
    parser.add_argument("--step-profile", action="store_true",
                        help="only where a step's time goes (factorize, solve, rhs)")  # fmt: skip
    args = parser.parse_args()
    if args.step_profile:
        print(json.dumps(step_profile()))
        return
    n_points = 8 if args.quick else args.points
    print(f"method {OPTIONS.method}, rtol {RTOL}, atol {ATOL}; 0..60 min every 15 s, dead time "
          f"{DEAD_TIME} s, 40:40 nM")  # fmt: skip
    saved_locale = locale.setlocale(locale.LC_ALL)
    try:
        rows = [compare_model(m, n_points, args.copasi_points) for m in (1, 2, 3)]
    finally:
        locale.setlocale(locale.LC_ALL, saved_locale)  # COPASI sets "C" when it loads
    summary = {
        "method": OPTIONS.method,
        "ratio_vs_libroadrunner": min(r["ratio_median"] for r in rows),
        "ratio_vs_libroadrunner_matched": min(r["ratio_matched"] for r in rows),
        "ratio_vs_copasi_matched": min(
            (r["copasi_ratio_matched"] for r in rows if "copasi_ratio_matched" in r), default=None
        ),
        "rodas4_over_rodas5p_ms": float(
            np.median([r["rodas4_median_ms"] / r["ours_median_ms"] for r in rows])
        ),
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
