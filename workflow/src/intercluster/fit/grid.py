"""The fit's grid and how it is cut into chunks (docs/science.md §3).

:func:`grid_points`: the grid from ``config["fit"]["grid"]``; per rate constant ``n``
log-equidistant values from ``min`` to ``max`` (default 13 quarter decades over 1e-3..1,
2197 points). Points are numbered ``point = (i_dim * n_diss + i_diss) * n_ex + i_ex``.

:func:`plan_chunk`: one chunk of the grid (``scattergather`` item ``c-of-N``). On a grid with
equal log steps on all axes the points fall into *orbits* of the time-scale invariance
(:func:`grid_orbits`: constants a·k share one trajectory read at a·t); a chunk gets whole
orbits, balanced by expected cost (:func:`chunk_orbits`). Other grids fall back to point by
point (point ``p`` in chunk ``p % N``, :func:`chunk_points`). Orbits (and points) do not depend
on the chunking, so neither do the results (byte-identical tables for any chunk and core
count). The chunk is then simulated by :func:`intercluster.fit.chunk_run.run_chunk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from ..records import RateConstants


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
