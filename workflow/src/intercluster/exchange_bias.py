"""Model 4's exchange bias β on the fit's grid (docs/science.md §2.4 and §3; beyond the paper).

Model 4 is model 3 with one dimensionless constant β (forward exchange moves times √β,
backward ones divided by √β). Its grid has a fourth axis, ``fit.grid.beta`` (``n``
log-equidistant values from ``min`` to ``max``; β < 1 allowed). β is dimensionless, so the
time-scale invariance (constants a·k share one trajectory read at a·t) holds at fixed β only:
every β value is its own network and its own set of orbits over the three rate constants
(:func:`intercluster.fit.grid_orbits`), and the log says so.

What this module gives:

* :func:`beta_axis`: the β values of the config;
* :func:`fit_beta_grid`: t_max of every observable at every (β, k) point, per sample, reduced
  to eq 1's χ² and the weighted χ²_w (:mod:`intercluster.fit.weighted_chi2`), with β and its
  index as columns;
* :func:`beta_profile`, :func:`beta_summary`: the profile of χ²_w over β (minimum over the
  three constants at each β), the estimate of β (vertex of a parabola in log β through the
  profile's minimum and its neighbours), its profile interval (Δχ²_w = χ²(1) quantile,
  crossings interpolated in log β by :func:`intercluster.fit.intervals.interval_from_profile`,
  in the signed root once the refined optimum is in the profile),
  and ΔG_mix = −RT ln β with the interval mapped through it;
* :func:`local_beta_profile`: the profile re-optimised in small steps of β around the
  refined optimum, where the interval's ends lie;
* :func:`compare_with_model3`: AIC and the likelihood-ratio test of model 3 (β = 1) against
  model 4 (:func:`intercluster.model_comparison.likelihood_ratio_test`);
* :func:`fit_model4`: all of it for models 3 and 4 on the same samples (rule fit_model4,
  ``benchmarks/bench_model4.py``);
* :func:`model4_constants`, :func:`delta_g_mix_statement`, :func:`plausibility_entry`: the
  record read back for the figures, the report's words and the plausibility table.

The grid rules do not fit model 4: the rule ``fit_model4`` runs :func:`fit_model4` on the
joint fit of every sample, on request (target ``model4``) or in the default target when
``fit.models`` lists 4.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import fit
from .fit.intervals import interval_from_profile
from .fit.refine import chi2_objective, refine
from .fit.weighted_chi2 import weighted_chi2_table
from .model_comparison import compare_models, likelihood_ratio_test
from .network import RATE_CONSTANTS

if TYPE_CHECKING:
    from .network import ReactionNetwork
    from .observables import TmaxSettings
    from .records import SampleConditions
    from .settings import SolverOptions

log = logging.getLogger("intercluster.exchange_bias")

BETA_COLUMNS = ["point", "i_beta", "beta", *RATE_CONSTANTS, "chi2", "chi2_weighted",
                "n_species", "status", "message"]  # fmt: skip


def beta_axis(grid: Mapping) -> np.ndarray:
    """The ``n`` log-equidistant β values of ``grid["beta"]`` (``min`` to ``max``)."""
    if "beta" not in grid:
        raise KeyError("fit.grid has no beta axis (min, max, n): model 4 needs one")
    axis = grid["beta"]
    lo, hi, n = float(axis["min"]), float(axis["max"]), int(axis["n"])
    if not (0 < lo <= hi and np.isfinite(hi)) or n < 1:
        raise ValueError(f"fit.grid.beta: need 0 < min <= max and n >= 1, got {dict(axis)}")
    return np.array([lo]) if n == 1 else 10.0 ** np.linspace(np.log10(lo), np.log10(hi), n)


def fit_beta_grid(
    points: pd.DataFrame,
    beta_values,
    experiments: Mapping[str, tuple[SampleConditions, np.ndarray, pd.DataFrame]],
    network_of: Callable[[float], ReactionNetwork],
    settings: TmaxSettings,
    options: SolverOptions | None = None,
    use_orbits: bool = True,
) -> pd.DataFrame:
    """χ² (eq 1) and χ²_w of every (β, k) point, summed over the samples.

    Parameters
    ----------
    points : DataFrame
        The grid of the three constants (:func:`intercluster.fit.grid_points`).
    beta_values : array_like
        The β axis (:func:`beta_axis`).
    experiments : mapping
        sample -> (its conditions, its experimental times in min, its t_max table with σ:
        :func:`intercluster.tmax_sigma.tmax_uncertainty_table`).
    network_of : callable
        β -> the model-4 network (e.g. ``lambda b: build_network(4, convention, cluster, b)``).
    settings, options
        The t_max rule and the solver options, as for :func:`intercluster.fit.run_chunk`.
    use_orbits : bool
        Orbits of the time-scale invariance per β value (``fit.orbits``).

    Returns
    -------
    DataFrame
        :data:`BETA_COLUMNS`; ``point = i_beta * len(points) + point`` of the k grid.
    """
    if not experiments:
        raise ValueError("no samples to fit")
    beta_values = np.asarray(beta_values, float)
    n_k = len(points)
    tables = []
    for i_beta, beta in enumerate(beta_values):
        network = network_of(float(beta))
        if network.beta != beta:
            raise ValueError(f"network_of({beta}) returned a network at beta = {network.beta}")
        chosen, orbits, reason = fit.plan_chunk(points, 0, 1, use_orbits)
        log.info("beta = %.6g (%d of %d): beta is dimensionless, so it is its own set of "
                 "time-scale orbits over the three rate constants: %s",
                 beta, i_beta + 1, beta_values.size, reason)  # fmt: skip
        per_sample = {}
        for sample, (conditions, times_min, exp_tmax) in experiments.items():
            species = exp_tmax["species"].tolist()
            chunk = fit.run_chunk(
                network, chosen, conditions, times_min, species, settings, options=options,
                label=f"{sample} beta={beta:.4g}", orbits=orbits,
            )  # fmt: skip
            per_sample[sample] = (chunk, exp_tmax)
        plain = fit.chi2_table(per_sample)
        weighted = weighted_chi2_table(per_sample)
        table = plain[["point", *RATE_CONSTANTS, "chi2", "n_species", "status", "message"]]
        table = table.assign(chi2_weighted=weighted["chi2"].to_numpy(), i_beta=i_beta,
                             beta=float(beta))  # fmt: skip
        table["point"] = table["point"].to_numpy() + i_beta * n_k
        tables.append(table)
    return pd.concat(tables, ignore_index=True)[BETA_COLUMNS]


def beta_profile(table: pd.DataFrame, column: str = "chi2_weighted") -> pd.DataFrame:
    """Per β value the lowest ``column`` over the three constants and where it lies."""
    ok = table[(table["status"] == fit.STATUS_OK) & np.isfinite(table[column])]
    rows = []
    for beta in np.unique(table["beta"].to_numpy(float)):
        mine = ok[ok["beta"] == beta]
        if mine.empty:
            rows.append({"beta": beta, column: np.nan, **dict.fromkeys(RATE_CONSTANTS, np.nan)})
            continue
        best = mine.loc[mine[column].idxmin()]
        rows.append({"beta": beta, column: float(best[column]),
                     **{k: float(best[k]) for k in RATE_CONSTANTS}})  # fmt: skip
    return pd.DataFrame(rows)


def refined_beta_profile(
    table: pd.DataFrame,
    experiments: Mapping[str, tuple[SampleConditions, np.ndarray, pd.DataFrame]],
    network_of: Callable[[float], ReactionNetwork],
    settings: TmaxSettings,
    axes: Mapping[str, np.ndarray],
    options: SolverOptions | None = None,
    max_evaluations: int = 40,
) -> pd.DataFrame:
    """The β profile re-optimised: at every β value χ²_w minimised over the three constants
    by simulation (:func:`intercluster.fit.refine.refine`, Nelder-Mead in log10 k from that β's
    best grid point, bounded to the k grid ``axes``). The grid profile of a coarse k grid
    is ragged (each β value sees the constants only at grid values); this one is not.

    Returns the layout of :func:`beta_profile` (column ``chi2_weighted``) with
    ``chi2_weighted_grid`` (the grid profile) and ``n_evaluations``.
    """

    grid = beta_profile(table, "chi2_weighted")
    rows = []
    for row in grid.itertuples(index=False):
        if not np.isfinite(row.chi2_weighted):
            rows.append({**row._asdict(), "chi2_weighted_grid": np.nan, "n_evaluations": 0})
            continue
        objective = chi2_objective(network_of(float(row.beta)), dict(experiments), settings,
                                   options=options, weighted=True)  # fmt: skip
        start = {**{k: getattr(row, k) for k in RATE_CONSTANTS}, "chi2": row.chi2_weighted}
        refined = refine(objective, start, dict(axes), max_evaluations)
        rows.append({"beta": row.beta, "chi2_weighted": refined["chi2"],
                     **{k: refined[k] for k in RATE_CONSTANTS},
                     "chi2_weighted_grid": row.chi2_weighted,
                     "n_evaluations": refined["n_evaluations"]})  # fmt: skip
        log.info("beta = %.6g: chi2_w %.6g on the grid, %.6g re-optimised (%d evaluations)",
                 row.beta, row.chi2_weighted, refined["chi2"],
                 refined["n_evaluations"])  # fmt: skip
    return pd.DataFrame(rows)


def refine_beta_optimum(
    profile: pd.DataFrame,
    experiments: Mapping[str, tuple[SampleConditions, np.ndarray, pd.DataFrame]],
    network_of: Callable[[float], ReactionNetwork],
    settings: TmaxSettings,
    options: SolverOptions | None = None,
    max_evaluations: int = 80,
) -> dict:
    """χ²_w minimised over (log10 β, log10 k) together by simulation, from the lowest point
    of a β profile: Nelder-Mead (scipy) with an initial simplex of half a β step and 0.1
    decade per constant, β bounded to the profile's axis. The data can pin β far finer
    than a β grid resolves (the profile is steep and not parabolic over one step), so β
    comes from here, not from interpolating the profile.

    Returns beta, k_dim, k_diss, k_ex, chi2_weighted, start_chi2, n_evaluations, converged.
    """
    from scipy.optimize import minimize


    values = profile["chi2_weighted"].to_numpy(float)
    best = profile.iloc[int(np.nanargmin(values))]
    log_beta = np.log10(profile["beta"].to_numpy(float))
    half_step = 0.5 * float(np.median(np.diff(log_beta))) if log_beta.size > 1 else 0.05
    x0 = np.log10([best["beta"], *(best[k] for k in RATE_CONSTANTS)])
    simplex = [x0]
    for d in range(4):
        vertex = x0.copy()
        step = half_step if d == 0 else 0.1
        vertex[d] += step if (d != 0 or x0[0] + step <= log_beta.max()) else -step
        simplex.append(vertex)
    objectives: dict[float, Callable] = {}

    def chi2_w(x):
        beta = float(10.0 ** x[0])
        if not log_beta.min() - 1e-12 <= x[0] <= log_beta.max() + 1e-12:
            return np.inf
        if beta not in objectives:
            objectives[beta] = chi2_objective(network_of(beta), dict(experiments), settings,
                                              options=options, weighted=True)  # fmt: skip
        value = float(objectives.pop(beta)(x[1:]))
        return value if np.isfinite(value) else np.inf

    start = float(best["chi2_weighted"])
    result = minimize(chi2_w, x0, method="Nelder-Mead",
                      options={"initial_simplex": np.array(simplex), "maxfev": max_evaluations,
                               "xatol": 0.002, "fatol": 1e-4 * max(start, 1e-12)})  # fmt: skip
    x, value = (result.x, float(result.fun)) if result.fun <= start else (x0, start)
    out = {"beta": float(10.0 ** x[0]),
           **{k: float(10.0 ** v) for k, v in zip(RATE_CONSTANTS, x[1:], strict=True)},
           "chi2_weighted": value, "start_chi2": start, "n_evaluations": int(result.nfev),
           "converged": bool(result.success)}  # fmt: skip
    log.info("beta and the constants refined together: beta = %.5g, chi2_w %.6g (from %.6g "
             "at beta = %.5g; %d evaluations, %s)", out["beta"], value, start, best["beta"],
             out["n_evaluations"],
             "converged" if out["converged"] else "not converged")  # fmt: skip
    return out


LOCAL_STEPS_DECADES = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # around the optimum, in log10 β
#: initial simplex of the local profile's inner search (decades per constant): the
#: constants move by about this much between neighbouring steps of β
LOCAL_SIMPLEX_DECADES = 0.01


def local_beta_profile(
    optimum: dict,
    experiments: Mapping[str, tuple[SampleConditions, np.ndarray, pd.DataFrame]],
    network_of: Callable[[float], ReactionNetwork],
    settings: TmaxSettings,
    axes: Mapping[str, np.ndarray],
    beta_range: tuple[float, float],
    confidence: float = 0.95,
    options: SolverOptions | None = None,
    max_evaluations: int = 80,
    profile: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The β profile re-optimised close to the refined optimum, where the interval lies.

    A β grid step is far wider than the interval when the data pin β well: between the
    optimum and the next grid value χ²_w rises by hundreds, and a crossing interpolated
    there is an artefact of the straight line. So on each side of the optimum β is stepped
    out by :data:`LOCAL_STEPS_DECADES` (within ``beta_range``), the constants re-optimised
    at each (:func:`intercluster.fit.refine.refine` from the previous step's constants or,
    when lower, those of ``profile``'s row nearest in β (the re-optimised grid profile,
    :func:`refined_beta_profile`), with a simplex of :data:`LOCAL_SIMPLEX_DECADES`), until
    χ²_w exceeds the optimum by the χ²(1) ``confidence`` quantile. Returns the rows of
    :func:`refined_beta_profile` (without the optimum itself).

    The inner search must re-optimise for real: k_dim and k_diss move with β, and a profile
    that stays near the optimum's constants is the slice through it, steeper than the
    profile, and its interval too narrow (with a simplex of half a grid step and 30
    evaluations the search hardly left the start: 5 of 8 intervals held the truth).
    """
    from scipy.stats import chi2 as chi2_dist


    level = float(optimum["chi2_weighted"]) + float(chi2_dist.ppf(confidence, 1))
    rows = []
    for side in (-1.0, 1.0):
        start = {k: optimum[k] for k in RATE_CONSTANTS}  # each side from the optimum
        for step in LOCAL_STEPS_DECADES:
            beta = float(optimum["beta"] * 10.0 ** (side * step))
            if not beta_range[0] <= beta <= beta_range[1]:
                break
            objective = chi2_objective(network_of(beta), dict(experiments), settings,
                                       options=options, weighted=True)  # fmt: skip
            # two starts, as the profiles of the constants have (reoptimised_profiles): the
            # valley of the constants bends with β, and one start alone can miss it by
            # tens of χ² at one step and find it at the next (a jagged profile)
            starts = [start] + _nearest_profile_constants(profile, beta)
            firsts = [objective(np.log10([one[k] for k in RATE_CONSTANTS])) for one in starts]
            best = int(np.argmin(firsts))
            refined = refine(objective, {**starts[best], "chi2": firsts[best]}, dict(axes),
                             max_evaluations, step_decades=LOCAL_SIMPLEX_DECADES,
                             xatol=1e-3)  # fmt: skip
            start = {k: refined[k] for k in RATE_CONSTANTS}
            rows.append({"beta": beta, "chi2_weighted": refined["chi2"],
                         **{k: refined[k] for k in RATE_CONSTANTS},
                         "n_evaluations": refined["n_evaluations"]})  # fmt: skip
            if refined["chi2"] > level:
                break
    return pd.DataFrame(rows)


