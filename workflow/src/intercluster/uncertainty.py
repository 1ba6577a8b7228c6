"""Uncertainty of the grid fit (beyond the paper): t_max errors, a weighted χ², profile
likelihood intervals, identifiability labels, measured coverage, model comparison and a
trajectory objective.

Eq 1 of the paper (:func:`intercluster.fit.chi2_table`) carries no measurement errors, so
its χ² has no absolute scale. Everything here sits *beside* eq 1, never replacing it.

σ(t_max): moving-block residual bootstrap (:func:`bootstrap_tmax`)
    Every column of the normalised intensity matrix is split into a smooth curve and a
    residual with a local quadratic of THE t_max rule's kind (``observables.PeakFinder``,
    hat matrix H), applied twice ("twicing", Tukey): residual = (I − H)² y, so that the
    smoother's own bias at a sharp peak is second order and not resampled as noise. The
    width of that split is chosen per observable (:func:`_centre_split`) among
    :data:`CENTRE_FACTORS` × the rule's width by Lepski's rule: the widest whose curve stays
    within :data:`CENTRE_Z` noise sds of every narrower curve on the top of the peak (where
    the curve exceeds half its maximum). Why wider than the rule: the replicas are laid
    around the split's curve, and a curve that still carries the data's own noise gives every
    replica the data's accidental shape at the top (a flattened or a sharpened peak, a
    second maximum just above or below the rule's tolerance), so σ followed the accident:
    measured on 20 noise replicas of the demo's 40:40 sample (0.5-min scans, demo noise;
    ``benchmarks/bench_tmax_sigma.py 20``; the 21 of 69 observables whose replica SD exceeds
    the σ floor), σ / replica-to-replica SD of t_max is 0.84 in the median over the
    observables with the rule's width (one replica's σ: 0.49-1.35, 10-90 %), χ²_w at the
    truth median 56.5, max 79.7 for 69 observables; with the adaptive width: 0.89 (one
    replica's: 0.58-1.28), χ²_w at the truth median 48.0, max 77.7. (With the former vertex
    rule of t_max, ``plateau_rel = 0``, plateaus made the tail: 0.86 and 0.97, χ²_w max 133
    and 117.5 with the end-plateau σ below.) Where noise is low (4× the ions) a bias shows
    against the narrower curves and the rule falls back to them, so σ still nearly halves.
    Each residual is divided by the norm of its row of (I − H)² (the share of white noise
    it keeps) and standardised by the local rms of the residuals (Gaussian kernel, FWHM =
    the rule's smoothing width; shot noise grows with the signal, so a residual from the
    baseline must not land on a peak). Blocks of ``block_length`` consecutive time points,
    the same blocks for every observable (normalisation and overlapping isotope patterns
    correlate the observables of one spectrum), are drawn with replacement and laid end to
    end; rescaled by the local rms at their new place and added to the smooth curve, they
    make one replica. THE t_max rule (:func:`intercluster.observables.tmax_of`) runs on every
    replica; σ is the standard deviation over the replicas.
    Block length (default 1 time point): the virtual experiment's spectra carry independent
    noise (lag-1 autocorrelation of the deconvolved intensities over 20 replicas: 0.001 in
    the median), and the residuals of a local quadratic are anticorrelated over about one
    smoothing width; longer blocks carry that anticorrelation (missing low frequencies)
    into the replicas. Use longer blocks for data whose noise is correlated over several
    spectra (e.g. a source that drifts over minutes).

σ of an end plateau (:func:`end_plateau_sigma`)
    A species still rising at the end of the record has t_max = t_end, one that has just
    peaked a little earlier; when the smoothed curve stays within :data:`END_PLATEAU_Z`
    noise sds of its top all the way to the last spectrum, the data cannot tell the two
    apart, and a bootstrap around the data's curve keeps whichever it found. Such a t_max is
    taken as uniform on the top: σ ≥ (t_end − start of the top) / √12. Only for the vertex
    rule (``fit.tmax.plateau_rel = 0``): the default rule takes the centre of the top as
    t_max, whose spread over the bootstrap replicas is the σ.

σ floor (``fit.uncertainty.sigma_floor_fraction``)
    σ is floored at a fraction (0.1 by default) of the scan interval. t_max of a reactant
    that decays fast (its top ends at a steep crossing), of a species on a steep rise at the
    end of the record or of a very sharp peak is almost the same in every replica, so its
    bootstrap σ is near 0 and its weight 1/σ² unbounded: one observable would decide the
    fit, although a tenth of a scan interval is already below what the peak rule (crossings,
    or a vertex clamped between neighbouring scans) and a simulation on the same time grid
    resolve reliably. (At the demo noise with
    1-min scans the floor is above the bootstrap σ of most observables; the measured coverage
    below holds with it.)

Replicates (:func:`replicate_sigma`)
    Several runs of one condition give a σ of their own, the standard deviation of their
    t_max over the runs; each run still enters a joint fit as a sample of its own, with
    σ = max(bootstrap σ, replicate σ).

Weighted χ² (:func:`weighted_chi2_table`)
    χ²_w = Σ ((t_max,sim − t_max,exp)/σ)² over the included observables (dimensionless);
    summed over samples for a joint fit, like eq 1.

Profile likelihood (:func:`profile_results`)
    For each constant, and for the combinations ``k_dim:k_diss`` and ``k_dim*c/k_ex``, the
    minimum of χ²_w over the grid points that share its value. On a grid with equal log
    steps in the constants involved, k_dim/k_diss is fixed by the index difference
    i_dim − i_diss and k_dim c/k_ex by i_dim − i_ex, so the combinations are profiled over
    the points of equal difference. The interval is where the profile stays below
    χ²_w,min + Δ, Δ = χ²₁ quantile at the confidence (3.84 at 0.95), or a calibrated Δ; the
    crossings and open ends follow :func:`intercluster.fit.interval_from_profile`.

Identifiability (:func:`identifiability_label`)
    ``identifiable``: both ends of the interval close inside the grid; ``practically
    non-identifiable``: one end is open at the grid edge; ``flat``: the profile never rises
    above the threshold.

Coverage (:func:`coverage`)
    N replicas of a virtual experiment (new noise, same truth) are scored against ONE table
    of the grid's simulated t_max (the simulations do not depend on the noise); each rule's
    interval is computed per replica and counted when it contains the truth. Rules:
    ``relative`` (profile ≤ (1 + δ) χ²_min of eq 1), ``f_test`` (δ_F of
    :func:`intercluster.fit.f_test_delta`), ``weighted`` (χ²₁ threshold) and
    ``weighted_calibrated`` (a parametric-bootstrap threshold: the confidence quantile of
    the replicas' Δχ²_w at the truth, leave-one-out so that no replica calibrates its own
    interval). The calibrated threshold is *used* (:func:`threshold_calibration`) when the
    χ²₁ threshold's coverage over the replicas lies outside the binomial 99 % range of the
    nominal confidence: then t_max residuals are correlated or σ misses part of the noise,
    and the χ² distribution does not hold.

Model comparison (:func:`compare_models`)
    Models 1-3 all have three constants and are not nested (none is a special case of
    another on the grid), so the likelihood-ratio test does not apply (its χ² reference
    needs nesting). Akaike's information criterion does: AIC = χ²_w,min + 2p, equal p, so
    ΔAIC = Δχ²_w and the Akaike weights exp(−ΔAIC/2) normalised say how strongly the data
    prefer a model. Goodness of fit: χ²_w at the refined weighted optimum
    (:func:`weighted_chi2_objective` minimised by ``fit.refine`` from the best grid point;
    the weighted minimum is far narrower than a grid step, so the grid's χ²_w,min mostly
    measures the grid's distance from it), against what replicas of a correct model give
    (their χ²_w,min), or against χ²(n − p) when no replicas are given; the statement names
    the reference it used.

Trajectory objective (:func:`trajectory_fit`)
    Least squares between the simulated and the measured normalised intensities of all
    included observables at every time point. A dimer ion's signal per molecule relative to
    a monomer's (the response factor r, the paper's reason to avoid intensities) is a
    nuisance parameter fitted at every grid point by a vectorised 1-D search in log r.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import fit, records
from .network import RATE_CONSTANTS
from .observables import TmaxSettings, peak_finder, tmax_of
from .settings import UncertaintySettings


def _confidence(confidence: float | None) -> float:
    return UncertaintySettings.schema_default().confidence if confidence is None else confidence


#: Widths (multiples of THE rule's smoothing width) among which the bootstrap's curve/residual
#: split is chosen per observable by Lepski's rule (module docstring).
CENTRE_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0)
#: Lepski's rule: a wider curve is kept while within this many noise sds of the narrower ones.
CENTRE_Z = 3.0
#: A flat top reaching the record's end spans the times within this many noise sds of t_max's.
END_PLATEAU_Z = 2.0
PROFILE_NAMES = records.PROFILE_NAMES
RATIO, RATE_RATIO = PROFILE_NAMES[3], PROFILE_NAMES[4]
IDENTIFIABLE = "identifiable"
PRACTICALLY_NON_IDENTIFIABLE = "practically non-identifiable"
FLAT = "flat"
RULES = ("relative", "f_test", "weighted", "weighted_calibrated")
_LOG_TOL = 1e-6  # decades: equal-step and truth-on-grid tolerance


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

    Returns
    -------
    DataFrame
        :func:`intercluster.observables.experimental_tmax` plus ``sigma_bootstrap_min``
        (unfloored), ``sigma_end_plateau_min`` (:func:`end_plateau_sigma`),
        ``sigma_floor_min``, ``sigma_min`` (the largest of the three; used by the weighted
        χ²) and ``sigma_source`` (which of them it is).
    """
    from .observables import experiment_matrix, experimental_tmax

    settings = settings or TmaxSettings.schema_default()
    table = experimental_tmax(intensities, observables, settings)
    times, y = experiment_matrix(intensities, observables["species"].tolist())
    from .observables import normalise_rows

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
    from .observables import experimental_tmax

    table = tmax_uncertainty_table(
        intensities, observables, settings, uncertainty.bootstrap_replicas,
        uncertainty.block_length, uncertainty.seed, uncertainty.sigma_floor_fraction,
    )  # fmt: skip
    if not replicates:
        return table
    runs = [table] + [experimental_tmax(r, observables, settings) for r in replicates]
    return with_replicate_sigma(table, replicate_sigma(runs))


