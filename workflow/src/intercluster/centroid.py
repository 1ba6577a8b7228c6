"""Centroided spectra: peak picking of profiles and the stick fit of peak lists.

A centroided spectrum (cvParam MS:1000127) is a list of sticks, one (m/z, intensity) per
detected peak, as written by vendor centroiders or msconvert's ``peakPicking`` filter. There
is no peak shape left to fit, so the isotope-pattern deconvolution becomes a fit of stick
areas against each species' nominal isotope peaks (docs/science.md §1, §3):

* :func:`pick_peaks` makes such a list from a profile spectrum (what a centroider does), so
  that the virtual experiment can write centroid output and tests can check the stick fit
  on spectra it did not make itself.
* :func:`fit_sticks` fits one peak list: every nominal isotope peak of every species (of
  the basis) owns an m/z window of +-half a FWHM (``m/z / R / 2``, at most a quarter of
  the isotope spacing) around its centroid; overlapping windows are merged into one (one
  row of the fit). The sticks inside a window are summed; a window with a peak of
  significant probability and no stick is a measurement of zero (below the detection
  level), so an ion whose peaks are not in the data cannot take signal. Sticks in no
  window are left out of the fit but count in the residual norm. Abundances by
  non-negative least squares (then reweighted by a fitted noise variance); the calibration
  shift by a coarse scan of a stick/peak correlation, then least squares on the matched
  centroid positions.

A monomer [A_m B_(N-m)]- and the dimer [A_2m B_(2N-2m)]2- have the same nominal m/z:
the dimer's integer isotope peaks fall into the monomer's windows, its half-integer peaks
(spacing 1/2 at charge 2) into windows of their own. Those windows, observed or measured as
zero, are what tell the two apart.

Intensities are ion counts: a stick's intensity is its peak's area in counts (the sum of
the peak's baseline-subtracted points, :func:`pick_peaks`), so the fitted abundance of a
species is its ion count, as in the profile fit. A centroider that writes peak *heights*
instead (vendor peak pickers: one stick per local maximum, :func:`peak_heights` makes such
lists) gives each ion a weight proportional to 1 / FWHM, i.e. to R / (m/z): across the
m/z 5200-7400 of the demo's species that tilts the normalised intensities by up to 40 %.
:func:`read_centroid_file` reads a file's sticks as areas or heights (config
``deconvolution.centroid_intensity``; ``auto`` decides from the data, docs/science.md §1):
heights are thinned to one stick per peak and converted (:func:`heights_to_areas`, at the
configured resolving power, which a peak list cannot give) and fitted with the baseline
they carry and the picker's threshold (:func:`fit_sticks` ``heights``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numba import njit
from scipy.interpolate import BSpline
from scipy.optimize import nnls
from scipy.signal import find_peaks
from scipy.sparse import csr_matrix
from scipy.stats import norm, sigmaclip

from . import _deconv_kernels as kern
from .isotopes import FWHM_TO_SIGMA
from .settings import DeconvolutionSettings
from .spectrum_basis import (
    BASELINE_AUTO_MARGIN,
    BASELINE_SPLINE_DEGREE,
    DETECTION_OWN_LEVEL,
    PatternBasis,
    SpectrumFit,
    baseline_knots,
    cid_basis,
    sd_from_gram,
)

log = logging.getLogger(__name__)

TOLERANCE_FWHM = 0.5  # a stick belongs to a predicted peak within half a FWHM of its centroid
SIGNIFICANT_PROB = 0.05  # of a species' most probable isotope peak: an absent stick is a zero
PEAK_WINDOW_FWHM = 1.5  # a picked peak's points reach at most this far from its apex
NOISE_CLIP_SD = 3.0  # sigma clipping of the baseline noise estimate


# --- peak picking ----------------------------------------------------------------------------
def noise_level(intensity: np.ndarray) -> tuple[float, float]:
    """Baseline level and noise sd of a profile spectrum: mean and sd after 3-sd clipping.

    Peaks are narrow beside the gaps between them, so iterative clipping of the values
    beyond 3 sd (scipy.stats.sigmaclip) leaves the baseline points.
    """
    y = np.asarray(intensity, float)
    if y.size == 0:
        return 0.0, 0.0
    kept = sigmaclip(y, NOISE_CLIP_SD, NOISE_CLIP_SD).clipped
    if kept.size == 0:
        return float(np.median(y)), 0.0
    return float(kept.mean()), float(kept.std())


def _gaussian_vertex(x: np.ndarray, s: np.ndarray) -> float:
    """Apex of the parabola through (x, ln s) at three points (exact for a sampled Gaussian)."""
    f = np.log(s)
    d0, d2 = x[1] - x[0], x[1] - x[2]
    num = d0 * d0 * (f[1] - f[2]) - d2 * d2 * (f[1] - f[0])
    den = d0 * (f[1] - f[2]) - d2 * (f[1] - f[0])
    if den == 0:
        return float(x[1])
    vertex = float(x[1] - 0.5 * num / den)
    return vertex if x[0] <= vertex <= x[2] else float(x[1])


def _peak_areas(mz, s, apex, centre, resolving_power, window_fwhm):
    """Sum of each peak's points; a point between two peaks is shared between them.

    A point within ``window_fwhm`` FWHM of the peaks on both sides goes to each in proportion
    to its Gaussian (height at the apex, FWHM ``m/z / R``) there: a hard split at the valley
    would hand the tail of the larger peak to the smaller one.
    """
    reach = window_fwhm * centre / resolving_power
    if centre.size == 1:
        near = np.abs(mz - centre[0]) <= reach[0]
        return np.array([s[near].sum()])
    sigma = centre / resolving_power * FWHM_TO_SIGMA
    height = s[apex]
    lo = np.searchsorted(mz, centre[0] - reach[0])
    hi = np.searchsorted(mz, centre[-1] + reach[-1], side="right")
    x, y = mz[lo:hi], s[lo:hi]
    right = np.searchsorted(centre, x).clip(1, centre.size - 1)
    left = right - 1
    shape = []
    for j in (left, right):
        u = (x - centre[j]) / sigma[j]
        near = np.abs(x - centre[j]) <= reach[j]
        shape.append(np.where(near, height[j] * np.exp(-0.5 * u * u), 0.0))
    total = shape[0] + shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, shape[0] / total, 0.0)
    inside = total > 0
    area = np.bincount(left[inside], weights=(y * share)[inside], minlength=centre.size)
    area += np.bincount(right[inside], weights=(y * (1.0 - share))[inside], minlength=centre.size)
    return area


def pick_peaks(
    mz: np.ndarray,
    intensity: np.ndarray,
    resolving_power: float,
    min_snr: float = 3.0,
    window_fwhm: float = PEAK_WINDOW_FWHM,
) -> tuple[np.ndarray, np.ndarray]:
    """Centroid a profile spectrum: ``(centroid_mz, area)`` of each detected peak.

    * Detection: local maxima (scipy.signal.find_peaks) whose height above the baseline and
      whose prominence both reach ``min_snr`` noise sds (:func:`noise_level`).
    * Extent: the points within ``window_fwhm`` FWHM (``m/z / resolving_power``) of the
      centroid; a point that two neighbouring peaks reach is shared between them in
      proportion to their Gaussians there (:func:`_peak_areas`).
    * Centroid m/z: the vertex of a Gaussian (parabola through the log intensities) at the
      apex and its two neighbours; the intensity-weighted mean of the points above half
      maximum where a neighbour is at or below the baseline.
    * Intensity: the peak's **area** in counts, the sum of its baseline-subtracted points
      (intensities are counts per point), not its height. Noise below the baseline is kept
      in the sum so that weak peaks are not biased upwards.
    """
    mz = np.asarray(mz, float)
    y = np.asarray(intensity, float)
    empty = (np.zeros(0), np.zeros(0))
    if mz.size < 3:
        return empty
    baseline, sd = noise_level(y)
    s = y - baseline
    level = min_snr * sd
    # A noiseless spectrum (sd 0) has every positive local maximum as a peak.
    apex, _ = find_peaks(s, height=level if level > 0 else 1e-300,
                         prominence=level if level > 0 else None)  # fmt: skip
    if apex.size == 0:
        return empty
    centre = np.empty(apex.size)
    for j, i in enumerate(apex):
        if 0 < i < mz.size - 1 and s[i - 1] > 0 and s[i + 1] > 0:
            centre[j] = _gaussian_vertex(mz[i - 1 : i + 2], s[i - 1 : i + 2])
        else:
            part = slice(max(i - 2, 0), i + 3)
            top = s[part] >= 0.5 * s[i]
            centre[j] = float(np.dot(mz[part][top], s[part][top]) / s[part][top].sum())
    area = _peak_areas(mz, s, apex, centre, resolving_power, window_fwhm)
    keep = area > 0
    return centre[keep], area[keep]


def peak_heights(
    mz: np.ndarray, intensity: np.ndarray, min_rel: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """Centroid a profile as vendor peak pickers do: ``(apex_mz, height)`` of every local maximum.

    Every local maximum whose intensity reaches ``min_rel`` of the base peak is a stick (no
    noise or prominence test: maxima of the noise on a peak's top or in the baseline above
    the threshold are kept); its m/z and intensity are the vertex of the Gaussian (parabola
    through the log intensities) at the maximum and its two neighbours: the peak's
    **height**, not its area. What :func:`read_centroid_file` and :func:`heights_to_areas` undo.
    """
    mz = np.asarray(mz, float)
    y = np.asarray(intensity, float)
    if mz.size < 3 or not (y > 0).any():
        return np.zeros(0), np.zeros(0)
    apex, _ = find_peaks(y, height=min_rel * float(y.max()))
    apex = apex[(apex > 0) & (apex < y.size - 1)]
    # a log-parabola needs three positive points (a maximum of the noise near 0 may not have)
    positive = (y[apex - 1] > 0) & (y[apex] > 0) & (y[apex + 1] > 0)
    a, b, c = (np.log(np.where(positive, y[apex + k], 1.0)) for k in (-1, 0, 1))
    b = np.where(positive, b, np.log(np.maximum(y[apex], 1e-300)))
    # log-parabola vertex on the local grid (x in steps; within half a step of a maximum's
    # point); flat or degenerate tops keep the point
    den = a - 2 * b + c
    offset = np.where(positive & (den < 0), 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    offset = np.clip(offset, -0.5, 0.5)
    step = np.where(offset >= 0, mz[apex + 1] - mz[apex], mz[apex] - mz[apex - 1])
    height = np.exp(b - 0.25 * (a - c) * offset)
    return mz[apex] + offset * step, height


# --- stick intensities: heights or areas ------------------------------------------------------
HEIGHT_MERGE_FWHM = 0.5  # sticks within half a FWHM of a higher one are maxima of its top
VALLEY_FACTOR = 2.0  # a peak stands at least this many times above its neighbours' tails
VALLEY_REACH_SD = 3.0  # neighbours' tails counted within this many sds
SQRT_2PI = float(np.sqrt(2.0 * np.pi))
R_SCAN = 2.0 ** (np.arange(-4, 4) / 6)  # trial R of the height reading, x the configured R
R_SCAN_SPECTRA = 6  # spectra (spread over the file) the trials are fitted on
R_RESIDUAL_SLACK = 1.2  # the largest R whose residual is within 20 % of the best (choice)
AUTO_EVIDENCE = 2.0  # auto: heights when the evidence favours them by this factor (choice)
#: A stick window merges a monomer's isotope peak with the integer peak of the dimer of twice
#: its composition; the profile fit's points see the two peaks' shoulders, a window sees one
#: sum. A present monomer beside a comparable dimer holds about half of such a window, an
#: absent one only the dimer's pattern misfit (10-20 %); so the share a stick-detected ion
#: needs is lower than the profile rule's (DETECTION_OWN_SHARE). (choice; measured on the
#: independent generator's height centroids, benchmarks/bench_foreign_spectra.py)
STICK_OWN_SHARE = 0.3
HEIGHT_ROUNDS = 5  # alternations of the species' NNLS, the pedestal and the censored values


def heights_to_areas(
    mz: np.ndarray, height: np.ndarray, resolving_power: float
) -> tuple[np.ndarray, np.ndarray]:
    """A peak list of heights as one of areas: ``area = height sigma sqrt(2 pi)``.

    ``sigma = FWHM / 2.3548`` with ``FWHM = m/z / resolving_power`` (a Gaussian's area over
    its height), so the areas are in the heights' unit times Th. A picker that writes every
    local maximum leaves several sticks on one noisy peak top and in the valleys between
    peaks; before the conversion, a stick is dropped when it is within ``HEIGHT_MERGE_FWHM``
    FWHM of a higher one (their heights are the same peak's, and summing them would count it
    several times), and when it is not ``VALLEY_FACTOR`` times higher than the Gaussian tails
    of its higher neighbours put there (a maximum of the noise in a valley). The latter also
    drops a real peak that weak beside a strong one closer than ~2 sd (at low resolving
    power, a dimer's half-integer peak under 2 x the tails of its integer neighbours).
    """
    mz = np.asarray(mz, float)
    height = np.asarray(height, float)
    if mz.size == 0:
        return mz.copy(), height.copy()
    fwhm = mz / resolving_power
    kept = np.zeros(mz.size, bool)
    # highest first: a stick survives unless a kept (higher) stick is within half a FWHM
    for i in np.argsort(-height, kind="stable"):
        lo = np.searchsorted(mz, mz[i] - HEIGHT_MERGE_FWHM * fwhm[i])
        hi = np.searchsorted(mz, mz[i] + HEIGHT_MERGE_FWHM * fwhm[i], side="right")
        if not kept[lo:hi].any():
            kept[i] = True
    mz, height = mz[kept], height[kept]
    sigma = fwhm[kept] * FWHM_TO_SIGMA
    # A stick that the tails of its higher neighbours explain is a maximum of the noise in a
    # valley between peaks (of one isotope pattern, or of a monomer's and a dimer's), not a
    # peak: dropped.
    lo = np.searchsorted(mz, mz - VALLEY_REACH_SD * sigma)
    hi = np.searchsorted(mz, mz + VALLEY_REACH_SD * sigma, side="right")
    # Highest first, and only the neighbours that stand as peaks themselves count: a noise
    # maximum on a strong peak's flank is higher than a weak real peak beside it (a dimer's
    # half-integer peak) but is itself dropped, so it must not drop that peak too.
    peak = np.ones(mz.size, bool)
    for j in np.argsort(-height, kind="stable"):
        near = np.arange(lo[j], hi[j])
        near = near[(height[near] > height[j]) & peak[near]]
        if near.size:
            u = (mz[near] - mz[j]) / sigma[near]
            peak[j] = height[j] > VALLEY_FACTOR * float(np.dot(height[near], np.exp(-0.5 * u * u)))
    return mz[peak], height[peak] * sigma[peak] * SQRT_2PI


# --- stick fit -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StickDesign:
    """The basis's nominal isotope peaks as m/z windows (rows of the stick fit), unshifted.

    Windows ``lo[r]..hi[r]`` are sorted and disjoint (overlapping ones merged).
    ``design[r, k]`` (sparse) is the summed probability of column k's peaks in window r,
    ``design_mz[r, k]`` the same weighted by their m/z; ``significant[r]``: the window holds
    a peak of at least ``SIGNIFICANT_PROB`` of its species' most probable peak.
    ``peak_mz``/``peak_sigma``: the significant peaks (sorted) and their Gaussian sd, for the
    coarse shift scan.
    """

    lo: np.ndarray
    hi: np.ndarray
    design: csr_matrix
    design_mz: csr_matrix
    significant: np.ndarray
    peak_mz: np.ndarray
    peak_sigma: np.ndarray
    resolving_power: float

    @property
    def n_rows(self) -> int:
        return self.lo.size

    @property
    def n_cols(self) -> int:
        return self.design.shape[1]


def stick_design(
    basis: PatternBasis,
    resolving_power: float,
    tolerance_fwhm: float = TOLERANCE_FWHM,
    significant_prob: float = SIGNIFICANT_PROB,
) -> StickDesign:
    """Group the basis's isotope peaks into windows of +-``tolerance_fwhm`` FWHM.

    The half-width is capped at a quarter of the closest isotope spacing (1/4 Th for charge
    2), so that a monomer's and a dimer's windows stay apart at any resolving power.
    """
    counts = np.diff(basis.col_ptr)
    col = np.repeat(np.arange(basis.n_cols), counts)
    peak_mz, prob = basis.peak_mz, basis.peak_prob
    col_max = np.maximum.reduceat(prob, basis.col_ptr[:-1])
    strong = prob >= significant_prob * col_max[col]
    order = np.argsort(peak_mz, kind="stable")
    mz, col, prob, strong = peak_mz[order], col[order], prob[order], strong[order]
    # At most a quarter of the closest isotope spacing (1/|z|): at low resolving power the
    # windows of a dimer's half-integer peaks must not merge with the integer ones.
    spacing = 1.0 / float(np.abs(basis.labels["charge"]).max())
    tol = np.minimum(tolerance_fwhm * mz / resolving_power, 0.25 * spacing)
    lo, hi = mz - tol, mz + tol
    # A new window starts where a peak's window begins beyond every window before it.
    starts = np.concatenate([[True], lo[1:] > np.maximum.accumulate(hi)[:-1]])
    row = np.cumsum(starts) - 1
    shape = (int(row[-1]) + 1, basis.n_cols)
    significant = np.zeros(shape[0], bool)
    significant[row[strong]] = True
    return StickDesign(
        lo=np.minimum.reduceat(lo, np.flatnonzero(starts)),
        hi=np.maximum.reduceat(hi, np.flatnonzero(starts)),
        # Duplicate (row, column) entries are summed: a column's peaks in one window.
        design=csr_matrix((prob, (row, col)), shape=shape),
        design_mz=csr_matrix((prob * mz, (row, col)), shape=shape),
        significant=significant,
        peak_mz=mz[strong],
        peak_sigma=mz[strong] / resolving_power * FWHM_TO_SIGMA,
        resolving_power=float(resolving_power),
    )


def _match(design: StickDesign, mz: np.ndarray, area: np.ndarray, shift_ppm: float):
    """Summed stick area and area-weighted m/z per window at ``shift_ppm``; unmatched sticks."""
    x = mz / (1.0 + shift_ppm * 1e-6)
    row = np.searchsorted(design.lo, x, side="right") - 1
    inside = (row >= 0) & (x <= design.hi[np.maximum(row, 0)])
    observed = np.bincount(row[inside], weights=area[inside], minlength=design.n_rows)
    moment = np.bincount(row[inside], weights=area[inside] * mz[inside], minlength=design.n_rows)
    return observed, moment, inside


def _correlation(design: StickDesign, mz: np.ndarray, area: np.ndarray, shift_ppm: float):
    """Stick area weighted by a Gaussian of its distance to the nearest predicted peak."""
    centres = design.peak_mz * (1.0 + shift_ppm * 1e-6)
    j = np.clip(np.searchsorted(centres, mz), 1, centres.size - 1)
    near = np.where(np.abs(mz - centres[j - 1]) < np.abs(mz - centres[j]), j - 1, j)
    u = (mz - centres[near]) / design.peak_sigma[near]
    return float(np.dot(area, np.exp(-0.5 * u * u)))


@njit(cache=True)
def _normal_equations(indptr, indices, values, rows, y, w, n_cols):
    """G = A'WA and b = A'Wy of the selected rows of a sparse (CSR) design.

    Each window holds the peaks of one to a few species, so the rows are nearly empty; a
    dense product would cost more than the whole fit.
    """
    gram = np.zeros((n_cols, n_cols))
    rhs = np.zeros(n_cols)
    for n in range(rows.shape[0]):
        r = rows[n]
        for p in range(indptr[r], indptr[r + 1]):
            vp = values[p] * w[n]
            rhs[indices[p]] += vp * y[n]
            for q in range(indptr[r], indptr[r + 1]):
                gram[indices[p], indices[q]] += vp * values[q]
    return gram, rhs


@njit(cache=True)
def _product(indptr, indices, values, rows, coef):
    """A x for the selected rows of a sparse (CSR) design."""
    out = np.zeros(rows.shape[0])
    for n in range(rows.shape[0]):
        r = rows[n]
        acc = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            acc += values[p] * coef[indices[p]]
        out[n] = acc
    return out


def _nnls(design: StickDesign, rows, y, w, passive, allowed=None):
    """NNLS of the selected rows; columns not ``allowed`` are held at 0 (decoupled: their
    rows and columns of the normal equations replaced by the identity's)."""
    d = design.design
    gram, rhs = _normal_equations(d.indptr, d.indices, d.data, rows, y, w, design.n_cols)
    if allowed is not None and not allowed.all():
        held = ~allowed
        gram[held, :] = 0.0
        gram[:, held] = 0.0
        gram[held, held] = 1.0
        rhs[held] = 0.0
        passive = passive & allowed
    return kern.nnls_gram(gram, rhs, passive)


def detected_sticks(design: StickDesign, rows, coef, written, level,
                    pedestal: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Which columns (ion forms) the sticks of a peak list show: the rule of the profile
    fit (:func:`intercluster.deconvolution.detected_columns`) on windows.

    An ion form is detected when at some window that holds a stick its own area reaches
    ``DETECTION_OWN_LEVEL`` of the detection level there (``level``: the area of a peak at
    the picker's threshold) and at least ``STICK_OWN_SHARE`` of the species' model in that
    window. An ion whose windows are all held by stronger ions (a monomer's peaks under
    a dimer's integer peaks, or an interference's that coincide with them) only takes what
    the others leave there: the detection floor reads it 0. ``pedestal`` (heights: the
    background's area in each window) counts in what the window holds, as the species do:
    under a broad background an absent ion otherwise takes the noise maxima of the hump.
    """
    d = design.design[rows].tocsc()
    model = d @ coef
    if pedestal is not None:
        model = model + pedestal
    detected = np.zeros(design.n_cols, bool)
    for k in np.flatnonzero(coef > 0):
        part = slice(d.indptr[k], d.indptr[k + 1])
        r = d.indices[part]
        own = d.data[part] * coef[k]
        detected[k] = bool(np.any(written[r] & (own >= DETECTION_OWN_LEVEL * level[r])
                                  & (own >= STICK_OWN_SHARE * model[r])))  # fmt: skip
    return detected


def _model(design: StickDesign, rows, coef, with_mz: bool = False):
    d = design.design
    model = _product(d.indptr, d.indices, d.data, rows, coef)
    if not with_mz:
        return model
    m = design.design_mz
    return model, _product(m.indptr, m.indices, m.data, rows, coef)


def stick_weights(observed: np.ndarray, model: np.ndarray) -> np.ndarray:
    """1 / variance of each window's area, ``s0 + c * model``, from a first fit's residuals.

    Shot noise (``c``: a stick's area is a count of ions) plus a constant part ``s0`` (the
    baseline noise summed over a peak's points), fitted by least squares to the squared
    residuals of the windows that hold a stick, as the profile fit does per point. ``s0``
    is at least the shot noise of a peak at the detection level (the 5th percentile of the
    observed areas), the scale of a measured zero. Weights are scaled to mean 1.
    """
    seen = observed > 0
    if seen.sum() < 3:
        return np.ones_like(observed)
    r2 = np.square(observed - model)[seen]
    m = np.maximum(model[seen], 0.0)
    # 2x2 normal equations by hand (np.linalg here would start BLAS threads: ms per call)
    n, sm, smm, sr, smr = m.size, m.sum(), np.square(m).sum(), r2.sum(), (m * r2).sum()
    det = n * smm - sm * sm
    c = max((n * smr - sm * sr) / det if det > 0 else 0.0, 0.0)
    s0 = (sr - c * sm) / n
    detection = float(np.percentile(observed[seen], 5.0))
    s0 = max(s0, c * detection, 1e-12 * max(sr / n, 1e-300))
    w = 1.0 / (s0 + c * np.maximum(model, 0.0))
    return w / w.mean()


def _pedestal_unit(design: StickDesign, rows: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The pedestal's column: the area a unit height has at each fitted window with a stick.

    A height picker reads the profile's baseline into every height; converted, that is a
    height x FWHM x 1.064 at each window. The measured zeros (no stick) were below the
    picker's threshold, pedestal or not, and get none.
    """
    centre = 0.5 * (design.lo[rows] + design.hi[rows])
    return np.where(observed > 0, _unit_area(centre, design.resolving_power), 0.0)


def _pedestal_columns(design: StickDesign, rows: np.ndarray, unit: np.ndarray,
                      spacing: float) -> np.ndarray:
    """The pedestal's columns over the fitted windows: ``unit`` (one common height) when
    ``spacing`` is 0, else ``unit`` times each cubic B-spline (knots ``spacing`` Th apart,
    the profile fit's lattice, :func:`intercluster.spectrum_basis.baseline_knots`) that
    reaches a window with a stick."""
    if spacing <= 0 or not np.any(unit > 0):
        return unit[:, None]
    centre = 0.5 * (design.lo[rows] + design.hi[rows])
    splines = BSpline.design_matrix(centre, baseline_knots(centre, spacing),
                                    BASELINE_SPLINE_DEGREE).toarray()  # fmt: skip
    columns = splines * unit[:, None]
    return columns[:, np.any(columns > 0, axis=0)]


def _fit_pedestal(columns: np.ndarray, left: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The pedestal (area per window) that best explains ``left`` with weights ``w``, its
    coefficients at least 0 (scipy's NNLS on the weighted columns)."""
    if columns.shape[1] == 1:  # one common height: the closed form
        unit = columns[:, 0]
        level = max(float(np.dot(w * unit, left) / max(np.dot(w * unit, unit), 1e-300)), 0.0)
        return level * unit
    root = np.sqrt(w)
    coef, _ = nnls(columns * root[:, None], left * root)
    return columns @ coef


def _unit_area(mz, resolving_power: float):
    """The area of a Gaussian peak of height 1 at ``mz``: FWHM / 2.3548 x sqrt(2 pi)."""
    return np.asarray(mz, float) / resolving_power * FWHM_TO_SIGMA * SQRT_2PI


def _rows(design: StickDesign, observed: np.ndarray, zero_unsupported: bool) -> np.ndarray:
    """Indices of the windows fitted: those with a stick, and the measured zeros."""
    keep = observed > 0
    if zero_unsupported:
        keep |= design.significant
    return np.flatnonzero(keep)


def fit_sticks(
    mz: np.ndarray,
    intensity: np.ndarray,
    basis: PatternBasis,
    resolving_power: float,
    shift0: float = 0.0,
    max_shift_ppm: float | None = None,
    design: StickDesign | None = None,
    zero_unsupported: bool = True,
    weighted: bool = True,
    max_iter: int = 8,
    tol_ppm: float = 0.01,
    heights: bool = False,
    pedestal_spacing: float = 0.0,
) -> SpectrumFit:
    """Fit one peak list (stick m/z, stick area in counts) on the basis's isotope patterns.

    Rows: the windows of :func:`stick_design` that hold a stick, plus (``zero_unsupported``)
    every window with a significant predicted peak and no stick, as a measured zero. The
    shift: coarse scan (steps of a quarter of a peak's sd, ``shift0`` included) of the
    stick/peak correlation, then alternating NNLS and the least-squares shift of the
    matched window centroids (area-weighted) until the shift moves less than ``tol_ppm``.
    With ``weighted`` a last NNLS weights every row by 1 / its noise variance, fitted to
    the unweighted fit's residuals (:func:`stick_weights`). ``heights`` (the sticks are
    converted heights, :class:`StickReading`): every window with a stick also holds a
    common height (the profile's baseline under each apex, :func:`_pedestal_unit`), fitted
    by least squares (>= 0) alternating with the species' NNLS (unconstrained, the weak
    ions would take it); and a window without a stick is censored at the picker's threshold
    (the lowest height written), not a zero: an EM of a censored (Tobit) regression puts in
    its expected height below the threshold under the current fit (a weak ion whose
    smaller isotope peaks stay under the threshold is otherwise pulled down by their
    zeros). Its rows are the same (an ion whose significant peaks have no stick still
    meets values under the threshold).

    ``pedestal_spacing`` > 0 (heights only): the pedestal is a smooth, non-negative height
    in m/z instead of one number, cubic B-splines on knots this far apart (the profile
    fit's spline baseline, :func:`intercluster.deconvolution.baseline_spacing`), fitted by
    NNLS in the same alternation: a broad background lifts every height under it by its
    local level, and its noise maxima become sticks of about that height in the windows.

    ``residual_norm`` is ``||y - fit|| / ||y||`` over the rows and the unmatched sticks;
    ``baseline`` is the pedestal's mean height over the windows with a stick (0 for areas:
    a peak list of areas has none) and ``baseline_fraction`` its share of the fitted area.
    """
    mz = np.asarray(mz, float)
    area = np.asarray(intensity, float)
    if design is None:
        design = stick_design(basis, resolving_power)
    sigma_ppm = 1e6 * FWHM_TO_SIGMA / design.resolving_power
    if max_shift_ppm is None:
        max_shift_ppm = DeconvolutionSettings.schema_default().max_shift_ppm
    grid = np.arange(-max_shift_ppm, max_shift_ppm + 1e-9, 0.25 * sigma_ppm)
    grid = np.concatenate([grid, [float(np.clip(shift0, -max_shift_ppm, max_shift_ppm))]])
    if mz.size:
        shift = float(grid[np.argmax([_correlation(design, mz, area, s) for s in grid])])
    else:
        shift = float(grid[-1])

    passive = np.ones(basis.n_cols, bool)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - reported
        observed, moment, _ = _match(design, mz, area, shift)
        rows = _rows(design, observed, zero_unsupported)
        y = observed[rows]
        coef, passive = _nnls(design, rows, y, np.ones(y.size), passive)
        # Shift: the matched windows' observed centroids against the model's centroids.
        model, model_mz = _model(design, rows, coef, with_mz=True)
        seen = (y > 0) & (model > 0)
        if not seen.any():
            break
        ratio = moment[rows][seen] / y[seen] / (model_mz[seen] / model[seen])
        new = float(np.clip(1e6 * np.dot(y[seen], ratio - 1.0) / y[seen].sum(),
                            -max_shift_ppm, max_shift_ppm))  # fmt: skip
        moved = abs(new - shift)
        shift = new
        if moved < tol_ppm:
            break
    observed, _, inside = _match(design, mz, area, shift)
    rows = _rows(design, observed, zero_unsupported)
    y = observed[rows]
    unit = _pedestal_unit(design, rows, y) if heights else np.zeros(y.size)
    every = _pedestal_unit(design, rows, np.ones(y.size))  # a unit height's area per window
    # heights: a window without a stick holds a height below the picker's threshold, the
    # lowest height written (censored, not zero)
    censored = (y <= 0) & heights
    written = area > 0
    threshold = float(np.min(area[written] / _unit_area(mz[written], design.resolving_power))
                      if written.any() else 0.0)  # fmt: skip
    # the pedestal's columns (area per window of a unit height, or of each B-spline's)
    columns = _pedestal_columns(design, rows, unit, pedestal_spacing if heights else 0.0)
    target, pedestal = y.copy(), np.zeros(y.size)
    for _ in range(HEIGHT_ROUNDS if heights else 1):
        coef, passive = _nnls(design, rows, target - pedestal, np.ones(y.size), passive)
        w = np.ones(y.size)
        if weighted and y.size > 2:
            w = stick_weights(target - pedestal, _model(design, rows, coef))
            coef, passive = _nnls(design, rows, target - pedestal, w, passive)
        if not heights:
            break
        # the pedestal: weighted non-negative least squares on what the species leave
        left = target - _model(design, rows, coef)
        pedestal = _fit_pedestal(columns, left, w)
        if censored.any() and threshold > 0:
            # EM of a censored (Tobit) regression: each censored window enters as the
            # expected height below the threshold under the model, with the height noise
            # (robust sd) of the windows that hold a stick
            mu = _model(design, rows, coef) / every
            r = ((y - pedestal) / every - mu)[~censored]
            sd = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-6 * threshold)
            alpha = (threshold - mu[censored]) / sd
            below = norm.pdf(alpha) / np.maximum(norm.cdf(alpha), 1e-300)
            target[censored] = (mu[censored] - sd * below) * every[censored]
    if heights:  # the species at the final pedestal and censored values
        coef, passive = _nnls(design, rows, target - pedestal, w, passive)
    if zero_unsupported and written.any():
        # the detection floor: an ion form no stick shows is held at 0 (refit without it)
        floor = (threshold * every if heights
                 else np.full(y.size, float(np.min(area[written]))))  # fmt: skip
        # under a background the picker's floor is reached on top of the pedestal
        allowed = detected_sticks(design, rows, coef, y > 0, floor + pedestal, pedestal)
        if (coef[~allowed] > 0).any():
            coef, passive = _nnls(design, rows, target - pedestal, w, passive, allowed)
    coef_sd = _stick_coef_sd(design, rows, target - pedestal, w, coef)
    unmatched = area[~inside]
    model = _model(design, rows, coef)
    rss = float(np.square(y - pedestal - model).sum() + np.square(unmatched).sum())
    total = float(np.square(y).sum() + np.square(unmatched).sum())
    with_stick = unit > 0
    fitted = float(pedestal[with_stick].sum() + model.sum())
    return SpectrumFit(
        coef=coef,
        baseline=float(np.mean(pedestal[with_stick] / unit[with_stick])) if with_stick.any()
        else 0.0,
        baseline_model="spline" if columns.shape[1] > 1 else "constant",
        baseline_fraction=float(pedestal[with_stick].sum()) / fitted if fitted > 0 else 0.0,
        shift_ppm=shift,
        resolving_power=float(design.resolving_power),
        rss=rss,
        residual_norm=float(np.sqrt(rss / total)) if total > 0 else float("nan"),
        n_iter=n_iter,
        passive=passive,
        coef_sd=coef_sd,
    )


def _stick_coef_sd(design: StickDesign, rows, y, w, coef) -> np.ndarray:
    """Standard errors of a stick fit's abundances: ``kappa (A' W A)^-1`` over the columns
    not at 0 (:func:`intercluster.spectrum_basis.sd_from_gram`), the weights relative
    (:func:`stick_weights`), so their scale ``kappa`` is the weighted residual variance
    (sum w r^2 / (windows - free columns))."""
    d = design.design
    gram, _ = _normal_equations(d.indptr, d.indices, d.data, rows, y, w, design.n_cols)
    free = np.asarray(coef) > 0
    residual = y - _model(design, rows, coef)
    kappa = float(np.sum(w * residual * residual)) / max(y.size - int(free.sum()), 1)
    return sd_from_gram(gram, free, kappa)


def fit_stick_spectra(
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    basis: PatternBasis,
    resolving_power: float,
    max_shift_ppm: float | None = None,
    reading: StickReading | None = None,
) -> list[SpectrumFit]:
    """:func:`fit_sticks` for every peak list of a file, each starting from its predecessor.

    The resolving power is not fitted (a peak list keeps no peak shape); it sets the windows.
    ``reading``: how the sticks are read (:class:`StickReading`; None: as areas).
    """
    design = stick_design(basis, resolving_power)
    reading = reading or StickReading("area", "config", float(resolving_power))
    fits, shift = [], 0.0
    for mz, y in zip(mz_list, intensity_list, strict=True):
        fit = reading.fit(mz, y, basis, shift, max_shift_ppm, design)
        fits.append(fit)
        shift = fit.shift_ppm
    return fits


# --- height or area: the reading of a file --------------------------------------------------
@dataclass(frozen=True)
class StickReading:
    """What a centroid file's stick intensities are, how that was decided, and the evidence.

    ``intensity``: ``"area"`` (ion counts, fitted as they are) or ``"height"`` (converted by
    :func:`heights_to_areas` at ``resolving_power``). ``decided_by``: ``"config"`` or
    ``"auto"``. The evidence of :func:`read_centroid_file` under each reading, ``(area,
    height)``, NaN where not computed: ``balance_spread``, the relative sd over the file's
    spectra of the first metal's share of the metal atoms the cluster ions carry (constant
    in a closed reaction), and ``residual_norm``, the median relative residual of the stick
    fit.
    """

    intensity: str
    decided_by: str
    resolving_power: float
    balance_spread: tuple[float, float] = (float("nan"), float("nan"))
    residual_norm: tuple[float, float] = (float("nan"), float("nan"))
    #: heights: knot spacing (Th) of a smooth pedestal (0: one common height; fit_sticks)
    pedestal_spacing: float = 0.0

    def areas(self, mz: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One peak list as areas (unchanged when the sticks are areas)."""
        if self.intensity == "height":
            return heights_to_areas(mz, intensity, self.resolving_power)
        return np.asarray(mz, float), np.asarray(intensity, float)


    def fit(self, mz, intensity, basis: PatternBasis, shift0: float = 0.0,
            max_shift_ppm: float | None = None, design: StickDesign | None = None) -> SpectrumFit:
        """:func:`fit_sticks` of one peak list read this way (heights: converted, and fitted
        with their pedestal and threshold)."""
        mz, area = self.areas(mz, intensity)
        return fit_sticks(mz, area, basis, self.resolving_power, shift0, max_shift_ppm, design,
                          heights=self.intensity == "height",
                          pedestal_spacing=self.pedestal_spacing)  # fmt: skip

    @property
    def evidence(self) -> float:
        """ln(area / height) of the balance spread plus that of the residual: > 0 favours
        height (``auto`` takes it above ln ``AUTO_EVIDENCE``)."""
        logs = [np.log(a / h) for a, h in (self.balance_spread, self.residual_norm)
                if np.isfinite(a) and np.isfinite(h) and a > 0 and h > 0]  # fmt: skip
        return float(np.sum(logs)) if logs else float("nan")


def metal_balance_spread(coef: np.ndarray, labels: pd.DataFrame) -> float:
    """Relative sd over spectra of the first metal's share of the cluster ions' metal atoms.

    ``coef``: fitted ion counts (rows spectra, columns the basis). The metal exchange moves
    atoms between ions but keeps their total: in ion counts (areas), the first metal's share
    of the metal atoms is the same in every spectrum, while a reading that weights ions by
    1 / FWHM (heights taken for areas, or areas for heights) tilts it as the composition
    moves across the m/z range. A family's metal atoms per ion are its largest ``n_first``
    (families span their whole composition range); ions of another role (fragments made in
    the source) are left out.
    """
    family = "family" if "family" in labels else "kind"
    cluster = (labels["role"] == "cluster").to_numpy() if "role" in labels else True
    first = labels["n_first"].to_numpy(float)
    atoms = labels.groupby(family)["n_first"].transform("max").to_numpy(float)
    c = np.asarray(coef, float).reshape(-1, len(labels)) * cluster
    total = (c * atoms).sum(axis=1)
    seen = total > 0
    if seen.sum() < 3:
        return float("nan")
    share = (c * first).sum(axis=1)[seen] / total[seen]
    return float(np.std(share) / np.mean(share)) if np.mean(share) > 0 else float("nan")


def height_resolving_power(
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    basis: PatternBasis,
    resolving_power: float,
    max_shift_ppm: float | None = None,
) -> float:
    """The resolving power for reading a file's sticks as heights, from the stick fit itself.

    A peak list keeps no peak shape, but the height reading needs R (the conversion, the
    thinning of the sticks on one top and in the valleys, the windows), and it shows when R
    is too high: one peak's sticks stop merging and fall outside the narrowed windows, and
    the residual jumps (the independent generator's files: 0.02-0.08 at and below the true
    R, 0.1-0.2 at 1.2 x it), while a lower R only widens the windows. On a few spectra
    spread over the file, each R of ``R_SCAN`` x ``resolving_power`` is tried and the
    largest kept whose median residual is within ``R_RESIDUAL_SLACK`` of the best; where
    even the largest is (no jump: a clean list, one stick per peak), the configured R is
    kept. The config's ``resolving_power_guess`` is thus a start where the residual bounds
    R, and the value used where it does not.
    """
    n = len(mz_list)
    if n == 0:
        return float(resolving_power)
    pick = np.unique(np.linspace(0, n - 1, min(n, R_SCAN_SPECTRA)).round().astype(int))
    trials = float(resolving_power) * np.asarray(R_SCAN)
    residual = []
    for r in trials:
        reading = StickReading("height", "scan", float(r))
        fits = fit_stick_spectra([mz_list[i] for i in pick], [intensity_list[i] for i in pick],
                                 basis, float(r), max_shift_ppm, reading)  # fmt: skip
        residual.append(float(np.nanmedian([f.residual_norm for f in fits])))
    residual = np.asarray(residual)
    if not np.isfinite(residual).any():
        return float(resolving_power)
    near_best = residual <= R_RESIDUAL_SLACK * np.nanmin(residual)
    if near_best[-1]:
        # no R of the scan spoils the fit (one stick per peak, precise apexes): the data do
        # not bound R, and the configured one stays
        return float(resolving_power)
    chosen = float(trials[np.flatnonzero(near_best)[-1]])
    log.info("height reading: R %.0f (residuals %s at R %s)", chosen,
             np.round(residual, 4).tolist(), np.round(trials).tolist())  # fmt: skip
    return chosen


def read_centroid_file(
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    basis: PatternBasis,
    resolving_power: float,
    centroid_intensity: str,
    max_shift_ppm: float | None = None,
    baseline: str = "constant",
    pedestal_spacing: float = 0.0,
) -> tuple[StickReading, list[SpectrumFit]]:
    """Fit every peak list of a file, its sticks read as areas, heights, or as the data say.

    ``centroid_intensity`` ``"area"``/``"height"``: that reading. ``"auto"``: the file is
    fitted under both and the reading kept whose :attr:`StickReading.evidence` wins, i.e. the
    one under which (1) the first metal's share of the metal atoms stays the same from
    spectrum to spectrum (:func:`metal_balance_spread`: heights differ from areas by the
    factor FWHM ~ m/z / R, smooth across the file, which no species' own fit can see but the
    atom balance between ions rich in the lighter metal (low m/z) and in the heavier one (high
    m/z) does, as soon as the composition changes over the file) and (2) the isotope
    patterns fit better (the several sticks a local-maximum picker leaves on one noisy peak
    top inflate a window read as areas). ``height`` needs the evidence to favour it by a
    factor of ``AUTO_EVIDENCE`` (:attr:`StickReading.evidence` > ln 2); otherwise the sticks
    stay areas (a wrong conversion of areas costs as much as none of heights, and poorly
    fitted area files show small differences either way).

    Heights carry the profile's background (every height under a broad background is lifted
    by its local level): ``baseline`` ``spline`` fits their pedestal as a smooth height in
    m/z (knots ``pedestal_spacing`` Th apart) instead of one common height, ``auto`` when it
    lowers the file's summed squared residual by ``BASELINE_AUTO_MARGIN`` (as for profiles).
    Areas have no pedestal (a centroider that integrates peaks subtracts its baseline).
    """
    readings = ("area", "height") if centroid_intensity == "auto" else (centroid_intensity,)
    decided_by = "auto" if centroid_intensity == "auto" else "config"
    r_of = {"area": float(resolving_power)}
    if "height" in readings:
        r_of["height"] = height_resolving_power(mz_list, intensity_list, basis,
                                                resolving_power, max_shift_ppm)  # fmt: skip
    fitted = {}
    for intensity in readings:
        reading = StickReading(intensity, decided_by, r_of[intensity])
        fitted[intensity] = fit_stick_spectra(mz_list, intensity_list, basis, r_of[intensity],
                                              max_shift_ppm, reading)  # fmt: skip
    if centroid_intensity != "auto":
        reading = StickReading(centroid_intensity, decided_by, r_of[centroid_intensity])
        return _with_pedestal(reading, fitted[centroid_intensity], mz_list, intensity_list,
                              basis, max_shift_ppm, baseline, pedestal_spacing)  # fmt: skip
    spread = tuple(metal_balance_spread(np.array([f.coef for f in fitted[k]]), basis.labels)
                   for k in readings)  # fmt: skip
    residual = tuple(float(np.nanmedian([f.residual_norm for f in fitted[k]]))
                     if fitted[k] else float("nan") for k in readings)  # fmt: skip
    reading = StickReading("area", decided_by, r_of["area"], spread, residual)
    if reading.evidence > np.log(AUTO_EVIDENCE):
        reading = replace(reading, intensity="height", resolving_power=r_of["height"])
    log.info("centroid sticks read as %s (balance spread area %.3g / height %.3g, residual "
             "area %.3g / height %.3g)", reading.intensity, *spread, *residual)  # fmt: skip
    return _with_pedestal(reading, fitted[reading.intensity], mz_list, intensity_list, basis,
                          max_shift_ppm, baseline, pedestal_spacing)  # fmt: skip


def _with_pedestal(reading: StickReading, fits: list[SpectrumFit], mz_list, intensity_list,
                   basis: PatternBasis, max_shift_ppm, baseline: str,
                   spacing: float) -> tuple[StickReading, list[SpectrumFit]]:  # fmt: skip
    """Heights refitted with a smooth pedestal when ``baseline`` asks for it (``spline``) or
    it lowers the file's summed RSS by ``BASELINE_AUTO_MARGIN`` (``auto``)."""
    if reading.intensity != "height" or baseline == "constant" or spacing <= 0:
        return reading, fits
    smooth = replace(reading, pedestal_spacing=float(spacing))
    refits = fit_stick_spectra(mz_list, intensity_list, basis, smooth.resolving_power,
                               max_shift_ppm, smooth)  # fmt: skip
    constant_rss = sum(f.rss for f in fits)
    gain = 1.0 - sum(f.rss for f in refits) / constant_rss if constant_rss > 0 else 0.0
    log.info("heights' pedestal: smooth in m/z lowers the RSS by %.2f %% (auto takes it from "
             "%.0f %%)", 100 * gain, 100 * BASELINE_AUTO_MARGIN)  # fmt: skip
    if baseline == "spline" or gain >= BASELINE_AUTO_MARGIN:
        return smooth, refits
    return reading, fits


def cid_stick_reading(
    run, system, resolving_power: float, settings: DeconvolutionSettings,
    ms1_reading: str | None = None,
) -> StickReading:
    """How a centroided CID file's sticks are read (:func:`deconvolve_cid_run`).

    ``ms1_reading`` (the MS1 file's reading, same instrument and exporter) if given, else
    ``settings.centroid_intensity``. ``"auto"`` without the MS1 file's reading decides
    from the CID file alone, by the same two pieces of evidence as
    :func:`read_centroid_file`, the balance being that of each spectrum's fragments: a
    dimer ion with ``s`` atoms of the first metal falls apart into two monomers whose first-
    metal atoms add up to ``s``, so the fragments' mean first-metal count is ``s / 2``
    (``balance_spread``: the rms of the fragments' mean over ``s / 2`` - 1).
    """
    r = float(resolving_power)
    if ms1_reading in ("area", "height"):
        return StickReading(ms1_reading, "ms1", r)
    if settings.centroid_intensity != "auto":
        return StickReading(settings.centroid_intensity, "config", r)
    spread, residual = [], []
    for intensity in ("area", "height"):
        reading = StickReading(intensity, "auto", r)
        norms, offsets = [], []
        for k in range(len(run)):
            basis, n_fragments = cid_basis(system, run.precursor_mz[k])
            fit = reading.fit(run.mz[k], run.intensity[k], basis, 0.0, settings.max_shift_ppm)
            norms.append(fit.residual_norm)
            first = basis.labels["n_first"].to_numpy(float)
            fragments = fit.coef[:n_fragments]
            if fragments.sum() > 0:
                mean = float(np.dot(first[:n_fragments], fragments) / fragments.sum())
                offsets.append(mean / (0.5 * first[-1]) - 1.0 if first[-1] > 0 else np.nan)
        residual.append(float(np.nanmedian(norms)) if norms else float("nan"))
        spread.append(float(np.sqrt(np.nanmean(np.square(offsets)))) if offsets else np.nan)
    reading = StickReading("area", "auto", r, (spread[0], spread[1]), (residual[0], residual[1]))
    log.info("CID sticks: balance offset area %.3g / height %.3g, residual area %.3g / height "
             "%.3g", *spread, *residual)  # fmt: skip
    if reading.evidence > np.log(AUTO_EVIDENCE):
        return replace(reading, intensity="height")
    return reading


def fitted_sticks(
    mz: np.ndarray, intensity: np.ndarray, fit: SpectrumFit, basis: PatternBasis
) -> pd.DataFrame:
    """The stick fit window by window, for QC plots: observed against fitted area.

    One row per window that was fitted (holds a stick or a measured zero): ``mz`` (the
    model's centroid in the window, shifted; the window centre where the model is 0),
    ``observed`` (summed stick area), ``fitted`` (the model's area, plus the pedestal of a
    height reading, ``fit.baseline``). Sticks in no window are not listed (they count in
    ``fit.residual_norm``).
    """
    design = stick_design(basis, fit.resolving_power)
    mz = np.asarray(mz, float)
    observed, _, _ = _match(design, mz, np.asarray(intensity, float), fit.shift_ppm)
    rows = _rows(design, observed, True)
    model, model_mz = _model(design, rows, np.asarray(fit.coef, float), with_mz=True)
    centre = 0.5 * (design.lo[rows] + design.hi[rows])
    with np.errstate(invalid="ignore", divide="ignore"):
        where = np.where(model > 0, model_mz / model, centre)
    return pd.DataFrame(
        {
            "mz": where * (1.0 + fit.shift_ppm * 1e-6),
            "observed": observed[rows],
            "fitted": model + fit.baseline * _pedestal_unit(design, rows, observed[rows]),
        }
    )