def _nearest_profile_constants(profile: pd.DataFrame | None, beta: float) -> list[dict]:
    """The constants of ``profile``'s finite row nearest to ``beta`` in log β (none without)."""
    if profile is None or profile.empty:
        return []
    ok = profile[np.isfinite(profile["chi2_weighted"].to_numpy(float))]
    if ok.empty:
        return []
    row = ok.iloc[int(np.argmin(np.abs(np.log10(ok["beta"].to_numpy(float) / beta))))]
    return [{k: float(row[k]) for k in RATE_CONSTANTS}]


def with_optimum(profile: pd.DataFrame, optimum: dict, *extra: pd.DataFrame) -> pd.DataFrame:
    """The β profile with the refined optimum (:func:`refine_beta_optimum`) as one more row
    (and ``extra`` rows, e.g. :func:`local_beta_profile`), sorted by β: its minimum is then
    the optimum (unless a local step found lower) and the interval brackets it."""
    row = {"beta": optimum["beta"], "chi2_weighted": optimum["chi2_weighted"],
           **{k: optimum[k] for k in RATE_CONSTANTS}}  # fmt: skip
    out = pd.concat([profile, pd.DataFrame([row]), *extra], ignore_index=True)
    return out.sort_values("beta", kind="stable").reset_index(drop=True)


