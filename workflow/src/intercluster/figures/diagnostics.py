"""Diagnostics: S11 (Debye factor), the chi² landscape and the deconvolution QC."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from ..io import SYNTHETIC_LABEL
from ..records import BestFit
from ..system import ClusterSystem
from .style import (
    RATE_CONSTANTS,
    RATE_SYMBOLS,
    RATE_UNITS,
    _with_synthetic_first_line,
    figure_size,
    format_k,
    mark_synthetic,
    plt,
)

# --- S11: Debye factor -------------------------------------------------------------------


def figure_s11(
    debye_factor: Callable[[np.ndarray], np.ndarray],
    distance_range_A: tuple[float, float] = (5.0, 50.0),
    reference: tuple[float, float] | None = (12.7, 0.53),
    conditions: str = "DMF, 298 K",
):
    """S11: the Debye factor f(R) for R in ``distance_range_A`` (Å); ``debye_factor`` maps
    an array of distances in Å to f. ``reference`` is the paper's point (R, f)."""
    r = np.linspace(*distance_range_A, 400)
    f = np.asarray(debye_factor(r), float)
    fig, ax = plt.subplots(figsize=figure_size("s11"), layout="constrained")
    ax.plot(r, f, color="#2166ac", lw=2, label=f"$f = x/(e^x - 1)$, {conditions}")
    if reference is not None:
        r0, f0 = reference
        ours = float(np.asarray(debye_factor(np.array([r0])), float)[0])
        ax.plot(
            [r0],
            [f0],
            "o",
            ms=9,
            mfc="none",
            mec="#b2182b",
            mew=2,
            label=f"paper: R = {r0:g} Å, f = {f0:g}",
        )
        ax.plot(
            [r0], [ours], "x", ms=7, color="k", label=f"this workflow: f({r0:g} Å) = {ours:.3f}"
        )
        ax.axvline(r0, color="0.6", lw=0.8, ls=":")
        ax.axhline(f0, color="0.6", lw=0.8, ls=":")
    ax.set_xlim(*distance_range_A)
    ax.set_ylim(0, 1)
    ax.set_xlabel("reaction distance R / Å")
    ax.set_ylabel(r"Debye factor $f_\mathrm{Debye}$ (dimensionless)")
    ax.set_title("Figure S11 — Debye factor against reaction distance", fontsize=11)
    ax.legend(frameon=False, loc="lower right", fontsize=8.5)
    ax.grid(alpha=0.3)
    return fig


# --- beyond the paper: chi² landscape ----------------------------------------------------


# --- model 4: the profile of the exchange bias β ------------------------------------------


