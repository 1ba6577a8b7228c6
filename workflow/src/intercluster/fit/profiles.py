"""Profile-likelihood intervals of the weighted χ² and identifiability labels (beyond the
paper).

Grid profile (:func:`profile_results`)
    For each constant, and for the combinations ``k_dim:k_diss`` and ``k_dim*c/k_ex``, the
    minimum of χ²_w over the grid points that share its value. On a grid with equal log
    steps in the constants involved, k_dim/k_diss is fixed by the index difference
    i_dim − i_diss and k_dim c/k_ex by i_dim − i_ex, so the combinations are profiled over
    the points of equal difference. The interval is where the profile stays below
    χ²_w,min + Δ, Δ = χ²₁ quantile at the confidence (3.84 at 0.95), or a calibrated Δ; the
    crossings and open ends follow :func:`intercluster.fit.intervals.interval_from_profile`.

Identifiability (:func:`identifiability_label`)
    ``identifiable``: both ends of the interval close inside the grid; ``practically
    non-identifiable``: one end is open at the grid edge; ``flat``: the profile never rises
    above the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import records
from ..network import RATE_CONSTANTS
from ..settings import UncertaintySettings
from .intervals import interval_from_profile
from .status import STATUS_OK


def default_confidence(confidence: float | None) -> float:
    return UncertaintySettings.schema_default().confidence if confidence is None else confidence


PROFILE_NAMES = records.PROFILE_NAMES


RATIO, RATE_RATIO = PROFILE_NAMES[3], PROFILE_NAMES[4]


IDENTIFIABLE = "identifiable"


PRACTICALLY_NON_IDENTIFIABLE = "practically non-identifiable"


FLAT = "flat"


LOG_TOL = 1e-6  # decades: equal-step and truth-on-grid tolerance


# --- grid geometry and profiles ---------------------------------------------------------------
@dataclass(frozen=True)
class GridIndex:
    """The grid of a χ² table as axis values and per-point indices.

    Attributes
    ----------
    axes : dict
        Rate constant -> sorted grid values.
    index : ndarray, shape (n_points, 3)
        Per point the indices (i_dim, i_diss, i_ex) into the axes.
    """

    axes: dict
    index: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> GridIndex:
        axes, index = {}, []
        for name in RATE_CONSTANTS:
            values, inverse = np.unique(table[name].to_numpy(float), return_inverse=True)
            axes[name] = values
            index.append(inverse)
        return cls(axes, np.stack(index, axis=1).astype(np.int64))

    def log_step(self, name: str) -> float:
        logs = np.log10(self.axes[name])
        if logs.size < 2:
            return float("nan")
        steps = np.diff(logs)
        if np.ptp(steps) > LOG_TOL:
            raise ValueError(f"grid of {name} is not log-equidistant; cannot profile ratios")
        return float(steps.mean())

    def combination(self, name: str, c_nM: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(per-point key, sorted values of the key) of a constant or a combination."""
        if name in RATE_CONSTANTS:
            col = RATE_CONSTANTS.index(name)
            return self.index[:, col], self.axes[name]
        if name == RATIO:
            other, scale = "k_diss", 1.0
        elif name == RATE_RATIO:
            if c_nM is None or not c_nM > 0:
                raise ValueError(f"{RATE_RATIO} needs the concentration c (nmol/L) > 0")
            other, scale = "k_ex", float(c_nM)
        else:
            raise ValueError(f"unknown profile {name!r}; expected one of {PROFILE_NAMES}")
        step_dim, step_other = self.log_step("k_dim"), self.log_step(other)
        if (
            np.isfinite(step_dim)
            and np.isfinite(step_other)
            and abs(step_dim - step_other) > LOG_TOL
        ):
            raise ValueError(f"k_dim and {other} need equal log steps to profile {name}")
        step = step_dim if np.isfinite(step_dim) else step_other
        step = step if np.isfinite(step) else 0.0
        diff = self.index[:, 0] - self.index[:, RATE_CONSTANTS.index(other)]
        lo = int(diff.min())
        keys = np.arange(lo, int(diff.max()) + 1)
        base = np.log10(scale * self.axes["k_dim"][0] / self.axes[other][0])
        return diff - lo, 10.0 ** (base + keys * step)


