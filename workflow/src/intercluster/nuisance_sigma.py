"""σ(t_max)'s systematic part from the deconvolution's nuisance choices (beyond the paper).

The bootstrap (:mod:`intercluster.tmax_sigma`) resamples the noise of one deconvolution; it
does not see how much t_max moves when the front end's own choices change within what the
data allow. Each nuisance choice is re-made once (an alternative the workflow also offers):

- ``resolving_power``: the other resolving-power model (constant <-> linear in m/z);
- ``robust``: the robust second pass off (or on);
- ``gaps``: gaps treated as measured zeros instead of censored (only for spectra with gaps or
  points written as 0, which the deconvolution treats as gaps; others skip it);
- ``smoothing``: the t_max rule's smoothing width × 0.75 and × 1.5 on the data alone (no new
  deconvolution).

The calibration shift is fitted per spectrum and its search range barely matters (narrowing it
to a quarter moved t_max by a median 0.001 min on a sparse virtual run with interferences), so
it is not re-made. Every alternative shifts each observable's t_max by d_k from the
workflow's own. The workflow's choice and its alternative are taken as equally plausible: the
t_max over that choice is a two-point distribution of sd |d_k|/2, and over the three smoothing
widths a three-point one of sd the population sd of {d_0.75, 0, d_1.5}. Independent
nuisances add in square: σ_nuisance = sqrt(Σ_k (d_k/2)² + sd_smoothing²). It is a column of
``tmax_experiment.tsv`` (``sigma_nuisance_min``, with each shift) and, with
``fit.uncertainty.nuisance_sigma``, enters σ in quadrature with the rest.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .observables import TmaxSettings, experimental_tmax
from .settings import DeconvolutionSettings

#: Smoothing-width factors of the ``smoothing`` nuisance (the rule's width is a choice, 2 min
#: by default; a quarter narrower to half wider brackets what a reader would call the same rule).
SMOOTHING_FACTORS = (0.75, 1.5)


def nuisance_settings(settings: DeconvolutionSettings, has_gaps: bool
                      ) -> dict[str, DeconvolutionSettings]:  # fmt: skip
    """The alternative deconvolution settings, one per nuisance choice (module docstring)."""
    other_r = "constant" if settings.resolving_power_model == "linear" else "linear"
    out = {
        "resolving_power": replace(settings, resolving_power_model=other_r),
        "robust": replace(settings, robust=not settings.robust),
    }
    if has_gaps:
        out["gaps"] = replace(settings, gaps="zero" if settings.gaps != "zero" else "censor")
    return out


def run_has_gaps(run) -> bool:
    """Whether a run's spectra leave m/z out (sparse profiles, centroids) or write zeros: the
    gap treatment then matters. A dense profile has every point and no exact zeros."""
    if getattr(run, "mode", "profile") == "centroid":
        return True
    for mz, intensity in zip(run.mz, run.intensity, strict=True):
        mz = np.asarray(mz, float)
        if mz.size < 3 or np.any(np.asarray(intensity, float) == 0.0):
            return True
        step = np.diff(mz)
        if np.max(step) > 3.0 * np.median(step):  # a jump of the grid: points left out
            return True
    return False


def nuisance_intensities(run, settings: DeconvolutionSettings, deconvolve) -> pd.DataFrame:
    """The run deconvolved under every alternative of :func:`nuisance_settings`: the long
    intensity tables stacked with a ``nuisance`` column (rule deconvolve_nuisance).

    ``deconvolve(run, settings)`` -> the long intensity table: the workflow's own
    deconvolution (ion forms summed, or :func:`intercluster.deconvolution.deconvolve_run`).
    """
    frames = []
    for name, alternative in nuisance_settings(settings, run_has_gaps(run)).items():
        frames.append(deconvolve(run, alternative).assign(nuisance=name))
    return pd.concat(frames, ignore_index=True)


def nuisance_sigma(
    intensities: pd.DataFrame,
    alternatives: pd.DataFrame,
    observables: pd.DataFrame,
    settings: TmaxSettings,
) -> pd.DataFrame:
    """σ(t_max)'s systematic part per observable (module docstring).

    Parameters
    ----------
    intensities : DataFrame
        The workflow's deconvolution of the run (long table).
    alternatives : DataFrame
        :func:`nuisance_intensities` (a ``nuisance`` column; may be empty: smoothing only).
    observables : DataFrame
        :meth:`ClusterSystem.observables`.
    settings : TmaxSettings
        THE t_max rule.

    Returns
    -------
    DataFrame
        species, ``shift_<nuisance>_min`` per alternative (NaN where it gives no t_max) and
        ``sigma_nuisance_min`` (module docstring; NaN shifts count 0).
    """
    base = experimental_tmax(intensities, observables, settings)
    t_base = base["t_max_min"].to_numpy(float)
    out = base[["species"]].copy()
    variances = []
    for name, table in (alternatives.groupby("nuisance", sort=True)
                        if not alternatives.empty else []):  # fmt: skip
        t_alt = experimental_tmax(table, observables, settings)["t_max_min"].to_numpy(float)
        out[f"shift_{name}_min"] = t_alt - t_base
        variances.append(((t_alt - t_base) / 2.0) ** 2)  # two equally plausible choices
    shifts = [np.zeros_like(t_base)]  # the rule's own width
    for factor in SMOOTHING_FACTORS:
        wider = replace(settings, smoothing_min=settings.smoothing_min * factor)
        shift = experimental_tmax(intensities, observables, wider)["t_max_min"].to_numpy(float)
        out[f"shift_smoothing_x{factor:g}_min"] = shift - t_base
        shifts.append(shift - t_base)
    variances.append(np.nanvar(np.array(shifts), axis=0))
    out["sigma_nuisance_min"] = np.sqrt(np.nansum(variances, axis=0))
    return out


def with_nuisance_sigma(table: pd.DataFrame, nuisance: pd.DataFrame, apply: bool) -> pd.DataFrame:
    """``tmax_experiment.tsv`` with the ``sigma_nuisance_min`` column (and the shifts); with
    ``apply`` σ becomes sqrt(σ² + σ_nuisance²) and ``sigma_source`` says so."""
    columns = [c for c in nuisance.columns if c != "species"]
    out = table.drop(columns=[c for c in columns if c in table.columns])
    out = out.merge(nuisance, on="species", how="left", validate="one_to_one")
    if apply:
        extra = np.nan_to_num(out["sigma_nuisance_min"].to_numpy(float), nan=0.0)
        sigma = out["sigma_min"].to_numpy(float)
        out["sigma_min"] = np.sqrt(sigma * sigma + extra * extra)
        out["sigma_source"] = np.where(extra > 0, out["sigma_source"] + " + nuisance",
                                       out["sigma_source"])  # fmt: skip
    return out
