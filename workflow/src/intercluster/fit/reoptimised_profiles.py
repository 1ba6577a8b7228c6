"""Profile-likelihood intervals by re-optimisation (beyond the paper), as pyPESTO and
Data2Dynamics compute them.

The grid profile (:mod:`intercluster.fit.profiles`) takes, per grid value of a constant, the
minimum of χ²_w over the grid points sharing it; its interval interpolates between grid
values whose χ²_w can lie far above the threshold, so the crossing lands a hair from the
best grid value and the interval is as narrow as the interpolation, not as the data. Here the
profiled quantity θ (log10 of a constant, of ``k_dim:k_diss`` or of ``k_dim*c/k_ex``) is
stepped off the optimum and at every step χ²_w is minimised over the two other directions by
simulation (:func:`intercluster.fit.weighted_chi2.weighted_chi2_objective`; Nelder-Mead from
the best of the previous step's optimum, its linear extrapolation along the profile, the
predicted path below and the grid's best point at that θ). A side stops where the profile
crosses χ²_w,min + Δ, at the grid's bound (an open end) or after ``max_steps`` (an open end,
said so).

Steps and crossings use the signed root r(θ) = √(χ²_w − χ²_w,min), linear in θ where the
profile is a parabola (near the optimum). One curvature matrix of χ²_w at the optimum (JᵀJ of
the residuals by central differences, 6 simulations: :func:`gauss_newton_curvature`) predicts
every profile's path and half-width (:class:`ProfilePath`); the first step of a side aims a
little beyond the predicted crossing, later steps beyond where r, extrapolated from the last
point, reaches √Δ. A bracketed crossing is found by regula falsi in r (a bisection whenever
one end stays put twice). It stops when the crossing interpolated in r between the bracket's
ends agrees within ``AGREEMENT`` of its distance from the optimum with the other estimates
(the lines in r through the optimum and each end; before a point inside, the predicted
half-width), when χ²_w at the newest point is within ``LEVEL_TOL`` × Δ of the threshold, or
when the bracket is below ``tol_decades`` and a fifth of its distance from the optimum. On a
parabola each side then costs one inner search. χ²_w of t_max is jagged at the scale of a
thousandth of a decade, so one probe ``PROBE_BEYOND`` of the crossing's distance beyond it
follows every crossing; below the threshold there, the side walks on. Against the former
doubling steps and bisection to ``tol_decades`` (no probe) this takes 18 % fewer
simulations on the demo's model-3 profiles (docs/uncertainty-benchmarks.md).

A side whose grid profile stays below the threshold up to the bound is open there without
being walked (the re-optimised profile is never above the grid's at a grid value).
The grid stays the global search; these profiles replace its interpolation.

Why hand-written: pyPESTO's profiler needs its own problem objects and a gradient-based
optimiser (χ² of t_max is only piecewise smooth); scipy has no profiler (its root finders
would need a sign change first and cannot share the inner searches' starts). The steps follow
pyPESTO's adaptive rule in spirit: longer while the profile rises slowly, shorter when it
rises fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from .intervals import signed_root_crossing
from .profiles import (
    FLAT,
    IDENTIFIABLE,
    PRACTICALLY_NON_IDENTIFIABLE,
    PROFILE_NAMES,
    RATE_RATIO,
    RATIO,
)

#: Why a side of a profile ended.
CROSSED, BOUND, MAX_STEPS = "crossed", "bound", "max_steps"

#: A crossing search stops when χ²_w at its newest point is within this share of Δ of the
#: threshold (4.8 % of the half-width in the signed root at 0.1; the interpolation between the
#: bracket's ends then does better).
LEVEL_TOL = 0.1
#: An aimed step goes this much beyond the extrapolated crossing, so that it brackets it.
AIM_BEYOND = 1.15
#: Regula-falsi points stay this share of the bracket away from its ends.
BRACKET_MARGIN = 0.05
#: A bracket also ends a crossing search when below this share of its distance from the
#: optimum (besides ``tol_decades``): the signed root's interpolation inside it is then exact
#: to second order.
BRACKET_SHARE = 0.2
#: After a crossing, one probe this share of its distance from the optimum beyond it.
PROBE_BEYOND = 0.15
#: A crossing is taken as known when its estimates agree within this share of its distance
#: from the optimum (:func:`_estimates_agree`).
AGREEMENT = 0.05
#: Aimed steps are at least this share of ``tol_decades`` (a joint fit's half-width is
#: about a third of the default tolerance).
MIN_STEP_SHARE = 0.1
#: Points of one crossing search at most (bisection every other point bounds it anyway).
MAX_CROSSING_POINTS = 12
#: Relative step of the curvature's central differences: about 0.015 decades at
#: log10 k ≈ −1.5, a secant over the jitter of t_max's peak interpolation (at 0.0015 decades
#: the predicted half-widths of the demo's profiles were 0.54-0.79 of the measured ones, at
#: 0.015 0.73-0.87).
CURVATURE_STEP = 1e-2
#: Gauss-Newton steps that polish the optimum before the profiles (each 7-10 simulations).
POLISH_ITERATIONS = 3
#: The first step of a side aims this much beyond the predicted crossing (the predictions
#: fall short: χ²_w of t_max is flatter than its quadratic model away from the optimum).
AIM_FIRST = 1.3
#: Nelder-Mead's initial simplex (decades) when the start lies on a predicted path (near the
#: valley: a smaller simplex converges in fewer evaluations); 0.05 otherwise.
PATH_SIMPLEX = 0.01


@dataclass(frozen=True)
class ProfileCoordinates:
    """θ (log10 of the profiled quantity) and two free log10 coordinates of a point.

    A constant: θ = log10 k, free = the other two log10 k. A combination log10(k_dim s /
    k_other) (s = 1 for ``k_dim:k_diss``, s = c for ``k_dim*c/k_ex``): free = (log10 k_other,
    log10 of the third constant) and log10 k_dim = θ + log10 k_other − log10 s.
    """

    name: str
    bounds: tuple  # (lo, hi) of log10 k per RATE_CONSTANTS
    log_scale: float = 0.0

    @classmethod
    def of(cls, name: str, bounds, c_nM: float | None = None) -> ProfileCoordinates:
        if name not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {name!r}; expected one of {PROFILE_NAMES}")
        scale = 0.0
        if name == RATE_RATIO:
            if c_nM is None or not c_nM > 0:
                raise ValueError(f"{RATE_RATIO} needs the concentration c (nmol/L) > 0")
            scale = float(np.log10(c_nM))
        return cls(name, tuple((float(lo), float(hi)) for lo, hi in bounds), scale)

    def _layout(self) -> tuple[int | None, int, int]:
        """(index of k_dim for a combination else None, index of 'other', index of third)."""
        if self.name in RATE_CONSTANTS:
            i = RATE_CONSTANTS.index(self.name)
            rest = [j for j in range(3) if j != i]
            return None, rest[0], rest[1]
        other = RATE_CONSTANTS.index("k_diss" if self.name == RATIO else "k_ex")
        third = [j for j in (1, 2) if j != other][0]
        return 0, other, third

    def theta(self, log_k) -> float:
        log_k = np.asarray(log_k, float)
        dim, other, _ = self._layout()
        if dim is None:
            return float(log_k[RATE_CONSTANTS.index(self.name)])
        return float(log_k[0] - log_k[other] + self.log_scale)

    def free(self, log_k) -> np.ndarray:
        log_k = np.asarray(log_k, float)
        _, other, third = self._layout()
        return np.array([log_k[other], log_k[third]])

    def embed(self, theta: float, free) -> np.ndarray:
        dim, other, third = self._layout()
        out = np.empty(3)
        out[other], out[third] = free
        if dim is None:
            out[RATE_CONSTANTS.index(self.name)] = theta
        else:
            out[0] = theta + free[0] - self.log_scale
        return out

    def theta_range(self) -> tuple[float, float]:
        dim, other, _ = self._layout()
        if dim is None:
            return self.bounds[RATE_CONSTANTS.index(self.name)]
        (d_lo, d_hi), (o_lo, o_hi) = self.bounds[0], self.bounds[other]
        return d_lo - o_hi + self.log_scale, d_hi - o_lo + self.log_scale

    def free_bounds(self, theta: float) -> list[tuple[float, float]]:
        """Bounds of the free coordinates keeping every constant inside the box at θ."""
        dim, other, third = self._layout()
        lo, hi = self.bounds[other]
        if dim is not None:  # log k_dim = θ + x − s inside its bounds
            d_lo, d_hi = self.bounds[0]
            lo = max(lo, d_lo - theta + self.log_scale)
            hi = min(hi, d_hi - theta + self.log_scale)
        if lo > hi:  # θ at the corner of the box: one point left
            lo = hi = 0.5 * (lo + hi)
        return [(lo, hi), self.bounds[third]]


@dataclass(frozen=True)
class ReoptimisedProfile:
    """A profile by re-optimisation and its interval.

    ``values``: the profiled quantity (its linear unit) at every evaluated step, sorted;
    ``chi2``: the minimum of χ²_w over the other directions there; ``points``: the log10 k
    of that minimum. ``low``/``high``: the crossings of ``level`` (None = open end);
    ``low_end``/``high_end``: why each side stopped (:data:`CROSSED`, :data:`BOUND`,
    :data:`MAX_STEPS`) and ``low_edge``/``high_edge`` the last value reached there.
    ``chi2_min_found``: the lowest χ²_w met on the profile (below ``chi2_min`` when the
    profile found a better optimum than the refinement's; the level is not moved, the
    difference is reported).
    """

    name: str
    values: np.ndarray
    chi2: np.ndarray
    points: np.ndarray
    chi2_min: float
    level: float
    low: float | None
    high: float | None
    low_edge: float
    high_edge: float
    low_end: str
    high_end: str
    chi2_min_found: float
    n_evaluations: int

    @property
    def label(self) -> str:
        if self.low is None and self.high is None:
            return FLAT
        if self.low is None or self.high is None:
            return PRACTICALLY_NON_IDENTIFIABLE
        return IDENTIFIABLE

    def contains(self, value: float, tol_decades: float = 1e-6) -> bool:
        """Whether ``value`` lies in the interval (an open end reaches the bound)."""
        x = np.log10(value)
        low = self.low_edge if self.low is None else self.low
        high = self.high_edge if self.high is None else self.high
        return bool(np.log10(low) - tol_decades <= x <= np.log10(high) + tol_decades)

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "interval": [self.low, self.high],
            "ends": [self.low_end, self.high_end],
            "edges": [float(self.low_edge), float(self.high_edge)],
            "level": float(self.level),
            "chi2_min": float(self.chi2_min),
            "chi2_min_found": float(self.chi2_min_found),
            "n_evaluations": int(self.n_evaluations),
            "profile": [
                {"value": float(v), "chi2_min": float(c) if np.isfinite(c) else None,
                 "point": {k: float(10.0 ** p) for k, p in zip(RATE_CONSTANTS, pt, strict=True)}}
                for v, c, pt in zip(self.values, self.chi2, self.points, strict=True)
            ],
        }  # fmt: skip


class Profiler:
    """Minimum of an objective over the free directions at a fixed θ (one profile).

    ``objective``: χ²_w of log10 (k_dim, k_diss, k_ex), inf when a simulation fails.
    ``grid``: optionally a χ² table of the same objective on the grid (columns of
    ``fit.CHI2_COLUMNS``): at every θ the inner search also starts from the best grid point
    whose θ is nearest, so that the profile is never above the grid's where θ is a grid value.
    """

    def __init__(self, objective: Callable, coords: ProfileCoordinates,
                 grid: pd.DataFrame | None = None, inner_evaluations: int = 60,
                 simplex_decades: float = 0.05):  # fmt: skip
        self.objective = objective
        self.coords = coords
        self.inner_evaluations = int(inner_evaluations)
        self.simplex_decades = float(simplex_decades)
        self.n_evaluations = 0
        self._grid = None
        if grid is not None:
            ok = np.isfinite(grid["chi2"].to_numpy(float))
            logs = np.log10(grid.loc[ok, list(RATE_CONSTANTS)].to_numpy(float))
            thetas = np.array([coords.theta(x) for x in logs])
            self._grid = (logs, thetas, grid.loc[ok, "chi2"].to_numpy(float))

    def grid_side(self, theta0: float, bound: float) -> list | None:
        """The grid profile from θ0 (excluded) to ``bound``: ``[(θ, min χ², free)]`` at every
        grid value of θ on that side, nearest first; None without a grid or when its last
        value is not the bound (the grid does not reach it)."""
        if self._grid is None:
            return None
        logs, thetas, chi2 = self._grid
        side = (thetas - theta0) * np.sign(bound - theta0) > 1e-9
        values = np.unique(np.round(thetas[side], 9))
        if not values.size or abs(values[np.argmax(np.abs(values - theta0))] - bound) > 1e-6:
            return None
        out = []
        for value in sorted(values, key=lambda v: abs(v - theta0)):
            at = np.flatnonzero(np.abs(thetas - value) <= 1e-9)
            best = at[np.argmin(chi2[at])]
            out.append((float(value), float(chi2[best]), self.coords.free(logs[best])))
        return out

    def _value(self, log_k) -> float:
        self.n_evaluations += 1
        value = float(self.objective(np.asarray(log_k, float)))
        return value if np.isfinite(value) else np.inf

    def _grid_start(self, theta: float) -> np.ndarray | None:
        if self._grid is None:
            return None
        logs, thetas, chi2 = self._grid
        distance = np.abs(thetas - theta)
        near = distance <= distance.min() + 1e-9
        best = np.flatnonzero(near)[np.argmin(chi2[near])]
        return self.coords.free(logs[best])

    def minimise_at(self, theta: float, start, *more_starts) -> tuple[float, np.ndarray]:
        """(min χ², its free coordinates) at θ, from the best of ``start``, ``more_starts``
        and the grid's nearest best."""
        from scipy.optimize import minimize

        bounds = self.coords.free_bounds(theta)
        lo = np.array([b[0] for b in bounds])
        hi = np.array([b[1] for b in bounds])
        starts = [np.clip(np.asarray(x, float), lo, hi) for x in (start, *more_starts)]
        grid_start = self._grid_start(theta)
        if grid_start is not None:
            starts.append(np.clip(grid_start, lo, hi))
        values = [self._value(self.coords.embed(theta, s)) for s in starts]
        i = int(np.argmin(values))
        x0, f0 = starts[i], values[i]
        best = [f0, x0]

        def wrapped(free):
            free = np.clip(free, lo, hi)
            value = self._value(self.coords.embed(theta, free))
            if value < best[0]:
                best[0], best[1] = value, free.copy()
            return value

        simplex = [x0]
        for d in range(2):
            vertex = x0.copy()
            step = self.simplex_decades
            vertex[d] = x0[d] + step if x0[d] + step <= hi[d] else x0[d] - step
            simplex.append(vertex)
        if np.all(hi > lo):
            minimize(wrapped, x0, method="Nelder-Mead", bounds=list(zip(lo, hi, strict=True)),
                     options={"initial_simplex": np.array(simplex),
                              "maxfev": self.inner_evaluations,
                              "xatol": 2e-3, "fatol": 1e-2})  # fmt: skip
        return float(best[0]), np.asarray(best[1], float)


