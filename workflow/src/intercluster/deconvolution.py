"""Isotope-pattern deconvolution of the MS1 time series and of the CID spectra.

Science: docs/science.md §1, §3.

Each spectrum ``y`` (ion counts per point) is modelled as

    y(mz) = sum_k a_k P_k(mz; shift, R, tail) + sum_j b_j B_j(mz),   a_k, b_j >= 0,

with ``P_k`` the profile of observable k (its nominal isotope peaks as Gaussians of FWHM
``m/z / R``, or exponentially modified Gaussians with that core and a tail of ``tail``
core sds, centred (their centroid) at ``m/z (1 + shift 1e-6)``, in counts per point, so
``a_k`` is an ion count) and ``B_j`` the baseline: one constant, or cubic B-splines whose
knots are far wider apart than an ion's pattern (:func:`baseline_spacing`,
``deconvolution.baseline``). The peak tail is fitted per file like R (:func:`fit_peak_shape`,
``deconvolution.peak_shape``).

The abundances come from a non-negative least-squares fit; the calibration shift is fitted
per spectrum by variable projection (Gauss-Newton on the NNLS residual with a step
check), the resolving power (and its slope in m/z) once per file by Brent's search on the
summed residual of a few spectra. Each time point is then normalised to the sum of the 77
observables (TIC normalisation, docs/science.md §3).

Cost: building a spectrum's columns costs about as much as fitting it, so spectra on one
m/z grid share them (:class:`ColumnPool`: the R search's spectra at each trial R, and each
spectrum with its neighbour, whose shift is close); the isotope patterns are computed once
per process (:func:`intercluster.isotopes.isotope_pattern` is cached).

QC per spectrum: fitted shift, resolving power, relative residual norm ``||y - fit|| / ||y||``,
and how the spectrum was sampled: ``mode`` (dense or sparse profile), ``coverage`` (fraction of
the acquired scan window that data points cover), ``detection_level`` and ``n_points``.

Sparse profiles
---------------
Exporters and msconvert's threshold and zero-sample filters leave out the points of a profile
spectrum below a level, so a spectrum is islands of points with gaps between them. Fitted
only on the points that are there, a gap puts no constraint on the model: an ion whose
isotope peaks fall into gaps can take any amplitude (and does, tens of percent of the
signal). A gap is a measurement: inside the acquired scan window, m/z that no point covers
was recorded below the detection level. :func:`prepare_spectrum` therefore

* finds each spectrum's native point spacing locally, from the steps inside the islands on
  both sides of every gap (:func:`intercluster.isotopes.point_grid`; TOF grids are not
  uniform, and nothing assumes the virtual experiment's grid);
* fills every gap, and the stretches between the scan window's limits and the first and last
  point, with points on that native spacing;
* treats the filled points (and points written as 0, e.g. msconvert's flanking zeros) as
  *censored* at the detection level ``D``, estimated from the data as the lowest intensity
  written in the spectrum: the model there may take any value in ``[0, D]`` but pays for
  what exceeds ``D`` (an active set on the censored points, :func:`_censored_pass`). An ion
  with no support in the data meets points it cannot exceed, so it cannot take signal.

Choice (``gaps=``): ``"censor"`` (default) was measured against ``"zero"`` (the filled
points taken as measured zeros) on the 40:40 virtual experiment written sparse at 1 % and
2 % of the base peak; the numbers and the reason for the choice are in
docs/front-end.md ("Sparse profile spectra"). ``"ignore"`` fits only the written points
(the old behaviour; it fails, and is kept as the negative control of the tests). A spectrum
without gaps (``coverage`` 1) is fitted exactly as before.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _deconv_kernels as kern
from . import cid as cid_rule
from .centroid import cid_stick_reading, read_centroid_file
from .errors import InputError
from .ingest import peak_shapes
from .isotopes import point_grid, point_spacing
from .settings import (
    BASELINE_MODELS,
    GAP_TREATMENTS,
    PEAK_SHAPES,
    RESOLVING_POWER_MODELS,
    DeconvolutionSettings,
)
from .spectrum_basis import (
    BASELINE_AUTO_MARGIN,
    BASELINE_SPLINE_DEGREE,
    DETECTION_OWN_LEVEL,
    DETECTION_OWN_SHARE,
    PatternBasis,
    SpectrumFit,
    baseline_knots,
    cid_basis,
    observable_basis,
    sd_from_gram,
)
from .system import ClusterSystem

log = logging.getLogger(__name__)

N_SIGMA = 4.5  # Gaussian windows cover +-4.5 sd (the tails beyond hold < 1e-5)
REBUILD_PPM = 0.5  # columns moved to first order within this shift (error < 1e-3)
CENSOR_MAX_ITER = 12  # active-set passes of a censored fit (typically 2-4)
CENSOR_TOL = 1e-3  # stop when the points changing sides cost less than this part of the RSS
TOBIT_MAX_ITER = 30  # Newton steps of the censored likelihood (typically 3-8)
TOBIT_TOL = 1e-9  # stop when a step lowers the censored likelihood's cost by less than this
NOISE_ROUNDS = 8  # noise-model re-estimations of a censored-likelihood fit (typically 2-3)
NOISE_SETTLED = 1e-3  # ... until no point's variance moves by more than this part
ZEROED_MIN_SHARE = 0.1  # a complete grid with this share of exact zeros ...
ZEROED_MIN_LEVEL = 1e-3  # ... and no positive value below this part of its largest: zeroed
LISTED_REACH = 0.5  # a present ion form's m/z: where its column reaches half its largest value
R_START_RANGE = (0.6, 1.6)  # R searched from this much below to this much above the guess
R_MEASURED_RANGE = (0.7, 2.0)  # ... or above the R the peaks show (see _start_resolving_power)
R_GUESS_TOLERANCE = 1.3  # peaks showing an R beyond 1.3x (or 1/1.3x) the guess: start there
UNRESOLVED_FWHM = 0.7  # R on single-charge points when FWHM > 0.7 x the 2nd charge's spacing
SINGLE_CHARGE_REACH = 1e-3  # a column reaches the points where it exceeds this part of its peak
SINGLE_CHARGE_MIN_SHARE = 0.1  # R searched on single-charge points when they are this many
SINGLE_CHARGE_PRESENT = 1e-3  # ... of the ion forms a first fit gives this part of the largest
ALIGN_FWHM = 0.2  # a weak ion's signal this far off its centroids is a neighbour's (choice)
ALIGN_MAX_LEVEL = 20.0  # ... judged for ions whose peaks stay under 20 detection levels
N_CALIBRATION_SCANS = 3  # spectra, spread over the file, on which R (and its slope) is fitted
SLOPE_RANGE = (-0.4, 0.4)  # searched relative change of R per 1000 Th
SLOPE_ROUNDS = 4  # at most this many alternations of the slope and R searches
SLOPE_TOL = 4e-3  # the slope's search tolerance, per 1000 Th
R_TOL = 5e-3  # the search tolerance of log R
R_START_TOL = 2e-2  # ... of the start of the alternations (refined in each of them)
ROBUST_Z = 6.0  # a point is unexplained when its residual exceeds this many noise sds ...
ROBUST_REL = 0.5  # ... and this part of the model there (a shape mismatch is not a new ion)
ROBUST_GROW_Z = 2.0  # unexplained regions grow over neighbours with residuals above this
ROBUST_PASSES = 3  # refits with the unexplained points at weight 0
FIRST_PASS_TOL_PPM = 0.1  # shift tolerance of the unweighted pass before a weighted one
N_UNEXPLAINED_FEATURES = 5  # largest unexplained features kept per spectrum (QC)
#: knot spacing of the spline baseline in isotope-envelope sds of the widest pattern: a
#: cubic B-spline then spans about 29 envelope sds, too broad to stand in for an ion
BASELINE_KNOT_ENVELOPES = 50.0
TAIL_RANGE = (0.0, 3.0)  # searched tail constant tau / sigma of an EMG peak
TAIL_TOL = 0.01  # ... to within this
TAIL_ROUNDS = 3  # at most this many alternations of the tail and R searches
TAIL_SLOPE_RANGE = (-0.6, 0.6)  # searched relative change of the tail per 1000 Th (choice)
TAIL_SLOPE_TOL = 5e-3  # ... to within this
AUTO_MARGIN = 0.02  # peak_shape auto: EMG when it lowers the summed RSS by this part
AUTO_MIN_TAIL = 0.1  # ... and Gaussian at once when the first tail search finds less than this
STICK_MODEL = "-"  # qc.tsv peak_shape and baseline_model of a centroid file: not modelled
INTENSITY_COLUMNS = ["time_min", "species", "charge", "n_first", "intensity", "intensity_norm",
                     "intensity_sd"]
QC_COLUMNS = [
    "time_min",
    "native_id",
    "shift_ppm",
    "resolving_power",
    "residual_norm",
    "baseline",
    "total_intensity",
    "mode",
    "coverage",
    "detection_level",
    "n_points",
    "resolving_power_slope",
    "resolving_power_mz_ref",
    "unexplained_fraction",
    "unexplained_mz",
    "ions_not_detected",
    "not_detected_fraction",
    "listed_misfit_fraction",
    "centroid_intensity",
    "baseline_model",
    "baseline_fraction",
    "peak_shape",
    "peak_tail",
    "peak_tail_slope",
]
CID_COLUMNS = ["time_min", "n_first", "fraction"]


def baseline_columns(mz: np.ndarray, spacing: float):
    """The spline baseline's columns on ``mz`` as the kernels' segments (``starts, ends,
    seg_ptr, values, deriv``): each B-spline covers a contiguous run of points, and does not
    move with the calibration shift (derivative 0). Only splines that reach a point."""
    from scipy.interpolate import BSpline

    design = BSpline.design_matrix(np.asarray(mz, float), baseline_knots(mz, spacing),
                                   BASELINE_SPLINE_DEGREE).tocsc()  # fmt: skip
    design.sort_indices()
    nnz = np.diff(design.indptr)
    starts = np.array([design.indices[design.indptr[j]] if nnz[j] else 0
                       for j in range(design.shape[1])], np.int64)  # fmt: skip
    ends = starts + nnz
    # a B-spline is non-zero on one interval of knots: its points are one contiguous run
    values = np.ascontiguousarray(design.data, float)
    seg_ptr = np.asarray(design.indptr, np.int64)
    return starts, ends, seg_ptr, values, np.zeros_like(values)


def spline_baseline(mz: np.ndarray, coef: np.ndarray, spacing: float) -> np.ndarray:
    """The fitted spline baseline (counts per point) at ``mz``."""
    starts, ends, seg_ptr, values, _ = baseline_columns(mz, spacing)
    out = np.zeros(np.size(mz))
    for j in np.flatnonzero(coef):
        out[starts[j] : ends[j]] += coef[j] * values[seg_ptr[j] : seg_ptr[j + 1]]
    return out


@dataclass(frozen=True)
class PreparedSpectrum:
    """One spectrum as fitted: the written points plus the points filled into its gaps."""

    mz: np.ndarray
    y: np.ndarray  # written intensities; 0 at the filled points
    width: np.ndarray  # m/z interval per point (counts per point = density x width)
    censored: np.ndarray | None  # points known only to lie below ``detection_level``
    detection_level: float  # counts; the lowest intensity written (0 for a dense spectrum)
    coverage: float  # fraction of the scan window covered by written points
    n_points: int  # written points
    mode: str  # "dense" (no gap), "sparse" (points left out) or "zeroed" (written as 0)
    gaps: str  # the gap treatment used
    written: np.ndarray | None = None  # which points are the file's (None: all of them)



def _window_fill(edge: float, first: float, step: float, direction: int) -> np.ndarray:
    """Points on the native step from ``first`` towards the scan-window limit ``edge``."""
    n = int(np.rint((first - edge) * direction / step)) if np.isfinite(edge) else 0
    return first - direction * step * np.arange(1, max(n, 0) + 1)


def _zeroed_level(y: np.ndarray) -> float:
    """The threshold of a profile whose points below it were written as 0, else 0.

    Exporters that zero rather than drop the points below a threshold write a complete grid
    with many exact zeros and no positive value below the threshold. A spectrum counts as
    zeroed when at least ``ZEROED_MIN_SHARE`` of its points are 0 and its smallest positive
    value is at least ``ZEROED_MIN_LEVEL`` of its largest (dense count data with zeros have
    positive values down to a count or so).
    """
    if y.size == 0 or np.mean(y <= 0) < ZEROED_MIN_SHARE:
        return 0.0
    positive = y[y > 0]
    if positive.size == 0:
        return 0.0
    level = float(positive.min())
    return level if level >= ZEROED_MIN_LEVEL * float(positive.max()) else 0.0


def prepare_spectrum(
    mz: np.ndarray,
    y: np.ndarray,
    window: tuple[float, float] | None = None,
    gaps: str | None = None,
    level: float | None = None,
) -> PreparedSpectrum:
    """The points to fit for one profile spectrum, with its gaps filled (module docstring).

    ``window``: the acquired scan window (MS:1000501/MS:1000500); ``None``: the data's first
    and last m/z. ``gaps``: ``"censor"``, ``"censor_free"``, ``"zero"`` or ``"ignore"`` (see
    above). ``level``: the detection level when the spectrum's making says it (a time bin of
    sparse spectra, :attr:`intercluster.ingest.SpectraRun.detection_levels`); None: the
    lowest intensity written.
    """
    gaps = DeconvolutionSettings.schema_default().gaps if gaps is None else gaps
    if gaps not in GAP_TREATMENTS:
        raise ValueError(f"gaps must be one of {GAP_TREATMENTS}, got {gaps!r}")
    mz = np.ascontiguousarray(mz, float)
    y = np.ascontiguousarray(y, float)
    n = mz.size
    if n == 0:
        return PreparedSpectrum(mz, y, mz.copy(), None, 0.0, 0.0, 0, "sparse", gaps)
    lo, hi = (float(mz[0]), float(mz[-1])) if window is None else map(float, window)
    lo, hi = min(lo, float(mz[0])), max(hi, float(mz[-1]))
    grid = point_grid(mz)
    span = hi - lo
    covered = np.clip(grid.upper, lo, hi) - np.clip(grid.lower, lo, hi)
    coverage = float(min(covered.sum() / span, 1.0)) if span > 0 else 1.0
    below = _window_fill(lo, mz[0], grid.step[0], +1)[::-1]
    above = _window_fill(hi, mz[-1], grid.step[-1], -1)
    if not grid.has_gaps and below.size == 0 and above.size == 0:
        width = point_spacing(mz)
        zeroed = _zeroed_level(y)
        if zeroed > 0 and gaps in ("censor", "censor_free"):
            # a complete grid whose points below a threshold were written as 0: those zeros
            # say "below the level", as a gap does
            censored = y <= 0
            coverage = float(1.0 - censored.mean())
            return PreparedSpectrum(mz, y, width, censored, zeroed, coverage, n, "zeroed",
                                    gaps, ~censored)  # fmt: skip
        return PreparedSpectrum(mz, y, width, None, 0.0, coverage, n, "dense", gaps)
    if level is None:
        positive = y[y > 0]
        level = float(positive.min()) if positive.size else 0.0
    if gaps == "ignore":
        width = point_spacing(mz)
        return PreparedSpectrum(mz, y, width, None, level, coverage, n, "sparse", gaps)
    # Across a gap the native step goes linearly from the left island's to the right one's.
    where = np.flatnonzero(grid.gap)
    diff = mz[where + 1] - mz[where]
    ratio = grid.step[where + 1] / grid.step[where]
    even = np.abs(ratio - 1.0) < 1e-9
    step_change = grid.step[where + 1] - grid.step[where]
    with np.errstate(divide="ignore", invalid="ignore"):
        n_steps = np.where(even, diff / grid.step[where], diff * np.log(ratio) / step_change)
    counts = np.maximum(np.rint(n_steps).astype(np.int64) - 1, 0)
    owner = np.repeat(where, counts)
    k = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    frac = k / np.repeat(counts + 1, counts)
    r = np.repeat(ratio, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(np.repeat(even, counts), frac, (r**frac - 1.0) / (r - 1.0))
    inner = mz[owner] + np.repeat(diff, counts) * frac
    # Written point j lands after the window fill below and the points filled before it.
    inserted = np.zeros(n, np.int64)
    inserted[where + 1] = counts
    position = below.size + np.arange(n) + np.cumsum(inserted)
    size = n + owner.size + below.size + above.size
    filled_mz = np.empty(size)
    filled_y = np.zeros(size)
    written = np.zeros(size, bool)
    filled_mz[position], filled_y[position], written[position] = mz, y, True
    filled_mz[: below.size] = below
    filled_mz[size - above.size :] = above
    filled_mz[
        ~written & (np.arange(size) >= below.size) & (np.arange(size) < size - above.size)
    ] = inner
    censored = (~written | (filled_y <= 0)) if gaps in ("censor", "censor_free") else None
    width = point_spacing(filled_mz)
    return PreparedSpectrum(
        filled_mz, filled_y, width, censored, level, coverage, n, "sparse", gaps, written
    )


def _label_centroids(run, fits: list[SpectrumFit]) -> None:
    """QC sampling of peak lists: mode centroid, no coverage, the smallest stick written."""
    if run.mode != "centroid":
        return
    for fit, y in zip(fits, run.intensity, strict=True):
        positive = np.asarray(y)[np.asarray(y) > 0]
        fit.mode, fit.coverage, fit.n_points = "centroid", float("nan"), int(np.size(y))
        fit.detection_level = float(positive.min()) if positive.size else 0.0


def _scan_windows(run) -> list:
    """Per spectrum the acquired scan window if the file states it, else None (data range)."""
    return list(run.scan_windows) if run.scan_windows else [None] * len(run)


class _Columns:
    """Pattern columns built at one shift; moved to nearby shifts to first order.

    ``tail``: the EMG tail (tau / sigma; 0 Gaussian) at ``mz_ref``, ``tail_slope`` its
    relative change per 1000 Th (:func:`intercluster._deconv_kernels.tail_at`).
    ``spacing`` > 0: the spline baseline's columns (:func:`baseline_columns`, knots
    ``spacing`` Th apart) follow the pattern columns; 0: the kernels' constant baseline
    column (when the fit asks for one).
    """

    def __init__(self, mz, width, basis: PatternBasis, resolving_power: float,
                 r_slope: float = 0.0, mz_ref: float = 0.0, tail: float = 0.0,
                 spacing: float = 0.0, tail_slope: float = 0.0):  # fmt: skip
        self.mz, self.width, self.basis, self.r = mz, width, basis, resolving_power
        self.r_slope, self.mz_ref = float(r_slope), float(mz_ref)
        self.tail, self.spacing = float(tail), float(spacing)
        self.tail_slope = float(tail_slope)
        self.n_ions = basis.n_cols
        self.spline = baseline_columns(mz, self.spacing) if self.spacing > 0 else None
        self.at = None
        self.parts = None

    @property
    def n_baseline(self) -> int:
        """Spline baseline columns after the patterns (0: constant or no baseline)."""
        return 0 if self.spline is None else self.spline[0].shape[0]

    def get(self, shift: float):
        if self.at is None or abs(shift - self.at) > REBUILD_PPM:
            b = self.basis
            parts = kern.build_columns(
                self.mz, self.width, b.peak_mz, b.peak_prob, b.col_ptr, shift, self.r, N_SIGMA,
                self.r_slope, self.mz_ref, self.tail, self.tail_slope,
            )  # fmt: skip
            if self.spline is not None:
                parts = _append_columns(parts, self.spline)
            self.parts = parts
            self.at = shift
        return self.parts, shift - self.at

    def baseline(self, coef: np.ndarray) -> np.ndarray | float:
        """The fitted baseline per point (spline) or its constant (0 without one)."""
        if self.spline is None:
            return float(coef[self.n_ions]) if coef.size > self.n_ions else 0.0
        starts, ends, seg_ptr, values, _ = self.spline
        out = np.zeros(self.mz.size)
        for j in np.flatnonzero(coef[self.n_ions :]):
            out[starts[j] : ends[j]] += coef[self.n_ions + j] * values[seg_ptr[j] : seg_ptr[j + 1]]
        return out

    def serves(self, mz, width, basis, resolving_power, r_slope, mz_ref, shift, tail=0.0,
               spacing=0.0, tail_slope=0.0) -> bool:  # fmt: skip
        """Whether these columns are those of another spectrum on the same points."""
        return (
            self.basis is basis and self.r == resolving_power and self.r_slope == r_slope
            and self.tail == tail and self.spacing == spacing and self.tail_slope == tail_slope
            and self.mz_ref == mz_ref and self.at is not None
            and abs(shift - self.at) <= REBUILD_PPM
            and (self.mz is mz or (self.mz.shape == mz.shape and np.array_equal(self.mz, mz)))
            and (self.width is width or np.array_equal(self.width, width))
        )  # fmt: skip


class ColumnPool:
    """Columns already built, for the next spectrum fitted on the same points.

    A file's spectra mostly share one m/z grid and their calibration drifts slowly, so the
    columns one spectrum was fitted with serve its neighbour (moved to first order, as within
    one fit) and the R search's few spectra share the columns of each trial R: building them
    costs about as much as a fit. A few entries (different grids or shifts) are kept.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[_Columns] = []

    def columns(self, mz, width, basis, resolving_power, r_slope, mz_ref, shift, tail=0.0,
                spacing=0.0, tail_slope=0.0) -> _Columns:  # fmt: skip
        for entry in self.entries:
            if entry.serves(mz, width, basis, resolving_power, r_slope, mz_ref, shift, tail,
                            spacing, tail_slope):  # fmt: skip
                return entry
        entry = _Columns(mz, width, basis, resolving_power, r_slope, mz_ref, tail, spacing,
                         tail_slope)  # fmt: skip
        self.entries = [entry, *self.entries[: self.size - 1]]
        return entry