def profile_over(key: np.ndarray, n_values: int, chi2: np.ndarray) -> np.ndarray:
    """Minimum of ``chi2`` per key value 0..n_values-1 (NaN = failed points ignored)."""
    prof = np.full(n_values, np.inf)
    finite = np.isfinite(chi2)
    np.minimum.at(prof, key[finite], chi2[finite])
    return np.where(np.isfinite(prof), prof, np.nan)


def identifiability_label(profile_values, level: float) -> str:
    """``identifiable`` / ``practically non-identifiable`` / ``flat`` from a profile.

    Parameters
    ----------
    profile_values : array_like
        The profile on the grid values (NaN for failed values).
    level : float
        The threshold (χ²_min + Δ).
    """
    prof = np.asarray(profile_values, float)
    finite = np.isfinite(prof)
    if not finite.any() or np.all(prof[finite] <= level):
        return FLAT
    values = np.arange(prof.size, dtype=float) + 1.0
    interval = interval_from_profile(values, prof, level)
    if interval["low_open"] or interval["high_open"]:
        return PRACTICALLY_NON_IDENTIFIABLE
    return IDENTIFIABLE


@dataclass(frozen=True)
class ProfileResult:
    """Profile, interval and identifiability label of one constant or combination.

    ``low``/``high`` are None for an open end; ``low_edge``/``high_edge`` are the numeric
    ends as :func:`intercluster.interval_from_profile` gives them (grid edge when open).
    ``resolved`` is False when no grid value but the best one lies below the threshold:
    the interval is then narrower than one grid step and its ends are only the linear
    interpolation between the best value and its neighbours (a finer grid measures it).
    ``grid_low``/``grid_high`` give the interval at the grid's resolution, a conservative
    bracket: each end is the first grid value outside the threshold (None when open), the
    same rule as ``interval_from_profile``'s crossings but without the interpolation.
    """

    name: str
    values: np.ndarray
    profile: np.ndarray
    level: float
    low: float | None
    high: float | None
    low_edge: float | None
    high_edge: float | None
    label: str
    resolved: bool = True
    grid_low: float | None = None
    grid_high: float | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (open ends reach to the grid edge)."""
        if self.low_edge is None or self.high_edge is None:
            return False
        x = np.log10(value)
        return bool(np.log10(self.low_edge) - LOG_TOL <= x <= np.log10(self.high_edge) + LOG_TOL)

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "interval": [self.low, self.high],
            "resolved": bool(self.resolved),
            "interval_grid": [self.grid_low, self.grid_high],
            "level": float(self.level),
            "profile": [
                {"value": float(v), "chi2_min": float(c) if np.isfinite(c) else None}
                for v, c in zip(self.values, self.profile, strict=True)
            ],
        }


def grid_bracket(values, prof, level: float) -> tuple[float | None, float | None]:
    """The interval at the grid's resolution: around the profile minimum, the first grid
    value on each side whose profile lies above ``level`` (failed values count as above);
    None where the profile stays below it up to the grid edge (an open end)."""
    values = np.asarray(values, float)
    prof = np.asarray(prof, float)
    inside = np.isfinite(prof) & (prof <= level)
    if not np.isfinite(prof).any():
        return None, None
    best = int(np.nanargmin(np.where(np.isfinite(prof), prof, np.inf)))
    lo = best
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    hi = best
    while hi < prof.size - 1 and inside[hi + 1]:
        hi += 1
    low = float(values[lo - 1]) if lo > 0 else None
    high = float(values[hi + 1]) if hi < prof.size - 1 else None
    return low, high


def profile_result(name: str, values: np.ndarray, prof: np.ndarray, level: float) -> ProfileResult:
    """Interval, its grid bracket and the label of one profile at ``level``."""
    iv = interval_from_profile(values, prof, level)
    grid_low, grid_high = grid_bracket(values, prof, level)
    return ProfileResult(
        name=name,
        values=np.asarray(values, float),
        profile=np.asarray(prof, float),
        level=float(level),
        low=None if iv["low_open"] else iv["low"],
        high=None if iv["high_open"] else iv["high"],
        low_edge=iv["low"],
        high_edge=iv["high"],
        label=identifiability_label(prof, level),
        resolved=bool(np.sum(np.asarray(prof, float) <= level) > 1),
        grid_low=grid_low,
        grid_high=grid_high,
    )


def delta_chi2(confidence: float | None = None, dof: int = 1) -> float:
    """Δχ² threshold: the χ² quantile with ``dof`` degrees of freedom (3.84 at 0.95, 1 dof)."""
    # what scipy.stats.chi2.ppf evaluates, without importing scipy.stats (~0.8 s CPU a job)
    from scipy.special import gammaincinv

    confidence = default_confidence(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return float(2.0 * gammaincinv(dof / 2, confidence))


def grid_profiles(chi2: np.ndarray, grid: GridIndex, c_nM, names) -> dict:
    out = {}
    for name in names:
        key, values = grid.combination(name, c_nM)
        out[name] = (values, profile_over(key, values.size, chi2))
    return out


def profile_results(
    chi2: pd.DataFrame,
    c_nM: float | None = None,
    confidence: float | None = None,
    delta: float | None = None,
    names: Sequence[str] = PROFILE_NAMES,
) -> dict[str, ProfileResult]:
    """Profile-likelihood intervals and labels of a weighted χ² table.

    Parameters
    ----------
    chi2 : DataFrame
        :func:`weighted_chi2_table` (any χ² table of the same layout).
    c_nM : float, optional
        Concentration c of ``k_dim*c/k_ex`` (needed for that combination only).
    confidence : float
        Confidence of the χ²₁ threshold.
    delta : float, optional
        Δχ² to use instead of the χ²₁ quantile (e.g. a calibrated threshold).
    names : sequence of str
        Constants and combinations to profile (default :data:`PROFILE_NAMES`).
    """
    if c_nM is None:
        names = [n for n in names if n != RATE_RATIO]
    values = chi2["chi2"].to_numpy(float)
    values = np.where((chi2["status"] == STATUS_OK).to_numpy(), values, np.nan)
    if not np.isfinite(values).any():
        raise ValueError("no successful grid point: nothing to profile")
    level = float(np.nanmin(values)) + (delta_chi2(confidence) if delta is None else float(delta))
    grid = GridIndex.from_table(chi2)
    return {
        name: profile_result(name, v, p, level)
        for name, (v, p) in grid_profiles(values, grid, c_nM, names).items()
    }


def profilable_names(chi2: pd.DataFrame, c_nM: float | None = None) -> tuple[list, dict]:
    """(names the grid can profile, name -> why not): a combination needs equal log steps of
    the constants it joins (k_dim*c/k_ex also needs c)."""
    grid = GridIndex.from_table(chi2)
    names, skipped = [], {}
    for name in PROFILE_NAMES:
        try:
            grid.combination(name, c_nM)
        except ValueError as exc:
            skipped[name] = str(exc)
            continue
        names.append(name)
    return names, skipped


def best_json_fields(results: Mapping[str, ProfileResult]) -> dict:
    """``identifiability`` (name -> label) and ``intervals_weighted`` (name -> [low, high])."""
    return {
        "identifiability": {name: r.label for name, r in results.items()},
        "intervals_weighted": {name: [r.low, r.high] for name, r in results.items()},
    }
