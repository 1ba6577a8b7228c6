"""Simulate one chunk of the rate-constant grid, t_max per set (rule fit_grid_chunk)."""

import logging

from intercluster import fit
from intercluster.rule_script import run
from intercluster.settings import TmaxSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    chunk, n_chunks = fit.parse_scatteritem(smk.wildcards.scatteritem)
    points, orbits, how = fit.plan_chunk(
        fit.grid_points(smk.params.grid), chunk, n_chunks, bool(smk.params.orbits)
    )
    log.info("grid: %s", how)
    times_min, _ = fit.load_experiment(smk.input.intensities)
    network = fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics)
    species = ClusterSystem.from_config(smk.params.cluster).observables()["species"].tolist()
    simulator = fit.default_simulator()
    if orbits is None:
        log.info("simulator: %s.%s", simulator.__module__, simulator.__name__)
    frame = fit.run_chunk(
        network,
        points,
        fit.Conditions.from_dict(smk.params.conditions),
        times_min,
        species,
        TmaxSettings.from_config(smk.params.tmax),
        simulator=simulator,
        options=fit.simulator_options(smk.params.kinetics),
        label=f"{smk.wildcards.sample} model {smk.wildcards.model} chunk "
        f"{smk.wildcards.scatteritem}",
        orbits=orbits,
    )
    fit.write_parquet(frame, smk.output.chunk)


run(main)
