"""Trajectories of one model at the paper's Table 1 constants (rule simulate_table1)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from pathlib import Path  # noqa: E402

from intercluster.io import write_tsv  # noqa: E402
from intercluster.network import build_network  # noqa: E402
from intercluster.simulate import (  # noqa: E402
    isomers_table,
    observables_table,
    output_times_s,
    simulate,
)
from intercluster.system import ClusterSystem  # noqa: E402

sm = snakemake  # noqa: F821
kinetics = sm.params.kinetics
conditions = kinetics["table1_conditions"]
system = ClusterSystem.from_config(sm.params.cluster)
network = build_network(sm.wildcards.model, kinetics["convention"], system)
k = sm.params.constants
result = simulate(
    network, k["k_dim"], k["k_diss"], k["k_ex"], conditions["ag_nM"], conditions["au_nM"],
    output_times_s(kinetics), dead_time_s=conditions["dead_time_s"],
    rtol=kinetics["rtol"], atol=kinetics["atol"],
)  # fmt: skip
if not result.ok:
    raise RuntimeError(f"simulation of model {sm.wildcards.model} failed: {result.message}")
log.info("model %s at %s: %s", sm.wildcards.model, k, result.stats)
write_tsv(observables_table(result, system), sm.output.observables)
Path(sm.output.isomers).parent.mkdir(parents=True, exist_ok=True)
isomers_table(result).to_parquet(sm.output.isomers, index=False)
