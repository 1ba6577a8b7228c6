"""σ(t_max) of the experimental peak times (beyond the paper): the moving-block residual
bootstrap, the σ of an end plateau, the σ floor and replicate σ; the table
``tmax_experiment.tsv`` they make (rule fit_tmax_experiment).

Moving-block residual bootstrap (:func:`bootstrap_tmax`)
    Every column of the normalised intensity matrix is split into a smooth curve and a
    residual with a local quadratic of THE t_max rule's kind (``observables.PeakFinder``,
    hat matrix H), applied twice ("twicing", Tukey): residual = (I − H)² y, so that the
    smoother's own bias at a sharp peak is second order and not resampled as noise. The
    width of that split is chosen per observable (:func:`_centre_split`) among
    :data:`CENTRE_FACTORS` × the rule's width by Lepski's rule: the widest whose curve stays
    within :data:`CENTRE_Z` noise sds of every narrower curve on the top of the peak (where
    the curve exceeds half its maximum). Wider than the rule because a curve that still
    carries the data's own noise gives every replica the data's accidental shape at the top,
    so σ followed the accident (measurements: ``docs/uncertainty-benchmarks.md``). Each
    residual is divided by the norm of its row of (I − H)² (the share of white noise it
    keeps) and standardised by the local rms of the residuals (Gaussian kernel, FWHM = the
    rule's smoothing width; shot noise grows with the signal, so a residual from the
    baseline must not land on a peak). Blocks of ``block_length`` consecutive time points,
    the same blocks for every observable (normalisation and overlapping isotope patterns
    correlate the observables of one spectrum), are drawn with replacement and laid end to
    end; rescaled by the local rms at their new place and added to the smooth curve, they
    make one replica. THE t_max rule (:func:`intercluster.observables.tmax_of`) runs on every
    replica; σ is the standard deviation over the replicas. Block length (default 1 time
    point): independent spectrum noise; use longer blocks for data whose noise is correlated
    over several spectra (e.g. a source that drifts over minutes).

σ of an end plateau (:func:`end_plateau_sigma`)
    When the smoothed curve stays within :data:`END_PLATEAU_Z` noise sds of its top up to
    the last spectrum, t_max is taken as uniform on the top: σ ≥ (t_end − start of the
    top) / √12. Only for the vertex rule (``fit.tmax.plateau_rel = 0``).

σ floor (``fit.uncertainty.sigma_floor_fraction``)
    σ is floored at a fraction (0.1 by default) of the scan interval, below what the peak
    rule and a simulation on the same time grid resolve reliably, so that no observable with
    a near-zero bootstrap σ decides the fit alone.

Replicates (:func:`replicate_sigma`)
    Several runs of one condition give a σ of their own, the standard deviation of their
    t_max over the runs; each run still enters a joint fit as a sample of its own, with
    σ = max(bootstrap σ, replicate σ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .io import read_tsv
from .observables import (
    TmaxSettings,
    experiment_matrix,
    experimental_tmax,
    normalise_rows,
    peak_finder,
    tmax_of,
)
from .settings import UncertaintySettings

#: Widths (multiples of THE rule's smoothing width) among which the bootstrap's curve/residual
#: split is chosen per observable by Lepski's rule (module docstring).
CENTRE_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0)


#: Lepski's rule: a wider curve is kept while within this many noise sds of the narrower ones.
CENTRE_Z = 3.0


#: A flat top reaching the record's end spans the times within this many noise sds of t_max's.
END_PLATEAU_Z = 2.0


# --- σ(t_max) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TmaxBootstrap:
    """Bootstrap of the t_max of one sample's observables.

    Attributes
    ----------
    t_max : ndarray, shape (n_obs,)
        t_max (min) of the data themselves (THE rule).
    replicas : ndarray, shape (n_replicas, n_obs)
        t_max (min) of every bootstrap replica.
    sigma : ndarray, shape (n_obs,)
        Standard deviation of the replicas (min), not floored.
    block_length : int
        Time points per resampled block.
    end_plateau : ndarray, shape (n_obs,)
        :func:`end_plateau_sigma` (min): > 0 only for a flat top reaching the record's end.
    """

    t_max: np.ndarray
    replicas: np.ndarray
    sigma: np.ndarray
    block_length: int
    end_plateau: np.ndarray


def scan_interval_min(times_min) -> float:
    """Median spacing (min) of a time grid."""
    times = np.asarray(times_min, float)
    if times.size < 2:
        raise ValueError("need at least two time points for a scan interval")
    return float(np.median(np.diff(times)))


def _local_rms(times: np.ndarray, residuals: np.ndarray, width_min: float) -> np.ndarray:
    """Gaussian-kernel rms of the residuals around every time point (FWHM ``width_min``)."""
    sigma = max(width_min / 2.354820045, scan_interval_min(times))
    x = (times[:, None] - times[None, :]) / sigma
    w = np.exp(-0.5 * x * x)
    w /= w.sum(axis=1, keepdims=True)
    ms = w @ np.nan_to_num(residuals * residuals)
    positive = ms[ms > 0]
    tiny = (positive.min() if positive.size else 1.0) * 1e-6
    return np.sqrt(np.maximum(ms, tiny))


def _twicing(times: np.ndarray, width_min: float) -> tuple[np.ndarray, np.ndarray]:
    """(residual operator (I − H)², its row norms) of the local quadratic of ``width_min``."""
    n_t = times.size
    hat = peak_finder(times, width_min).smooth(np.eye(n_t))
    residual_op = (np.eye(n_t) - hat) @ (np.eye(n_t) - hat)
    return residual_op, np.sqrt(np.sum(residual_op * residual_op, axis=1))


def _centre_split(times: np.ndarray, y: np.ndarray, smoothing_min: float,
                  factors: Sequence[float], z: float = CENTRE_Z,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(smooth curve, residual scaled to unit noise share, local rms) of every observable,
    with the curve/residual smoother chosen per observable among ``factors`` ×
    ``smoothing_min`` by Lepski's rule: the widest whose curve stays within ``z`` noise sds
    of every narrower one's at every time (module docstring)."""
    if not factors or min(factors) <= 0:
        raise ValueError(f"centre smoothing factors must be > 0, got {factors}")
    rms_width = max(smoothing_min, scan_interval_min(times))
    n_t = times.size
    curves, residuals, rmss, noise = [], [], [], []
    for factor in sorted(factors):
        residual_op, scale = _twicing(times, float(factor) * smoothing_min)
        raw = residual_op @ y
        residual = raw / np.clip(scale, 0.2, None)[:, None]
        rms = _local_rms(times, residual, rms_width)
        curve_op = np.eye(n_t) - residual_op
        curves.append(y - raw)
        residuals.append(residual)
        rmss.append(rms)
        # noise sd of the curve: the narrowest split's noise estimate through the operator
        noise.append(np.sqrt((curve_op * curve_op) @ (rmss[0] * rmss[0])))
    n_obs = y.shape[1]
    best = np.zeros(n_obs, dtype=np.int64)
    still = np.ones(n_obs, dtype=bool)
    # t_max is decided on the top of the curve: compare where it exceeds half its maximum
    top = curves[0] >= 0.5 * np.max(curves[0], axis=0, keepdims=True)
    for k in range(1, len(curves)):
        within = np.ones(n_obs, dtype=bool)
        for i in range(k):
            close = (np.abs(curves[k] - curves[i]) <= z * noise[i]) | ~top
            within &= np.all(close, axis=0)
        still &= within
        best[still] = k
    cols = np.arange(n_obs)
    pick = [np.stack(arrays)[best, :, cols].T for arrays in (curves, residuals, rmss)]
    return pick[0], pick[1], pick[2]


