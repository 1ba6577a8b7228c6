"""Benchmark: how often model 4's β interval holds the truth (SYNTHETIC virtual experiment).

The small test configuration (``.test/config/small.yaml`` on ``config/config.yaml``: one
40:40 sample, a 3 × 3 × 3 grid holding the truth's rate constants, the default β axis) with
a model-4 virtual experiment (``virtual_experiment: {model: 4, beta: BETA}``) is run through
the workflow once per noise seed (``virtual_experiment.seed``: new spectra, same truth),
each in its own work directory, up to rule fit_model4 (``results/fit/all/model4/beta.json``:
spectra, deconvolution, t_max with σ, models 3 and 4 fitted jointly). Printed per seed: β
and its interval (``fit.uncertainty.confidence``), whether it holds the truth, the distance
from the truth in units of the interval's half-width, k_ex against the truth's, the
calibrated verdict of model 4 and the likelihood-ratio test; then the coverage count. The
last line printed is one JSON object.

    .venv/bin/python benchmarks/bench_beta_coverage.py [--seeds 1 2 3 ...] [--beta 1.9]
        [--root DIR] [--cores 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
RECORD = Path("results/fit/all/model4/beta.json")


def run_seed(root: Path, seed: int, beta: float, cores: int) -> dict:
    """The workflow up to fit_model4 for one noise seed; its beta.json."""
    work = root / f"seed{seed}"
    if not (work / RECORD).exists():
        (work / ".test").mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO / ".test" / "config", work / ".test" / "config", dirs_exist_ok=True)
        overlay = {"virtual_experiment": {"model": 4, "beta": beta, "seed": seed},
                   "fit": {"models": [3, 4]}}  # fmt: skip
        (work / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        command = [
            sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
            "--directory", str(work), "--workflow-profile", "none", "--cores", str(cores),
            "--configfile", str(REPO / "config" / "config.yaml"),
            str(work / ".test" / "config" / "small.yaml"), str(work / "overlay.yaml"),
            "--", str(RECORD),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=work)
        if done.returncode != 0:
            raise RuntimeError(f"seed {seed}: the workflow failed:\n{done.stderr[-3000:]}")
    return json.loads((work / RECORD).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--beta", type=float, default=1.9)
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench_beta_coverage"))
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    truth = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    k_ex_true = float(truth["virtual_experiment"]["rate_constants"]["k_ex"])
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        record = run_seed(args.root, seed, args.beta, args.cores)
        iv = record["beta_interval"]
        low, high = iv["low"], iv["high"]
        holds = (low is None or iv["low_open"] or low <= args.beta) and (
            high is None or iv["high_open"] or args.beta <= high)  # fmt: skip
        half = (high - low) / 2 if low is not None and high is not None else np.nan
        gof = record["model4"].get("goodness_of_fit", {})
        row = {
            "seed": seed, "beta": record["beta"], "low": low, "high": high, "holds": bool(holds),
            "confidence": float(record["confidence"]),
            "off_in_half_widths": (record["beta"] - args.beta) / half if half else np.nan,
            "k_ex_decades": float(np.log10(record["model4"]["k_ex"] / k_ex_true)),
            "consistent": gof.get("consistent"), "chi2_w": record["model4"]["chi2_weighted"],
            "lrt_prefers_model4": record["likelihood_ratio"]["prefers_full"],
            "wall_s": time.perf_counter() - start,
        }  # fmt: skip
        rows.append(row)
        print(f"seed {seed}: beta {row['beta']:.4f} ({low:.4f} to {high:.4f}) "
              f"{'holds' if holds else 'MISSES'} {args.beta}; off by "
              f"{row['off_in_half_widths']:+.2f} half-widths; k_ex {row['k_ex_decades']:+.3f} "
              f"decades; chi2_w {row['chi2_w']:.4g}, calibrated "
              f"{'consistent' if row['consistent'] else 'not consistent'}; LRT prefers model 4: "
              f"{row['lrt_prefers_model4']} ({row['wall_s']:.0f} s)", flush=True)  # fmt: skip
    held = sum(r["holds"] for r in rows)
    betas = np.array([r["beta"] for r in rows])
    widths = np.array([r["high"] - r["low"] for r in rows])
    summary = {
        "truth_beta": args.beta, "n": len(rows), "held": held,
        "confidence": rows[0]["confidence"],
        "beta_mean": float(betas.mean()), "beta_sd": float(betas.std(ddof=1)) if len(rows) > 1
        else None, "median_width": float(np.median(widths)),
        "median_abs_off_half_widths": float(np.median([abs(r["off_in_half_widths"])
                                                       for r in rows])),
        "consistent": sum(bool(r["consistent"]) for r in rows), "rows": rows,
    }  # fmt: skip
    print(f"beta interval holds the truth {held}/{len(rows)}; beta {summary['beta_mean']:.4f} "
          f"± {summary['beta_sd'] or 0:.4f} (SD over seeds) against a median interval width "
          f"{summary['median_width']:.4f}")  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
