"""t_max of the 77 experimental observables of one sample (docs/science.md §3).

Rule fit_tmax_experiment.
"""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster.io import read_tsv, write_tsv  # noqa: E402
from intercluster.observables import TmaxSettings, experimental_tmax  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

system = ClusterSystem.from_config(snakemake.params.cluster)  # noqa: F821
settings = TmaxSettings.from_config(snakemake.params.tmax)  # noqa: F821
table = experimental_tmax(read_tsv(snakemake.input.intensities), system.observables(), settings)  # noqa: F821
excluded = table[~table["included"]]
log.info(
    "%s: %d of %d observables included; %d excluded (%s)",
    snakemake.wildcards.sample,  # noqa: F821
    int(table["included"].sum()),
    len(table),
    len(excluded),
    ", ".join(f"{s} ({r})" for s, r in zip(excluded["species"], excluded["reason"], strict=True)),
)
write_tsv(table, snakemake.output.tmax)  # noqa: F821
