"""Model comparison and goodness of fit of the weighted χ² (beyond the paper).

Models 1-3 all have three constants and are not nested, so the likelihood-ratio test does
not apply to them (its χ² reference needs nesting). Akaike's information criterion does: AIC =
χ²_w,min + 2p, equal p, so ΔAIC = Δχ²_w and the Akaike weights exp(−ΔAIC/2) normalised say
how strongly the data prefer a model. Model 4 has a fourth parameter (the exchange bias β,
docs/science.md §2.4) and holds model 3 at β = 1: AIC charges it 2 more, and
:func:`likelihood_ratio_test` compares the two (Δχ²_w against χ²(1), halved when β = 1 is
the edge of the fitted β range). Goodness of fit: χ²_w at the refined weighted optimum
(:func:`intercluster.weighted_chi2.weighted_chi2_objective` minimised by
:func:`intercluster.refine.refine` from the best grid point), against what replicas of a
correct model give (their χ²_w,min), or against χ²(n − p) when no replicas are given; the
statement names the reference it used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import fit, records


# --- model comparison --------------------------------------------------------------------------
def compare_models(
    chi2_min: Mapping[int, float],
    n_residuals: int,
    n_parameters: int | Mapping[int, int] = 3,
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
    n_parameters : int or mapping
        Fitted parameters per model (3 for models 1-3, 4 for model 4), one number for all
        or model -> number.
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
    if isinstance(n_parameters, Mapping):
        n_par = np.array([int(n_parameters[m]) for m in models])
    else:
        n_par = np.full(len(models), int(n_parameters))
    aic = chi2 + 2.0 * n_par
    delta = aic - np.nanmin(aic)
    weight = np.exp(-0.5 * delta)
    weight = weight / np.nansum(weight)
    dof = n_residuals - n_par
    if replica_chi2_min is not None and len(replica_chi2_min) >= 2:
        ref = np.sort(np.asarray(replica_chi2_min, float))
        # the smallest p the replicas can show is 1/(n + 1)
        p = np.array([(np.sum(ref >= c) + 1.0) / (ref.size + 1.0) for c in chi2])
        p_floor = 1.0 / (ref.size + 1.0)
        limits = np.full(len(models), float(np.quantile(ref, far_quantile)))
        references = [f"{ref.size} replicas of a correct model"] * len(models)
    else:
        if np.any(dof <= 0):
            raise ValueError(f"need more residuals ({n_residuals}) than parameters")
        p = chi2_dist.sf(chi2, dof)
        p_floor = 0.0
        limits = chi2_dist.ppf(far_quantile, dof)  # per model: its own n - p
        references = [f"chi2({int(d)})" for d in dof]
    fits = chi2 <= limits
    statements = []
    for m, c, d, w, f, pv, limit, reference in zip(
        models, chi2, delta, weight, fits, p, limits, references, strict=True
    ):
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
            "reference": references,
            "p_value": p,
            "reference_limit": limits,
            "reference_quantile": float(far_quantile),
            "fits": fits,
            "statement": statements,
        }
    )


def likelihood_ratio_test(
    chi2_nested: float,
    chi2_full: float,
    extra_parameters: int = 1,
    on_boundary: bool = False,
    alpha: float = 0.05,
) -> dict:
    """Likelihood-ratio test of a nested model against the model that contains it.

    With Gaussian errors −2 ln(L_nested/L_full) = χ²_w,nested − χ²_w,full, referred to
    χ²(extra_parameters) (Wilks). When the nested value lies on the edge of the full model's
    parameter range (model 3 = model 4 at β = 1 with a β grid from 1 up), the reference is
    the equal mixture of χ²(0) and χ²(1) (Self & Liang 1987), so the p value halves (one
    extra parameter only). The statistic is floored at 0 (a grid fit can leave the full model
    a hair above the nested one).

    Returns
    -------
    dict
        statistic, p_value, extra_parameters, on_boundary, alpha, prefers_full,
        statement.
    """
    from scipy.stats import chi2 as chi2_dist

    for name, value in (("chi2_nested", chi2_nested), ("chi2_full", chi2_full)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite χ² >= 0, got {value}")
    if on_boundary and extra_parameters != 1:
        raise ValueError("the boundary (chi-bar-squared) reference is implemented for one "
                         f"extra parameter only, got {extra_parameters}")  # fmt: skip
    statistic = max(float(chi2_nested) - float(chi2_full), 0.0)
    p = float(chi2_dist.sf(statistic, extra_parameters))
    if on_boundary:
        p = 0.5 * p if statistic > 0 else 1.0
    prefers_full = p < alpha
    reference = "½χ²(0) + ½χ²(1)" if on_boundary else f"χ²({extra_parameters})"
    statement = (
        f"likelihood-ratio statistic {statistic:.4g} against {reference}: p = {p:.3g}; "
        + ("the data prefer the larger model" if prefers_full
           else "the nested model suffices")  # fmt: skip
        + f" at α = {alpha:g}"
    )
    return {
        "statistic": statistic, "p_value": p, "extra_parameters": int(extra_parameters),
        "on_boundary": bool(on_boundary), "alpha": float(alpha),
        "prefers_full": bool(prefers_full), "statement": statement,
    }  # fmt: skip


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
    """χ²_w at the refined weighted optimum of a best fit (None when not refined): the lowest
    of the refinement and the profiles by re-optimisation."""
    if best.weighted is None or "refined" not in best.weighted:
        return None
    if best.weighted.get("optimum") is not None:  # the lowest χ²_w the profiles found
        return float(best.weighted["optimum"]["chi2"])
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


# --- goodness of fit calibrated on the data's own noise ------------------------------------------
def data_noise_model(times_min, intensities_norm, smoothing_min: float) -> np.ndarray:
    """Scan-to-scan noise of the measured normalised intensities, (n_times, n_obs): the local
    rms of the residuals about the bootstrap's smooth curve (:mod:`intercluster.tmax_sigma`),
    i.e. what these spectra scatter by, not the virtual experiment's noise settings."""
    from .tmax_sigma import CENTRE_FACTORS, _centre_split

    y = np.asarray(intensities_norm, float)
    _, _, rms = _centre_split(np.asarray(times_min, float), np.where(np.isnan(y), 0.0, y),
                              smoothing_min, CENTRE_FACTORS)  # fmt: skip
    return rms


