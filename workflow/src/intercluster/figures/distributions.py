"""Distributions: S5 (the half-and-half dimer and its isomers), S6 (near equilibrium against
binomials) and S10 (isomer composition against CID fragments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io import SYNTHETIC_LABEL
from ..system import ClusterSystem
from .style import (
    TIME_LABEL,
    figure_size,
    format_constants,
    ion_math,
    mark_synthetic,
    observable_matrices,
    plt,
    with_kind,
)

# --- S5: the half-and-half dimer ion and its isomers -------------------------------------


def isomer_fractions(isomers: pd.DataFrame, n_first_total: int) -> pd.DataFrame:
    """Isomers of one dimer ion as fractions of that ion's total, per time (wide: i columns)."""
    part = isomers[isomers["n_first_total"] == n_first_total]
    wide = part.pivot_table(index="time_min", columns="i", values="concentration_nM", aggfunc="sum")
    total = wide.sum(axis=1)
    return wide.div(total.where(total > 0, np.nan), axis=0).fillna(0.0)


def _isomer_label(i: int, j: int, system: ClusterSystem) -> str:
    a, b = system.metals
    n = system.nuclearity
    return f"({a}$_{{{i}}}${b}$_{{{n - i}}}$)({a}$_{{{j}}}${b}$_{{{n - j}}}$)"


