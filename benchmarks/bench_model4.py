"""Benchmark: model 4 (exchange bias β) fitted to a workflow run, with model 3 beside it.

Takes a work directory where the workflow has written, for one sample, the deconvolution's
intensities and the experimental t_max with σ (``results/deconvolution/{sample}/
intensities.tsv``, ``results/fit/{sample}/tmax_experiment.tsv``: e.g. ``snakemake
results/fit/{sample}/tmax_experiment.tsv``), the sample sheet, and optionally the
independent generator's truth (``{sample}_truth.json`` with ``exchange_bias`` [a, b]: β =
a/b, k_ex·√(ab) the comparable k_ex; the truth is also checked to be model 4 at those
constants, ``truth_is_model4``: the generator caps its biased probabilities, so with a > 1 it
is not). Fits on the config's grid (``fit.grid`` with its beta
axis) by :mod:`intercluster.exchange_bias`: grid, re-optimised β profile, 4-D refinement;
the profile re-optimised in small β steps around the optimum for the interval; model 3 the
same way at β = 1. Prints β, its interval, ΔG_mix, k_ex, the likelihood-ratio
test and the CPU time; the last line is one JSON object.

    .venv/bin/python benchmarks/bench_model4.py WORKDIR SHEET SAMPLE [--truth TRUTH.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from intercluster import exchange_bias, fit
from intercluster.io import read_tsv
from intercluster.network import build_network
from intercluster.observables import TmaxSettings, experiment_times
from intercluster.system import default_system, default_system_definition
from intercluster.tmax_sigma import read_tmax_table
from intercluster.validation import validate_config

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("sheet", type=Path)
    parser.add_argument("sample")
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--figures", type=Path,
                        help="write beta_profile.png and s6_model4.png (PNG + PDF) here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    config = validate_config(yaml.safe_load(args.config.read_text()))
    settings = TmaxSettings.from_config(config["fit"]["tmax"])
    sheet = pd.read_csv(args.sheet, sep="\t").set_index("sample")
    row = sheet.loc[args.sample]
    # the system's concentration columns in its order, the dead time and, where the sheet
    # has it, the part of the second reactant present as its homodimer at mixing
    values = {c: float(row[c]) for c in default_system_definition().concentration_columns()}
    values["dead_time_s"] = float(row["dead_time_s"])
    if "second_dimer_fraction" in row and pd.notna(row["second_dimer_fraction"]):
        values["second_dimer_fraction"] = float(row["second_dimer_fraction"])
    conditions = fit.Conditions.from_dict(values)
    intensities = read_tsv(args.workdir / "results" / "deconvolution" / args.sample
                           / "intensities.tsv")  # fmt: skip
    exp = read_tmax_table(args.workdir / "results" / "fit" / args.sample / "tmax_experiment.tsv")
    experiments = {args.sample: (conditions, experiment_times(intensities), exp)}
    system = default_system()
    convention = config["kinetics"]["convention"]
    grid = config["fit"]["grid"]
    started = time.process_time()
    record, profile = exchange_bias.fit_model4(
        experiments, grid, lambda model, beta: build_network(model, convention, system, beta),
        settings, config["plausibility"]["temperature_K"],
    )  # fmt: skip
    cpu = time.process_time() - started
    print(profile.to_string())
    result = {"sample": args.sample, "cpu_s": round(cpu, 1),
              **{k: v for k, v in record.items() if k != "likelihood_ratio"},
              "likelihood_ratio": record["likelihood_ratio"]["statement"]}  # fmt: skip
    if args.truth:
        truth = json.loads(args.truth.read_text())
        constants = truth["k"]
        a, b = truth.get("exchange_bias") or (1.0, 1.0)
        k_ex_truth = float(constants["k_ex"]) * np.sqrt(a * b)
        result["truth"] = {"beta": a / b, "k_ex_effective": k_ex_truth}
        result["beta_rel_error"] = record["beta"] / (a / b) - 1.0
        result["k_ex_decades"] = float(np.log10(record["model4"]["k_ex"] / k_ex_truth))
        result["k_ex_model3_decades"] = float(np.log10(record["model3"]["k_ex"] / k_ex_truth))
        result["truth_is_model4"] = truth_model4_check(truth, conditions, convention, system)
    if args.figures:
        summary = exchange_bias.beta_summary(profile, record["temperature_K"],
                                             record["confidence"], refined_optimum=True)
        write_figures(args.figures, summary, intensities, conditions, convention, system,
                      config["figures"]["dpi"])  # fmt: skip
    print(json.dumps(result))


def truth_model4_check(truth: dict, conditions, convention, system) -> dict:
    """Whether the generator's truth is model 4 at β = a/b and k_ex·√(ab): model 4 simulated
    at those constants, its t_max (1-s grid, time from the first spectrum) against the
    truth's ``t_max_exp_s.dense_1s``. The generator caps its biased exchange probabilities
    (forward at 1, backward at 1 − forward), so with a > 1 the first exchange steps of the
    richest heterodimers run slower than the bias alone says, and the data lie outside
    model 4: a fit of model 4 cannot then be consistent, nor its β the ratio a/b."""
    from intercluster.records import RateConstants
    from intercluster.simulate import simulate

    a, b = truth.get("exchange_bias") or (1.0, 1.0)
    k = truth["k"]
    model = 4 if a != b else 3
    network = build_network(model, convention, system, a / b if model == 4 else 1.0)
    constants = RateConstants(k["k_dim"], k["k_diss"], k["k_ex"] * np.sqrt(a * b))
    times = np.arange(0.0, float(truth["scan_t_exp_s"][-1]) + 1.0, 1.0)
    observables = simulate(network, constants, conditions, times).observables
    t_model = times[np.argmax(observables / observables.sum(axis=1, keepdims=True), axis=0)]
    t_truth = np.array([np.nan if t is None else t for t in truth["t_max_exp_s"]["dense_1s"]],
                       float)  # fmt: skip
    formed = np.isfinite(t_truth)
    worst = float(np.max(np.abs(t_model[formed] - t_truth[formed])))
    return {"max_abs_tmax_difference_s": worst, "is_model4": worst <= 2.0,
            "note": "t_max of model 4 at the truth's constants against the truth's (1-s grid)"}


def write_figures(folder: Path, summary, intensities, conditions, convention, system, dpi):
    """The β profile panel and S6 with model 4 (at the estimate, over the run's times)."""
    from intercluster import figures
    from intercluster.records import RateConstants
    from intercluster.simulate import simulate

    folder.mkdir(parents=True, exist_ok=True)
    figures.save_figure(figures.figure_beta_profile(summary), folder / "beta_profile.png",
                        folder / "beta_profile.pdf", dpi)  # fmt: skip
    times = experiment_times(intensities)
    network = build_network(4, convention, system, summary["beta"])
    result = simulate(network, RateConstants.from_dict(summary["constants"]), conditions,
                      times * 60.0)  # fmt: skip
    obs = system.observables()
    frame = figures.normalise_observables(pd.DataFrame({
        "time_min": np.repeat(times, len(obs)),
        "species": np.tile(obs["species"], len(times)),
        "kind": np.tile(obs["kind"], len(times)),
        "charge": np.tile(obs["charge"], len(times)),
        "n_first": np.tile(obs["n_first"], len(times)),
        "concentration_nM": result.observables.ravel(),
    }))  # fmt: skip
    c_first, c_second = conditions.initial_nM
    entry = figures.SampleDistribution(
        "run", c_first / (c_first + c_second), intensities, False, "", frame, summary["beta"]
    )
    figures.save_figure(figures.figure_s6([entry], system), folder / "s6_model4.png",
                        folder / "s6_model4.pdf", dpi)  # fmt: skip


if __name__ == "__main__":
    main()
