"""The weighted χ² of the grid fit (beyond the paper).

χ²_w = Σ ((t_max,sim − t_max,exp)/σ)² over the included observables (dimensionless), σ from
:mod:`intercluster.tmax_sigma`; summed over samples for a joint fit, like eq 1 of the paper
(:func:`intercluster.fit.chi2_table`, which carries no measurement errors and so has no
absolute scale). From the grid's chunk files (:func:`weighted_chi2_from_chunks`, rule
fit_chi2_weighted) and, by simulation, as an objective of log10 k
(:func:`weighted_chi2_objective`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import fit, records
from .network import RATE_CONSTANTS
from .observables import TmaxSettings
from .refine import chi2_objective


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
                            simulator=None, options=None, cache=None):  # fmt: skip
    """χ²_w(log10 k) summed over samples, by simulation (``experiments``: sample ->
    (conditions, times, t_max table with ``sigma_min``)); inf when a simulation fails:
    :func:`intercluster.chi2_objective` with ``weighted=True`` (``cache``: its
    simulation cache, shared with the unweighted objective)."""
    return chi2_objective(network, experiments, settings, simulator, options, weighted=True,
                              cache=cache)  # fmt: skip
