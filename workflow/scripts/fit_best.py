"""Best grid fit, next best points, profile intervals and refinement (rule fit_best)."""

import logging

from intercluster import fit, model_comparison, trajectory_fit
from intercluster.fit import best_fit, refine, weighted_chi2, weighted_fit
from intercluster.io import read_tsv
from intercluster.records import BestFit, write_record
from intercluster.rule_script import items, run
from intercluster.settings import FitSettings

log = logging.getLogger("intercluster")


def fit_one(smk, simulations):
    settings = FitSettings.from_config(smk.params.fit)
    chi2 = fit.read_parquet(smk.input.chi2)
    objective = weighted_objective = None
    if settings.refine:
        experiments, spectra = {}, {}
        for sample, files in smk.params.experiments.items():
            times, exp_tmax = fit.load_experiment(files["intensities"], files["tmax"])
            conditions = fit.Conditions.from_dict(smk.params.conditions[sample])
            experiments[sample] = (conditions, times, exp_tmax)
            spectra[sample] = (conditions, times, exp_tmax, read_tsv(files["intensities"]))
        network = fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics)
        options = fit.simulator_options(smk.params.kinetics)
        shared = {"options": options, "cache": simulations}
        objective = refine.chi2_objective(network, experiments, settings.tmax, **shared)
        weighted_objective = weighted_chi2.weighted_chi2_objective(
            network, experiments, settings.tmax, **shared
        )
    result = best_fit.best_fit(
        chi2,
        fit.grid_axes(settings.grid),
        delta_rel=settings.interval_delta_chi2_rel,
        f_confidence=settings.interval_f_confidence,
        objective=objective,
        max_evaluations=settings.refine_max_evaluations,
        zoom_chi2=fit.read_parquet(smk.input.zoom) if "zoom" in smk.input.keys() else None,
        zoom_settings=settings.zoom,
    )
    result.update({"fit_sample": smk.wildcards.fit_sample, "model": int(smk.wildcards.model),
                   "samples": list(smk.params.samples)})  # fmt: skip
    # beside eq 1: the weighted χ² fit's intervals and identifiability labels
    c_nM = weighted_chi2.combination_concentration(smk.params.conditions)
    goodness_of_fit = None
    if weighted_objective is not None:

        def goodness_of_fit(optimum):
            # calibrated on these spectra's own noise (rule model_comparison's verdict)
            return model_comparison.goodness_of_fit_section(
                network, optimum, spectra, settings.tmax, options,
                n_replicas=settings.uncertainty.gof_replicas, seed=settings.uncertainty.seed,
            )  # fmt: skip

    result.update(weighted_fit.weighted_fit_fields(
        fit.read_parquet(smk.input.chi2_weighted), c_nM, settings.uncertainty.confidence,
        weighted_objective, settings.refine_max_evaluations,
        settings.uncertainty.profile_evaluations
        if settings.uncertainty.reoptimise_profiles else None,
        goodness_of_fit=goodness_of_fit,
        profile_rejected=settings.uncertainty.profile_rejected_models,
    ))  # fmt: skip
    weighted = result["weighted"]
    if "goodness_of_fit" in weighted:
        log.info("%s", weighted["goodness_of_fit"].get("statement"))
    if "profiles_skipped" in weighted:
        log.info("%s", weighted["profiles_skipped"])
    if "trajectory" in smk.input.keys():  # fit.objective: trajectory
        result["trajectory"] = trajectory_fit.trajectory_fields(
            fit.read_parquet(smk.input.trajectory), c_nM, settings.uncertainty.confidence
        )
    record = BestFit.from_dict(result)
    log.info("best: k_dim=%s k_diss=%s k_ex=%s chi2=%s; %d failed", result["k_dim"],
             result["k_diss"], result["k_ex"], result["chi2"], result["n_failed"])  # fmt: skip
    if result.get("zoom") and result["zoom"]["best"]:
        z = result["zoom"]["best"]
        log.info("zoom best (step %g decades): k_dim=%.4g k_diss=%.4g k_ex=%.4g chi2=%.6g",
                 result["zoom"]["step_decades"], z["k_dim"], z["k_diss"], z["k_ex"],
                 z["chi2"])  # fmt: skip
    if result["refined"]:
        r = result["refined"]
        log.info("refined (%d evaluations): k_dim=%.4g k_diss=%.4g k_ex=%.4g chi2=%.6g",
                 r["n_evaluations"], r["k_dim"], r["k_diss"], r["k_ex"], r["chi2"])  # fmt: skip
    for name, label in (record.identifiability or {}).items():
        log.info("weighted %s: %s %s", name, label, record.intervals_weighted[name])
    write_record(record, smk.output.best)


def main(smk):
    simulations = {}  # t_max by point and sample, shared by every refinement of the job
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one, simulations)


run(main)
