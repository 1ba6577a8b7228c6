"""Isotope patterns of the cluster ions (docs/science.md §1), computed with IsoSpecPy.

Two details matter at the 1 ppm level this workflow needs:

* **Electrons.** IsoSpecPy gives masses of neutral atoms; its ``charge=`` only divides. An
  ion of charge ``z`` carries ``-z`` extra electrons, so ``m/z = (M - z m_e) / |z|``.
* **Nominal isotope peaks.** A cluster ion's fine structure (a metal's isotopes against 13C,
  34S) is unresolved at resolving power ~25,000. Each nominal isotope peak (same nucleon number)
  is represented by its probability-weighted centroid. IsoSpecPy's binned spectra put peaks
  at bin centres, up to ~100 ppm off the centroid, so the configurations are grouped here by
  their exact nucleon count instead.

Profiles are rendered as Gaussians of FWHM ``m/z / R`` and are in *ion counts per data
point*: a pattern of abundance ``a`` sampled on any grid sums to ``~a`` (density times the
local point spacing). Deconvolved abundances are then ion counts, independent of the grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import IsoSpecPy
import numpy as np
from IsoSpecPy import isoFFI

if TYPE_CHECKING:  # an annotation only: system imports this module where patterns are asked for
    from .system import ClusterSystem

ELECTRON_MASS = 5.48579909065e-4  # u (CODATA 2018)
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
DEFAULT_COVERAGE = 0.99999
DEFAULT_MIN_PROB = 1e-5


@dataclass(frozen=True)
class IsotopePattern:
    """Nominal isotope peaks of one ion: centroid m/z and probability (summing to 1)."""

    mz: np.ndarray
    prob: np.ndarray
    charge: int

    @property
    def average_mz(self) -> float:
        return float(np.dot(self.mz, self.prob))

    @property
    def most_abundant_mz(self) -> float:
        return float(self.mz[np.argmax(self.prob)])


def ion_mz(neutral_mass, charge: int):
    """m/z of an ion made from atoms of total ``neutral_mass`` with charge ``charge``."""
    if charge == 0:
        raise ValueError("charge must be non-zero")
    return (np.asarray(neutral_mass) - charge * ELECTRON_MASS) / abs(charge)


IsotopeOverrides = Mapping[str, tuple[Sequence[float], Sequence[float]]]
"""Per element: (isotope masses in u, abundances summing to 1), replacing IsoSpecPy's natural
ones, e.g. an enriched precursor. Elements not named keep their natural isotopes."""


def _isotopes_of(element: str, isotopes: IsotopeOverrides | None):
    if isotopes and element in isotopes:
        masses, abundances = isotopes[element]
        # IsoSpecPy works with log probabilities: an isotope of abundance 0 is left out.
        kept = [(m, a) for m, a in zip(masses, abundances, strict=True) if a > 0]
        return [float(m) for m, _ in kept], [float(a) for _, a in kept]
    return (
        list(IsoSpecPy.PeriodicTbl.symbol_to_masses[element]),
        list(IsoSpecPy.PeriodicTbl.symbol_to_probs[element]),
    )


def _isospec_arrays(
    formula: dict[str, int], coverage: float, isotopes: IsotopeOverrides | None = None
):
    """All fine-structure configurations: masses, probabilities and nucleon excess."""
    elements = [el for el, n in formula.items() if n > 0]
    counts = [int(formula[el]) for el in elements]
    tables = [_isotopes_of(el, isotopes) for el in elements]
    masses = [m for m, _ in tables]
    probs = [p for _, p in tables]
    dist = IsoSpecPy.IsoTotalProb(
        prob_to_cover=coverage,
        atomCounts=counts,
        isotopeMasses=masses,
        isotopeProbabilities=probs,
        get_confs=True,
    )
    m = np.array(dist.np_masses() if hasattr(dist, "np_masses") else list(dist.masses))
    p = np.array(dist.np_probs() if hasattr(dist, "np_probs") else list(dist.probs))
    n_iso = sum(len(x) for x in masses)
    raw = np.frombuffer(isoFFI.ffi.buffer(dist.raw_confs), dtype=np.intc)
    confs = raw[: dist.size * n_iso].reshape(dist.size, n_iso)
    # Nucleon number of each isotope relative to the lightest isotope of its element.
    excess_per_isotope = np.concatenate(
        [np.rint(np.asarray(x)) - np.rint(min(x)) for x in masses]
    ).astype(np.int64)
    excess = confs.astype(np.int64) @ excess_per_isotope
    return m, p, excess


def isotope_pattern(
    formula: dict[str, int],
    charge: int,
    coverage: float = DEFAULT_COVERAGE,
    min_prob: float = DEFAULT_MIN_PROB,
    isotopes: IsotopeOverrides | None = None,
) -> IsotopePattern:
    """Nominal isotope peaks (centroid m/z, probability) of an ion of ``formula``.

    ``formula`` holds the neutral atoms (e.g. ``{"C": 16, "H": 18, "S": 2}``, metals included);
    the ``-charge`` extra electrons are added here. Peaks below ``min_prob`` of the total are
    dropped and the rest renormalised to sum to 1. ``isotopes`` overrides the natural isotope
    masses and abundances of some elements (default: IsoSpecPy's natural ones).
    """
    key = tuple(sorted((str(el), int(n)) for el, n in formula.items()))
    overrides = None if not isotopes else tuple(
        sorted((str(el), tuple(map(float, m)), tuple(map(float, a)))
               for el, (m, a) in isotopes.items())
    )  # fmt: skip
    return _pattern_of(key, int(charge), float(coverage), float(min_prob), overrides)


# Every deconvolution in a process asks for the same ~150 patterns again (each file, each
# basis built of the system, each test and benchmark repeat), and IsoSpecPy takes ~8 ms for
# each. The arrays are made read-only, as one cached pattern is shared by every caller.
@lru_cache(maxsize=4096)
def _pattern_of(formula: tuple, charge: int, coverage: float, min_prob: float,
                overrides: tuple | None) -> IsotopePattern:  # fmt: skip
    isotopes = None if overrides is None else {el: (m, a) for el, m, a in overrides}
    masses, probs, excess = _isospec_arrays(dict(formula), coverage, isotopes)
    offset = excess - excess.min()
    weight = np.bincount(offset, weights=probs)
    mass_sum = np.bincount(offset, weights=probs * masses)
    keep = weight > min_prob * weight.sum()
    centroid = ion_mz(mass_sum[keep] / weight[keep], charge)
    prob = weight[keep] / weight[keep].sum()
    centroid.flags.writeable = False
    prob.flags.writeable = False
    return IsotopePattern(centroid, prob, int(charge))


def average_mz(
    formula: dict[str, int], charge: int, isotopes: IsotopeOverrides | None = None
) -> float:
    """Isotope-averaged m/z of an ion (electrons included)."""
    masses, probs, _ = _isospec_arrays(formula, DEFAULT_COVERAGE, isotopes)
    return float(ion_mz(np.dot(masses, probs) / probs.sum(), charge))


@lru_cache(maxsize=16)
def system_patterns(system: ClusterSystem) -> tuple[IsotopePattern, ...]:
    """Patterns of the system's observables, in the order of ``system.observables()``."""
    obs = system.observables()
    return tuple(
        isotope_pattern(system.elemental_formula(int(n), int(s)), int(z))
        for n, s, z in zip(obs["n_first"], obs["subunits"], obs["charge"], strict=True)
    )


def point_spacing(mz: np.ndarray) -> np.ndarray:
    """Width of the m/z interval each point stands for: the distance to its nearer neighbour.

    On a regular grid this is the grid step; next to a gap left by zero suppression it is
    still the local step, not the gap.
    """
    mz = np.asarray(mz, float)
    if mz.size < 2:
        return np.ones_like(mz)
    step = np.diff(mz)
    left = np.concatenate([[step[0]], step])
    right = np.concatenate([step, [step[-1]]])
    return np.minimum(left, right)


GAP_FACTOR = 1.5  # a step this many native steps wide (or more) is a gap, not the grid


@dataclass(frozen=True)
class PointGrid:
    """The native sampling of one spectrum's points, found from the points themselves.

    ``step[i]``: the instrument's point spacing at point ``i``, taken inside its own island
    of points (a TOF grid's step grows with m/z, so it is read locally, never assumed);
    ``gap[i]``: True where points ``i`` and ``i + 1`` are not neighbours on that grid (points
    were left out between them); ``lower``/``upper``: the m/z interval each point stands
    for, halfway to its neighbours, or half its native step at a gap edge or an end.
    """

    step: np.ndarray
    gap: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def has_gaps(self) -> bool:
        return bool(self.gap.any())


def _power_law_step(mid: np.ndarray, diff: np.ndarray, use: np.ndarray):
    """Step as a power law of m/z fitted to the steps flagged ``use`` (uniform, TOF, FT)."""
    if use.sum() >= 3 and np.ptp(mid[use]) > 0:
        # Straight line in log-log by the closed-form least squares (np.polyfit: ms per call).
        x, y = np.log(mid[use]), np.log(diff[use])
        x_mean, y_mean = x.mean(), y.mean()
        slope = float(np.sum((x - x_mean) * (y - y_mean)) / np.sum(np.square(x - x_mean)))
        offset = y_mean - slope * x_mean
        return lambda at: np.exp(offset + slope * np.log(at))
    level = float(np.median(diff[use])) if use.any() else float(diff.min())
    return lambda at: np.full(np.shape(at), level)


def point_grid(mz: np.ndarray) -> PointGrid:
    """Native point spacing, gaps and point intervals of one spectrum (see :class:`PointGrid`).

    A step counts as native when it is within ``GAP_FACTOR`` of the smallest steps around
    it; a power law of m/z fitted to the native steps then decides which steps are gaps and
    stands in for the step of a point that has no native neighbour (an island of one point).
    """
    mz = np.asarray(mz, float)
    n = mz.size
    if n < 2:
        one = np.ones(n)
        return PointGrid(one, np.zeros(max(n - 1, 0), bool), mz - 0.5, mz + 0.5)
    diff = np.diff(mz)
    if diff.max() <= GAP_FACTOR * diff.min():  # no gap: the common dense case, no fitting
        gap = np.zeros(n - 1, bool)
    else:
        from scipy.ndimage import minimum_filter1d

        mid = 0.5 * (mz[1:] + mz[:-1])
        nearby_min = minimum_filter1d(diff, size=7, mode="nearest")
        law = _power_law_step(mid, diff, diff <= GAP_FACTOR * nearby_min)
        gap = diff > GAP_FACTOR * law(mid)
        law = _power_law_step(mid, diff, ~gap)
        gap = diff > GAP_FACTOR * law(mid)
    left = np.concatenate([[np.nan], np.where(gap, np.nan, diff)])
    right = np.concatenate([np.where(gap, np.nan, diff), [np.nan]])
    with np.errstate(invalid="ignore"):
        step = np.where(
            np.isnan(left), right, np.where(np.isnan(right), left, 0.5 * (left + right))
        )
    lonely = np.isnan(step)  # an island of one point (only where there are gaps)
    if lonely.any():
        step[lonely] = law(mz[lonely])
    # Neighbours share one boundary (the same float), so intervals tile without slivers.
    middle = 0.5 * (mz[1:] + mz[:-1])
    lower = mz - 0.5 * step
    upper = mz + 0.5 * step
    lower[1:] = np.where(gap, lower[1:], middle)
    upper[:-1] = np.where(gap, upper[:-1], middle)
    return PointGrid(step, gap, lower, upper)


def render_profile(
    mz: np.ndarray,
    patterns,
    abundances,
    resolving_power: float,
    shift_ppm: float = 0.0,
    window_sigma: float = 6.0,
) -> np.ndarray:
    """Expected ion counts per point of a sum of Gaussian profile patterns.

    ``abundances[k]`` ions of ``patterns[k]``; each nominal peak is a Gaussian of FWHM
    ``m/z / resolving_power`` centred at ``m/z * (1 + shift_ppm 1e-6)``.
    """
    mz = np.asarray(mz, float)
    out = np.zeros_like(mz)
    width = point_spacing(mz)
    scale = 1.0 + shift_ppm * 1e-6
    for pattern, abundance in zip(patterns, abundances, strict=True):
        if abundance == 0:
            continue
        for centre, prob in zip(pattern.mz * scale, pattern.prob, strict=True):
            sigma = centre / resolving_power * FWHM_TO_SIGMA
            lo, hi = np.searchsorted(
                mz, [centre - window_sigma * sigma, centre + window_sigma * sigma]
            )
            if hi <= lo:
                continue
            u = (mz[lo:hi] - centre) / sigma
            out[lo:hi] += (
                abundance
                * prob
                * np.exp(-0.5 * u * u)
                / (sigma * np.sqrt(2 * np.pi))
                * width[lo:hi]
            )
    return out
