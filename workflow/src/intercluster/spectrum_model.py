"""The fitted model spectrum of one scan, for the deconvolution QC figure.

:mod:`intercluster.deconvolution` returns the abundances, shift, resolving power and
baseline of a fit (:class:`~intercluster.spectrum_basis.SpectrumFit`) but not the model curve
itself; :func:`fitted_spectrum` rebuilds it from the same pattern columns the fit used.
For a sparse profile pass the points the fit used (``PreparedSpectrum.mz`` and ``.width``:
the written points plus the filled gap points), so that the model is drawn in the gaps too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _deconv_kernels as kern
from .centroid import StickReading, fitted_sticks
from .deconvolution import (
    N_SIGMA,
    PreparedSpectrum,
    baseline_spacing,
    fit_prepared,
    spline_baseline,
)
from .isotopes import point_spacing
from .settings import DeconvolutionSettings
from .spectrum_basis import PatternBasis, SpectrumFit

#: half-width (Th) of the QC figure's zoom: a monomer, the dimer and the trimer of the same
#: composition ratio share its nominal m/z (isotope spacings 1, 1/2 and 1/3 Th)
ZOOM_HALF_WIDTH = 5.0
#: components drawn in the zoom: those reaching this part of its largest data point (low
#: enough for a trimer at a few per cent of the signal beside its monomer)
COMPONENT_MIN_REL = 0.005


def fitted_baseline(mz: np.ndarray, fit: SpectrumFit) -> np.ndarray:
    """The fit's baseline (counts per point) at ``mz``: its constant, or its spline."""
    if fit.baseline_model == "spline" and fit.baseline_coef is not None:
        return spline_baseline(np.asarray(mz, float), fit.baseline_coef, fit.baseline_spacing)
    return np.full(np.size(mz), float(fit.baseline))


def fitted_spectrum(
    mz: np.ndarray,
    fit: SpectrumFit,
    basis: PatternBasis,
    components: bool = False,
    width: np.ndarray | None = None,
) -> tuple[np.ndarray, pd.DataFrame] | tuple[np.ndarray, pd.DataFrame, dict]:
    """Model counts per point (patterns + baseline, :func:`fitted_baseline`, with the fit's
    peak shape) and one row per species.

    With ``components`` also a dict {basis column: that species' own contribution on the
    full ``mz`` grid} for every species with a non-zero abundance. ``width``: the m/z interval
    of each point as the fit used it (default: :func:`~intercluster.isotopes.point_spacing`).

    The species table has the basis labels plus ``abundance`` (fitted ion count),
    ``mz`` (abundance-weighted m/z of the shifted pattern) and ``peak_height`` (the
    maximum of the species' own contribution to the model, in counts per point).
    """
    mz = np.ascontiguousarray(mz, float)
    # the fit's own peak widths: R varies with m/z when the file's R model is linear
    starts, ends, seg_ptr, values, _ = kern.build_columns(
        mz,
        point_spacing(mz) if width is None else np.ascontiguousarray(width, float),
        basis.peak_mz,
        basis.peak_prob,
        basis.col_ptr,
        float(fit.shift_ppm),
        float(fit.resolving_power),
        N_SIGMA,
        float(fit.resolving_power_slope),
        float(fit.mz_ref),
        float(fit.peak_tail),
        float(fit.peak_tail_slope),
    )
    model = fitted_baseline(mz, fit)
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


# --- the QC figure's data: one spectrum refitted as the deconvolution fitted it ------------


def worst_spectrum(qc: pd.DataFrame) -> int:
    """Row of ``qc.tsv`` the deconvolution fitted worst (largest relative residual)."""
    return int(np.nanargmax(qc["residual_norm"].to_numpy(float)))


QC_SPECTRUM_CHOICES = ("worst", "first")  # config figures.qc_spectrum, besides a time in min


def qc_spectrum_pick(qc: pd.DataFrame, choice="worst") -> tuple[int, str]:
    """Row of ``qc.tsv`` the QC figure shows, and how to say which it is.

    ``choice`` (config ``figures.qc_spectrum``): ``"worst"`` (largest relative residual),
    ``"first"`` (the run's first spectrum, where only the reactants and a few products are
    present: where signal invented on absent ions shows first), or a time in minutes (the
    spectrum nearest to it).
    """
    n = len(qc)
    if n == 0:
        raise ValueError("qc.tsv has no rows: no spectrum to show")
    if choice == "worst":
        return worst_spectrum(qc), "worst-fitted spectrum"
    if choice == "first":
        return 0, "first spectrum"
    if isinstance(choice, bool) or not isinstance(choice, int | float):
        raise ValueError(f"figures.qc_spectrum: {choice!r}; expected 'worst', 'first' or a "
                         "time in minutes")  # fmt: skip
    times = qc["time_min"].to_numpy(float)
    pick = int(np.nanargmin(np.abs(times - float(choice))))
    return pick, f"spectrum nearest {float(choice):g} min"


