"""Isotope-pattern deconvolution of the MS1 time series and of the CID spectra.

Science: docs/science.md §1, §3.

Each spectrum ``y`` (ion counts per point) is modelled as

    y(mz) = sum_k a_k P_k(mz; shift, R) + baseline,   a_k >= 0,

with ``P_k`` the profile of observable k (its nominal isotope peaks as Gaussians of FWHM
``m/z / R``, centred at ``m/z (1 + shift 1e-6)``, in counts per point, so ``a_k`` is an ion
count). The abundances come from a non-negative least-squares fit; the calibration shift is
fitted per spectrum by variable projection (Gauss-Newton on the NNLS residual with a step
check), the resolving power once per file by a golden-section search on the summed
residual of a few spectra. Each time point is then normalised to the sum of the 77
observables (TIC normalisation, docs/science.md §3).

QC per spectrum: fitted shift, resolving power, relative residual norm ``||y - fit|| / ||y||``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _deconv_kernels as kern
from .isotopes import IsotopePattern, point_spacing, system_patterns
from .system import ClusterSystem

log = logging.getLogger(__name__)

N_SIGMA = 4.5  # Gaussian windows cover +-4.5 sd (the tails beyond hold < 1e-5)
REBUILD_PPM = 0.5  # columns moved to first order within this shift (error < 1e-3)
INTENSITY_COLUMNS = ["time_min", "species", "charge", "n_ag", "intensity", "intensity_norm"]
QC_COLUMNS = [
    "time_min",
    "native_id",
    "shift_ppm",
    "resolving_power",
    "residual_norm",
    "baseline",
    "total_intensity",
]
CID_COLUMNS = ["time_min", "n_ag", "fraction"]


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
    """Monomer fragment patterns plus the surviving precursor (the dimer ion nearest in m/z).

    Returns the basis and the column index of the precursor.
    """
    obs = system.observables()
    patterns = list(system_patterns(system))
    dimers = obs.index[obs["kind"] == "dimer"]
    avg = np.array([patterns[k].average_mz for k in dimers])
    precursor = int(dimers[np.argmin(np.abs(avg - precursor_mz))])
    monomers = list(obs.index[obs["kind"] == "monomer"])
    cols = monomers + [precursor]
    basis = PatternBasis.from_patterns([patterns[k] for k in cols], obs.loc[cols])
    return basis, len(monomers)


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


class _Columns:
    """Pattern columns built at one shift; moved to nearby shifts to first order."""

    def __init__(self, mz, width, basis: PatternBasis, resolving_power: float):
        self.mz, self.width, self.basis, self.r = mz, width, basis, resolving_power
        self.at = None
        self.parts = None

    def get(self, shift: float):
        if self.at is None or abs(shift - self.at) > REBUILD_PPM:
            b = self.basis
            self.parts = kern.build_columns(
                self.mz, self.width, b.peak_mz, b.peak_prob, b.col_ptr, shift, self.r, N_SIGMA
            )
            self.at = shift
        return self.parts, shift - self.at


def _evaluate(columns: _Columns, y, w, shift, passive0, baseline=True):
    (starts, ends, seg_ptr, values, deriv), delta = columns.get(shift)
    gram, rhs = kern.normal_equations(starts, ends, seg_ptr, values, deriv, delta, y, w, baseline)
    coef, passive = kern.nnls_gram(gram, rhs, passive0)
    rss, step, model = kern.model_and_shift_step(
        starts, ends, seg_ptr, values, deriv, delta, coef, y, w, baseline
    )
    return coef, passive, rss, step, model


def noise_weights(y: np.ndarray, model: np.ndarray) -> np.ndarray:
    """1 / variance per point from the residuals of a first fit.

    Variance model ``s0 + c * model`` (baseline noise plus shot noise, whose scale ``c``
    is fitted too, as intensities need not be ion counts), by least squares on the squared
    residuals; weights are scaled to mean 1.
    """
    r2 = np.square(y - model)
    m = np.maximum(model, 0.0)
    # 2x2 normal equations by hand (np.linalg here would start BLAS threads: ms per call)
    n, sm, smm, sr, smr = m.size, m.sum(), np.square(m).sum(), r2.sum(), (m * r2).sum()
    det = n * smm - sm * sm
    c = (n * smr - sm * sr) / det if det > 0 else 0.0
    s0 = (sr - c * sm) / n
    floor = max(float(np.median(r2)), 1e-12)
    s0 = max(float(s0), 0.05 * floor)
    c = max(float(c), 0.0)
    w = 1.0 / (s0 + c * m)
    return w / w.mean()


def _gauss_newton(columns, y, w, shift, passive, baseline, max_shift_ppm, max_iter, tol_ppm):
    coef, passive, rss, step, model = _evaluate(columns, y, w, shift, passive, baseline)
    max_step = 0.25e6 / columns.r  # a quarter of the FWHM, in ppm
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - reported
        step = float(np.clip(step, -max_step, max_step))
        accepted = False
        for _ in range(6):
            trial = float(np.clip(shift + step, -max_shift_ppm, max_shift_ppm))
            t_coef, t_passive, t_rss, t_step, t_model = _evaluate(
                columns, y, w, trial, passive, baseline
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


def fit_spectrum(
    mz: np.ndarray,
    y: np.ndarray,
    basis: PatternBasis,
    resolving_power: float,
    shift0: float = 0.0,
    max_shift_ppm: float = 20.0,
    passive0: np.ndarray | None = None,
    max_iter: int = 12,
    tol_ppm: float = 0.01,
    width: np.ndarray | None = None,
    baseline: bool = True,
    weighted: bool = True,
) -> SpectrumFit:
    """NNLS abundances with the calibration shift fitted by variable projection.

    With ``weighted`` a second pass weights every point by 1 / its noise variance, from a
    variance model (baseline + shot noise) fitted to the first pass's residuals.

    Gauss-Newton on the shift for the NNLS solution (Kaufman's approximation), each step
    accepted only if it lowers the residual (else halved). Columns are rebuilt only when
    the shift moves by more than ``REBUILD_PPM`` from where they were built.
    """
    mz = np.ascontiguousarray(mz, float)
    y = np.ascontiguousarray(y, float)
    if width is None:
        width = point_spacing(mz)
    columns = _Columns(mz, width, basis, float(resolving_power))
    m = basis.n_cols + (1 if baseline else 0)
    passive = np.ones(m, bool) if passive0 is None else passive0.copy()
    shift = float(np.clip(shift0, -max_shift_ppm, max_shift_ppm))
    w = np.ones_like(y)
    args = (baseline, max_shift_ppm, max_iter, tol_ppm)
    shift, coef, passive, rss, model, n_iter = _gauss_newton(columns, y, w, shift, passive, *args)
    if weighted:
        w = noise_weights(y, model)
        shift, coef, passive, rss, model, n_more = _gauss_newton(
            columns, y, w, shift, passive, *args
        )
        n_iter += n_more
    rss = float(np.square(y - model).sum())  # unweighted, for the QC
    y_norm = float(np.sqrt(np.square(y).sum()))  # not np.dot: BLAS threads cost ms here
    return SpectrumFit(
        coef=coef[: basis.n_cols].copy(),
        baseline=float(coef[basis.n_cols]) if baseline else 0.0,
        shift_ppm=shift,
        resolving_power=float(resolving_power),
        rss=float(rss),
        residual_norm=float(np.sqrt(max(rss, 0.0)) / y_norm) if y_norm > 0 else float("nan"),
        n_iter=n_iter,
        passive=passive,
    )


def scan_shift(mz, y, basis, resolving_power, max_shift_ppm=20.0, step_ppm=None) -> float:
    """Coarse start for the shift: the grid point of least NNLS residual, then refined."""
    mz = np.ascontiguousarray(mz, float)
    y = np.ascontiguousarray(y, float)
    width = point_spacing(mz)
    if step_ppm is None:
        # An eighth of the FWHM: the residual is unimodal in the shift within about one
        # FWHM (the next minimum is an isotope spacing, > 100 ppm, away).
        step_ppm = 0.125e6 / resolving_power
    grid = np.arange(-max_shift_ppm, max_shift_ppm + 1e-9, step_ppm)
    passive = np.ones(basis.n_cols + 1, bool)
    best, best_rss = 0.0, np.inf
    columns = _Columns(mz, width, basis, float(resolving_power))
    ones = np.ones_like(y)
    for shift in grid:
        _, passive, rss, _, _ = _evaluate(columns, y, ones, float(shift), passive)
        if rss < best_rss:
            best, best_rss = float(shift), rss
    return fit_spectrum(
        mz, y, basis, resolving_power, best, max_shift_ppm, width=width, weighted=False
    ).shift_ppm


def fit_resolving_power(
    spectra: list[tuple[np.ndarray, np.ndarray]],
    basis: PatternBasis,
    guess: float,
    shift0: float,
    max_shift_ppm: float = 20.0,
    rel_range: tuple[float, float] = (0.6, 1.6),
    tol_rel: float = 5e-3,
) -> float:
    """One resolving power for a set of spectra: golden section on log R of the summed RSS."""
    widths = [point_spacing(mz) for mz, _ in spectra]
    shifts = [shift0] * len(spectra)

    def cost(log_r: float) -> float:
        total = 0.0
        r = float(np.exp(log_r))
        for n, (mz, y) in enumerate(spectra):
            fit = fit_spectrum(
                mz, y, basis, r, shifts[n], max_shift_ppm, width=widths[n], weighted=False
            )
            shifts[n] = fit.shift_ppm
            total += fit.rss
        return total

    a, b = np.log(guess * rel_range[0]), np.log(guess * rel_range[1])
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = cost(c), cost(d)
    while b - a > tol_rel:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = cost(d)
    return float(np.exp(0.5 * (a + b)))


def _representative(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def deconvolve_spectra(
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    basis: PatternBasis,
    resolving_power_guess: float = 25000.0,
    fit_resolution: bool = True,
    max_shift_ppm: float = 20.0,
    resolving_power: float | None = None,
    n_calibration_spectra: int = 3,
    centroided: bool = False,
) -> list[SpectrumFit]:
    """Fit every spectrum of one file; one resolving power for the file.

    The start shift comes from a coarse scan of the most intense spectrum; each spectrum then
    starts from its predecessor's shift (the calibration drifts slowly).

    ``centroided``: the spectra are peak lists, fitted as sticks
    (:func:`intercluster.centroid.fit_stick_spectra`) at the given or guessed resolving
    power, which sets the matching tolerance (a peak list keeps no shape to fit it from).
    """
    n = len(mz_list)
    if n == 0:
        return []
    if centroided:
        from .centroid import fit_stick_spectra

        r = resolving_power or resolving_power_guess
        return fit_stick_spectra(mz_list, intensity_list, basis, r, max_shift_ppm)
    tic = np.array([float(np.sum(y)) for y in intensity_list])
    ref = int(np.argmax(tic))
    r0 = resolving_power or resolving_power_guess
    shift0 = scan_shift(mz_list[ref], intensity_list[ref], basis, r0, max_shift_ppm)
    if resolving_power is None and fit_resolution:
        pick = _representative(n, n_calibration_spectra)
        r0 = fit_resolving_power(
            [(mz_list[i], intensity_list[i]) for i in pick], basis, r0, shift0, max_shift_ppm
        )
        shift0 = scan_shift(mz_list[ref], intensity_list[ref], basis, r0, max_shift_ppm)
    log.info("resolving power %.0f, start shift %.2f ppm", r0, shift0)
    fits: list[SpectrumFit | None] = [None] * n
    passive = None
    shift = shift0
    # Walk outwards from the reference spectrum so every start is a neighbour's shift.
    for order in (range(ref, n), range(ref - 1, -1, -1)):
        shift, passive = shift0, None
        for i in order:
            fit = fit_spectrum(
                mz_list[i], intensity_list[i], basis, r0, shift, max_shift_ppm, passive
            )
            fits[i] = fit
            shift, passive = fit.shift_ppm, fit.passive
    return fits  # type: ignore[return-value]


def intensities_table(times_min, fits: list[SpectrumFit], basis: PatternBasis) -> pd.DataFrame:
    """Long table: time_min, species, charge, n_ag, intensity, intensity_norm."""
    labels = basis.labels
    coef = np.array([f.coef for f in fits]).reshape(len(fits), basis.n_cols)
    total = coef.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(total > 0, coef / np.where(total > 0, total, 1.0), np.nan)
    n_t, n_k = coef.shape
    return pd.DataFrame(
        {
            "time_min": np.repeat(np.asarray(times_min, float), n_k),
            "species": np.tile(labels["species"].to_numpy(), n_t),
            "charge": np.tile(labels["charge"].to_numpy(), n_t),
            "n_ag": np.tile(labels["n_ag"].to_numpy(), n_t),
            "intensity": coef.ravel(),
            "intensity_norm": norm.ravel(),
        }
    )[INTENSITY_COLUMNS]


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
        }
    )[QC_COLUMNS]


def cid_table(times_min, fits: list[SpectrumFit], basis: PatternBasis, n_fragments: int):
    """Fragment distributions: fraction of each monomer n_ag among the fragment ions."""
    rows = []
    n_ag = basis.labels["n_ag"].to_numpy()[:n_fragments]
    for t, fit in zip(times_min, fits, strict=True):
        frag = fit.coef[:n_fragments]
        total = frag.sum()
        frac = frag / total if total > 0 else np.full(n_fragments, np.nan)
        rows.append(pd.DataFrame({"time_min": float(t), "n_ag": n_ag, "fraction": frac}))
    if not rows:
        return empty_cid_table()
    return pd.concat(rows, ignore_index=True)[CID_COLUMNS]


def empty_cid_table() -> pd.DataFrame:
    """cid.tsv when the sample sheet names no CID file: the header only."""
    return pd.DataFrame(
        {"time_min": pd.Series(dtype=float), "n_ag": pd.Series(dtype=int), "fraction": []}
    )[CID_COLUMNS]


# --- whole files -----------------------------------------------------------------------------
def deconvolve_run(
    run,
    system: ClusterSystem,
    resolving_power_guess: float = 25000.0,
    fit_resolution: bool = True,
    max_shift_ppm: float = 20.0,
):
    """Deconvolve an MS1 :class:`~intercluster.ingest.SpectraRun`.

    A centroided run (``run.mode == "centroid"``) is fitted as sticks, with the same tables.
    Returns ``(intensities, qc, resolving_power)``.
    """
    basis = observable_basis(system)
    fits = deconvolve_spectra(
        run.mz, run.intensity, basis, resolving_power_guess, fit_resolution, max_shift_ppm,
        centroided=getattr(run, "mode", "profile") == "centroid",
    )  # fmt: skip
    resolving_power = fits[0].resolving_power if fits else float(resolving_power_guess)
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
    max_shift_ppm: float = 20.0,
) -> pd.DataFrame:
    """Monomer fragment distributions of the MS2 spectra of a CID file.

    Each spectrum is fitted on the N+1 monomer patterns plus its precursor's pattern (the
    dimer ion nearest the spectrum's selected-ion m/z), with its own calibration shift.
    """
    from .validation import InputError

    fits, times, n_fragments, basis = [], [], 0, None
    for k in range(len(run)):
        precursor = run.precursor_mz[k] if run.precursor_mz else None
        if precursor is None:
            raise InputError(
                f"{run.path}: spectrum {run.native_ids[k]!r} (index {run.index[k]}): no "
                "selected ion m/z (MS:1000744); expected the CID precursor, e.g. m/z 6280"
            )
        basis, n_fragments = cid_basis(system, precursor)
        mz, y = run.mz[k], run.intensity[k]
        if getattr(run, "mode", "profile") == "centroid":
            from .centroid import fit_sticks

            fits.append(fit_sticks(mz, y, basis, resolving_power, 0.0, max_shift_ppm))
        else:
            shift0 = scan_shift(mz, y, basis, resolving_power, max_shift_ppm)
            fits.append(fit_spectrum(mz, y, basis, resolving_power, shift0, max_shift_ppm))
        times.append(run.times_min[k])
    if basis is None:
        return empty_cid_table()
    return cid_table(times, fits, basis, n_fragments)