def reoptimised_profile(
    objective: Callable,
    optimum: Mapping,
    name: str,
    bounds,
    delta: float,
    c_nM: float | None = None,
    grid: pd.DataFrame | None = None,
    *,
    first_step: float = 0.02,
    max_step: float = 0.5,
    max_steps: int = 20,
    tol_decades: float = 0.01,
    inner_evaluations: int = 60,
    curvature: np.ndarray | None = None,
) -> ReoptimisedProfile:
    """Profile of ``name`` by re-optimisation around ``optimum`` (see the module docstring).

    Parameters
    ----------
    objective : callable
        χ²_w of log10 (k_dim, k_diss, k_ex) by simulation (inf when it fails).
    optimum : mapping
        The optimum profiled around (the refined point, polished): ``k_dim``, ``k_diss``,
        ``k_ex`` (1/s) and ``chi2``.
    name : str
        A constant or a combination of :data:`intercluster.fit.profiles.PROFILE_NAMES`.
    bounds : sequence of (float, float)
        log10 bounds of (k_dim, k_diss, k_ex): the grid's range.
    delta : float
        Δχ² of the threshold (3.84 at 0.95).
    c_nM : float, optional
        c of ``k_dim*c/k_ex`` (nmol/L).
    grid : DataFrame, optional
        The weighted χ² table of the grid (starts of the inner search).
    first_step, max_step, tol_decades : float
        First and largest step of θ and the bisection tolerance of a crossing (decades).
    max_steps : int
        Steps per side before the side is reported open (:data:`MAX_STEPS`).
    inner_evaluations : int
        Objective evaluations of one inner minimisation (Nelder-Mead).
    curvature : ndarray, optional
        χ²'s curvature matrix in log10 k at the optimum (JᵀJ of the residuals,
        :func:`gauss_newton_curvature`). It predicts the profile's path through the box and
        its half-width: the first step of each side aims just beyond the predicted crossing
        (instead of ``first_step``) and every inner search also starts on the path.
    """
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    coords = ProfileCoordinates.of(name, bounds, c_nM)
    x_opt = np.log10([float(optimum[k]) for k in RATE_CONSTANTS])
    theta0, free0 = coords.theta(x_opt), coords.free(x_opt)
    f_min = float(optimum["chi2"])
    level = f_min + float(delta)
    t_lo, t_hi = coords.theta_range()
    path = ProfilePath.of(coords, x_opt, curvature, float(delta))
    profiler = Profiler(objective, coords, grid, inner_evaluations,
                        simplex_decades=0.05 if path is None else PATH_SIMPLEX)  # fmt: skip
    if path is not None:
        first_step = float(np.clip(AIM_FIRST * path.half_width, MIN_STEP_SHARE * tol_decades,
                                   max_step))  # fmt: skip
    steps = [(theta0, f_min, free0)]
    ends, edges, crossings = {}, {}, {}
    for direction in (-1.0, 1.0):
        side = "low" if direction < 0 else "high"
        # A side the grid profile keeps below the threshold up to the bound is open there
        # without walking it: the re-optimised profile is never above the grid profile at a
        # grid value of θ (the inner search also starts from the grid's best point there).
        # This is where a flat direction (k_dim of model 2) spent most of its evaluations.
        grid_side = profiler.grid_side(theta0, t_lo if direction < 0 else t_hi)
        if grid_side is not None and all(f <= level for _, f, _ in grid_side):
            steps.extend(grid_side)
            ends[side], edges[side], crossings[side] = BOUND, grid_side[-1][0], None
            continue
        h, theta, free, f_prev = first_step, theta0, free0, f_min
        before = None  # (θ, free) of the step before, to extrapolate the free coordinates
        end, crossing = MAX_STEPS, None
        for _ in range(int(max_steps)):
            t_new = theta + direction * h
            at_bound = not t_lo < t_new < t_hi
            t_new = float(np.clip(t_new, t_lo, t_hi))
            starts = [free, _along(before, (theta, free), t_new)]
            if path is not None:
                starts.append(path.free_at(t_new))
            f_new, free_new = profiler.minimise_at(t_new, *starts)
            steps.append((t_new, f_new, free_new))
            if f_new > level:
                crossing = _crossing_search(profiler, theta0, (theta, f_prev, free),
                                            (t_new, f_new, free_new), level, f_min,
                                            tol_decades, steps, path)  # fmt: skip
                end, theta = CROSSED, t_new
                # χ²_w of t_max is jagged at the scale of a thousandth of a decade: one probe
                # a little beyond the crossing; below the threshold there, the confidence
                # set goes on past a spike and the side walks on from the probe
                probe = crossing + direction * PROBE_BEYOND * abs(crossing - theta0)
                if t_lo < probe < t_hi:
                    starts = [free_new] + ([] if path is None else [path.free_at(probe)])
                    f_probe, free_probe = profiler.minimise_at(probe, *starts)
                    steps.append((probe, f_probe, free_probe))
                    if f_probe <= level:
                        end, crossing, before = MAX_STEPS, None, None
                        h = _aimed_step(abs(probe - theta0), f_probe - f_min, float(delta),
                                        abs(probe - theta0), tol_decades, max_step)  # fmt: skip
                        theta, free, f_prev = probe, free_probe, f_probe
                        continue
                break
            if at_bound:
                end = BOUND
                theta = t_new
                break
            h = _aimed_step(abs(t_new - theta0), f_new - f_min, float(delta), h,
                            tol_decades, max_step)  # fmt: skip
            before = (theta, free)
            theta, free, f_prev = t_new, free_new, f_new
        ends[side], edges[side], crossings[side] = end, theta, crossing
    order = np.argsort([s[0] for s in steps], kind="mergesort")
    thetas = np.array([steps[i][0] for i in order])
    chi2 = np.array([steps[i][1] for i in order])
    points = np.array([coords.embed(steps[i][0], steps[i][2]) for i in order])
    finite = chi2[np.isfinite(chi2)]
    return ReoptimisedProfile(
        name=name,
        values=10.0**thetas,
        chi2=chi2,
        points=points,
        chi2_min=f_min,
        level=level,
        low=None if crossings["low"] is None else float(10.0 ** crossings["low"]),
        high=None if crossings["high"] is None else float(10.0 ** crossings["high"]),
        low_edge=float(10.0 ** edges["low"]),
        high_edge=float(10.0 ** edges["high"]),
        low_end=ends["low"],
        high_end=ends["high"],
        chi2_min_found=float(finite.min()) if finite.size else f_min,
        n_evaluations=profiler.n_evaluations,
    )