def parametric_gof_reference(
    times_min,
    model_norm: np.ndarray,
    noise_rms: np.ndarray,
    exp_tmax: pd.DataFrame,
    settings,
    n_replicas: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """χ²_w of replicas of the FITTED model with the data's noise: the reference of a
    calibrated goodness of fit.

    ``model_norm``: the fitted model's normalised intensities on the data's times (n_times,
    n_obs, observables in ``exp_tmax`` order); ``noise_rms``: :func:`data_noise_model`. Each
    replica is ``model_norm`` + Gaussian noise of that rms, reduced to t_max by THE rule and
    scored against the model's own t_max with the data's σ (``sigma_min``) over the included
    observables. No replica is refitted (a refit lowers χ²_w by about the 3 fitted constants),
    so the reference is slightly generous to the model; it carries what χ²(n − 3) does not: the
    t_max rule's jumps and a σ that misses part of the intensity noise.
    """
    from .observables import tmax_of

    times = np.asarray(times_min, float)
    model = np.asarray(model_norm, float)
    rms = np.asarray(noise_rms, float)
    if model.shape != rms.shape or model.shape[0] != times.size:
        raise ValueError(f"model {model.shape} and noise {rms.shape} must be (n_times, n_obs)")
    rule = {"tolerance_rel": settings.peak_tolerance_rel, "plateau_rel": settings.plateau_rel}
    use = exp_tmax["included"].astype(bool).to_numpy()
    sigma = exp_tmax["sigma_min"].to_numpy(float)[use]
    t_model, _ = tmax_of(times, model, settings.smoothing_min, **rule)
    rng = np.random.default_rng(seed)
    out = np.empty(int(n_replicas))
    for r in range(int(n_replicas)):
        replica = model + rms * rng.standard_normal(model.shape)
        t_rep, _ = tmax_of(times, replica, settings.smoothing_min, **rule)
        z = (t_rep[use] - t_model[use]) / sigma
        out[r] = float(np.nansum(z * z))
    return out


def calibrated_verdict(chi2_min: float, reference, quantile: float = 0.99) -> dict:
    """``consistent`` when χ²_w,min lies at or below the ``quantile`` of the parametric
    reference; the statement names the reference and where the minimum lies in it."""
    ref = np.sort(np.asarray(reference, float))
    limit = float(np.quantile(ref, quantile))
    p_value = float((np.sum(ref >= chi2_min) + 1) / (ref.size + 1))
    consistent = bool(chi2_min <= limit)
    statement = (f"chi2_w,min {chi2_min:.4g} against a parametric bootstrap of the fitted model "
                 f"with the data's own noise ({ref.size} replicas; {quantile:g} quantile "
                 f"{limit:.4g}, p = {p_value:.3g}): "
                 + ("consistent" if consistent else "the model does not fit"))  # fmt: skip
    return {"consistent": consistent, "limit": limit, "p_value": p_value,
            "quantile": quantile, "n_replicas": int(ref.size), "statement": statement}  # fmt: skip