def resolving_power_at(mz, resolving_power: float, slope: float, mz_ref: float) -> np.ndarray:
    """R(m/z) = R (1 + slope (m/z - mz_ref) / 1000 Th): the deconvolution's R model
    (:func:`intercluster._deconv_kernels.build_columns`; constant for slope 0)."""
    return resolving_power * (1.0 + slope * (np.asarray(mz, float) - mz_ref) / 1000.0)


@dataclass(frozen=True)
class QcSpectrum:
    """One profile spectrum refitted as the deconvolution fitted it, shaped for the figure.

    ``sticks``: every ion form with a non-zero abundance (``kind`` = its family: monomer,
    dimer, trimer, ...; ``label``; ``mz``; ``intensity`` = its peak height in counts);
    ``components``: {label: (kind, its contribution on ``spectrum.mz``)} of the ion forms
    that reach ``COMPONENT_MIN_REL`` of the data in ``zoom_mz``; ``unexplained``: the
    robust pass's largest features, (m/z, their part of the signal above the baseline).
    """

    index: int
    native_id: str
    time_min: float
    spectrum: PreparedSpectrum
    fit: SpectrumFit
    model: np.ndarray
    sticks: pd.DataFrame
    components: dict
    zoom_mz: tuple[float, float]
    unexplained: tuple[tuple[float, float], ...]

    def record(self) -> dict:
        """The figure's sidecar record: which spectrum, and the refit's numbers."""
        f, sp = self.fit, self.spectrum
        return {
            "spectrum_index": self.index, "native_id": self.native_id,
            "time_min": self.time_min, "residual_norm": float(f.residual_norm),
            "shift_ppm": float(f.shift_ppm), "resolving_power": float(f.resolving_power),
            "resolving_power_slope": float(f.resolving_power_slope),
            "resolving_power_mz_ref": float(f.mz_ref),
            "unexplained_fraction": float(f.unexplained_fraction),
            "unexplained_mz": [x for x, _ in self.unexplained],
            "unexplained_share": [share for _, share in self.unexplained],
            "ion_forms_fitted": int(len(self.sticks)),
            "ion_forms_by_kind": {str(k): int(n) for k, n in
                                  self.sticks["kind"].value_counts().sort_index().items()},
            "baseline_model": f.baseline_model,
            "baseline_fraction": float(f.baseline_fraction),
            "peak_shape": f.peak_shape, "peak_tail": float(f.peak_tail),
            "peak_tail_slope": float(f.peak_tail_slope),
            "mode": sp.mode, "coverage": float(sp.coverage),
            "detection_level": float(sp.detection_level), "gaps": sp.gaps,
            "zoom_mz": list(self.zoom_mz),
        }  # fmt: skip

    @property
    def baseline(self) -> np.ndarray:
        """The fitted baseline on the spectrum's points."""
        return fitted_baseline(self.spectrum.mz, self.fit)

    @property
    def resolving_power_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(m/z, R) over the spectrum's points: the fitted resolving power model."""
        mz = self.spectrum.mz
        f = self.fit
        return mz, resolving_power_at(mz, f.resolving_power, f.resolving_power_slope, f.mz_ref)


def zoom_window(sticks: pd.DataFrame, mz: np.ndarray, written: np.ndarray | None):
    """The zoom: +-``ZOOM_HALF_WIDTH`` Th around the strongest monomer ion, where it, the
    dimer and the trimer of the same composition ratio overlap. Sparse spectra: among the
    clearly fitted monomers (>= 10 % of the strongest) the one whose window has the share
    of written points nearest one half, so that the zoom shows gaps too."""
    monomers = sticks[sticks["kind"] == "monomer"]
    strongest = monomers if len(monomers) else sticks
    centre = float(strongest.loc[strongest["intensity"].idxmax(), "mz"])
    if written is not None:
        strong = strongest[strongest["intensity"] >= 0.1 * strongest["intensity"].max()]
        shares = [
            float(written[(mz >= c - ZOOM_HALF_WIDTH) & (mz <= c + ZOOM_HALF_WIDTH)].mean())
            for c in strong["mz"]
        ]
        centre = float(strong["mz"].iloc[int(np.argmin(np.abs(np.array(shares) - 0.5)))])
    return centre - ZOOM_HALF_WIDTH, centre + ZOOM_HALF_WIDTH


