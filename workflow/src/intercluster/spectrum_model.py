"""The fitted model spectrum of one scan, for the deconvolution QC figure.

:mod:`intercluster.deconvolution` returns the abundances, shift, resolving power and
baseline of a fit (:class:`~intercluster.deconvolution.SpectrumFit`) but not the model curve
itself; :func:`fitted_spectrum` rebuilds it from the same pattern columns the fit used.
For a sparse profile pass the points the fit used (``PreparedSpectrum.mz`` and ``.width``:
the written points plus the filled gap points), so that the model is drawn in the gaps too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _deconv_kernels as kern
from .deconvolution import N_SIGMA, PatternBasis, SpectrumFit
from .isotopes import point_spacing


def fitted_spectrum(
    mz: np.ndarray,
    fit: SpectrumFit,
    basis: PatternBasis,
    components: bool = False,
    width: np.ndarray | None = None,
) -> tuple[np.ndarray, pd.DataFrame] | tuple[np.ndarray, pd.DataFrame, dict]:
    """Model counts per point (patterns + baseline) and one row per species.

    With ``components`` also a dict {basis column: that species' own contribution on the
    full ``mz`` grid} for every species with a non-zero abundance. ``width``: the m/z interval
    of each point as the fit used it (default: :func:`~intercluster.isotopes.point_spacing`).

    The species table has the basis labels plus ``abundance`` (fitted ion count),
    ``mz`` (abundance-weighted m/z of the shifted pattern) and ``peak_height`` (the
    maximum of the species' own contribution to the model, in counts per point).
    """
    mz = np.ascontiguousarray(mz, float)
    starts, ends, seg_ptr, values, _ = kern.build_columns(
        mz,
        point_spacing(mz) if width is None else np.ascontiguousarray(width, float),
        basis.peak_mz,
        basis.peak_prob,
        basis.col_ptr,
        float(fit.shift_ppm),
        float(fit.resolving_power),
        N_SIGMA,
    )
    model = np.full(mz.size, float(fit.baseline))
    heights = np.zeros(basis.n_cols)
    centres = np.zeros(basis.n_cols)
    scale = 1.0 + fit.shift_ppm * 1e-6
    parts: dict[int, np.ndarray] = {}
    for k in range(basis.n_cols):
        lo, hi = basis.col_ptr[k], basis.col_ptr[k + 1]
        prob = basis.peak_prob[lo:hi]
        centres[k] = float(np.dot(basis.peak_mz[lo:hi], prob) / prob.sum()) * scale
        a = float(fit.coef[k])
        if a == 0.0 or ends[k] <= starts[k]:
            continue
        contribution = a * values[seg_ptr[k] : seg_ptr[k + 1]]
        model[starts[k] : ends[k]] += contribution
        heights[k] = float(contribution.max())
        if components:
            full = np.zeros(mz.size)
            full[starts[k] : ends[k]] = contribution
            parts[k] = full
    species = basis.labels.copy()
    species["abundance"] = np.asarray(fit.coef, float)
    species["mz"] = centres
    species["peak_height"] = heights
    if components:
        return model, species, parts
    return model, species
