"""Measured coverage of the interval rules on replicas of a virtual experiment (beyond the
paper).

N replicas of a virtual experiment (new noise, same truth) are scored against ONE table of
the grid's simulated t_max (the simulations do not depend on the noise); each rule's
interval is computed per replica and counted when it contains the truth. Rules:
``relative`` (profile ≤ (1 + δ) χ²_min of eq 1), ``f_test`` (δ_F of
:func:`intercluster.fit.intervals.f_test_delta`), ``weighted`` (χ²₁ threshold) and
``weighted_calibrated`` (a parametric-bootstrap threshold: the confidence quantile of the
replicas' Δχ²_w at the truth, leave-one-out so that no replica calibrates its own
interval). The calibrated threshold is *used* (:func:`threshold_calibration`) when the χ²₁
threshold's coverage over the replicas lies outside the binomial 99 % range of the nominal
confidence: then t_max residuals are correlated or σ misses part of the noise, and the χ²
distribution does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import fit
from .fit.intervals import f_test_delta, schema_interval_rules
from .fit.profiles import (
    LOG_TOL,
    PROFILE_NAMES,
    RATE_RATIO,
    RATIO,
    GridIndex,
    default_confidence,
    delta_chi2,
    grid_profiles,
    profile_result,
)
from .fit.weighted_chi2 import combination_concentration
from .network import RATE_CONSTANTS
from .observables import TmaxSettings

RULES = ("relative", "f_test", "weighted", "weighted_calibrated")


# --- coverage --------------------------------------------------------------------------------
def binomial_range(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central range of counts of Binomial(n, p) holding ``level`` of the probability."""
    from scipy.stats import binom

    lo, hi = binom.interval(level, n, p)
    return int(lo), int(hi)


def _truth_key(name: str, values: np.ndarray, truth: Mapping, c_nM) -> int:
    if name in RATE_CONSTANTS:
        target = truth[name]
    elif name == RATIO:
        target = truth["k_dim"] / truth["k_diss"]
    else:
        target = c_nM * truth["k_dim"] / truth["k_ex"]
    distance = np.abs(np.log10(values) - np.log10(target))
    k = int(np.argmin(distance))
    steps = np.diff(np.log10(values))
    half = 0.5 * float(np.median(steps)) if steps.size else np.inf
    if distance[k] > half:
        raise ValueError(f"the truth of {name} ({target:.4g}) is not on the grid")
    return k


@dataclass(frozen=True)
class CoverageResult:
    """Per-replica intervals and the coverage of every rule.

    Attributes
    ----------
    intervals : DataFrame
        replica, rule, name, low, high (None when open), low_open, high_open, label,
        contains (the truth).
    summary : DataFrame
        rule, name, n_replicas, n_contain, fraction, expected_low, expected_high (binomial
        99 % range of counts at the confidence), consistent.
    delta_at_truth : DataFrame
        replica, name, delta (profile χ²_w at the truth − χ²_w,min): the parametric
        bootstrap distribution the calibrated threshold comes from.
    calibration : dict
        :func:`threshold_calibration` of ``delta_at_truth``.
    """

    intervals: pd.DataFrame
    summary: pd.DataFrame
    delta_at_truth: pd.DataFrame
    calibration: dict = field(default_factory=dict)


def threshold_calibration(delta_at_truth: pd.DataFrame, confidence: float | None = None) -> dict:
    """Parametric-bootstrap Δχ² threshold per name and whether it replaces the χ²₁ one.

    The calibrated threshold is the ``confidence`` quantile of the replicas' Δχ²_w at the
    truth. It is *used* when the χ²₁ threshold contains the truth in a number of replicas
    outside the binomial 99 % range of the nominal confidence.
    """
    confidence = default_confidence(confidence)
    nominal = delta_chi2(confidence)
    out = {}
    for name, group in delta_at_truth.groupby("name", sort=False):
        d = group["delta"].to_numpy(float)
        n = int(d.size)
        inside = int(np.sum(d <= nominal))
        lo, hi = binomial_range(n, confidence)
        used = not lo <= inside <= hi
        out[name] = {
            "chi2_quantile": nominal,
            "calibrated": float(np.quantile(d, confidence, method="higher")),
            "n_replicas": n,
            "n_within_chi2_quantile": inside,
            "used": bool(used),
            "reason": (
                f"the χ²₁ threshold contains the truth in {inside}/{n} replicas, outside the "
                f"binomial 99 % range {lo}-{hi} of {confidence:g}"
                if used
                else f"χ²₁ threshold consistent ({inside}/{n} within {lo}-{hi})"
            ),
        }
    return out


