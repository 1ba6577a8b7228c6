"""The weighted χ² of the grid fit (beyond the paper).

χ²_w = Σ ((t_max,sim − t_max,exp)/σ)² over the included observables (dimensionless), σ from
:mod:`intercluster.tmax_sigma`; summed over samples for a joint fit, like eq 1 of the paper
(:func:`intercluster.fit.chi2_table`, which carries no measurement errors and so has no
absolute scale). From the grid's chunk files in the same pass as eq 1
(:func:`intercluster.fit.chi2_streaming_all`, rule fit_chi2), from tables in memory
(:func:`weighted_chi2_table`) and, by simulation, as an objective of log10 k
(:func:`weighted_chi2_objective`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .. import records
from ..observables import TmaxSettings
from .chi2 import chi2_reduce, in_memory
from .refine import chi2_objective


# --- weighted χ² ----------------------------------------------------------------------------
# One reduction (fit.chi2_reduce) for eq 1 and the weighted χ²: these name its weighted use.
def weighted_chi2_single(sim: pd.DataFrame, exp_tmax: pd.DataFrame) -> pd.DataFrame:
    """Weighted χ² of one sample per grid point (columns of ``fit.CHI2_COLUMNS``).

    ``sim`` is a merged chunk table (point, constants, status, message, one t_max column per
    species); ``exp_tmax`` a :func:`tmax_uncertainty_table`. χ² is dimensionless.
    """
    return chi2_reduce({"": in_memory(sim)}, {"": exp_tmax}, weighted=True)


def weighted_chi2_table(
    per_sample: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
) -> pd.DataFrame:
    """Weighted χ² summed over the samples; same layout and failure rules as eq 1's table."""
    return chi2_reduce({s: in_memory(sim) for s, (sim, _) in per_sample.items()},
                           {s: exp for s, (_, exp) in per_sample.items()},
                           weighted=True)  # fmt: skip


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