def residual_jacobian(objective: Callable, log_k, step: float = CURVATURE_STEP
                      ) -> np.ndarray | None:  # fmt: skip
    """d residuals / d log10 k of ``objective`` at ``log_k`` by central differences
    (relative step ``step``, :data:`CURVATURE_STEP`; 6 simulations per sample). None when
    the objective gives no residuals (``residual_vector``) or a simulation fails."""
    residual_vector = getattr(objective, "residual_vector", None)
    if residual_vector is None:
        return None
    x = np.asarray(log_k, float)
    columns = []
    for j in range(x.size):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        r_up, r_down = residual_vector(up), residual_vector(down)
        if r_up is None or r_down is None:
            return None
        columns.append((r_up - r_down) / (2.0 * h))
    jac = np.column_stack(columns)
    return jac if np.all(np.isfinite(jac)) else None


def gauss_newton_curvature(objective: Callable, log_k, step: float = CURVATURE_STEP
                           ) -> np.ndarray | None:  # fmt: skip
    """JᵀJ of ``objective``'s residuals at ``log_k`` (:func:`residual_jacobian`):
    χ² − χ²_min ≈ dxᵀ JᵀJ dx near a least-squares minimum; None without one."""
    jac = residual_jacobian(objective, log_k, step)
    return None if jac is None else jac.T @ jac