# --- weighted χ² ----------------------------------------------------------------------------
def weighted_chi2_single(sim: pd.DataFrame, exp_tmax: pd.DataFrame) -> pd.DataFrame:
    """Weighted χ² of one sample per grid point (columns of ``fit.CHI2_COLUMNS``).

    ``sim`` is a merged chunk table (point, constants, status, message, one t_max column per
    species); ``exp_tmax`` a :func:`tmax_uncertainty_table`. χ² is dimensionless.
    """
    use = fit.included_species(exp_tmax)
    exp = exp_tmax.set_index("species").loc[use]
    t_exp = exp["t_max_min"].to_numpy(float)
    sigma = exp["sigma_min"].to_numpy(float)
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise ValueError("every included observable needs a finite σ > 0 (sigma_min)")
    z = (sim[use].to_numpy(float) - t_exp) / sigma
    ok = (sim["status"] == fit.STATUS_OK).to_numpy()
    out = sim[["point", *RATE_CONSTANTS]].copy()
    out["chi2"] = np.where(ok, np.sum(z * z, axis=1), np.nan)
    out["n_species"] = np.int64(len(use))
    out["status"] = sim["status"].to_numpy()
    out["message"] = sim["message"].to_numpy()
    return out.reset_index(drop=True)


def weighted_chi2_table(
    per_sample: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
) -> pd.DataFrame:
    """Weighted χ² summed over the samples; same layout and failure rules as eq 1's table."""
    if not per_sample:
        raise ValueError("no samples to fit")
    tables = [weighted_chi2_single(*per_sample[s]) for s in sorted(per_sample)]
    out = tables[0][["point", *RATE_CONSTANTS]].copy()
    for other in tables[1:]:
        if not np.array_equal(other["point"].to_numpy(), out["point"].to_numpy()):
            raise ValueError("grid points differ between the samples")
    failed = np.any([(t["status"] != fit.STATUS_OK).to_numpy() for t in tables], axis=0)
    out["chi2"] = np.where(failed, np.nan, np.sum([t["chi2"].to_numpy() for t in tables], axis=0))
    out["n_species"] = np.sum([t["n_species"].to_numpy() for t in tables], axis=0)
    out["status"] = np.where(failed, fit.STATUS_FAILED, fit.STATUS_OK)
    out["message"] = [
        "; ".join(m for m in ms if m) for ms in zip(*[t["message"] for t in tables], strict=True)
    ]
    return out[fit.CHI2_COLUMNS].sort_values("point").reset_index(drop=True)


