"""Grid fit of the rate constants (docs/science.md §3), one concept per module.

Pipeline (one function per workflow rule, the scripts only adapt paths):

1. :mod:`.grid`: the grid from ``config["fit"]["grid"]`` (:func:`grid_points`), its orbits of
   the time-scale invariance (:func:`grid_orbits`) and one chunk's share (:func:`plan_chunk`).
2. :mod:`.chunk_run`: one chunk simulated (:func:`run_chunk`), every point reduced to the t_max
   of the observables (one parameter set: :mod:`.simulation`); a failed point is kept with
   its reason (:mod:`.status`). Chunk tables are written and read by :mod:`.parquet`.
3. :mod:`.chi2`: eq 1's χ² and the weighted χ² from one streaming reduction, both in one
   pass (:func:`chi2_reductions`; :func:`chi2_streaming_all` reads the chunk files batch by
   batch, rule fit_chi2; :func:`chi2_reduce` one kind); the weighted forms and the weighted
   objective by simulation in :mod:`.weighted_chi2`.
4. Beside the grid: the zoom (:mod:`.zoom`), the profile intervals (:mod:`.intervals`), the
   refinement by simulation (:mod:`.refine`), ``best.json`` (:mod:`.best_fit`), the grid
   profiles (:mod:`.profiles`), the profiles by re-optimisation
   (:mod:`.reoptimised_profiles`) and the weighted fit's fields (:mod:`.weighted_fit`).
5. :mod:`.inputs`: the network, solver options and experiment files a script hands the fit.

The names below are the grid fit's public interface (``from intercluster import fit;
fit.chi2_reduce(...)``); the other modules are imported by their own name
(``from intercluster.fit import refine``).
"""

# Re-exported as well because callers reach them as fit.RATE_CONSTANTS / fit.RateConstants.
from ..network import RATE_CONSTANTS
from ..records import RateConstants
from .chi2 import (
    CHI2_COLUMNS,
    CHI2_KINDS,
    EQ1,
    WEIGHTED,
    chi2_reduce,
    chi2_reductions,
    chi2_single,
    chi2_streaming,
    chi2_streaming_all,
    chi2_table,
    failure_summary,
    in_memory,
    included_species,
    ranked,
    residual_table,
)
from .chunk_run import run_chunk
from .grid import (
    Orbit,
    OrbitPlan,
    chunk_orbits,
    chunk_points,
    grid_axes,
    grid_orbits,
    grid_points,
    parse_scatteritem,
    plan_chunk,
)
from .inputs import load_experiment, network_for, simulator_options
from .parquet import (
    ROW_GROUP_ROWS,
    chunk_batches,
    chunk_row,
    merge_chunks,
    read_parquet,
    write_parquet,
)
from .simulation import Conditions, best_trajectories, default_simulator, simulate_tmax
from .status import STATUS_FAILED, STATUS_OK

__all__ = [
    "CHI2_COLUMNS", "CHI2_KINDS", "EQ1", "RATE_CONSTANTS", "ROW_GROUP_ROWS", "STATUS_FAILED",
    "STATUS_OK", "WEIGHTED", "Conditions", "Orbit", "OrbitPlan", "RateConstants",
    "best_trajectories", "chi2_reduce", "chi2_reductions", "chi2_single", "chi2_streaming",
    "chi2_streaming_all", "chi2_table", "chunk_batches", "chunk_orbits", "chunk_points",
    "chunk_row", "default_simulator", "failure_summary", "grid_axes", "grid_orbits",
    "grid_points", "in_memory", "included_species", "load_experiment", "merge_chunks",
    "network_for", "parse_scatteritem", "plan_chunk", "ranked", "read_parquet",
    "residual_table", "run_chunk", "simulate_tmax", "simulator_options", "write_parquet",
]  # fmt: skip