def gauss_newton_polish(objective: Callable, log_k, chi2: float, bounds,
                        iterations: int = POLISH_ITERATIONS
                        ) -> tuple[np.ndarray, float]:  # fmt: skip
    """Gauss-Newton steps from ``log_k`` (χ² ``chi2``) inside ``bounds`` (log10 (lo, hi) per
    constant), each halved up to three times until χ² falls; returns the lowest point and
    its χ². The profiles start from the refinement's point, whose 3-D Nelder-Mead stops on
    its evaluation budget (on the demo's joint fit 6 χ² units above the minimum its profiles
    then found): a threshold that far above the minimum widens every interval, and a start
    off the minimum breaks the signed root the profiles steer by. ``log_k`` itself when the
    objective gives no residuals."""
    x = np.asarray(log_k, float)
    f = float(chi2)
    lo = np.array([b[0] for b in bounds], float)
    hi = np.array([b[1] for b in bounds], float)
    residual_vector = getattr(objective, "residual_vector", None)
    for _ in range(int(iterations)):
        if residual_vector is None:
            break
        r = residual_vector(x)
        jac = residual_jacobian(objective, x)
        if r is None or jac is None:
            break
        step = -np.linalg.lstsq(jac, r, rcond=None)[0]
        for _halving in range(4):
            trial = np.clip(x + step, lo, hi)
            f_trial = float(objective(trial))
            if f_trial < f:
                break
            step = 0.5 * step
        else:
            break
        x, f = trial, f_trial
    return x, f