def _append_columns(parts, more):
    """Segment columns ``more`` after ``parts`` (both as :func:`kern.build_columns` returns)."""
    starts, ends, seg_ptr, values, deriv = parts
    m_starts, m_ends, m_ptr, m_values, m_deriv = more
    return (
        np.concatenate([starts, m_starts]), np.concatenate([ends, m_ends]),
        np.concatenate([seg_ptr, seg_ptr[-1] + m_ptr[1:]]),
        np.concatenate([values, m_values]), np.concatenate([deriv, m_deriv]),
    )  # fmt: skip


class _SubColumns:
    """The columns of a :class:`_Columns` on a subset of its points (sliced, not rebuilt)."""

    def __init__(self, full: _Columns, use: np.ndarray):
        self.full, self.use, self.r = full, use, full.r
        self.at = None
        self.parts = None

    def get(self, shift: float):
        parts, delta = self.full.get(shift)
        if self.at != self.full.at or self.parts is None:
            self.parts = kern.subset_columns(*parts, self.use)
            self.at = self.full.at
        return self.parts, delta


def _evaluate(columns: _Columns, y, w, shift, passive0, baseline=True, allowed=None):
    (starts, ends, seg_ptr, values, deriv), delta = columns.get(shift)
    gram, rhs = kern.normal_equations(starts, ends, seg_ptr, values, deriv, delta, y, w, baseline)
    if allowed is not None:
        # columns held at zero (ions not detected in this spectrum): a unit row with a zero
        # right-hand side gives them 0 whether or not the active set frees them
        held = np.flatnonzero(~allowed)
        gram[held, :] = 0.0
        gram[:, held] = 0.0
        gram[held, held] = 1.0
        rhs[held] = 0.0
    coef, passive = kern.nnls_gram(gram, rhs, passive0)
    rss, step, model = kern.model_and_shift_step(
        starts, ends, seg_ptr, values, deriv, delta, coef, y, w, baseline
    )
    return coef, passive, rss, step, model