def coverage(
    sim: pd.DataFrame,
    replicas: Sequence[pd.DataFrame],
    truth: Mapping[str, float],
    c_nM: float | None = None,
    confidence: float | None = None,
    delta_rel: float | None = None,
    f_confidence: float | None = None,
    names: Sequence[str] = PROFILE_NAMES,
) -> CoverageResult:
    """How often each interval rule contains the truth over noise replicas.

    Parameters
    ----------
    sim : DataFrame
        ONE merged chunk table of the grid's simulated t_max (reused for every replica).
    replicas : sequence of DataFrame
        :func:`tmax_uncertainty_table` of every replica (same truth, new noise).
    truth : mapping
        The true k_dim, k_diss, k_ex (on the grid).
    c_nM : float, optional
        Concentration c of ``k_dim*c/k_ex``.
    confidence : float, optional
        Confidence of the weighted rules (``None``: ``fit.uncertainty.confidence``).
    delta_rel : float, optional
        δ of the relative rule (``None``: ``fit.interval_delta_chi2_rel``).
    f_confidence : float, optional
        Confidence of the F rule (``None``: ``fit.interval_f_confidence``).
    names : sequence of str
        Constants and combinations to score.
    """
    if len(replicas) < 2:
        raise ValueError("coverage needs at least two replicas")
    if c_nM is None:
        names = [n for n in names if n != RATE_RATIO]
    confidence = default_confidence(confidence)
    schema_delta_rel, schema_f_confidence = schema_interval_rules()
    delta_rel = schema_delta_rel if delta_rel is None else delta_rel
    f_confidence = schema_f_confidence if f_confidence is None else f_confidence
    grid = GridIndex.from_table(sim)
    ok = (sim["status"] == fit.STATUS_OK).to_numpy()
    nominal = delta_chi2(confidence)
    keys = {}
    for name in names:
        _, values = grid.combination(name, c_nM)
        keys[name] = _truth_key(name, values, truth, c_nM)
    rows, deltas, per_replica = [], [], []
    for r, exp in enumerate(replicas):
        use = fit.included_species(exp)
        e = exp.set_index("species").loc[use]
        residual = sim[use].to_numpy(float) - e["t_max_min"].to_numpy(float)
        eq1 = np.where(ok, np.sum(residual**2, axis=1), np.nan)
        z = residual / e["sigma_min"].to_numpy(float)
        weighted = np.where(ok, np.sum(z * z, axis=1), np.nan)
        levels = {
            "relative": np.nanmin(eq1) * (1.0 + delta_rel),
            "f_test": np.nanmin(eq1) * (1.0 + f_test_delta(len(use), 3, f_confidence)),
        }
        prof_eq1 = grid_profiles(eq1, grid, c_nM, names)
        prof_w = grid_profiles(weighted, grid, c_nM, names)
        w_min = float(np.nanmin(weighted))
        per_replica.append((prof_w, w_min))
        for name in names:
            values, prof = prof_w[name]
            k = keys[name]
            deltas.append({"replica": r, "name": name, "delta": float(prof[k] - w_min)})
            for rule in ("relative", "f_test"):
                v, p = prof_eq1[name]
                rows.append(_interval_row(r, rule, name, v, p, levels[rule], k))
            rows.append(_interval_row(r, "weighted", name, values, prof, w_min + nominal, k))
    delta_frame = pd.DataFrame(deltas)
    # leave-one-out parametric-bootstrap threshold: no replica calibrates its own interval
    for r, (prof_w, w_min) in enumerate(per_replica):
        others = delta_frame[delta_frame["replica"] != r]
        for name in names:
            d = others.loc[others["name"] == name, "delta"].to_numpy(float)
            threshold = float(np.quantile(d, confidence, method="higher"))
            values, prof = prof_w[name]
            rows.append(
                _interval_row(r, "weighted_calibrated", name, values, prof, w_min + threshold,
                              keys[name])
            )  # fmt: skip
    intervals = pd.DataFrame(rows)
    lo, hi = binomial_range(len(replicas), confidence)
    summary = (
        intervals.groupby(["rule", "name"], sort=False)["contains"]
        .agg(n_replicas="size", n_contain="sum")
        .reset_index()
    )
    summary["fraction"] = summary["n_contain"] / summary["n_replicas"]
    summary["expected_low"], summary["expected_high"] = lo, hi
    summary["consistent"] = (summary["n_contain"] >= lo) & (summary["n_contain"] <= hi)
    return CoverageResult(intervals, summary, delta_frame,
                          threshold_calibration(delta_frame, confidence))  # fmt: skip


