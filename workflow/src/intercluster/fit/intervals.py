"""Profile intervals of eq 1's χ² (beyond the paper).

Interval rule (**choice**, config ``fit.interval_delta_chi2_rel`` = delta, default 0.10):
for each constant the chi² landscape is *profiled* over the other two (for each grid value
of the constant, the minimum chi² over all values of the other two); the interval is the
range where the profile stays <= (1 + delta) chi²_min, with the crossing points found by
linear interpolation of the profile in log10(k) between neighbouring grid values. An end
that reaches the edge of the grid is reported as open (``low_open``/``high_open``). The
relative rule is used because eq 1 carries no measurement uncertainties, so chi² has no
absolute scale. As a better-founded alternative the fit also reports the profile-likelihood
interval of nonlinear least squares with the residual variance estimated from the minimum
(the F-test rule of Bates & Watts): delta_F = F(1, n - 3; conf) / (n - 3), n the number of
included observables, conf = ``fit.interval_f_confidence`` (default 0.95). It assumes
independent, equal-variance t_max residuals, which eq 1 does not guarantee; treat both as
indications, not as rigorous confidence intervals.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from .status import STATUS_OK


# --- profile intervals -----------------------------------------------------------------------
def profile(chi2: pd.DataFrame, name: str) -> pd.DataFrame:
    """Profile of chi² over one constant: per grid value the minimum over the other two."""
    ok = chi2[chi2["status"] == STATUS_OK]
    column = chi2[name].to_numpy(dtype=float)
    values = np.sort(np.unique(column[np.isfinite(column) & (column > 0)]))
    prof = ok.groupby(name)["chi2"].min().reindex(values)
    return pd.DataFrame({name: values, "chi2_min": prof.to_numpy()})


def _crossing(x0: float, y0: float, x1: float, y1: float, level: float) -> float:
    """log10 k where the segment (x0, y0)-(x1, y1) crosses ``level`` (x in log10 k)."""
    if not np.isfinite(y1) or y1 == y0:
        return x1 if np.isfinite(y1) and y1 <= level else x0
    return x0 + (level - y0) * (x1 - x0) / (y1 - y0)


def signed_root_crossing(x_in: float, f_in: float, x_out: float, f_out: float, level: float,
                         minimum: float) -> float:  # fmt: skip
    """x where a profile crosses ``level`` between a point inside (``f_in`` ≤ level) and one
    outside, interpolated linearly in the signed root √(f − minimum), not in f.

    Near its minimum a profile is a parabola in x, so its root is linear in x on each side
    (the signed root of the likelihood ratio, which profile-likelihood methods interpolate
    for this reason) and the interpolation is exact there. The chord of f itself lies above
    a convex profile and cuts the crossing short: with the inside point at the optimum, an
    outside point at distance h and the true crossing at x*, the chord gives x*²/h, five
    times too narrow when the steps (h ≈ 0.01 decades) are five times the half-width.
    """
    if not np.isfinite(f_out):
        return x_in
    r_in = np.sqrt(max(f_in - minimum, 0.0))
    r_out = np.sqrt(max(f_out - minimum, 0.0))
    r_level = np.sqrt(max(level - minimum, 0.0))
    if r_out <= r_in:
        return x_out if f_out <= level else x_in
    return float(x_in + (r_level - r_in) * (x_out - x_in) / (r_out - r_in))


def interval_from_profile(
    values: np.ndarray,
    prof: np.ndarray,
    level: float,
    minimum: float | None = None,
    outermost: bool = False,
) -> dict:
    """Interval of k where the profile stays <= ``level`` around the profile minimum.

    ``low``/``high``: crossings interpolated linearly in log10(k); an end at the grid edge is
    "open"; with ``minimum`` (the χ² the level is counted from) they are interpolated in the
    signed root instead (:func:`signed_root_crossing`; a re-optimised profile whose points
    lie close to the optimum), without it linearly in χ² (the paper's grid intervals).
    ``outermost``: the interval spans every value whose profile is at or below ``level``, not
    only those connected to the minimum: a profile re-optimised by a local search is an
    upper bound of the true one (the search can miss the minimum, never undercut it), so a
    value below the threshold is inside the confidence set even where a value between it
    and the optimum is not (a jagged profile).
    ``low_grid``/``high_grid``: the grid-resolution bracket, the first grid value
    outside the threshold on each side (None when the end is open). A grid cannot resolve
    an interval finer than its step: the interpolated ends can be narrower than one step
    (only the best value below the threshold) while the optimum of a finer grid lies
    between grid values, so the bracket is what the grid can vouch for. Failed grid values
    (NaN profile) count as outside.
    """
    values = np.asarray(values, float)
    prof = np.asarray(prof, float)
    finite = np.isfinite(prof)
    if not finite.any():
        return {
            "low": None, "high": None, "low_open": True, "high_open": True,
            "low_grid": None, "high_grid": None,
        }  # fmt: skip
    x = np.log10(values)
    best = int(np.nanargmin(np.where(finite, prof, np.inf)))
    lo = best
    while lo > 0 and finite[lo - 1] and prof[lo - 1] <= level:
        lo -= 1
    hi = best
    while hi < len(prof) - 1 and finite[hi + 1] and prof[hi + 1] <= level:
        hi += 1
    if outermost:
        inside = np.flatnonzero(finite & (np.where(finite, prof, np.inf) <= level))
        lo, hi = min(lo, int(inside.min())), max(hi, int(inside.max()))
    low_open = lo == 0
    high_open = hi == len(prof) - 1
    if minimum is None:
        def crossing(i, j):
            return _crossing(x[i], prof[i], x[j], prof[j], level)
    else:
        def crossing(i, j):
            return signed_root_crossing(x[i], prof[i], x[j], prof[j], level, minimum)
    x_lo = x[lo] if low_open else crossing(lo, lo - 1)
    x_hi = x[hi] if high_open else crossing(hi, hi + 1)
    return {
        "low": float(10.0**x_lo),
        "high": float(10.0**x_hi),
        "low_open": bool(low_open),
        "high_open": bool(high_open),
        "low_grid": None if low_open else float(values[lo - 1]),
        "high_grid": None if high_open else float(values[hi + 1]),
    }


def in_interval_box(intervals: dict, point: dict, rel_tol: float = 1e-9) -> dict[str, bool]:
    """Per constant, whether ``point`` lies in the grid-resolution bracket of ``intervals``
    (:func:`profile_intervals`; ends ``low_grid``/``high_grid``, None: unbounded there)."""
    out = {}
    for name in RATE_CONSTANTS:
        entry = intervals[name]
        value = float(point[name])
        low, high = entry["low_grid"], entry["high_grid"]
        out[name] = bool(
            (low is None or value >= low * (1.0 - rel_tol))
            and (high is None or value <= high * (1.0 + rel_tol))
        )
    return out


@functools.cache
def schema_interval_rules() -> tuple[float, float]:
    """The schema's ``fit.interval_delta_chi2_rel`` and ``fit.interval_f_confidence``: what
    ``delta_rel`` or an F confidence left at ``None`` means (the rest of the ``fit`` section,
    e.g. its models and grid, has no default, so :class:`FitSettings` cannot be built)."""
    from ..schemas import schema_defaults  # jsonschema only where defaults are asked for

    section = schema_defaults("fit")
    return float(section["interval_delta_chi2_rel"]), float(section["interval_f_confidence"])


def f_test_delta(
    n_residuals: int, n_parameters: int = 3, confidence: float | None = None
) -> float:
    """delta_F = F(1, n - p; confidence) / (n - p), or NaN when n <= p (``confidence=None``:
    the schema's ``fit.interval_f_confidence``)."""
    # scipy.special's inverse F cdf is what scipy.stats.f.ppf evaluates; importing
    # scipy.stats costs ~0.8 s CPU per job (rule fit_best), the quantile microseconds
    from scipy.special import fdtri

    confidence = schema_interval_rules()[1] if confidence is None else confidence
    dof = n_residuals - n_parameters
    if dof <= 0:
        return float("nan")
    return float(fdtri(1, dof, confidence) / dof)


def profile_intervals(chi2: pd.DataFrame, delta_rel: float) -> dict:
    """Interval of every constant where its profile chi² <= (1 + delta_rel) chi²_min."""
    ok = chi2[chi2["status"] == STATUS_OK]
    out: dict = {"delta_rel": float(delta_rel)}
    if ok.empty:
        out["chi2_threshold"] = None
        return out
    level = float(ok["chi2"].min()) * (1.0 + delta_rel)
    out["chi2_threshold"] = level
    for name in RATE_CONSTANTS:
        prof = profile(chi2, name)
        entry = interval_from_profile(prof[name].to_numpy(), prof["chi2_min"].to_numpy(), level)
        entry["profile"] = [
            {"value": float(v), "chi2_min": (float(c) if np.isfinite(c) else None)}
            for v, c in zip(prof[name], prof["chi2_min"], strict=True)
        ]
        out[name] = entry
    return out
