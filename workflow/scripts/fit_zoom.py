"""The zoom (rule fit_zoom, beyond the paper): a fine grid around the coarse optimum of one
fit, t_max by orbits at every sample of the fit, and its chi² table and residuals."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import pandas as pd  # noqa: E402

from intercluster import fit  # noqa: E402
from intercluster.io import write_tsv  # noqa: E402
from intercluster.observables import TmaxSettings  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

sm = snakemake  # noqa: F821
settings = fit.ZoomSettings.from_config(sm.params.zoom)
delta_rel = float(sm.params.zoom["delta_rel"])
coarse = fit.read_parquet(sm.input.coarse)
centres = fit.zoom_centres(coarse, fit.grid_axes(sm.params.grid), delta_rel, settings)
for _, c in centres.iterrows():
    log.info("zoom centre: point %d (k_dim=%g, k_diss=%g, k_ex=%g, chi2=%.6g)", c["point"],
             c["k_dim"], c["k_diss"], c["k_ex"], c["chi2"])  # fmt: skip
points, orbits, how = fit.plan_chunk(
    fit.zoom_points(coarse, sm.params.grid, delta_rel, settings), 0, 1, bool(sm.params.orbits)
)
log.info("zoom grid (step %g decades): %s", settings.step_decades, how)
network = fit.network_for(sm.wildcards.model, sm.params.cluster, sm.params.kinetics)
species = ClusterSystem.from_config(sm.params.cluster).observables()["species"].tolist()
per_sample, tables = {}, []
for k, sample in enumerate(sm.params.samples):
    times_min, exp_tmax = fit.load_experiment(sm.input.intensities[k], sm.input.tmax[k])
    frame = fit.run_chunk(
        network,
        points,
        fit.Conditions.from_dict(sm.params.conditions[k]),
        times_min,
        species,
        TmaxSettings.from_config(sm.params.tmax),
        options=fit.simulator_options(sm.params.kinetics),
        label=f"zoom {sm.wildcards.fit_sample} model {sm.wildcards.model} at {sample}",
        orbits=orbits,
    )
    per_sample[sample] = (frame, exp_tmax)
    tables.append(frame.assign(sample=sample))
fit.write_parquet(pd.concat(tables, ignore_index=True), sm.output.tmax)
chi2 = fit.chi2_table(per_sample)
fit.write_parquet(chi2, sm.output.chi2)
summary = fit.failure_summary(chi2)
log.info("zoom %s model %s: %d points, %d ok, %d failed", sm.wildcards.fit_sample,
         sm.wildcards.model, summary["n_points"], summary["n_ok"], summary["n_failed"])  # fmt: skip
ranking = fit.ranked(chi2)
if ranking.empty:
    raise RuntimeError(f"{sm.output.chi2}: every point of the zoom grid failed")
best = ranking.iloc[0]
log.info("zoom best point %d: k_dim=%.6g k_diss=%.6g k_ex=%.6g chi2=%.6g min^2 (coarse %.6g)",
         best["point"], best["k_dim"], best["k_diss"], best["k_ex"], best["chi2"],
         float(fit.ranked(coarse)["chi2"].iloc[0]))  # fmt: skip
write_tsv(fit.residual_table(per_sample, int(best["point"])), sm.output.residuals)
