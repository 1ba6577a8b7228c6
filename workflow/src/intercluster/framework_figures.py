"""Figures of a framework system (no kinetic model): what a reader of Lin 2022 expects.

One figure per sample: the framework populations against time, the mean count of the first
metal of each framework against time, each framework's composition distribution against time
(a heat map), and the deconvolution QC (relative residual norm and calibration shift).
Labels and axes carry the metal names and ligand shells of the system file.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .io import SYNTHETIC_LABEL  # noqa: E402
from .settings import FiguresSettings
from .system import SystemDefinition, format_ion_label  # noqa: E402


def family_label(system: SystemDefinition, family: str) -> str:
    """Mathtext label of a framework family, e.g. [X$_x$Y$_{N-x}$(SR)$_{n}$]$^{z-}$."""
    fam = system.family(family)
    a, b = system.metals
    shell = "".join(f"({name})$_{{{k}}}$" for name, k in fam.ligands)
    generic = format_ion_label(((a, 1), (b, 1)), fam.core_charge, math=True)
    charge = generic[generic.index("]") + 1:]
    return f"[{a}$_x${b}$_{{{fam.nuclearity}-x}}${shell}]{charge}"


#: how the synthetic truth is drawn under the fitted points (see figure_frameworks)
TRUTH_STYLE = {"linestyle": "-", "linewidth": 6, "alpha": 0.3, "zorder": 2,
               "solid_capstyle": "round"}  # fmt: skip


def _populations_and_means(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Framework populations and mean first-metal counts, time x family."""
    pops = summary.groupby(["time_min", "family"])["population"].first().unstack()
    weighted = summary.assign(w=summary["n_first"] * summary["composition"])
    means = weighted.groupby(["time_min", "family"])["w"].sum(min_count=1).unstack()
    return pops, means


def figure_frameworks(
    summary: pd.DataFrame,
    qc: pd.DataFrame,
    system: SystemDefinition,
    synthetic: bool,
    sample: str,
    truth: pd.DataFrame | None = None,
):
    """The framework figure of one sample (``summary``: frameworks.framework_summary)."""
    clusters = [f.name for f in system.enabled_families if f.role != "fragment"]
    first_metal = system.metals[0]
    fig = plt.figure(figsize=(11, 7.5), layout="constrained")
    grid = fig.add_gridspec(3, max(3, len(clusters)))
    ax_pop = fig.add_subplot(grid[0, : len(clusters) // 2 + 1])
    ax_mean = fig.add_subplot(grid[0, len(clusters) // 2 + 1 :])
    pops, means = _populations_and_means(summary)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if truth is not None:
        tpops, tmeans = _populations_and_means(truth)
    for k, family in enumerate(clusters):
        label = family_label(system, family)
        ax_pop.plot(pops.index, 100 * pops[family], "o-", color=colors[k], ms=3, label=label,
                    zorder=3)  # fmt: skip
        present = pops[family] >= 0.02  # a mean of an (almost) absent framework is noise
        ax_mean.plot(means.index[present], means[family][present], "o-", color=colors[k], ms=3,
                     zorder=3)  # fmt: skip
        if truth is not None:
            # A good fit lies on its truth: a thin dotted truth line drawn there is hidden
            # under the fitted one, so the truth is a wide translucent band beneath it.
            ax_pop.plot(tpops.index, 100 * tpops[family], **TRUTH_STYLE, color=colors[k])
            shown = tpops[family] >= 0.02
            ax_mean.plot(tmeans.index[shown], tmeans[family][shown], **TRUTH_STYLE,
                         color=colors[k])  # fmt: skip
    ax_pop.set(xlabel="time (min)", ylabel="framework population (%)")
    ax_mean.set(xlabel="time (min)", ylabel=f"mean {first_metal} atoms per cluster")
    if truth is not None:
        ax_pop.plot([], [], **TRUTH_STYLE, color="grey", label="truth (synthetic)")
    ax_pop.legend(fontsize=7)
    for k, family in enumerate(clusters):
        ax = fig.add_subplot(grid[1, k])
        part = summary[summary["family"] == family]
        image = part.pivot(index="n_first", columns="time_min", values="composition")
        present = pops[family].reindex(image.columns).to_numpy() >= 0.02
        image = image.where(np.broadcast_to(present[None, :], image.shape))
        times = image.columns.to_numpy(float)
        mesh = ax.pcolormesh(times, image.index.to_numpy(), 100 * image.to_numpy(),
                             shading="nearest", cmap="viridis", vmin=0)  # fmt: skip
        fig.colorbar(mesh, ax=ax, label="share of the framework (%)", shrink=0.9)
        ax.set(xlabel="time (min)", ylabel=f"{first_metal} atoms")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # atoms: whole numbers only
        ax.set_title(family_label(system, family), fontsize=8)
    ax_res = fig.add_subplot(grid[2, : len(clusters) // 2 + 1])
    ax_res.plot(qc["time_min"], 100 * qc["residual_norm"], "o-", ms=3, color="k")
    ax_res.set(xlabel="time (min)", ylabel="residual norm (%)", title="deconvolution QC")
    ax_shift = fig.add_subplot(grid[2, len(clusters) // 2 + 1 :])
    ax_shift.plot(qc["time_min"], qc["shift_ppm"], "o-", ms=3, color="k")
    ax_shift.set(xlabel="time (min)", ylabel="calibration shift (ppm)")
    title = f"{system.title}: sample {sample}"
    if synthetic:
        title = f"{SYNTHETIC_LABEL.upper()}\n{title}"
    fig.suptitle(title, fontsize=10, color="crimson" if synthetic else "black")
    return fig



def save_figure(
    fig, png: str | os.PathLike, pdf: str | os.PathLike, dpi: int | None = None
) -> None:
    """Write ``fig`` as PNG (at ``dpi``; ``None``: the schema's) and PDF, then close it."""

    dpi = FiguresSettings.schema_default().dpi if dpi is None else dpi
    for path in (png, pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=dpi, metadata={"Software": "intercluster.framework_figures"})
    fig.savefig(pdf, metadata={"Creator": "intercluster.framework_figures", "CreationDate": None})
    plt.close(fig)