def noise_weights(
    y: np.ndarray, model: np.ndarray, measured: np.ndarray | None = None
) -> np.ndarray:
    """1 / variance per point from the residuals of a first fit.

    Variance model ``s0 + c * model`` (baseline noise plus shot noise, whose scale ``c``
    is fitted too, as intensities need not be ion counts), by least squares on the squared
    residuals; weights are scaled to mean 1. ``measured``: the points whose residuals
    estimate the variance (censored points have none); all when None.
    """
    w = 1.0 / noise_variance(y, model, measured)
    return w / w.mean()


def noise_variance(
    y: np.ndarray, model: np.ndarray, measured: np.ndarray | None = None
) -> np.ndarray:
    """The variance per point of :func:`noise_weights`' model, in counts squared."""
    if measured is not None:
        m_all = np.maximum(model, 0.0)
        r2 = np.square(y - model)[measured]
        m = m_all[measured]
    else:
        r2 = np.square(y - model)
        m = m_all = np.maximum(model, 0.0)
    # 2x2 normal equations by hand (np.linalg here would start BLAS threads: ms per call)
    n, sm, smm, sr, smr = m.size, m.sum(), np.square(m).sum(), r2.sum(), (m * r2).sum()
    det = n * smm - sm * sm
    c = (n * smr - sm * sr) / det if det > 0 else 0.0
    s0 = float((sr - c * sm) / n)
    # The floor is 5 % of the median squared residual, and the median is at most twice the
    # mean (Markov): when s0 is above a tenth of the mean the floor cannot bind, and the
    # median (a partition of every point, the dearest step here) is not needed.
    if s0 < max(0.1 * sr / n, 0.05e-12):
        floor = max(float(np.median(r2)), 1e-12)
        s0 = max(s0, 0.05 * floor)
    c = max(float(c), 0.0)
    return s0 + c * m_all


def coefficient_sd(columns: _Columns, shift: float, coef: np.ndarray, y: np.ndarray,
                   model: np.ndarray, use: np.ndarray, baseline: bool) -> np.ndarray:  # fmt: skip
    """Standard error of each fitted ion abundance (the first ``columns.n_ions`` of ``coef``;
    the spline baseline's columns, when there are, follow them; ``baseline``: the kernels'
    constant baseline column is the last).

    The covariance of a weighted least-squares fit, ``(A' W A)^-1`` with ``W`` one over the
    variance of the spectrum's own noise model (:func:`noise_variance`, baseline plus shot
    noise, fitted to the residuals of the final ``model`` on the points ``use``), over the
    columns with a positive abundance and the baseline, as if the non-negativity bounds were
    not there (the linearised covariance at the fit; the shift is held at its value). A
    column at 0 gets ``1 / sqrt(G_kk)``: its sd with every other column held. Points
    outside ``use`` (censored, left out as unexplained) carry no term.
    """
    variance = noise_variance(y, model, use)
    w = np.ascontiguousarray(np.where(use, 1.0 / variance, 0.0))
    (starts, ends, seg_ptr, values, deriv), delta = columns.get(shift)
    gram, _ = kern.normal_equations(starts, ends, seg_ptr, values, deriv, delta,
                                    np.ascontiguousarray(y, float), w, baseline)  # fmt: skip
    # the ions' and the spline's columns free where positive; the constant baseline always
    n_fitted = columns.n_ions + columns.n_baseline
    free = np.concatenate([coef[:n_fitted] > 0, [True] if baseline else []]).astype(bool)
    return sd_from_gram(gram, free)[: columns.n_ions]



def _gauss_newton(columns, y, w, shift, passive, baseline, max_shift_ppm, max_iter, tol_ppm,
                  allowed=None):  # fmt: skip
    coef, passive, rss, step, model = _evaluate(columns, y, w, shift, passive, baseline, allowed)
    max_step = 0.25e6 / columns.r  # a quarter of the FWHM, in ppm
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - reported
        if abs(step) < tol_ppm:  # the start is converged already (a neighbour's shift)
            n_iter -= 1
            break
        step = float(np.clip(step, -max_step, max_step))
        accepted = False
        for _ in range(6):
            trial = float(np.clip(shift + step, -max_shift_ppm, max_shift_ppm))
            t_coef, t_passive, t_rss, t_step, t_model = _evaluate(
                columns, y, w, trial, passive, baseline, allowed
            )
            if t_rss <= rss * (1 + 1e-12):
                accepted = True
                shift, coef, passive, rss, step = trial, t_coef, t_passive, t_rss, t_step
                model = t_model
                break
            step *= 0.5
        # Converged when the next Gauss-Newton step would be negligible.
        if not accepted or abs(step) < tol_ppm:
            break
    return shift, coef, passive, rss, model, n_iter


def _full_model(columns: _Columns, coef, shift, y, w, baseline) -> np.ndarray:
    (starts, ends, seg_ptr, values, deriv), delta = columns.get(shift)
    return kern.model_and_shift_step(
        starts, ends, seg_ptr, values, deriv, delta, coef, y, w, baseline
    )[2]


def _censored_pass(columns, y, w, shift, passive, args, censored, level, above=None):
    """Gauss-Newton fit with censored points, by an active set on the censored points.

    A censored point costs ``(model - level)^2`` where the model exceeds ``level`` and
    nothing below. Starting from the fit with the censored points at 0 (or from the set
    ``above`` of a previous pass), the censored points whose model exceeds ``level`` are
    fitted to ``level`` and the others get weight 0; the fit is repeated until that set no
    longer changes (a semi-smooth Newton iteration, 2-4 passes). Points of weight 0 do not
    enter the fit, so it runs on the written points and the active censored ones only.
    Returns the intensities as fitted (censored points at ``min(model, level)``), the fit
    (model on every point) and the active set.
    """
    baseline = args[0]
    if censored is None:
        return y, _gauss_newton(columns, y, w, shift, passive, *args), None
    which = np.flatnonzero(censored)
    y = y.copy()
    if above is None:
        result = _gauss_newton(columns, y, w, shift, passive, *args)
        above = result[4][which] > level
    else:
        result = None
    n_iter = 0 if result is None else result[5]
    y[which] = level
    for _ in range(CENSOR_MAX_ITER):
        use = ~censored
        use[which[above]] = True
        sub = _SubColumns(columns, use)
        shift_, coef, passive, rss, _, more = _gauss_newton(
            sub, y[use], w[use], shift if result is None else result[0], passive, *args
        )
        model = _full_model(columns, coef, shift_, y, w, baseline)
        result = (shift_, coef, passive, rss, model, n_iter + more)
        n_iter += more
        now = model[which] > level
        # Done when the points that would change sides carry a negligible part of the cost.
        flips = which[now != above]
        cost = float(np.sum(w[flips] * np.square(model[flips] - level)))
        above = now
        if cost <= CENSOR_TOL * rss:
            break
    y[which] = np.clip(result[4][which], 0.0, level)
    return y, result, above


def _tobit_terms(model, variance, level):
    """Cost, gradient and curvature of the censored points' likelihood, per point.

    A censored point says only "the measurement was below ``level``": with the noise model's
    sd ``s`` its likelihood is ``Phi(z)``, ``z = (level - m) / s``, and its cost
    ``-2 log Phi(z)``. Returned: the cost, and the Newton target and weight of a quadratic
    model ``weight (m - target)^2`` of it at ``m`` (curvature ``lambda (z + lambda) / s^2``
    with ``lambda = phi / Phi``, the inverse Mills ratio, in (0, 1 / s^2]), and the
    majorising one (weight ``1 / s^2``, target ``m - s lambda``: the curvature never exceeds
    it, so that step never raises the cost).
    """
    from scipy.special import log_ndtr

    sd = np.sqrt(np.maximum(variance, 1e-300))
    z = (level - model) / sd
    log_cdf = log_ndtr(z)
    mills = np.exp(-0.5 * z * z - 0.5 * np.log(2.0 * np.pi) - log_cdf)
    curvature = np.clip(mills * (z + mills), 1e-12, 1.0)
    newton_target = model - sd * mills / curvature
    newton_weight = curvature / np.square(sd)
    return -2.0 * log_cdf, (newton_target, newton_weight), (model - sd * mills, 1.0 / sd**2)


def _tobit_pass(columns, y, model, shift, passive, args, censored, level, excluded=None,
                allowed=None):  # fmt: skip
    """Gauss-Newton fit in which each censored point costs what its likelihood says.

    Censoring "free below the detection level" (:func:`_censored_pass`, ``gaps:
    censor_free``) lets an ion with no written point take any amplitude whose peaks stay
    under the level: each such ion is small, but dozens of them hold tens of percent of a
    sparse spectrum's signal (the signal that normalisation then takes from the ions that
    are there). Here a censored point whose model is near the level pays
    ``-2 log Phi((level - m) / s)`` with ``s`` from the spectrum's own noise model (fitted to
    the written points' residuals, :func:`noise_variance`), so many censored points that
    the model puts near the level are as unlikely as the data say; the wings of real peaks,
    far below the level, cost next to nothing (Tobit regression). Solved by Newton steps
    (:func:`_tobit_terms`), each a weighted NNLS with the shift, with a majorise-minimise
    step instead where a Newton step would raise the cost: the cost is convex in the
    abundances, so the solution does not depend on the start (the QC figure's refit and the
    run's fit agree). ``excluded``: written points left out (the robust pass's unexplained
    points); ``allowed``: the columns that may take signal (:func:`detected_columns`).

    Returns the intensities as fitted (censored points at ``min(model, level)``) and the fit
    tuple of :func:`_gauss_newton`.
    """
    written = ~censored
    fit_points = written if excluded is None else written & ~excluded
    # The noise model comes from the residuals of the model it weights: re-estimated from
    # each round's fit until it settles, so that the result does not depend on the start.
    result, n_iter, used = None, 0, None
    for _ in range(NOISE_ROUNDS):
        variance = noise_variance(np.where(censored, np.minimum(model, level), y), model,
                                  fit_points)  # fmt: skip
        if used is not None and np.max(np.abs(variance / used - 1.0)) < NOISE_SETTLED:
            break
        used = variance
        result, more = _tobit_fit(columns, y, model, variance, shift, passive, args, censored,
                                  level, fit_points, allowed)  # fmt: skip
        shift, _, passive, _, model, _ = result
        n_iter += more
    y_fit = y.copy()
    which = np.flatnonzero(censored)
    y_fit[which] = np.clip(result[4][which], 0.0, level)
    shift, coef, passive, rss, model, _ = result
    return y_fit, (shift, coef, passive, rss, model, n_iter)