def qc_spectrum(
    spectrum: PreparedSpectrum,
    qc_row,
    basis: PatternBasis,
    settings: DeconvolutionSettings,
    index: int,
) -> QcSpectrum:
    """Refit one prepared profile spectrum as the deconvolution did: on ``basis`` (the ion
    forms the deconvolution fitted, trimers included), at the file's resolving power model
    and from the spectrum's shift (``qc_row``: its row of ``qc.tsv``), with the shift range
    and the robust pass of ``settings``, with the file's peak shape and baseline model
    (``qc_row``'s ``peak_tail`` and ``baseline_model``); then the model curve, the ion forms'
    sticks, the zoom and its components."""

    spline = str(qc_row.get("baseline_model", "constant")) == "spline"
    fit = fit_prepared(
        spectrum, basis, float(qc_row["resolving_power"]), float(qc_row["shift_ppm"]),
        settings.max_shift_ppm, r_slope=float(qc_row["resolving_power_slope"]),
        mz_ref=float(qc_row["resolving_power_mz_ref"]), robust=settings.robust,
        tail=float(qc_row.get("peak_tail", 0.0)),
        tail_slope=float(qc_row.get("peak_tail_slope", 0.0)),
        baseline_spacing=baseline_spacing(basis) if spline else 0.0,
    )  # fmt: skip
    mz = spectrum.mz
    model, species, parts = fitted_spectrum(mz, fit, basis, components=True, width=spectrum.width)
    species = species.assign(kind=species["family"]) if "family" in species else species
    sticks = species[species["abundance"] > 0].rename(columns={"peak_height": "intensity"})
    zoom = zoom_window(sticks, mz, spectrum.written)
    keep = (mz >= zoom[0]) & (mz <= zoom[1])
    local_max = float(spectrum.y[keep].max()) if keep.any() else 0.0
    label = "label_math" if "label_math" in species else "species"
    components = {
        str(species.loc[k, label]): (str(species.loc[k, "kind"]), part)
        for k, part in parts.items()
        if keep.any() and part[keep].max() > COMPONENT_MIN_REL * local_max
    }
    signal = float(np.maximum(spectrum.y - fitted_baseline(mz, fit), 0.0).sum())
    unexplained = tuple(
        (float(x), float(counts / signal) if signal > 0 else 0.0)
        for x, counts in fit.unexplained_features
    )
    return QcSpectrum(
        index=int(index), native_id=str(qc_row["native_id"]), time_min=float(qc_row["time_min"]),
        spectrum=spectrum, fit=fit, model=model, sticks=sticks, components=components,
        zoom_mz=zoom, unexplained=unexplained,
    )  # fmt: skip


@dataclass(frozen=True)
class StickQc:
    """One centroided spectrum refitted as sticks (the deconvolution's stick fit), window by
    window (:func:`intercluster.centroid.fitted_sticks`), with its zoom."""

    index: int
    native_id: str
    time_min: float
    n_sticks: int
    fit: SpectrumFit
    table: pd.DataFrame
    zoom_mz: tuple[float, float]
    #: how the file's sticks were read (qc.tsv ``centroid_intensity``): area or height
    centroid_intensity: str = "area"

    def record(self) -> dict:
        f = self.fit
        return {
            "spectrum_index": self.index, "native_id": self.native_id,
            "time_min": self.time_min, "residual_norm": float(f.residual_norm),
            "shift_ppm": float(f.shift_ppm), "resolving_power": float(f.resolving_power),
            "mode": "centroid", "n_sticks": self.n_sticks, "zoom_mz": list(self.zoom_mz),
            "centroid_intensity": self.centroid_intensity,
        }  # fmt: skip


def stick_qc(mz, intensity, qc_row, basis: PatternBasis, settings: DeconvolutionSettings,
             index: int) -> StickQc:  # fmt: skip
    """Refit one peak list on ``basis`` at the spectrum's resolving power and shift
    (``qc_row``) and shape it for the stick QC figure; the zoom is centred on the largest
    observed window. The sticks are read as the deconvolution read them (``qc_row``'s
    ``centroid_intensity``: heights are converted to areas first)."""

    n_sticks = int(np.size(mz))
    r = float(qc_row["resolving_power"])
    intensity_kind = str(qc_row.get("centroid_intensity", "area"))
    reading = StickReading("height" if intensity_kind == "height" else "area", "qc.tsv", r)
    fit = reading.fit(mz, intensity, basis, float(qc_row["shift_ppm"]), settings.max_shift_ppm)
    mz, intensity = reading.areas(mz, intensity)
    table = fitted_sticks(mz, intensity, fit, basis)
    strongest = float(table.loc[table["observed"].idxmax(), "mz"]) if len(table) else 0.0
    zoom = (strongest - ZOOM_HALF_WIDTH, strongest + ZOOM_HALF_WIDTH)
    return StickQc(int(index), str(qc_row["native_id"]), float(qc_row["time_min"]), n_sticks,
                   fit, table, zoom, reading.intensity)  # fmt: skip
