"""Model 4's joint best fit (beta.json) through the kinetic plausibility checks, with
ΔG_mix beside them (docs/science.md §2.4 and §4; rule plausibility_model4)."""

import logging

from intercluster import exchange_bias
from intercluster.io import read_json
from intercluster.plausibility import assess
from intercluster.records import PlausibilityResult, SampleConditions, write_record
from intercluster.rule_script import run
from intercluster.settings import PlausibilitySettings

log = logging.getLogger("intercluster")


def main(smk):
    record = read_json(smk.input.record)
    k = exchange_bias.model4_constants(record)
    settings = PlausibilitySettings.from_config(smk.params.settings)
    conditions = map(SampleConditions.from_dict, smk.params.conditions.values())
    c = min(min(x.initial_nM) for x in conditions)  # the smallest reactant concentration
    out = {"fit_sample": smk.params.fit_sample, "model": 4}
    out.update(assess(k["k_dim"], k["k_diss"], k["k_ex"], settings, c))
    # model 4's fit minimises the weighted chi2_w, not eq 1's chi2 (min^2): none to show
    out["chi2"] = None
    out["source"] = f"refined joint optimum of {smk.input.record} (chi2_w)"
    out["exchange_bias"] = exchange_bias.plausibility_entry(record)
    log.info("%d of %d checks passed; %s", out["n_passed"], out["n_checks"],
             out["exchange_bias"]["statement"])  # fmt: skip
    write_record(PlausibilityResult.from_dict(out), smk.output.json)


run(main)
