"""What ``best.json`` carries of the weighted χ² fit (rule fit_best, beyond the paper): the
best grid point of χ²_w, its refinement by simulation, the grid profiles, the profiles by
re-optimisation with their intervals, and a consistency check of these numbers in words.

``intervals_weighted`` are the re-optimised profiles' intervals when the fit has an
objective by simulation (:mod:`intercluster.fit.reoptimised_profiles`), else the grid profiles'
(:mod:`intercluster.fit.profiles`, interpolated between grid values: narrower than the data
support when the grid is coarse, said in ``weighted.interval_source``).

Consistency (``weighted.consistency``): the grid's best point, the refined point and the
intervals are checked against each other; what does not hold is said in words
(``messages``) and ``consistent`` is False, never silently printed side by side:

- the refinement stopped at its evaluation limit (not converged);
- a profile found a lower χ²_w than the refined optimum by more than 5 % of Δχ² (the
  refinement did not reach the minimum; the intervals are then conservative);
- the refined point (or the profiles' optimum) lies outside its own interval;
- the best grid point sits at the grid's edge in a constant (the grid may not contain the
  optimum).

A model that the calibrated goodness of fit rejects at its refined optimum (converged, or
far beyond the limit: ``GROSS_REJECTION``) gets no profiles by re-optimisation (unless
``profile_rejected``): a profile-likelihood interval is a confidence interval only for a
model that describes the data, and these profiles are the stage's largest cost (on the
demo, models 1 and 2 took three quarters of it). Its ``intervals_weighted`` are then the
grid bracket (``intervals_grid``: the grid values next to those whose profile stays under
the threshold), and ``weighted.profiles_skipped`` says why in words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from .profiles import (
    PROFILE_NAMES,
    RATE_RATIO,
    RATIO,
    GridIndex,
    best_json_fields,
    default_confidence,
    delta_chi2,
    profilable_names,
    profile_results,
)
from .refine import refine, refine_status
from .reoptimised_profiles import (
    ReoptimisedProfile,
    gauss_newton_curvature,
    gauss_newton_polish,
    log_bounds,
    reoptimised_profile,
)
from .status import STATUS_OK

#: A profile's minimum below the refined optimum's by more than this share of Δχ² means the
#: refinement did not reach the minimum.
IMPROVEMENT_SHARE = 0.05
#: A rejected model whose refinement stopped at its evaluation limit is still not profiled
#: when its calibrated statistic is this many times the reference's limit: the last steps of
#: a stalled Nelder-Mead lower χ²_w by far less (on the demo every refinement stops at 60
#: evaluations; model 1's statistic is 4-6 times its limit, the true model's below it).
GROSS_REJECTION = 2.0


def quantity_of(name: str, point: dict, c_nM: float | None) -> float | None:
    """The value of a constant or combination at ``point`` (k_dim, k_diss, k_ex)."""
    if name in RATE_CONSTANTS:
        return float(point[name])
    if name == RATIO:
        return float(point["k_dim"] / point["k_diss"])
    if name == RATE_RATIO:
        return None if c_nM is None else float(point["k_dim"] * c_nM / point["k_ex"])
    raise ValueError(f"unknown quantity {name!r}")


def _profile_names(c_nM):
    return [n for n in PROFILE_NAMES if n != RATE_RATIO or c_nM is not None]


def reoptimised_profiles(objective: Callable, optimum: dict, axes: dict, delta: float,
                         c_nM: float | None, grid: pd.DataFrame | None, inner_evaluations: int,
                         names=None) -> tuple[dict[str, ReoptimisedProfile], dict]:  # fmt: skip
    """Every constant's and combination's profile by re-optimisation (``names``: these
    only), and the optimum they are around: ``optimum`` polished by Gauss-Newton steps when
    the objective gives residuals
    (:func:`~intercluster.fit.reoptimised_profiles.gauss_newton_polish`), whose curvature
    then predicts the profiles' paths and first steps."""
    bounds = log_bounds(axes)
    x0 = np.log10([optimum[k] for k in RATE_CONSTANTS])
    x, chi2 = gauss_newton_polish(objective, x0, float(optimum["chi2"]), bounds)
    optimum = dict(zip(RATE_CONSTANTS, (10.0**x).tolist(), strict=True)) | {"chi2": chi2}
    curvature = gauss_newton_curvature(objective, x)
    profiles = {
        name: reoptimised_profile(objective, optimum, name, bounds, delta, c_nM, grid,
                                  inner_evaluations=inner_evaluations,
                                  curvature=curvature)  # fmt: skip
        for name in (_profile_names(c_nM) if names is None else names)
    }
    return profiles, optimum


