"""Plot functions for the paper's figures (3, S5-S11) and the workflow's own diagnostics.

Every function takes tidy DataFrames (the workflow's tables) and returns a matplotlib
:class:`~matplotlib.figure.Figure`; nothing here reads files. :func:`save_figure` writes the
PNG and PDF. Figure sizes are fixed in inches (:func:`figure_size`), and figures are saved
without ``bbox_inches="tight"``, so a PNG's pixel size is ``figure_size * dpi`` exactly
(the tests rely on that); constrained layout keeps labels inside the canvas.

Tables the functions accept (column names as written by the workflow):

* observables: ``time_min``, ``n_ag``, ``intensity_norm`` and ``kind`` (monomer/dimer) or
  ``charge`` (the kind is then derived from the cluster system's charges);
* isomers: ``time_min``, ``i``, ``j``, ``n_ag_total``, ``concentration_nM``;
* CID fragments: ``time_min``, ``n_ag``, ``fraction``;
* chi² grid: ``k_dim``, ``k_diss``, ``k_ex``, ``chi2`` (and optionally ``status``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.ticker import NullFormatter, NullLocator  # noqa: E402
from scipy.stats import binom  # noqa: E402

from .io import SYNTHETIC_LABEL, write_json  # noqa: E402
from .records import BestFit  # noqa: E402
from .system import DEFAULT_SYSTEM, ClusterSystem  # noqa: E402

RATE_CONSTANTS = ("k_dim", "k_diss", "k_ex")
RATE_UNITS = {"k_dim": "L nmol$^{-1}$ s$^{-1}$", "k_diss": "s$^{-1}$", "k_ex": "s$^{-1}$"}
RATE_SYMBOLS = {
    "k_dim": r"$k_\mathrm{dim}$",
    "k_diss": r"$k_\mathrm{diss}$",
    "k_ex": r"$k_\mathrm{ex}$",
}
INTENSITY_LABEL = "normalised intensity\n(fraction of total ion signal)"
TIME_LABEL = "time after first spectrum / min"
CONTOUR_CMAP = "magma_r"
CONTOUR_GAMMA = 0.5  # colour scale ~ sqrt(intensity): equilibrium species stay visible

# Fixed sizes in inches (width, height); per-row heights for figures that grow with input.
_SIZES = {
    "fig3": (13.0, 10.0),
    "s5": (13.0, 4.8),
    "s6_row": 3.0,
    "s6_width": 11.0,
    "s7_9": (13.0, 10.0),
    "s10": (9.0, 11.0),
    "s11": (6.5, 4.5),
    "chi2_row": 3.0,
    "chi2_width": 13.0,
    "qc": (14.0, 7.5),
}


def figure_size(name: str, n_rows: int = 1) -> tuple[float, float]:
    """Size in inches of figure ``name``; ``n_rows`` for the figures that grow (s6, chi2)."""
    if name in ("s6", "chi2"):
        return (_SIZES[f"{name}_width"], _SIZES[f"{name}_row"] * n_rows + 1.0)
    return _SIZES[name]


def pixel_size(name: str, dpi: int, n_rows: int = 1) -> tuple[int, int]:
    """(width, height) in pixels of the PNG :func:`save_figure` writes."""
    w, h = figure_size(name, n_rows)
    return (int(round(w * dpi)), int(round(h * dpi)))


def save_figure(fig, png: str | os.PathLike, pdf: str | os.PathLike, dpi: int = 300) -> None:
    """Write ``fig`` as PNG (at ``dpi``) and PDF, then close it."""
    for path in (png, pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    meta_png = {"Software": "intercluster.figures"}
    fig.savefig(png, dpi=dpi, metadata=meta_png)
    fig.savefig(pdf, metadata={"Creator": "intercluster.figures", "CreationDate": None})
    plt.close(fig)


def save_outputs(fig, output, size: str, dpi: int, record: dict, n_rows: int = 1) -> None:
    """A figure rule's outputs: PNG and PDF (``output.png``, ``output.pdf``) and the params
    JSON (``output.params``): ``record`` plus the dpi and the PNG's size in pixels."""
    save_figure(fig, output.png, output.pdf, dpi)
    write_json({**record, "dpi": dpi, "size_px": pixel_size(size, dpi, n_rows)}, output.params)


# --- small helpers -----------------------------------------------------------------------


