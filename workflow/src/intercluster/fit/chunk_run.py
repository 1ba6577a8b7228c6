"""One chunk of the grid simulated (docs/science.md §3): t_max of every observable at every
point, on the sample's experimental time grid (:mod:`intercluster.observables`).

With the chunk's orbits (:func:`intercluster.fit.grid.plan_chunk`) each orbit is integrated
once (:func:`intercluster.simulate.simulate_orbit`) with the t_max of all its members from one
batched call (:meth:`PeakFinder.tmax_many`); otherwise point by point
(:func:`intercluster.fit.simulation.simulate_tmax`). A point whose simulation fails is kept
with ``status = "failed"`` and the reason, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS, ReactionNetwork
from ..observables import dimer_response_of, ion_signal, peak_finder
from ..records import RateConstants
from ..settings import SolverOptions, TmaxSettings
from ..simulate import simulate_orbit
from .grid import Orbit
from .simulation import Conditions, default_simulator, simulate_tmax
from .status import STATUS_FAILED, STATUS_OK

log = logging.getLogger("intercluster.fit")


def run_chunk(
    network: ReactionNetwork,
    points: pd.DataFrame,
    conditions: Conditions,
    times_min: np.ndarray,
    species: Sequence[str],
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
    label: str = "chunk",
    log_every_s: float = 10.0,
    orbits: Sequence[Orbit] | None = None,
) -> pd.DataFrame:
    """t_max of every observable for every point of a chunk.

    With ``orbits`` (covering exactly the chunk's points, see :func:`plan_chunk`) every orbit
    is integrated once and the t_max of all its members come from one batched call
    (:meth:`PeakFinder.tmax_many`); otherwise every point is simulated on its own.

    Returns one row per point (sorted by ``point``): point, k_dim, k_diss, k_ex, status,
    message, then one column per observable (named by its species label) with t_max in min.
    Progress (sets done of total, rate, ETA) is logged every ``log_every_s`` seconds and at
    the end, with the number of failed sets.
    """
    simulator = simulator or default_simulator()
    species = list(species)
    points = points.sort_values("point").reset_index(drop=True)
    n = len(points)
    tmax = np.full((n, len(species)), np.nan)
    status = np.empty(n, dtype=object)
    message = np.empty(n, dtype=object)
    started = last = time.perf_counter()
    log.info("%s: %d parameter sets to simulate", label, n)
    if orbits is not None:
        _run_orbits(
            network, points, orbits, conditions, times_min, settings, options,
            tmax, status, message, label, log_every_s,
        )  # fmt: skip
        return _chunk_frame(points, status, message, tmax, species)
    for row, p in enumerate(points.itertuples(index=False)):
        status[row], message[row], tmax[row] = simulate_tmax(
            network, RateConstants(p.k_dim, p.k_diss, p.k_ex), conditions, times_min, settings,
            simulator, options,
        )  # fmt: skip
        if status[row] != STATUS_OK:
            log.warning(
                "%s: point %d (k_dim=%g, k_diss=%g, k_ex=%g) failed: %s",
                label, p.point, p.k_dim, p.k_diss, p.k_ex, message[row],
            )  # fmt: skip
        now = time.perf_counter()
        if now - last >= log_every_s or row == n - 1:
            last = now
            done = row + 1
            rate = done / max(now - started, 1e-9)
            log.info(
                "%s: %d/%d sets done (%.1f %%), %.1f sets/s, ETA %.0f s, %d failed",
                label, done, n, 100.0 * done / n, rate, (n - done) / rate,
                int(np.sum(status[:done] != STATUS_OK)),
            )  # fmt: skip
    return _chunk_frame(points, status, message, tmax, species)


def _chunk_frame(points, status, message, tmax, species) -> pd.DataFrame:
    frame = points[["point", *RATE_CONSTANTS]].copy()
    frame["status"] = pd.Series(status, dtype=object).fillna(STATUS_OK).astype(str).to_numpy()
    frame["message"] = pd.Series(message, dtype=object).fillna("").astype(str).to_numpy()
    tmax_frame = pd.DataFrame(tmax, columns=species)
    return pd.concat([frame, tmax_frame], axis=1)


def _run_orbits(
    network, points, orbits, conditions, times_min, settings, options,
    tmax, status, message, label, log_every_s,
) -> None:  # fmt: skip
    """Fill ``tmax``/``status``/``message`` (rows of ``points``) orbit by orbit."""

    times_min = np.asarray(times_min, dtype=float)
    ids = points["point"].to_numpy()  # sorted (run_chunk)
    covered = sum(o.points.size for o in orbits)
    if covered != len(points) or np.any(np.diff(ids) <= 0):
        raise ValueError(f"{label}: the orbits cover {covered} points, the chunk has {len(points)}")
    finder = peak_finder(times_min, settings.smoothing_min)
    response = dimer_response_of(conditions, settings)
    n = len(points)
    done = 0
    started = last = time.perf_counter()
    for orbit in orbits:
        rows = np.searchsorted(ids, orbit.points)
        if np.any(rows >= ids.size) or np.any(ids[np.minimum(rows, ids.size - 1)] != orbit.points):
            raise ValueError(f"{label}: an orbit holds points that are not in the chunk")
        try:
            result = simulate_orbit(
                network, orbit.constants, orbit.scales, conditions, times_min * 60.0, options
            )
            ok = result.ok.copy()
            reasons = list(result.messages)
            good = np.flatnonzero(ok)
            if good.size:
                signal = ion_signal(
                    result.observables[good], network.n_monomers, response
                )
                t_max, _ = finder.tmax_many(signal, tolerance_rel=settings.peak_tolerance_rel,
                                            plateau_rel=settings.plateau_rel)  # fmt: skip
                for m, t in zip(good, t_max, strict=True):
                    if np.all(np.isfinite(t)):
                        tmax[rows[m]] = t
                    else:
                        ok[m] = False
                        reasons[m] = "non-finite t_max"
        except Exception as exc:  # noqa: BLE001 - one bad orbit must not stop the chunk
            ok = np.zeros(orbit.points.size, dtype=bool)
            reasons = [f"{type(exc).__name__}: {exc}"] * orbit.points.size
        for m, row in enumerate(rows):
            status[row] = STATUS_OK if ok[m] else STATUS_FAILED
            message[row] = "" if ok[m] else (reasons[m] or "simulation failed")
            if not ok[m]:
                tmax[row] = np.nan
                p = points.iloc[row]
                log.warning(
                    "%s: point %d (k_dim=%g, k_diss=%g, k_ex=%g) failed: %s",
                    label, p["point"], p["k_dim"], p["k_diss"], p["k_ex"], message[row],
                )  # fmt: skip
        done += rows.size
        now = time.perf_counter()
        if now - last >= log_every_s or done == n:
            last = now
            rate = done / max(now - started, 1e-9)
            log.info(
                "%s: %d/%d sets done (%.1f %%), %.1f sets/s, ETA %.0f s, %d failed",
                label, done, n, 100.0 * done / n, rate, (n - done) / rate,
                sum(1 for x in status if x == STATUS_FAILED),
            )  # fmt: skip
