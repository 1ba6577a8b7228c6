"""Style, sizes, labels and saving of the figures (every label from the cluster system)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..io import SYNTHETIC_LABEL, write_json  # noqa: E402
from ..network import RATE_CONSTANTS  # noqa: E402
from ..settings import FiguresSettings  # noqa: E402
from ..system import ClusterSystem  # noqa: E402

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
    "beta_profile": (6.5, 4.5),
    "chi2_row": 3.0,
    "chi2_width": 13.0,
    "tmax_residuals_row": 3.2,
    "tmax_residuals_width": 11.0,
    "qc": (14.0, 7.5),
}


def figure_size(name: str, n_rows: int = 1) -> tuple[float, float]:
    """Size in inches of figure ``name``; ``n_rows`` for the figures that grow (s6, chi2,
    tmax_residuals)."""
    if name in ("s6", "chi2", "tmax_residuals"):
        return (_SIZES[f"{name}_width"], _SIZES[f"{name}_row"] * n_rows + 1.0)
    return _SIZES[name]


def pixel_size(name: str, dpi: int, n_rows: int = 1) -> tuple[int, int]:
    """(width, height) in pixels of the PNG :func:`save_figure` writes."""
    w, h = figure_size(name, n_rows)
    return (int(round(w * dpi)), int(round(h * dpi)))



def save_figure(
    fig, png: str | os.PathLike, pdf: str | os.PathLike, dpi: int | None = None
) -> None:
    """Write ``fig`` as PNG (at ``dpi``; ``None``: the schema's) and PDF, then close it."""
    dpi = FiguresSettings.schema_default().dpi if dpi is None else dpi
    for path in (png, pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    meta_png = {"Software": "intercluster.figures"}
    # zlib level 1, not PIL's 6: the same pixels, a file ~8 % larger, compressed in about
    # half the time (a 300-dpi figure's PNG encoding was a tenth of its cost)
    fig.savefig(png, dpi=dpi, metadata=meta_png, pil_kwargs={"compress_level": 1})
    # The PNG's draw placed the axes (constrained layout); the PDF keeps that placement
    # instead of laying the figure out again (a third of a figure's cost). None, not
    # "none": savefig runs a whole extra draw before printing whenever the figure has any
    # layout engine, even the placeholder "none" leaves (the PDF is the same either way).
    fig.set_layout_engine(None)
    fig.savefig(pdf, metadata={"Creator": "intercluster.figures", "CreationDate": None})
    plt.close(fig)


def save_outputs(fig, output, size: str, dpi: int, record: dict, n_rows: int = 1) -> None:
    """A figure rule's outputs: PNG and PDF (``output.png``, ``output.pdf``) and the params
    JSON (``output.params``): ``record`` plus the dpi and the PNG's size in pixels."""
    save_figure(fig, output.png, output.pdf, dpi)
    write_json({**record, "dpi": dpi, "size_px": pixel_size(size, dpi, n_rows)}, output.params)


# --- small helpers -----------------------------------------------------------------------


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_k(value: float, digits: int = 2, math_text: bool = True) -> str:
    """3.2e-3 -> '3.2×10$^{-3}$' (mathtext); ``math_text=False``: '3.2×10⁻³' (Unicode
    superscripts), for labels drawn many times: matplotlib parses every mathtext string
    anew at each dpi, and that parse is most of a text-heavy figure's drawing time."""
    if value is None or not np.isfinite(value) or value <= 0:
        return "n/a"
    exponent = int(math.floor(math.log10(value)))
    mantissa = value / 10**exponent
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    text = f"{mantissa:.{digits - 1}f}".rstrip("0").rstrip(".")
    power = f"10$^{{{exponent}}}$" if math_text else "10" + str(exponent).translate(_SUPERSCRIPT)
    return (f"{text}×" if text != "1" else "") + power


def format_constants(constants: dict, multiline: bool = False) -> str:
    """'k_dim = 1×10^-2 L nmol^-1 s^-1, k_diss = ..., k_ex = ...' in mathtext."""
    parts = [
        f"{RATE_SYMBOLS[k]} = {format_k(float(constants[k]))} {RATE_UNITS[k]}"
        for k in RATE_CONSTANTS
        if k in constants
    ]
    return ("\n" if multiline else ", ").join(parts)


def ion_math(system: ClusterSystem, n_a: int, subunits: int = 1) -> str:
    """Mathtext ion label of the system, e.g. ``[A$_{12}$B$_{13}$]$^{-}$`` (metals A, B)."""
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


def with_kind(frame: pd.DataFrame, system: ClusterSystem) -> pd.DataFrame:
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
    system: ClusterSystem,
    value: str = "intensity_norm",
    time_max_min: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, monomers (n_t, N+1), dimer ions (n_t, 2N+1)) from a tidy observables table.

    Columns are ordered by first-metal count; species absent from the table are 0.
    """
    frame = with_kind(frame, system)
    if time_max_min is not None:
        frame = frame[frame["time_min"] <= time_max_min + 1e-9]
    times = np.sort(frame["time_min"].unique())
    blocks = []
    for kind, size in (("monomer", system.n_monomers), ("dimer", system.n_dimer_ions)):
        part = frame[frame["kind"] == kind]
        table = part.pivot_table(index="time_min", columns="n_first", values=value, aggfunc="sum")
        table = table.reindex(index=times, columns=range(size)).fillna(0.0)
        blocks.append(table.to_numpy(float))
    return times, blocks[0], blocks[1]


def normalise_observables(frame: pd.DataFrame, value: str = "concentration_nM") -> pd.DataFrame:
    """Add ``intensity_norm``: ``value`` divided by its per-time total (all 77 ions)."""
    out = frame.copy()
    total = out.groupby("time_min")[value].transform("sum")
    out["intensity_norm"] = np.where(total > 0, out[value] / total.where(total > 0, 1), 0.0)
    return out
