"""What a fit needs from the validated config and a sample's files: the reaction network,
the solver options, the experimental time grid and t_max table."""

from __future__ import annotations

from ..io import read_tsv
from ..network import ReactionNetwork, build_network
from ..observables import experiment_times
from ..settings import KineticsSettings, SolverOptions


def network_for(model: int, cluster: dict, kinetics: dict, beta: float = 1.0) -> ReactionNetwork:
    """The reaction network of ``model`` from the ``cluster`` and ``kinetics`` config
    (``beta``: model 4's exchange bias)."""
    return build_network(model, str(kinetics["convention"]), cluster, beta)


def simulator_options(kinetics: dict) -> SolverOptions:
    """Integration tolerances and the step limit from the validated ``kinetics`` config."""
    return KineticsSettings.from_config(kinetics).simulator_options()


def load_experiment(intensities_path, tmax_table_path=None):
    """(times_min, experimental t_max table or None) of a sample from its files."""

    times = experiment_times(read_tsv(intensities_path))
    exp_tmax = read_tsv(tmax_table_path) if tmax_table_path else None
    if exp_tmax is not None:
        exp_tmax["included"] = exp_tmax["included"].astype(str).str.lower() == "true"
    return times, exp_tmax
