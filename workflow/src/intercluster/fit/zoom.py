"""Zoom (config ``fit.zoom``, beyond the paper): a finer lattice in boxes around the best
grid point and other local minima within the interval threshold (:func:`zoom_points`), and
the summary of its own chi² table (:func:`zoom_summary`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from ..settings import ZoomSettings
from .chi2 import failure_summary, ranked
from .grid import grid_axes
from .intervals import f_test_delta, in_interval_box, profile_intervals
from .status import STATUS_OK


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
        "centres": [point_dict(r) for _, r in centres.iterrows()],
        **failure_summary(zoom_chi2),
    }
    if ranking.empty:
        out.update({"best": None, "intervals": None})
        return out
    out["best"] = point_dict(ranking.iloc[0])
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


def point_dict(row) -> dict:
    return {
        "point": int(row["point"]),
        "k_dim": float(row["k_dim"]),
        "k_diss": float(row["k_diss"]),
        "k_ex": float(row["k_ex"]),
        "chi2": float(row["chi2"]),
        "k_dim_to_k_diss": float(row["k_dim"] / row["k_diss"]),
    }