def _tobit_fit(columns, y, model, variance, shift, passive, args, censored, level, fit_points,
               allowed):  # fmt: skip
    """:func:`_tobit_pass` at a fixed noise variance: Newton / majorise-minimise steps."""
    which = np.flatnonzero(censored)
    w_written = np.where(fit_points, 1.0 / variance, 0.0)
    scale = 1.0 / w_written[fit_points].mean()

    def objective(m):
        resid = (y - m)[fit_points]
        cost = _tobit_terms(m[which], variance[which], level)[0]
        return float(np.sum(resid * resid / variance[fit_points]) + cost.sum())

    # The start (the first pass's model, or one with columns since held at 0) need not be
    # reachable: the first step takes the better of the two, later steps must descend.
    result, n_iter, current = None, 0, np.inf
    target, w = y.copy(), w_written * scale
    for _ in range(TOBIT_MAX_ITER):
        _, newton, majorant = _tobit_terms(model[which], variance[which], level)
        trials = []
        for target[which], weight in (newton, majorant):
            w[which] = weight * scale
            trial = _gauss_newton(columns, target, w, shift, passive, *args, allowed=allowed)
            trials.append((objective(trial[4]), trial))
            if trials[-1][0] <= current:
                break
        value, step = min(trials, key=lambda t: t[0])
        if value > current:  # neither lowers the cost: converged to rounding
            break
        n_iter += step[5]
        shift, _, passive, _, model, _ = step
        result, previous, current = step, current, value
        if previous - current <= TOBIT_TOL * max(current, 1.0):
            break
    return result, n_iter


def detected_columns(columns: _Columns, coef, shift, y, model, written, level) -> np.ndarray:
    """Which columns (ion forms) the written points of a sparse spectrum show.

    An ion form is detected when at some written point its own contribution reaches
    ``DETECTION_OWN_LEVEL`` of the detection level and at least ``DETECTION_OWN_SHARE`` of
    the ions' model there (the baseline not counted: a weak ion on a high background is
    still the only ion there): the point is one the ion itself put above the level. An ion
    form whose peaks all stay far below the detection level, or that only shares written
    points with stronger ions (a dimer's integer peaks under its monomer's), is not in the
    data: the likelihood of the censored points (:func:`_tobit_pass`) pushes such ions down,
    but leaves each a little signal, and dozens of them add up under normalisation. They
    are held at 0 (what no written point shows reads 0: the detection floor).
    """
    (starts, ends, seg_ptr, values, deriv), delta = columns.get(shift)
    n_cols = columns.n_ions
    detected = np.zeros(n_cols, bool)
    floor = DETECTION_OWN_LEVEL * level
    ions = model - columns.baseline(coef)
    for k in np.flatnonzero(coef[:n_cols] > 0):
        lo, hi, at = starts[k], ends[k], seg_ptr[k]
        own = coef[k] * (values[at : at + hi - lo] + delta * deriv[at : at + hi - lo])
        here = written[lo:hi] & (own >= floor) & (own >= DETECTION_OWN_SHARE * ions[lo:hi])
        if here.any() and own.max() <= ALIGN_MAX_LEVEL * level:
            # what the data leave for this ion: data minus the other ions and the baseline
            left = y[lo:hi] - model[lo:hi] + own
            detected[k] = aligned(own, coef[k] * deriv[at : at + hi - lo], left, written[lo:hi],
                                  columns.r)  # fmt: skip
        else:
            detected[k] = bool(here.any())
    return detected


def aligned(own, own_deriv, left, written, resolving_power) -> bool:
    """Whether the signal a weak ion form takes sits on its own peaks, not beside them.

    On the cores of its peaks (its own contribution at least half its largest), what the
    data leave for the ion (``left``) is fitted as ``a own + b d own/d shift``; ``b / a`` is
    the shift (ppm) that would align the ion with what it explains. An unlisted ion whose
    peaks sit a fraction of a FWHM beside a weak listed one's (a contaminant cluster 1 Th
    apart, offset in m/z) lends the listed one its flanks; that signal sits off the listed
    ion's centroids (the linear estimate reads about 0.25 FWHM for a peak 0.6 FWHM away),
    while a real ion's, after the spectrum's calibration shift, sits on them (under 0.05
    FWHM on the independent generator's runs). Ions beyond ``ALIGN_MAX_LEVEL`` detection
    levels are not judged: a strong ion off its m/z is a calibration problem to report.
    """
    core = written & (own >= 0.5 * own.max())
    if core.sum() < 3:
        return True
    (a, b), *_ = np.linalg.lstsq(np.column_stack([own[core], own_deriv[core]]), left[core],
                                 rcond=None)  # fmt: skip
    return bool(a > 0 and abs(b / a) <= ALIGN_FWHM * 1e6 / resolving_power)


def listed_points(columns: _Columns, shift: float, coef: np.ndarray) -> np.ndarray:
    """The points at the m/z of the listed ion forms the fit finds present (``coef`` > 0):
    where such a column reaches ``LISTED_REACH`` of its own largest value (its significant
    isotope peaks). An ion form the fit gives nothing has no signal there to lose, and a
    peak at its m/z may be an unknown ion's."""
    (starts, ends, seg_ptr, values, _), _ = columns.get(shift)
    listed = np.zeros(columns.mz.size, bool)
    for k in np.flatnonzero(coef[: columns.n_ions] > 0):
        seg = values[seg_ptr[k] : seg_ptr[k + 1]]
        if seg.size:
            listed[starts[k] : ends[k]] |= seg >= LISTED_REACH * seg.max()
    return listed


def unexplained_points(y, model, variance, measured=None) -> np.ndarray:
    """Points whose signal no column explains: far above the noise model and the model.

    A point is flagged when its residual exceeds ``ROBUST_Z`` noise sds and ``ROBUST_REL``
    of the model there; each flagged region then grows over its neighbours whose residual
    exceeds ``ROBUST_GROW_Z`` sds (the flanks of an unexplained peak).
    """
    resid = y - model
    sd = np.sqrt(np.maximum(variance, 1e-300))
    seed = (resid > ROBUST_Z * sd) & (resid > ROBUST_REL * np.maximum(model, 0.0))
    grow = resid > ROBUST_GROW_Z * sd
    if measured is not None:
        seed &= measured
        grow &= measured
    if not seed.any():
        return seed
    # grow each seed over the contiguous run of "grow" points that contains it
    run_id = np.cumsum(np.concatenate([[1], (grow[1:] != grow[:-1]).astype(np.int64)]))
    hit = np.unique(run_id[seed])
    return (np.isin(run_id, hit) & grow) | seed


def _unexplained_summary(mz, y, model, flagged, baseline):
    """Part of the signal above the baseline (a constant or per point) in flagged points,
    and the largest features."""
    excess = np.where(flagged, np.maximum(y - model, 0.0), 0.0)
    total = float(np.maximum(y - baseline, 0.0).sum())
    fraction = float(excess.sum() / total) if total > 0 else 0.0
    if not flagged.any():
        return fraction, ()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flagged.astype(np.int8), [0]])))
    features = []
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        k = lo + int(np.argmax(excess[lo:hi]))
        features.append((float(mz[k]), float(excess[lo:hi].sum())))
    # features closer than 3 Th are one cluster (its isotope peaks): keep the largest
    features.sort(key=lambda f: -f[1])
    kept: list[tuple[float, float]] = []
    for f in features:
        near = [i for i, g in enumerate(kept) if abs(g[0] - f[0]) < 3.0]
        if near:
            g = kept[near[0]]
            kept[near[0]] = (g[0], g[1] + f[1])
        else:
            kept.append(f)
    kept.sort(key=lambda f: -f[1])
    return fraction, tuple(kept[:N_UNEXPLAINED_FEATURES])