def _vertex_log(beta: np.ndarray, prof: np.ndarray) -> float:
    """β at the vertex of the parabola in log β through the profile minimum and its two
    neighbours (the grid value at an edge or when the three points bend the wrong way).
    Three points and a closed form: no fitting library needed."""
    best = int(np.nanargmin(prof))
    if best == 0 or best == prof.size - 1 or not np.all(np.isfinite(prof[best - 1 : best + 2])):
        return float(beta[best])
    x = np.log10(beta[best - 1 : best + 2])
    y = prof[best - 1 : best + 2]
    a, b, _ = np.polyfit(x, y, 2)
    if a <= 0:
        return float(beta[best])
    return float(10.0 ** np.clip(-b / (2 * a), x[0], x[2]))


def delta_g_mix_kJ_per_mol(beta, temperature_K: float):
    """ΔG_mix = −RT ln β per exchange step toward mixing (kJ/mol; docs/science.md §2.4)."""
    from scipy.constants import R

    return -R * float(temperature_K) * np.log(np.asarray(beta, float)) / 1000.0


def beta_summary(prof: pd.DataFrame, temperature_K: float, confidence: float = 0.95,
                 column: str = "chi2_weighted", refined_optimum: bool = False) -> dict:  # fmt: skip
    """β estimate and profile interval, and ΔG_mix with its interval, from a β profile
    (:func:`beta_profile` of the grid or :func:`refined_beta_profile`).

    The interval is where the β profile stays within the χ²(1) ``confidence`` quantile of
    its minimum (``column`` must be a χ² with measurement errors: χ²_w). An end at the edge
    of the β axis is open. ΔG_mix falls as β rises, so its low end is β's high end.
    ``refined_optimum``: the profile holds the refined optimum (:func:`with_optimum`), which
    is then the estimate.
    """
    from scipy.stats import chi2 as chi2_dist

    beta = prof["beta"].to_numpy(float)
    values = prof[column].to_numpy(float)
    if not np.isfinite(values).any():
        raise ValueError("no successful grid point: no β estimate")
    best_row = prof.iloc[int(np.nanargmin(values))]
    level = float(np.nanmin(values)) + float(chi2_dist.ppf(confidence, 1))
    # with the refined optimum in the profile its points lie close to the optimum: crossings
    # in the signed root (a chord of χ² cuts a convex profile's crossing short)
    # (and, the profile being re-optimised by local searches, an upper bound of the true
    # one: every β below the threshold is in the interval, see interval_from_profile)
    interval = interval_from_profile(
        beta, values, level, minimum=float(np.nanmin(values)) if refined_optimum else None,
        outermost=refined_optimum,
    )
    # the profile's own minimum when it holds the refined optimum (with_optimum); on a bare
    # grid profile the vertex of a parabola through the minimum and its neighbours
    estimate = float(best_row["beta"]) if refined_optimum else _vertex_log(beta, values)
    dg = float(delta_g_mix_kJ_per_mol(estimate, temperature_K))

    def dg_end(end):
        return None if end is None else float(delta_g_mix_kJ_per_mol(end, temperature_K))

    return {
        "beta": estimate,
        "beta_at_profile_minimum": float(best_row["beta"]),
        "chi2_min": float(best_row[column]),
        "constants": {k: float(best_row[k]) for k in RATE_CONSTANTS},
        "beta_interval": interval,
        "confidence": float(confidence),
        "temperature_K": float(temperature_K),
        "delta_g_mix_kJ_per_mol": dg,
        "delta_g_mix_interval": {
            "low": dg_end(interval["high"]), "high": dg_end(interval["low"]),
            "low_open": interval["high_open"], "high_open": interval["low_open"],
        },  # fmt: skip
        "profile": prof,
    }


