"""Plot functions for the paper's figures (3, S5-S11) and the workflow's own diagnostics.

A small package: :mod:`.style` (sizes, labels, saving), :mod:`.maps` (Figure 3, S7-S9),
:mod:`.distributions` (S5, S6, S10) and :mod:`.diagnostics` (S11, chi², deconvolution QC);
every name is importable from ``intercluster.figures``. Labels come from the cluster system
the caller passes (no function assumes a system).

Every function takes tidy DataFrames (the workflow's tables) and returns a matplotlib
:class:`~matplotlib.figure.Figure`; nothing here reads files. :func:`save_figure` writes the
PNG and PDF. Figure sizes are fixed in inches (:func:`figure_size`), and figures are saved
without ``bbox_inches="tight"``, so a PNG's pixel size is ``figure_size * dpi`` exactly
(the tests rely on that); constrained layout keeps labels inside the canvas.

Tables the functions accept (column names as written by the workflow):

* observables: ``time_min``, ``n_first``, ``intensity_norm`` and ``kind`` (monomer/dimer) or
  ``charge`` (the kind is then derived from the cluster system's charges);
* isomers: ``time_min``, ``i``, ``j``, ``n_first_total``, ``concentration_nM``;
* CID fragments: ``time_min``, ``n_first``, ``fraction``;
* chi² grid: ``k_dim``, ``k_diss``, ``k_ex``, ``chi2`` (and optionally ``status``).
"""

import matplotlib

matplotlib.use("Agg")  # headless, before any submodule imports pyplot (through seaborn)

from .diagnostics import (  # noqa: E402
    chi2_slices,
    figure_beta_profile,
    figure_chi2,
    figure_deconvolution_qc,
    figure_deconvolution_qc_of,
    figure_s11,
    figure_stick_qc,
    figure_tmax_residuals,
    qc_title,
    stick_qc_title,
    tmax_residual_frame,
)
from .distributions import (  # noqa: E402
    SampleDistribution,
    equilibrium_distribution,
    figure_s5,
    figure_s6,
    figure_s10,
    fragment_distribution,
    isomer_fractions,
)
from .maps import (  # noqa: E402
    contour_figure,
    figure3,
    figure_s7_9,
    s7_s9_title,
    trace_species,
)
from .style import (  # noqa: E402
    CONTOUR_CMAP,
    CONTOUR_GAMMA,
    INTENSITY_LABEL,
    RATE_CONSTANTS,
    RATE_SYMBOLS,
    RATE_UNITS,
    TIME_LABEL,
    figure_size,
    format_constants,
    format_k,
    ion_math,
    mark_synthetic,
    normalise_observables,
    observable_matrices,
    pixel_size,
    plt,
    save_figure,
    save_outputs,
    with_kind,
)

__all__ = [
    "CONTOUR_CMAP",
    "CONTOUR_GAMMA",
    "INTENSITY_LABEL",
    "RATE_CONSTANTS",
    "RATE_SYMBOLS",
    "RATE_UNITS",
    "SampleDistribution",
    "TIME_LABEL",
    "chi2_slices",
    "contour_figure",
    "equilibrium_distribution",
    "figure3",
    "figure_beta_profile",
    "figure_chi2",
    "figure_deconvolution_qc",
    "figure_deconvolution_qc_of",
    "figure_s10",
    "figure_s11",
    "figure_s5",
    "figure_s6",
    "figure_s7_9",
    "figure_stick_qc",
    "figure_size",
    "figure_tmax_residuals",
    "format_constants",
    "format_k",
    "fragment_distribution",
    "ion_math",
    "isomer_fractions",
    "mark_synthetic",
    "normalise_observables",
    "observable_matrices",
    "pixel_size",
    "plt",
    "qc_title",
    "s7_s9_title",
    "save_figure",
    "save_outputs",
    "stick_qc_title",
    "tmax_residual_frame",
    "trace_species",
    "with_kind",
]
