"""What the profile deconvolution (:mod:`intercluster.deconvolution`) and the stick reading of
centroid files (:mod:`intercluster.centroid`) share, below both: the basis of isotope patterns
a spectrum is fitted with (:class:`PatternBasis`; the observables' and a CID spectrum's), one
spectrum's fit (:class:`SpectrumFit`), standard errors from a fit's normal matrix
(:func:`sd_from_gram`), the rule for an ion the data detect, and the lattice of the smooth
baseline (the profile fit's spline baseline and the heights' pedestal of a peak list).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _deconv_kernels as kern
from . import cid as cid_rule
from .isotopes import IsotopePattern, system_patterns
from .system import ClusterSystem

DETECTION_OWN_LEVEL = 0.25  # a detected ion reaches this part of the detection level ...
DETECTION_OWN_SHARE = 0.5  # ... with at least this share of the model, at a written point
BASELINE_SPLINE_DEGREE = 3
BASELINE_AUTO_MARGIN = 0.02  # baseline auto: the spline when it lowers the summed RSS by this


def baseline_knots(mz: np.ndarray, spacing: float) -> np.ndarray:
    """Knots of the cubic B-spline baseline on the points ``mz``: multiples of ``spacing``,
    so every spectrum of a file (and the QC figure's refit) has the same lattice, extended by
    the spline degree beyond the data so that the splines sum to 1 at every point."""
    lo, hi = float(np.min(mz)), float(np.max(mz))
    k = BASELINE_SPLINE_DEGREE
    first, last = int(np.floor(lo / spacing)) - k, int(np.ceil(hi / spacing)) + k
    return spacing * np.arange(first, last + 1, dtype=float)


@dataclass(frozen=True)
class PatternBasis:
    """Flattened isotope peaks of the fitted patterns (columns), with their labels."""

    peak_mz: np.ndarray
    peak_prob: np.ndarray
    col_ptr: np.ndarray
    labels: pd.DataFrame  # one row per column

    @classmethod
    def from_patterns(cls, patterns: list[IsotopePattern], labels: pd.DataFrame) -> PatternBasis:
        if len(patterns) != len(labels):
            raise ValueError("one label row per pattern expected")
        peak_mz = np.concatenate([p.mz for p in patterns]).astype(float)
        peak_prob = np.concatenate([p.prob for p in patterns]).astype(float)
        col_ptr = np.concatenate([[0], np.cumsum([len(p.mz) for p in patterns])]).astype(np.int64)
        return cls(peak_mz, peak_prob, col_ptr, labels.reset_index(drop=True))

    @property
    def n_cols(self) -> int:
        return len(self.col_ptr) - 1

    @property
    def average_mz(self) -> np.ndarray:
        """Isotope-averaged m/z of each column."""
        return np.add.reduceat(self.peak_mz * self.peak_prob, self.col_ptr[:-1]) / np.add.reduceat(
            self.peak_prob, self.col_ptr[:-1]
        )

    @property
    def envelope_sd(self) -> float:
        """The largest isotope-envelope sd (Th) of the columns: the widest ion pattern."""
        avg = np.repeat(self.average_mz, np.diff(self.col_ptr))
        second = np.add.reduceat(self.peak_prob * np.square(self.peak_mz - avg),
                                 self.col_ptr[:-1])  # fmt: skip
        return float(np.sqrt(np.max(second / np.add.reduceat(self.peak_prob,
                                                               self.col_ptr[:-1]))))

    @property
    def mz_span(self) -> tuple[float, float]:
        """From the lowest to the highest average m/z of the columns: what a file must cover."""
        avg = self.average_mz
        return float(avg.min()), float(avg.max())


def observable_basis(system: ClusterSystem) -> PatternBasis:
    """The 77 observables (26 monomer ions, 51 dimer ions) in ``system.observables()`` order."""
    return PatternBasis.from_patterns(list(system_patterns(system)), system.observables())


def monomer_mz_span(system: ClusterSystem) -> tuple[float, float]:
    """The m/z span of the monomer ions (what a CID file's fragment spectra must cover)."""
    obs = system.observables()
    monomers = list(obs.index[obs["kind"] == "monomer"])
    patterns = system_patterns(system)
    avg = [patterns[k].average_mz for k in monomers]
    return float(min(avg)), float(max(avg))


def cid_basis(system: ClusterSystem, precursor_mz: float) -> tuple[PatternBasis, int]:
    """The basis of an MS2 spectrum whose selected ion is at ``precursor_mz``: the fragment
    patterns plus the surviving precursor (the CID rule, :func:`intercluster.cid.cid_selection`,
    which the virtual experiment writes with).

    Returns the basis and the number of fragment columns (they come first).
    """
    selection = cid_rule.cid_selection(system, precursor_mz)
    patterns = system_patterns(system)
    cols = selection.basis_rows
    labels = system.observables().loc[cols]
    basis = PatternBasis.from_patterns([patterns[k] for k in cols], labels)
    return basis, len(selection.fragments)


@dataclass
class SpectrumFit:
    coef: np.ndarray  # pattern abundances (ion counts), one per basis column
    baseline: float
    shift_ppm: float
    resolving_power: float
    rss: float
    residual_norm: float  # ||y - fit|| / ||y||
    n_iter: int
    passive: np.ndarray
    #: how the spectrum was sampled (see :class:`PreparedSpectrum`); set by :func:`fit_prepared`
    mode: str = "dense"
    coverage: float = 1.0
    detection_level: float = 0.0
    n_points: int = 0
    #: R(m/z) = resolving_power (1 + resolving_power_slope (m/z - mz_ref) / 1000 Th)
    resolving_power_slope: float = 0.0
    mz_ref: float = 0.0
    #: robust pass: the signal no column explains, as a part of the signal above the
    #: baseline, and the largest such features (m/z, counts), largest first
    unexplained_fraction: float = 0.0
    unexplained_features: tuple = ()
    #: the part of the signal above the baseline that the robust pass would have called
    #: unexplained at the m/z of a listed ion form (kept in the fit: a misfit to report)
    listed_misfit_fraction: float = 0.0
    #: censored fits: ion forms that no written point shows, held at 0
    #: (:func:`detected_columns`), and the part of the signal they held before
    ions_not_detected: int = 0
    not_detected_fraction: float = 0.0
    #: a centroid file's sticks read as "area" or "height" (centroid.read_centroid_file);
    #: "-" for profiles
    centroid_intensity: str = "-"
    #: standard error of each abundance under the spectrum's noise model
    #: (:func:`coefficient_sd`); None where it was not computed
    coef_sd: np.ndarray | None = None
    #: the baseline: ``constant`` (``baseline`` counts per point) or ``spline`` (non-negative
    #: cubic B-spline coefficients ``baseline_coef`` on knots ``baseline_spacing`` Th apart,
    #: :func:`spline_baseline`; ``baseline`` is then its mean over the fitted points)
    baseline_model: str = "constant"
    baseline_coef: np.ndarray | None = None
    baseline_spacing: float = 0.0
    #: the baseline's part of the fitted signal (baseline over patterns plus baseline)
    baseline_fraction: float = 0.0
    #: peak shape of the file (gaussian or emg) and the EMG tail constant tau / sigma
    peak_shape: str = "gaussian"
    peak_tail: float = 0.0
    #: the tail's relative change per 1000 Th about ``mz_ref`` (``deconvolution.tail_slope``)
    peak_tail_slope: float = 0.0


def sd_from_gram(gram: np.ndarray, free: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Standard errors from the normal matrix ``gram`` of a weighted least-squares fit.

    ``free`` (the columns not at a bound): the diagonal of the inverse of their block;
    every other column ``1 / sqrt(G_kk)`` (its sd with the others held). ``scale``: the
    variance the weights are relative to (1 when they are 1 / the variance itself).
    """
    diag = np.diag(gram)
    with np.errstate(divide="ignore"):
        variance = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), np.nan)
    free = np.asarray(free, bool)
    if free.any():
        sub = np.ascontiguousarray(gram[np.ix_(free, free)])
        inverse = kern.spd_inverse_diagonal(sub)
        if not np.all(np.isfinite(inverse)):  # singular: columns the points cannot tell apart
            inverse = np.diag(np.linalg.pinv(sub))
        variance[free] = np.clip(inverse, 0.0, None)
    return np.sqrt(variance * float(scale))
