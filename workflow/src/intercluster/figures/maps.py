"""Contour maps: Figure 3 and Figures S7-S9 (one further mixing ratio each)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm

from ..io import SYNTHETIC_LABEL
from ..settings import FiguresSettings
from ..system import ClusterSystem
from .style import (
    CONTOUR_CMAP,
    CONTOUR_GAMMA,
    INTENSITY_LABEL,
    TIME_LABEL,
    figure_size,
    format_constants,
    ion_math,
    mark_synthetic,
    observable_matrices,
    plt,
    with_kind,
)

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
    system: ClusterSystem,
    time_max_min: float | None = None,
    suptitle: str = "",
    synthetic: bool = False,
    n_levels: int = 21,
    size: tuple[float, float] | None = None,
    ncols: int = 2,
    extra_rows: int = 0,
    extra_height: float = 1.0,
):
    """Contour maps (observables by first-metal count × time) sharing one colour scale.

    ``panels`` is a list of (title, observables table). Returns the figure; with
    ``extra_rows`` the grid has that many empty full-width rows below (for traces), and
    the caller gets them from ``fig.extra_axes``. ``time_max_min``: the time axis' end;
    ``None``: the schema's ``figures.time_max_min``.
    """
    if time_max_min is None:
        time_max_min = FiguresSettings.schema_default().time_max_min
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
    system: ClusterSystem,
    time_max_min: float | None = None,
    sample_label: str = "",
    synthetic: bool = False,
    constants_source: str = "best fit",
    model_sources: Mapping[int, str] | None = None,
):
    """Figure 3: (a) experiment, (b)-(d) simulations of models 1-3 with their constants,
    and (e) model 4 when it is given (its constants with ``beta``, shown in its title).

    ``models`` is a list of (model number, rate constants, observables table);
    ``model_sources``: a model's own source of constants where it is not
    ``constants_source`` (model 4: the joint fit of every sample).
    """
    exp_name = "synthetic experiment" if synthetic else "experiment"
    panels = [(f"(a) {exp_name} {sample_label}".rstrip(), experiment)]
    for k, (model, constants, frame) in enumerate(models):
        letter = "bcdefgh"[k]
        source = (model_sources or {}).get(model, constants_source)
        title = f"({letter}) model {model}, {source}:\n" + format_constants(constants)
        if "beta" in constants:
            title += f", β = {float(constants['beta']):.3g}"
        panels.append((title, frame))
    what = "best fits" if constants_source == "best fit" else constants_source
    numbers = ", ".join(str(m) for m, _, _ in models)
    suptitle = (
        f"Figure 3 — monomer and dimer ion intensities, experiment vs. model(s) {numbers} ({what})"
    )
    if synthetic:
        suptitle += f" — {SYNTHETIC_LABEL}"
    return contour_figure(panels, system, time_max_min, suptitle, synthetic)


# --- S7-S9: other mixing ratios ----------------------------------------------------------


def trace_species(system: ClusterSystem, first_fraction: float) -> list[tuple[str, int]]:
    """Species worth a trace: the reactants, the equilibrium-centre monomer, the
    half-and-half dimer and the equilibrium-centre dimer (as (kind, n_first), no duplicates)."""
    n = system.nuclearity
    centre = int(round(n * first_fraction))
    chosen = [
        ("monomer", n),
        ("monomer", 0),
        ("monomer", centre),
        ("dimer", n),
        ("dimer", int(round(2 * n * first_fraction))),
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
    first_fraction: float,
    system: ClusterSystem,
    sample_label: str = "",
    time_max_min: float | None = None,
    synthetic: bool = False,
    model_number: int = 3,
    figure_name: str = "Figures S7-S9",
):
    """S7-S9 for one mixing ratio: contours of experiment and model, and selected traces
    (``time_max_min=None``: the schema's ``figures.time_max_min``)."""
    if time_max_min is None:
        time_max_min = FiguresSettings.schema_default().time_max_min
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
    import seaborn as sns  # only this figure needs it (distributions.figure_s6 says why)

    palette = sns.color_palette("colorblind", 8)
    traced = trace_species(system, first_fraction)
    for colour, (kind, n_first) in zip(palette, traced, strict=False):
        label = ion_math(system, n_first, 1 if kind == "monomer" else 2)
        e = exp[(exp["kind"] == kind) & (exp["n_first"] == n_first)].sort_values("time_min")
        m = mod[(mod["kind"] == kind) & (mod["n_first"] == n_first)].sort_values("time_min")
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
