"""t_max: the time at which an observable passes through its maximum (docs/science.md §3, eq 1).

ONE definition serves the experiment and every simulation, so that the two are comparable:
:func:`tmax_of` (or a :class:`PeakFinder` for many curves on one time grid). Simulations
are noise-free and the experiment is noisy; both go through the *same* smoothing and the
same peak rule, so a systematic shift introduced by the smoothing cancels in the residual
t_max,sim - t_max,exp.

The rule **(choice, documented in docs/choices.md)**:

1. Normalise every time point to the total signal of the observables (sum over the 77 ions;
   a dimer ion counts as one ion), :func:`normalise_rows`.
2. Smooth each observable with a *local quadratic regression* (a Savitzky-Golay filter for
   any, also uneven, time grid) with Gaussian weights whose full width at half maximum is
   ``smoothing_min`` (config ``fit.tmax.smoothing_min``, default 2 min). The Gaussian sigma
   is never narrower than the median time step, so that at least about three points carry
   weight. ``smoothing_min = 0`` switches smoothing off (the raw points are used and the peak
   fit below becomes a three-point parabola).
   A local quadratic keeps the position of a peak (a moving average or a Gaussian filter
   would bias it toward the side with more area) and, near the ends of the record, follows
   the trend instead of flattening it.
3. Take the time point ``k`` of the largest smoothed value and refine it with the vertex of
   the local quadratic fitted around ``t_k`` (a local peak fit), clamped to
   ``[t_(k-1), t_(k+1)]`` (to ``[t_0, t_1]`` and ``[t_(n-2), t_(n-1)]`` at the ends). The
   result is continuous below the sampling interval.
   Near-equal maxima: some dimer ions (e.g. the demo's dimer one first-metal atom below
   half-and-half, at 40:40) pass through an early maximum and then rise again toward
   equilibrium to almost the same height; the global maximum then jumps between ~2 and
   ~60 min with the noise. Rule: the *earliest* maximum of the smoothed curve that is at
   least ``(1 - r)`` times the global maximum *and* stands out by a prominence of at least
   ``r`` times the global maximum counts, with
   ``r = peak_tolerance_rel`` (config ``fit.tmax.peak_tolerance_rel``, default 0.1; 0 gives
   the plain global maximum). Prominence is measured as in ``scipy.signal.peak_prominences``,
   the record ends counting as -infinity, so noise wiggles on a plateau never qualify.
   Top of the curve (``plateau_rel`` = p, config ``fit.tmax.plateau_rel``, default 0.05;
   **choice**, beyond the paper): with p > 0 the time is not that vertex but the *centre of
   the top*: the contiguous run of the smoothed curve around the chosen maximum ``k`` that
   stays at or above ``(1 - p)`` times its value there, from the crossing of that level on
   the rising side to the crossing on the falling side (each crossing solved on the local
   quadratic of the last point inside the run; a record end inside the run is its bound).
   Why: a species that approaches equilibrium, or passes through a maximum so broad that
   the curve stays within a few tenths of a per cent of its peak for 5-20 min, has its
   vertex anywhere on that top depending on the noise (the vertex of a 0.3 %-noisy plateau
   moved by up to 5 min between noise realisations); the crossings of a level 5 % below the
   top lie where the curve is steep and move by a fraction of a scan interval. For a
   symmetric peak the centre is the vertex; a skewed peak's centre differs from its vertex,
   but simulations and data go through the same rule, so the difference cancels in the
   residual. p must stay below r (when r > 0): the earliest maximum stands out by r, so the
   run cannot reach a neighbouring maximum. ``plateau_rel = 0`` gives the vertex (the
   paper's plain time of the maximum).
4. Monotone species: a species that only decays (the reactants) has its maximum at the
   first point and, with ``plateau_rel = 0``, ``t_max = t_0`` (0 min, the first spectrum);
   one that still rises at the end of the record has ``t_max = t_end``. With p > 0 their
   t_max is the centre of the run from the record's end to the crossing of the (1 - p)
   level. All are defined, not errors.
5. Species that never rise above noise: an *experimental* observable whose largest smoothed
   normalised intensity stays below ``min_signal`` (config ``fit.tmax.min_signal``, default
   0.01 = 1 % of the total ion signal) has no meaningful t_max; it is excluded from chi²,
   counted and reported (reason ``below min_signal``); so is an observable without data
   (reason ``no data``). The set of included observables is fixed by the experiment, so every
   grid point and every model of one sample is scored on the same observables.

Times are in minutes throughout (experimental time, 0 = first recorded spectrum).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .settings import TmaxSettings

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
#: Time points a run needs for t_max: the top of a curve is a local quadratic (point 2 of
#: the module docstring), which three points determine.
MIN_TMAX_TIMES = 3


def ion_signal(observables: np.ndarray, n_monomers: int, dimer_response: float) -> np.ndarray:
    """Simulated observables as a spectrum shows them: the dimer ions (every column from
    ``n_monomers`` on) times ``dimer_response``, their signal per molecule relative to a
    monomer's. With 1 the observables themselves (no copy)."""
    if dimer_response == 1.0:
        return observables
    signal = np.array(observables, dtype=float, copy=True)
    signal[..., n_monomers:] *= dimer_response
    return signal