@dataclass(frozen=True)
class ProfilePath:
    """The profile of θ = aᵀx (x = log10 k) predicted by a quadratic χ² with curvature C:
    the inner optimum moves along C⁻¹a/(aᵀC⁻¹a) per unit of θ and the profile crosses
    χ²_min + Δ at θ0 ± √(Δ aᵀC⁻¹a) (the half-width). Only a guide: steps and starts."""

    coords: ProfileCoordinates
    optimum: np.ndarray  # log10 k
    direction: np.ndarray  # d log10 k / dθ along the path
    half_width: float

    @classmethod
    def of(cls, coords: ProfileCoordinates, optimum, curvature, delta: float
           ) -> ProfilePath | None:  # fmt: skip
        """The path, or None without a curvature or where it does not fix one (a flat
        direction: C singular along a)."""
        if curvature is None:
            return None
        x = np.asarray(optimum, float)
        a = np.array([coords.theta(x + e) - coords.theta(x) for e in np.eye(3)])
        c_inv_a = np.linalg.pinv(np.asarray(curvature, float), rcond=1e-10) @ a
        variance = float(a @ c_inv_a)
        if not (np.isfinite(variance) and variance > 0):
            return None
        return cls(coords, x, c_inv_a / variance, float(np.sqrt(delta * variance)))

    def free_at(self, theta: float) -> np.ndarray:
        """The free coordinates of the path's point at θ."""
        moved = theta - self.coords.theta(self.optimum)
        return self.coords.free(self.optimum + self.direction * moved)