def _lowest_point(results: dict[str, ReoptimisedProfile]) -> tuple[float, dict] | None:
    best = None
    for r in results.values():
        finite = np.isfinite(r.chi2)
        if not finite.any():
            continue
        i = int(np.argmin(np.where(finite, r.chi2, np.inf)))
        if best is None or r.chi2[i] < best[0]:
            point = dict(zip(RATE_CONSTANTS, (10.0 ** r.points[i]).tolist(), strict=True))
            best = (float(r.chi2[i]), point)
    return best


def consistency(section: dict, axes: dict, c_nM: float | None) -> dict:
    """Check the grid point, the refined point and the intervals against each other (module
    docstring); returns {consistent, messages}."""
    messages = []
    refined = section.get("refined")
    if refined is not None and not refined.get("converged", False):
        messages.append(refine_status(refined))
    if section.get("profile_restart"):
        messages.append(section["profile_restart"])
    best = section.get("best")
    if best is not None:
        for name in RATE_CONSTANTS:
            values = np.asarray(axes[name], float)
            at_edge = np.isclose(best[name], values.min()) or np.isclose(best[name], values.max())
            if values.size > 1 and at_edge:
                messages.append(
                    f"the best grid point of chi2_w sits at the grid's edge in {name} "
                    f"({best[name]:.4g}): the grid may not contain the optimum"
                )
    optimum = section.get("optimum")
    intervals = section.get("intervals_reoptimised") or {}
    if optimum is not None:
        for name, (low, high) in intervals.items():
            value = quantity_of(name, optimum, c_nM)
            if value is None:
                continue
            below = low is not None and value < low * (1 - 1e-9)
            above = high is not None and value > high * (1 + 1e-9)
            if below or above:
                messages.append(
                    f"the optimum's {name} = {value:.4g} lies outside its own interval "
                    f"[{low}, {high}]: an error of the profile or of the refinement"
                )
    return {"consistent": not messages, "messages": messages}