def _smoothing(smoothing_min: float | None) -> float:
    return TmaxSettings.schema_default().smoothing_min if smoothing_min is None else smoothing_min


def _tolerance(tolerance_rel: float | None) -> float:
    if tolerance_rel is None:
        return TmaxSettings.schema_default().peak_tolerance_rel
    return tolerance_rel


def _plateau(plateau_rel: float | None, tolerance_rel: float) -> float:
    p = TmaxSettings.schema_default().plateau_rel if plateau_rel is None else plateau_rel
    if not 0 <= p < 1:
        raise ValueError(f"plateau_rel must be within [0, 1), got {p}")
    if tolerance_rel > 0 and p >= tolerance_rel:
        raise ValueError(
            f"plateau_rel ({p}) must be below peak_tolerance_rel ({tolerance_rel}): the top "
            "of the earliest maximum would reach into its neighbour"
        )
    return float(p)


def dimer_response_of(conditions, settings: TmaxSettings) -> float:
    """The dimer response the simulations of one sample use: the sample's own (sheet column
    ``dimer_response``, :class:`~intercluster.records.SampleConditions`) when the sheet gives
    one, else the global ``fit.tmax.dimer_response``."""
    own = conditions.dimer_response
    return float(settings.dimer_response if own is None else own)


#: the part of the record, at its end, from which the dimer response is estimated
DIMER_RESPONSE_LATE_FRACTION = 0.5


