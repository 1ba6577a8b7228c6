"""Trajectories of one model at the paper's Table 1 constants (rule simulate_table1)."""

import logging
from pathlib import Path

from intercluster.io import write_tsv
from intercluster.network import build_network
from intercluster.records import SampleConditions
from intercluster.rule_script import run
from intercluster.settings import KineticsSettings
from intercluster.simulate import isomers_table, observables_table, output_times_s, simulate
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    kinetics = smk.params.kinetics
    conditions = kinetics["table1_conditions"]
    initial_nM = SampleConditions.from_dict(conditions).initial_nM  # the reactants, in order
    system = ClusterSystem.from_config(smk.params.cluster)
    network = build_network(smk.wildcards.model, kinetics["convention"], system)
    k = smk.params.constants
    result = simulate(
        network, k["k_dim"], k["k_diss"], k["k_ex"], *initial_nM,
        output_times_s(kinetics), dead_time_s=conditions["dead_time_s"],
        **KineticsSettings.from_config(kinetics).simulator_options(),
    )  # fmt: skip
    if not result.ok:
        raise RuntimeError(f"simulation of model {smk.wildcards.model} failed: {result.message}")
    log.info("model %s at %s: %s", smk.wildcards.model, k, result.stats)
    write_tsv(observables_table(result, system), smk.output.observables)
    Path(smk.output.isomers).parent.mkdir(parents=True, exist_ok=True)
    isomers_table(result).to_parquet(smk.output.isomers, index=False)


run(main)
