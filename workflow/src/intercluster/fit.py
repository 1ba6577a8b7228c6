"""Grid fit of the rate constants (docs/science.md §3): grid, orbits, chunk runs, parquet IO
and eq 1's χ² tables.

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
4. Beside the grid, in their own modules: the zoom (:mod:`intercluster.zoom`), the profile
   intervals (:mod:`intercluster.intervals`), the refinement by simulation
   (:mod:`intercluster.refine`) and ``best.json`` (:mod:`intercluster.best_fit`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .network import RATE_CONSTANTS, ReactionNetwork, build_network
from .observables import dimer_response_of, ion_signal, tmax_of
from .records import RateConstants, SampleConditions
from .settings import KineticsSettings, SolverOptions, TmaxSettings

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


def chi2_reduce(
    frames: Mapping[str, Callable[[list[str]], Iterable[pd.DataFrame]]],
    exp_tmax: Mapping[str, pd.DataFrame],
    n_points: int | None = None,
    weighted: bool = False,
) -> pd.DataFrame:
    """χ² per grid point summed over the samples: the one reduction of simulated t_max tables.

    Eq 1 (min², ``weighted=False``) or the weighted χ² Σ((t_sim − t_exp)/σ)² (dimensionless,
    σ from the t_max table's ``sigma_min``; :mod:`intercluster.weighted_chi2`).

    ``frames`` maps sample -> a function that, given the columns to read (point, the
    constants, status, message and the included observables), yields that sample's
    simulated t_max rows in any order and any number of frames (a chunk file's row batches,
    or one table in memory); each frame is reduced at once, so memory is a few arrays of
    the number of points. ``exp_tmax``: sample -> its experimental t_max table. Samples are
    summed in sorted order; a point failed in any sample is failed, its message names the
    sample(s) when there are several. Every point must appear once per sample and every
    sample must hold the same points (``n_points``: exactly ``0 .. n_points - 1``), else
    ValueError.
    """
    if not frames:
        raise ValueError("no samples to fit")
    samples = sorted(frames)
    total = points = constants = failed = None
    n_species = 0
    messages: dict[int, list[str]] = {}
    for sample in samples:
        use = included_species(exp_tmax[sample])
        exp = exp_tmax[sample].set_index("species").loc[use]
        t_exp = exp["t_max_min"].to_numpy(float)
        scale = np.ones(len(use))
        if weighted:
            scale = exp["sigma_min"].to_numpy(float)
            if not np.all(np.isfinite(scale) & (scale > 0)):
                raise ValueError("every included observable needs a finite σ > 0 (sigma_min)")
        parts = []
        for frame in frames[sample](["point", *RATE_CONSTANTS, "status", "message", *use]):
            ok = (frame["status"] == STATUS_OK).to_numpy()
            z = (frame[use].to_numpy(dtype=float) - t_exp) / scale
            parts.append((frame["point"].to_numpy(dtype=np.int64),
                          frame[list(RATE_CONSTANTS)].to_numpy(dtype=float),
                          np.where(ok, np.sum(z * z, axis=1), np.nan), ~ok,
                          frame["message"].to_numpy(dtype=object)))  # fmt: skip
        point = np.concatenate([q[0] for q in parts]) if parts else np.zeros(0, np.int64)
        order = np.argsort(point, kind="stable")
        point = point[order]
        if np.any(point[1:] == point[:-1]):
            raise ValueError(f"sample {sample}: a grid point appears in more than one chunk")
        if n_points is not None and not np.array_equal(point, np.arange(n_points)):
            if point.size and (point[0] < 0 or point[-1] >= n_points):
                raise ValueError(f"sample {sample}: point ids outside 0..{n_points - 1}")
            raise ValueError(f"sample {sample}: chunks hold {point.size} grid points, the grid "
                             f"has {n_points}")  # fmt: skip
        chi2 = np.concatenate([q[2] for q in parts])[order]
        bad = np.concatenate([q[3] for q in parts])[order]
        text = np.concatenate([q[4] for q in parts])[order]
        if points is None:
            points = point
            constants = np.concatenate([q[1] for q in parts])[order]
            total, failed = np.zeros(point.size), np.zeros(point.size, dtype=bool)
        elif not np.array_equal(point, points):
            raise ValueError(f"sample {sample}: grid points differ from the other samples")
        total = total + chi2
        n_species += len(use)
        failed |= bad
        for i in np.flatnonzero(bad):
            messages.setdefault(int(i), []).append(
                text[i] if len(samples) == 1 else f"{sample}: {text[i]}"
            )
    out = pd.DataFrame({"point": points})
    for a, name in enumerate(RATE_CONSTANTS):
        out[name] = constants[:, a]
    out["chi2"] = np.where(failed, np.nan, total)
    out["n_species"] = np.full(points.size, n_species, dtype=np.int64)
    out["status"] = np.where(failed, STATUS_FAILED, STATUS_OK)
    out["message"] = ["; ".join(messages[i]) if i in messages else ""
                      for i in range(points.size)]  # fmt: skip
    return out[CHI2_COLUMNS]


def in_memory(table: pd.DataFrame) -> Callable[[list[str]], Iterable[pd.DataFrame]]:
    """A table held in memory as a source of :func:`chi2_reduce`."""
    return lambda columns: [table[columns]]


def chunk_batches(paths: Sequence, batch_rows: int = ROW_GROUP_ROWS):
    """Chunk files (parquet, :func:`run_chunk` layout) as a source of :func:`chi2_reduce`:
    read in batches of ``batch_rows`` rows, only the columns asked for."""
    import pyarrow.parquet as pq

    def read(columns):
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                           columns=columns):  # fmt: skip
                yield batch.to_pandas()

    return read


def chi2_single(sim: pd.DataFrame, exp_tmax: pd.DataFrame) -> pd.DataFrame:
    """Eq 1 for one sample: one row per grid point (CHI2_COLUMNS), chi² in min²."""
    return chi2_reduce({"": in_memory(sim)}, {"": exp_tmax})


def chi2_table(per_sample: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """chi² per grid point summed over the samples (one sample: eq 1 itself).

    ``per_sample`` maps sample -> (merged chunk table, experimental t_max table)
    (:func:`chi2_reduce`).
    """
    return chi2_reduce({s: in_memory(sim) for s, (sim, _) in per_sample.items()},
                       {s: exp for s, (_, exp) in per_sample.items()})  # fmt: skip


def chi2_streaming(
    chunks: dict[str, Sequence], exp_tmax: dict[str, pd.DataFrame], n_points: int,
    batch_rows: int = ROW_GROUP_ROWS, weighted: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """:func:`chi2_table` read from the chunk files batch by batch: the same table, bounded
    memory (:func:`chi2_reduce`; ``weighted``: the weighted χ²).

    ``chunks`` maps sample -> its chunk files, ``exp_tmax`` sample -> its experimental t_max
    table; points are ``0 .. n_points - 1``, each exactly once per sample (else ValueError).
    """
    return chi2_reduce({s: chunk_batches(paths, batch_rows) for s, paths in chunks.items()},
                       exp_tmax, n_points, weighted)  # fmt: skip


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