def format_k(value: float, digits: int = 2) -> str:
    """3.2e-3 -> '3.2×10$^{-3}$' (mathtext)."""
    if value is None or not np.isfinite(value) or value <= 0:
        return "n/a"
    exponent = int(math.floor(math.log10(value)))
    mantissa = value / 10**exponent
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    text = f"{mantissa:.{digits - 1}f}".rstrip("0").rstrip(".")
    return (f"{text}×" if text != "1" else "") + f"10$^{{{exponent}}}$"


def format_constants(constants: dict, multiline: bool = False) -> str:
    """'k_dim = 1×10^-2 L nmol^-1 s^-1, k_diss = ..., k_ex = ...' in mathtext."""
    parts = [
        f"{RATE_SYMBOLS[k]} = {format_k(float(constants[k]))} {RATE_UNITS[k]}"
        for k in RATE_CONSTANTS
        if k in constants
    ]
    return ("\n" if multiline else ", ").join(parts)


def ion_math(system: ClusterSystem, n_a: int, subunits: int = 1) -> str:
    """Mathtext ion label, e.g. ``[Ag$_{25}$Au$_{25}$]$^{2-}$``."""
    a, b = system.metals
    charge = system.monomer_charge if subunits == 1 else system.dimer_charge
    sign = "-" if charge < 0 else "+"
    magnitude = "" if abs(charge) == 1 else str(abs(charge))
    n_b = subunits * system.nuclearity - n_a
    metals = "".join(f"{el}$_{{{k}}}$" for el, k in ((a, n_a), (b, n_b)) if k > 0)
    return f"[{metals}]$^{{{magnitude}{sign}}}$"


def mark_synthetic(fig, synthetic: bool) -> None:
    """Put the synthetic-data label in the figure's lower-right corner.

    It is the figure's ``supxlabel``, so constrained layout keeps a strip free for it and
    it never covers an axis label.
    """
    if synthetic:
        fig.supxlabel(
            SYNTHETIC_LABEL,
            x=0.995,
            ha="right",
            fontsize=9,
            color="#b2182b",
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#b2182b", "lw": 0.8},
        )


def _with_synthetic_first_line(title: str, synthetic: bool) -> str:
    if not synthetic:
        return title
    first, *rest = title.split("\n")
    return "\n".join([f"{first} — {SYNTHETIC_LABEL}", *rest])


def with_kind(frame: pd.DataFrame, system: ClusterSystem = DEFAULT_SYSTEM) -> pd.DataFrame:
    """Return ``frame`` with a ``kind`` column (monomer/dimer), derived from ``charge``."""
    if "kind" in frame.columns:
        return frame
    if "charge" not in frame.columns:
        raise ValueError("observables need a 'kind' or a 'charge' column")
    out = frame.copy()
    out["kind"] = np.where(out["charge"] == system.monomer_charge, "monomer", "dimer")
    return out


