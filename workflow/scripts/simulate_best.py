"""Trajectories of a best grid fit at every sample's conditions (rule simulate_best)."""

import logging

import numpy as np

from intercluster import fit
from intercluster.io import write_tsv
from intercluster.records import read_best_fit
from intercluster.rule_script import items, run
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def fit_one(smk):
    best = read_best_fit(smk.input.best)
    if not best.ok:
        raise RuntimeError(f"{smk.input.best}: no successful grid point to simulate")
    kinetics = smk.params.kinetics
    step = float(kinetics["output_step_min"])
    times = np.round(np.arange(0.0, float(kinetics["t_end_min"]) + 0.5 * step, step), 10)
    network = fit.network_for(smk.wildcards.model, smk.params.cluster, kinetics)
    observables = ClusterSystem.from_config(smk.params.cluster).observables()
    # params.outputs: sample -> its two output files (the rule's outputs, keyed by sample)
    outputs = smk.params.outputs
    expected = {path for paths in outputs.values() for path in paths.values()}
    if expected != {*smk.output.trajectories, *smk.output.isomers}:
        raise RuntimeError("params.outputs does not name the rule's outputs")
    for sample, paths in outputs.items():
        conditions = smk.params.conditions[sample]
        log.info("simulating %s at %s: %s", smk.input.best, sample, best.best)
        table, isomer_table = fit.best_trajectories(
            network,
            observables,
            best.constants,
            fit.Conditions.from_dict(conditions),
            times,
            options=fit.simulator_options(kinetics),
        )
        write_tsv(table, paths["trajectories"])
        fit.write_parquet(isomer_table, paths["isomers"])


def main(smk):
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one)


run(main)
