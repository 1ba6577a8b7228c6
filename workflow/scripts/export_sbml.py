"""SBML export of every model at its Table 1 constants (rule export_sbml)."""

import logging

from intercluster.network import build_network
from intercluster.records import RateConstants, SampleConditions
from intercluster.rule_script import items, run
from intercluster.sbml import consistency_errors, sbml_string
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def model_one(smk):
    kinetics = smk.params.kinetics
    conditions = SampleConditions.from_dict(kinetics["table1_conditions"])
    # model 4: with its beta (settings.table1_constants)
    network = build_network(smk.wildcards.model, kinetics["convention"], smk.params.cluster,
                            smk.params.constants.get("beta", 1.0))  # fmt: skip
    system = ClusterSystem.from_config(smk.params.cluster)  # the species' names
    text = sbml_string(network, RateConstants.from_dict(smk.params.constants), conditions, system)
    errors = consistency_errors(text)
    if errors:
        raise RuntimeError("SBML consistency check failed:\n" + "\n".join(errors))
    with open(smk.output.xml, "w", encoding="utf-8") as handle:
        handle.write(text)
    log.info("wrote %s (%d species, %d reactions)", smk.output.xml, network.n_species,
             len(network.reactions))  # fmt: skip


def main(smk):
    for one in items(smk):  # every model (params.per_item)
        model_one(one)


run(main)