def fit_spectrum(
    mz: np.ndarray,
    y: np.ndarray,
    basis: PatternBasis,
    resolving_power: float,
    shift0: float = 0.0,
    max_shift_ppm: float | None = None,
    passive0: np.ndarray | None = None,
    max_iter: int = 12,
    tol_ppm: float = 0.01,
    width: np.ndarray | None = None,
    fit_baseline: bool = True,
    weighted: bool = True,
    censored: np.ndarray | None = None,
    detection_level: float = 0.0,
    r_slope: float = 0.0,
    mz_ref: float = 0.0,
    robust: bool | None = None,
    pool: ColumnPool | None = None,
    censor_cost: str = "likelihood",
    tail: float = 0.0,
    baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> SpectrumFit:
    """NNLS abundances with the calibration shift fitted by variable projection.

    With ``weighted`` a second pass weights every point by 1 / its noise variance, from a
    variance model (baseline + shot noise) fitted to the first pass's residuals.
    ``censored``: points known only to lie in ``[0, detection_level]`` (gaps of a sparse
    profile, see :func:`prepare_spectrum`); both passes and the shift fit treat them so.
    ``censor_cost``: what a censored point costs in the weighted passes: ``"likelihood"``
    (``-2 log Phi((level - model) / sd)``, :func:`_tobit_pass`) or ``"free"`` (nothing
    below the level, :func:`_censored_pass`; the former treatment, ``gaps: censor_free``).
    ``r_slope``, ``mz_ref``: the resolving power varies linearly with m/z
    (:func:`intercluster._deconv_kernels.build_columns`). ``robust`` (with ``weighted``):
    points that no column explains (:func:`unexplained_points`: peaks of ions the basis does
    not hold) get weight 0 and the fit is repeated, up to ``ROBUST_PASSES`` times, so that
    such peaks are not absorbed into the species; their signal is reported as
    ``unexplained_fraction``. ``tail``: EMG peaks with this tail (tau / sigma; 0: Gaussian,
    :func:`intercluster._deconv_kernels.peak_value`). ``baseline_spacing`` > 0 (with
    ``fit_baseline``): the baseline is a non-negative cubic B-spline with knots this many Th
    apart (:func:`baseline_columns`), fitted with the abundances; 0: a constant.

    Gauss-Newton on the shift for the NNLS solution (Kaufman's approximation), each step
    accepted only if it lowers the residual (else halved). Columns are rebuilt only when
    the shift moves by more than ``REBUILD_PPM`` from where they were built. ``pool``: take
    the columns from there when another spectrum on the same points left them (and leave
    these there). ``max_shift_ppm``: ``None`` is the schema's ``deconvolution.max_shift_ppm``
    (``DeconvolutionSettings.schema_default()``), as for every keyword of this module that
    names a setting.
    """
    mz = np.ascontiguousarray(mz, float)
    y = np.ascontiguousarray(y, float)
    if censored is not None and not censored.any():
        censored = None
    if width is None:
        width = point_spacing(mz)
    if max_shift_ppm is None:
        max_shift_ppm = DeconvolutionSettings.schema_default().max_shift_ppm
    shift = float(np.clip(shift0, -max_shift_ppm, max_shift_ppm))
    r, r_slope, mz_ref = float(resolving_power), float(r_slope), float(mz_ref)
    spacing = float(baseline_spacing) if fit_baseline else 0.0
    if pool is None:
        columns = _Columns(mz, width, basis, r, r_slope, mz_ref, tail, spacing, tail_slope)
    else:
        columns = pool.columns(mz, width, basis, r, r_slope, mz_ref, shift, tail, spacing,
                               tail_slope)  # fmt: skip
    # the kernels' own constant column, unless the spline columns are the baseline
    constant = fit_baseline and spacing <= 0
    m = basis.n_cols + (1 if constant else 0) + columns.n_baseline
    passive = np.ones(m, bool) if passive0 is None or passive0.size != m else passive0.copy()
    w = np.ones_like(y)
    args = (constant, max_shift_ppm, max_iter, tol_ppm)
    # Before a weighted pass the first one only sets the noise model: its shift need not be
    # converged to the last hundredth of a ppm (the weighted pass fits it to ``tol_ppm``).
    first = (constant, max_shift_ppm, max_iter, FIRST_PASS_TOL_PPM) if weighted else args
    level = float(detection_level)
    y_fit, (shift, coef, passive, rss, model, n_iter), above = _censored_pass(
        columns, y, w, shift, passive, first, censored, level
    )
    likelihood = censored is not None and censor_cost == "likelihood"
    allowed, not_detected = None, (0, 0.0)
    if weighted and likelihood:
        y_fit, (shift, coef, passive, rss, model, n_more) = _tobit_pass(
            columns, y, model, shift, passive, args, censored, level
        )
        n_iter += n_more
        allowed = detected_columns(columns, coef, shift, y, model, ~censored, level)
        allowed |= coef[: basis.n_cols] <= 0  # nothing to hold where there is no signal
        held = coef[: basis.n_cols][~allowed].sum()
        total = coef[: basis.n_cols].sum()
        not_detected = (int((~allowed).sum()), float(held / total) if total > 0 else 0.0)
        if not allowed.all():
            y_fit, (shift, coef, passive, rss, model, n_more) = _tobit_pass(
                columns, y, model, shift, passive, args, censored, level, allowed=allowed
            )
            n_iter += n_more
    elif weighted:
        measured = None if censored is None else ~censored
        w = noise_weights(y_fit, model, measured)
        y_fit, (shift, coef, passive, rss, model, n_more), above = _censored_pass(
            columns, y_fit, w, shift, passive, args, censored, level, above
        )
        n_iter += n_more
    flagged = np.zeros(y.size, bool)
    if robust is None:
        robust = DeconvolutionSettings.schema_default().robust
    listed_misfit = 0.0
    if robust and weighted:
        measured = np.ones(y.size, bool) if censored is None else ~censored
        # a residual at the m/z of an ion form the system lists is a misfit of that ion (R,
        # shape, calibration), reported, never signal to leave out
        listed = listed_points(columns, shift, coef)
        for _ in range(ROBUST_PASSES):
            variance = noise_variance(y_fit, model, measured & ~flagged)
            candidates = unexplained_points(y_fit, model, variance, measured)
            listed_misfit = _unexplained_summary(mz, y_fit, model, candidates & listed,
                                                 columns.baseline(coef))[0]  # fmt: skip
            now = (candidates & ~listed) | flagged
            if np.array_equal(now, flagged):
                break
            flagged = now
            if likelihood:
                y_fit, (shift, coef, passive, rss, model, n_more) = _tobit_pass(
                    columns, y, model, shift, passive, args, censored, level, flagged, allowed
                )
                n_iter += n_more
                continue
            w_robust = np.where(flagged, 0.0, 1.0 / variance)
            w_robust /= w_robust[~flagged].mean()
            y_fit, (shift, coef, passive, rss, model, n_more), above = _censored_pass(
                columns, y_fit, w_robust, shift, passive, args, censored, level, above
            )
            n_iter += n_more
    base = columns.baseline(coef)
    unexplained, features = _unexplained_summary(mz, y_fit, model, flagged, base)
    use = ~flagged if censored is None else ~flagged & ~censored
    coef_sd = coefficient_sd(columns, shift, coef, y_fit, model, use, constant)
    rss = float(np.square(y_fit - model).sum())  # unweighted, for the QC
    y_norm = float(np.sqrt(np.square(y_fit).sum()))  # not np.dot: BLAS threads cost ms here
    base_sum = float(np.sum(base)) if spacing > 0 else float(base) * y.size
    model_sum = float(np.sum(model))
    return SpectrumFit(
        coef=coef[: basis.n_cols].copy(),
        baseline=base_sum / max(y.size, 1),
        baseline_model="spline" if spacing > 0 else "constant",
        baseline_coef=coef[basis.n_cols :].copy() if spacing > 0 else None,
        baseline_spacing=spacing,
        baseline_fraction=base_sum / model_sum if model_sum > 0 else 0.0,
        peak_shape="emg" if tail >= kern.MIN_TAIL else "gaussian",
        peak_tail=float(tail) if tail >= kern.MIN_TAIL else 0.0,
        peak_tail_slope=float(tail_slope) if tail >= kern.MIN_TAIL else 0.0,
        shift_ppm=shift,
        resolving_power=float(resolving_power),
        rss=float(rss),
        residual_norm=float(np.sqrt(max(rss, 0.0)) / y_norm) if y_norm > 0 else float("nan"),
        n_iter=n_iter,
        passive=passive,
        resolving_power_slope=float(r_slope),
        mz_ref=float(mz_ref),
        unexplained_fraction=unexplained,
        unexplained_features=features,
        listed_misfit_fraction=listed_misfit,
        ions_not_detected=not_detected[0],
        not_detected_fraction=not_detected[1],
        coef_sd=coef_sd,
    )


def fit_prepared(
    spectrum: PreparedSpectrum,
    basis: PatternBasis,
    resolving_power: float,
    shift0: float = 0.0,
    max_shift_ppm: float | None = None,
    passive0: np.ndarray | None = None,
    weighted: bool = True,
    r_slope: float = 0.0,
    mz_ref: float = 0.0,
    robust: bool | None = None,
    pool: ColumnPool | None = None,
    tail: float = 0.0,
    baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> SpectrumFit:
    """:func:`fit_spectrum` of a :class:`PreparedSpectrum`, with its sampling in the QC."""
    fit = fit_spectrum(
        spectrum.mz, spectrum.y, basis, resolving_power, shift0, max_shift_ppm, passive0,
        width=spectrum.width, weighted=weighted, censored=spectrum.censored,
        detection_level=spectrum.detection_level, r_slope=r_slope, mz_ref=mz_ref,
        robust=robust, pool=pool,
        censor_cost="free" if spectrum.gaps == "censor_free" else "likelihood",
        tail=tail, baseline_spacing=baseline_spacing, tail_slope=tail_slope,
    )  # fmt: skip
    fit.mode, fit.coverage = spectrum.mode, spectrum.coverage
    fit.detection_level, fit.n_points = spectrum.detection_level, spectrum.n_points
    return fit


def scan_shift(
    spectrum: PreparedSpectrum, basis, resolving_power, max_shift_ppm=None, step_ppm=None,
    r_slope: float = 0.0, mz_ref: float = 0.0, tail: float = 0.0, baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> float:  # fmt: skip
    """Coarse start for the shift: the grid point of least NNLS residual, then refined.

    The coarse scan takes censored points as zeros; the refinement treats them as censored.
    """
    mz, y, width = spectrum.mz, spectrum.y, spectrum.width
    if step_ppm is None:
        # An eighth of the FWHM: the residual is unimodal in the shift within about one
        # FWHM (the next minimum is an isotope spacing, > 100 ppm, away).
        step_ppm = 0.125e6 / resolving_power
    if max_shift_ppm is None:
        max_shift_ppm = DeconvolutionSettings.schema_default().max_shift_ppm
    grid = np.arange(-max_shift_ppm, max_shift_ppm + 1e-9, step_ppm)
    passive = np.ones(basis.n_cols + 1, bool)
    best, best_rss = 0.0, np.inf
    # the coarse scan on a constant baseline (a start only); the refinement on the fit's own
    columns = _Columns(mz, width, basis, float(resolving_power), r_slope, mz_ref, tail,
                       tail_slope=tail_slope)  # fmt: skip
    ones = np.ones_like(y)
    for shift in grid:
        _, passive, rss, _, _ = _evaluate(columns, y, ones, float(shift), passive)
        if rss < best_rss:
            best, best_rss = float(shift), rss
    return fit_prepared(spectrum, basis, resolving_power, best, max_shift_ppm,
                        weighted=False, r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                        baseline_spacing=baseline_spacing,
                        tail_slope=tail_slope).shift_ppm  # fmt: skip


def _charges_unresolved(basis: PatternBasis, resolving_power: float, mz_ref: float) -> bool:
    """Whether the peaks of the second-lowest charge state fall unresolved between those of
    the lowest (a dimer's half-integer peaks between its monomer's): FWHM at ``mz_ref`` above
    ``UNRESOLVED_FWHM`` of that charge's isotope spacing. Only then can the R search trade R
    against the split of the two (:func:`single_charge_part`)."""
    if "charge" not in basis.labels:
        return False
    charges = np.unique(np.abs(basis.labels["charge"].to_numpy(int)))
    if charges.size < 2:
        return False
    spacing = 1.00335 / charges[1]  # the 13C-12C mass difference over the charge
    return mz_ref / resolving_power > UNRESOLVED_FWHM * spacing


def single_charge_part(
    spectrum: PreparedSpectrum, basis: PatternBasis, resolving_power: float, shift: float,
    coef: np.ndarray | None = None,
) -> PreparedSpectrum:  # fmt: skip
    """The points of a spectrum that ions of one charge state alone cover, for the R search.

    Where ions of different charge overlap (a monomer [A_m B_(N-m)]- and the dimer
    [A_2m B_(2N-2m)]2- at the same m/z), a narrower peak model can be made up by the other
    charge's peaks between the first one's: at low resolving power the R search then trades
    R against the monomer/dimer split (R 3 % high at R 12000, the dimers too high). On points
    that one charge covers (the odd dimers lie between the monomers) the peak shape alone
    sets R. Falls back to the whole spectrum when such points hold less than
    ``SINGLE_CHARGE_MIN_SHARE`` of the columns' reach or the basis has one charge only.
    ``coef``: a first fit's abundances; only the ion forms it finds present (above
    ``SINGLE_CHARGE_PRESENT`` of the largest) count, so that listed ion forms absent from
    the data (trimers in a file without them) do not take points away.
    """
    charges = np.abs(basis.labels["charge"].to_numpy(int)) if "charge" in basis.labels else None
    if charges is None or np.unique(charges).size < 2:
        return spectrum
    starts, ends, seg_ptr, values, _ = kern.build_columns(
        spectrum.mz, spectrum.width, basis.peak_mz, basis.peak_prob, basis.col_ptr,
        float(shift), float(resolving_power), N_SIGMA,
    )  # fmt: skip
    present = np.zeros(spectrum.mz.size, np.int64)  # bit per charge state with signal there
    counted = np.ones(basis.n_cols, bool)
    if coef is not None and np.max(coef[: basis.n_cols]) > 0:
        counted = coef[: basis.n_cols] > SINGLE_CHARGE_PRESENT * np.max(coef[: basis.n_cols])
    for k in np.flatnonzero(counted):
        seg = values[seg_ptr[k] : seg_ptr[k + 1]]
        if seg.size == 0:
            continue
        reach = seg > SINGLE_CHARGE_REACH * seg.max()
        present[starts[k] : ends[k]][reach] |= 1 << int(charges[k])
    covered = present > 0
    single = covered & ((present & (present - 1)) == 0)
    if single.sum() < SINGLE_CHARGE_MIN_SHARE * covered.sum():
        return spectrum
    return PreparedSpectrum(
        spectrum.mz[single], spectrum.y[single], spectrum.width[single],
        None if spectrum.censored is None else spectrum.censored[single],
        spectrum.detection_level, spectrum.coverage, int(single.sum()), spectrum.mode,
        spectrum.gaps, None if spectrum.written is None else spectrum.written[single],
    )  # fmt: skip


class _SummedRss:
    """The summed unweighted RSS of a set of spectra at one peak model (the cost of the
    one-dimensional searches of R, its slope and the tail): each spectrum's fit starts from
    the shift its previous fit found, and spectra on one m/z grid share the columns of a
    trial model (:class:`ColumnPool`)."""

    def __init__(self, spectra, basis: PatternBasis, shift0: float, max_shift_ppm):
        self.spectra, self.basis, self.max_shift_ppm = spectra, basis, max_shift_ppm
        self.shifts = [shift0] * len(spectra)
        self.pool = ColumnPool()

    def __call__(self, resolving_power: float, **model) -> float:
        total = 0.0
        for n, spectrum in enumerate(self.spectra):
            fit = fit_prepared(
                spectrum, self.basis, resolving_power, self.shifts[n], self.max_shift_ppm,
                weighted=False, pool=self.pool, **model,
            )  # fmt: skip
            self.shifts[n] = fit.shift_ppm
            total += fit.rss
        return total


def fit_resolving_power(
    spectra: list[PreparedSpectrum],
    basis: PatternBasis,
    guess: float,
    shift0: float,
    max_shift_ppm: float | None = None,
    rel_range: tuple[float, float] = R_START_RANGE,
    tol_rel: float = R_TOL,
    r_slope: float = 0.0,
    mz_ref: float = 0.0,
    tail: float = 0.0,
    baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> float:
    """One resolving power for a set of spectra: Brent's search on log R of the summed RSS.

    ``r_slope``, ``mz_ref``: R varies linearly with m/z (R is then the value at ``mz_ref``).
    The spectra on one m/z grid share the columns of each trial R (:class:`ColumnPool`).
    """
    rss = _SummedRss(spectra, basis, shift0, max_shift_ppm)

    def cost(log_r: float) -> float:
        return rss(float(np.exp(log_r)), r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                   baseline_spacing=baseline_spacing, tail_slope=tail_slope)  # fmt: skip

    a, b = np.log(guess * rel_range[0]), np.log(guess * rel_range[1])
    return float(np.exp(_minimise(cost, a, b, tol_rel)))


def fit_resolving_power_slope(
    spectra: list[PreparedSpectrum],
    basis: PatternBasis,
    resolving_power: float,
    shift0: float,
    mz_ref: float,
    max_shift_ppm: float | None = None,
    slope_range: tuple[float, float] = SLOPE_RANGE,
    tol: float = SLOPE_TOL,
    tail: float = 0.0,
    baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> float:
    """The relative change of R per 1000 Th about ``mz_ref``: Brent's search of the RSS."""
    rss = _SummedRss(spectra, basis, shift0, max_shift_ppm)

    def cost(slope: float) -> float:
        return rss(resolving_power, r_slope=slope, mz_ref=mz_ref, tail=tail,
                   baseline_spacing=baseline_spacing, tail_slope=tail_slope)  # fmt: skip

    return _minimise(cost, float(slope_range[0]), float(slope_range[1]), tol)


def summed_rss(spectra, basis, resolving_power, shift0, max_shift_ppm=None, r_slope=0.0,
               mz_ref=0.0, tail=0.0, baseline_spacing=0.0, tail_slope=0.0) -> float:  # fmt: skip
    """The unweighted residual sum of squares of ``spectra`` at one peak model."""
    return float(sum(
        fit_prepared(sp, basis, resolving_power, shift0, max_shift_ppm, weighted=False,
                     r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                     baseline_spacing=baseline_spacing, tail_slope=tail_slope).rss
        for sp in spectra
    ))  # fmt: skip


def fit_tail(
    spectra: list[PreparedSpectrum],
    basis: PatternBasis,
    resolving_power: float,
    shift0: float,
    max_shift_ppm: float | None = None,
    r_slope: float = 0.0,
    mz_ref: float = 0.0,
    tail_range: tuple[float, float] = TAIL_RANGE,
    baseline_spacing: float = 0.0,
    tail_slope: float = 0.0,
) -> float:
    """The EMG tail constant (tau / sigma) of a set of spectra: Brent's search on the summed
    RSS at a constant peak width.

    ``resolving_power``: m/z over the peaks' FWHM. A tail widens the peak, so at a fixed
    core R the search would trade the tail against R (a Gaussian fit has already widened
    its peaks to take the tail): each trial tail ``t`` gets the core R that keeps the FWHM
    (``R emg_fwhm(t)``, :func:`emg_fwhm`); R is refined afterwards (:func:`fit_peak_shape`).
    """
    rss = _SummedRss(spectra, basis, shift0, max_shift_ppm)

    def cost(tail: float) -> float:
        return rss(resolving_power * emg_fwhm(tail), r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                   baseline_spacing=baseline_spacing, tail_slope=tail_slope)  # fmt: skip

    return _minimise(cost, float(tail_range[0]), float(tail_range[1]), TAIL_TOL)


def _tail_slope_cost(rss, resolving_power, model, tail_slope):
    return rss(resolving_power, tail_slope=tail_slope, **model)


def fit_tail_slope(pick, basis, resolving_power, tail, shift0, max_shift_ppm, r_slope, mz_ref,
                   spacing, fit_r_slope: bool) -> tuple[float, float, float, float]:  # fmt: skip
    """``tail_model: linear``: the EMG tail linear in m/z, ``tail (1 + tail_slope (m/z - mz_ref)
    / 1000)``, on the spectra the tail was fitted on (:func:`fit_peak_shape`).

    The slope is searched (Brent, ``TAIL_SLOPE_RANGE``) at the file's R and tail; a tail that
    grows with m/z widens the peaks there as a falling R does, so with ``fit_r_slope`` (R
    linear in m/z) R's slope is searched again, then the tail at ``mz_ref`` (at a constant
    peak width, :func:`fit_tail`) and R, alternating until no round moves them by more than
    their tolerances. Returns (R, R's slope, tail, tail slope).
    """
    rss = _SummedRss(pick, basis, shift0, max_shift_ppm)
    common = {"mz_ref": mz_ref, "baseline_spacing": spacing}
    r, slope_t = resolving_power, 0.0
    for _ in range(TAIL_ROUNDS):
        model = {"r_slope": r_slope, "tail": tail, **common}
        new_slope_t = _minimise(functools.partial(_tail_slope_cost, rss, r, model),
                                *TAIL_SLOPE_RANGE, TAIL_SLOPE_TOL)  # fmt: skip
        new_r_slope = r_slope
        if fit_r_slope:
            new_r_slope = fit_resolving_power_slope(pick, basis, r, shift0, mz_ref, max_shift_ppm,
                                                    (r_slope - 0.1, r_slope + 0.1), tail=tail,
                                                    baseline_spacing=spacing,
                                                    tail_slope=new_slope_t)  # fmt: skip
        # the tail at mz_ref at the width of the current peak (m/z over its FWHM)
        lo, hi = max(TAIL_RANGE[0], 0.5 * tail), min(TAIL_RANGE[1], 1.5 * tail)
        new_tail = fit_tail(pick, basis, r / emg_fwhm(tail), shift0, max_shift_ppm,
                            r_slope=new_r_slope, tail_range=(lo, hi), tail_slope=new_slope_t,
                            **common)  # fmt: skip
        new_r = r * emg_fwhm(new_tail) / emg_fwhm(tail)
        new_r = fit_resolving_power(pick, basis, new_r, shift0, max_shift_ppm, (0.95, 1.05),
                                    r_slope=new_r_slope, tail=new_tail, tail_slope=new_slope_t,
                                    **common)  # fmt: skip
        settled = (abs(new_slope_t - slope_t) < 2 * TAIL_SLOPE_TOL
                   and abs(new_r_slope - r_slope) < SLOPE_TOL
                   and abs(new_tail - tail) < 2 * TAIL_TOL
                   and abs(np.log(new_r / r)) < R_TOL)  # fmt: skip
        r, r_slope, tail, slope_t = new_r, new_r_slope, new_tail, new_slope_t
        if settled:
            break
    log.info("peak tail %.3f sd at m/z %.0f, %+.3f per 1000 Th (R %.0f, slope %+.3f)", tail,
             mz_ref, slope_t, r, r_slope)  # fmt: skip
    return r, r_slope, tail, slope_t


def _minimise(cost, a: float, b: float, tol: float) -> float:
    """Minimum of a unimodal ``cost`` on [a, b] to within ``tol``/2 (a golden-section bracket
    of width ``tol`` has its centre as close). Brent's method: golden-section steps where
    the cost is not parabolic, parabolic ones near the minimum of these smooth RSS curves,
    which takes about half the evaluations of golden section alone."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(cost, bounds=(a, b), method="bounded", options={"xatol": 0.5 * tol})
    return float(result.x)


def _representative(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def _start_resolving_power(mz, intensity, guess: float) -> float:
    """Where the R search starts: the guess, or the R the peaks show when it is far off.

    The search covers ``R_START_RANGE`` times its start; a smaller instrument (R 12000 against the
    25000 guess) would leave the truth outside it and the slope of R(m/z) would make up the
    difference. The median m/z / FWHM of the spectrum's strongest peaks
    (:func:`intercluster.ingest.peak_shapes`) replaces a guess more than
    ``R_GUESS_TOLERANCE`` off it, with a warning that names the key to set.
    """
    shape = peak_shapes(mz, intensity)
    measured = shape.resolving_power if shape is not None else float("nan")
    if not np.isfinite(measured) or abs(np.log(measured / guess)) <= np.log(R_GUESS_TOLERANCE):
        return guess
    log.warning("the peaks show a resolving power of %.0f, %.0f %% off "
                "deconvolution.resolving_power_guess (%.0f): the R search starts there (set "
                "the guess near it to silence this)", measured,
                100 * (measured / guess - 1), guess)  # fmt: skip
    return float(measured)


def baseline_spacing(basis: PatternBasis) -> float:
    """Knot spacing (Th) of the spline baseline: ``BASELINE_KNOT_ENVELOPES`` isotope-envelope
    sds of the basis' widest pattern. A cubic B-spline on it is 4 spacings wide (sd 0.58
    spacing, about 29 envelope sds), so no combination of the splines can take an ion's
    pattern (its isotope peaks 1/z Th apart within a few envelope sds), while a background
    hump a few hundred Th wide is followed (knots 40 and 60 envelope sds apart gave the same
    intensities on the 2 % hump of sd 300 Th of the tests)."""
    return BASELINE_KNOT_ENVELOPES * basis.envelope_sd


@functools.lru_cache(maxsize=4096)
def _emg_fwhm_cached(tail: float) -> float:
    from scipy.optimize import brentq, minimize_scalar

    if tail < kern.MIN_TAIL:
        return 1.0
    value = lambda u: kern.peak_value(u, tail)[0]  # noqa: E731
    # the mode lies between the core's centre and one tail constant after it
    top = minimize_scalar(lambda u: -value(u), bounds=(-0.5, tail + 1.0), method="bounded",
                          options={"xatol": 1e-9}).x  # fmt: skip
    half = 0.5 * value(top)
    left = brentq(lambda u: value(u) - half, top - 10.0, top)
    right = brentq(lambda u: value(u) - half, top, top + 10.0 + 30.0 * tail)
    return float((right - left) / (2.0 * np.sqrt(2.0 * np.log(2.0))))


def emg_fwhm(tail: float) -> float:
    """FWHM of an EMG peak with this tail (tau / sigma) over the FWHM of its Gaussian core
    (1 at tail 0). Numerical (the EMG's half-maximum points have no closed form); rounded
    to 1e-4 in the tail so that a search's trial values share the cache."""
    return _emg_fwhm_cached(round(float(tail), 4))


def fit_peak_shape(pick, basis, r_gauss, shift0, settings, fit_r, slope, mz_ref, spacing):
    """The EMG tail of a file and the R of its Gaussian core (``peak_shape`` emg / auto).

    The tail and R are correlated (a tail widens the peak): searched in turn
    (:func:`fit_tail`, :func:`fit_resolving_power`) on the spectra the R search used, until
    neither moves by more than its tolerance. ``auto`` keeps the Gaussian (tail 0 and
    ``r_gauss``) unless the EMG lowers the summed RSS by ``AUTO_MARGIN``. Returns (R, tail).
    """
    common = {"r_slope": slope, "mz_ref": mz_ref, "baseline_spacing": spacing}
    max_shift = settings.max_shift_ppm
    r, tail = r_gauss, 0.0
    for _ in range(TAIL_ROUNDS):
        # the tail at the peak width of the current (R, tail): m/z over that FWHM
        new_tail = fit_tail(pick, basis, r / emg_fwhm(tail), shift0, max_shift, **common)
        if settings.peak_shape == "auto" and tail == 0.0 and new_tail < AUTO_MIN_TAIL:
            # a tail this short widens the peak by < 0.5 %: the Gaussian, without the rest
            return r_gauss, 0.0
        new_r = r * emg_fwhm(new_tail) / emg_fwhm(tail)
        if fit_r:
            new_r = fit_resolving_power(pick, basis, new_r, shift0, max_shift, (0.92, 1.08),
                                        tail=new_tail, **common)  # fmt: skip
        settled = abs(new_tail - tail) < 2 * TAIL_TOL and abs(np.log(new_r / r)) < R_TOL
        r, tail = new_r, new_tail
        if settled:
            break
    if tail < kern.MIN_TAIL:
        return r_gauss, 0.0
    if settings.peak_shape == "auto":
        rss_gauss = summed_rss(pick, basis, r_gauss, shift0, max_shift, **common)
        rss_emg = summed_rss(pick, basis, r, shift0, max_shift, tail=tail, **common)
        log.info("peak shape: EMG (tail %.3f sd) RSS %.4g vs Gaussian %.4g", tail, rss_emg,
                 rss_gauss)  # fmt: skip
        if rss_emg > (1.0 - AUTO_MARGIN) * rss_gauss:
            return r_gauss, 0.0
    return r, tail


def choose_baseline(spectra, basis, resolving_power, shift0, max_shift_ppm, spacing, **model):
    """``baseline: auto``: the spline's knot ``spacing`` where it lowers the summed RSS of
    ``spectra`` (the R search's) by ``BASELINE_AUTO_MARGIN`` at the file's peak model, else 0
    (the constant). A flat baseline gives the spline only the noise to follow (measured on
    the virtual experiment: 0.1 % dense, 0.8 % sparse), a background of 0.2 % of the base
    peak already 7 %, the tests' 2 % hump 85 %; on a flat baseline the spline's few extra
    columns would move the intensities by ~1e-3 L1 for nothing."""
    rss = {s: summed_rss(spectra, basis, resolving_power, shift0, max_shift_ppm,
                         baseline_spacing=s, **model)
           for s in (0.0, spacing)}  # fmt: skip
    gain = 1.0 - rss[spacing] / rss[0.0] if rss[0.0] > 0 else 0.0
    log.info("baseline: spline lowers the RSS by %.2f %% (auto takes it from %.0f %%)",
             100 * gain, 100 * BASELINE_AUTO_MARGIN)  # fmt: skip
    return spacing if gain >= BASELINE_AUTO_MARGIN else 0.0


def _warn_stick_spectrum_model(settings: DeconvolutionSettings, intensity: str) -> None:
    """A peak list keeps no peak shape: ``peak_shape`` does not apply to centroid files, nor
    a baseline to sticks read as areas; said once per file when the config asks for either
    explicitly (the shipped ``auto`` settings are information, not a request: logged).

    The centroider has already read the tail into its sticks (a tail that reaches the next
    1/2-Th position is picked as a peak there). Undoing that needs the picker's rules, which
    a peak list does not state, so the stick fit keeps its Gaussian windows; qc.tsv says
    ``-``. A background lifts every height under it and its noise maxima become sticks:
    heights are fitted on a pedestal, smooth in m/z with ``baseline`` ``spline``/``auto``
    (:func:`intercluster.centroid.read_centroid_file`); an integrating centroider subtracts
    the baseline from its areas, so areas have none (qc.tsv ``baseline_model`` ``-``).
    """
    asked = [f"peak_shape: {settings.peak_shape}"] if settings.peak_shape != "gaussian" else []
    if settings.baseline != "constant" and intensity != "height":
        asked.append(f"baseline: {settings.baseline}")
    if not asked:
        return
    explicit = [a for a in asked if not a.endswith(": auto")]
    (log.warning if explicit else log.info)(
        "centroid file: %s not applied (a peak list keeps no peak shape%s; fitted as sticks, "
        "qc.tsv peak_shape%s '-'); a file with tailing peaks is better read as a profile",
        ", ".join(asked), "" if intensity == "height" else " and areas no background",
        "" if intensity == "height" else " and baseline_model")  # fmt: skip


def deconvolve_spectra(
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    basis: PatternBasis,
    settings: DeconvolutionSettings,
    *,
    resolving_power: float | None = None,
    centroided: bool = False,
    windows: list | None = None,
    levels: list | None = None,
) -> list[SpectrumFit]:
    """Fit every spectrum of one file; one resolving power for the file.

    ``settings`` (the config's ``deconvolution`` section): the start and search of R
    (``resolving_power_guess``, ``fit_resolving_power``), the shift range, the gap treatment
    (:func:`prepare_spectrum`), the R model and the robust pass. ``resolving_power``: a
    known R (not fitted). The start shift comes from a coarse scan of the most intense
    spectrum; each spectrum then starts from its predecessor's shift (the calibration drifts
    slowly). ``windows``: per spectrum the acquired scan window or None.
    ``resolving_power_model``: ``constant`` (one R) or ``linear`` (R at the centre of the
    basis' m/z span and its relative change per 1000 Th, both fitted per file on the same
    few spectra: R, then the slope, then R again). ``robust``: the robust pass of
    :func:`fit_spectrum` (peaks no column explains get weight 0; ``unexplained_fraction``).

    ``centroided``: the spectra are peak lists, fitted as sticks
    (:func:`intercluster.centroid.read_centroid_file`) at the given or guessed resolving
    power, which sets the matching tolerance and converts peak heights to areas (a peak list
    keeps no shape to fit it from); ``settings.centroid_intensity`` says whether the sticks
    are areas, heights or to be decided from the data (each fit's ``centroid_intensity``
    says which).
    """
    resolving_power_guess = settings.resolving_power_guess
    fit_resolution = settings.fit_resolving_power
    max_shift_ppm = settings.max_shift_ppm
    gaps = settings.gaps
    resolving_power_model = settings.resolving_power_model
    robust = settings.robust
    n = len(mz_list)
    if n == 0:
        return []
    if centroided:
        r = resolving_power or resolving_power_guess
        reading, fits = read_centroid_file(mz_list, intensity_list, basis, r,
                                           settings.centroid_intensity, max_shift_ppm,
                                           settings.baseline, baseline_spacing(basis))  # fmt: skip
        _warn_stick_spectrum_model(settings, reading.intensity)
        for fit in fits:
            fit.centroid_intensity = reading.intensity
            # no peak shape on a peak list; a pedestal only under heights (read_centroid_file)
            fit.peak_shape, fit.peak_tail = STICK_MODEL, 0.0
            if reading.intensity != "height":
                fit.baseline_model = STICK_MODEL
        return fits
    windows = [None] * n if windows is None else windows
    levels = [None] * n if not levels else levels
    spectra = [prepare_spectrum(mz, y, w, gaps, level)
               for mz, y, w, level in zip(mz_list, intensity_list, windows, levels,
                                          strict=True)]  # fmt: skip
    tic = np.array([float(np.sum(y)) for y in intensity_list])
    ref = int(np.argmax(tic))
    if resolving_power_model not in RESOLVING_POWER_MODELS:
        raise ValueError(f"resolving_power_model must be one of {RESOLVING_POWER_MODELS}")
    r0 = resolving_power or resolving_power_guess
    start_range = R_START_RANGE
    if resolving_power is None and fit_resolution:
        measured = _start_resolving_power(mz_list[ref], intensity_list[ref], r0)
        if measured != r0:
            # a measured start is low where the peaks of other ions widen the strongest ones
            r0, start_range = measured, R_MEASURED_RANGE
    if settings.baseline not in BASELINE_MODELS:
        raise ValueError(f"baseline must be one of {BASELINE_MODELS}, got {settings.baseline!r}")
    if settings.peak_shape not in PEAK_SHAPES:
        raise ValueError(f"peak_shape must be one of {PEAK_SHAPES}, got {settings.peak_shape!r}")
    # auto: the spline through the searches of R and the tail, then kept only where it helps
    spacing = baseline_spacing(basis) if settings.baseline != "constant" else 0.0
    bl = {"baseline_spacing": spacing}
    mz_ref = float(np.mean(basis.mz_span))
    slope = 0.0
    shift0 = scan_shift(spectra[ref], basis, r0, max_shift_ppm, **bl)
    fit_r = resolving_power is None and fit_resolution
    pick = None
    if fit_r or settings.peak_shape != "gaussian":
        whole = [spectra[i] for i in _representative(n, N_CALIBRATION_SCANS)]
        # at low R: R on the points one charge state covers (no trade with the unresolved
        # monomer/dimer split), its slope on the whole spectra (that trade is the same at
        # every m/z, and the single-charge points leave the ends of the m/z range to a few
        # weak ions)
        pick = whole
        if _charges_unresolved(basis, r0, mz_ref):
            first = [fit_prepared(sp, basis, r0, shift0, max_shift_ppm, weighted=False,
                                  **bl).coef for sp in whole]  # fmt: skip
            pick = [single_charge_part(spectrum, basis, r0, shift0, coef)
                    for spectrum, coef in zip(whole, first, strict=True)]  # fmt: skip
    if fit_r:
        linear = resolving_power_model == "linear"
        # with a slope to come, R is refined in every round: a start within 2 % will do
        r0 = fit_resolving_power(pick, basis, r0, shift0, max_shift_ppm, start_range,
                                 tol_rel=R_START_TOL if linear else R_TOL, **bl)  # fmt: skip
        if linear:
            # R at mz_ref and the slope are correlated: alternate, narrowing the slope range,
            # until a round moves neither by more than its tolerance
            half = 0.5 * (SLOPE_RANGE[1] - SLOPE_RANGE[0])
            for _ in range(SLOPE_ROUNDS):
                span = (slope - half, slope + half)
                new_slope = fit_resolving_power_slope(whole, basis, r0, shift0, mz_ref,
                                                      max_shift_ppm, span, **bl)  # fmt: skip
                new_r = fit_resolving_power(pick, basis, r0, shift0, max_shift_ppm, (0.9, 1.1),
                                            r_slope=new_slope, mz_ref=mz_ref, **bl)  # fmt: skip
                settled = abs(new_slope - slope) < SLOPE_TOL and abs(np.log(new_r / r0)) < R_TOL
                slope, r0 = new_slope, new_r
                half *= 0.4
                if settled:
                    break
        shift0 = scan_shift(spectra[ref], basis, r0, max_shift_ppm, r_slope=slope, mz_ref=mz_ref,
                            **bl)  # fmt: skip
    tail = 0.0
    if settings.peak_shape != "gaussian":
        r0, tail = fit_peak_shape(pick, basis, r0, shift0, settings, fit_r, slope, mz_ref, spacing)
        shift0 = scan_shift(spectra[ref], basis, r0, max_shift_ppm, r_slope=slope, mz_ref=mz_ref,
                            tail=tail, **bl)  # fmt: skip
    tail_slope = 0.0
    if settings.tail_model == "linear" and tail >= kern.MIN_TAIL:
        linear = fit_r and resolving_power_model == "linear"
        r0, slope, tail, tail_slope = fit_tail_slope(pick, basis, r0, tail, shift0, max_shift_ppm,
                                                     slope, mz_ref, spacing, linear)  # fmt: skip
        shift0 = scan_shift(spectra[ref], basis, r0, max_shift_ppm, r_slope=slope, mz_ref=mz_ref,
                            tail=tail, tail_slope=tail_slope, **bl)  # fmt: skip
    if settings.baseline == "auto" and spacing > 0:
        judged = pick or [spectra[i] for i in _representative(n, N_CALIBRATION_SCANS)]
        chosen = choose_baseline(judged, basis, r0, shift0, max_shift_ppm, spacing,
                                 r_slope=slope, mz_ref=mz_ref, tail=tail,
                                 tail_slope=tail_slope)  # fmt: skip
        if chosen != spacing:
            bl = {"baseline_spacing": chosen}
            shift0 = scan_shift(spectra[ref], basis, r0, max_shift_ppm, r_slope=slope,
                                mz_ref=mz_ref, tail=tail, tail_slope=tail_slope,
                                **bl)  # fmt: skip
    log.info("resolving power %.0f at m/z %.0f (slope %+.3f per 1000 Th), peak tail %.3f sd, "
             "start shift %.2f ppm", r0, mz_ref, slope, tail, shift0)  # fmt: skip
    fits: list[SpectrumFit | None] = [None] * n
    passive = None
    shift = shift0
    # Walk outwards from the reference spectrum so every start is a neighbour's shift (and
    # its columns serve the next spectrum on the same points).
    pool = ColumnPool()
    for order in (range(ref, n), range(ref - 1, -1, -1)):
        shift, passive = shift0, None
        for i in order:
            fit = fit_prepared(spectra[i], basis, r0, shift, max_shift_ppm, passive,
                               r_slope=slope, mz_ref=mz_ref, robust=robust, pool=pool,
                               tail=tail, tail_slope=tail_slope, **bl)  # fmt: skip
            fits[i] = fit
            shift, passive = fit.shift_ppm, fit.passive
    return fits  # type: ignore[return-value]


def intensities_table(times_min, fits: list[SpectrumFit], basis: PatternBasis) -> pd.DataFrame:
    """Long table: time_min, species, charge, n_first, intensity, intensity_norm,
    intensity_sd (the intensity's standard error, :func:`coefficient_sd`)."""
    labels = basis.labels
    coef = np.array([f.coef for f in fits]).reshape(len(fits), basis.n_cols)
    sd = coefficient_sd_matrix(fits, basis.n_cols)
    total = coef.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(total > 0, coef / np.where(total > 0, total, 1.0), np.nan)
    n_t, n_k = coef.shape
    return pd.DataFrame(
        {
            "time_min": np.repeat(np.asarray(times_min, float), n_k),
            "species": np.tile(labels["species"].to_numpy(), n_t),
            "charge": np.tile(labels["charge"].to_numpy(), n_t),
            "n_first": np.tile(labels["n_first"].to_numpy(), n_t),
            "intensity": coef.ravel(),
            "intensity_norm": norm.ravel(),
            "intensity_sd": sd.ravel(),
        }
    )[INTENSITY_COLUMNS]


def coefficient_sd_matrix(fits: list[SpectrumFit], n_cols: int) -> np.ndarray:
    """(spectra x columns) standard errors of the abundances; NaN where a fit has none."""
    return np.array([np.full(n_cols, np.nan) if f.coef_sd is None else f.coef_sd
                     for f in fits], float).reshape(len(fits), n_cols)  # fmt: skip


def qc_table(times_min, native_ids, fits: list[SpectrumFit]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time_min": np.asarray(times_min, float),
            "native_id": list(native_ids),
            "shift_ppm": [f.shift_ppm for f in fits],
            "resolving_power": [f.resolving_power for f in fits],
            "residual_norm": [f.residual_norm for f in fits],
            "baseline": [f.baseline for f in fits],
            "total_intensity": [float(f.coef.sum()) for f in fits],
            "mode": [f.mode for f in fits],
            "coverage": [f.coverage for f in fits],
            "detection_level": [f.detection_level for f in fits],
            "n_points": [f.n_points for f in fits],
            "resolving_power_slope": [f.resolving_power_slope for f in fits],
            "resolving_power_mz_ref": [f.mz_ref for f in fits],
            "unexplained_fraction": [f.unexplained_fraction for f in fits],
            "unexplained_mz": [
                ";".join(f"{mz:.2f}" for mz, _ in f.unexplained_features) for f in fits
            ],
            "ions_not_detected": [f.ions_not_detected for f in fits],
            "not_detected_fraction": [f.not_detected_fraction for f in fits],
            "listed_misfit_fraction": [f.listed_misfit_fraction for f in fits],
            "centroid_intensity": [f.centroid_intensity for f in fits],
            "baseline_model": [f.baseline_model for f in fits],
            "baseline_fraction": [f.baseline_fraction for f in fits],
            "peak_shape": [f.peak_shape for f in fits],
            "peak_tail": [f.peak_tail for f in fits],
            "peak_tail_slope": [f.peak_tail_slope for f in fits],
        }
    )[QC_COLUMNS]


def cid_table(times_min, fits: list[SpectrumFit], basis: PatternBasis, n_fragments: int):
    """Fragment distributions: fraction of each monomer n_first among the fragment ions."""
    rows = []
    n_first = basis.labels["n_first"].to_numpy()[:n_fragments]
    for t, fit in zip(times_min, fits, strict=True):
        frag = fit.coef[:n_fragments]
        total = frag.sum()
        frac = frag / total if total > 0 else np.full(n_fragments, np.nan)
        rows.append(pd.DataFrame({"time_min": float(t), "n_first": n_first, "fraction": frac}))
    if not rows:
        return empty_cid_table()
    return pd.concat(rows, ignore_index=True)[CID_COLUMNS]


def empty_cid_table() -> pd.DataFrame:
    """cid.tsv when the sample sheet names no CID file: the header only."""
    return pd.DataFrame(
        {"time_min": pd.Series(dtype=float), "n_first": pd.Series(dtype=int), "fraction": []}
    )[CID_COLUMNS]


# --- whole files -----------------------------------------------------------------------------
def fit_run(
    run, basis: PatternBasis, settings: DeconvolutionSettings
) -> tuple[list[SpectrumFit], float]:
    """Every spectrum of a :class:`~intercluster.ingest.SpectraRun` fitted on ``basis``.

    Profiles or sticks as the run's mode says, the file's scan windows, everything else as
    ``settings`` say (:func:`deconvolve_spectra`). Returns the fits and the resolving power
    used.
    """
    fits = deconvolve_spectra(
        run.mz, run.intensity, basis, settings,
        centroided=run.mode == "centroid", windows=_scan_windows(run),
        levels=run.detection_levels or None,
    )  # fmt: skip
    _label_centroids(run, fits)
    resolving_power = fits[0].resolving_power if fits else settings.resolving_power_guess
    return fits, resolving_power


def deconvolve_run(run, system: ClusterSystem, settings: DeconvolutionSettings):
    """Deconvolve an MS1 :class:`~intercluster.ingest.SpectraRun` on the 77 observables.

    A centroided run (``run.mode == "centroid"``) is fitted as sticks, with the same tables.
    ``settings``: as in :func:`deconvolve_spectra`. Returns ``(intensities, qc,
    resolving_power)``.
    """
    basis = observable_basis(system)
    fits, resolving_power = fit_run(run, basis, settings)
    intensities = intensities_table(run.times_min, fits, basis)
    qc = qc_table(run.times_min, run.native_ids, fits)
    worst = qc["residual_norm"].max()
    log.info(
        "%d spectra: shift %.2f..%.2f ppm, R %.0f, residual norm median %.3g, max %.3g",
        len(qc), qc["shift_ppm"].min(), qc["shift_ppm"].max(), resolving_power,
        qc["residual_norm"].median(), worst,
    )  # fmt: skip
    return intensities, qc, resolving_power


def deconvolve_cid_run(
    run,
    system: ClusterSystem,
    resolving_power: float,
    settings: DeconvolutionSettings,
    ms1_reading: str | None = None,
    peak_tail: float = 0.0,
) -> pd.DataFrame:
    """Monomer fragment distributions of the MS2 spectra of a CID file.

    Each spectrum is fitted on the N+1 monomer patterns plus its precursor's pattern (the
    dimer ion nearest the spectrum's selected-ion m/z), with its own calibration shift, at
    the MS1 file's ``resolving_power``; ``settings``: the shift range and the gap treatment.
    A centroided CID file's sticks are read as ``ms1_reading`` (``"area"`` or ``"height"``:
    what the MS1 file of the same instrument was read as, qc.tsv) if given, else as
    ``settings.centroid_intensity`` says (``"auto"``:
    :func:`intercluster.centroid.cid_stick_reading`). ``peak_tail``: the MS1 file's EMG tail
    (qc.tsv ``peak_tail``; the same instrument's peak shape); the baseline model is
    ``settings.baseline``'s (``"auto"``: decided per spectrum, :func:`choose_baseline`).
    """
    max_shift_ppm, gaps = settings.max_shift_ppm, settings.gaps
    fits, times, n_fragments, basis = [], [], 0, None
    windows = _scan_windows(run)
    reading = None
    if run.mode == "centroid":
        reading = cid_stick_reading(run, system, resolving_power, settings, ms1_reading)
    for k in range(len(run)):
        precursor = run.precursor_mz[k] if run.precursor_mz else None
        if precursor is None:
            raise InputError(
                f"{run.path}: spectrum {run.native_ids[k]!r} (index {run.index[k]}): no "
                "selected ion m/z (MS:1000744); expected the CID precursor (a dimer ion's m/z)"
            )
        isolation = run.isolation_windows[k] if run.isolation_windows else None
        problem = cid_rule.cid_selection(system, precursor).precursor_problem(precursor, isolation)
        if problem is not None:
            raise InputError(
                f"{run.path}: spectrum {run.native_ids[k]!r} (index {run.index[k]}): {problem}"
            )
        basis, n_fragments = cid_basis(system, precursor)
        if reading is not None:
            fits.append(reading.fit(run.mz[k], run.intensity[k], basis, 0.0, max_shift_ppm))
            times.append(run.times_min[k])
            continue
        spectrum = prepare_spectrum(run.mz[k], run.intensity[k], windows[k], gaps)
        spacing = baseline_spacing(basis) if settings.baseline in ("spline", "auto") else 0.0
        model = {"tail": float(peak_tail), "baseline_spacing": spacing}
        shift0 = scan_shift(spectrum, basis, resolving_power, max_shift_ppm, **model)
        if settings.baseline == "auto" and spacing > 0:
            # decided per CID spectrum as the MS1 file's is (each has its own basis and its
            # own background); "auto" read as constant lost 1.4 pp of the fragment
            # fractions under a broad background (bench_foreign_spectra t1, t4)
            model["baseline_spacing"] = choose_baseline([spectrum], basis, resolving_power,
                                                        shift0, max_shift_ppm, spacing,
                                                        tail=float(peak_tail))  # fmt: skip
            if model["baseline_spacing"] != spacing:
                shift0 = scan_shift(spectrum, basis, resolving_power, max_shift_ppm, **model)
        fits.append(fit_prepared(spectrum, basis, resolving_power, shift0, max_shift_ppm,
                                 **model))  # fmt: skip
        times.append(run.times_min[k])
    if basis is None:
        return empty_cid_table()
    return cid_table(times, fits, basis, n_fragments)
