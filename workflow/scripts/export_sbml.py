"""SBML export of one model at its Table 1 constants (rule export_sbml)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster.network import build_network  # noqa: E402
from intercluster.sbml import consistency_errors, sbml_string  # noqa: E402

sm = snakemake  # noqa: F821
kinetics = sm.params.kinetics
conditions = kinetics["table1_conditions"]
network = build_network(sm.wildcards.model, kinetics["convention"], sm.params.cluster)
k = sm.params.constants
text = sbml_string(
    network, k["k_dim"], k["k_diss"], k["k_ex"], conditions["ag_nM"], conditions["au_nM"]
)
errors = consistency_errors(text)
if errors:
    raise RuntimeError("SBML consistency check failed:\n" + "\n".join(errors))
with open(sm.output[0], "w") as handle:
    handle.write(text)
log.info("wrote %s (%d species, %d reactions)", sm.output[0], network.n_species,
         len(network.reactions))  # fmt: skip