def observable_matrices(
    frame: pd.DataFrame,
    system: ClusterSystem = DEFAULT_SYSTEM,
    value: str = "intensity_norm",
    time_max_min: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, monomers (n_t, N+1), dimer ions (n_t, 2N+1)) from a tidy observables table.

    Columns are ordered by Ag count; species absent from the table are 0.
    """
    frame = with_kind(frame, system)
    if time_max_min is not None:
        frame = frame[frame["time_min"] <= time_max_min + 1e-9]
    times = np.sort(frame["time_min"].unique())
    blocks = []
    for kind, size in (("monomer", system.n_monomers), ("dimer", system.n_dimer_ions)):
        part = frame[frame["kind"] == kind]
        table = part.pivot_table(index="time_min", columns="n_ag", values=value, aggfunc="sum")
        table = table.reindex(index=times, columns=range(size)).fillna(0.0)
        blocks.append(table.to_numpy(float))
    return times, blocks[0], blocks[1]


def normalise_observables(frame: pd.DataFrame, value: str = "concentration_nM") -> pd.DataFrame:
    """Add ``intensity_norm``: ``value`` divided by its per-time total (all 77 ions)."""
    out = frame.copy()
    total = out.groupby("time_min")[value].transform("sum")
    out["intensity_norm"] = np.where(total > 0, out[value] / total.where(total > 0, 1), 0.0)
    return out


# --- Figure 3 / S7-S9: contour maps ------------------------------------------------------

_DIMER_OFFSET_GAP = 2  # empty columns between the monomer and the dimer block


def _contour_panel(ax, frame, system, norm, levels, time_max_min, cmap):
    times, mono, dim = observable_matrices(frame, system, time_max_min=time_max_min)
    x_mono = np.arange(system.n_monomers)
    x_dim = system.n_monomers + _DIMER_OFFSET_GAP + np.arange(system.n_dimer_ions)
    # Two blocks drawn separately: no interpolation across the monomer/dimer boundary.
    cs = None
    for x, z in ((x_mono, mono), (x_dim, dim)):
        if len(times) < 2:
            raise ValueError("a contour panel needs at least two time points")
        cs = ax.contourf(
            x,
            times,
            np.clip(z, 0, levels[-1]),
            levels=levels,
            cmap=cmap,
            norm=norm,
            extend="neither",
        )
    boundary = system.n_monomers - 0.5 + _DIMER_OFFSET_GAP / 2
    ax.axvline(boundary, color="0.3", lw=0.8)
    n = system.nuclearity
    mono_ticks = list(range(0, n + 1, 5))
    dim_ticks = list(range(0, 2 * n + 1, 10))
    ax.set_xticks(
        list(x_mono[mono_ticks]) + list(x_dim[dim_ticks]),
        [str(t) for t in mono_ticks] + [str(t) for t in dim_ticks],
    )
    ax.set_xlim(-0.5, x_dim[-1] + 0.5)
    ax.set_ylim(0, time_max_min if time_max_min is not None else times[-1])
    a, b = system.metals
    for x, subunits, kind in ((x_mono, 1, "monomers"), (x_dim, 2, "dimers")):
        charge = system.monomer_charge if subunits == 1 else system.dimer_charge
        sign = f"{abs(charge) if abs(charge) != 1 else ''}{'-' if charge < 0 else '+'}"
        ax.text(
            x.mean(),
            1.01,
            f"{kind} [{a}$_n${b}$_{{{subunits * n}-n}}$]$^{{{sign}}}$",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8.5,
        )
    ax.set_xlabel(f"{a} atoms $n$ in the ion")
    ax.set_ylabel(TIME_LABEL)
    return cs


def contour_figure(
    panels: Sequence[tuple[str, pd.DataFrame]],
    system: ClusterSystem = DEFAULT_SYSTEM,
    time_max_min: float = 54.0,
    suptitle: str = "",
    synthetic: bool = False,
    n_levels: int = 21,
    size: tuple[float, float] | None = None,
    ncols: int = 2,
    extra_rows: int = 0,
    extra_height: float = 1.0,
):
    """Contour maps (observables by Ag count × time) sharing one colour scale.

    ``panels`` is a list of (title, observables table). Returns the figure; with
    ``extra_rows`` the grid has that many empty full-width rows below (for traces), and
    the caller gets them from ``fig.extra_axes``.
    """
    nrows = math.ceil(len(panels) / ncols)
    fig = plt.figure(figsize=size or figure_size("fig3"), layout="constrained")
    grid = fig.add_gridspec(
        nrows + extra_rows, ncols, height_ratios=[1.0] * nrows + [extra_height] * extra_rows
    )
    vmax = 0.0
    for _, frame in panels:
        _, mono, dim = observable_matrices(frame, system, time_max_min=time_max_min)
        vmax = max(vmax, float(mono.max(initial=0)), float(dim.max(initial=0)))
    vmax = vmax if vmax > 0 else 1.0
    # levels equidistant in sqrt(intensity), i.e. in the colour scale
    levels = vmax * np.linspace(0, 1, n_levels) ** (1 / CONTOUR_GAMMA)
    levels[0] = 0.0
    norm = PowerNorm(CONTOUR_GAMMA, vmin=0, vmax=vmax)
    axes = []
    cs = None
    for k, (title, frame) in enumerate(panels):
        ax = fig.add_subplot(grid[k // ncols, k % ncols])
        cs = _contour_panel(ax, frame, system, norm, levels, time_max_min, CONTOUR_CMAP)
        ax.set_title(title, fontsize=10, loc="left", pad=16)
        axes.append(ax)
    cbar = fig.colorbar(cs, ax=axes, shrink=0.9, aspect=40, pad=0.01)
    cbar.set_label(INTENSITY_LABEL + ", colour ∝ √intensity")
    ticks = [t for t in (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0) if t <= vmax]
    cbar.set_ticks(ticks)
    cbar.set_ticklabels([f"{t:g}" for t in ticks])
    fig.extra_axes = [fig.add_subplot(grid[nrows + r, :]) for r in range(extra_rows)]
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    mark_synthetic(fig, synthetic)
    fig.contour_axes = axes
    return fig


def figure3(
    experiment: pd.DataFrame,
    models: Sequence[tuple[int, dict, pd.DataFrame]],
    system: ClusterSystem = DEFAULT_SYSTEM,
    time_max_min: float = 54.0,
    sample_label: str = "",
    synthetic: bool = False,
    constants_source: str = "best fit",
):
    """Figure 3: (a) experiment, (b)-(d) simulations of models 1-3 with their constants.

    ``models`` is a list of (model number, rate constants, observables table).
    """
    exp_name = "synthetic experiment" if synthetic else "experiment"
    panels = [(f"(a) {exp_name} {sample_label}".rstrip(), experiment)]
    for k, (model, constants, frame) in enumerate(models):
        letter = "bcdefgh"[k]
        title = f"({letter}) model {model}, {constants_source}:\n" + format_constants(constants)
        panels.append((title, frame))
    what = "best fits" if constants_source == "best fit" else constants_source
    numbers = ", ".join(str(m) for m, _, _ in models)
    suptitle = (
        f"Figure 3 — monomer and dimer ion intensities, experiment vs. model(s) {numbers} ({what})"
    )
    if synthetic:
        suptitle += f" — {SYNTHETIC_LABEL}"
    return contour_figure(panels, system, time_max_min, suptitle, synthetic)


# --- S5: [Ag25Au25]2- and its isomers --------------------------------------------------


def isomer_fractions(isomers: pd.DataFrame, n_ag_total: int) -> pd.DataFrame:
    """Isomers of one dimer ion as fractions of that ion's total, per time (wide: i columns)."""
    part = isomers[isomers["n_ag_total"] == n_ag_total]
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
    model_number: int = 2,
    system: ClusterSystem = DEFAULT_SYSTEM,
    time_max_min: float | None = None,
    synthetic: bool = False,
):
    """S5: (a) the half-Ag dimer ion against time, experiment and model sum;
    (b) its isomers (model) as fractions of the ion."""
    n = system.nuclearity
    target = n  # [Ag25Au25]2-: total Ag = nuclearity
    ion = ion_math(system, target, 2)
    fig, (ax_a, ax_b) = plt.subplots(
        1, 2, figsize=figure_size("s5"), layout="constrained", width_ratios=[1, 1.25]
    )
    exp = with_kind(experiment, system)
    mod = with_kind(model, system)
    sel_e = exp[(exp["kind"] == "dimer") & (exp["n_ag"] == target)].sort_values("time_min")
    sel_m = mod[(mod["kind"] == "dimer") & (mod["n_ag"] == target)].sort_values("time_min")
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
    pairs = sorted(fractions.columns, reverse=True)  # i = Ag-richer subunit: 25 .. 13
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
    frame: pd.DataFrame, system: ClusterSystem = DEFAULT_SYSTEM, window_min: float = 10.0
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
    ag_fraction: float  # Ag atom fraction of the mixture
    observables: pd.DataFrame
    synthetic: bool = False
    label: str = ""


