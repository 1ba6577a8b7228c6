"""Grid fit of the rate constants (docs/science.md §3), refinement and intervals (beyond the
paper).

Pipeline (one function per workflow rule, the scripts only adapt paths):

1. :func:`grid_points`: the grid from ``config["fit"]["grid"]``; per rate constant ``n``
   log-equidistant values from ``min`` to ``max`` (default 13 quarter decades over 1e-3..1,
   2197 points). Points are numbered ``point = (i_dim * n_diss + i_diss) * n_ex + i_ex``.
2. :func:`plan_chunk` / :func:`run_chunk`: one chunk of the grid (``scattergather`` item
   ``c-of-N``). On a grid with equal log steps on all axes the points fall into *orbits* of
   the time-scale invariance (:func:`grid_orbits`: constants a·k share one trajectory read at
   a·t); a chunk gets whole orbits, balanced by expected cost (:func:`chunk_orbits`), and each
   orbit is integrated once (:func:`intercluster.simulate.simulate_orbit`) with the t_max of
   all its members from one batched call (:meth:`PeakFinder.tmax_many`). Other grids fall
   back to point by point (point ``p`` in chunk ``p % N``, :func:`chunk_points`). Every point
   is reduced to the t_max of the 77 observables on the sample's experimental time grid
   (:mod:`intercluster.observables`); a point whose simulation fails is kept with ``status =
   "failed"`` and the reason, never raised. Orbits (and points) do not depend on the chunking,
   so neither do the results (byte-identical tables for any chunk and core count).
3. :func:`chi2_table` (:func:`chi2_streaming` reads the chunks batch by batch): eq 1,
   chi² = sum over the included observables of
   (t_max,sim - t_max,exp)², **unit min²** (t_max in minutes of experimental time). For the
   joint sample (``fit.joint_sample_name``, default ``all``) chi² is the sum over the samples
   and ``n_species`` the summed number of included observables.
4. Zoom (config ``fit.zoom``, beyond the paper): :func:`zoom_points`, a finer lattice in
   boxes around the best point and other local minima within the interval threshold, with its
   own chi² table.
5. :func:`best_fit`: best grid point, the next best points, failures, profile intervals
   (:func:`profile_intervals`; from the zoom when there is one) and the continuous refinement
   (:func:`refine`).

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

Refinement (config ``fit.refine``, ``fit.refine_max_evaluations``): Nelder-Mead in
log10(k_dim, k_diss, k_ex), started at the best grid point with an initial simplex of half a
grid step per constant, bounded to the grid range, directly on eq 1 with fresh simulations
(the same simulator, time grid and t_max rule as the grid). chi² is only piecewise smooth
(t_max of a curve with two similar maxima can jump), so the refined point is a local
improvement, reported next to (never instead of) the grid optimum.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .network import RATE_CONSTANTS, ReactionNetwork, build_network
from .observables import dimer_response_of, ion_signal, tmax_of
from .records import RateConstants, SampleConditions
from .settings import KineticsSettings, SolverOptions, TmaxSettings, ZoomSettings

log = logging.getLogger("intercluster.fit")

STATUS_OK = "ok"
STATUS_FAILED = "failed"
CHI2_COLUMNS = ["point", "k_dim", "k_diss", "k_ex", "chi2", "n_species", "status", "message"]


# --- grid ------------------------------------------------------------------------------------
def grid_axes(grid: dict) -> dict[str, np.ndarray]:
    """Per rate constant the ``n`` log-equidistant values from ``min`` to ``max``."""
    axes = {}
    for name in RATE_CONSTANTS:
        axis = grid[name]
        lo, hi, n = float(axis["min"]), float(axis["max"]), int(axis["n"])
        if lo <= 0 or hi < lo or n < 1:
            raise ValueError(f"fit.grid.{name}: need 0 < min <= max and n >= 1, got {axis}")
        values = np.array([lo]) if n == 1 else 10.0 ** np.linspace(np.log10(lo), np.log10(hi), n)
        axes[name] = values
    return axes


def grid_points(grid: dict) -> pd.DataFrame:
    """All grid points: point, i_dim, i_diss, i_ex, k_dim, k_diss, k_ex (k_ex fastest)."""
    axes = grid_axes(grid)
    idx = np.indices([axes[n].size for n in RATE_CONSTANTS]).reshape(3, -1)
    frame = pd.DataFrame({"point": np.arange(idx.shape[1], dtype=np.int64)})
    for short, i in zip(("i_dim", "i_diss", "i_ex"), idx, strict=True):
        frame[short] = i.astype(np.int64)
    for name, i in zip(RATE_CONSTANTS, idx, strict=True):
        frame[name] = axes[name][i]
    return frame


def parse_scatteritem(item: str) -> tuple[int, int]:
    """``"3-of-8"`` -> (2, 8): zero-based chunk index and number of chunks."""
    try:
        index, total = (int(x) for x in item.split("-of-"))
    except ValueError:
        raise ValueError(f"scatter item {item!r} is not of the form 'i-of-n'") from None
    if not 1 <= index <= total:
        raise ValueError(f"scatter item {item!r}: index outside 1..{total}")
    return index - 1, total


def chunk_points(points: pd.DataFrame, chunk: int, n_chunks: int) -> pd.DataFrame:
    """Points of chunk ``chunk`` (zero-based) of ``n_chunks``: every point with p % N == c."""
    return points[points["point"] % n_chunks == chunk].reset_index(drop=True)


# --- orbits of the time-scale invariance -------------------------------------------------------
@dataclass(frozen=True)
class Orbit:
    """Grid points whose constants differ by one common factor: ``k(member m) = scales[m] *
    k(member 0)``; member 0 has the smallest constants. One integration serves them all
    (:func:`intercluster.simulate.simulate_orbit`)."""

    points: np.ndarray  # point ids, slowest member first
    scales: np.ndarray  # >= 1, ascending; scales[0] == 1
    base: tuple[float, float, float]  # k_dim, k_diss, k_ex of member 0

    @property
    def constants(self) -> RateConstants:
        """Member 0's rate constants."""
        return RateConstants(*self.base)

    @property
    def cost(self) -> float:
        """Expected cost in units of one member's t_max and interpolation: one integration
        (as long as that of the orbit's fastest member, about ten members' worth) plus the
        members."""
        return 10.0 + float(self.points.size)