def estimate_dimer_response(
    measured: np.ndarray,
    simulated: np.ndarray,
    n_monomers: int,
    late_fraction: float = DIMER_RESPONSE_LATE_FRACTION,
) -> float:
    """The dimer response from data: measured against simulated dimer:monomer ratios.

    ``measured``: deconvolved intensities (n_t, observables); ``simulated``: the best fit's
    concentrations at the same times. The response is the median, over the last
    ``late_fraction`` of the times (near equilibrium, where the simulated ratio depends least
    on the rate constants' details), of (sum of dimer ions / sum of monomer ions) measured
    divided by the same ratio simulated. NaN when no time has both.
    """
    measured = np.asarray(measured, float)
    simulated = np.asarray(simulated, float)
    n_t = measured.shape[0]
    late = slice(int(np.floor(n_t * (1.0 - late_fraction))), n_t)

    def ratio(y):
        mono = np.nansum(y[late, :n_monomers], axis=1)
        dim = np.nansum(y[late, n_monomers:], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return dim / mono

    r = ratio(measured) / ratio(simulated)
    r = r[np.isfinite(r) & (r > 0)]
    return float(np.median(r)) if r.size else float("nan")


DIMER_RESPONSE_COLUMNS = [
    "sample", "dimer_response_used", "dimer_response_estimated", "n_times", "late_from_min",
]  # fmt: skip


def dimer_response_row(
    sample: str,
    measured: pd.DataFrame,
    simulated: pd.DataFrame,
    observables: pd.DataFrame,
    used: float,
    late_fraction: float = DIMER_RESPONSE_LATE_FRACTION,
) -> dict:
    """One sample's dimer response, estimated from its data against a best fit's simulation.

    ``measured``: the deconvolution's intensities table; ``simulated``: the best fit's
    trajectories at that sample (:func:`intercluster.fit.best_trajectories`, on the
    simulation's own time grid, interpolated linearly to the measured times inside its
    span); ``observables``: :meth:`ClusterSystem.observables` (monomers first); ``used``:
    the response the fit's simulations of this sample used (:func:`dimer_response_of`).
    The ratio is taken per time point, so the normalisation of either table cancels.
    """
    species = observables["species"].tolist()
    n_monomers = int((observables["kind"] == "monomer").sum())
    times, y = experiment_matrix(measured, species)
    sim = simulated.pivot_table(
        index="time_min", columns="species", values="concentration_nM", aggfunc="mean"
    ).reindex(columns=species).sort_index()
    t_sim = sim.index.to_numpy(float)
    inside = (times >= t_sim[0]) & (times <= t_sim[-1])
    times, y = times[inside], y[inside]
    s = np.column_stack([np.interp(times, t_sim, sim[c].to_numpy(float)) for c in species])
    late = int(np.floor(times.size * (1.0 - late_fraction)))
    estimate = estimate_dimer_response(y, s, n_monomers, late_fraction) if times.size else np.nan
    return dict(zip(DIMER_RESPONSE_COLUMNS, (
        str(sample), float(used), float(estimate), int(times.size - late),
        float(times[late]) if times.size else float("nan"),
    ), strict=True))  # fmt: skip


def normalise_rows(intensities: np.ndarray) -> np.ndarray:
    """Divide every time point (row) by its total signal; an all-zero row stays zero.

    NaN entries (missing data) are ignored in the total and stay NaN.
    """
    y = np.asarray(intensities, dtype=float)
    total = np.nansum(y, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, y / np.where(total > 0, total, 1.0), 0.0 * y)


def _local_quadratic_operators(times: np.ndarray, smoothing_min: float):
    """(value, slope, curvature) hat matrices of the Gaussian-weighted local quadratic.

    Row ``k`` of each matrix, applied to a curve ``y`` on ``times``, gives the coefficients
    ``a, b, c`` of ``y(t) ~ a + b (t - t_k) + c (t - t_k)^2`` fitted around ``t_k``.
    """
    n = times.size
    h0 = np.zeros((n, n))
    h1 = np.zeros((n, n))
    h2 = np.zeros((n, n))
    if n == 1:
        h0[0, 0] = 1.0
        return h0, h1, h2
    if n == 2:
        h0[:] = np.eye(2)
        slope = np.array([-1.0, 1.0]) / (times[1] - times[0])
        h1[:] = slope
        return h0, h1, h2
    if smoothing_min <= 0:
        # No smoothing: the raw values, and a three-point parabola for the peak fit.
        h0[:] = np.eye(n)
        for k in range(n):
            lo = min(max(k - 1, 0), n - 3)
            idx = np.arange(lo, lo + 3)
            x = times[idx] - times[k]
            design = np.vander(x, 3, increasing=True)
            coef = np.linalg.solve(design, np.eye(3))  # rows: a, b, c as maps of y[idx]
            h1[k, idx] = coef[1]
            h2[k, idx] = coef[2]
        return h0, h1, h2
    step = float(np.median(np.diff(times)))
    sigma = max(smoothing_min / FWHM_PER_SIGMA, step)
    for k in range(n):
        x = times - times[k]
        w = np.exp(-0.5 * (x / sigma) ** 2)
        w[np.abs(x) > 5.0 * sigma] = 0.0
        design = np.vander(x, 3, increasing=True)
        weighted = design * w[:, None]
        normal = design.T @ weighted
        coef = np.linalg.pinv(normal) @ weighted.T  # (3, n): a, b, c as maps of y
        h0[k], h1[k], h2[k] = coef
    return h0, h1, h2


class PeakFinder:
    """Smoothing and peak rule on one time grid (minutes); see the module docstring."""

    def __init__(self, times_min, smoothing_min: float | None = None):
        smoothing_min = _smoothing(smoothing_min)
        times = np.asarray(times_min, dtype=float)
        if times.ndim != 1 or times.size == 0:
            raise ValueError("times_min must be a non-empty 1-D array")
        if np.any(np.diff(times) <= 0) or not np.all(np.isfinite(times)):
            raise ValueError("times_min must be finite and strictly increasing")
        if not np.isfinite(smoothing_min) or smoothing_min < 0:
            raise ValueError(f"smoothing_min must be >= 0, got {smoothing_min}")
        self.times = times
        self.smoothing_min = float(smoothing_min)
        self._h0, self._h1, self._h2 = _local_quadratic_operators(times, self.smoothing_min)
        # The operators are banded (the Gaussian window is cut at 5 sigma): a sparse product
        # for the smoothing and the window's span per row for the peak fit.
        from scipy.sparse import csr_matrix

        self._h0_sparse = csr_matrix(self._h0)
        support = (self._h1 != 0) | (self._h2 != 0) | (self._h0 != 0)
        self._span_lo = np.argmax(support, axis=1).astype(np.int64)
        self._span_hi = (support.shape[1] - 1 - np.argmax(support[:, ::-1], axis=1)).astype(
            np.int64
        )
        n = times.size
        idx = np.arange(n)
        self._lower = times[np.maximum(idx - 1, 0)]
        self._upper = times[np.minimum(idx + 1, n - 1)]

    def smooth(self, intensities: np.ndarray) -> np.ndarray:
        """Smoothed curves, same shape as ``intensities`` (time along axis 0)."""
        y = np.asarray(intensities, dtype=float)
        return np.asarray(self._h0_sparse @ y.reshape(y.shape[0], -1)).reshape(y.shape)

    def _vertex(self, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slope and curvature of the local quadratic at point ``k[c]`` of every column."""
        from ._kernels import peak_vertex_terms

        slope = np.empty(y.shape[1])
        curv = np.empty(y.shape[1])
        peak_vertex_terms(self._h1, self._h2, np.ascontiguousarray(y), k.astype(np.int64),
                          self._span_lo, self._span_hi, slope, curv)  # fmt: skip
        return slope, curv

    def _time_of_top(self, y: np.ndarray, smooth: np.ndarray, k: np.ndarray,
                     plateau_rel: float) -> np.ndarray:  # fmt: skip
        """t_max of every column from the index ``k`` of its chosen maximum: the vertex
        (``plateau_rel = 0``) or the centre of the top (module docstring, step 3)."""
        if plateau_rel <= 0:
            slope, curv = self._vertex(y, k)
            t_k = self.times[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                offset = np.where(curv < 0, -slope / (2.0 * curv), 0.0)
            offset = np.where(np.isfinite(offset), offset, 0.0)
            return np.clip(t_k + offset, self._lower[k], self._upper[k])
        from ._kernels import top_run_bounds

        cols = np.arange(y.shape[1])
        top = smooth[k, cols]
        level = top - plateau_rel * np.abs(top)
        lo = np.empty(y.shape[1], dtype=np.int64)
        hi = np.empty(y.shape[1], dtype=np.int64)
        top_run_bounds(smooth, k.astype(np.int64), float(plateau_rel), lo, hi)
        left = self._crossing(y, smooth, lo, level, -1)
        right = self._crossing(y, smooth, hi, level, +1)
        return 0.5 * (left + right)

    def _crossing(self, y: np.ndarray, smooth: np.ndarray, inside: np.ndarray,
                  level: np.ndarray, side: int) -> np.ndarray:  # fmt: skip
        """Time at which each column's smoothed curve crosses ``level`` between its point
        ``inside`` (at or above the level) and the neighbour on ``side`` (-1 before, +1
        after; below the level), on the local quadratic around ``inside``; the record's end
        when ``inside`` is the end point."""
        n = self.times.size
        cols = np.arange(y.shape[1])
        outside = np.clip(inside + side, 0, n - 1)
        t_in = self.times[inside]
        step = self.times[outside] - t_in  # signed; 0 at a record end
        s_in = smooth[inside, cols]
        s_out = smooth[outside, cols]
        # linear interpolation between the two points: the fallback
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip((s_in - level) / (s_in - s_out), 0.0, 1.0)
        x = np.where(np.isfinite(frac), frac, 0.0) * step
        slope, curv = self._vertex(y, inside)
        a = s_in - level
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            root = np.sqrt(np.maximum(slope * slope - 4.0 * curv * a, 0.0))
            quad = (-slope[None] + np.array([-1.0, 1.0])[:, None] * root[None]) / (2.0 * curv)
            linear = -a / slope
        no_quad = np.vstack([np.full((2, cols.size), np.nan), linear[None]])
        candidates = np.where(np.abs(curv)[None] > 0, np.vstack([quad, linear[None]]), no_quad)
        # a root on the outside segment (between the inside point and its neighbour)
        ok = np.isfinite(candidates) & (candidates * side >= 0) & (
            np.abs(candidates) <= np.abs(step)[None]
        )
        nearest = np.where(ok, np.abs(candidates), np.inf)
        pick = np.argmin(nearest, axis=0)
        found = np.isfinite(nearest[pick, cols])
        x = np.where(found, candidates[pick, cols], x)
        return np.where(step == 0, t_in, t_in + x)

    def tmax(
        self,
        intensities: np.ndarray,
        tolerance_rel: float | None = None,
        plateau_rel: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """t_max (min) and the largest smoothed value of every column of ``intensities``.

        ``intensities`` is (n_times, n_observables) on this finder's grid, normalised with
        :func:`normalise_rows` (the peak rule itself does not need normalised data);
        ``tolerance_rel`` is the near-equal-maxima tolerance r and ``plateau_rel`` the
        top's depth p of the module docstring (``None``: the schema's).
        """
        tolerance_rel = _tolerance(tolerance_rel)
        plateau_rel = _plateau(plateau_rel, tolerance_rel)
        y = np.asarray(intensities, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape[0] != self.times.size:
            raise ValueError(
                f"intensities have {y.shape[0]} time points, the grid has {self.times.size}"
            )
        smooth = self.smooth(y)
        k = np.argmax(smooth, axis=0)
        cols = np.arange(y.shape[1])
        peak = smooth[k, cols]
        if tolerance_rel > 0:
            # the earliest maximum within the tolerance and prominent by it (module
            # docstring), by the kernel tmax_many uses: a Python loop over ~70 columns was
            # 40 % of this rule's time for one simulation
            from ._kernels import earliest_prominent_columns

            k = k.astype(np.int64)
            earliest_prominent_columns(np.ascontiguousarray(smooth), k, float(tolerance_rel))
        return self._time_of_top(y, smooth, k, plateau_rel), peak

    def tmax_many(
        self,
        curves: np.ndarray,
        tolerance_rel: float | None = None,
        normalise: bool = True,
        plateau_rel: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`tmax` of many curve sets at once: ``curves`` is (n_sets, n_times, n_obs).

        Every set is normalised on its own (:func:`normalise_rows`, when ``normalise``), then
        all ``n_sets * n_obs`` columns go through ONE smoothing product and one compiled pass
        of the near-equal-maxima rule. Returns (n_sets, n_obs) arrays of t_max (min) and the
        largest smoothed value; the same numbers as :func:`tmax_of` on each set.
        """
        from ._kernels import earliest_prominent_columns

        tolerance_rel = _tolerance(tolerance_rel)
        plateau_rel = _plateau(plateau_rel, tolerance_rel)
        y = np.asarray(curves, dtype=float)
        if y.ndim != 3:
            raise ValueError(f"curves must be (n_sets, n_times, n_obs), got shape {y.shape}")
        n_sets, n_t, n_obs = y.shape
        if n_t != self.times.size:
            raise ValueError(f"curves have {n_t} time points, the grid has {self.times.size}")
        if normalise:
            y = normalise_rows(y)
        flat = np.ascontiguousarray(y.transpose(1, 0, 2)).reshape(n_t, n_sets * n_obs)
        smooth = self.smooth(flat)
        k = np.argmax(smooth, axis=0)
        cols = np.arange(flat.shape[1])
        peak = smooth[k, cols]
        if tolerance_rel > 0:
            earliest_prominent_columns(smooth, k, float(tolerance_rel))
        t_max = self._time_of_top(flat, smooth, k, plateau_rel)
        return t_max.reshape(n_sets, n_obs), peak.reshape(n_sets, n_obs)


@lru_cache(maxsize=32)
def _cached_finder(times_key: bytes, smoothing_min: float) -> PeakFinder:
    return PeakFinder(np.frombuffer(times_key, dtype=float), smoothing_min)


def peak_finder(times_min, smoothing_min: float | None = None) -> PeakFinder:
    """A (cached) :class:`PeakFinder` for a time grid (``smoothing_min=None``: the schema's)."""
    times = np.ascontiguousarray(times_min, dtype=float)
    return _cached_finder(times.tobytes(), float(_smoothing(smoothing_min)))


def tmax_of(
    times_min,
    intensities,
    smoothing_min: float | None = None,
    normalise: bool = True,
    tolerance_rel: float | None = None,
    plateau_rel: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """THE t_max rule, for data and simulations alike.

    ``intensities`` is (n_times, n_observables) (ion intensities or concentrations). With
    ``normalise`` every time point is first divided by its total over the observables;
    ``tolerance_rel`` is the near-equal-maxima tolerance and ``plateau_rel`` the depth of
    the top whose centre is t_max (module docstring, step 3); a keyword left at ``None`` is
    the schema's (``fit.tmax``).
    Columns with missing values (NaN) are evaluated on their own non-missing time points;
    an all-missing column gives NaN. Returns ``(t_max_min, peak_norm)``, one value per
    column: the time of the maximum (min) and the largest smoothed (normalised) intensity.
    """
    times = np.asarray(times_min, dtype=float)
    y = np.asarray(intensities, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if normalise:
        y = normalise_rows(y)
    missing = np.isnan(y)
    if not missing.any():
        return peak_finder(times, smoothing_min).tmax(y, tolerance_rel, plateau_rel)
    t_max = np.full(y.shape[1], np.nan)
    peak = np.full(y.shape[1], np.nan)
    complete = ~missing.any(axis=0)
    if complete.any():
        finder = peak_finder(times, smoothing_min)
        t_max[complete], peak[complete] = finder.tmax(y[:, complete], tolerance_rel, plateau_rel)
    for j in np.flatnonzero(~complete):
        ok = ~missing[:, j]
        if ok.any():
            finder_j = peak_finder(times[ok], smoothing_min)
            tj, pj = finder_j.tmax(y[ok, j], tolerance_rel, plateau_rel)
            t_max[j], peak[j] = tj[0], pj[0]
    return t_max, peak


def experiment_matrix(table: pd.DataFrame, species: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Long intensity table -> (times_min, (n_times, n_species) matrix) in ``species`` order.

    Uses ``intensity_norm`` when present (else ``intensity``). Species absent from the table
    get an all-NaN column; unknown species are an error (a label mismatch would otherwise
    silently drop data).
    """
    value = "intensity_norm" if "intensity_norm" in table.columns else "intensity"
    for column in ("time_min", "species", value):
        if column not in table.columns:
            raise ValueError(f"intensity table lacks the column {column!r}")
    unknown = sorted(set(table["species"]) - set(species))
    if unknown:
        raise ValueError(
            f"intensity table has {len(unknown)} unknown species label(s), e.g. {unknown[:3]}"
        )
    wide = table.pivot_table(index="time_min", columns="species", values=value, aggfunc="mean")
    wide = wide.reindex(columns=species).sort_index()
    return wide.index.to_numpy(dtype=float), wide.to_numpy(dtype=float)


def experimental_tmax(
    table: pd.DataFrame, observables: pd.DataFrame, settings: TmaxSettings
) -> pd.DataFrame:
    """t_max of every observable of one sample, with the inclusion decision.

    ``observables`` is :meth:`ClusterSystem.observables`. Returns one row per observable in
    that order: species, kind, charge, n_first, t_max_min, peak_norm, included, reason.
    """
    species = observables["species"].tolist()
    times, y = experiment_matrix(table, species)
    t_max, peak = tmax_of(times, y, settings.smoothing_min,
                          tolerance_rel=settings.peak_tolerance_rel,
                          plateau_rel=settings.plateau_rel)  # fmt: skip
    no_data = np.isnan(t_max)
    below = ~no_data & (peak < settings.min_signal)
    reason = np.where(no_data, "no data", np.where(below, "below min_signal", ""))
    out = observables[["species", "kind", "charge", "n_first"]].copy()
    out["t_max_min"] = t_max
    out["peak_norm"] = peak
    out["included"] = ~(no_data | below)
    out["reason"] = reason
    return out.reset_index(drop=True)


def experiment_times(table: pd.DataFrame) -> np.ndarray:
    """Sorted unique experimental times (min) of a long intensity table."""
    return np.unique(table["time_min"].to_numpy(dtype=float))