def weighted_fit_fields(
    weighted: pd.DataFrame,
    c_nM: float | None,
    confidence: float | None = None,
    objective=None,
    max_evaluations: int | None = None,
    profile_evaluations: int | None = None,
    goodness_of_fit: Callable[[dict], dict] | None = None,
    profile_rejected: bool = False,
) -> dict:
    """What ``best.json`` carries of the weighted χ² fit (rule fit_best).

    Returns ``identifiability`` and ``intervals_weighted`` and ``weighted``: the rule,
    confidence, Δχ², c, the best grid point of χ²_w and, per name, the grid profile's label,
    interval (``intervals_grid``: at the grid's resolution) and profile. With ``objective``
    (χ²_w by simulation) and ``max_evaluations``: ``refined`` (the refinement from the best
    grid point); with ``profile_evaluations`` too (the inner search's evaluations), the
    profiles by re-optimisation (``profiles_reoptimised``, ``intervals_reoptimised``) give
    ``intervals_weighted`` and the labels, and ``optimum`` is the lowest χ²_w found.
    ``consistency`` says in words what does not agree. A combination the grid cannot
    profile (unequal log steps) is left out of the grid profiles and named in
    ``not_profiled``. Without a successful grid point: only ``weighted`` with ``best`` None.

    ``goodness_of_fit``: optimum (rate constants) -> the calibrated goodness of fit
    (:func:`intercluster.model_comparison.goodness_of_fit_section`), evaluated at the refined
    optimum (and again at the profiles' optimum when they find a lower χ²_w) into
    ``weighted.goodness_of_fit``. A model it rejects at a converged refinement is not
    profiled by re-optimisation unless ``profile_rejected`` (module docstring).
    """
    confidence = default_confidence(confidence)
    delta = delta_chi2(confidence)
    ok = (weighted["status"] == STATUS_OK).to_numpy() & np.isfinite(weighted["chi2"])
    section: dict = {
        "rule": "profile chi2_w <= chi2_w,min + chi2_1 quantile(confidence)",
        "chi2_unit": "dimensionless",
        "confidence": float(confidence),
        "delta_chi2": delta,
        "c_nM": None if c_nM is None else float(c_nM),
        "best": None,
    }
    if not ok.any():
        return {"weighted": section}
    row = weighted[ok].sort_values(["chi2", "point"]).iloc[0]
    section["best"] = {
        "point": int(row["point"]),
        **{k: float(row[k]) for k in RATE_CONSTANTS},
        "chi2": float(row["chi2"]),
        "n_species": int(row["n_species"]),
    }
    axes = GridIndex.from_table(weighted).axes
    if objective is not None:
        if max_evaluations is None:
            raise ValueError("weighted_fit_fields: objective needs max_evaluations")
        # the weighted minimum is far narrower than a grid step (about 0.001 decades of k_ex
        # on the demo), so the grid's χ²_w,min overstates the model's misfit by the grid's
        # distance from the optimum; goodness of fit is judged at the refined optimum
        section["refined"] = refine(objective, section["best"], axes, max_evaluations)
    names, skipped = profilable_names(weighted, c_nM)
    results = profile_results(weighted, c_nM=c_nM, confidence=confidence, names=names)
    section["not_profiled"] = skipped
    section["profiles"] = {name: r.as_dict() for name, r in results.items()}
    # at the grid's resolution too: an interval narrower than a step is not a measurement
    section["intervals_grid"] = {name: [r.grid_low, r.grid_high] for name, r in results.items()}
    fields = best_json_fields(results)
    section["interval_source"] = "grid profile (interpolated between grid values)"
    refined = section.get("refined")
    if goodness_of_fit is not None and refined is not None:
        section["goodness_of_fit"] = goodness_of_fit(refined)
    rejected = _rejected_at_convergence(section)
    if rejected and profile_evaluations is not None and not profile_rejected:
        section["profiles_skipped"] = (
            f"not profiled by re-optimisation: {rejected}; a profile interval is a confidence "
            "interval only for a model that fits, so intervals_weighted is the grid bracket "
            "(fit.uncertainty.profile_rejected_models: true profiles it anyway)"
        )
        section["interval_source"] = "grid bracket (the model does not fit; not profiled)"
        fields["intervals_weighted"] = section["intervals_grid"]
    elif objective is not None and profile_evaluations is not None:
        refined_point = {k: refined[k] for k in RATE_CONSTANTS} | {"chi2": refined["chi2"]}
        reopt, optimum = reoptimised_profiles(objective, refined_point, axes, delta, c_nM,
                                              weighted, profile_evaluations)  # fmt: skip
        if optimum["chi2"] < refined_point["chi2"]:
            section["polished"] = dict(optimum) | {
                "start_chi2": refined_point["chi2"],
                "method": "Gauss-Newton steps from the refined point (the profiles' start)",
            }
        lowest = _lowest_point(reopt)
        if lowest is not None and lowest[0] < optimum["chi2"] - IMPROVEMENT_SHARE * delta:
            # the profiles' threshold stays at their start's χ²_w + Δ (intervals too wide
            # by the difference, never too narrow); recomputing them from the lower point,
            # as pyPESTO does, would double the cost of the stage
            section["profile_restart"] = (
                f"a profile found chi2_w = {lowest[0]:.4g} below the profiles' start's "
                f"{optimum['chi2']:.4g}: the refinement had not reached the minimum; the "
                "intervals use the start's threshold and are conservative by the "
                "difference"
            )
        if lowest is not None and lowest[0] < optimum["chi2"]:
            optimum = lowest[1] | {"chi2": lowest[0]}
        if goodness_of_fit is not None and optimum["chi2"] < refined_point["chi2"]:
            section["goodness_of_fit"] = goodness_of_fit(optimum)  # where χ²_w is lowest
        section["optimum"] = optimum
        section["profiles_reoptimised"] = {n: r.as_dict() for n, r in reopt.items()}
        section["intervals_reoptimised"] = {n: [r.low, r.high] for n, r in reopt.items()}
        section["interval_source"] = "profiles by re-optimisation (simulation at every step)"
        fields = {
            "identifiability": {n: r.label for n, r in reopt.items()},
            "intervals_weighted": section["intervals_reoptimised"],
        }
    chi2_min = (section.get("optimum") or section.get("refined") or section["best"])["chi2"]
    section["model_discrepancy"] = model_discrepancy(chi2_min, section["best"]["n_species"])
    section["consistency"] = consistency(section, axes, c_nM)
    return {**fields, "weighted": section}


def _rejected_at_convergence(section: dict) -> str | None:
    """Why the model does not fit, in words, when the calibrated goodness of fit rejects it
    at the refined optimum and the refinement converged or the statistic is at least
    ``GROSS_REJECTION`` times its limit; None otherwise (no verdict, consistent, or a
    refinement that stopped early close enough to the limit that its minimum might pass)."""
    gof = section.get("goodness_of_fit") or {}
    refined = section.get("refined") or {}
    if not gof.get("available") or gof.get("consistent", True):
        return None
    gross = float(gof.get("statistic", 0.0)) >= GROSS_REJECTION * float(gof.get("limit", np.inf))
    if not (refined.get("converged") or gross):
        return None
    return f"the calibrated goodness of fit rejects the model ({gof['statement']})"


def model_discrepancy(chi2_min: float, n_observables: int, n_parameters: int = 3) -> dict:
    """The overall model-discrepancy scale s = sqrt(χ²_w,min / (n − p)), floored at 1: the
    factor by which σ(t_max) would have to grow for the model to fit as well as the noise
    allows. Reported, not applied: the intervals stay those of the measured σ."""
    dof = int(n_observables) - int(n_parameters)
    scale = float(np.sqrt(max(chi2_min / dof, 1.0))) if dof > 0 else None
    return {"scale": scale, "dof": dof, "applied": False}
