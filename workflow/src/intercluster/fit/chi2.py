"""Eq 1's χ² and the weighted χ² per grid point: the one streaming reduction of the
simulated t_max tables, both kinds in one pass (:func:`chi2_reductions`), its in-memory and
chunk-file forms, the per-species residuals at one point, and the ranking of the points.

Eq 1: chi² = sum over the included observables of (t_max,sim - t_max,exp)², **unit min²**
(t_max in minutes of experimental time). For the joint sample (``fit.joint_sample_name``,
default ``all``) chi² is the sum over the samples and ``n_species`` the summed number of
included observables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from .parquet import ROW_GROUP_ROWS, chunk_batches
from .status import STATUS_FAILED, STATUS_OK

CHI2_COLUMNS = ["point", *RATE_CONSTANTS, "chi2", "n_species", "status", "message"]


def included_species(exp_tmax: pd.DataFrame) -> list[str]:
    return exp_tmax.loc[exp_tmax["included"].astype(bool), "species"].tolist()


# The two χ² the reduction writes: eq 1 (min²) and the weighted χ² (dimensionless).
EQ1 = "eq1"
WEIGHTED = "weighted"
CHI2_KINDS = (EQ1, WEIGHTED)


def chi2_reductions(
    frames: Mapping[str, Callable[[list[str]], Iterable[pd.DataFrame]]],
    exp_tmax: Mapping[str, pd.DataFrame],
    n_points: int | None = None,
    kinds: Sequence[str] = CHI2_KINDS,
) -> dict[str, pd.DataFrame]:
    """χ² per grid point summed over the samples, every kind from ONE pass over the frames:
    the one reduction of simulated t_max tables (grid chunks, the zoom, the uncertainty).

    ``kinds`` (a subset of :data:`CHI2_KINDS`, in any order): ``"eq1"``, eq 1 of the paper
    Σ(t_sim − t_exp)² in min²; ``"weighted"``, Σ((t_sim − t_exp)/σ)² (dimensionless, σ from
    the t_max table's ``sigma_min``; :mod:`intercluster.fit.weighted_chi2`). Both sum the
    same included observables, so every frame is read once for all kinds.

    ``frames`` maps sample -> a function that, given the columns to read (point, the
    constants, status, message and the included observables), yields that sample's
    simulated t_max rows in any order and any number of frames (a chunk file's row batches,
    or one table in memory); each frame is reduced at once, so memory is a few arrays of
    the number of points. ``exp_tmax``: sample -> its experimental t_max table. Samples are
    summed in sorted order; a point failed in any sample is failed, its message names the
    sample(s) when there are several. Every point must appear once per sample and every
    sample must hold the same points (``n_points``: exactly ``0 .. n_points - 1``), else
    ValueError; a weighted kind needs a finite σ > 0 for every included observable (checked
    before any frame is read).

    Returns
    -------
    dict
        kind -> its table (``CHI2_COLUMNS``), in the order of ``kinds``.
    """
    if not frames:
        raise ValueError("no samples to fit")
    kinds = list(dict.fromkeys(kinds))
    if not kinds or any(k not in CHI2_KINDS for k in kinds):
        raise ValueError(f"χ² kinds must be among {list(CHI2_KINDS)}, got {kinds}")
    samples = sorted(frames)
    # per sample, before any frame is read: its included observables, their t_max and the
    # scale of each kind (σ checked here, so a bad σ costs no chunk read)
    included: dict[str, tuple[list[str], np.ndarray]] = {}
    scales: dict[str, dict[str, np.ndarray]] = {}
    for sample in samples:
        use = included_species(exp_tmax[sample])
        exp = exp_tmax[sample].set_index("species").loc[use]
        included[sample] = (use, exp["t_max_min"].to_numpy(float))
        scales[sample] = {EQ1: np.ones(len(use))}
        if WEIGHTED in kinds:
            sigma = exp["sigma_min"].to_numpy(float)
            if not np.all(np.isfinite(sigma) & (sigma > 0)):
                raise ValueError("every included observable needs a finite σ > 0 (sigma_min)")
            scales[sample][WEIGHTED] = sigma
    totals: dict[str, np.ndarray] = {}
    points = constants = failed = None
    n_species = 0
    messages: dict[int, list[str]] = {}
    for sample in samples:
        use, t_exp = included[sample]
        parts = []
        for frame in frames[sample](["point", *RATE_CONSTANTS, "status", "message", *use]):
            ok = (frame["status"] == STATUS_OK).to_numpy()
            diff = frame[use].to_numpy(dtype=float) - t_exp
            sums = {}
            for kind in kinds:
                z = diff / scales[sample][kind]  # eq 1: σ = 1 (exact, so the same bits)
                sums[kind] = np.where(ok, np.sum(z * z, axis=1), np.nan)
            parts.append((frame["point"].to_numpy(dtype=np.int64),
                          frame[list(RATE_CONSTANTS)].to_numpy(dtype=float), sums, ~ok,
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
        bad = np.concatenate([q[3] for q in parts])[order]
        text = np.concatenate([q[4] for q in parts])[order]
        if points is None:
            points = point
            constants = np.concatenate([q[1] for q in parts])[order]
            totals = {kind: np.zeros(point.size) for kind in kinds}
            failed = np.zeros(point.size, dtype=bool)
        elif not np.array_equal(point, points):
            raise ValueError(f"sample {sample}: grid points differ from the other samples")
        for kind in kinds:
            totals[kind] = totals[kind] + np.concatenate([q[2][kind] for q in parts])[order]
        n_species += len(use)
        failed |= bad
        for i in np.flatnonzero(bad):
            messages.setdefault(int(i), []).append(
                text[i] if len(samples) == 1 else f"{sample}: {text[i]}"
            )
    message = ["; ".join(messages[i]) if i in messages else "" for i in range(points.size)]
    tables = {}
    for kind in kinds:
        out = pd.DataFrame({"point": points})
        for a, name in enumerate(RATE_CONSTANTS):
            out[name] = constants[:, a]
        out["chi2"] = np.where(failed, np.nan, totals[kind])
        out["n_species"] = np.full(points.size, n_species, dtype=np.int64)
        out["status"] = np.where(failed, STATUS_FAILED, STATUS_OK)
        out["message"] = list(message)
        tables[kind] = out[CHI2_COLUMNS]
    return tables


def chi2_reduce(
    frames: Mapping[str, Callable[[list[str]], Iterable[pd.DataFrame]]],
    exp_tmax: Mapping[str, pd.DataFrame],
    n_points: int | None = None,
    weighted: bool = False,
) -> pd.DataFrame:
    """One kind of :func:`chi2_reductions`: eq 1 (min², ``weighted=False``) or the weighted
    χ² (dimensionless, ``weighted=True``)."""
    kind = WEIGHTED if weighted else EQ1
    return chi2_reductions(frames, exp_tmax, n_points, kinds=(kind,))[kind]


def in_memory(table: pd.DataFrame) -> Callable[[list[str]], Iterable[pd.DataFrame]]:
    """A table held in memory as a source of :func:`chi2_reduce`."""
    return lambda columns: [table[columns]]


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
    kind = WEIGHTED if weighted else EQ1
    return chi2_streaming_all(chunks, exp_tmax, n_points, batch_rows, kinds=(kind,))[kind]


def chi2_streaming_all(
    chunks: Mapping[str, Sequence], exp_tmax: Mapping[str, pd.DataFrame], n_points: int,
    batch_rows: int = ROW_GROUP_ROWS, kinds: Sequence[str] = CHI2_KINDS,
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Every χ² of ``kinds`` (eq 1 and the weighted χ²) from ONE pass over the chunk files,
    batch by batch (:func:`chi2_reductions`; rule fit_chi2).

    ``chunks`` maps sample -> its chunk files (parquet, :func:`intercluster.fit.run_chunk`
    layout), ``exp_tmax`` sample -> its ``tmax_experiment.tsv`` (with ``sigma_min`` for the
    weighted kind); points are ``0 .. n_points - 1``, each exactly once per sample (else
    ValueError). Only the included observables' columns are read.
    """
    return chi2_reductions({s: chunk_batches(paths, batch_rows) for s, paths in chunks.items()},
                           exp_tmax, n_points, kinds)  # fmt: skip


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
