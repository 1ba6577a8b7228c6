"""Plausibility checks of a best fit (docs/science.md §4; rule plausibility)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster.io import read_json, write_json  # noqa: E402
from intercluster.plausibility import assess  # noqa: E402

sm = snakemake  # noqa: F821
best = read_json(sm.input.best)
out = {"fit_sample": sm.wildcards.fit_sample, "model": int(sm.wildcards.model)}
if best.get("best") is None:
    log.warning("no successful grid point: nothing to assess")
    out["rate_constants"] = None
else:
    c = min(min(float(x["ag_nM"]), float(x["au_nM"])) for x in sm.params.conditions)
    out.update(assess(best["k_dim"], best["k_diss"], best["k_ex"], sm.params.settings, c))
    out["chi2"] = best["chi2"]
    out["source"] = "best grid point of " + str(sm.input.best)
    log.info("%d of %d checks passed", out["n_passed"], out["n_checks"])
write_json(out, sm.output.json)
