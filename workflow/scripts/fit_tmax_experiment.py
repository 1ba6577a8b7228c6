"""t_max of the 77 experimental observables of each sample, with σ(t_max) (docs/science.md
§3 and "Uncertainty").

Rule fit_tmax_experiment (one job for every sample, params.per_item).
"""

import logging

from intercluster.io import read_tsv, write_tsv
from intercluster.nuisance_sigma import nuisance_sigma, with_nuisance_sigma
from intercluster.rule_script import items, run
from intercluster.settings import TmaxSettings, UncertaintySettings
from intercluster.system import ClusterSystem
from intercluster.tmax_sigma import experiment_tmax_table

log = logging.getLogger("intercluster")


def tmax_one(smk, system, settings):
    replicates = [read_tsv(path) for path in smk.input.replicates]
    intensities = read_tsv(smk.input.intensities)
    table = experiment_tmax_table(intensities, system.observables(),
                                  settings, UncertaintySettings.from_config(smk.params.uncertainty),
                                  replicates)  # fmt: skip
    if smk.input.nuisance:  # fit.uncertainty.nuisance_sigma
        nuisance = nuisance_sigma(intensities, read_tsv(smk.input.nuisance),
                                  system.observables(), settings)  # fmt: skip
        table = with_nuisance_sigma(table, nuisance, apply=True)
        used = table["included"].astype(bool)
        log.info("σ(t_max)'s nuisance part: median %.3g min over the included observables",
                 float(table.loc[used, "sigma_nuisance_min"].median()))  # fmt: skip
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
    sources = table.loc[table["included"], "sigma_source"].value_counts().to_dict()
    log.info("σ(t_max) from %s (%d replicate run(s))", sources, len(replicates))
    write_tsv(table, smk.output.tmax)


def main(smk):
    system = ClusterSystem.from_config(smk.params.cluster)
    settings = TmaxSettings.from_config(smk.params.tmax)
    for one in items(smk):  # every sample (params.per_item)
        tmax_one(one, system, settings)


run(main)