@dataclass(frozen=True)
class OrbitPlan:
    """The orbits of a point set, or None with the reason to simulate point by point."""

    orbits: list[Orbit] | None
    reason: str


def grid_orbits(points: pd.DataFrame, rel_tol: float = 1e-6) -> OrbitPlan:
    """Group the points into orbits along the diagonal of a log-equidistant lattice.

    Points ``(i, j, l)`` and ``(i+s, j+s, l+s)`` of a lattice with the same log step on all
    three axes share an orbit (constants scaled by ``10^(s * step)``). The points need not
    fill a box (a zoom grid is a union of boxes); every axis must have at least two values,
    all values must lie on a lattice of one log step per axis (within ``rel_tol`` of a step)
    and the three steps must agree within ``rel_tol`` relative. Otherwise ``orbits`` is None
    and ``reason`` says why (the caller then simulates point by point).
    """
    logs = np.log10(points[list(RATE_CONSTANTS)].to_numpy(dtype=float))
    if not np.all(np.isfinite(logs)):
        return OrbitPlan(None, "rate constants not all positive: point by point")
    steps, origins = [], []
    for a, name in enumerate(RATE_CONSTANTS):
        values = np.unique(logs[:, a])
        if values.size < 2:
            return OrbitPlan(None, f"{name} has a single value: no orbits, point by point")
        diffs = np.diff(values)
        step = float(diffs.min())
        ratio = diffs / step
        if np.any(np.abs(ratio - np.round(ratio)) > rel_tol * np.maximum(1.0, ratio)):
            return OrbitPlan(None, f"{name} is not log-equidistant: point by point")
        steps.append(step)
        origins.append(float(values[0]))
    steps_arr = np.array(steps)
    if np.any(np.abs(steps_arr / steps_arr.mean() - 1.0) > rel_tol):
        text = ", ".join(f"{n} {s:.6g}" for n, s in zip(RATE_CONSTANTS, steps, strict=True))
        return OrbitPlan(None, f"log steps differ between the axes ({text} decades): "
                               "point by point")  # fmt: skip
    lattice = np.rint((logs - np.array(origins)) / steps_arr).astype(np.int64)
    key_a = lattice[:, 0] - lattice[:, 2]
    key_b = lattice[:, 1] - lattice[:, 2]
    order = np.lexsort((lattice[:, 2], key_b, key_a))
    ids = points["point"].to_numpy(dtype=np.int64)
    values = points[list(RATE_CONSTANTS)].to_numpy(dtype=float)
    starts = np.flatnonzero(
        np.r_[True, (np.diff(key_a[order]) != 0) | (np.diff(key_b[order]) != 0)]
    )
    orbits = []
    for members in np.split(order, starts[1:]):
        base = values[members[0]]
        # the common factor, averaged over the three axes (they agree to round-off)
        scales = 10.0 ** np.mean(logs[members] - logs[members[0]], axis=1)
        scales[0] = 1.0
        orbits.append(Orbit(ids[members], np.maximum.accumulate(scales), tuple(base.tolist())))
    n_points = len(points)
    return OrbitPlan(
        orbits,
        f"{n_points} points in {len(orbits)} orbits (log step {steps_arr.mean():.6g} decades "
        f"on every axis): one integration per orbit",
    )


def chunk_orbits(orbits: Sequence[Orbit], chunk: int, n_chunks: int) -> list[Orbit]:
    """Orbits of chunk ``chunk`` (zero-based) of ``n_chunks``, balanced by expected cost.

    Longest-processing-time rule: orbits by decreasing cost (ties: smaller first point id)
    each go to the chunk with the least cost so far (ties: lower chunk index). Deterministic,
    and the orbits themselves do not depend on the chunking, so neither do the results.
    """
    ranking = sorted(range(len(orbits)), key=lambda o: (-orbits[o].cost, int(orbits[o].points[0])))
    load = np.zeros(n_chunks)
    mine = []
    for o in ranking:
        target = int(np.argmin(load))
        load[target] += orbits[o].cost
        if target == chunk:
            mine.append(orbits[o])
    return sorted(mine, key=lambda orbit: int(orbit.points[0]))


def plan_chunk(
    points: pd.DataFrame, chunk: int, n_chunks: int, use_orbits: bool = True
) -> tuple[pd.DataFrame, list[Orbit] | None, str]:
    """Points and orbits of one chunk of a point set, and how it will be simulated.

    With orbits (when ``use_orbits`` and :func:`grid_orbits` finds them) the chunk gets whole
    orbits; otherwise the points ``p % N == c`` (:func:`chunk_points`), point by point.
    """
    if not use_orbits:
        reason = "orbits switched off (fit.orbits): point by point"
        return chunk_points(points, chunk, n_chunks), None, reason
    plan = grid_orbits(points)
    if plan.orbits is None:
        return chunk_points(points, chunk, n_chunks), None, plan.reason
    mine = chunk_orbits(plan.orbits, chunk, n_chunks)
    ids = np.concatenate([o.points for o in mine]) if mine else np.array([], dtype=np.int64)
    chosen = points[points["point"].isin(ids)].sort_values("point").reset_index(drop=True)
    return chosen, mine, f"{plan.reason}; this chunk: {len(mine)} orbits, {len(chosen)} points"


# --- simulation of one point -----------------------------------------------------------------
def default_simulator() -> Callable:
    """:func:`intercluster.simulate.simulate`. A simulator the fit calls has its interface:
    ``simulator(network, constants, conditions, times_s, options)`` -> ``SimulationResult``
    (options: :meth:`KineticsSettings.simulator_options`)."""
    from .simulate import simulate

    return simulate


# The conditions of one sample (the stage contract lives in intercluster.records).
Conditions = SampleConditions


