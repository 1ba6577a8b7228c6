"""Models 3 and 4 fitted jointly to every sample: β, its interval, ΔG_mix, the
likelihood-ratio test (rule fit_model4; intercluster.exchange_bias.fit_model4)."""

import logging

from intercluster import exchange_bias, figures, fit
from intercluster.io import write_json, write_tsv
from intercluster.rule_script import run
from intercluster.settings import TmaxSettings

log = logging.getLogger("intercluster")


def main(smk):
    experiments = {}
    for sample, intensities, tmax in zip(smk.params.samples, smk.input.intensities,
                                         smk.input.tmax, strict=True):  # fmt: skip
        times, exp_tmax = fit.load_experiment(intensities, tmax)
        conditions = fit.Conditions.from_dict(smk.params.conditions[sample])
        experiments[sample] = (conditions, times, exp_tmax)
    kinetics = smk.params.kinetics
    record, profile = exchange_bias.fit_model4(
        experiments, smk.params.grid,
        lambda model, beta: fit.network_for(model, smk.params.cluster, kinetics, beta),
        TmaxSettings.from_config(smk.params.tmax), smk.params.temperature_K,
        smk.params.confidence, fit.simulator_options(kinetics),
    )  # fmt: skip
    record["samples"] = list(smk.params.samples)
    log.info("%s", record["statement"])
    write_json(record, smk.output.record)
    write_tsv(profile, smk.output.profile)
    summary = exchange_bias.beta_summary(profile, record["temperature_K"], record["confidence"],
                                         refined_optimum=True)  # fmt: skip
    figures.save_figure(figures.figure_beta_profile(summary), smk.output.png, smk.output.pdf,
                        smk.params.dpi)  # fmt: skip


run(main)
