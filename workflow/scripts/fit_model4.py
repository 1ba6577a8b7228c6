"""Models 3 and 4 fitted jointly to every sample: β, its interval, ΔG_mix, the
likelihood-ratio test (rule fit_model4; intercluster.exchange_bias.fit_model4)."""

import logging

from intercluster import exchange_bias, figures, fit, model_comparison
from intercluster.io import read_tsv, write_json, write_tsv
from intercluster.rule_script import run
from intercluster.settings import TmaxSettings

log = logging.getLogger("intercluster")


def main(smk):
    experiments, spectra = {}, {}
    for sample, intensities, tmax in zip(smk.params.samples, smk.input.intensities,
                                         smk.input.tmax, strict=True):  # fmt: skip
        times, exp_tmax = fit.load_experiment(intensities, tmax)
        conditions = fit.Conditions.from_dict(smk.params.conditions[sample])
        experiments[sample] = (conditions, times, exp_tmax)
        spectra[sample] = (conditions, times, exp_tmax, read_tsv(intensities))
    kinetics = smk.params.kinetics
    settings = TmaxSettings.from_config(smk.params.tmax)
    options = fit.simulator_options(kinetics)

    def network_of(model, beta):
        return fit.network_for(model, smk.params.cluster, kinetics, beta)

    record, profile = exchange_bias.fit_model4(
        experiments, smk.params.grid, network_of, settings, smk.params.temperature_K,
        smk.params.confidence, options,
    )  # fmt: skip
    record["samples"] = list(smk.params.samples)
    # calibrated on these spectra's own noise, as rule fit_best does for models 1-3 (rule
    # model_comparison judges model 4 by it)
    record["model4"]["goodness_of_fit"] = model_comparison.goodness_of_fit_section(
        network_of(4, record["beta"]), record["model4"], spectra, settings, options,
        n_replicas=int(smk.params.uncertainty["gof_replicas"]),
        seed=int(smk.params.uncertainty["seed"]),
    )  # fmt: skip
    log.info("%s", record["model4"]["goodness_of_fit"]["statement"])
    log.info("%s", record["statement"])
    write_json(record, smk.output.record)
    write_tsv(profile, smk.output.profile)
    summary = exchange_bias.beta_summary(profile, record["temperature_K"], record["confidence"],
                                         refined_optimum=True)  # fmt: skip
    figures.save_figure(figures.figure_beta_profile(summary), smk.output.png, smk.output.pdf,
                        smk.params.dpi)  # fmt: skip


run(main)
