"""Benchmark: the re-optimised profiles of a workflow run, their cost and their intervals,
beside another run's (a former commit's) and the truth's.

Reads ``results/fit/*/model*/best.json`` under WORKDIR (after ``snakemake``), and under
``--against OTHER`` the same files of another run (e.g. a clean clone of an earlier commit
run on the same config), and prints for every fit and profile the simulations it took
(``n_evaluations``: objective calls, each one simulation per sample of the fit), its points,
its interval in log10 and the shifts of the interval's ends between the runs in units of
the interval's width. ``--truth K_DIM K_DISS K_EX`` (1/s; the demo's virtual experiment:
0.01 0.0562341 0.0316228) also says whether each interval holds the truth (k_dim*c/k_ex at
the fit's own c, ``weighted.c_nM``). The last line is one JSON object with the totals.

    .venv/bin/python benchmarks/bench_profiles.py WORKDIR [--against OTHER]
        [--truth K_DIM K_DISS K_EX]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def _profiles(workdir: Path) -> dict[tuple[str, str], dict]:
    out = {}
    for path in sorted(workdir.glob("results/fit/*/model*/best.json")):
        weighted = json.loads(path.read_text()).get("weighted") or {}
        for name, profile in (weighted.get("profiles_reoptimised") or {}).items():
            fit = f"{path.parent.parent.name}/{path.parent.name}"
            out[(fit, name)] = profile | {"c_nM": weighted.get("c_nM")}
    return out


def _truth_value(name: str, truth, c_nM: float | None) -> float | None:
    if truth is None:
        return None
    k_dim, k_diss, k_ex = truth
    values = {"k_dim": k_dim, "k_diss": k_diss, "k_ex": k_ex, "k_dim:k_diss": k_dim / k_diss,
              "k_dim*c/k_ex": None if c_nM is None else k_dim * c_nM / k_ex}  # fmt: skip
    return values.get(name)


def _logs(interval) -> tuple[float | None, float | None]:
    return tuple(None if v is None else math.log10(v) for v in interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--against", type=Path)
    parser.add_argument("--truth", type=float, nargs=3, metavar=("K_DIM", "K_DISS", "K_EX"))
    args = parser.parse_args()
    this = _profiles(args.workdir)
    if not this:
        raise SystemExit(f"no re-optimised profiles under {args.workdir}/results/fit")
    other = _profiles(args.against) if args.against else {}
    totals = {"evaluations": 0, "evaluations_against": 0, "holds_truth": 0, "n_truth": 0}
    print(f"{'fit':18s} {'profile':13s} {'sims':>9s} {'points':>7s}  interval (log10)"
          + ("   against: shift of low/high end in widths" if other else ""))  # fmt: skip
    for (fit, name), profile in this.items():
        low, high = _logs(profile["interval"])
        evaluations = int(profile["n_evaluations"])
        totals["evaluations"] += evaluations
        line = f"{fit:18s} {name:13s} "
        before = other.get((fit, name))
        if before is not None:
            totals["evaluations_against"] += int(before["n_evaluations"])
            line += f"{before['n_evaluations']:>4d}>{evaluations:<4d} "
            line += f"{len(before['profile']):>3d}>{len(profile['profile']):<3d} "
        else:
            line += f"{evaluations:>9d} {len(profile['profile']):>7d} "
        line += "[open" if low is None else f"[{low:.5f}"
        line += ", open]" if high is None else f", {high:.5f}]"
        if before is not None and None not in (low, high):
            b_low, b_high = _logs(before["interval"])
            if None not in (b_low, b_high) and b_high > b_low:
                width = b_high - b_low
                line += f"  {(low - b_low) / width:+.3f} {(high - b_high) / width:+.3f}"
        value = _truth_value(name, args.truth, profile["c_nM"])
        if value is not None:
            inside = ((low is None or math.log10(value) >= low)
                      and (high is None or math.log10(value) <= high))  # fmt: skip
            totals["holds_truth"] += int(inside)
            totals["n_truth"] += 1
            line += "  truth in" if inside else "  truth OUT"
        print(line)
    if other:
        ratio = totals["evaluations"] / max(totals["evaluations_against"], 1)
        print(f"simulations: {totals['evaluations']} against {totals['evaluations_against']} "
              f"({ratio:.2f}x)")  # fmt: skip
    else:
        print(f"simulations: {totals['evaluations']}")
    if totals["n_truth"]:
        print(f"intervals holding the truth: {totals['holds_truth']} of {totals['n_truth']}")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
