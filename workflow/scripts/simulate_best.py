"""Trajectories of a best grid fit at every sample's conditions (rule simulate_best)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402

from intercluster import fit  # noqa: E402
from intercluster.io import read_json, write_tsv  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

sm = snakemake  # noqa: F821
best = read_json(sm.input.best)
if best.get("best") is None:
    raise RuntimeError(f"{sm.input.best}: no successful grid point to simulate")
kinetics = sm.params.kinetics
step = float(kinetics["output_step_min"])
times = np.round(np.arange(0.0, float(kinetics["t_end_min"]) + 0.5 * step, step), 10)
network = fit.network_for(sm.wildcards.model, sm.params.cluster, kinetics)
observables = ClusterSystem.from_config(sm.params.cluster).observables()
outputs = zip(sm.params.samples, sm.params.conditions, sm.output.trajectories,
              sm.output.isomers, strict=True)  # fmt: skip
for sample, conditions, trajectories, isomers in outputs:
    log.info("simulating %s at %s: %s", sm.input.best, sample, best["best"])
    table, isomer_table = fit.best_trajectories(
        network,
        observables,
        best["best"],
        fit.Conditions.from_dict(conditions),
        times,
        options=fit.simulator_options(kinetics),
    )
    write_tsv(table, trajectories)
    fit.write_parquet(isomer_table, isomers)