def simulate_tmax(
    network: ReactionNetwork,
    constants: RateConstants,
    conditions: Conditions,
    times_min: np.ndarray,
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
) -> tuple[str, str, np.ndarray]:
    """Simulate one parameter set and return (status, message, t_max of the observables).

    Never raises: an exception, a failed integration or non-finite concentrations give
    ``("failed", reason, NaNs)``.
    """
    simulator = simulator or default_simulator()
    n_obs = 3 * network.nuclearity + 2
    nan = np.full(n_obs, np.nan)
    try:
        for name in RATE_CONSTANTS:
            value = getattr(constants, name)
            if not (np.isfinite(value) and value >= 0):
                return STATUS_FAILED, f"{name} must be finite and >= 0, got {value}", nan
        times_min = np.asarray(times_min, dtype=float)
        result = simulator(network, constants, conditions, times_min * 60.0, options)
        if result.status != STATUS_OK:
            return STATUS_FAILED, result.message or "simulation failed", nan
        observables = np.asarray(result.observables, dtype=float)
        if not np.all(np.isfinite(observables)):
            return STATUS_FAILED, "non-finite concentrations", nan
        response = dimer_response_of(conditions, settings)
        observables = ion_signal(observables, network.n_monomers, response)
        t_max, _ = tmax_of(
            times_min, observables, settings.smoothing_min,
            tolerance_rel=settings.peak_tolerance_rel, plateau_rel=settings.plateau_rel,
        )  # fmt: skip
        if not np.all(np.isfinite(t_max)):
            return STATUS_FAILED, "non-finite t_max", nan
        return STATUS_OK, "", t_max
    except Exception as exc:  # noqa: BLE001 - one bad point must not stop the chunk
        return STATUS_FAILED, f"{type(exc).__name__}: {exc}", nan


def run_chunk(
    network: ReactionNetwork,
    points: pd.DataFrame,
    conditions: Conditions,
    times_min: np.ndarray,
    species: Sequence[str],
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
    label: str = "chunk",
    log_every_s: float = 10.0,
    orbits: Sequence[Orbit] | None = None,
) -> pd.DataFrame:
    """t_max of every observable for every point of a chunk.

    With ``orbits`` (covering exactly the chunk's points, see :func:`plan_chunk`) every orbit
    is integrated once and the t_max of all its members come from one batched call
    (:meth:`PeakFinder.tmax_many`); otherwise every point is simulated on its own.

    Returns one row per point (sorted by ``point``): point, k_dim, k_diss, k_ex, status,
    message, then one column per observable (named by its species label) with t_max in min.
    Progress (sets done of total, rate, ETA) is logged every ``log_every_s`` seconds and at
    the end, with the number of failed sets.
    """
    simulator = simulator or default_simulator()
    species = list(species)
    points = points.sort_values("point").reset_index(drop=True)
    n = len(points)
    tmax = np.full((n, len(species)), np.nan)
    status = np.empty(n, dtype=object)
    message = np.empty(n, dtype=object)
    started = last = time.perf_counter()
    log.info("%s: %d parameter sets to simulate", label, n)
    if orbits is not None:
        _run_orbits(
            network, points, orbits, conditions, times_min, settings, options,
            tmax, status, message, label, log_every_s,
        )  # fmt: skip
        return _chunk_frame(points, status, message, tmax, species)
    for row, p in enumerate(points.itertuples(index=False)):
        status[row], message[row], tmax[row] = simulate_tmax(
            network, RateConstants(p.k_dim, p.k_diss, p.k_ex), conditions, times_min, settings,
            simulator, options,
        )  # fmt: skip
        if status[row] != STATUS_OK:
            log.warning(
                "%s: point %d (k_dim=%g, k_diss=%g, k_ex=%g) failed: %s",
                label, p.point, p.k_dim, p.k_diss, p.k_ex, message[row],
            )  # fmt: skip
        now = time.perf_counter()
        if now - last >= log_every_s or row == n - 1:
            last = now
            done = row + 1
            rate = done / max(now - started, 1e-9)
            log.info(
                "%s: %d/%d sets done (%.1f %%), %.1f sets/s, ETA %.0f s, %d failed",
                label, done, n, 100.0 * done / n, rate, (n - done) / rate,
                int(np.sum(status[:done] != STATUS_OK)),
            )  # fmt: skip
    return _chunk_frame(points, status, message, tmax, species)


def _chunk_frame(points, status, message, tmax, species) -> pd.DataFrame:
    frame = points[["point", *RATE_CONSTANTS]].copy()
    frame["status"] = pd.Series(status, dtype=object).fillna(STATUS_OK).astype(str).to_numpy()
    frame["message"] = pd.Series(message, dtype=object).fillna("").astype(str).to_numpy()
    tmax_frame = pd.DataFrame(tmax, columns=species)
    return pd.concat([frame, tmax_frame], axis=1)


def _run_orbits(
    network, points, orbits, conditions, times_min, settings, options,
    tmax, status, message, label, log_every_s,
) -> None:  # fmt: skip
    """Fill ``tmax``/``status``/``message`` (rows of ``points``) orbit by orbit."""
    from .observables import peak_finder
    from .simulate import simulate_orbit

    times_min = np.asarray(times_min, dtype=float)
    ids = points["point"].to_numpy()  # sorted (run_chunk)
    covered = sum(o.points.size for o in orbits)
    if covered != len(points) or np.any(np.diff(ids) <= 0):
        raise ValueError(f"{label}: the orbits cover {covered} points, the chunk has {len(points)}")
    finder = peak_finder(times_min, settings.smoothing_min)
    response = dimer_response_of(conditions, settings)
    n = len(points)
    done = 0
    started = last = time.perf_counter()
    for orbit in orbits:
        rows = np.searchsorted(ids, orbit.points)
        if np.any(rows >= ids.size) or np.any(ids[np.minimum(rows, ids.size - 1)] != orbit.points):
            raise ValueError(f"{label}: an orbit holds points that are not in the chunk")
        try:
            result = simulate_orbit(
                network, orbit.constants, orbit.scales, conditions, times_min * 60.0, options
            )
            ok = result.ok.copy()
            reasons = list(result.messages)
            good = np.flatnonzero(ok)
            if good.size:
                signal = ion_signal(
                    result.observables[good], network.n_monomers, response
                )
                t_max, _ = finder.tmax_many(signal, tolerance_rel=settings.peak_tolerance_rel,
                                            plateau_rel=settings.plateau_rel)  # fmt: skip
                for m, t in zip(good, t_max, strict=True):
                    if np.all(np.isfinite(t)):
                        tmax[rows[m]] = t
                    else:
                        ok[m] = False
                        reasons[m] = "non-finite t_max"
        except Exception as exc:  # noqa: BLE001 - one bad orbit must not stop the chunk
            ok = np.zeros(orbit.points.size, dtype=bool)
            reasons = [f"{type(exc).__name__}: {exc}"] * orbit.points.size
        for m, row in enumerate(rows):
            status[row] = STATUS_OK if ok[m] else STATUS_FAILED
            message[row] = "" if ok[m] else (reasons[m] or "simulation failed")
            if not ok[m]:
                tmax[row] = np.nan
                p = points.iloc[row]
                log.warning(
                    "%s: point %d (k_dim=%g, k_diss=%g, k_ex=%g) failed: %s",
                    label, p["point"], p["k_dim"], p["k_diss"], p["k_ex"], message[row],
                )  # fmt: skip
        done += rows.size
        now = time.perf_counter()
        if now - last >= log_every_s or done == n:
            last = now
            rate = done / max(now - started, 1e-9)
            log.info(
                "%s: %d/%d sets done (%.1f %%), %.1f sets/s, ETA %.0f s, %d failed",
                label, done, n, 100.0 * done / n, rate, (n - done) / rate,
                sum(1 for x in status if x == STATUS_FAILED),
            )  # fmt: skip


