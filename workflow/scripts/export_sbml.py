"""SBML export of one model at its Table 1 constants (rule export_sbml)."""

import logging

from intercluster.network import build_network
from intercluster.records import SampleConditions
from intercluster.rule_script import run
from intercluster.sbml import consistency_errors, sbml_string

log = logging.getLogger("intercluster")


def main(smk):
    kinetics = smk.params.kinetics
    conditions = kinetics["table1_conditions"]
    initial_nM = SampleConditions.from_dict(conditions).initial_nM  # the reactants, in order
    network = build_network(smk.wildcards.model, kinetics["convention"], smk.params.cluster)
    k = smk.params.constants
    text = sbml_string(
        network, k["k_dim"], k["k_diss"], k["k_ex"], *initial_nM
    )
    errors = consistency_errors(text)
    if errors:
        raise RuntimeError("SBML consistency check failed:\n" + "\n".join(errors))
    with open(smk.output[0], "w") as handle:
        handle.write(text)
    log.info("wrote %s (%d species, %d reactions)", smk.output[0], network.n_species,
             len(network.reactions))  # fmt: skip


run(main)
