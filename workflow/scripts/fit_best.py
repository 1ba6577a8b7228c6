"""Best grid fit, next best points, profile intervals and refinement (rule fit_best)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import fit  # noqa: E402
from intercluster.io import write_json  # noqa: E402
from intercluster.observables import TmaxSettings  # noqa: E402

sm = snakemake  # noqa: F821
fit_cfg = sm.params.fit
chi2 = fit.read_parquet(sm.input.chi2)
objective = None
if fit_cfg.get("refine", True):
    experiments = {}
    for k, sample in enumerate(sm.params.samples):
        times, exp_tmax = fit.load_experiment(sm.input.intensities[k], sm.input.tmax[k])
        experiments[sample] = (fit.Conditions.from_dict(sm.params.conditions[k]), times, exp_tmax)
    objective = fit.chi2_objective(
        fit.network_for(sm.wildcards.model, sm.params.cluster, sm.params.kinetics),
        experiments,
        TmaxSettings.from_config(fit_cfg.get("tmax")),
        options=fit.simulator_options(sm.params.kinetics),
    )
result = fit.best_fit(
    chi2,
    fit.grid_axes(fit_cfg["grid"]),
    delta_rel=float(fit_cfg.get("interval_delta_chi2_rel", 0.10)),
    f_confidence=float(fit_cfg.get("interval_f_confidence", 0.95)),
    objective=objective,
    max_evaluations=int(fit_cfg.get("refine_max_evaluations", 60)),
    zoom_chi2=fit.read_parquet(sm.input.zoom) if "zoom" in sm.input.keys() else None,
    zoom_settings=fit.ZoomSettings.from_config(fit_cfg.get("zoom")),
)
result.update({"fit_sample": sm.wildcards.fit_sample, "model": int(sm.wildcards.model),
               "samples": list(sm.params.samples)})  # fmt: skip
log.info("best: k_dim=%s k_diss=%s k_ex=%s chi2=%s; %d failed", result["k_dim"],
         result["k_diss"], result["k_ex"], result["chi2"], result["n_failed"])  # fmt: skip
if result.get("zoom") and result["zoom"].get("best"):
    z = result["zoom"]["best"]
    log.info("zoom best (step %g decades): k_dim=%.4g k_diss=%.4g k_ex=%.4g chi2=%.6g",
             result["zoom"]["step_decades"], z["k_dim"], z["k_diss"], z["k_ex"],
             z["chi2"])  # fmt: skip
if result.get("refined"):
    r = result["refined"]
    log.info("refined (%d evaluations): k_dim=%.4g k_diss=%.4g k_ex=%.4g chi2=%.6g",
             r["n_evaluations"], r["k_dim"], r["k_diss"], r["k_ex"], r["chi2"])  # fmt: skip
write_json(result, sm.output.best)
