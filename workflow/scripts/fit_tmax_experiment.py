"""t_max of the 77 experimental observables of one sample (docs/science.md §3).

Rule fit_tmax_experiment.
"""

import logging

from intercluster.io import read_tsv, write_tsv
from intercluster.observables import experimental_tmax
from intercluster.rule_script import run
from intercluster.settings import TmaxSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    system = ClusterSystem.from_config(smk.params.cluster)
    settings = TmaxSettings.from_config(smk.params.tmax)
    table = experimental_tmax(read_tsv(smk.input.intensities), system.observables(), settings)
    excluded = table[~table["included"]]
    log.info(
        "%s: %d of %d observables included; %d excluded (%s)",
        smk.wildcards.sample,
        int(table["included"].sum()),
        len(table),
        len(excluded),
        ", ".join(
            f"{s} ({r})" for s, r in zip(excluded["species"], excluded["reason"], strict=True)
        ),
    )
    write_tsv(table, smk.output.tmax)


run(main)