def figure_s5(
    experiment: pd.DataFrame,
    model: pd.DataFrame,
    isomers: pd.DataFrame,
    constants: dict,
    model_number: int,
    system: ClusterSystem,
    time_max_min: float | None = None,
    synthetic: bool = False,
):
    """S5: (a) the half-and-half dimer ion against time, experiment and model sum;
    (b) its isomers (model) as fractions of the ion."""
    n = system.nuclearity
    target = n  # as many first-metal atoms as one monomer has atoms
    ion = ion_math(system, target, 2)
    fig, (ax_a, ax_b) = plt.subplots(
        1, 2, figsize=figure_size("s5"), layout="constrained", width_ratios=[1, 1.25]
    )
    exp = with_kind(experiment, system)
    mod = with_kind(model, system)
    sel_e = exp[(exp["kind"] == "dimer") & (exp["n_first"] == target)].sort_values("time_min")
    sel_m = mod[(mod["kind"] == "dimer") & (mod["n_first"] == target)].sort_values("time_min")
    exp_name = "synthetic experiment" if synthetic else "experiment"
    ax_a.plot(sel_e["time_min"], sel_e["intensity_norm"], "o", ms=3.5, color="0.25", label=exp_name)
    ax_a.plot(
        sel_m["time_min"],
        sel_m["intensity_norm"],
        "-",
        lw=2,
        color="#2166ac",
        label=f"model {model_number}: sum of the isomers",
    )
    ax_a.set_xlabel(TIME_LABEL)
    ax_a.set_ylabel(f"{ion}: normalised intensity\n(fraction of total ion signal)")
    ax_a.set_title(f"(a) {ion}, {exp_name} vs. model {model_number}", loc="left", fontsize=10)
    ax_a.set_ylim(bottom=0)
    ax_a.legend(frameon=False)
    fractions = isomer_fractions(isomers, target)
    # i = the subunit richer in the first metal: N .. N/2
    pairs = sorted(fractions.columns, reverse=True)
    import seaborn as sns  # here, not at the top: see figure_s6

    palette = sns.color_palette("viridis", len(pairs))
    for colour, i in zip(palette, pairs, strict=True):
        ax_b.plot(
            fractions.index,
            fractions[i],
            color=colour,
            lw=1.6,
            label=_isomer_label(int(i), target - int(i), system),
        )
    ax_b.set_xlabel(TIME_LABEL)
    ax_b.set_ylabel(f"fraction of {ion}")
    ax_b.set_ylim(0, 1)
    ax_b.set_title(
        f"(b) the {len(pairs)} isomers of {ion}, model {model_number}\n"
        + format_constants(constants),
        loc="left",
        fontsize=10,
    )
    ax_b.legend(
        fontsize=7.5,
        ncols=1,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
        title="isomer",
        title_fontsize=8,
    )
    for ax in (ax_a, ax_b):
        ax.set_xlim(0, time_max_min if time_max_min else None)
    fig.suptitle(
        f"Figure S5 — {ion} against time" + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- S6: near-equilibrium distributions vs. binomial -----------------------------------


def equilibrium_distribution(
    frame: pd.DataFrame, system: ClusterSystem, window_min: float = 10.0
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Mean monomer and dimer-ion distributions (each summing to 1) over the last minutes.

    Returns (monomers, dimers, (t_from, t_to)).
    """
    times, mono, dim = observable_matrices(frame, system)
    t_end = float(times[-1])
    keep = times >= t_end - window_min - 1e-9
    m = mono[keep].mean(axis=0)
    d = dim[keep].mean(axis=0)
    m = m / m.sum() if m.sum() > 0 else m
    d = d / d.sum() if d.sum() > 0 else d
    return m, d, (float(times[keep][0]), t_end)


@dataclass
class SampleDistribution:
    sample: str
    first_fraction: float  # the first metal's atom fraction of the mixture
    observables: pd.DataFrame
    synthetic: bool = False
    label: str = ""
    #: model 4 at its fit, simulated for this sample (workflow observables layout), and its
    #: exchange bias: drawn beside the binomial, averaged over the same window as the data
    model4: pd.DataFrame | None = None
    model4_beta: float | None = None


def figure_s6(
    samples: Sequence[SampleDistribution],
    system: ClusterSystem,
    window_min: float = 10.0,
):
    """S6: per sample, the mean monomer and dimer distributions of the last ``window_min``
    minutes against binomials B(N, p) and B(2N, p), p = the sample's first-metal atom
    fraction, and, where the entry has one, model 4's distributions over the same window
    (narrower than binomial for β > 1; docs/science.md §2.4)."""
    # scipy.stats (and seaborn, which imports it) are imported by the figures that use
    # them, not with the package: together they were half a second of every figure job's
    # start-up, and most figure jobs use neither.
    from scipy.stats import binom

    n = system.nuclearity
    a, b = system.metals
    fig, axes = plt.subplots(
        len(samples),
        2,
        figsize=figure_size("s6", len(samples)),
        layout="constrained",
        squeeze=False,
    )
    synthetic = any(s.synthetic for s in samples)
    for row, entry in enumerate(samples):
        mono, dim, (t0, t1) = equilibrium_distribution(entry.observables, system, window_min)
        model4 = (None if entry.model4 is None
                  else equilibrium_distribution(entry.model4, system, window_min)[:2])  # fmt: skip
        p = entry.first_fraction
        exp_name = "synthetic experiment" if entry.synthetic else "experiment"
        for col, (dist, size, kind) in enumerate(
            ((mono, n, "monomers"), (dim, 2 * n, "dimer ions"))
        ):
            ax = axes[row, col]
            x = np.arange(size + 1)
            ax.bar(
                x,
                dist,
                width=0.8,
                color="#9ecae1",
                edgecolor="#3182bd",
                lw=0.5,
                label=f"{exp_name}, mean {t0:.4g}-{t1:.4g} min",
            )
            ax.plot(
                x,
                binom.pmf(x, size, p),
                "o-",
                color="#d6604d",
                ms=3,
                lw=1.2,
                label=f"binomial B({size}, p = {p:.3f})",
            )
            if model4 is not None:
                beta = "" if entry.model4_beta is None else f", β = {entry.model4_beta:.3g}"
                ax.plot(x, model4[col], "s-", color="#1a9850", ms=2.5, lw=1.2,
                        label=f"model 4{beta}, same window")  # fmt: skip
            mean_exp = float((x * dist).sum())
            ax.text(
                0.98,
                0.95,
                f"mean $n$: {mean_exp:.2f}\nbinomial: {size * p:.2f}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=8,
            )
            ax.axvline(size * p, color="#d6604d", lw=0.8, ls=":")
            ax.set_xlim(-0.8, size + 0.8)
            top = max(dist.max(initial=0), binom.pmf(x, size, p).max(),
                      0.0 if model4 is None else model4[col].max(initial=0))  # fmt: skip
            ax.set_ylim(0, top * 1.25)
            charge = "$^-$" if size == n else "$^{2-}$"
            ax.set_xlabel(f"{a} atoms $n$ in [{a}$_n${b}$_{{{size}-n}}$]{charge}")
            ax.set_ylabel(f"fraction of all {kind}")
            ax.set_title(
                f"({'abcdefghijklmnop'[2 * row + col]}) {entry.label or entry.sample}: {kind}",
                loc="left",
                fontsize=9.5,
            )
            ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    fig.suptitle(
        f"Figure S6 — near-equilibrium distributions against the binomial at the {a} atom "
        "fraction p" + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- S10: isomer composition vs. CID fragments -----------------------------------------


def fragment_distribution(
    isomers: pd.DataFrame, n_first_total: int, time_min: float, nuclearity: int
) -> np.ndarray:
    """The monomer-subunit distribution (over n_first = 0..N, sums to 1) of one dimer ion's
    isomers at the simulated time closest to ``time_min``: each isomer (i, j) gives one
    subunit i and one subunit j (what a symmetric CID would release)."""
    part = isomers[isomers["n_first_total"] == n_first_total]
    times = part["time_min"].unique()
    if times.size == 0:
        raise ValueError(f"no isomers with n_first_total = {n_first_total}")
    t = times[np.argmin(np.abs(times - time_min))]
    part = part[part["time_min"] == t]
    dist = np.zeros(nuclearity + 1)
    np.add.at(dist, part["i"].to_numpy(int), part["concentration_nM"].to_numpy(float))
    np.add.at(dist, part["j"].to_numpy(int), part["concentration_nM"].to_numpy(float))
    total = dist.sum()
    return dist / total if total > 0 else dist


def figure_s10(
    isomers: pd.DataFrame,
    cid: pd.DataFrame | None,
    times_min: Sequence[float],
    constants: dict,
    model_number: int,
    system: ClusterSystem,
    synthetic: bool = False,
    cid_tolerance_min: float = 0.75,
):
    """S10: the model's isomer composition of the half-and-half dimer ion at several times (as the
    distribution of the monomer subunits), with the CID fragment distributions where a CID
    spectrum was taken at (about) that time."""
    n = system.nuclearity
    a, b = system.metals
    ion = ion_math(system, n, 2)
    fig, axes = plt.subplots(
        len(times_min),
        1,
        figsize=figure_size("s10"),
        sharex=True,
        layout="constrained",
        squeeze=False,
    )
    axes = axes[:, 0]
    cid_times = np.array(sorted(cid["time_min"].unique())) if cid is not None and len(cid) else []
    x = np.arange(n + 1)
    exp_name = "synthetic CID" if synthetic else "CID"
    ymax = 0.0
    for k, (ax, t) in enumerate(zip(axes, times_min, strict=True)):
        dist = fragment_distribution(isomers, n, t, n)
        ax.bar(
            x,
            dist,
            width=0.8,
            color="#a1d99b",
            edgecolor="#31a354",
            lw=0.5,
            label=f"model {model_number}: subunits of the {ion} isomers",
        )
        ymax = max(ymax, dist.max())
        title = f"({'abcdefghij'[k]}) t = {t:g} min"
        if len(cid_times):
            nearest = cid_times[np.argmin(np.abs(cid_times - t))]
            if abs(nearest - t) <= cid_tolerance_min:
                frag = cid[cid["time_min"] == nearest].groupby("n_first")["fraction"].sum()
                frag = frag.reindex(x, fill_value=0.0)
                frag = frag / frag.sum() if frag.sum() > 0 else frag
                ax.plot(
                    x,
                    frag.to_numpy(),
                    "D-",
                    color="#762a83",
                    ms=4,
                    lw=1,
                    label=f"{exp_name} fragments of {ion} ({nearest:g} min)",
                )
                ymax = max(ymax, float(frag.max()))
                title += f"; CID at {nearest:g} min"
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel("fraction")
        ax.legend(fontsize=7.5, frameon=False, loc="upper center")
    for ax in axes:
        ax.set_ylim(0, ymax * 1.3 if ymax > 0 else 1)
    axes[-1].set_xlabel(
        f"{a} atoms $n$ in the monomer subunit / fragment [{a}$_n${b}$_{{{n}-n}}$]$^-$"
    )
    axes[-1].set_xticks(range(0, n + 1, 5 if n > 12 else 1))
    axes[-1].set_xlim(-0.8, n + 0.8)
    fig.suptitle(
        f"Figure S10 — composition of the {ion} isomers against CID fragment distributions\n"
        f"model {model_number}: "
        + format_constants(constants)
        + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=11,
    )
    mark_synthetic(fig, synthetic)
    return fig
