"""Simulate one chunk of the rate-constant grid, t_max per set (rule fit_grid_chunk)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import fit  # noqa: E402
from intercluster.observables import TmaxSettings  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

sm = snakemake  # noqa: F821
chunk, n_chunks = fit.parse_scatteritem(sm.wildcards.scatteritem)
points, orbits, how = fit.plan_chunk(
    fit.grid_points(sm.params.grid), chunk, n_chunks, bool(sm.params.orbits)
)
log.info("grid: %s", how)
times_min, _ = fit.load_experiment(sm.input.intensities)
network = fit.network_for(sm.wildcards.model, sm.params.cluster, sm.params.kinetics)
species = ClusterSystem.from_config(sm.params.cluster).observables()["species"].tolist()
simulator = fit.default_simulator()
if orbits is None:
    log.info("simulator: %s.%s", simulator.__module__, simulator.__name__)
frame = fit.run_chunk(
    network,
    points,
    fit.Conditions.from_dict(sm.params.conditions),
    times_min,
    species,
    TmaxSettings.from_config(sm.params.tmax),
    simulator=simulator,
    options=fit.simulator_options(sm.params.kinetics),
    label=f"{sm.wildcards.sample} model {sm.wildcards.model} chunk {sm.wildcards.scatteritem}",
    orbits=orbits,
)
fit.write_parquet(frame, sm.output.chunk)