# --- deterministic parquet -------------------------------------------------------------------
ROW_GROUP_ROWS = 32_768

def write_parquet(frame: pd.DataFrame, path) -> None:
    """Write a frame without index, deterministic for equal content (byte-identical)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import writing

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(None)
    # row groups of bounded size, so that readers can stream a large table (chi2_streaming)
    with writing(path):
        pq.write_table(
            table, path, compression="zstd", write_statistics=False, row_group_size=ROW_GROUP_ROWS
        )


def read_parquet(path) -> pd.DataFrame:
    return pd.read_parquet(path)


def merge_chunks(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk tables, sorted by point; every point exactly once."""
    frame = pd.concat(list(frames), ignore_index=True).sort_values("point")
    if frame["point"].duplicated().any():
        raise ValueError("a grid point appears in more than one chunk")
    return frame.reset_index(drop=True)


# --- chi² ------------------------------------------------------------------------------------
def included_species(exp_tmax: pd.DataFrame) -> list[str]:
    return exp_tmax.loc[exp_tmax["included"].astype(bool), "species"].tolist()


def chi2_single(sim: pd.DataFrame, exp_tmax: pd.DataFrame) -> pd.DataFrame:
    """Eq 1 for one sample: one row per grid point (CHI2_COLUMNS), chi² in min²."""
    use = included_species(exp_tmax)
    t_exp = exp_tmax.set_index("species").loc[use, "t_max_min"].to_numpy(dtype=float)
    residual = sim[use].to_numpy(dtype=float) - t_exp
    ok = (sim["status"] == STATUS_OK).to_numpy()
    chi2 = np.where(ok, np.sum(residual * residual, axis=1), np.nan)
    out = sim[["point", *RATE_CONSTANTS]].copy()
    out["chi2"] = chi2
    out["n_species"] = np.int64(len(use))
    out["status"] = sim["status"].to_numpy()
    out["message"] = sim["message"].to_numpy()
    return out.reset_index(drop=True)