def _along(before, last, theta: float) -> np.ndarray:
    """The free coordinates at θ on the line through the last two points of a side (the
    last point's own when there is one point): where the inner optimum moves to when the
    valley is straight, which it is near the optimum."""
    t_last, free_last = last
    if before is None or before[0] == t_last:
        return np.asarray(free_last, float)
    t_before, free_before = before
    slope = (np.asarray(free_last, float) - free_before) / (t_last - t_before)
    return free_last + slope * (theta - t_last)


def _aimed_step(distance: float, rise: float, delta: float, h: float, tol: float,
                max_step: float) -> float:  # fmt: skip
    """The next step of a side after a point ``distance`` from the optimum whose χ²_w is
    ``rise`` above the minimum: a little beyond where the signed root, linear through the
    optimum and that point, reaches √Δ; doubling while the rise is too small to extrapolate
    (under 1 % of Δ: the inner search's noise), at most 4× the last step and ``max_step``."""
    if rise < 0.01 * delta:
        return min(2.0 * h, max_step)
    to_crossing = distance * (np.sqrt(delta / rise) - 1.0)
    return float(np.clip(AIM_BEYOND * to_crossing, MIN_STEP_SHARE * tol, min(4.0 * h, max_step)))


def _crossing_search(profiler: Profiler, theta0: float, inside, outside, level: float,
                     f_min: float, tol: float, steps: list, path: ProfilePath | None
                     ) -> float:  # fmt: skip
    """θ where a side crosses ``level`` between ``inside`` and ``outside`` (each (θ, χ²_w,
    free)): regula falsi in the signed root (module docstring), every point appended to
    ``steps``; returns the crossing interpolated in the signed root."""
    (a, fa, free_a), (b, fb, free_b) = inside, outside
    delta = level - f_min
    # the bracket's tolerance: ``tol`` and at most a share of the crossing's distance from
    # the optimum (a joint fit's half-width, ~0.003 decades, is far below tol)
    width_tol = min(tol, BRACKET_SHARE * abs(b - theta0)) * (1.0 + 1e-9)
    kept = None  # which end the last point replaced; the same end twice: bisect next
    for _ in range(MAX_CROSSING_POINTS):
        if abs(b - a) <= width_tol:
            break
        if _estimates_agree(theta0, (a, fa), (b, fb), level, f_min, path):
            break
        if kept is not None and kept[0] == kept[1]:
            m = 0.5 * (a + b)
            kept = None
        else:
            m = signed_root_crossing(a, fa, b, fb, level, f_min)
            margin = BRACKET_MARGIN * abs(b - a)
            m = float(np.clip(m, min(a, b) + margin, max(a, b) - margin))
        w = (m - a) / (b - a)
        start = (1.0 - w) * np.asarray(free_a, float) + w * np.asarray(free_b, float)
        more = [free_a] if path is None else [free_a, path.free_at(m)]
        fm, free_m = profiler.minimise_at(m, start, *more)
        steps.append((m, fm, free_m))
        replaced = "b" if fm > level else "a"
        kept = (kept[1] if kept else None, replaced)
        if replaced == "b":
            b, fb, free_b = m, fm, free_m
        else:
            a, fa, free_a = m, fm, free_m
        if abs(fm - level) <= LEVEL_TOL * delta:
            break
    return signed_root_crossing(a, fa, b, fb, level, f_min)


