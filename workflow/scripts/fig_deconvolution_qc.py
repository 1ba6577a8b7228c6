"""Beyond the paper: one spectrum (config ``figures.qc_spectrum``: the worst-fitted by
default, or the first, or the one nearest a time) with its deconvolution (data, fit, residual,
ion forms, unexplained features, R(m/z)), refitted as rule deconvolve fitted it."""

import logging

from intercluster import figures
from intercluster.deconvolution import prepare_spectrum
from intercluster.frameworks import ion_form_basis
from intercluster.ingest import bin_spectra, read_spectra
from intercluster.io import read_tsv
from intercluster.records import read_synthetic
from intercluster.rule_script import run
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_model import qc_spectrum, qc_spectrum_pick, stick_qc
from intercluster.system import ClusterSystem, load_system

log = logging.getLogger("intercluster")


def main(smk):
    system_file = load_system(smk.params.system)
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    settings = DeconvolutionSettings.from_config(smk.params.deconvolution)
    qc = read_tsv(smk.input.qc)
    synthetic = read_synthetic(smk.input.run)  # recorded once by the deconvolution
    # The basis the deconvolution fitted: every ion form of the system file, trimers included.
    basis = ion_form_basis(system_file)
    spectra = read_spectra(smk.input.mzml, ms_level=1, polarity=system_file.polarity,
                           mz_required=basis.mz_span)  # fmt: skip
    spectra = bin_spectra(spectra, settings.time_bin_min)
    if len(spectra) != len(qc):
        raise ValueError(f"{smk.input.mzml}: {len(spectra)} spectra, but qc.tsv has {len(qc)} rows")
    pick, which = qc_spectrum_pick(qc, smk.params.figures.get("qc_spectrum", "worst"))
    row = qc.iloc[pick]
    dpi = int(smk.params.figures["dpi"])
    head = (f"Deconvolution QC — {sample['label']}\n{which}: {pick + 1} of "
            f"{len(qc)} (t = {row['time_min']:.2f} min)")  # fmt: skip
    if spectra.mode == "centroid":
        view = stick_qc(spectra.mz[pick], spectra.intensity[pick], row, basis, settings, pick)
        fig = figures.figure_stick_qc(view.table, figures.stick_qc_title(head, view),
                                      view.zoom_mz, synthetic)  # fmt: skip
        record = {**view.record(), "qc_residual_norm": float(row["residual_norm"])}
    else:
        # The refit treats the spectrum's gaps as the deconvolution did (same window, same gaps).
        windows = getattr(spectra, "scan_windows", None)
        window = windows[pick] if windows else None
        levels = getattr(spectra, "detection_levels", None)
        prepared = prepare_spectrum(spectra.mz[pick], spectra.intensity[pick], window,
                                    settings.gaps, levels[pick] if levels else None)  # fmt: skip
        view = qc_spectrum(prepared, row, basis, settings, pick)
        log.info("spectrum %s (t = %.3f min): refit residual %.4g (qc.tsv %.4g), unexplained "
                 "%.4g (qc.tsv %.4g)", view.native_id, view.time_min, view.fit.residual_norm,
                 row["residual_norm"], view.fit.unexplained_fraction,
                 row["unexplained_fraction"])  # fmt: skip
        fig = figures.figure_deconvolution_qc_of(view, figures.qc_title(head, view), synthetic,
                                                 system)  # fmt: skip
        record = {**view.record(), "qc_residual_norm": float(row["residual_norm"]),
                  "qc_unexplained_fraction": float(row["unexplained_fraction"])}  # fmt: skip
    figures.save_outputs(fig, smk.output, "qc", dpi,
                         {"figure": "deconvolution_qc", "sample": sample, **record,
                          "synthetic": synthetic})  # fmt: skip


run(main)