def figure_s6(
    samples: Sequence[SampleDistribution],
    system: ClusterSystem = DEFAULT_SYSTEM,
    window_min: float = 10.0,
):
    """S6: per sample, the mean monomer and dimer distributions of the last ``window_min``
    minutes against binomials B(N, p) and B(2N, p), p = the sample's Ag atom fraction."""
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
        p = entry.ag_fraction
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
            ax.set_ylim(0, max(dist.max(initial=0), binom.pmf(x, size, p).max()) * 1.25)
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
        "Figure S6 — near-equilibrium distributions against the binomial at the Ag atom "
        "fraction p" + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- S7-S9: other mixing ratios ----------------------------------------------------------


def trace_species(system: ClusterSystem, ag_fraction: float) -> list[tuple[str, int]]:
    """Species worth a trace: the reactants, the equilibrium-centre monomer, the
    half-and-half dimer and the equilibrium-centre dimer (as (kind, n_ag), no duplicates)."""
    n = system.nuclearity
    centre = int(round(n * ag_fraction))
    chosen = [
        ("monomer", n),
        ("monomer", 0),
        ("monomer", centre),
        ("dimer", n),
        ("dimer", int(round(2 * n * ag_fraction))),
    ]
    out: list[tuple[str, int]] = []
    for item in chosen:
        if item not in out:
            out.append(item)
    return out


