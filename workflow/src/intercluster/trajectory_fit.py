"""Trajectory objective (beyond the paper): least squares between the simulated and the
measured normalised intensities of all included observables at every time point.

A dimer ion's signal per molecule relative to a monomer's (the response factor r, the
paper's reason to avoid intensities) is a nuisance parameter fitted at every grid point by a
vectorised 1-D search in log r.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import fit
from .fit.intervals import f_test_delta
from .fit.profiles import default_confidence, profilable_names, profile_results
from .network import RATE_CONSTANTS
from .observables import experiment_matrix, normalise_rows
from .settings import SolverOptions
from .simulate import simulate_many


# --- trajectory objective --------------------------------------------------------------------
@dataclass(frozen=True)
class TrajectoryFit:
    """Least-squares trajectory objective at every grid point.

    Attributes
    ----------
    sse : ndarray, shape (n_points,)
        Sum of squared residuals of the normalised intensities (NaN for failed points).
    response : ndarray, shape (n_points,)
        Fitted (or fixed) dimer response factor r at each point.
    n_residuals : int
        Number of residuals (time points x included observables).
    """

    sse: np.ndarray
    response: np.ndarray
    n_residuals: int

    @property
    def best(self) -> int:
        """Row index of the best point."""
        return int(np.nanargmin(self.sse))


def _trajectory_objective(conc, measured, is_dimer, included):
    """SSE(r) of every point, from per-(point, time) sums computed once.

    With T = M + r D (M, D: summed monomer and dimer concentrations of a time point), the
    modelled intensities are C/T (monomer ions) and r C/T (dimer ions), so
    SSE = Σ y² − 2 Σ_t (a_m + r a_d)/T + Σ_t (b_m + r² b_d)/T², with a = Σ_k y C and
    b = Σ_k C² over the included monomer (m) and dimer (d) ions: each evaluation costs
    O(n_points n_t), not O(n_points n_t n_obs).
    """
    valid = np.isfinite(measured) & included[None, :]
    y = np.where(valid, measured, 0.0)
    mono = (valid & ~is_dimer[None, :]).astype(float)
    dim = (valid & is_dimer[None, :]).astype(float)
    const = float(np.sum(y * y))
    a_m = np.einsum("ptk,tk->pt", conc, y * mono)
    a_d = np.einsum("ptk,tk->pt", conc, y * dim)
    b_m = np.einsum("ptk,ptk,tk->pt", conc, conc, mono)
    b_d = np.einsum("ptk,ptk,tk->pt", conc, conc, dim)
    total_m = conc[:, :, ~is_dimer].sum(axis=2)
    total_d = conc[:, :, is_dimer].sum(axis=2)

    def sse(r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, float)[:, None]
        total = total_m + r * total_d
        inv = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        cross = np.sum((a_m + r * a_d) * inv, axis=1)
        square = np.sum((b_m + r * r * b_d) * inv * inv, axis=1)
        return np.maximum(const - 2.0 * cross + square, 0.0)

    return sse


def trajectory_fit(
    concentrations,
    measured_norm,
    is_dimer,
    included,
    fit_response: bool = True,
    response_bounds: tuple[float, float] = (0.1, 10.0),
    fixed_response: float = 1.0,
    n_coarse: int = 25,  # not a system literal (points of the coarse scan)
    n_refine: int = 30,
) -> TrajectoryFit:
    """Trajectory objective with the dimer response factor as a nuisance parameter.

    The modelled normalised intensity of ion k at time t is ``w_k C_k / sum_j w_j C_j`` with
    ``w = 1`` for monomer ions and ``w = r`` for dimer ions; the objective is the sum over
    time points and included observables of (measured − modelled)². ``r`` is fitted per
    grid point: a coarse log-spaced scan, then a golden-section search in log r around the
    best coarse value, both vectorised over the points.

    Parameters
    ----------
    concentrations : array_like, shape (n_points, n_t, n_obs)
        Simulated observables (nmol/L) of every grid point on the experimental times;
        failed points NaN.
    measured_norm : array_like, shape (n_t, n_obs)
        Measured normalised intensities.
    is_dimer : array_like of bool, shape (n_obs,)
    included : array_like of bool, shape (n_obs,)
        Observables that enter the objective (the t_max rule's inclusion).
    fit_response : bool
        Fit r (else use ``fixed_response``).
    response_bounds : (float, float)
        Search range of r.
    """
    return trajectory_fit_samples(
        [(concentrations, measured_norm, included)], is_dimer, fit_response, response_bounds,
        fixed_response, n_coarse, n_refine,
    )  # fmt: skip


def trajectory_fit_samples(
    samples: Sequence[tuple],
    is_dimer,
    fit_response: bool = True,
    response_bounds: tuple[float, float] = (0.1, 10.0),
    fixed_response: float = 1.0,
    n_coarse: int = 25,  # not a system literal (points of the coarse scan)
    n_refine: int = 30,
) -> TrajectoryFit:
    """:func:`trajectory_fit` summed over samples (a joint fit: one response factor r for all).

    ``samples``: (concentrations (n_points, n_t, n_obs), measured_norm (n_t, n_obs),
    included (n_obs,)) per sample, the same grid points in the same order. Each sample is
    reduced to its per-(point, time) sums at once, so its concentrations can be freed.
    """
    is_dimer = np.asarray(is_dimer, bool)
    parts, failed, n_residuals = [], None, 0
    for concentrations, measured_norm, included in samples:
        conc = np.asarray(concentrations, float)
        measured = np.asarray(measured_norm, float)
        included = np.asarray(included, bool)
        if conc.ndim != 3 or conc.shape[1:] != measured.shape:
            raise ValueError(
                f"concentrations {conc.shape} do not match the data {measured.shape}"
            )
        bad = ~np.all(np.isfinite(conc), axis=(1, 2))
        failed = bad if failed is None else failed | bad
        conc = np.where(bad[:, None, None], 0.0, conc)
        n_residuals += int(np.sum(np.isfinite(measured[:, included])))
        parts.append(_trajectory_objective(conc, measured, is_dimer, included))
    if not parts:
        raise ValueError("no samples for the trajectory objective")
    n_points = failed.size

    def objective(r):
        return sum(part(r) for part in parts)

    if not fit_response:
        r = np.full(n_points, float(fixed_response))
        sse = objective(r)
        return TrajectoryFit(np.where(failed, np.nan, sse), r, n_residuals)
    lo, hi = np.log10(response_bounds[0]), np.log10(response_bounds[1])
    grid = np.linspace(lo, hi, n_coarse)
    coarse = np.stack([objective(np.full(n_points, 10.0**g)) for g in grid])
    k = np.argmin(coarse, axis=0)
    a = grid[np.maximum(k - 1, 0)]
    b = grid[np.minimum(k + 1, n_coarse - 1)]
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    c = b - golden * (b - a)
    d = a + golden * (b - a)
    fc = objective(10.0**c)
    fd = objective(10.0**d)
    for _ in range(n_refine):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = b - golden * (b - a)
        new_d = a + golden * (b - a)
        c_next = np.where(left, new_c, d)
        d_next = np.where(left, c, new_d)
        f_new = objective(10.0 ** np.where(left, c_next, d_next))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = c_next, d_next
    x = 0.5 * (a + b)
    r = 10.0**x
    sse = objective(r)
    return TrajectoryFit(np.where(failed, np.nan, sse), np.where(failed, np.nan, r), n_residuals)


def trajectory_table(points: pd.DataFrame, result: TrajectoryFit) -> pd.DataFrame:
    """Grid points with the trajectory objective as ``chi2`` (layout of ``fit.CHI2_COLUMNS``)
    plus the fitted ``response``; usable by :func:`profile_results`."""
    out = points[["point", *RATE_CONSTANTS]].copy().reset_index(drop=True)
    failed = ~np.isfinite(result.sse)
    out["chi2"] = result.sse
    out["n_species"] = np.int64(result.n_residuals)
    out["status"] = np.where(failed, fit.STATUS_FAILED, fit.STATUS_OK)
    out["message"] = np.where(failed, "simulation failed", "")
    out["response"] = result.response
    return out


def _solver_options(options):
    """SolverOptions from None, SolverOptions or a mapping of its fields."""

    if options is None or isinstance(options, SolverOptions):
        return options
    base = {"rtol": 1e-6, "atol": 1e-9, "max_steps": 10**6}
    return SolverOptions(**{**base, **dict(options)})


def trajectory_grid_fit(network, points: pd.DataFrame, experiments: Mapping, observables,
                        options: dict | None = None) -> pd.DataFrame:  # fmt: skip
    """The trajectory objective at every grid point for one or several samples (rule
    fit_trajectory): :func:`trajectory_table` of :func:`trajectory_fit_samples`.

    ``experiments``: sample -> (SampleConditions, long intensity table, t_max table with
    ``included``); the included observables are THE t_max rule's.
    """

    species = observables["species"].tolist()
    is_dimer = (observables["kind"] == "dimer").to_numpy()
    params = points[list(RATE_CONSTANTS)].to_numpy(float)
    samples = []
    for sample in sorted(experiments):
        conditions, intensities, exp_tmax = experiments[sample]
        times, y = experiment_matrix(intensities, species)
        included = exp_tmax.set_index("species").loc[species, "included"].to_numpy(bool)
        sims = simulate_many(network, params, conditions, np.asarray(times) * 60.0,
                             _solver_options(options))  # fmt: skip
        samples.append((sims.observables, normalise_rows(y), included))
    return trajectory_table(points, trajectory_fit_samples(samples, is_dimer))


def trajectory_fields(
    table: pd.DataFrame, c_nM: float | None, confidence: float | None = None
) -> dict:
    """What ``best.json``'s ``trajectory`` section holds: the best point with its response
    factor, and profiles, intervals and labels at the F rule's Δ (:func:`trajectory_delta`)."""
    confidence = default_confidence(confidence)
    ok = table[(table["status"] == fit.STATUS_OK) & np.isfinite(table["chi2"])]
    if ok.empty:
        return {"best": None}
    row = ok.sort_values(["chi2", "point"]).iloc[0]
    delta = trajectory_delta(table, confidence)
    names, skipped = profilable_names(table, c_nM)
    results = profile_results(table, c_nM=c_nM, delta=delta, names=names)
    return {
        "rule": "profile SSE <= SSE_min (1 + F(1, n-4; conf)/(n-4)); r fitted per point",
        "sse_unit": "normalised intensity^2",
        "confidence": float(confidence),
        "delta": float(delta),
        "c_nM": None if c_nM is None else float(c_nM),
        "best": {"point": int(row["point"]), **{k: float(row[k]) for k in RATE_CONSTANTS},
                 "sse": float(row["chi2"]), "response": float(row["response"]),
                 "n_residuals": int(row["n_species"])},  # fmt: skip
        "identifiability": {name: r.label for name, r in results.items()},
        "intervals": {name: [r.low, r.high] for name, r in results.items()},
        "profiles": {name: r.as_dict() for name, r in results.items()},
        "not_profiled": skipped,
    }


def trajectory_delta(
    table: pd.DataFrame, confidence: float | None = None, n_parameters: int = 4
) -> float:
    """Δ of the trajectory profiles: the F-test rule on the SSE (σ² estimated from the minimum).

    Δ = SSE_min F(1, n − p; conf)/(n − p), p = 3 constants + the response factor.
    """
    n = int(table["n_species"].iloc[0])
    return float(np.nanmin(table["chi2"])) * f_test_delta(n, n_parameters,
                                                              default_confidence(confidence))
