"""Plausibility checks of a best fit (docs/science.md §4; rule plausibility)."""

import logging

from intercluster.plausibility import assess
from intercluster.records import PlausibilityResult, SampleConditions, read_best_fit, write_record
from intercluster.rule_script import items, run
from intercluster.settings import PlausibilitySettings

log = logging.getLogger("intercluster")


def fit_one(smk):
    best = read_best_fit(smk.input.best)
    out = {"fit_sample": smk.wildcards.fit_sample, "model": int(smk.wildcards.model)}
    if not best.ok:
        log.warning("no successful grid point: nothing to assess")
        out["rate_constants"] = None
    else:
        settings = PlausibilitySettings.from_config(smk.params.settings)
        conditions = map(SampleConditions.from_dict, smk.params.conditions.values())
        c = min(min(x.initial_nM) for x in conditions)  # the smallest reactant concentration
        k = best.constants
        out.update(assess(k.k_dim, k.k_diss, k.k_ex, settings, c))
        out["chi2"] = best.chi2
        out["source"] = "best grid point of " + str(smk.input.best)
        log.info("%d of %d checks passed", out["n_passed"], out["n_checks"])
    write_record(PlausibilityResult.from_dict(out), smk.output.json)


def main(smk):
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one)


run(main)