def s7_s9_title(name: str) -> str:
    """``figS8`` -> "Figure S8"; any other name (``figS7_S9_{sample}``) -> "Figures S7-S9"."""
    if name.startswith("figS") and name[4:].isdigit():
        return f"Figure S{name[4:]}"
    return "Figures S7-S9"


def figure_s7_9(
    experiment: pd.DataFrame,
    model: pd.DataFrame,
    constants: dict,
    ag_fraction: float,
    system: ClusterSystem = DEFAULT_SYSTEM,
    sample_label: str = "",
    time_max_min: float = 54.0,
    synthetic: bool = False,
    model_number: int = 3,
    figure_name: str = "Figures S7-S9",
):
    """S7-S9 for one mixing ratio: contours of experiment and model, and selected traces."""
    exp_name = "synthetic experiment" if synthetic else "experiment"
    panels = [
        (f"(a) {exp_name} {sample_label}", experiment),
        (
            f"(b) model {model_number}: "
            + format_constants(constants, multiline=False).replace(", ", ",\n", 1),
            model,
        ),
    ]
    suptitle = f"{figure_name} — {sample_label}: {exp_name} vs. model {model_number}"
    if synthetic:
        suptitle += f" — {SYNTHETIC_LABEL}"
    fig = contour_figure(
        panels,
        system,
        time_max_min,
        suptitle,
        synthetic,
        size=figure_size("s7_9"),
        ncols=2,
        extra_rows=1,
        extra_height=0.7,
    )
    ax = fig.extra_axes[0]
    exp = with_kind(experiment, system)
    mod = with_kind(model, system)
    palette = sns.color_palette("colorblind", 8)
    for colour, (kind, n_ag) in zip(palette, trace_species(system, ag_fraction), strict=False):
        label = ion_math(system, n_ag, 1 if kind == "monomer" else 2)
        e = exp[(exp["kind"] == kind) & (exp["n_ag"] == n_ag)].sort_values("time_min")
        m = mod[(mod["kind"] == kind) & (mod["n_ag"] == n_ag)].sort_values("time_min")
        ax.plot(e["time_min"], e["intensity_norm"], "o", ms=3, color=colour, alpha=0.75)
        ax.plot(m["time_min"], m["intensity_norm"], "-", lw=1.8, color=colour, label=label)
    ax.set_xlim(0, time_max_min)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(INTENSITY_LABEL)
    ax.set_title(
        f"(c) selected ions: {exp_name} (points) and model {model_number} (lines)",
        loc="left",
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


# --- S10: isomer composition vs. CID fragments -----------------------------------------


def fragment_distribution(
    isomers: pd.DataFrame, n_ag_total: int, time_min: float, nuclearity: int = 25
) -> np.ndarray:
    """The monomer-subunit distribution (over n_ag = 0..N, sums to 1) of one dimer ion's
    isomers at the simulated time closest to ``time_min``: each isomer (i, j) gives one
    subunit i and one subunit j (what a symmetric CID would release)."""
    part = isomers[isomers["n_ag_total"] == n_ag_total]
    times = part["time_min"].unique()
    if times.size == 0:
        raise ValueError(f"no isomers with n_ag_total = {n_ag_total}")
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
    model_number: int = 3,
    system: ClusterSystem = DEFAULT_SYSTEM,
    synthetic: bool = False,
    cid_tolerance_min: float = 0.75,
):
    """S10: the model's isomer composition of the half-Ag dimer ion at several times (as the
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
                frag = cid[cid["time_min"] == nearest].groupby("n_ag")["fraction"].sum()
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


def chi2_profiles(chi2: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each rate constant: the minimum chi² over the other two, per grid value."""
    ok = _ok_points(chi2)
    return {
        name: ok.groupby(name, as_index=False)["chi2"].min().sort_values(name)
        for name in RATE_CONSTANTS
    }


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
        profiles = chi2_profiles(chi2)
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
                zoom_prof = chi2_profiles(zoom)[name]
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
            values = f"best {format_k(best_grid)}"
            if refined.get(name) is not None:
                ax.axvline(
                    float(refined[name]),
                    color="#1b7837",
                    ls="--",
                    lw=1,
                    label="refined (Nelder-Mead)",
                )
                values += f", refined {format_k(float(refined[name]))}"
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
                    f"\ninterval {'≤' if lo_open else ''}{format_k(lo)} – "
                    f"{'≥' if hi_open else ''}{format_k(hi)}"
                )
            if threshold is not None:
                ax.axhline(
                    float(threshold),
                    color="#d6604d",
                    lw=0.8,
                    ls=":",
                    label="threshold (1 + δ) χ²$_\\mathrm{min}$",
                )
            ax.set_xscale("log")
            if np.all(s["chi2"].to_numpy(float) > 0) and np.all(prof["chi2"].to_numpy(float) > 0):
                ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            low, high = ax.get_ylim()
            if ax.get_yscale() != "log" or high / low >= 10:
                # less than a decade has no major tick: keep matplotlib's minor labels there
                ax.yaxis.set_minor_formatter(NullFormatter())
            grid_values = np.sort(chi2[name].unique())
            if len(grid_values) <= 7:  # few grid values: label each of them
                ax.set_xticks(grid_values, [format_k(v) for v in grid_values], fontsize=8)
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
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(
        f"χ² landscape (eq 1: sum of squared t$_\\mathrm{{max}}$ differences), fit to {fit_label}"
        + (f" — {SYNTHETIC_LABEL}" if synthetic else ""),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig


# --- beyond the paper: deconvolution QC ---------------------------------------------------


def figure_deconvolution_qc(
    mz: np.ndarray,
    data: np.ndarray,
    fit: np.ndarray,
    sticks: pd.DataFrame,
    title: str = "",
    zoom_mz: tuple[float, float] | None = None,
    synthetic: bool = False,
    system: ClusterSystem = DEFAULT_SYSTEM,
    components: dict[str, tuple[str, np.ndarray]] | None = None,
    measured: np.ndarray | None = None,
    detection_level: float | None = None,
):
    """One spectrum: data, fitted model spectrum, residual and the species' sticks.

    ``sticks``: columns ``mz`` (position of each species, e.g. its most abundant isotope or
    average m/z), ``intensity`` (fitted amplitude, same units as ``data``), ``kind``
    (monomer/dimer) and ``species`` (label). ``zoom_mz`` adds a zoomed column, in which
    ``components`` ({label: (kind, contribution on the mz grid)}) are drawn one by one.

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
    fig, axes = plt.subplots(
        2,
        ncols,
        figsize=figure_size("qc"),
        layout="constrained",
        height_ratios=[3, 1],
        squeeze=False,
        sharex="col",
    )
    scale = float(np.nanmax(shown)) if np.nanmax(shown) > 0 else 1.0
    colours = {"monomer": "#2166ac", "dimer": "#b2182b"}
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
        ax.plot(
            mz[keep],
            fit[keep] / scale,
            color="#ff7f00",
            lw=0.8,
            alpha=0.9,
            label="fitted model spectrum",
        )
        if level is not None and sparse:
            ax.axhline(
                level / scale, color="#1b7837", lw=0.8, ls="--",
                label=f"detection level ({level:.3g} counts)",
            )  # fmt: skip
        if col == 1 and components:
            for label, (kind, part) in components.items():
                if np.any(part[keep] > 0):
                    ax.fill_between(
                        mz[keep],
                        0,
                        part[keep] / scale,
                        alpha=0.25,
                        lw=0,
                        color=colours.get(kind, "k"),
                        label=f"component {label}",
                    )
        if col == 0:  # sticks in the full view; the zoom shows the components instead
            for kind, part in sticks.groupby("kind"):
                ax.vlines(
                    part["mz"],
                    0,
                    -part["intensity"] / scale * 0.5,
                    color=colours.get(kind, "k"),
                    lw=1.2,
                    label=f"{kind} ions: fitted peak height (mirrored, ×0.5)",
                )
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("intensity / base peak")
        if sparse:  # room above the data for the longer legend
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top + 0.35 * (top - bottom))
        ax.legend(fontsize=7.5, frameon=False, loc="upper right", ncol=2 if sparse else 1)
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
    fig.suptitle(
        _with_synthetic_first_line(title or "Deconvolution QC", synthetic),
        fontsize=12,
    )
    mark_synthetic(fig, synthetic)
    return fig