def bootstrap_tmax(
    times_min,
    intensities_norm,
    settings: TmaxSettings | None = None,
    n_replicas: int | None = None,
    block_length: int | None = None,
    seed: int | None = None,
    centre_factors: Sequence[float] = CENTRE_FACTORS,
) -> TmaxBootstrap:
    """σ(t_max) of every observable by a moving-block residual bootstrap.

    Parameters
    ----------
    times_min : array_like, shape (n_t,)
        Experimental times (min), strictly increasing.
    intensities_norm : array_like, shape (n_t, n_obs)
        Normalised intensities (each time point divided by its total over the observables).
    settings : TmaxSettings, optional
        The t_max rule's smoothing width and near-equal-maxima tolerance.
    n_replicas : int
        Number of bootstrap replicas.
    block_length : int
        Consecutive time points per resampled block (correlated noise within a block, e.g.
        from the calibration drift, is kept).
    seed : int
        Seed of the random generator (results are reproducible).

    Returns
    -------
    TmaxBootstrap
    """
    settings = settings or TmaxSettings.schema_default()
    schema = UncertaintySettings.schema_default()
    n_replicas = schema.bootstrap_replicas if n_replicas is None else n_replicas
    block_length = schema.block_length if block_length is None else block_length
    seed = schema.seed if seed is None else seed
    times = np.asarray(times_min, float)
    y = np.asarray(intensities_norm, float)
    if y.ndim != 2 or y.shape[0] != times.size:
        raise ValueError(f"intensities must be (n_times={times.size}, n_obs), got {y.shape}")
    n_t = times.size
    if n_replicas < 2:
        raise ValueError(f"n_replicas must be >= 2, got {n_replicas}")
    if not 1 <= block_length <= n_t:
        raise ValueError(f"block_length must be within 1..{n_t}, got {block_length}")
    missing = np.isnan(y)
    filled = np.where(missing, 0.0, y)
    smooth, residual, rms = _centre_split(times, filled, settings.smoothing_min,
                                          centre_factors)  # fmt: skip
    standard = residual / rms

    rng = np.random.default_rng(seed)
    n_blocks = -(-n_t // block_length)
    starts = rng.integers(0, n_t - block_length + 1, size=(n_replicas, n_blocks))
    rows = (starts[:, :, None] + np.arange(block_length)[None, None, :]).reshape(n_replicas, -1)
    rows = rows[:, :n_t]
    rule = {"tolerance_rel": settings.peak_tolerance_rel, "plateau_rel": settings.plateau_rel}
    t_max, _ = tmax_of(times, y, settings.smoothing_min, **rule)
    replicas = np.empty((n_replicas, y.shape[1]))
    for r in range(n_replicas):
        replica = smooth + rms * standard[rows[r]]
        replica[missing] = np.nan
        replicas[r], _ = tmax_of(times, replica, settings.smoothing_min, **rule)
    if settings.plateau_rel > 0:
        # t_max is the centre of the top: the replicas resolve where the top starts
        plateau = np.zeros(y.shape[1])
    else:
        plateau = end_plateau_sigma(times, filled, rms, t_max, settings.smoothing_min)
    plateau = np.where(np.all(missing, axis=0), np.nan, plateau)
    sigma = np.nanstd(replicas, axis=0, ddof=1)
    return TmaxBootstrap(t_max, replicas, sigma, int(block_length), plateau)


def end_plateau_sigma(times: np.ndarray, curve: np.ndarray, rms: np.ndarray, t_max: np.ndarray,
                      smoothing_min: float, z: float = END_PLATEAU_Z) -> np.ndarray:  # fmt: skip
    """σ of a t_max on a flat top that reaches the end of the record: width / √12.

    The top is the run of time points around t_max where THE rule's smoothed ``curve`` stays
    within ``z`` noise sds (of a difference of two smoothed values) of its value at t_max.
    When that run reaches the last spectrum, whether the species still rises at t_end (t_max
    = t_end) or has just peaked is undecided by the data; t_max is then taken as equally
    likely anywhere on the top. 0 for every other observable (the bootstrap resolves them).
    """
    finder = peak_finder(times, smoothing_min)
    smooth = finder.smooth(curve)
    hat = finder.smooth(np.eye(times.size))
    sd_smooth = np.sqrt((hat * hat) @ (rms * rms))
    n_t = times.size
    out = np.zeros(curve.shape[1])
    for j in range(curve.shape[1]):
        if not np.isfinite(t_max[j]):
            out[j] = np.nan
            continue
        k = int(np.argmin(np.abs(times - t_max[j])))
        level = smooth[k, j] - z * np.sqrt(2.0) * sd_smooth[k, j]
        if np.all(smooth[k:, j] >= level):
            lo = k
            while lo > 0 and smooth[lo - 1, j] >= level:
                lo -= 1
            out[j] = (times[n_t - 1] - times[lo]) / np.sqrt(12.0)
    return out


def flat_top_width(times: np.ndarray, curve: np.ndarray, t_max: np.ndarray, smoothing_min: float,
                   z: float = END_PLATEAU_Z) -> np.ndarray:  # fmt: skip
    """Width (min) of each observable's flat top: the time range around t_max over which the
    rule's smoothed ``curve`` stays within ``z`` noise sds (of a difference of two smoothed
    values) of its value at t_max; the noise is the local rms of the curve's residuals (the
    bootstrap's split). A part of σ(t_max) the bootstrap does not see when the data's own top
    is flat within the noise (a species near equilibrium): anywhere on it is a t_max the data
    allow. NaN where t_max is undefined; 0 for a top of one time point."""
    times = np.asarray(times, float)
    curve = np.asarray(curve, float)
    filled = np.where(np.isnan(curve), 0.0, curve)
    _, _, rms = _centre_split(times, filled, smoothing_min, CENTRE_FACTORS)
    finder = peak_finder(times, smoothing_min)
    smooth = finder.smooth(filled)
    hat = finder.smooth(np.eye(times.size))
    sd_smooth = np.sqrt((hat * hat) @ (rms * rms))
    out = np.full(curve.shape[1], np.nan)
    for j in range(curve.shape[1]):
        if not np.isfinite(t_max[j]):
            continue
        k = int(np.argmin(np.abs(times - t_max[j])))
        level = smooth[k, j] - z * np.sqrt(2.0) * sd_smooth[k, j]
        lo = hi = k
        while lo > 0 and smooth[lo - 1, j] >= level:
            lo -= 1
        while hi < times.size - 1 and smooth[hi + 1, j] >= level:
            hi += 1
        out[j] = times[hi] - times[lo]
    return out


def sigma_floor_min(times_min, fraction: float | None = None) -> float:
    """The σ floor (min): ``fraction`` of the median scan interval (``None``: the schema's
    ``sigma_floor_fraction``)."""
    if fraction is None:
        fraction = UncertaintySettings.schema_default().sigma_floor_fraction
    if not fraction >= 0:
        raise ValueError(f"the σ floor fraction must be >= 0, got {fraction}")
    return fraction * scan_interval_min(times_min)


def tmax_uncertainty_table(
    intensities: pd.DataFrame,
    observables: pd.DataFrame,
    settings: TmaxSettings | None = None,
    n_replicas: int | None = None,
    block_length: int | None = None,
    seed: int | None = None,
    floor_fraction: float | None = None,
    flat_top_in_sigma: bool = False,
) -> pd.DataFrame:
    """Experimental t_max of one sample with its σ: the layout of ``tmax_experiment.tsv``.

    Parameters
    ----------
    intensities : DataFrame
        Long intensity table (time_min, species, intensity_norm) of the deconvolution.
    observables : DataFrame
        :meth:`ClusterSystem.observables`.
    settings, n_replicas, block_length, seed
        See :func:`bootstrap_tmax`.
    floor_fraction : float
        σ floor as a fraction of the scan interval.
    flat_top_in_sigma : bool
        Whether ``sigma_flat_top_min`` enters ``sigma_min`` (``fit.uncertainty.
        flat_top_sigma``); the columns are written either way.

    Returns
    -------
    DataFrame
        :func:`intercluster.observables.experimental_tmax` plus ``sigma_bootstrap_min``
        (unfloored), ``sigma_end_plateau_min`` (:func:`end_plateau_sigma`),
        ``sigma_floor_min``, ``sigma_min`` (the largest of the three; used by the weighted
        χ²) and ``sigma_source`` (which of them it is); ``flat_top_width_min``
        (:func:`flat_top_width`) and ``sigma_flat_top_min`` = width / √12 (t_max uniform on
        the top), a systematic part the bootstrap misses.
    """

    settings = settings or TmaxSettings.schema_default()
    table = experimental_tmax(intensities, observables, settings)
    times, y = experiment_matrix(intensities, observables["species"].tolist())

    boot = bootstrap_tmax(times, normalise_rows(y), settings, n_replicas, block_length, seed)
    floor = sigma_floor_min(times, floor_fraction)
    boot_sigma = np.nan_to_num(boot.sigma, nan=np.inf)
    plateau = np.nan_to_num(boot.end_plateau, nan=0.0)
    table["sigma_bootstrap_min"] = boot.sigma
    table["sigma_end_plateau_min"] = boot.end_plateau
    table["sigma_floor_min"] = floor
    table["sigma_min"] = np.maximum(np.maximum(boot_sigma, plateau), floor)
    table["sigma_source"] = np.select(
        [(boot_sigma >= plateau) & (boot_sigma >= floor), plateau >= floor],
        ["bootstrap", "end plateau"],
        "floor",
    )
    width = flat_top_width(times, normalise_rows(y), boot.t_max, settings.smoothing_min)
    table["flat_top_width_min"] = width
    table["sigma_flat_top_min"] = width / np.sqrt(12.0)
    if flat_top_in_sigma:
        flat = np.nan_to_num(table["sigma_flat_top_min"].to_numpy(float), nan=0.0)
        wider = flat > table["sigma_min"].to_numpy(float)
        table["sigma_min"] = np.where(wider, flat, table["sigma_min"])
        table["sigma_source"] = np.where(wider, "flat top", table["sigma_source"])
    return table


def replicate_sigma(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """σ of t_max from several runs of one condition.

    Parameters
    ----------
    tables : sequence of DataFrame
        Experimental t_max tables (species, t_max_min, included) of the runs, at least two.

    Returns
    -------
    DataFrame
        species, n_runs (runs in which it is included), t_max_mean_min,
        sigma_replicate_min (standard deviation over those runs; NaN below two runs).
    """
    if len(tables) < 2:
        raise ValueError("replicate σ needs at least two runs of the condition")
    species = tables[0]["species"].tolist()
    values = np.full((len(tables), len(species)), np.nan)
    for n, table in enumerate(tables):
        t = table.set_index("species").reindex(species)
        values[n] = np.where(t["included"].astype(bool), t["t_max_min"].astype(float), np.nan)
    n_runs = np.sum(np.isfinite(values), axis=0)
    mean = np.full(len(species), np.nan)
    sd = np.full(len(species), np.nan)
    some, several = n_runs > 0, n_runs >= 2
    mean[some] = np.nanmean(values[:, some], axis=0)
    sd[several] = np.nanstd(values[:, several], axis=0, ddof=1)
    return pd.DataFrame(
        {"species": species, "n_runs": n_runs, "t_max_mean_min": mean, "sigma_replicate_min": sd}
    )


def with_replicate_sigma(table: pd.DataFrame, replicates: pd.DataFrame) -> pd.DataFrame:
    """A run's t_max table with σ = max(its bootstrap σ, the replicate σ) where larger."""
    out = table.copy()
    rep = replicates.set_index("species").reindex(out["species"])["sigma_replicate_min"]
    rep = rep.to_numpy(dtype=float)
    larger = np.isfinite(rep) & (rep > out["sigma_min"].to_numpy(float))
    out["sigma_replicate_min"] = rep
    out["sigma_min"] = np.where(larger, rep, out["sigma_min"])
    out["sigma_source"] = np.where(larger, "replicates", out["sigma_source"])
    return out


def experiment_tmax_table(
    intensities: pd.DataFrame,
    observables: pd.DataFrame,
    settings: TmaxSettings,
    uncertainty,
    replicates: Sequence[pd.DataFrame] = (),
) -> pd.DataFrame:
    """``tmax_experiment.tsv`` of one run: t_max, its bootstrap σ and, with replicates, σ
    over the runs of its condition (rule fit_tmax_experiment).

    Parameters
    ----------
    intensities : DataFrame
        The run's long intensity table.
    observables : DataFrame
        :meth:`ClusterSystem.observables`.
    settings : TmaxSettings
        THE t_max rule.
    uncertainty : UncertaintySettings
        ``fit.uncertainty`` (bootstrap replicas, block length, seed, σ floor).
    replicates : sequence of DataFrame
        Intensity tables of the OTHER runs of the same condition (none: no replicate σ).

    Returns
    -------
    DataFrame
        :func:`tmax_uncertainty_table`; with replicates also ``sigma_replicate_min`` and
        σ = max(bootstrap σ, replicate σ) (:func:`with_replicate_sigma`).
    """

    table = tmax_uncertainty_table(
        intensities, observables, settings, uncertainty.bootstrap_replicas,
        uncertainty.block_length, uncertainty.seed, uncertainty.sigma_floor_fraction,
        uncertainty.flat_top_sigma,
    )  # fmt: skip
    if not replicates:
        return table
    runs = [table] + [experimental_tmax(r, observables, settings) for r in replicates]
    return with_replicate_sigma(table, replicate_sigma(runs))


def read_tmax_table(path) -> pd.DataFrame:
    """A t_max table with σ as written (``included`` read back as bool)."""

    table = read_tsv(path)
    table["included"] = table["included"].astype(str).str.lower() == "true"
    return table