def figure_beta_profile(summary: dict, synthetic: bool = False):
    """The profile of χ²_w over model 4's exchange bias β (minimised over the rate constants;
    :func:`intercluster.exchange_bias.beta_summary`), its interval, and ΔG_mix = −RT ln β on
    the top axis. One panel: Δχ²_w against β (log), the χ²(1) threshold, the interval shaded.
    """
    from scipy.stats import chi2 as chi2_dist

    prof = summary["profile"]
    beta = prof["beta"].to_numpy(float)
    delta = prof["chi2_weighted"].to_numpy(float) - float(summary["chi2_min"])
    threshold = float(chi2_dist.ppf(summary["confidence"], 1))
    fig, ax = plt.subplots(figsize=figure_size("beta_profile"), layout="constrained")
    ax.plot(beta, delta, "o-", color="#2166ac", ms=3, lw=1.0,
            label="χ²$_w$ − min, constants re-optimised")  # fmt: skip
    ax.axhline(threshold, color="#d6604d", ls="--", lw=0.9,
               label=f"χ²(1) {100 * summary['confidence']:.0f} % threshold {threshold:.2f}")
    iv = summary["beta_interval"]
    if iv["low"] is not None and iv["high"] is not None:
        ax.axvspan(iv["low"], iv["high"], color="#fdae61", alpha=0.35, label="interval")
    ax.axvline(summary["beta"], color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)  # the minimum is 0: linear below 1, log above
    ax.set_ylim(0.0, max(float(np.nanmax(delta)), 10.0 * threshold) * 3.0)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks([b for b in (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8)
                   if beta.min() <= b <= beta.max()])  # fmt: skip
    ax.set_xlabel("exchange bias β (model 4)")
    ax.set_ylabel("Δχ²$_w$")
    temperature = float(summary["temperature_K"])
    from scipy.constants import R

    # ΔG_mix on a twin top axis at whole and half kJ/mol: ticks placed at their β (a
    # secondary axis with the decreasing map -RT ln β draws no usable log ticks)
    top = ax.twiny()
    top.set_xscale("log")
    top.set_xlim(ax.get_xlim())
    rt = R * temperature / 1000.0
    g_lo, g_hi = -rt * np.log(beta.max()), -rt * np.log(beta.min())
    g_ticks = np.arange(np.floor(2 * g_lo) / 2, g_hi + 1e-9, 0.5)
    top.set_xticks(np.exp(-g_ticks / rt))
    top.set_xticklabels([f"{g + 0.0:.1f}" for g in g_ticks])  # + 0.0: no "-0.0"
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel(f"ΔG$_{{mix}}$ per exchange step (kJ/mol, {temperature:.0f} K)")
    dg = summary["delta_g_mix_interval"]
    ends = [dg["low"], dg["high"]] if dg["low"] is not None and dg["high"] is not None else []
    shown = [float(summary["delta_g_mix_kJ_per_mol"]), *ends]
    # the digits that tell a narrow interval's ends and the estimate apart (3 to 5)
    digits = next((d for d in (3, 4) if len({f"{v + 0.0:.{d}g}" for v in shown})
                   == len(set(shown))), 5)  # fmt: skip
    words = f"β = {summary['beta']:.4g}, ΔG_mix = {shown[0] + 0.0:.{digits}g} kJ/mol"
    if ends:
        words += f" ({ends[0] + 0.0:.{digits}g} to {ends[1] + 0.0:.{digits}g})"  # no "-0"
    fig.suptitle(_with_synthetic_first_line(f"Model 4: profile of β — {words}", synthetic),
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    mark_synthetic(fig, synthetic)
    return fig


def _interval_of(best: BestFit, name: str):
    """(low, high, low_open, high_open) of rate constant ``name`` of a best fit, or None."""
    value = (best.intervals or {}).get(name)
    if value is not None and value["low"] is not None and value["high"] is not None:
        return (
            float(value["low"]),
            float(value["high"]),
            bool(value["low_open"]),
            bool(value["high_open"]),
        )
    return None


def _ok_points(chi2: pd.DataFrame) -> pd.DataFrame:
    ok = chi2
    if "status" in chi2.columns:
        ok = chi2[chi2["status"].astype(str) == "ok"]
    return ok[np.isfinite(ok["chi2"].to_numpy(float))]


def chi2_slices(chi2: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each rate constant: chi² along it with the other two at the best grid point."""
    ok = _ok_points(chi2)
    best_row = ok.loc[ok["chi2"].idxmin()]
    out = {}
    for name in RATE_CONSTANTS:
        mask = np.ones(len(ok), bool)
        for other in RATE_CONSTANTS:
            if other != name:
                mask &= np.isclose(ok[other].to_numpy(float), float(best_row[other]), rtol=1e-6)
        out[name] = ok[mask].sort_values(name)[[name, "chi2"]]
    return out


def _profile_frame(profile: list[tuple[float, float]], name: str) -> pd.DataFrame:
    """A profile from best.json (:meth:`BestFit.profile`) as a two-column table."""
    return pd.DataFrame(profile, columns=[name, "chi2"])


def _weighted_label(best: BestFit, name: str, step_decades: float = 0.0) -> str:
    """'weighted 95 %: identifiable, 1.2e-2 – 3.4e-2' of a best fit, '' without the weighted fit."""
    labels = best.identifiability or {}
    if name not in labels:
        return ""
    low, high = (best.intervals_weighted or {}).get(name, (None, None))
    confidence = float((best.weighted or {}).get("confidence", float("nan")))

    def end(v, open_sign):
        return open_sign if v is None else format_k(float(v), math_text=False)

    text = f"weighted {100 * confidence:g} %: {labels[name]}, "
    text += f"{end(low, 'open')} – {end(high, 'open')}"
    # an interval inside one grid step says more than the grid can: give its grid bracket
    brackets = (best.weighted or {}).get("intervals_grid") or {}
    grid_low, grid_high = brackets.get(name, (None, None))
    narrow = None not in (low, high) and np.log10(float(high) / float(low)) < step_decades
    if narrow and (grid_low, grid_high) != (None, None):
        bracket = f"{end(grid_low, 'open')} – {end(grid_high, 'open')}"
        text += f",\n  inside one grid step (grid bracket {bracket})"
    return text


def _draw_weighted_profile(ax, best: BestFit, name: str) -> None:
    """The weighted χ² profile and its threshold on a right-hand axis (dimensionless)."""
    try:
        prof = _profile_frame(best.weighted_profile(name), name)
    except ValueError:
        return
    level = (best.weighted or {}).get("profiles", {}).get(name, {}).get("level")
    right = ax.twinx()
    right.plot(prof[name], prof["chi2"], "^-", color="#762a83", ms=3, lw=1,
               label="weighted χ²$_w$ profile (right axis)")  # fmt: skip
    reoptimised = ((best.weighted or {}).get("profiles_reoptimised") or {}).get(name)
    if reoptimised:
        points = [(p["value"], p["chi2_min"]) for p in reoptimised["profile"]
                  if p["chi2_min"] is not None]  # fmt: skip
        if points:
            values, chi2 = np.asarray(points, float).T
            right.plot(values, chi2, "-", color="#e08214", lw=1.4,
                       label="χ²$_w$ profile re-optimised by simulation (right axis)")  # fmt: skip
            level = reoptimised["level"]
    if level is not None:
        right.axhline(float(level), color="#762a83", lw=0.8, ls="-.",
                      label="weighted threshold χ²$_{w,\\mathrm{min}}$ + Δχ²")  # fmt: skip
    if np.all(prof["chi2"].to_numpy(float) > 0):
        right.set_yscale("log")
        _decade_labels(right.yaxis)
    right.yaxis.set_minor_formatter(NullFormatter())
    right.set_ylabel("χ²$_w$ (dimensionless)", color="#762a83", fontsize=8)
    right.tick_params(axis="y", colors="#762a83", labelsize=7)
    return right


def _decade_labels(axis) -> None:
    """Label a log axis' decades 10⁻³ (Unicode), not $10^{-3}$: a chi² figure has dozens of
    log axes, drawn for the layout, the PNG and the PDF, and mathtext tick labels made up
    much of that time. Where the axis spans a decade or more, its unlabelled minor ticks
    go too: each tick is several artists that constrained layout measures again and
    again, and they were a third of the figure's time (the decades keep their grid lines;
    the grid points are the markers)."""
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_k(value, 2, False)))
    low, high = axis.get_view_interval()
    if low > 0 and high / low >= 10:
        axis.set_minor_locator(NullLocator())
        axis.set_minor_formatter(NullFormatter())


def _combination_note(best: BestFit) -> str:
    """The identifiability of the combinations k_dim:k_diss and k_dim*c/k_ex, in words."""
    lines = []
    for name in ("k_dim:k_diss", "k_dim*c/k_ex"):
        label = _weighted_label(best, name)
        if label:
            lines.append(f"{name}: {label.removeprefix('weighted ')}")
    return "\n".join(lines)


def figure_chi2(
    landscapes: Sequence[tuple],
    fit_label: str = "",
    synthetic: bool = False,
):
    """χ² along each rate constant for each model (log axes): the slice through the best
    grid point, the profile (minimum over the other two constants), the interval threshold
    and interval from best.json, the best grid point and the refined value.

    ``landscapes``: (model, chi2, best) or (model, chi2, best, zoom_chi2); with a zoom table
    (fit.zoom) its profile and best point are drawn too, and best.json's interval and
    threshold are then the zoom's."""
    fig, axes = plt.subplots(
        len(landscapes),
        3,
        figsize=figure_size("chi2", len(landscapes)),
        layout="constrained",
        squeeze=False,
    )
    handles: list = []
    labels: list = []
    for row, (model, chi2, best, *rest) in enumerate(landscapes):
        zoom = rest[0] if rest and rest[0] is not None and not _ok_points(rest[0]).empty else None
        if _ok_points(chi2).empty:
            for ax in axes[row]:
                ax.text(
                    0.5,
                    0.5,
                    f"model {model}: no successful grid point",
                    ha="center",
                    transform=ax.transAxes,
                )
            continue
        slices = chi2_slices(chi2)
        # The profiles are the fit's (best.json), not recomputed here.
        profiles = {n: _profile_frame(best.profile(n), n) for n in RATE_CONSTANTS}
        chi_min = float(_ok_points(chi2)["chi2"].min())
        threshold = (best.intervals or {}).get("chi2_threshold")
        refined = best.refined or {}
        for col, name in enumerate(RATE_CONSTANTS):
            ax = axes[row, col]
            s, prof = slices[name], profiles[name]
            ax.plot(
                s[name],
                s["chi2"],
                "o-",
                color="#2166ac",
                ms=4,
                lw=1.2,
                label="slice through the best grid point",
            )
            ax.plot(
                prof[name],
                prof["chi2"],
                "s--",
                color="#7f7f7f",
                ms=3,
                lw=1,
                label="profile (minimum over the other two constants)",
            )
            if zoom is not None:
                zoom_prof = _profile_frame(best.profile(name, zoom=True), name)
                ax.plot(
                    zoom_prof[name],
                    zoom_prof["chi2"],
                    "-",
                    color="#e08214",
                    lw=1.4,
                    label="zoom profile (fine grid around the optimum)",
                )
                zoom_best = _ok_points(zoom).sort_values(["chi2", "point"]).iloc[0]
                ax.plot(
                    [float(zoom_best[name])],
                    [float(zoom_best["chi2"])],
                    "D",
                    ms=6,
                    color="#e08214",
                    zorder=6,
                    label="zoom best point",
                )
            best_grid = float(s.loc[s["chi2"].idxmin(), name])
            ax.plot(
                [best_grid],
                [chi_min],
                "*",
                ms=13,
                color="#b2182b",
                zorder=5,
                label="best grid point",
            )
            values = f"best {format_k(best_grid, math_text=False)}"
            if refined.get(name) is not None:
                ax.axvline(
                    float(refined[name]),
                    color="#1b7837",
                    ls="--",
                    lw=1,
                    label="refined (Nelder-Mead)",
                )
                values += f", refined {format_k(float(refined[name]), math_text=False)}"
            interval = _interval_of(best, name)
            if interval is not None:
                lo, hi, lo_open, hi_open = interval
                ax.axvspan(
                    lo,
                    hi,
                    color="#fddbc7",
                    alpha=0.7,
                    lw=0,
                    label="interval (profile below the threshold)",
                )
                values += (
                    f"\ninterval {'≤' if lo_open else ''}{format_k(lo, math_text=False)} – "
                    f"{'≥' if hi_open else ''}{format_k(hi, math_text=False)}"
                )
            if threshold is not None:
                ax.axhline(
                    float(threshold),
                    color="#d6604d",
                    lw=0.8,
                    ls=":",
                    label="threshold (1 + δ) χ²$_\\mathrm{min}$",
                )
            right = _draw_weighted_profile(ax, best, name)
            steps = np.diff(np.log10(np.unique(prof[name].to_numpy(float))))
            weighted = _weighted_label(best, name, float(np.median(steps)) if steps.size else 0.0)
            if weighted:
                values += f"\n{weighted}"
            if col == 2 and _combination_note(best):
                values += "\n" + _combination_note(best)
            ax.set_xscale("log")
            if np.all(s["chi2"].to_numpy(float) > 0) and np.all(prof["chi2"].to_numpy(float) > 0):
                ax.set_yscale("log")
            _decade_labels(ax.xaxis)
            if ax.get_yscale() == "log":
                # less than a decade has no major tick: keep matplotlib's minor labels there
                _decade_labels(ax.yaxis)
            else:
                ax.yaxis.set_minor_formatter(NullFormatter())
            grid_values = np.sort(chi2[name].unique())
            if len(grid_values) <= 7:  # few grid values: label each of them
                ax.set_xticks(grid_values, [format_k(v, 2, False) for v in grid_values],
                              fontsize=8)  # fmt: skip
                ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(f"{RATE_SYMBOLS[name]} / {RATE_UNITS[name]}")
            ax.set_ylabel("χ² / min²")
            ax.set_title(
                f"({'abcdefghijklmnop'[3 * row + col]}) model {model}: χ² along "
                f"{RATE_SYMBOLS[name]}\n{values}",
                loc="left",
                fontsize=9,
            )
            ax.grid(alpha=0.3, which="both", lw=0.4)
            if row == 0 and col == 0:
                handles, labels = ax.get_legend_handles_labels()
                if right is not None:
                    more = right.get_legend_handles_labels()
                    handles, labels = handles + more[0], labels + more[1]
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(
        f"χ² landscape (eq 1: sum of squared t$_\\mathrm{{max}}$ differences), fit to {fit_label}"
        + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- beyond the paper: t_max residuals with σ ----------------------------------------------


def tmax_residual_frame(residuals: pd.DataFrame, tmax: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A fit's ``residuals.tsv`` with the σ(t_max) of ``tmax_experiment.tsv`` (sample ->
    table) joined on (sample, species); only the included observables."""
    sigma = pd.concat(
        [t[["species", "sigma_min"]].assign(sample=s) for s, t in tmax.items()], ignore_index=True
    )
    out = residuals.merge(sigma, on=["sample", "species"], how="left", validate="one_to_one")
    out = out[out["included"].astype(str).str.lower() == "true"].copy()
    out["z"] = out["residual_min"].astype(float) / out["sigma_min"].astype(float)
    return out


def figure_tmax_residuals(
    per_model: Sequence[tuple[int, pd.DataFrame]],
    fit_label: str = "",
    synthetic: bool = False,
):
    """t_max,sim − t_max,exp at each model's best grid point (eq 1) against the number of
    first-metal atoms, monomer and dimer ions apart, with σ(t_max) as error bars; the panel
    title gives the weighted χ² of the point. ``per_model``: (model, :func:`tmax_residual_frame`).
    """
    fig, axes = plt.subplots(
        len(per_model), 1, figsize=figure_size("tmax_residuals", len(per_model)),
        layout="constrained", squeeze=False, sharex=True,
    )  # fmt: skip
    markers = {"monomer": ("o", "#2166ac"), "dimer": ("s", "#b2182b")}
    for row, (model, frame) in enumerate(per_model):
        ax = axes[row, 0]
        samples = sorted(frame["sample"].unique())
        width = 0.6 / max(len(samples), 1)
        for n, sample in enumerate(samples):
            for kind, (marker, color) in markers.items():
                part = frame[(frame["sample"] == sample) & (frame["kind"] == kind)]
                if part.empty:
                    continue
                x = part["n_first"].to_numpy(float) + (n - (len(samples) - 1) / 2) * width
                label = kind if len(samples) == 1 else f"{sample}, {kind}"
                ax.errorbar(x, part["residual_min"].to_numpy(float),
                            yerr=part["sigma_min"].to_numpy(float), fmt=marker, ms=3.5,
                            color=color, alpha=1.0 - 0.5 * n / max(len(samples), 1), lw=0.8,
                            capsize=1.5, label=label)  # fmt: skip
        ax.axhline(0.0, color="0.4", lw=0.8)
        chi2_w = float(np.sum(frame["z"].to_numpy(float) ** 2))
        worst = frame.loc[frame["z"].abs().idxmax()] if not frame.empty else None
        note = f"; largest |residual/σ| {abs(worst['z']):.1f} at {worst['species']}" if (
            worst is not None) else ""  # fmt: skip
        ax.set_title(
            f"({'abcdefghijklmnop'[row]}) model {model}: weighted χ²$_w$ {chi2_w:.4g} over "
            f"{len(frame)} observables{note}", loc="left", fontsize=9,
        )  # fmt: skip
        ax.set_ylabel("t$_\\mathrm{max,sim}$ − t$_\\mathrm{max,exp}$ / min")
        ax.grid(alpha=0.3, lw=0.4)
        ax.legend(frameon=False, fontsize=7.5, loc="upper right", ncols=2)
    axes[-1, 0].set_xlabel("atoms of the first metal in the ion")
    fig.suptitle(
        f"t$_\\mathrm{{max}}$ residuals at the best grid point (eq 1) with σ(t$_\\mathrm{{max}}$), "
        f"fit to {fit_label}" + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=11,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- beyond the paper: deconvolution QC ---------------------------------------------------


QC_COLOURS = {"monomer": "#2166ac", "dimer": "#b2182b", "trimer": "#01665e"}
UNEXPLAINED_COLOUR = "#6a3d9a"


def _mark_unexplained(ax, ax_r, mz, shown, scale, keep, unexplained, shares, full_view):
    """Each unexplained feature: a dotted line through both panels; in the full view also a
    marker with its m/z (and part of the signal) above the data."""
    for n, x in enumerate(unexplained):
        if not (mz[keep].min() <= x <= mz[keep].max()):
            continue
        for a in (ax, ax_r):
            a.axvline(x, color=UNEXPLAINED_COLOUR, lw=0.6, ls=":", alpha=0.8)
        if not full_view:
            continue
        near = np.abs(mz - x) < 2.0
        top = float(np.nanmax(shown[near])) / scale if near.any() else 0.0
        share = f" ({100 * shares[n]:.1f} %)" if shares is not None else ""
        label = "unexplained (no ion form): m/z (part of the signal)" if n == 0 else None
        ax.plot([x], [top + 0.06], marker="v", color=UNEXPLAINED_COLOUR, ms=5, ls="none",
                label=label)  # fmt: skip
        ax.annotate(f"{x:.1f}{share}", (x, top + 0.09), fontsize=6.5, color=UNEXPLAINED_COLOUR,
                    ha="center", rotation=90, va="bottom")  # fmt: skip


def _resolving_power_panel(ax, curve, zoom_mz, mz_ref):
    """R(m/z) of the fit: the resolving power model across the spectrum, the zoom shaded."""
    x, r = (np.asarray(v, float) for v in curve)
    ax.plot(x, r, color="k", lw=1.0, label="fitted resolving power R(m/z)")
    if zoom_mz:
        ax.axvspan(*zoom_mz, color="0.85", lw=0, label="zoom (b)")
    if mz_ref is not None:
        at = float(np.interp(mz_ref, x, r))
        ax.plot([mz_ref], [at], "o", color="k", ms=3.5,
                label=f"R = {at:.0f} at m/z {mz_ref:.0f}")  # fmt: skip
    span = float(r.max() - r.min())
    pad = max(0.1 * span, 0.01 * float(r.mean()))
    ax.set_ylim(float(r.min()) - pad, float(r.max()) + pad)
    ax.set_xlim(float(x.min()), float(x.max()))
    ax.set_ylabel("R = m/Δm")
    ax.set_xlabel("m/z / Th")
    ax.set_title("(c) resolving power", loc="left", fontsize=10)
    ax.legend(fontsize=7.5, frameon=False, loc="upper right", ncols=3)
    ax.grid(alpha=0.3, lw=0.4)


def figure_deconvolution_qc(
    mz: np.ndarray,
    data: np.ndarray,
    fit: np.ndarray,
    sticks: pd.DataFrame,
    title: str,
    zoom_mz: tuple[float, float] | None,
    synthetic: bool,
    system: ClusterSystem,
    components: dict[str, tuple[str, np.ndarray]] | None = None,
    measured: np.ndarray | None = None,
    detection_level: float | None = None,
    unexplained_mz: list[float] | None = None,
    unexplained_share: list[float] | None = None,
    resolving_power_curve: tuple[np.ndarray, np.ndarray] | None = None,
    resolving_power_mz_ref: float | None = None,
    baseline: np.ndarray | None = None,
):
    """One spectrum: data, fitted model spectrum, residual and the ion forms' sticks.

    ``baseline``: the fitted baseline on ``mz`` (constant or smooth in m/z), drawn under
    the data in every panel.

    ``unexplained_mz``: the largest features no ion form explains (the robust pass; qc.tsv
    ``unexplained_mz``), each marked with its m/z in the full view (with
    ``unexplained_share``, their part of the signal, too) and by a dotted line in every
    panel. ``resolving_power_curve`` ((m/z, R) arrays) adds a row (c) with R(m/z), the
    zoom's m/z shaded and ``resolving_power_mz_ref`` marked.

    ``sticks``: columns ``mz`` (position of each ion form, e.g. its abundance-weighted
    m/z), ``intensity`` (fitted peak height, same units as ``data``) and ``kind`` (monomer,
    dimer, trimer, ...). ``zoom_mz`` adds a zoomed column, in which ``components``
    ({label: (kind, contribution on the mz grid)}) are drawn one by one.

    Sparse profiles: ``mz`` are the points the fit used and ``measured`` marks those the
    file has; the data are drawn only there (never joined across a gap), the m/z without
    data are shaded, and the ``detection_level`` is drawn as a line. In a gap the residual
    panel shows by how much the model exceeds the detection level (zero when below).
    """
    mz = np.asarray(mz, float)
    data = np.asarray(data, float)
    fit = np.asarray(fit, float)
    sparse = measured is not None and not np.all(measured)
    measured = np.ones(mz.size, bool) if measured is None else np.asarray(measured, bool)
    shown = np.where(measured, data, np.nan)
    ncols = 2 if zoom_mz else 1
    top_row = ["main", "zoom"][:ncols]
    mosaic = [top_row, [f"{k}_r" for k in top_row]]
    heights = [3, 1]
    if resolving_power_curve is not None:
        mosaic.append(["r_of_mz"] * ncols)
        heights.append(0.9)
    fig, named = plt.subplot_mosaic(mosaic, figsize=figure_size("qc"), layout="constrained",
                                    height_ratios=heights)  # fmt: skip
    named["main_r"].sharex(named["main"])
    if zoom_mz:
        named["zoom_r"].sharex(named["zoom"])
    axes = np.array([[named[k] for k in top_row], [named[f"{k}_r"] for k in top_row]])
    scale = float(np.nanmax(shown)) if np.nanmax(shown) > 0 else 1.0
    level = float(detection_level) if detection_level else None
    for col in range(ncols):
        ax, ax_r = axes[0, col], axes[1, col]
        if col == 1:
            lo, hi = zoom_mz
            keep = (mz >= lo) & (mz <= hi)
        else:
            keep = np.ones_like(mz, bool)
        if sparse:
            for a in (ax, ax_r):
                a.fill_between(
                    mz[keep], 0, 1, where=~measured[keep], transform=a.get_xaxis_transform(),
                    color="0.88", lw=0, step="mid",
                    label="no data point (below detection level)" if a is ax else None,
                )  # fmt: skip
        ax.plot(
            mz[keep], shown[keep] / scale, color="0.35", lw=0.6,
            marker="." if sparse and col == 1 else None, ms=2.5,
            label="data (written points only)" if sparse else "data",
        )  # fmt: skip
        ax.plot(mz[keep], fit[keep] / scale, color="#ff7f00", lw=0.8, alpha=0.9,
                label="fitted model spectrum")  # fmt: skip
        if baseline is not None:
            ax.plot(mz[keep], np.asarray(baseline, float)[keep] / scale, color="#2166ac",
                    lw=1.0, ls="-.", label="fitted baseline")  # fmt: skip
        if level is not None and sparse:
            ax.axhline(
                level / scale, color="#1b7837", lw=0.8, ls="--",
                label=f"detection level ({level:.3g} counts)",
            )  # fmt: skip
        if col == 1 and components:
            for label, (kind, part) in components.items():
                if np.any(part[keep] > 0):
                    ax.fill_between(mz[keep], 0, part[keep] / scale, alpha=0.25, lw=0,
                                    color=QC_COLOURS.get(kind, "0.5"),
                                    label=f"{kind} {label}")  # fmt: skip
        if col == 0:  # sticks in the full view; the zoom shows the components instead
            for kind, part in sticks.groupby("kind"):
                ax.vlines(part["mz"], 0, -part["intensity"] / scale * 0.5,
                          color=QC_COLOURS.get(kind, "0.5"), lw=1.2,
                          label=f"{kind} ions: fitted peak height (mirrored, ×0.5)")  # fmt: skip
        if unexplained_mz:
            _mark_unexplained(ax, ax_r, mz, shown, scale, keep, unexplained_mz,
                              unexplained_share, full_view=col == 0)  # fmt: skip
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("intensity / base peak")
        two = sparse or (col == 0 and bool(unexplained_mz))
        if two:  # room above the data (and the unexplained features' m/z) for the legend
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top + 0.35 * (top - bottom))
        ax.legend(fontsize=7.5, frameon=False, loc="upper right", ncol=2 if two else 1)
        ax.tick_params(labelbottom=False)
        resid = np.where(measured, data - fit, np.nan)[keep] / scale
        ax_r.plot(mz[keep], resid, color="#4d4d4d", lw=0.5, label="data − model")
        if sparse and level is not None:
            excess = np.where(measured, np.nan, np.minimum(level - fit, 0.0))[keep] / scale
            ax_r.plot(mz[keep], excess, color="#1b7837", lw=0.6,
                      label="gap: detection level − model, where the model exceeds it")  # fmt: skip
            ax_r.legend(fontsize=7, frameon=False, loc="lower right")
        ax_r.axhline(0, color="#ff7f00", lw=0.8)
        ax_r.set_ylabel("residual / base peak")
        ax_r.set_xlabel("m/z / Th")
        ax.set_title(
            ("(a) full range" if col == 0 else f"(b) zoom {zoom_mz[0]:g}-{zoom_mz[1]:g} Th"),
            loc="left",
            fontsize=10,
        )
        finite = resid[np.isfinite(resid)]
        lim = max(float(np.abs(finite).max()) if finite.size else 0, 1e-3)
        ax_r.set_ylim(-1.1 * lim, 1.1 * lim)
    if resolving_power_curve is not None:
        _resolving_power_panel(named["r_of_mz"], resolving_power_curve, zoom_mz,
                               resolving_power_mz_ref)  # fmt: skip
    fig.suptitle(
        _with_synthetic_first_line(title or "Deconvolution QC", synthetic),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


def qc_title(head: str, view) -> str:
    """Title of the profile QC figure: ``head`` (sample, which spectrum) and the refit's
    numbers (:class:`~intercluster.spectrum_model.QcSpectrum`)."""
    f, sp = view.fit, view.spectrum
    kinds = view.sticks["kind"].value_counts()
    order = [k for k in QC_COLOURS if k in kinds] + sorted(set(kinds.index) - set(QC_COLOURS))
    forms = ", ".join(f"{int(kinds[k])} {k}" for k in order)
    r_text = (f"R = {f.resolving_power:.0f} at m/z {f.mz_ref:.0f}, "
              f"{100 * f.resolving_power_slope:+.1f} % per 1000 Th" if f.resolving_power_slope
              else f"R = {f.resolving_power:.0f}")  # fmt: skip
    sampling = f"{sp.mode} profile, coverage {100 * sp.coverage:.1f} % of the scan window, " + (
        f"detection level {sp.detection_level:.3g} counts (gaps: {sp.gaps})"
        if sp.mode in ("sparse", "zeroed") else "no gaps"
    )  # fmt: skip
    unexplained = (f"unexplained {100 * f.unexplained_fraction:.1f} % of the signal "
                   f"({len(view.unexplained)} largest marked); "
                   if view.unexplained else "")  # fmt: skip
    slope = (f" {100 * f.peak_tail_slope:+.1f} % per 1000 Th" if f.peak_tail_slope else "")
    shape = (f"EMG peaks, tail {f.peak_tail:.2f} sd{slope}" if f.peak_shape == "emg"
             else "Gaussian peaks")  # fmt: skip
    base = f"{f.baseline_model} baseline, {100 * f.baseline_fraction:.1f} % of the fitted signal"
    return (f"{head}, residual norm {f.residual_norm:.3f}, shift {f.shift_ppm:.2f} ppm, "
            f"{r_text}\n{shape}; {base}; {unexplained}ion forms fitted: {forms}\n"
            f"{sampling}")  # fmt: skip


def stick_qc_title(head: str, view) -> str:
    """Title of the stick QC figure (:class:`~intercluster.spectrum_model.StickQc`)."""
    f = view.fit
    reading = ("stick intensities read as peak HEIGHTS, converted to areas (height x FWHM x "
               "1.064, FWHM = m/z / R)" if view.centroid_intensity == "height"
               else "stick intensities read as peak areas")  # fmt: skip
    return (f"{head}, residual norm {f.residual_norm:.3f}, shift {f.shift_ppm:.2f} ppm, "
            f"R = {f.resolving_power:.0f} (window width)\ncentroid spectrum: {view.n_sticks} "
            f"sticks, stick fit; {reading}")  # fmt: skip


def figure_deconvolution_qc_of(view, title: str, synthetic: bool, system: ClusterSystem):
    """:func:`figure_deconvolution_qc` of a refitted spectrum
    (:class:`~intercluster.spectrum_model.QcSpectrum`), with its unexplained features and
    R(m/z)."""
    sp = view.spectrum
    return figure_deconvolution_qc(
        sp.mz, sp.y, view.model, view.sticks, title, view.zoom_mz, synthetic, system,
        view.components, measured=sp.written, detection_level=sp.detection_level,
        unexplained_mz=[x for x, _ in view.unexplained],
        unexplained_share=[share for _, share in view.unexplained],
        resolving_power_curve=view.resolving_power_curve,
        resolving_power_mz_ref=view.fit.mz_ref if view.fit.resolving_power_slope else None,
        baseline=view.baseline,
    )  # fmt: skip


def figure_stick_qc(
    windows: pd.DataFrame,
    title: str,
    zoom_mz: tuple[float, float] | None,
    synthetic: bool,
):
    """One centroided spectrum: observed against fitted stick area, window by window.

    ``windows`` is :func:`intercluster.centroid.fitted_sticks` (``mz``, ``observed``,
    ``fitted``): every isotope-peak window the stick fit used, including the measured zeros
    (windows that predict a peak but hold no stick). A peak list keeps no peak shape, so
    the figure shows areas, not a profile; ``zoom_mz`` adds a zoomed column.
    """
    ncols = 2 if zoom_mz else 1
    fig, axes = plt.subplots(2, ncols, figsize=figure_size("qc"), layout="constrained",
                             height_ratios=[3, 1], squeeze=False, sharex="col")  # fmt: skip
    mz = windows["mz"].to_numpy(float)
    observed = windows["observed"].to_numpy(float)
    fitted = windows["fitted"].to_numpy(float)
    scale = float(observed.max()) if observed.size and observed.max() > 0 else 1.0
    for col in range(ncols):
        ax, ax_r = axes[0, col], axes[1, col]
        keep = np.ones(mz.size, bool)
        if col == 1:
            keep = (mz >= zoom_mz[0]) & (mz <= zoom_mz[1])
        zero = keep & (observed == 0)
        ax.vlines(mz[keep], 0, observed[keep] / scale, color="0.35", lw=1.0,
                  label="observed stick area (summed per window)")  # fmt: skip
        ax.plot(mz[keep], fitted[keep] / scale, "_", color="#ff7f00", ms=7, mew=1.5,
                label="fitted area")  # fmt: skip
        ax.plot(mz[zero], np.zeros(int(zero.sum())), "x", color="#2166ac", ms=4,
                label="measured zero (peak predicted, no stick)")  # fmt: skip
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("area / largest observed area")
        ax.legend(fontsize=7.5, frameon=False, loc="upper right")
        ax.set_title("(a) full range" if col == 0 else f"(b) zoom {zoom_mz[0]:g}-{zoom_mz[1]:g} Th",
                     loc="left", fontsize=10)  # fmt: skip
        resid = (observed - fitted)[keep] / scale
        ax_r.vlines(mz[keep], 0, resid, color="#4d4d4d", lw=0.8)
        ax_r.axhline(0, color="#ff7f00", lw=0.8)
        ax_r.set_ylabel("residual / largest area")
        ax_r.set_xlabel("m/z / Th")
        lim = max(float(np.abs(resid).max()) if resid.size else 0.0, 1e-3)
        ax_r.set_ylim(-1.1 * lim, 1.1 * lim)
    fig.suptitle(_with_synthetic_first_line(title, synthetic), fontsize=12)
    mark_synthetic(fig, synthetic)
    return fig
