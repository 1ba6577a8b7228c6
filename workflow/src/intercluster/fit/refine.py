"""Continuous refinement of the grid optimum by simulation (config ``fit.refine``,
``fit.refine_max_evaluations``).

:func:`chi2_objective` gives eq 1's chi² (or the weighted χ²_w) of log10 k by fresh
simulations (the same simulator, time grid and t_max rule as the grid). :func:`refine` runs
Nelder-Mead in log10(k_dim, k_diss, k_ex), started at the best grid point with an initial
simplex of half a grid step per constant, bounded to the grid range. chi² is only piecewise
smooth (t_max of a curve with two similar maxima can jump), so the refined point is a local
improvement, reported next to (never instead of) the grid optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS, ReactionNetwork
from ..observables import TmaxSettings
from ..records import RateConstants
from ..settings import SolverOptions
from .simulation import Conditions, simulate_tmax
from .status import STATUS_OK


def refine(
    objective: Callable[[np.ndarray], float],
    start: dict,
    axes: dict[str, np.ndarray],
    max_evaluations: int = 60,
    *,
    step_decades: float | None = None,
    xatol: float = 0.01,
) -> dict:
    """Nelder-Mead on log10 k from a grid point (see the module docstring).

    ``objective`` takes log10 (k_dim, k_diss, k_ex) and returns chi² (inf when failed).
    ``step_decades``: the initial simplex's step per constant (default half a grid step,
    for a start on the grid; a start already close to the optimum, such as a profile's
    previous point, needs a step near the precision sought, or the evaluations are spent
    shrinking the simplex); ``xatol``: Nelder-Mead's tolerance in log10 k.
    """
    from scipy.optimize import minimize

    x0 = np.log10([start[n] for n in RATE_CONSTANTS])
    bounds, steps = [], []
    for name in RATE_CONSTANTS:
        logs = np.log10(axes[name])
        lo, hi = float(logs.min()), float(logs.max())
        step = 0.5 * (float(np.median(np.diff(logs))) if logs.size > 1 else 0.25)
        if step_decades is not None:
            step = float(step_decades)
        bounds.append((lo, hi))
        steps.append(step)
    simplex = [x0]
    for d, (step, (_, hi)) in enumerate(zip(steps, bounds, strict=True)):
        vertex = x0.copy()
        vertex[d] = x0[d] + step if x0[d] + step <= hi else x0[d] - step
        simplex.append(vertex)
    history: list[tuple[np.ndarray, float]] = []

    def wrapped(x):
        value = float(objective(np.asarray(x, float)))
        value = value if np.isfinite(value) else np.inf
        history.append((np.asarray(x, float).copy(), value))
        return value

    f0 = float(start["chi2"])
    result = minimize(
        wrapped,
        x0,
        method="Nelder-Mead",
        bounds=bounds if all(lo < hi for lo, hi in bounds) else None,
        options={
            "initial_simplex": np.array(simplex),
            "maxfev": int(max_evaluations),
            "xatol": float(xatol),
            "fatol": 1e-4 * max(f0, 1e-12),
        },
    )
    values = [v for _, v in history]
    i_best = int(np.argmin(values)) if values else -1
    x_best, f_best = history[i_best] if values else (x0, f0)
    if not np.isfinite(f_best) or f_best > f0:
        x_best, f_best = x0, f0
    k = 10.0 ** np.asarray(x_best)
    out = {
        "k_dim": float(k[0]),
        "k_diss": float(k[1]),
        "k_ex": float(k[2]),
        "chi2": float(f_best),
        "k_dim_to_k_diss": float(k[0] / k[1]),
        "start": {n: float(start[n]) for n in RATE_CONSTANTS},
        "start_chi2": f0,
        "n_evaluations": len(history),
        "converged": bool(result.success),
        "message": str(result.message),
        "method": "Nelder-Mead in log10(k), direct on eq 1 with simulations",
    }
    out["status"] = refine_status(out)
    return out


def chi2_objective(
    network: ReactionNetwork,
    experiments: dict[str, tuple[Conditions, np.ndarray, pd.DataFrame]],
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
    weighted: bool = False,
    cache: dict | None = None,
) -> Chi2Objective:
    """chi²(log10 k) summed over samples (a :class:`Chi2Objective`); ``experiments``:
    sample -> (conditions, times, t_max).

    ``weighted``: each residual divided by the table's ``sigma_min`` (the weighted χ²_w of
    :mod:`intercluster.fit.weighted_chi2`); every included observable then needs σ > 0.

    ``cache``: a dict to keep every simulated t_max in, keyed by everything the simulation
    depends on, so objectives sharing it (the weighted and unweighted refinement, the fits of
    one job) simulate a point of one sample once. Nelder-Mead revisits points (a clipped
    vertex, the first simplex of two refinements from one grid point) and a simulation is
    ~10 ms, its t_max 77 numbers; the simulation is deterministic, so the values are the same.
    """
    prepared = []
    for sample in sorted(experiments):
        conditions, times_min, exp_tmax = experiments[sample]
        mask = exp_tmax["included"].astype(bool).to_numpy()
        scale = np.ones(int(mask.sum()))
        if weighted:
            scale = exp_tmax["sigma_min"].to_numpy(float)[mask]
            if not np.all(np.isfinite(scale) & (scale > 0)):
                raise ValueError(f"sample {sample}: every included observable needs σ > 0")
        times_min = np.asarray(times_min, float)
        key = (network, settings, simulator, options, conditions, times_min.tobytes())
        t_exp = exp_tmax["t_max_min"].to_numpy(dtype=float)[mask]
        prepared.append((conditions, times_min, mask, t_exp, scale, key))

    def simulated(constants, conditions, times_min, key):
        if cache is None:
            return simulate_tmax(
                network, constants, conditions, times_min, settings, simulator, options
            )
        key = (*key, constants)
        if key not in cache:
            status, message, t_sim = simulate_tmax(
                network, constants, conditions, times_min, settings, simulator, options
            )
            t_sim.setflags(write=False)  # shared by every objective of the cache
            cache[key] = (status, message, t_sim)
        return cache[key]

    def residuals(log_k: np.ndarray) -> list[np.ndarray] | None:
        constants = RateConstants(*(10.0 ** np.asarray(log_k, float)).tolist())
        out = []
        for conditions, times_min, mask, t_exp, scale, key in prepared:
            status, _, t_sim = simulated(constants, conditions, times_min, key)
            if status != STATUS_OK:
                return None
            out.append((t_sim[mask] - t_exp) / scale)
        return out

    return Chi2Objective(residuals)


class Chi2Objective:
    """chi² of log10 (k_dim, k_diss, k_ex) (call it; inf when a simulation fails) and its
    residuals (t_sim − t_exp)/σ per sample (:meth:`residual_vector`), for the Gauss-Newton
    polish and curvature of :mod:`intercluster.fit.reoptimised_profiles`."""

    def __init__(self, residuals: Callable[[np.ndarray], list[np.ndarray] | None]):
        self._residuals = residuals

    def __call__(self, log_k: np.ndarray) -> float:
        per_sample = self._residuals(log_k)
        if per_sample is None:
            return math.inf
        total = 0.0  # sample by sample, in the order the values were always summed
        for r in per_sample:
            total += float(np.sum(r**2))
        return total

    def residual_vector(self, log_k: np.ndarray) -> np.ndarray | None:
        """Every sample's residuals in one vector; None when a simulation fails."""
        per_sample = self._residuals(log_k)
        return None if per_sample is None else np.concatenate(per_sample)


def refine_status(refined: dict | None) -> str:
    """The refinement's outcome in words (for best.json and the report)."""
    if refined is None:
        return "not refined"
    if refined.get("converged"):
        return (f"refinement converged to its tolerance (0.01 decades in log10 k) after "
                f"{refined['n_evaluations']} evaluations")  # fmt: skip
    return (f"refinement stopped at its limit of {refined['n_evaluations']} evaluations before "
            f"converging ({refined.get('message', '')}): the refined point is an improvement "
            "on the grid point, not a verified optimum")  # fmt: skip
