"""How often each interval rule contains the truth over the noise replicas (rule coverage):
the relative rule, the F rule, the weighted rule and the calibrated weighted rule."""

import logging

from intercluster import coverage, fit, tmax_sigma
from intercluster.io import write_text, write_tsv
from intercluster.rule_script import run
from intercluster.settings import FitSettings

log = logging.getLogger("intercluster")


def main(smk):
    settings = FitSettings.from_config(smk.params.fit)
    replicas = [tmax_sigma.read_tmax_table(p) for p in smk.input.replicas]
    confidence = settings.uncertainty.confidence
    result = coverage.coverage_of_replicas(
        fit.read_parquet(smk.input.grid), replicas, smk.params.virtual_experiment,
        smk.params.sample, settings.uncertainty.coverage, confidence,
        settings.interval_delta_chi2_rel, settings.interval_f_confidence,
    )  # fmt: skip
    truth = smk.params.virtual_experiment["rate_constants"]
    text = coverage.coverage_report(result, truth, confidence, f"SYNTHETIC {smk.params.sample}")
    log.info("\n%s", text)
    write_tsv(result.summary, smk.output.summary)
    write_tsv(result.intervals, smk.output.intervals)
    write_text(text, smk.output.report)


run(main)