def _interval_row(replica, rule, name, values, prof, level, truth_key) -> dict:
    result = profile_result(name, values, prof, level)
    return {
        "replica": replica,
        "rule": rule,
        "name": name,
        "low": result.low,
        "high": result.high,
        "low_open": result.low is None,
        "high_open": result.high is None,
        "label": result.label,
        # the truth is represented by its grid value (truth on the grid)
        "contains": result.contains(values[truth_key]),
    }


def coverage_table(result: CoverageResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Rules side by side: one row per name, the coverage fraction of every rule."""
    summary = result.summary
    if names is not None:
        summary = summary[summary["name"].isin(names)]
    wide = summary.pivot(index="name", columns="rule", values="fraction")
    order = [n for n in PROFILE_NAMES if n in wide.index]
    return wide.reindex(index=order, columns=[r for r in RULES if r in wide.columns])


def coverage_grid(
    truth: Mapping[str, float], steps: Mapping[str, float], half_width: Mapping[str, int]
) -> dict:
    """A log-equidistant grid CENTRED on the truth (so the truth is a grid point): per
    constant ``2 * half_width + 1`` values ``step`` decades apart (``fit.grid`` layout)."""
    grid = {}
    for name in RATE_CONSTANTS:
        step, n = float(steps[name]), int(half_width[name])
        if not step > 0 or n < 1:
            raise ValueError(f"coverage grid of {name}: step > 0 and half width >= 1 needed")
        centre = np.log10(float(truth[name]))
        grid[name] = {"min": 10 ** (centre - n * step), "max": 10 ** (centre + n * step),
                      "n": 2 * n + 1}  # fmt: skip
    return grid


def coverage_times(t_end_min: float, scan_interval_min: float) -> np.ndarray:
    """The replicas' time grid: one spectrum every ``scan_interval_min`` up to ``t_end_min``."""
    return np.arange(0.0, float(t_end_min) + 1e-9, float(scan_interval_min))


def coverage_ve(ve: Mapping, sample: str) -> dict:
    """The virtual experiment of one sample without CID spectra (replicas need MS1 only)."""
    import copy

    if sample not in ve["samples"]:
        raise ValueError(f"coverage sample {sample!r} is not a virtual_experiment sample")
    out = copy.deepcopy(dict(ve))
    out["samples"] = {sample: out["samples"][sample]}
    out["cid"] = {**out.get("cid", {}), "times_min": []}
    return out


def coverage_grid_tmax(system, cluster: dict, ve: Mapping, kinetics: dict, sample: str,
                       settings, tmax: TmaxSettings) -> pd.DataFrame:  # fmt: skip
    """ONE table of the simulated t_max of the coverage grid (rule coverage_grid): the grid
    centred on the virtual experiment's truth, the truth's model (or ``settings.model``),
    the sample's conditions and the replicas' time grid. ``settings``: CoverageSettings."""
    ve = coverage_ve(ve, sample)
    model = int(settings.model if settings.model is not None else ve["model"])
    grid = coverage_grid(ve["rate_constants"], settings.steps_decades, settings.half_width_steps)
    times = coverage_times(ve["t_end_min"], settings.scan_interval_min)
    conditions = fit.Conditions.from_dict({**ve["samples"][sample],
                                           "dead_time_s": ve["dead_time_s"]})  # fmt: skip
    # model 4: at the truth's exchange bias (the coverage grid spans the rate constants only)
    beta = float(ve["beta"]) if model == 4 else 1.0
    return fit.run_chunk(
        fit.network_for(model, cluster, kinetics, beta), fit.grid_points(grid), conditions, times,
        system.observables()["species"].tolist(), tmax,
        options=fit.simulator_options(kinetics), label=f"coverage grid, model {model}",
    )  # fmt: skip


def coverage_of_replicas(sim: pd.DataFrame, replicas: Sequence[pd.DataFrame], ve: Mapping,
                         sample: str, settings, confidence: float, delta_rel: float,
                         f_confidence: float) -> CoverageResult:  # fmt: skip
    """:func:`coverage` of the rule's replicas against its grid table; ``k_dim*c/k_ex`` is
    scored when the grid's k_dim and k_ex steps are equal (c: the lower concentration)."""
    truth = {k: float(ve["rate_constants"][k]) for k in RATE_CONSTANTS}
    equal = abs(settings.steps_decades["k_dim"] - settings.steps_decades["k_ex"]) < LOG_TOL
    c_nM = combination_concentration({sample: ve["samples"][sample]}) if equal else None
    return coverage(sim, replicas, truth, c_nM=c_nM, confidence=confidence,
                    delta_rel=delta_rel, f_confidence=f_confidence)  # fmt: skip


def coverage_report(
    result: CoverageResult, truth: Mapping[str, float], confidence: float, title: str = ""
) -> str:
    """The coverage printout: the rules side by side, the median interval widths and the
    parametric-bootstrap threshold calibration (markdown)."""
    table = coverage_table(result)
    n = int(result.summary["n_replicas"].max())
    lo, hi = binomial_range(n, confidence)
    widths = result.intervals.copy()
    widths["decades"] = [
        np.log10(h) - np.log10(low) if h is not None and low is not None else np.nan
        for low, h in zip(widths["low"], widths["high"], strict=True)
    ]
    median = widths.pivot_table(index="name", columns="rule", values="decades", aggfunc="median")
    median = median.reindex(index=table.index, columns=table.columns)
    lines = [
        f"# Coverage of the interval rules{(' — ' + title) if title else ''}",
        "",
        f"Truth {dict(truth)}; {n} noise replicas; confidence {confidence:g}; binomial 99 % "
        f"range of the count containing the truth: {lo}-{hi} of {n}.",
        "",
        "Fraction of replicas whose interval contains the truth:",
        "",
        "```",
        table.to_string(float_format=lambda v: f"{v:.2f}"),
        "```",
        "",
        "Median interval width (decades; NaN: an end open):",
        "",
        "```",
        median.to_string(float_format=lambda v: f"{v:.4f}"),
        "```",
        "",
        "Parametric-bootstrap threshold calibration (Δχ²_w at the truth over the replicas):",
        "",
    ]
    for name, cal in result.calibration.items():
        used = "USED" if cal["used"] else "not used"
        lines.append(f"- {name}: calibrated Δ {cal['calibrated']:.3g} vs χ²₁ "
                     f"{cal['chi2_quantile']:.3g}: {used} ({cal['reason']})")  # fmt: skip
    return "\n".join(lines) + "\n"
