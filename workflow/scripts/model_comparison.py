"""AIC comparison and goodness of fit of the models of each fit (rule model_comparison)."""

import logging
from pathlib import Path

from intercluster import fit, model_comparison
from intercluster.io import read_json, write_tsv
from intercluster.records import read_best_fit
from intercluster.rule_script import items, run

log = logging.getLogger("intercluster")


def compare_one(smk):
    models = [int(m) for m in smk.params.models]
    weighted = {m: fit.read_parquet(p) for m, p in zip(models, smk.input.weighted, strict=True)}
    best = {m: read_best_fit(p) for m, p in zip(models, smk.input.best, strict=True)}
    refined = {m: model_comparison.refined_weighted_chi2(b) for m, b in best.items()}
    # the verdict calibrated on the spectra's own noise (rule fit_best), where it was computed
    calibrated = {m: (b.weighted or {}).get("goodness_of_fit") for m, b in best.items()}
    # model 4's row as rule fit_model4 recorded it (the joint fit, when fit.models lists 4)
    model4 = read_json(smk.input.model4[0]) if smk.input.model4 else None
    comparison = model_comparison.compare_fitted_models(weighted, refined, calibrated=calibrated,
                                                        model4=model4)  # fmt: skip
    text = model_comparison.model_comparison_statement(comparison)
    log.info("%s:\n%s", smk.wildcards.fit_sample, text)
    write_tsv(comparison, smk.output.tsv)
    Path(smk.output.md).write_text(f"# Model comparison, fit to {smk.wildcards.fit_sample}\n\n"
                                   + "\n\n".join(text.splitlines()) + "\n")  # fmt: skip


def main(smk):
    for one in items(smk):  # every fit (params.per_item)
        compare_one(one)


run(main)
