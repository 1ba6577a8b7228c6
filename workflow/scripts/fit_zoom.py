"""The zoom (rule fit_zoom, beyond the paper): a fine grid around the coarse optimum of one
fit, t_max by orbits at every sample of the fit, and its chi² table and residuals."""

import logging

import pandas as pd

from intercluster import fit
from intercluster.fit import zoom
from intercluster.io import write_tsv
from intercluster.rule_script import items, run
from intercluster.settings import TmaxSettings, ZoomSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def fit_one(smk):
    settings = ZoomSettings.from_config(smk.params.zoom)
    delta_rel = float(smk.params.delta_rel)
    coarse = fit.read_parquet(smk.input.coarse)
    centres = zoom.zoom_centres(coarse, fit.grid_axes(smk.params.grid), delta_rel, settings)
    for _, c in centres.iterrows():
        log.info("zoom centre: point %d (k_dim=%g, k_diss=%g, k_ex=%g, chi2=%.6g)", c["point"],
                 c["k_dim"], c["k_diss"], c["k_ex"], c["chi2"])  # fmt: skip
    points, orbits, how = fit.plan_chunk(
        zoom.zoom_points(coarse, smk.params.grid, delta_rel, settings), 0, 1,
        bool(smk.params.orbits),
    )  # fmt: skip
    log.info("zoom grid (step %g decades): %s", settings.step_decades, how)
    network = fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics)
    species = ClusterSystem.from_config(smk.params.cluster).observables()["species"].tolist()
    per_sample, tables = {}, []
    for sample, files in smk.params.experiments.items():
        times_min, exp_tmax = fit.load_experiment(files["intensities"], files["tmax"])
        frame = fit.run_chunk(
            network,
            points,
            fit.Conditions.from_dict(smk.params.conditions[sample]),
            times_min,
            species,
            TmaxSettings.from_config(smk.params.tmax),
            options=fit.simulator_options(smk.params.kinetics),
            label=f"zoom {smk.wildcards.fit_sample} model {smk.wildcards.model} at {sample}",
            orbits=orbits,
        )
        per_sample[sample] = (frame, exp_tmax)
        tables.append(frame.assign(sample=sample))
    fit.write_parquet(pd.concat(tables, ignore_index=True), smk.output.tmax)
    chi2 = fit.chi2_table(per_sample)
    fit.write_parquet(chi2, smk.output.chi2)
    summary = fit.failure_summary(chi2)
    log.info("zoom %s model %s: %d points, %d ok, %d failed", smk.wildcards.fit_sample,
             smk.wildcards.model, summary["n_points"], summary["n_ok"],
             summary["n_failed"])  # fmt: skip
    ranking = fit.ranked(chi2)
    if ranking.empty:
        raise RuntimeError(f"{smk.output.chi2}: every point of the zoom grid failed")
    best = ranking.iloc[0]
    log.info("zoom best point %d: k_dim=%.6g k_diss=%.6g k_ex=%.6g chi2=%.6g min^2 "
             "(coarse %.6g)", best["point"], best["k_dim"], best["k_diss"], best["k_ex"],
             best["chi2"], float(fit.ranked(coarse)["chi2"].iloc[0]))  # fmt: skip
    write_tsv(fit.residual_table(per_sample, int(best["point"])), smk.output.residuals)


def main(smk):
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one)


run(main)
