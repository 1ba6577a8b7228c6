"""Beyond the paper: one spectrum with its deconvolution (data, fit, residual, species)."""

import logging

import numpy as np

from intercluster import figures
from intercluster.deconvolution import fit_prepared, observable_basis, prepare_spectrum
from intercluster.ingest import bin_spectra, read_spectra
from intercluster.io import read_tsv
from intercluster.records import read_synthetic
from intercluster.rule_script import run
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_model import fitted_spectrum
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    settings = DeconvolutionSettings.from_config(smk.params.deconvolution)
    qc = read_tsv(smk.input.qc)
    # Recorded once by the deconvolution, from the mzML itself.
    synthetic = read_synthetic(smk.input.run)
    # The QC spectrum: the one the deconvolution fitted worst (largest relative residual).
    pick = int(np.nanargmax(qc["residual_norm"].to_numpy(float)))
    row = qc.iloc[pick]
    spectra = read_spectra(smk.input.mzml, ms_level=1, polarity=system.polarity)
    if settings.time_bin_min > 0:
        spectra = bin_spectra(spectra, settings.time_bin_min)
    if len(spectra) != len(qc):
        raise ValueError(f"{smk.input.mzml}: {len(spectra)} spectra, but qc.tsv has {len(qc)} rows")
    dpi = int(smk.params.figures["dpi"])
    if spectra.mode == "centroid":
        # A peak list: the same stick fit as the deconvolution's, shown window by window.
        from intercluster.centroid import fit_sticks, fitted_sticks

        basis = observable_basis(system)
        mz, y = spectra.mz[pick], spectra.intensity[pick]
        fit = fit_sticks(mz, y, basis, float(row["resolving_power"]), float(row["shift_ppm"]),
                         settings.max_shift_ppm)  # fmt: skip
        table = fitted_sticks(mz, y, fit, basis)
        strongest = float(table.loc[table["observed"].idxmax(), "mz"]) if len(table) else 0.0
        zoom = (strongest - 5.0, strongest + 5.0)
        title = (
            f"Deconvolution QC — {sample['label']}\nworst-fitted spectrum: {pick + 1} of {len(qc)} "
            f"(t = {row['time_min']:.2f} min), residual norm {fit.residual_norm:.3f}, "
            f"shift {fit.shift_ppm:.2f} ppm, R = {fit.resolving_power:.0f} (window width)\n"
            f"centroid spectrum: {mz.size} sticks, stick fit"
        )
        fig = figures.figure_stick_qc(table, title, zoom, synthetic)
        record = {
            "figure": "deconvolution_qc", "sample": sample, "spectrum_index": pick,
            "native_id": str(row["native_id"]), "time_min": float(row["time_min"]),
            "residual_norm": float(fit.residual_norm),
            "qc_residual_norm": float(row["residual_norm"]), "shift_ppm": float(fit.shift_ppm),
            "resolving_power": float(fit.resolving_power), "mode": "centroid",
            "zoom_mz": list(zoom), "synthetic": synthetic,
        }  # fmt: skip
        figures.save_outputs(fig, smk.output, "qc", dpi, record)
    else:
        # The refit treats the spectrum's gaps as the deconvolution did (same window, same gaps).
        windows = getattr(spectra, "scan_windows", None)
        gaps = settings.gaps
        spectrum = prepare_spectrum(
            spectra.mz[pick], spectra.intensity[pick],
            windows[pick] if windows is not None else None, gaps,
        )  # fmt: skip
        basis = observable_basis(system)
        r_slope = float(row["resolving_power_slope"]) if "resolving_power_slope" in row else 0.0
        mz_ref = float(row["resolving_power_mz_ref"]) if "resolving_power_mz_ref" in row else 0.0
        fit = fit_prepared(
            spectrum,
            basis,
            float(row["resolving_power"]),
            float(row["shift_ppm"]),
            settings.max_shift_ppm,
            r_slope=r_slope,
            mz_ref=mz_ref,
        )
        # The features no species explains, as the deconvolution found them (its robust pass).
        marked = str(row["unexplained_mz"]) if "unexplained_mz" in row else ""
        unexplained = [float(v) for v in marked.split(";") if v and v != "nan"]
        mz, y = spectrum.mz, spectrum.y
        model, species, parts = fitted_spectrum(
            mz, fit, basis, components=True, width=spectrum.width
        )
        measured = spectrum.written
        log.info(
            "spectrum %s (t = %.3f min): refit residual %.4g (qc.tsv %.4g), shift %.3f ppm, "
            "R %.0f, %s, coverage %.3f, detection level %.4g",
            row["native_id"],
            row["time_min"],
            fit.residual_norm,
            row["residual_norm"],
            fit.shift_ppm,
            fit.resolving_power,
            spectrum.mode,
            spectrum.coverage,
            spectrum.detection_level,
        )
        sticks = species[species["abundance"] > 0].rename(columns={"peak_height": "intensity"})
        # Zoom: +-5 Th around the strongest monomer, where it and the dimer ion [A_2m B_(2N-2m)]2-
        # share a nominal m/z (isotope spacing 1 vs 0.5 Th).
        monomers = sticks[sticks["kind"] == "monomer"]
        strongest = monomers if len(monomers) else sticks
        centre = float(strongest.loc[strongest["intensity"].idxmax(), "mz"])
        if measured is not None:
            # Sparse: the zoom should show gaps too. Among the clearly fitted monomers (>= 10 % of
            # the strongest), the one whose +-5 Th has the share of written points nearest one
            # half.
            strong = strongest[strongest["intensity"] >= 0.1 * strongest["intensity"].max()]
            shares = [
                float(measured[(mz >= c - 5.0) & (mz <= c + 5.0)].mean()) for c in strong["mz"]
            ]
            centre = float(strong["mz"].iloc[int(np.argmin(np.abs(np.array(shares) - 0.5)))])
        zoom = (centre - 5.0, centre + 5.0)
        keep = (mz >= zoom[0]) & (mz <= zoom[1])
        local_max = float(y[keep].max()) if keep.any() else 0.0
        sampling = (
            f"{spectrum.mode} profile, coverage {100 * spectrum.coverage:.1f} % of the scan "
            "window, "
            + (
                f"detection level {spectrum.detection_level:.3g} counts (gaps: {gaps})"
                if spectrum.mode == "sparse"
                else "no gaps"
            )
        )
        components = {
            system.ion_label(int(species.loc[k, "n_first"]), int(species.loc[k, "subunits"])): (
                str(species.loc[k, "kind"]),
                part,
            )
            for k, part in parts.items()
            if keep.any() and part[keep].max() > 0.02 * local_max
        }
        title = (
            f"Deconvolution QC — {sample['label']}\nworst-fitted spectrum: {pick + 1} of {len(qc)} "
            f"(t = {row['time_min']:.2f} min), residual norm {fit.residual_norm:.3f}, "
            f"shift {fit.shift_ppm:.2f} ppm, R = {fit.resolving_power:.0f}"
            + (f" at m/z {mz_ref:.0f}, {100 * r_slope:+.1f} % per 1000 Th" if r_slope else "")
            + (f", unexplained {100 * float(row['unexplained_fraction']):.1f} % of the signal"
               if unexplained else "")
            + f"\n{sampling}"
        )  # fmt: skip
        fig = figures.figure_deconvolution_qc(
            mz, y, model, sticks, title, zoom, synthetic, system, components,
            measured=measured, detection_level=spectrum.detection_level,
            unexplained_mz=unexplained,
        )  # fmt: skip
        record = {
            "figure": "deconvolution_qc",
            "sample": sample,
            "spectrum_index": pick,
            "native_id": str(row["native_id"]),
            "time_min": float(row["time_min"]),
            "residual_norm": float(fit.residual_norm),
            "qc_residual_norm": float(row["residual_norm"]),
            "shift_ppm": float(fit.shift_ppm),
            "resolving_power": float(fit.resolving_power),
            "resolving_power_slope": r_slope,
            "unexplained_mz": unexplained,
            "mode": spectrum.mode,
            "coverage": float(spectrum.coverage),
            "detection_level": float(spectrum.detection_level),
            "gaps": gaps,
            "zoom_mz": list(zoom),
            "synthetic": synthetic,
        }
        figures.save_outputs(fig, smk.output, "qc", dpi, record)


run(main)