def weighted_chi2_from_chunks(
    chunks: Mapping[str, Sequence], exp_tmax: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """:func:`weighted_chi2_table` from the chunk files of every sample (rule fit_chi2_weighted).

    ``chunks`` maps sample -> its chunk files (parquet, :func:`intercluster.fit.run_chunk`
    layout), ``exp_tmax`` sample -> its ``tmax_experiment.tsv`` (with ``sigma_min``). Only
    the included observables' columns are read.
    """
    import pyarrow.parquet as pq

    per_sample = {}
    for sample, paths in chunks.items():
        use = fit.included_species(exp_tmax[sample])
        columns = ["point", *RATE_CONSTANTS, "status", "message", *use]
        frames = [pq.read_table(str(p), columns=columns).to_pandas() for p in paths]
        sim = pd.concat(frames, ignore_index=True).sort_values("point").reset_index(drop=True)
        if sim["point"].duplicated().any():
            raise ValueError(f"sample {sample}: a grid point appears in more than one chunk")
        per_sample[sample] = (sim, exp_tmax[sample])
    return weighted_chi2_table(per_sample)


def combination_concentration(conditions: Mapping[str, Mapping]) -> float:
    """c (nmol/L) of ``k_dim*c/k_ex``: the lower initial reactant concentration, the lowest
    over the samples of a joint fit (``conditions``: sample -> the dict form of its
    :class:`~intercluster.records.SampleConditions`, or a mapping of concentrations only)."""
    values = [float(v) for cond in conditions.values() for k, v in cond.items()
              if k not in records.CONDITION_EXTRAS and float(v) > 0]  # fmt: skip
    if not values:
        raise ValueError("no positive initial concentration for k_dim*c/k_ex")
    return min(values)


def weighted_chi2_objective(network, experiments: Mapping, settings: TmaxSettings,
                            simulator=None, options=None):  # fmt: skip
    """χ²_w(log10 k) summed over samples, by simulation (``experiments``: sample ->
    (conditions, times, t_max table with ``sigma_min``)); inf when a simulation fails:
    :func:`intercluster.fit.chi2_objective` with ``weighted=True``."""
    return fit.chi2_objective(network, experiments, settings, simulator, options, weighted=True)


def weighted_fit_fields(
    weighted: pd.DataFrame,
    c_nM: float | None,
    confidence: float | None = None,
    objective=None,
    max_evaluations: int | None = None,
) -> dict:
    """What ``best.json`` carries of the weighted χ² fit (rule fit_best).

    Returns ``identifiability`` and ``intervals_weighted`` (:func:`best_json_fields`) and
    ``weighted``: the rule, confidence, Δχ², c, the best point of χ²_w and, per name, the
    label, interval, whether it is resolved by the grid, the level and the profile. A
    combination the grid cannot profile (unequal log steps) is left out and named in
    ``not_profiled`` with the reason. Without a successful grid point: only ``weighted``
    with ``best`` None.
    """
    confidence = _confidence(confidence)
    ok = (weighted["status"] == fit.STATUS_OK).to_numpy() & np.isfinite(weighted["chi2"])
    section: dict = {
        "rule": "profile chi2_w <= chi2_w,min + chi2_1 quantile(confidence)",
        "chi2_unit": "dimensionless",
        "confidence": float(confidence),
        "delta_chi2": delta_chi2(confidence),
        "c_nM": None if c_nM is None else float(c_nM),
        "best": None,
    }
    if not ok.any():
        return {"weighted": section}
    row = weighted[ok].sort_values(["chi2", "point"]).iloc[0]
    section["best"] = {
        "point": int(row["point"]),
        **{k: float(row[k]) for k in RATE_CONSTANTS},
        "chi2": float(row["chi2"]),
        "n_species": int(row["n_species"]),
    }
    if objective is not None:
        if max_evaluations is None:
            raise ValueError("weighted_fit_fields: objective needs max_evaluations")
        # the weighted minimum is far narrower than a grid step (about 0.001 decades of k_ex
        # on the demo), so the grid's χ²_w,min overstates the model's misfit by the grid's
        # distance from the optimum; goodness of fit is judged at the refined optimum
        axes = GridIndex.from_table(weighted).axes
        section["refined"] = fit.refine(objective, section["best"], axes, max_evaluations)
    names, skipped = profilable_names(weighted, c_nM)
    results = profile_results(weighted, c_nM=c_nM, confidence=confidence, names=names)
    section["not_profiled"] = skipped
    section["profiles"] = {name: r.as_dict() for name, r in results.items()}
    # at the grid's resolution too: an interval narrower than a step is not a measurement
    section["intervals_grid"] = {name: [r.grid_low, r.grid_high] for name, r in results.items()}
    return {**best_json_fields(results), "weighted": section}


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
        if np.ptp(steps) > _LOG_TOL:
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
            and abs(step_dim - step_other) > _LOG_TOL
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
    interval = fit.interval_from_profile(values, prof, level)
    if interval["low_open"] or interval["high_open"]:
        return PRACTICALLY_NON_IDENTIFIABLE
    return IDENTIFIABLE


@dataclass(frozen=True)
class ProfileResult:
    """Profile, interval and identifiability label of one constant or combination.

    ``low``/``high`` are None for an open end; ``low_edge``/``high_edge`` are the numeric
    ends as :func:`intercluster.fit.interval_from_profile` gives them (grid edge when open).
    ``resolved`` is False when no grid value but the best one lies below the threshold:
    the interval is then narrower than one grid step and its ends are only the linear
    interpolation between the best value and its neighbours (a finer grid measures it).
    ``grid_low``/``grid_high`` give the interval at the grid's resolution, a conservative
    bracket: each end is the first grid value outside the threshold (None when open), the
    same rule as ``fit.interval_from_profile``'s crossings but without the interpolation.
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
        return bool(np.log10(self.low_edge) - _LOG_TOL <= x <= np.log10(self.high_edge) + _LOG_TOL)

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
    iv = fit.interval_from_profile(values, prof, level)
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
    from scipy.stats import chi2

    confidence = _confidence(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return float(chi2.ppf(confidence, dof))


def _profiles(chi2: np.ndarray, grid: GridIndex, c_nM, names) -> dict:
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
    values = np.where((chi2["status"] == fit.STATUS_OK).to_numpy(), values, np.nan)
    if not np.isfinite(values).any():
        raise ValueError("no successful grid point: nothing to profile")
    level = float(np.nanmin(values)) + (delta_chi2(confidence) if delta is None else float(delta))
    grid = GridIndex.from_table(chi2)
    return {
        name: profile_result(name, v, p, level)
        for name, (v, p) in _profiles(values, grid, c_nM, names).items()
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


# --- coverage --------------------------------------------------------------------------------
def binomial_range(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central range of counts of Binomial(n, p) holding ``level`` of the probability."""
    from scipy.stats import binom

    lo, hi = binom.interval(level, n, p)
    return int(lo), int(hi)


def _truth_key(name: str, values: np.ndarray, truth: Mapping, c_nM) -> int:
    if name in RATE_CONSTANTS:
        target = truth[name]
    elif name == RATIO:
        target = truth["k_dim"] / truth["k_diss"]
    else:
        target = c_nM * truth["k_dim"] / truth["k_ex"]
    distance = np.abs(np.log10(values) - np.log10(target))
    k = int(np.argmin(distance))
    steps = np.diff(np.log10(values))
    half = 0.5 * float(np.median(steps)) if steps.size else np.inf
    if distance[k] > half:
        raise ValueError(f"the truth of {name} ({target:.4g}) is not on the grid")
    return k


@dataclass(frozen=True)
class CoverageResult:
    """Per-replica intervals and the coverage of every rule.

    Attributes
    ----------
    intervals : DataFrame
        replica, rule, name, low, high (None when open), low_open, high_open, label,
        contains (the truth).
    summary : DataFrame
        rule, name, n_replicas, n_contain, fraction, expected_low, expected_high (binomial
        99 % range of counts at the confidence), consistent.
    delta_at_truth : DataFrame
        replica, name, delta (profile χ²_w at the truth − χ²_w,min): the parametric
        bootstrap distribution the calibrated threshold comes from.
    calibration : dict
        :func:`threshold_calibration` of ``delta_at_truth``.
    """

    intervals: pd.DataFrame
    summary: pd.DataFrame
    delta_at_truth: pd.DataFrame
    calibration: dict = field(default_factory=dict)


def threshold_calibration(delta_at_truth: pd.DataFrame, confidence: float | None = None) -> dict:
    """Parametric-bootstrap Δχ² threshold per name and whether it replaces the χ²₁ one.

    The calibrated threshold is the ``confidence`` quantile of the replicas' Δχ²_w at the
    truth. It is *used* when the χ²₁ threshold contains the truth in a number of replicas
    outside the binomial 99 % range of the nominal confidence.
    """
    confidence = _confidence(confidence)
    nominal = delta_chi2(confidence)
    out = {}
    for name, group in delta_at_truth.groupby("name", sort=False):
        d = group["delta"].to_numpy(float)
        n = int(d.size)
        inside = int(np.sum(d <= nominal))
        lo, hi = binomial_range(n, confidence)
        used = not lo <= inside <= hi
        out[name] = {
            "chi2_quantile": nominal,
            "calibrated": float(np.quantile(d, confidence, method="higher")),
            "n_replicas": n,
            "n_within_chi2_quantile": inside,
            "used": bool(used),
            "reason": (
                f"the χ²₁ threshold contains the truth in {inside}/{n} replicas, outside the "
                f"binomial 99 % range {lo}-{hi} of {confidence:g}"
                if used
                else f"χ²₁ threshold consistent ({inside}/{n} within {lo}-{hi})"
            ),
        }
    return out


def coverage(
    sim: pd.DataFrame,
    replicas: Sequence[pd.DataFrame],
    truth: Mapping[str, float],
    c_nM: float | None = None,
    confidence: float | None = None,
    delta_rel: float | None = None,
    f_confidence: float | None = None,
    names: Sequence[str] = PROFILE_NAMES,
) -> CoverageResult:
    """How often each interval rule contains the truth over noise replicas.

    Parameters
    ----------
    sim : DataFrame
        ONE merged chunk table of the grid's simulated t_max (reused for every replica).
    replicas : sequence of DataFrame
        :func:`tmax_uncertainty_table` of every replica (same truth, new noise).
    truth : mapping
        The true k_dim, k_diss, k_ex (on the grid).
    c_nM : float, optional
        Concentration c of ``k_dim*c/k_ex``.
    confidence : float, optional
        Confidence of the weighted rules (``None``: ``fit.uncertainty.confidence``).
    delta_rel : float, optional
        δ of the relative rule (``None``: ``fit.interval_delta_chi2_rel``).
    f_confidence : float, optional
        Confidence of the F rule (``None``: ``fit.interval_f_confidence``).
    names : sequence of str
        Constants and combinations to score.
    """
    if len(replicas) < 2:
        raise ValueError("coverage needs at least two replicas")
    if c_nM is None:
        names = [n for n in names if n != RATE_RATIO]
    confidence = _confidence(confidence)
    schema_delta_rel, schema_f_confidence = fit.schema_interval_rules()
    delta_rel = schema_delta_rel if delta_rel is None else delta_rel
    f_confidence = schema_f_confidence if f_confidence is None else f_confidence
    grid = GridIndex.from_table(sim)
    ok = (sim["status"] == fit.STATUS_OK).to_numpy()
    nominal = delta_chi2(confidence)
    keys = {}
    for name in names:
        _, values = grid.combination(name, c_nM)
        keys[name] = _truth_key(name, values, truth, c_nM)
    rows, deltas, per_replica = [], [], []
    for r, exp in enumerate(replicas):
        use = fit.included_species(exp)
        e = exp.set_index("species").loc[use]
        residual = sim[use].to_numpy(float) - e["t_max_min"].to_numpy(float)
        eq1 = np.where(ok, np.sum(residual**2, axis=1), np.nan)
        z = residual / e["sigma_min"].to_numpy(float)
        weighted = np.where(ok, np.sum(z * z, axis=1), np.nan)
        levels = {
            "relative": np.nanmin(eq1) * (1.0 + delta_rel),
            "f_test": np.nanmin(eq1) * (1.0 + fit.f_test_delta(len(use), 3, f_confidence)),
        }
        prof_eq1 = _profiles(eq1, grid, c_nM, names)
        prof_w = _profiles(weighted, grid, c_nM, names)
        w_min = float(np.nanmin(weighted))
        per_replica.append((prof_w, w_min))
        for name in names:
            values, prof = prof_w[name]
            k = keys[name]
            deltas.append({"replica": r, "name": name, "delta": float(prof[k] - w_min)})
            for rule in ("relative", "f_test"):
                v, p = prof_eq1[name]
                rows.append(_interval_row(r, rule, name, v, p, levels[rule], k))
            rows.append(_interval_row(r, "weighted", name, values, prof, w_min + nominal, k))
    delta_frame = pd.DataFrame(deltas)
    # leave-one-out parametric-bootstrap threshold: no replica calibrates its own interval
    for r, (prof_w, w_min) in enumerate(per_replica):
        others = delta_frame[delta_frame["replica"] != r]
        for name in names:
            d = others.loc[others["name"] == name, "delta"].to_numpy(float)
            threshold = float(np.quantile(d, confidence, method="higher"))
            values, prof = prof_w[name]
            rows.append(
                _interval_row(r, "weighted_calibrated", name, values, prof, w_min + threshold,
                              keys[name])
            )  # fmt: skip
    intervals = pd.DataFrame(rows)
    lo, hi = binomial_range(len(replicas), confidence)
    summary = (
        intervals.groupby(["rule", "name"], sort=False)["contains"]
        .agg(n_replicas="size", n_contain="sum")
        .reset_index()
    )
    summary["fraction"] = summary["n_contain"] / summary["n_replicas"]
    summary["expected_low"], summary["expected_high"] = lo, hi
    summary["consistent"] = (summary["n_contain"] >= lo) & (summary["n_contain"] <= hi)
    return CoverageResult(intervals, summary, delta_frame,
                          threshold_calibration(delta_frame, confidence))  # fmt: skip


def _interval_row(replica, rule, name, values, prof, level, truth_key) -> dict:
    result = profile_result(name, values, prof, level)
    return {
        "replica": replica,
        "rule": rule,
        "name": name,
        "low": result.low,
        "high": result.high,
        "low_open": result.low is None,
        "high_open": result.high is None,
        "label": result.label,
        # the truth is represented by its grid value (truth on the grid)
        "contains": result.contains(values[truth_key]),
    }


def coverage_table(result: CoverageResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Rules side by side: one row per name, the coverage fraction of every rule."""
    summary = result.summary
    if names is not None:
        summary = summary[summary["name"].isin(names)]
    wide = summary.pivot(index="name", columns="rule", values="fraction")
    order = [n for n in PROFILE_NAMES if n in wide.index]
    return wide.reindex(index=order, columns=[r for r in RULES if r in wide.columns])


def coverage_grid(
    truth: Mapping[str, float], steps: Mapping[str, float], half_width: Mapping[str, int]
) -> dict:
    """A log-equidistant grid CENTRED on the truth (so the truth is a grid point): per
    constant ``2 * half_width + 1`` values ``step`` decades apart (``fit.grid`` layout)."""
    grid = {}
    for name in RATE_CONSTANTS:
        step, n = float(steps[name]), int(half_width[name])
        if not step > 0 or n < 1:
            raise ValueError(f"coverage grid of {name}: step > 0 and half width >= 1 needed")
        centre = np.log10(float(truth[name]))
        grid[name] = {"min": 10 ** (centre - n * step), "max": 10 ** (centre + n * step),
                      "n": 2 * n + 1}  # fmt: skip
    return grid


def coverage_times(t_end_min: float, scan_interval_min: float) -> np.ndarray:
    """The replicas' time grid: one spectrum every ``scan_interval_min`` up to ``t_end_min``."""
    return np.arange(0.0, float(t_end_min) + 1e-9, float(scan_interval_min))


def _coverage_ve(ve: Mapping, sample: str) -> dict:
    """The virtual experiment of one sample without CID spectra (replicas need MS1 only)."""
    import copy

    if sample not in ve["samples"]:
        raise ValueError(f"coverage sample {sample!r} is not a virtual_experiment sample")
    out = copy.deepcopy(dict(ve))
    out["samples"] = {sample: out["samples"][sample]}
    out["cid"] = {**out.get("cid", {}), "times_min": []}
    return out


def coverage_grid_tmax(system, cluster: dict, ve: Mapping, kinetics: dict, sample: str,
                       settings, tmax: TmaxSettings) -> pd.DataFrame:  # fmt: skip
    """ONE table of the simulated t_max of the coverage grid (rule coverage_grid): the grid
    centred on the virtual experiment's truth, the truth's model (or ``settings.model``),
    the sample's conditions and the replicas' time grid. ``settings``: CoverageSettings."""
    ve = _coverage_ve(ve, sample)
    model = int(settings.model if settings.model is not None else ve["model"])
    grid = coverage_grid(ve["rate_constants"], settings.steps_decades, settings.half_width_steps)
    times = coverage_times(ve["t_end_min"], settings.scan_interval_min)
    conditions = fit.Conditions.from_dict({**ve["samples"][sample],
                                           "dead_time_s": ve["dead_time_s"]})  # fmt: skip
    return fit.run_chunk(
        fit.network_for(model, cluster, kinetics), fit.grid_points(grid), conditions, times,
        system.observables()["species"].tolist(), tmax,
        options=fit.simulator_options(kinetics), label=f"coverage grid, model {model}",
    )  # fmt: skip


def read_tmax_table(path) -> pd.DataFrame:
    """A t_max table with σ as written (``included`` read back as bool)."""
    from .io import read_tsv

    table = read_tsv(path)
    table["included"] = table["included"].astype(str).str.lower() == "true"
    return table


def coverage_of_replicas(sim: pd.DataFrame, replicas: Sequence[pd.DataFrame], ve: Mapping,
                         sample: str, settings, confidence: float, delta_rel: float,
                         f_confidence: float) -> CoverageResult:  # fmt: skip
    """:func:`coverage` of the rule's replicas against its grid table; ``k_dim*c/k_ex`` is
    scored when the grid's k_dim and k_ex steps are equal (c: the lower concentration)."""
    truth = {k: float(ve["rate_constants"][k]) for k in RATE_CONSTANTS}
    equal = abs(settings.steps_decades["k_dim"] - settings.steps_decades["k_ex"]) < _LOG_TOL
    c_nM = combination_concentration({sample: ve["samples"][sample]}) if equal else None
    return coverage(sim, replicas, truth, c_nM=c_nM, confidence=confidence,
                    delta_rel=delta_rel, f_confidence=f_confidence)  # fmt: skip


def coverage_report(
    result: CoverageResult, truth: Mapping[str, float], confidence: float, title: str = ""
) -> str:
    """The coverage printout: the rules side by side, the median interval widths and the
    parametric-bootstrap threshold calibration (markdown)."""
    table = coverage_table(result)
    n = int(result.summary["n_replicas"].max())
    lo, hi = binomial_range(n, confidence)
    widths = result.intervals.copy()
    widths["decades"] = [
        np.log10(h) - np.log10(low) if h is not None and low is not None else np.nan
        for low, h in zip(widths["low"], widths["high"], strict=True)
    ]
    median = widths.pivot_table(index="name", columns="rule", values="decades", aggfunc="median")
    median = median.reindex(index=table.index, columns=table.columns)
    lines = [
        f"# Coverage of the interval rules{(' — ' + title) if title else ''}",
        "",
        f"Truth {dict(truth)}; {n} noise replicas; confidence {confidence:g}; binomial 99 % "
        f"range of the count containing the truth: {lo}-{hi} of {n}.",
        "",
        "Fraction of replicas whose interval contains the truth:",
        "",
        "```",
        table.to_string(float_format=lambda v: f"{v:.2f}"),
        "```",
        "",
        "Median interval width (decades; NaN: an end open):",
        "",
        "```",
        median.to_string(float_format=lambda v: f"{v:.4f}"),
        "```",
        "",
        "Parametric-bootstrap threshold calibration (Δχ²_w at the truth over the replicas):",
        "",
    ]
    for name, cal in result.calibration.items():
        used = "USED" if cal["used"] else "not used"
        lines.append(f"- {name}: calibrated Δ {cal['calibrated']:.3g} vs χ²₁ "
                     f"{cal['chi2_quantile']:.3g}: {used} ({cal['reason']})")  # fmt: skip
    return "\n".join(lines) + "\n"


# --- model comparison --------------------------------------------------------------------------
def compare_models(
    chi2_min: Mapping[int, float],
    n_residuals: int,
    n_parameters: int = 3,
    replica_chi2_min: Sequence[float] | None = None,
    far_quantile: float = 0.99,
) -> pd.DataFrame:
    """AIC comparison and goodness of fit of models fitted to the same data.

    Parameters
    ----------
    chi2_min : mapping
        Model -> minimum weighted χ² of the (joint) fit.
    n_residuals : int
        Included observables summed over the samples.
    n_parameters : int
        Fitted constants per model (3 for models 1-3).
    replica_chi2_min : sequence of float, optional
        Minimum weighted χ² of replicas of a correct model (the virtual experiment): the
        reference distribution of a fit that is right. Without it, χ²(n − p).
    far_quantile : float
        A model whose χ² lies above this quantile of the reference does not fit.

    Returns
    -------
    DataFrame
        model, chi2_weighted_min, aic, delta_aic, akaike_weight, reference, p_value,
        reference_limit, fits, statement.
    """
    from scipy.stats import chi2 as chi2_dist

    models = sorted(chi2_min)
    chi2 = np.array([float(chi2_min[m]) for m in models])
    aic = chi2 + 2.0 * n_parameters
    delta = aic - np.nanmin(aic)
    weight = np.exp(-0.5 * delta)
    weight = weight / np.nansum(weight)
    dof = n_residuals - n_parameters
    if replica_chi2_min is not None and len(replica_chi2_min) >= 2:
        ref = np.sort(np.asarray(replica_chi2_min, float))
        # the smallest p the replicas can show is 1/(n + 1)
        p = np.array([(np.sum(ref >= c) + 1.0) / (ref.size + 1.0) for c in chi2])
        p_floor = 1.0 / (ref.size + 1.0)
        limit = float(np.quantile(ref, far_quantile))
        reference = f"{ref.size} replicas of a correct model"
    else:
        if dof <= 0:
            raise ValueError(f"need more residuals ({n_residuals}) than parameters")
        p = chi2_dist.sf(chi2, dof)
        p_floor = 0.0
        limit = float(chi2_dist.ppf(far_quantile, dof))
        reference = f"chi2({dof})"
    fits = chi2 <= limit
    statements = []
    for m, c, d, w, f, pv in zip(models, chi2, delta, weight, fits, p, strict=True):
        # replicas cannot show a p below 1/(n + 1): say "<=" there
        bound = "<=" if p_floor > 0 and pv <= p_floor else "="
        verdict = (
            "consistent with the noise"
            if f
            else f"far above what {reference} give (limit {limit:.3g}): the model does not fit"
        )
        statements.append(
            f"model {m}: weighted chi2 {c:.4g} for {n_residuals} observables, {verdict}; "
            f"ΔAIC {d:.3g}, Akaike weight {w:.3g}, p {bound} {pv:.3g}"
        )
    return pd.DataFrame(
        {
            "model": models,
            "chi2_weighted_min": chi2,
            "aic": aic,
            "delta_aic": delta,
            "akaike_weight": weight,
            "reference": reference,
            "p_value": p,
            "reference_limit": limit,
            "reference_quantile": float(far_quantile),
            "fits": fits,
            "statement": statements,
        }
    )


def compare_fitted_models(
    weighted: Mapping[int, pd.DataFrame],
    refined: Mapping[int, float | None] | None = None,
    replica_chi2_min: Sequence[float] | None = None,
) -> pd.DataFrame:
    """:func:`compare_models` of one fit's weighted χ² tables (model -> table; rule
    model_comparison).

    ``refined``: model -> χ²_w at the refined (continuous) weighted optimum (``best.json``'s
    ``weighted.refined``; None where not refined); each model is judged at the lower of it
    and its grid minimum, and the grid minimum is kept as ``chi2_weighted_grid_min``.
    ``replica_chi2_min``: χ²_w,min of replicas of a correct model, the reference when given;
    else χ²(n − 3) (the workflow has no replicas of real data).
    """
    chi2_min, grid_min, n_residuals = {}, {}, set()
    refined = refined or {}
    for model, table in weighted.items():
        ok = table[(table["status"] == fit.STATUS_OK) & np.isfinite(table["chi2"])]
        grid_min[int(model)] = float(ok["chi2"].min()) if not ok.empty else np.nan
        value = refined.get(int(model))
        chi2_min[int(model)] = (
            grid_min[int(model)] if value is None else float(np.fmin(value, grid_min[int(model)]))
        )
        n_residuals.update(int(n) for n in table["n_species"].unique())
    if len(n_residuals) != 1:
        raise ValueError(f"the models were fitted to different observables: {n_residuals}")
    out = compare_models(chi2_min, n_residuals.pop(), replica_chi2_min=replica_chi2_min)
    out.insert(2, "chi2_weighted_grid_min", [grid_min[m] for m in out["model"]])
    out.insert(3, "refined", [refined.get(int(m)) is not None for m in out["model"]])
    at = np.where(out["refined"], "at the refined optimum", "at the best grid point")
    out["statement"] = [
        st.replace(" observables,", f" observables ({where}; grid {g:.4g}),", 1)
        for st, where, g in zip(out["statement"], at, out["chi2_weighted_grid_min"], strict=True)
    ]
    return out


def refined_weighted_chi2(best: records.BestFit) -> float | None:
    """χ²_w at the refined weighted optimum of a best fit (None when not refined)."""
    if best.weighted is None or "refined" not in best.weighted:
        return None
    return float(best.weighted["refined"]["chi2"])


def model_comparison_statement(comparison: pd.DataFrame) -> str:
    """The comparison in words: which reference the goodness of fit used, each model's
    verdict, the AIC preference and, when no model passes, that no model of the set fits."""
    reference = str(comparison["reference"].iloc[0])
    limit = float(comparison["reference_limit"].iloc[0])
    q = float(comparison["reference_quantile"].iloc[0])
    if reference.startswith("chi2("):
        source = (
            f"Goodness-of-fit reference: the chi2 distribution {reference} (limit {limit:.4g}, "
            f"its {q:g} quantile); no replicas of the data are available, so this trusts the "
            "bootstrap sigma(t_max) to hold all of the t_max scatter."
        )
    else:
        source = (
            f"Goodness-of-fit reference: {reference} (limit {limit:.4g}, the {q:g} quantile "
            "of their minimum weighted chi2), calibrated by replicas rather than the chi2 "
            "distribution."
        )
    lines = [source, *comparison["statement"]]
    best = comparison.loc[comparison["aic"].idxmin()]
    lines.append(
        f"AIC prefers model {int(best['model'])} (equal numbers of constants, not nested: "
        "ΔAIC = Δχ²; a likelihood-ratio test would need nested models)."
    )
    if not comparison["fits"].any():
        lines.append(
            "No model of the set fits: every weighted chi2 lies far above what the noise gives "
            "for a correct model."
        )
    return "\n".join(lines)


# --- trajectory objective --------------------------------------------------------------------
@dataclass(frozen=True)
class TrajectoryFit:
    """Least-squares trajectory objective at every grid point.

    Attributes
    ----------
    sse : ndarray, shape (n_points,)
        Sum of squared residuals of the normalised intensities (NaN for failed points).
    response : ndarray, shape (n_points,)
        Fitted (or fixed) dimer response factor r at each point.
    n_residuals : int
        Number of residuals (time points x included observables).
    """

    sse: np.ndarray
    response: np.ndarray
    n_residuals: int

    @property
    def best(self) -> int:
        """Row index of the best point."""
        return int(np.nanargmin(self.sse))


def _trajectory_objective(conc, measured, is_dimer, included):
    """SSE(r) of every point, from per-(point, time) sums computed once.

    With T = M + r D (M, D: summed monomer and dimer concentrations of a time point), the
    modelled intensities are C/T (monomer ions) and r C/T (dimer ions), so
    SSE = Σ y² − 2 Σ_t (a_m + r a_d)/T + Σ_t (b_m + r² b_d)/T², with a = Σ_k y C and
    b = Σ_k C² over the included monomer (m) and dimer (d) ions: each evaluation costs
    O(n_points n_t), not O(n_points n_t n_obs).
    """
    valid = np.isfinite(measured) & included[None, :]
    y = np.where(valid, measured, 0.0)
    mono = (valid & ~is_dimer[None, :]).astype(float)
    dim = (valid & is_dimer[None, :]).astype(float)
    const = float(np.sum(y * y))
    a_m = np.einsum("ptk,tk->pt", conc, y * mono)
    a_d = np.einsum("ptk,tk->pt", conc, y * dim)
    b_m = np.einsum("ptk,ptk,tk->pt", conc, conc, mono)
    b_d = np.einsum("ptk,ptk,tk->pt", conc, conc, dim)
    total_m = conc[:, :, ~is_dimer].sum(axis=2)
    total_d = conc[:, :, is_dimer].sum(axis=2)

    def sse(r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, float)[:, None]
        total = total_m + r * total_d
        inv = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        cross = np.sum((a_m + r * a_d) * inv, axis=1)
        square = np.sum((b_m + r * r * b_d) * inv * inv, axis=1)
        return np.maximum(const - 2.0 * cross + square, 0.0)

    return sse


def trajectory_fit(
    concentrations,
    measured_norm,
    is_dimer,
    included,
    fit_response: bool = True,
    response_bounds: tuple[float, float] = (0.1, 10.0),
    fixed_response: float = 1.0,
    n_coarse: int = 25,  # not a system literal (points of the coarse scan)
    n_refine: int = 30,
) -> TrajectoryFit:
    """Trajectory objective with the dimer response factor as a nuisance parameter.

    The modelled normalised intensity of ion k at time t is ``w_k C_k / sum_j w_j C_j`` with
    ``w = 1`` for monomer ions and ``w = r`` for dimer ions; the objective is the sum over
    time points and included observables of (measured − modelled)². ``r`` is fitted per
    grid point: a coarse log-spaced scan, then a golden-section search in log r around the
    best coarse value, both vectorised over the points.

    Parameters
    ----------
    concentrations : array_like, shape (n_points, n_t, n_obs)
        Simulated observables (nmol/L) of every grid point on the experimental times;
        failed points NaN.
    measured_norm : array_like, shape (n_t, n_obs)
        Measured normalised intensities.
    is_dimer : array_like of bool, shape (n_obs,)
    included : array_like of bool, shape (n_obs,)
        Observables that enter the objective (the t_max rule's inclusion).
    fit_response : bool
        Fit r (else use ``fixed_response``).
    response_bounds : (float, float)
        Search range of r.
    """
    return trajectory_fit_samples(
        [(concentrations, measured_norm, included)], is_dimer, fit_response, response_bounds,
        fixed_response, n_coarse, n_refine,
    )  # fmt: skip


def trajectory_fit_samples(
    samples: Sequence[tuple],
    is_dimer,
    fit_response: bool = True,
    response_bounds: tuple[float, float] = (0.1, 10.0),
    fixed_response: float = 1.0,
    n_coarse: int = 25,  # not a system literal (points of the coarse scan)
    n_refine: int = 30,
) -> TrajectoryFit:
    """:func:`trajectory_fit` summed over samples (a joint fit: one response factor r for all).

    ``samples``: (concentrations (n_points, n_t, n_obs), measured_norm (n_t, n_obs),
    included (n_obs,)) per sample, the same grid points in the same order. Each sample is
    reduced to its per-(point, time) sums at once, so its concentrations can be freed.
    """
    is_dimer = np.asarray(is_dimer, bool)
    parts, failed, n_residuals = [], None, 0
    for concentrations, measured_norm, included in samples:
        conc = np.asarray(concentrations, float)
        measured = np.asarray(measured_norm, float)
        included = np.asarray(included, bool)
        if conc.ndim != 3 or conc.shape[1:] != measured.shape:
            raise ValueError(
                f"concentrations {conc.shape} do not match the data {measured.shape}"
            )
        bad = ~np.all(np.isfinite(conc), axis=(1, 2))
        failed = bad if failed is None else failed | bad
        conc = np.where(bad[:, None, None], 0.0, conc)
        n_residuals += int(np.sum(np.isfinite(measured[:, included])))
        parts.append(_trajectory_objective(conc, measured, is_dimer, included))
    if not parts:
        raise ValueError("no samples for the trajectory objective")
    n_points = failed.size

    def objective(r):
        return sum(part(r) for part in parts)

    if not fit_response:
        r = np.full(n_points, float(fixed_response))
        sse = objective(r)
        return TrajectoryFit(np.where(failed, np.nan, sse), r, n_residuals)
    lo, hi = np.log10(response_bounds[0]), np.log10(response_bounds[1])
    grid = np.linspace(lo, hi, n_coarse)
    coarse = np.stack([objective(np.full(n_points, 10.0**g)) for g in grid])
    k = np.argmin(coarse, axis=0)
    a = grid[np.maximum(k - 1, 0)]
    b = grid[np.minimum(k + 1, n_coarse - 1)]
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    c = b - golden * (b - a)
    d = a + golden * (b - a)
    fc = objective(10.0**c)
    fd = objective(10.0**d)
    for _ in range(n_refine):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = b - golden * (b - a)
        new_d = a + golden * (b - a)
        c_next = np.where(left, new_c, d)
        d_next = np.where(left, c, new_d)
        f_new = objective(10.0 ** np.where(left, c_next, d_next))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = c_next, d_next
    x = 0.5 * (a + b)
    r = 10.0**x
    sse = objective(r)
    return TrajectoryFit(np.where(failed, np.nan, sse), np.where(failed, np.nan, r), n_residuals)


def trajectory_table(points: pd.DataFrame, result: TrajectoryFit) -> pd.DataFrame:
    """Grid points with the trajectory objective as ``chi2`` (layout of ``fit.CHI2_COLUMNS``)
    plus the fitted ``response``; usable by :func:`profile_results`."""
    out = points[["point", *RATE_CONSTANTS]].copy().reset_index(drop=True)
    failed = ~np.isfinite(result.sse)
    out["chi2"] = result.sse
    out["n_species"] = np.int64(result.n_residuals)
    out["status"] = np.where(failed, fit.STATUS_FAILED, fit.STATUS_OK)
    out["message"] = np.where(failed, "simulation failed", "")
    out["response"] = result.response
    return out


def _solver_options(options):
    """SolverOptions from None, SolverOptions or a mapping of its fields."""
    from .settings import SolverOptions

    if options is None or isinstance(options, SolverOptions):
        return options
    base = {"rtol": 1e-6, "atol": 1e-9, "max_steps": 10**6}
    return SolverOptions(**{**base, **dict(options)})


def trajectory_grid_fit(network, points: pd.DataFrame, experiments: Mapping, observables,
                        options: dict | None = None) -> pd.DataFrame:  # fmt: skip
    """The trajectory objective at every grid point for one or several samples (rule
    fit_trajectory): :func:`trajectory_table` of :func:`trajectory_fit_samples`.

    ``experiments``: sample -> (SampleConditions, long intensity table, t_max table with
    ``included``); the included observables are THE t_max rule's.
    """
    from .observables import experiment_matrix, normalise_rows
    from .simulate import simulate_many

    species = observables["species"].tolist()
    is_dimer = (observables["kind"] == "dimer").to_numpy()
    params = points[list(RATE_CONSTANTS)].to_numpy(float)
    samples = []
    for sample in sorted(experiments):
        conditions, intensities, exp_tmax = experiments[sample]
        times, y = experiment_matrix(intensities, species)
        included = exp_tmax.set_index("species").loc[species, "included"].to_numpy(bool)
        sims = simulate_many(network, params, conditions, np.asarray(times) * 60.0,
                             _solver_options(options))  # fmt: skip
        samples.append((sims.observables, normalise_rows(y), included))
    return trajectory_table(points, trajectory_fit_samples(samples, is_dimer))


def trajectory_fields(
    table: pd.DataFrame, c_nM: float | None, confidence: float | None = None
) -> dict:
    """What ``best.json``'s ``trajectory`` section holds: the best point with its response
    factor, and profiles, intervals and labels at the F rule's Δ (:func:`trajectory_delta`)."""
    confidence = _confidence(confidence)
    ok = table[(table["status"] == fit.STATUS_OK) & np.isfinite(table["chi2"])]
    if ok.empty:
        return {"best": None}
    row = ok.sort_values(["chi2", "point"]).iloc[0]
    delta = trajectory_delta(table, confidence)
    names, skipped = profilable_names(table, c_nM)
    results = profile_results(table, c_nM=c_nM, delta=delta, names=names)
    return {
        "rule": "profile SSE <= SSE_min (1 + F(1, n-4; conf)/(n-4)); r fitted per point",
        "sse_unit": "normalised intensity^2",
        "confidence": float(confidence),
        "delta": float(delta),
        "c_nM": None if c_nM is None else float(c_nM),
        "best": {"point": int(row["point"]), **{k: float(row[k]) for k in RATE_CONSTANTS},
                 "sse": float(row["chi2"]), "response": float(row["response"]),
                 "n_residuals": int(row["n_species"])},  # fmt: skip
        "identifiability": {name: r.label for name, r in results.items()},
        "intervals": {name: [r.low, r.high] for name, r in results.items()},
        "profiles": {name: r.as_dict() for name, r in results.items()},
        "not_profiled": skipped,
    }


def trajectory_delta(
    table: pd.DataFrame, confidence: float | None = None, n_parameters: int = 4
) -> float:
    """Δ of the trajectory profiles: the F-test rule on the SSE (σ² estimated from the minimum).

    Δ = SSE_min F(1, n − p; conf)/(n − p), p = 3 constants + the response factor.
    """
    n = int(table["n_species"].iloc[0])
    return float(np.nanmin(table["chi2"])) * fit.f_test_delta(n, n_parameters,
                                                              _confidence(confidence))
