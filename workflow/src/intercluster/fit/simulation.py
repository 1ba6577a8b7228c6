"""One parameter set simulated: its t_max for the fit (:func:`simulate_tmax`, never raises)
and its trajectories for the figures (:func:`best_trajectories`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS, ReactionNetwork
from ..observables import dimer_response_of, ion_signal, normalise_rows, tmax_of
from ..records import RateConstants, SampleConditions
from ..settings import SolverOptions, TmaxSettings
from ..simulate import simulate
from .status import STATUS_FAILED, STATUS_OK


def default_simulator() -> Callable:
    """:func:`intercluster.simulate.simulate`. A simulator the fit calls has its interface:
    ``simulator(network, constants, conditions, times_s, options)`` -> ``SimulationResult``
    (options: :meth:`KineticsSettings.simulator_options`)."""

    return simulate


# The conditions of one sample (the stage contract lives in intercluster.records).
Conditions = SampleConditions


def simulate_tmax(
    network: ReactionNetwork,
    constants: RateConstants,
    conditions: Conditions,
    times_min: np.ndarray,
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
) -> tuple[str, str, np.ndarray]:
    """Simulate one parameter set and return (status, message, t_max of the observables).

    Never raises: an exception, a failed integration or non-finite concentrations give
    ``("failed", reason, NaNs)``.
    """
    simulator = simulator or default_simulator()
    n_obs = 3 * network.nuclearity + 2
    nan = np.full(n_obs, np.nan)
    try:
        for name in RATE_CONSTANTS:
            value = getattr(constants, name)
            if not (np.isfinite(value) and value >= 0):
                return STATUS_FAILED, f"{name} must be finite and >= 0, got {value}", nan
        times_min = np.asarray(times_min, dtype=float)
        result = simulator(network, constants, conditions, times_min * 60.0, options)
        if result.status != STATUS_OK:
            return STATUS_FAILED, result.message or "simulation failed", nan
        observables = np.asarray(result.observables, dtype=float)
        if not np.all(np.isfinite(observables)):
            return STATUS_FAILED, "non-finite concentrations", nan
        response = dimer_response_of(conditions, settings)
        observables = ion_signal(observables, network.n_monomers, response)
        t_max, _ = tmax_of(
            times_min, observables, settings.smoothing_min,
            tolerance_rel=settings.peak_tolerance_rel, plateau_rel=settings.plateau_rel,
        )  # fmt: skip
        if not np.all(np.isfinite(t_max)):
            return STATUS_FAILED, "non-finite t_max", nan
        return STATUS_OK, "", t_max
    except Exception as exc:  # noqa: BLE001 - one bad point must not stop the chunk
        return STATUS_FAILED, f"{type(exc).__name__}: {exc}", nan


def best_trajectories(
    network: ReactionNetwork,
    observables: pd.DataFrame,
    constants: RateConstants,
    conditions: Conditions,
    times_min: np.ndarray,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trajectories of one parameter set for the figures.

    Returns (observables table: time_min, species, kind, charge, n_first, concentration_nM,
    intensity_norm; isomers table: time_min, i, j, n_first_total, concentration_nM). Raises
    when the simulation fails (there is nothing to plot).
    """

    simulator = simulator or default_simulator()
    times_min = np.asarray(times_min, float)
    result = simulator(network, constants, conditions, times_min * 60.0, options)
    if result.status != STATUS_OK:
        raise RuntimeError(f"simulation of the best fit failed: {result.message}")
    conc = np.asarray(result.observables, float)
    norm = normalise_rows(conc)
    n_t, n_obs = conc.shape
    obs = observables.reset_index(drop=True)
    table = pd.DataFrame(
        {
            "time_min": np.repeat(times_min, n_obs),
            "species": np.tile(obs["species"].to_numpy(), n_t),
            "kind": np.tile(obs["kind"].to_numpy(), n_t),
            "charge": np.tile(obs["charge"].to_numpy(), n_t),
            "n_first": np.tile(obs["n_first"].to_numpy(), n_t),
            "concentration_nM": conc.ravel(),
            "intensity_norm": norm.ravel(),
        }
    )
    pairs = network.dimer_pairs
    iso = np.asarray(result.isomers, float)
    isomers = pd.DataFrame(
        {
            "time_min": np.repeat(times_min, len(pairs)),
            "i": np.tile(pairs[:, 0], n_t),
            "j": np.tile(pairs[:, 1], n_t),
            "n_first_total": np.tile(pairs.sum(axis=1), n_t),
            "concentration_nM": iso.ravel(),
        }
    )
    return table, isomers