def chi2_table(per_sample: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """chi² per grid point summed over the samples (one sample: eq 1 itself).

    ``per_sample`` maps sample -> (merged chunk table, experimental t_max table); samples
    are summed in sorted order. A point failed in any sample is failed; its message names
    the sample(s).
    """
    if not per_sample:
        raise ValueError("no samples to fit")
    tables = {s: chi2_single(*per_sample[s]) for s in sorted(per_sample)}
    first = next(iter(tables.values()))
    out = first[["point", *RATE_CONSTANTS]].copy()
    chi2 = np.zeros(len(out))
    n_species = np.zeros(len(out), dtype=np.int64)
    failed = np.zeros(len(out), dtype=bool)
    messages = [[] for _ in range(len(out))]
    for sample, table in tables.items():
        if not np.array_equal(table["point"].to_numpy(), out["point"].to_numpy()):
            raise ValueError(f"sample {sample}: grid points differ from the other samples")
        chi2 = chi2 + table["chi2"].to_numpy()
        n_species = n_species + table["n_species"].to_numpy()
        bad = (table["status"] != STATUS_OK).to_numpy()
        failed |= bad
        for i in np.flatnonzero(bad):
            text = table["message"].iat[i]
            messages[i].append(text if len(tables) == 1 else f"{sample}: {text}")
    out["chi2"] = np.where(failed, np.nan, chi2)
    out["n_species"] = n_species
    out["status"] = np.where(failed, STATUS_FAILED, STATUS_OK)
    out["message"] = ["; ".join(m) for m in messages]
    return out[CHI2_COLUMNS].sort_values("point").reset_index(drop=True)


def chi2_streaming(
    chunks: dict[str, Sequence], exp_tmax: dict[str, pd.DataFrame], n_points: int,
    batch_rows: int = ROW_GROUP_ROWS,
) -> pd.DataFrame:  # fmt: skip
    """:func:`chi2_table` read chunk by chunk: the same table, bounded memory.

    ``chunks`` maps sample -> its chunk files (parquet, :func:`run_chunk` layout),
    ``exp_tmax`` sample -> its experimental t_max table; points are ``0 .. n_points - 1``.
    Each file is read in batches of ``batch_rows`` rows and only the included observables'
    columns, and reduced to chi² at once, so memory is a few arrays of ``n_points`` plus one
    batch, whatever the number or size of the chunks. Every point must appear exactly once
    per sample (else ValueError).
    """
    import pyarrow.parquet as pq

    if not chunks:
        raise ValueError("no samples to fit")
    constants = np.full((n_points, 3), np.nan)
    total = np.zeros(n_points)
    n_species = np.zeros(n_points, dtype=np.int64)
    failed = np.zeros(n_points, dtype=bool)
    messages: dict[int, list[str]] = {}
    samples = sorted(chunks)
    for sample in samples:
        use = included_species(exp_tmax[sample])
        t_exp = exp_tmax[sample].set_index("species").loc[use, "t_max_min"].to_numpy(float)
        chi2 = np.full(n_points, np.nan)
        seen = np.zeros(n_points, dtype=bool)
        bad = np.zeros(n_points, dtype=bool)
        text = np.empty(n_points, dtype=object)
        columns = ["point", *RATE_CONSTANTS, "status", "message", *use]
        for path in chunks[sample]:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
                frame = batch.to_pandas()
                point = frame["point"].to_numpy(dtype=np.int64)
                if point.size and (point.min() < 0 or point.max() >= n_points):
                    raise ValueError(f"{path}: point ids outside 0..{n_points - 1}")
                if np.any(seen[point]) or np.unique(point).size != point.size:
                    raise ValueError("a grid point appears in more than one chunk")
                seen[point] = True
                ok = (frame["status"] == STATUS_OK).to_numpy()
                residual = frame[use].to_numpy(dtype=float) - t_exp
                chi2[point] = np.where(ok, np.sum(residual * residual, axis=1), np.nan)
                bad[point] = ~ok
                text[point] = frame["message"].to_numpy()
                constants[point] = frame[list(RATE_CONSTANTS)].to_numpy(dtype=float)
        if not seen.all():
            raise ValueError(
                f"sample {sample}: chunks hold {int(seen.sum())} grid points, the grid has "
                f"{n_points}"
            )
        total = total + chi2
        n_species = n_species + np.int64(len(use))
        failed |= bad
        for i in np.flatnonzero(bad):
            messages.setdefault(int(i), []).append(
                text[i] if len(samples) == 1 else f"{sample}: {text[i]}"
            )
    out = pd.DataFrame({"point": np.arange(n_points, dtype=np.int64)})
    for a, name in enumerate(RATE_CONSTANTS):
        out[name] = constants[:, a]
    out["chi2"] = np.where(failed, np.nan, total)
    out["n_species"] = n_species
    out["status"] = np.where(failed, STATUS_FAILED, STATUS_OK)
    out["message"] = ["; ".join(messages[i]) if i in messages else "" for i in range(n_points)]
    return out[CHI2_COLUMNS]


def chunk_row(paths: Sequence, point: int) -> pd.DataFrame:
    """The one row of ``point`` from a sample's chunk files (read with a filter, not whole)."""
    import pyarrow.parquet as pq

    for path in paths:
        table = pq.read_table(path, filters=[("point", "==", int(point))])
        if table.num_rows:
            return table.to_pandas()
    raise ValueError(f"point {point} not in the chunk tables")


def residual_table(
    per_sample: dict[str, tuple[pd.DataFrame, pd.DataFrame]], point: int
) -> pd.DataFrame:
    """Per-species residuals at one grid point, every observable of every sample.

    Columns: sample, species, kind, charge, n_first, included, reason, t_max_exp_min,
    t_max_sim_min, residual_min (sim - exp), residual_sq_min2 (0 where excluded).
    """
    rows = []
    for sample in sorted(per_sample):
        sim, exp_tmax = per_sample[sample]
        hit = sim[sim["point"] == point]
        if len(hit) != 1:
            raise ValueError(f"sample {sample}: point {point} not in the chunk tables")
        frame = exp_tmax[["species", "kind", "charge", "n_first", "included", "reason"]].copy()
        frame.insert(0, "sample", sample)
        frame["t_max_exp_min"] = exp_tmax["t_max_min"].to_numpy(dtype=float)
        frame["t_max_sim_min"] = hit.iloc[0][exp_tmax["species"].tolist()].to_numpy(float)
        frame["residual_min"] = frame["t_max_sim_min"] - frame["t_max_exp_min"]
        frame["residual_sq_min2"] = np.where(
            frame["included"].astype(bool), frame["residual_min"] ** 2, 0.0
        )
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


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


def interval_from_profile(values: np.ndarray, prof: np.ndarray, level: float) -> dict:
    """Interval of k where the profile stays <= ``level`` around the profile minimum.

    ``low``/``high``: crossings interpolated linearly in log10(k); an end at the grid edge is
    "open". ``low_grid``/``high_grid``: the grid-resolution bracket, the first grid value
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
    low_open = lo == 0
    high_open = hi == len(prof) - 1
    x_lo = x[lo] if low_open else _crossing(x[lo], prof[lo], x[lo - 1], prof[lo - 1], level)
    x_hi = x[hi] if high_open else _crossing(x[hi], prof[hi], x[hi + 1], prof[hi + 1], level)
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
    from .validation import schema_defaults  # jsonschema only where defaults are asked for

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


# --- zoom: a finer grid around the optimum (beyond the paper) ---------------------------------
def local_minima(chi2: pd.DataFrame, axes: dict[str, np.ndarray]) -> pd.DataFrame:
    """Grid points whose chi² is <= that of all (up to 26) successful neighbours.

    Sorted by chi² (ties: lower point first). ``chi2`` is a full-grid table (CHI2_COLUMNS).
    """
    shape = tuple(axes[n].size for n in RATE_CONSTANTS)
    values = np.full(shape, np.inf)
    table = chi2.sort_values("point")
    ok = (table["status"] == STATUS_OK).to_numpy()
    flat = np.where(ok, table["chi2"].to_numpy(dtype=float), np.inf)
    values.ravel()[table["point"].to_numpy()] = flat
    padded = np.pad(values, 1, constant_values=np.inf)
    is_min = np.isfinite(values)
    for offset in np.ndindex(3, 3, 3):
        if offset == (1, 1, 1):
            continue
        neighbour = padded[
            offset[0] : offset[0] + shape[0],
            offset[1] : offset[1] + shape[1],
            offset[2] : offset[2] + shape[2],
        ]
        is_min &= values <= neighbour
    points = np.flatnonzero(is_min.ravel())
    found = table.set_index("point").loc[points].reset_index()
    return found.sort_values(["chi2", "point"], kind="mergesort").reset_index(drop=True)


def zoom_centres(
    chi2: pd.DataFrame, axes: dict[str, np.ndarray], delta_rel: float, settings: ZoomSettings
) -> pd.DataFrame:
    """The best grid point and the other local minima within the interval threshold
    ``chi2 <= (1 + delta_rel) * chi2_min``, best first, at most ``settings.max_centres``."""
    minima = local_minima(chi2, axes)
    if minima.empty:
        return minima
    level = float(minima["chi2"].iloc[0]) * (1.0 + delta_rel)
    return minima[minima["chi2"] <= level].head(max(1, settings.max_centres))


def zoom_points(
    chi2: pd.DataFrame, grid: dict, delta_rel: float, settings: ZoomSettings
) -> pd.DataFrame:
    """The fine grid: boxes around :func:`zoom_centres`, on one log-equidistant lattice.

    The lattice has the step ``settings.step_decades`` on every axis and starts at the coarse
    grid's lower end, so that boxes around different centres share their common points (a
    union, not overlapping copies) and keep equal steps for orbits. A box spans
    ``settings.half_width_steps`` coarse steps to either side of its centre, clipped to the
    coarse grid's range. Columns as :func:`grid_points`; ``i_*`` are lattice indices and
    ``point`` numbers the fine points in lattice order.
    """
    axes = grid_axes(grid)
    centres = zoom_centres(chi2, axes, delta_rel, settings)
    step = settings.step_decades
    if not step > 0:
        raise ValueError(f"fit.zoom.step_decades must be > 0, got {step}")
    ranges, origins = [], []
    for name in RATE_CONSTANTS:
        logs = np.log10(axes[name])
        coarse = float(np.median(np.diff(logs))) if logs.size > 1 else 0.0
        half = int(round(settings.half_width_steps * coarse / step))
        top = int(round((logs[-1] - logs[0]) / step))
        ranges.append((half, top))
        origins.append(float(logs[0]))
    boxes = []
    for _, centre in centres.iterrows():
        axes_idx = []
        for a, name in enumerate(RATE_CONSTANTS):
            half, top = ranges[a]
            mid = int(round((np.log10(float(centre[name])) - origins[a]) / step))
            axes_idx.append(np.arange(max(mid - half, 0), min(mid + half, top) + 1))
        boxes.append(np.stack(np.meshgrid(*axes_idx, indexing="ij"), axis=-1).reshape(-1, 3))
    lattice = np.unique(np.vstack(boxes), axis=0) if boxes else np.empty((0, 3), np.int64)
    frame = pd.DataFrame({"point": np.arange(len(lattice), dtype=np.int64)})
    for a, short in enumerate(("i_dim", "i_diss", "i_ex")):
        frame[short] = lattice[:, a].astype(np.int64)
    for a, name in enumerate(RATE_CONSTANTS):
        frame[name] = 10.0 ** (origins[a] + step * lattice[:, a])
    return frame


def zoom_summary(
    zoom_chi2: pd.DataFrame, coarse: dict, centres: pd.DataFrame, settings: ZoomSettings,
    delta_rel: float, f_confidence: float,
) -> dict:  # fmt: skip
    """The zoom's part of ``best.json``: its best point, profiles and intervals.

    An interval end that reaches the zoom box (not the coarse grid's edge) is taken from the
    coarse intervals ``coarse`` and marked ``"<end>_from": "coarse"`` (the interpolated
    crossing) or ``"coarse_grid"`` (its grid bracket, where the crossing lies inside the
    box): the box is too small to bound the interval there. ``best_in_coarse_box``: per
    constant, whether the zoom's best lies in the coarse intervals' grid brackets
    (:func:`in_interval_box`).
    """
    ranking = ranked(zoom_chi2)
    out: dict = {
        "step_decades": settings.step_decades,
        "half_width_steps": settings.half_width_steps,
        "centres": [_point_dict(r) for _, r in centres.iterrows()],
        **failure_summary(zoom_chi2),
    }
    if ranking.empty:
        out.update({"best": None, "intervals": None})
        return out
    out["best"] = _point_dict(ranking.iloc[0])
    out["n_species"] = int(ranking.iloc[0]["n_species"])
    coarse_intervals = coarse.get("intervals") or {}
    if all(name in coarse_intervals for name in RATE_CONSTANTS):
        out["best_in_coarse_box"] = in_interval_box(coarse_intervals, out["best"])
    out["intervals"] = _zoom_intervals(
        zoom_chi2, coarse.get("intervals") or {}, delta_rel, coarse
    )
    delta_f = f_test_delta(out["n_species"], 3, f_confidence)
    if np.isfinite(delta_f):
        out["intervals_f_test"] = _zoom_intervals(
            zoom_chi2, coarse.get("intervals_f_test") or {}, delta_f, coarse
        )
    return out


def _zoom_intervals(zoom_chi2, coarse_intervals: dict, delta_rel: float, coarse: dict) -> dict:
    intervals = profile_intervals(zoom_chi2, delta_rel)
    grid = coarse.get("grid") or {}
    for name in RATE_CONSTANTS:
        entry = intervals.get(name)
        if entry is None:
            continue
        coarse_entry = coarse_intervals.get(name) or {}
        edges = grid.get(name) or [None]
        for end, edge, outward in (("low", min(edges), -1.0), ("high", max(edges), 1.0)):
            at_box = entry[f"{end}_open"]
            at_grid = edge is not None and np.isclose(entry[end], edge, rtol=1e-9)
            if not at_box or at_grid or coarse_entry.get(end) is None:
                continue
            # The zoom is still below the threshold at its box edge: the end lies beyond it.
            # The coarse crossing estimates it unless it lies inside what the zoom has
            # seen (an interval narrower than a coarse step); then the coarse grid vouches
            # only for its bracket, the first grid value outside the threshold.
            value, is_open, source = coarse_entry[end], coarse_entry[f"{end}_open"], "coarse"
            if outward * (np.log10(value) - np.log10(entry[end])) < 0:
                bracket = coarse_entry.get(f"{end}_grid")
                value = edge if bracket is None else bracket
                is_open, source = bracket is None, "coarse_grid"
            entry[end] = float(value)
            entry[f"{end}_open"] = bool(is_open)
            entry[f"{end}_from"] = source
    return intervals


# --- best fit ---------------------------------------------------------------------------------
def ranked(chi2: pd.DataFrame) -> pd.DataFrame:
    """Successful points by increasing chi² (ties: lower point index first)."""
    ok = chi2[chi2["status"] == STATUS_OK]
    return ok.sort_values(["chi2", "point"], kind="mergesort").reset_index(drop=True)


def failure_summary(chi2: pd.DataFrame) -> dict:
    failed = chi2[chi2["status"] != STATUS_OK]
    counts = Counter(failed["message"].fillna("").astype(str))
    return {
        "n_points": int(len(chi2)),
        "n_ok": int(len(chi2) - len(failed)),
        "n_failed": int(len(failed)),
        "failed_reasons": {k or "(no message)": int(v) for k, v in sorted(counts.items())},
    }


def _point_dict(row) -> dict:
    return {
        "point": int(row["point"]),
        "k_dim": float(row["k_dim"]),
        "k_diss": float(row["k_diss"]),
        "k_ex": float(row["k_ex"]),
        "chi2": float(row["chi2"]),
        "k_dim_to_k_diss": float(row["k_dim"] / row["k_diss"]),
    }


def refine(
    objective: Callable[[np.ndarray], float],
    start: dict,
    axes: dict[str, np.ndarray],
    max_evaluations: int = 60,
) -> dict:
    """Nelder-Mead on log10 k from a grid point (see the module docstring).

    ``objective`` takes log10 (k_dim, k_diss, k_ex) and returns chi² (inf when failed).
    """
    from scipy.optimize import minimize

    x0 = np.log10([start[n] for n in RATE_CONSTANTS])
    bounds, steps = [], []
    for name in RATE_CONSTANTS:
        logs = np.log10(axes[name])
        lo, hi = float(logs.min()), float(logs.max())
        step = 0.5 * (float(np.median(np.diff(logs))) if logs.size > 1 else 0.25)
        bounds.append((lo, hi))
        steps.append(step)
    simplex = [x0]
    for d, (step, (_, hi)) in enumerate(zip(steps, bounds, strict=True)):
        vertex = x0.copy()
        vertex[d] = x0[d] + step if x0[d] + step <= hi else x0[d] - step
        simplex.append(vertex)
    history: list[tuple[np.ndarray, float]] = []

    def wrapped(x):
        value = float(objective(np.asarray(x, float)))
        value = value if np.isfinite(value) else np.inf
        history.append((np.asarray(x, float).copy(), value))
        return value

    f0 = float(start["chi2"])
    result = minimize(
        wrapped,
        x0,
        method="Nelder-Mead",
        bounds=bounds if all(lo < hi for lo, hi in bounds) else None,
        options={
            "initial_simplex": np.array(simplex),
            "maxfev": int(max_evaluations),
            "xatol": 0.01,
            "fatol": 1e-4 * max(f0, 1e-12),
        },
    )
    values = [v for _, v in history]
    i_best = int(np.argmin(values)) if values else -1
    x_best, f_best = history[i_best] if values else (x0, f0)
    if not np.isfinite(f_best) or f_best > f0:
        x_best, f_best = x0, f0
    k = 10.0 ** np.asarray(x_best)
    return {
        "k_dim": float(k[0]),
        "k_diss": float(k[1]),
        "k_ex": float(k[2]),
        "chi2": float(f_best),
        "k_dim_to_k_diss": float(k[0] / k[1]),
        "start": {n: float(start[n]) for n in RATE_CONSTANTS},
        "start_chi2": f0,
        "n_evaluations": len(history),
        "converged": bool(result.success),
        "message": str(result.message),
        "method": "Nelder-Mead in log10(k), direct on eq 1 with simulations",
    }


def chi2_objective(
    network: ReactionNetwork,
    experiments: dict[str, tuple[Conditions, np.ndarray, pd.DataFrame]],
    settings: TmaxSettings,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
    weighted: bool = False,
    cache: dict | None = None,
) -> Callable[[np.ndarray], float]:
    """chi²(log10 k) summed over samples; ``experiments``: sample -> (conditions, times, t_max).

    ``weighted``: each residual divided by the table's ``sigma_min`` (the weighted χ²_w of
    :mod:`intercluster.uncertainty`); every included observable then needs σ > 0.

    ``cache``: a dict to keep every simulated t_max in, keyed by everything the simulation
    depends on, so objectives sharing it (the weighted and unweighted refinement, the fits of
    one job) simulate a point of one sample once. Nelder-Mead revisits points (a clipped
    vertex, the first simplex of two refinements from one grid point) and a simulation is
    ~10 ms, its t_max 77 numbers; the simulation is deterministic, so the values are the same.
    """
    prepared = []
    for sample in sorted(experiments):
        conditions, times_min, exp_tmax = experiments[sample]
        mask = exp_tmax["included"].astype(bool).to_numpy()
        scale = np.ones(int(mask.sum()))
        if weighted:
            scale = exp_tmax["sigma_min"].to_numpy(float)[mask]
            if not np.all(np.isfinite(scale) & (scale > 0)):
                raise ValueError(f"sample {sample}: every included observable needs σ > 0")
        times_min = np.asarray(times_min, float)
        key = (network, settings, simulator, options, conditions, times_min.tobytes())
        t_exp = exp_tmax["t_max_min"].to_numpy(dtype=float)[mask]
        prepared.append((conditions, times_min, mask, t_exp, scale, key))

    def simulated(constants, conditions, times_min, key):
        if cache is None:
            return simulate_tmax(
                network, constants, conditions, times_min, settings, simulator, options
            )
        key = (*key, constants)
        if key not in cache:
            status, message, t_sim = simulate_tmax(
                network, constants, conditions, times_min, settings, simulator, options
            )
            t_sim.setflags(write=False)  # shared by every objective of the cache
            cache[key] = (status, message, t_sim)
        return cache[key]

    def objective(log_k: np.ndarray) -> float:
        constants = RateConstants(*(10.0 ** np.asarray(log_k, float)).tolist())
        total = 0.0
        for conditions, times_min, mask, t_exp, scale, key in prepared:
            status, _, t_sim = simulated(constants, conditions, times_min, key)
            if status != STATUS_OK:
                return math.inf
            total += float(np.sum(((t_sim[mask] - t_exp) / scale) ** 2))
        return total

    return objective


def best_fit(
    chi2: pd.DataFrame,
    axes: dict[str, np.ndarray],
    *,
    delta_rel: float,
    f_confidence: float,
    n_next: int = 10,
    objective: Callable[[np.ndarray], float] | None = None,
    max_evaluations: int | None = None,
    zoom_chi2: pd.DataFrame | None = None,
    zoom_settings: ZoomSettings | None = None,
) -> dict:
    """Everything ``best.json`` holds (see the module docstring); refines when ``objective``.

    ``delta_rel``, ``f_confidence``, ``max_evaluations`` (with ``objective``) and
    ``zoom_settings`` (with ``zoom_chi2``) come from ``fit`` of the config
    (:class:`intercluster.settings.FitSettings`).

    With ``zoom_chi2`` (the fine grid's table, :func:`zoom_points`) ``best.json`` gets a
    ``zoom`` section (its best point, profiles and intervals); ``intervals`` and
    ``intervals_f_test`` then come from the zoom (the coarse ones stay under
    ``intervals_coarse`` / ``intervals_f_test_coarse``) and the refinement starts from the
    better of the two best points. ``best``/``k_*``/``chi2`` stay the paper's grid optimum.
    """
    ranking = ranked(chi2)
    summary = failure_summary(chi2)
    out: dict = {"chi2_unit": "min^2", **summary}
    out["grid"] = {name: [float(v) for v in axes[name]] for name in RATE_CONSTANTS}
    if ranking.empty:
        out.update({"k_dim": None, "k_diss": None, "k_ex": None, "chi2": None})
        out.update({"best": None, "next_best": [], "refined": None, "intervals": None})
        return out
    best = _point_dict(ranking.iloc[0])
    out.update({n: best[n] for n in (*RATE_CONSTANTS, "chi2", "k_dim_to_k_diss")})
    out["best"] = best
    out["n_species"] = int(ranking.iloc[0]["n_species"])
    out["next_best"] = [_point_dict(r) for _, r in ranking.iloc[1 : 1 + n_next].iterrows()]
    out["intervals"] = {"rule": "profile chi2 <= (1 + delta_rel) * chi2_min (relative)"}
    out["intervals"].update(profile_intervals(chi2, delta_rel))
    delta_f = f_test_delta(out["n_species"], 3, f_confidence)
    out["intervals_f_test"] = {
        "rule": "profile chi2 <= (1 + F(1, n-3; conf)/(n-3)) * chi2_min (Bates & Watts)",
        "confidence": float(f_confidence),
        "n_residuals": out["n_species"],
    }
    if np.isfinite(delta_f):
        out["intervals_f_test"].update(profile_intervals(chi2, delta_f))
    start = best
    if zoom_chi2 is not None:
        if zoom_settings is None:
            raise ValueError("best_fit: zoom_chi2 needs zoom_settings")
        centres = zoom_centres(chi2, axes, delta_rel, zoom_settings)
        out["zoom"] = zoom_summary(zoom_chi2, out, centres, zoom_settings, delta_rel, f_confidence)
        zoom_best = out["zoom"]["best"]
        if out["zoom"]["intervals"] is not None:
            out["intervals_coarse"] = out["intervals"]
            out["intervals"] = {**out["intervals"], **out["zoom"]["intervals"], "source": "zoom"}
            if "intervals_f_test" in out["zoom"]:
                out["intervals_f_test_coarse"] = out["intervals_f_test"]
                out["intervals_f_test"] = {
                    **out["intervals_f_test"], **out["zoom"]["intervals_f_test"],
                    "source": "zoom",
                }  # fmt: skip
        if zoom_best is not None and zoom_best["chi2"] < best["chi2"]:
            start = zoom_best
    if objective is not None and max_evaluations is None:
        raise ValueError("best_fit: objective needs max_evaluations")
    out["refined"] = refine(objective, start, axes, max_evaluations) if objective else None
    return out


# --- helpers for the workflow scripts ---------------------------------------------------------
def network_for(model: int, cluster: dict, kinetics: dict) -> ReactionNetwork:
    """The reaction network of ``model`` from the ``cluster`` and ``kinetics`` config."""
    return build_network(model, str(kinetics["convention"]), cluster)


def simulator_options(kinetics: dict) -> SolverOptions:
    """Integration tolerances and the step limit from the validated ``kinetics`` config."""
    return KineticsSettings.from_config(kinetics).simulator_options()


def load_experiment(intensities_path, tmax_table_path=None):
    """(times_min, experimental t_max table or None) of a sample from its files."""
    from .io import read_tsv
    from .observables import experiment_times

    times = experiment_times(read_tsv(intensities_path))
    exp_tmax = read_tsv(tmax_table_path) if tmax_table_path else None
    if exp_tmax is not None:
        exp_tmax["included"] = exp_tmax["included"].astype(str).str.lower() == "true"
    return times, exp_tmax


def best_trajectories(
    network: ReactionNetwork,
    observables: pd.DataFrame,
    constants: RateConstants,
    conditions: Conditions,
    times_min: np.ndarray,
    simulator: Callable | None = None,
    options: SolverOptions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trajectories of one parameter set for the figures.

    Returns (observables table: time_min, species, kind, charge, n_first, concentration_nM,
    intensity_norm; isomers table: time_min, i, j, n_first_total, concentration_nM). Raises
    when the simulation fails (there is nothing to plot).
    """
    from .observables import normalise_rows

    simulator = simulator or default_simulator()
    times_min = np.asarray(times_min, float)
    result = simulator(network, constants, conditions, times_min * 60.0, options)
    if result.status != STATUS_OK:
        raise RuntimeError(f"simulation of the best fit failed: {result.message}")
    conc = np.asarray(result.observables, float)
    norm = normalise_rows(conc)
    n_t, n_obs = conc.shape
    obs = observables.reset_index(drop=True)
    table = pd.DataFrame(
        {
            "time_min": np.repeat(times_min, n_obs),
            "species": np.tile(obs["species"].to_numpy(), n_t),
            "kind": np.tile(obs["kind"].to_numpy(), n_t),
            "charge": np.tile(obs["charge"].to_numpy(), n_t),
            "n_first": np.tile(obs["n_first"].to_numpy(), n_t),
            "concentration_nM": conc.ravel(),
            "intensity_norm": norm.ravel(),
        }
    )
    pairs = network.dimer_pairs
    iso = np.asarray(result.isomers, float)
    isomers = pd.DataFrame(
        {
            "time_min": np.repeat(times_min, len(pairs)),
            "i": np.tile(pairs[:, 0], n_t),
            "j": np.tile(pairs[:, 1], n_t),
            "n_first_total": np.tile(pairs.sum(axis=1), n_t),
            "concentration_nM": iso.ravel(),
        }
    )
    return table, isomers