def compare_with_model3(chi2_w_model3: float, profile: pd.DataFrame, n_residuals: int,
                        alpha: float = 0.05) -> dict:  # fmt: skip
    """AIC and the likelihood-ratio test of model 3 (β = 1) against model 4.

    ``chi2_w_model3``: model 3's minimum χ²_w on the same data (grid or refined, as the
    profile); ``profile``: model 4's β profile (:func:`beta_profile` or
    :func:`refined_beta_profile`). When β = 1 is an end of the β axis the test uses the
    boundary reference (p halved). A β axis without β = 1 does not contain model 3, so the
    model-4 minimum may lie above model 3's: the statistic is floored at 0 and a warning
    logged.
    """
    chi2_w_model4 = float(np.nanmin(profile["chi2_weighted"].to_numpy(float)))
    betas = np.unique(profile["beta"].to_numpy(float))
    holds_one = bool(np.any(np.isclose(betas, 1.0, rtol=1e-12)))
    if not holds_one:
        log.warning("the beta axis (%g..%g) does not hold beta = 1: model 4's grid does "
                    "not contain model 3", betas.min(), betas.max())  # fmt: skip
    on_boundary = holds_one and (np.isclose(betas.min(), 1.0) or np.isclose(betas.max(), 1.0))
    lrt = likelihood_ratio_test(chi2_w_model3, chi2_w_model4, 1, bool(on_boundary), alpha)
    aic = compare_models({3: chi2_w_model3, 4: chi2_w_model4}, n_residuals, {3: 3, 4: 4})
    return {"likelihood_ratio": lrt, "aic": aic}


