"""Each sample's dimer response, estimated from its data against a best fit (rule
dimer_response)."""

import logging

import pandas as pd

from intercluster.io import read_tsv, write_tsv
from intercluster.observables import DIMER_RESPONSE_COLUMNS, dimer_response_of, dimer_response_row
from intercluster.records import SampleConditions
from intercluster.rule_script import items, run
from intercluster.settings import TmaxSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def fit_one(smk, observables, settings):
    rows = []
    for sample, intensities, trajectories in zip(
        smk.params.samples, smk.input.intensities, smk.input.trajectories, strict=True
    ):
        conditions = SampleConditions.from_dict(smk.params.conditions[sample])
        used = dimer_response_of(conditions, settings)
        row = dimer_response_row(
            sample, read_tsv(intensities), read_tsv(trajectories), observables, used
        )
        log.info(
            "%s: dimer response used %.3g, estimated %.3g (%d late times)",
            sample, row["dimer_response_used"], row["dimer_response_estimated"], row["n_times"],
        )  # fmt: skip
        rows.append(row)
    write_tsv(pd.DataFrame(rows, columns=DIMER_RESPONSE_COLUMNS), smk.output.tsv)


def main(smk):
    observables = ClusterSystem.from_config(smk.params.cluster).observables()
    settings = TmaxSettings.from_config(smk.params.tmax)
    for one in items(smk):  # every fit and model (params.per_item)
        fit_one(one, observables, settings)


run(main)