def _estimates_agree(theta0: float, inside, outside, level: float, f_min: float,
                     path: ProfilePath | None) -> bool:  # fmt: skip
    """Whether the crossing is known well enough without another inner search: the signed
    root's interpolation between the bracket's ends agrees within :data:`AGREEMENT` of its
    distance from the optimum with the other estimates at hand, the lines through the
    optimum and each end that is not the optimum, or, before the side has a point inside
    other than the optimum, the half-width the curvature predicts. On a parabola they all
    coincide; where the profile bends they part, and the search goes on."""
    (a, fa), (b, fb) = inside, outside
    if not np.isfinite(fb):
        return False
    crossing = signed_root_crossing(a, fa, b, fb, level, f_min)
    distance = abs(crossing - theta0)
    if distance == 0.0:
        return False
    # the line in the signed root through the optimum (r = 0) and each end
    others = [signed_root_crossing(theta0, f_min, x, f, level, f_min)
              for x, f in ((a, fa), (b, fb)) if x != theta0 and f > f_min]  # fmt: skip
    if a == theta0:  # only the outside point measured: the line through it is the crossing
        if path is None:
            return False
        others.append(theta0 + np.sign(b - theta0) * path.half_width)
    return bool(others) and all(abs(o - crossing) <= AGREEMENT * distance for o in others)


def log_bounds(axes: Mapping[str, np.ndarray]) -> list[tuple[float, float]]:
    """log10 (min, max) of every constant's grid axis, in RATE_CONSTANTS order."""
    return [(float(np.log10(np.min(axes[k]))), float(np.log10(np.max(axes[k]))))
            for k in RATE_CONSTANTS]  # fmt: skip
