"""Trajectories of every model at the paper's Table 1 constants (rule simulate_table1)."""

import logging

from intercluster.io import write_tsv, writing
from intercluster.network import build_network
from intercluster.records import RateConstants, SampleConditions
from intercluster.rule_script import items, run
from intercluster.settings import KineticsSettings
from intercluster.simulate import isomers_table, observables_table, output_times_s, simulate
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def model_one(smk):
    kinetics = smk.params.kinetics
    conditions = SampleConditions.from_dict(kinetics["table1_conditions"])
    system = ClusterSystem.from_config(smk.params.cluster)
    k = smk.params.constants  # model 4: with its beta (settings.table1_constants)
    network = build_network(smk.wildcards.model, kinetics["convention"], system,
                            k.get("beta", 1.0))  # fmt: skip
    result = simulate(
        network, RateConstants.from_dict(k), conditions, output_times_s(kinetics),
        KineticsSettings.from_config(kinetics).simulator_options(),
    )  # fmt: skip
    if not result.ok:
        raise RuntimeError(f"simulation of model {smk.wildcards.model} failed: {result.message}")
    log.info("model %s at %s: %s", smk.wildcards.model, k, result.stats)
    write_tsv(observables_table(result, system), smk.output.observables)
    with writing(smk.output.isomers):
        isomers_table(result).to_parquet(smk.output.isomers, index=False)


def main(smk):
    for one in items(smk):  # every model (params.per_item)
        model_one(one)


run(main)