def chi2_verdict(aic: pd.DataFrame, model: int) -> dict:
    """One model's AIC and χ²(n − p) verdict from :func:`compare_with_model3`'s table (the
    record's; rule model_comparison shows them as they are)."""
    row = aic.loc[model]
    return {"fits": bool(row["fits"]), "aic": float(row["aic"]),
            "reference": str(row["reference"]), "p_value": float(row["p_value"]),
            "reference_limit": float(row["reference_limit"]),
            "reference_quantile": float(row["reference_quantile"])}  # fmt: skip


def fit_model4(
    experiments: Mapping[str, tuple[SampleConditions, np.ndarray, pd.DataFrame]],
    grid: Mapping,
    network_of: Callable[[int, float], ReactionNetwork],
    settings: TmaxSettings,
    temperature_K: float,
    confidence: float = 0.95,
    options: SolverOptions | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Models 3 and 4 fitted to the same samples, the whole chain of this module.

    For each model: the grid (:func:`fit_beta_grid`; model 3 at β = 1 only), the
    re-optimised profile, the 4-D refinement (model 3: β pinned at 1, the same optimiser
    and budget); for model 4 also the local profile. ``network_of(model, beta)`` builds the
    networks. Returns (a JSON-ready record: β, its interval, ΔG_mix, model 4's and model 3's
    constants and χ²_w, the likelihood-ratio test and AIC; model 4's β profile).
    """
    points, axes = fit.grid_points(grid), fit.grid_axes(grid)
    betas = beta_axis(grid)
    out = {}
    for model, model_betas in ((3, [1.0]), (4, betas)):
        def one(beta, model=model):
            return network_of(model, beta)

        table = fit_beta_grid(points, model_betas, experiments, one, settings, options)
        profile = refined_beta_profile(table, experiments, one, settings, axes, options)
        optimum = refine_beta_optimum(profile, experiments, one, settings, options)
        extra = []
        if model == 4:
            extra = [local_beta_profile(optimum, experiments, one, settings, axes,
                                        (float(betas.min()), float(betas.max())), confidence,
                                        options, profile=profile)]  # fmt: skip
        out[model] = (table, with_optimum(profile, optimum, *extra), optimum)
    n_residuals = int(out[4][0]["n_species"].iloc[0])
    comparison = compare_with_model3(out[3][2]["chi2_weighted"], out[4][1], n_residuals)
    summary = beta_summary(out[4][1], temperature_K, confidence, refined_optimum=True)
    aic = comparison["aic"].set_index("model")
    record = {
        "beta": summary["beta"],
        "beta_interval": summary["beta_interval"],
        "confidence": confidence,
        "temperature_K": float(temperature_K),
        "delta_g_mix_kJ_per_mol": summary["delta_g_mix_kJ_per_mol"],
        "delta_g_mix_interval": summary["delta_g_mix_interval"],
        "n_residuals": n_residuals,
        "model4": {**summary["constants"], "chi2_weighted": summary["chi2_min"],
                   **chi2_verdict(aic, 4)},
        "model3": {**{k: out[3][2][k] for k in RATE_CONSTANTS},
                   "chi2_weighted": out[3][2]["chi2_weighted"], **chi2_verdict(aic, 3)},
        "likelihood_ratio": comparison["likelihood_ratio"],
        "beta_axis": [float(b) for b in betas],
        "statement": (
            f"model 4: β = {summary['beta']:.4g}, ΔG_mix = "
            f"{summary['delta_g_mix_kJ_per_mol']:.3g} kJ/mol per exchange step toward "
            f"mixing at {float(temperature_K):g} K; "
            + comparison["likelihood_ratio"]["statement"]
        ),
    }  # fmt: skip
    return record, summary["profile"]


# --- model 4's record (beta.json) in the figures, the report and the plausibility table ----


def model4_constants(record: Mapping) -> dict:
    """Model 4's best fit from its record (``beta.json`` of :func:`fit_model4`): the three
    rate constants and β, e.g. to simulate it for the figures."""
    try:
        fitted = record["model4"]
        return {**{k: float(fitted[k]) for k in RATE_CONSTANTS}, "beta": float(record["beta"])}
    except (KeyError, TypeError) as err:
        raise ValueError(f"not a model-4 record (beta.json of rule fit_model4): {err}") from err


def _end(value, is_open: bool, bound: str, digits: int = 3) -> str:
    """One end of an interval in words: the value, ``bound`` (≤/≥) before it when the end
    is open (at the edge of the β axis), "open" when there is none."""
    if value is None:
        return "open"
    text = f"{float(value) + 0.0:.{digits}g}"  # + 0.0: no "-0"
    return f"{bound}{text}" if is_open else text


def _digits_apart(*values, least: int = 3, most: int = 6) -> int:
    """Significant digits (``least`` to ``most``) that tell a narrow interval's ends and its
    estimate apart in words (β pinned to 0.2 % needs more than three)."""
    shown = [float(v) for v in values if v is not None]
    for digits in range(least, most):
        if len({f"{v + 0.0:.{digits}g}" for v in shown}) == len(set(shown)):
            return digits
    return most


def delta_g_mix_statement(record: Mapping) -> str:
    """ΔG_mix with its interval, β with its interval and the test against model 3, in words
    (the report; from ``beta.json``). An end at the edge of the β axis is open: said with
    ≤/≥ and "open"."""
    dg, iv = record["delta_g_mix_kJ_per_mol"], record["delta_g_mix_interval"]
    beta, biv = record["beta"], record["beta_interval"]
    level = f"{100 * float(record['confidence']):g} %"
    open_note = (" (an end marked ≤/≥ lies at the edge of fit.grid.beta: the interval is open "
                 "there)" if iv["low_open"] or iv["high_open"] else "")  # fmt: skip
    lrt = record["likelihood_ratio"]
    verdict = ("The likelihood-ratio test prefers model 4 to model 3" if lrt["prefers_full"]
               else "The likelihood-ratio test keeps model 3 (β = 1)")  # fmt: skip
    # an open end reaches beyond the axis: it does not exclude 0 on its side
    holds_zero = ((iv["low"] is None or iv["low_open"] or iv["low"] <= 0)
                  and (iv["high"] is None or iv["high_open"] or iv["high"] >= 0))  # fmt: skip
    if holds_zero:
        sign = "The interval holds 0: the data do not resolve a preference for mixed or "
        sign += "unmixed compositions."
    elif dg < 0:
        sign = "Negative ΔG_mix: the exchange favours mixed compositions."
    else:
        sign = "Positive ΔG_mix: the exchange favours unmixed compositions."
    g_digits = _digits_apart(dg, iv["low"], iv["high"])
    b_digits = _digits_apart(beta, biv["low"], biv["high"], least=4)
    p_value = float(lrt["p_value"])
    p_text = "p < 1e-15" if p_value < 1e-15 else f"p = {p_value:.3g}"
    return (
        f"Model 4 (all samples jointly) gives a free energy of mixing of ΔG_mix = "
        f"{_end(dg, False, '', g_digits)} kJ/mol per exchange step toward mixing at "
        f"{float(record['temperature_K']):g} K, "
        f"{level} interval {_end(iv['low'], iv['low_open'], '≤', g_digits)} to "
        f"{_end(iv['high'], iv['high_open'], '≥', g_digits)} kJ/mol{open_note}; that is β = "
        f"{_end(beta, False, '', b_digits)} ({_end(biv['low'], biv['low_open'], '≤', b_digits)}"
        f" to {_end(biv['high'], biv['high_open'], '≥', b_digits)}). {sign} {verdict} "
        f"({p_text})."
    )


def plausibility_entry(record: Mapping) -> dict:
    """ΔG_mix beside the kinetic checks (the plausibility record of model 4,
    :class:`intercluster.records.PlausibilityResult` ``exchange_bias``): numbers from
    ``beta.json``, not a pass/fail check (any ΔG_mix is physically possible)."""
    iv = record["delta_g_mix_interval"]
    return {
        "delta_g_mix_kJ_per_mol": float(record["delta_g_mix_kJ_per_mol"]),
        "delta_g_mix_low": iv["low"],
        "delta_g_mix_high": iv["high"],
        "beta": float(record["beta"]),
        "temperature_K": float(record["temperature_K"]),
        "confidence": float(record["confidence"]),
        "lrt_p_value": float(record["likelihood_ratio"]["p_value"]),
        "prefers_model4": bool(record["likelihood_ratio"]["prefers_full"]),
        "statement": delta_g_mix_statement(record),
    }
