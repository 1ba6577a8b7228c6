"""Benchmark: does the bootstrap σ(t_max) of ONE run match the scatter of t_max over
independent noise replicas? (SYNTHETIC virtual experiment.)

N noise replicas of the demo's 40:40 sample (the shipped config's virtual experiment: its
truth, scan interval and noise; new noise seeds) go through spectra and deconvolution. The
empirical SD of every observable's t_max over the replicas is the reference; the bootstrap
σ of each replica (:func:`intercluster.tmax_sigma.bootstrap_tmax`) is compared with it,
for the adaptive curve/residual split with the end-plateau σ (the workflow's) and, side by
side, for the split at THE rule's own width without it (the former bootstrap). Printed per
variant: the ratio σ / SD over the observables whose SD exceeds the σ floor (median and
10-90 % range of the per-observable median over replicas, and of all replica × observable
pairs), and χ²_w at the true constants per replica (floored σ, included observables).

    .venv/bin/python benchmarks/bench_tmax_sigma.py [N] [--bootstrap 100] [--evaluate 20]

The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import yaml

from intercluster import fit, tmax_sigma
from intercluster.network import ReactionNetwork
from intercluster.observables import (
    TmaxSettings,
    experiment_matrix,
    experimental_tmax,
    normalise_rows,
)
from intercluster.replicas import virtual_replica
from intercluster.settings import DeconvolutionSettings
from intercluster.system import system_of_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "ag40_au40"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20, help="noise replicas (default 20)")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap replicas per run")
    parser.add_argument("--evaluate", type=int, default=20,
                        help="replicas whose bootstrap σ is computed (default 20)")  # fmt: skip
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    system = system_of_config(config, search_dirs=[ROOT]).cluster_system()
    observables = system.observables()
    species = observables["species"].tolist()
    ve = copy.deepcopy(config["virtual_experiment"])
    ve["samples"] = {SAMPLE: ve["samples"][SAMPLE]}
    ve["cid"]["times_min"] = []
    settings = TmaxSettings.schema_default()

    started = time.perf_counter()
    runs = [virtual_replica(system, ve, SAMPLE, 1000 + r, None, n_replicas=2,
                            deconvolution=DeconvolutionSettings.from_config(
                                config["deconvolution"]))[0]
            for r in range(args.n)]  # fmt: skip
    t_replicas = time.perf_counter() - started
    times, _ = experiment_matrix(runs[0], species)
    tables = [experimental_tmax(run, observables, settings) for run in runs]
    t_exp = np.array([t["t_max_min"].to_numpy(float) for t in tables])
    included = np.logical_and.reduce([t["included"].to_numpy(bool) for t in tables])
    sd = t_exp.std(axis=0, ddof=1)
    floor = tmax_sigma.sigma_floor_min(times)
    scored = included & (sd > floor)

    truth = ve["rate_constants"]
    sample = ve["samples"][SAMPLE]
    conditions = fit.Conditions.from_dict({**sample, "dead_time_s": ve["dead_time_s"]})
    points = fit.grid_points({k: {"min": truth[k], "max": truth[k] * 1.0001, "n": 2}
                              for k in ("k_dim", "k_diss", "k_ex")}).iloc[:1]  # fmt: skip
    sim = fit.run_chunk(ReactionNetwork(int(ve["model"]), nuclearity=system.nuclearity), points,
                        conditions, times, species,
                        settings, options=fit.simulator_options(config["kinetics"]))  # fmt: skip
    t_true = sim[species].to_numpy(float)[0]

    variants = {
        # the end-plateau σ is 0 unless the config's t_max rule is the vertex (plateau_rel 0)
        "adaptive split (workflow)": {"centre_factors": tmax_sigma.CENTRE_FACTORS, "plateau": True},
        "rule's width, no end plateau (former)": {"centre_factors": (1.0,), "plateau": False},
    }  # fmt: skip
    print(f"SYNTHETIC virtual experiment {SAMPLE}, truth {truth}, {len(times)} spectra per run, "
          f"{args.n} noise replicas ({t_replicas:.0f} s), {args.bootstrap} bootstrap replicas, "
          f"σ floor {floor:g} min")  # fmt: skip
    print(f"{included.sum()} observables included in every replica, {scored.sum()} with a "
          f"replica SD above the floor (the ratio is taken over these)\n")  # fmt: skip
    summary = {}
    for name, variant in variants.items():
        sigma = []
        for r in range(min(args.evaluate, args.n)):
            _, y = experiment_matrix(runs[r], species)
            boot = tmax_sigma.bootstrap_tmax(times, normalise_rows(y), settings, args.bootstrap,
                                      seed=r, centre_factors=variant["centre_factors"])  # fmt: skip
            s = boot.sigma
            if variant["plateau"]:
                s = np.fmax(s, boot.end_plateau)
            sigma.append(s)
        sigma = np.array(sigma)
        ratio = np.median(sigma, axis=0)[scored] / sd[scored]
        pairs = (sigma[:, scored] / sd[scored]).ravel()
        chi2 = np.array([np.sum(((t_true - t_exp[r]) / np.maximum(sigma[r], floor))[included] ** 2)
                         for r in range(sigma.shape[0])])  # fmt: skip
        q = np.percentile
        print(f"{name}:\n  σ / replica SD, median over replicas per observable: median "
              f"{np.median(ratio):.2f}, 10-90 % {q(ratio, 10):.2f}-{q(ratio, 90):.2f}\n"
              f"  σ / replica SD, every replica x observable: median {np.median(pairs):.2f}, "
              f"10-90 % {q(pairs, 10):.2f}-{q(pairs, 90):.2f}\n"
              f"  χ²_w at the truth ({included.sum()} observables): median "
              f"{np.median(chi2):.1f}, max {chi2.max():.1f}, above χ²({included.sum() - 3}) "
              f"0.99 quantile: {int(np.sum(chi2 > _chi2_q(included.sum() - 3)))} of "
              f"{chi2.size}")  # fmt: skip
        summary[name] = {
            "ratio_median": round(float(np.median(ratio)), 3),
            "ratio_10_90": [round(float(q(ratio, 10)), 3), round(float(q(ratio, 90)), 3)],
            "pairs_10_90": [round(float(q(pairs, 10)), 3), round(float(q(pairs, 90)), 3)],
            "chi2_truth_median": round(float(np.median(chi2)), 1),
            "chi2_truth_max": round(float(chi2.max()), 1),
        }
    print(json.dumps({"n_replicas": args.n, "n_included": int(included.sum()),
                      "n_scored": int(scored.sum()), "variants": summary}))  # fmt: skip


def _chi2_q(dof: int, q: float = 0.99) -> float:
    from scipy.stats import chi2

    return float(chi2.ppf(q, dof))


if __name__ == "__main__":
    main()
