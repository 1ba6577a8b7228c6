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

    .venv/bin/python benchmarks/bench_coverage.py --independent DIR [--models 1 2 3]
        [--limit N] [--bootstrap 100] [--profile-evaluations 30] [--nuisance-sigma]
        [--z-only]

``--independent DIR``: the same measurement on data the workflow did not write: DIR holds
runs of the independent generator (``../shared/independent-data/generate.py``, run in its
own venv; its ``samples.tsv`` sheet with one row per run and ``NAME_truth.json`` beside each
mzML). Every run goes through the workflow's front end (mzML, deconvolution with the schema's
settings, t_max with bootstrap σ), the fit grid of ``config.yaml`` (by orbits) for each of
``--models``, the refinement of χ²_w by simulation and, for the truth's model, the profiles
of k_ex and k_dim:k_diss by re-optimisation. Printed per run: each interval and whether it
contains the truth, its width, the refined χ²_w of every model against χ²(n − 3)'s 0.99
quantile ("consistent" or not) and the calibrated verdict of rule model_comparison
(:func:`intercluster.model_comparison.goodness_of_fit_section`: capped χ²_w against a
parametric bootstrap with the data's noise); then the counts over the runs and the median
widths. Every run also prints the SD of the z-scores of the true model's residuals AT THE
TRUTH (σ as used, the bootstrap's alone, and with ``--nuisance-sigma`` σ ⊕ its nuisance part,
:mod:`intercluster.nuisance_sigma`: 2-3 extra deconvolutions per run); ``--z-only`` stops
there (no grid, no fits).

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

from intercluster import coverage, fit, model_comparison, nuisance_sigma
from intercluster.fit import weighted_chi2
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
    parser.add_argument("--independent", type=Path, help="directory of independent runs")
    parser.add_argument("--models", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--limit", type=int, default=None, help="first N runs of the sheet")
    parser.add_argument("--profile-evaluations", type=int, default=30)
    parser.add_argument("--flat-top-sigma", action="store_true",
                        help="σ(t_max) at least the flat top's width / √12")
    parser.add_argument("--nuisance-sigma", action="store_true",
                        help="σ(t_max) ⊕ its part from the deconvolution's nuisance choices")
    parser.add_argument("--z-only", action="store_true",
                        help="independent runs: only the z-scores at the truth (no fits)")
    args = parser.parse_args()
    if args.independent is not None:
        independent(args)
        return

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
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
        model: fit.run_chunk(ReactionNetwork(model, nuclearity=system.nuclearity), points,
                             conditions, times, species,
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


def _independent_run(row, directory: Path, system, config, args) -> dict:
    """One independent run: front end, grid per model, refinement, profiles, verdicts."""
    from intercluster.deconvolution import deconvolve_run
    from intercluster.fit import refine, weighted_fit
    from intercluster.fit.profiles import delta_chi2
    from intercluster.ingest import read_spectra
    from intercluster.observables import experiment_times
    from intercluster.spectrum_basis import observable_basis
    from intercluster.tmax_sigma import tmax_uncertainty_table

    truth_file = json.loads((directory / f"{row['sample']}_truth.json").read_text())
    truth = {k: float(v) for k, v in truth_file["k"].items()}
    truth_model = int(truth_file["model"])
    run = read_spectra(directory / row["mzml"], mz_required=observable_basis(system).mz_span)
    intensities, _, _ = deconvolve_run(run, system,
                                       DeconvolutionSettings.from_config(config["deconvolution"]))
    exp = tmax_uncertainty_table(intensities, system.observables(), TmaxSettings.schema_default(),
                                 n_replicas=args.bootstrap, seed=0,
                                 flat_top_in_sigma=args.flat_top_sigma)  # fmt: skip
    times = experiment_times(intensities)
    conditions = fit.Conditions.from_dict({"ag_nM": float(row["ag_nM"]),
                                           "au_nM": float(row["au_nM"]),
                                           "dead_time_s": float(row["dead_time_s"])})  # fmt: skip
    options = fit.simulator_options(config["kinetics"])
    bootstrap_alone = exp.assign(sigma_min=exp["sigma_bootstrap_min"])
    if args.nuisance_sigma:
        deconvolution = DeconvolutionSettings.from_config(config["deconvolution"])
        alternatives = nuisance_sigma.nuisance_intensities(
            run, deconvolution, lambda r, s: deconvolve_run(r, system, s)[0])
        nuisance = nuisance_sigma.nuisance_sigma(intensities, alternatives, system.observables(),
                                                 TmaxSettings.schema_default())  # fmt: skip
        exp_plain = exp
        exp = nuisance_sigma.with_nuisance_sigma(exp, nuisance, apply=True)
    else:
        exp_plain = exp
    status, message, t_true = fit.simulate_tmax(
        ReactionNetwork(truth_model, nuclearity=system.nuclearity),
        fit.RateConstants(truth["k_dim"], truth["k_diss"],
                                                        truth["k_ex"]),
        conditions, times, TmaxSettings.schema_default(), options=options)  # fmt: skip
    use = exp["included"].astype(bool).to_numpy()
    z_sd = {}
    for label, table in (("sigma_used", exp), ("sigma_without_nuisance", exp_plain),
                         ("bootstrap_alone", bootstrap_alone)):  # fmt: skip
        z = (table["t_max_min"].to_numpy(float) - t_true)[use] / table["sigma_min"].to_numpy(
            float)[use]  # fmt: skip
        z_sd[label] = float(np.nanstd(z)) if status == fit.STATUS_OK else None
    c_nM = min(float(row["ag_nM"]), float(row["au_nM"]))
    if args.z_only:
        return {"run": row["sample"], "truth_model": truth_model, "truth": truth,
                "n_obs": int(use.sum()), "z_sd": z_sd, "models": {}}  # fmt: skip
    grid = config["fit"]["grid"]
    points = fit.grid_points(grid)
    plan = fit.grid_orbits(points)
    axes = fit.grid_axes(grid)
    n_obs = int(exp["included"].sum())
    limit = float(chi2_dist.ppf(0.99, n_obs - 3))
    out = {"run": row["sample"], "truth_model": truth_model, "truth": truth, "n_obs": n_obs,
           "chi2_limit": limit, "z_sd": z_sd, "models": {}}  # fmt: skip
    delta = delta_chi2(args.confidence)
    for model in args.models:
        sim = fit.run_chunk(ReactionNetwork(model, nuclearity=system.nuclearity), points,
                            conditions, times,
                            system.observables()["species"], TmaxSettings.schema_default(),
                            options=options, orbits=plan.orbits)  # fmt: skip
        table = weighted_chi2.weighted_chi2_table({row["sample"]: (sim, exp)})
        objective = weighted_chi2.weighted_chi2_objective(
            ReactionNetwork(model, nuclearity=system.nuclearity),
            {row["sample"]: (conditions, times, exp)},
            TmaxSettings.schema_default(), options=options, cache={})
        ok = np.isfinite(table["chi2"].to_numpy(float))
        best = table[ok].sort_values("chi2").iloc[0]
        start = {k: float(best[k]) for k in ("k_dim", "k_diss", "k_ex")} | {
            "chi2": float(best["chi2"])}
        refined = refine.refine(objective, start, axes, 60)
        entry = {"grid_chi2": float(best["chi2"]), "refined_chi2": refined["chi2"],
                 "converged": refined["converged"]}  # fmt: skip
        if model == truth_model:
            # as rule fit_best does: polished refined point, profiles steered by its curvature
            truths = {"k_ex": truth["k_ex"], "k_dim:k_diss": truth["k_dim"] / truth["k_diss"]}
            profiles, start = weighted_fit.reoptimised_profiles(
                objective, refined, axes, delta, c_nM, table, args.profile_evaluations,
                names=list(truths))  # fmt: skip
            for name, value in truths.items():
                prof = profiles[name]
                entry[name] = {"interval": [prof.low, prof.high], "contains": prof.contains(value),
                               "decades": (np.log10(prof.high / prof.low)
                                           if None not in (prof.low, prof.high) else None),
                               "chi2_min_found": prof.chi2_min_found}  # fmt: skip
            entry["chi2_min"] = min([start["chi2"]] + [entry[n]["chi2_min_found"]
                                                         for n in ("k_ex", "k_dim:k_diss")])
        else:
            entry["chi2_min"] = refined["chi2"]
        entry["consistent"] = bool(entry["chi2_min"] <= limit)
        # the verdict of rule model_comparison: capped χ²_w against a parametric bootstrap
        # of the fitted model with these spectra's own noise
        entry["calibrated"] = model_comparison.goodness_of_fit_section(
            ReactionNetwork(model, nuclearity=system.nuclearity), refined,
            {row["sample"]: (conditions, times, exp, intensities)},
            TmaxSettings.schema_default(), options, n_replicas=200)  # fmt: skip
        entry["calibrated"].setdefault("consistent", None)
        entry["calibrated"].setdefault("limit", float("nan"))
        out["models"][model] = entry
    return out


def independent(args) -> None:
    """Coverage, widths and goodness of fit on independent runs (module docstring)."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    system = system_of_config(config, search_dirs=[ROOT]).cluster_system()
    sheet = pd.read_csv(args.independent / "samples.tsv", sep="\t")
    if args.limit:
        sheet = sheet.head(args.limit)
    results = []
    for _, row in sheet.iterrows():
        started = time.perf_counter()
        result = _independent_run(row, args.independent, system, config, args)
        result["seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)
        z = ", ".join(f"{k} {v:.2f}" for k, v in result["z_sd"].items() if v is not None)
        if args.z_only:
            print(f"{result['run']}: {result['n_obs']} observables; z-score SD at the truth: "
                  f"{z} ({result['seconds']} s)", flush=True)  # fmt: skip
            continue
        true_fit = result["models"][result["truth_model"]]
        print(f"{result['run']}: z-score SD at the truth: {z}", flush=True)
        print(f"{result['run']}: model {result['truth_model']}, {result['n_obs']} observables, "
              f"limit {result['chi2_limit']:.1f}; " + "; ".join(
                  f"model {m} chi2_w {e['chi2_min']:.1f} "
                  f"{'consistent' if e['consistent'] else 'NOT consistent'} (calibrated: "
                  f"{'consistent' if e['calibrated']['consistent'] else 'NOT consistent'}, "
                  f"limit {e['calibrated']['limit']:.1f})"
                  for m, e in result["models"].items())
              + "".join(f"; {n} {true_fit[n]['interval']} truth "
                        f"{'in' if true_fit[n]['contains'] else 'OUT'}"
                        for n in ("k_ex", "k_dim:k_diss"))
              + f" ({result['seconds']} s)", flush=True)  # fmt: skip
    n = len(results)
    summary = {"n_runs": n, "confidence": args.confidence,
               "nuisance_sigma": bool(args.nuisance_sigma)}  # fmt: skip
    summary["z_sd_median"] = {
        k: float(np.median([r["z_sd"][k] for r in results if r["z_sd"][k] is not None]))
        for k in results[0]["z_sd"]}
    print(f"\nz-score SD of the true model's residuals at the truth, median over {n} runs: "
          + ", ".join(f"{k} {v:.2f}" for k, v in summary["z_sd_median"].items()))
    if args.z_only:
        print(json.dumps(summary))
        return
    for name in ("k_ex", "k_dim:k_diss"):
        entries = [r["models"][r["truth_model"]][name] for r in results]
        widths = [e["decades"] for e in entries if e["decades"] is not None]
        summary[name] = {"contains_truth": sum(e["contains"] for e in entries),
                         "median_width_decades": float(np.median(widths)) if widths else None,
                         "open": sum(e["decades"] is None for e in entries)}  # fmt: skip
    summary["true_model_consistent"] = sum(r["models"][r["truth_model"]]["consistent"]
                                           for r in results)  # fmt: skip
    summary["true_model_consistent_calibrated"] = sum(
        r["models"][r["truth_model"]]["calibrated"]["consistent"] for r in results)
    summary["other_models_consistent_calibrated"] = {
        str(m): sum(r["models"][m]["calibrated"]["consistent"] for r in results
                    if m != r["truth_model"])
        for m in args.models
    }
    summary["other_models_consistent"] = {
        str(m): sum(r["models"][m]["consistent"] for r in results if m != r["truth_model"])
        for m in args.models
    }
    print(f"\nover {n} independent runs: k_ex interval contains the truth in "
          f"{summary['k_ex']['contains_truth']}/{n} (median width "
          f"{summary['k_ex']['median_width_decades']} decades), k_dim:k_diss in "
          f"{summary['k_dim:k_diss']['contains_truth']}/{n} (median width "
          f"{summary['k_dim:k_diss']['median_width_decades']} decades); the model that made "
          f"the data consistent in {summary['true_model_consistent']}/{n}; other models "
          f"consistent: {summary['other_models_consistent']}")  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
