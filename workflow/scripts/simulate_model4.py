"""Model 4 at its joint best fit (beta.json) simulated at every sample's conditions, for
Figure S6 and Figure 3 (rule simulate_model4)."""

import logging

import numpy as np

from intercluster import exchange_bias, fit
from intercluster.io import read_json, write_tsv
from intercluster.records import RateConstants
from intercluster.rule_script import run
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    fitted = exchange_bias.model4_constants(read_json(smk.input.record))
    constants = RateConstants(*(fitted[k] for k in ("k_dim", "k_diss", "k_ex")))
    kinetics = smk.params.kinetics
    step = float(kinetics["output_step_min"])
    times = np.round(np.arange(0.0, float(kinetics["t_end_min"]) + 0.5 * step, step), 10)
    network = fit.network_for(4, smk.params.cluster, kinetics, fitted["beta"])
    observables = ClusterSystem.from_config(smk.params.cluster).observables()
    # params.outputs: sample -> its trajectory file (the rule's outputs, in sheet order)
    outputs = smk.params.outputs
    if set(outputs.values()) != set(smk.output.trajectories):
        raise RuntimeError("params.outputs does not name the rule's outputs")
    for sample, path in outputs.items():
        log.info("simulating model 4 (%s) at %s", fitted, sample)
        table, _ = fit.best_trajectories(
            network, observables, constants,
            fit.Conditions.from_dict(smk.params.conditions[sample]), times,
            options=fit.simulator_options(kinetics),
        )  # fmt: skip
        write_tsv(table, path)


run(main)
