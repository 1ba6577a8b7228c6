"""Rule deconvolve: mzML -> abundances of the ion forms and of the observables, QC, run.json,
CID fragment distributions."""

import logging

from intercluster.deconvolution import deconvolve_cid_run, empty_cid_table
from intercluster.frameworks import deconvolve_run_ion_forms, ion_form_basis, write_run_outputs
from intercluster.ingest import bin_spectra, dead_time_problem, read_spectra
from intercluster.io import write_tsv
from intercluster.rule_script import run
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import monomer_mz_span
from intercluster.system import ClusterSystem, load_system

log = logging.getLogger("intercluster")


def main(smk):
    system_file = load_system(smk.params.system)
    system = ClusterSystem.from_config(smk.params.cluster)
    settings = DeconvolutionSettings.from_config(smk.params.deconvolution)
    polarity = system_file.polarity
    basis = ion_form_basis(system_file)

    spectra = read_spectra(
        smk.input.mzml, ms_level=1, polarity=polarity, mz_required=basis.mz_span
    )
    _, warning = dead_time_problem(spectra, smk.params.dead_time_s)  # refused before any job
    warnings = [f"{smk.input.mzml}: sample {smk.wildcards.sample}: {warning}"] if warning else []
    for line in warnings:
        log.warning("%s", line)
    spectra = bin_spectra(spectra, settings.time_bin_min)
    ion_forms, intensities, qc, resolving_power = deconvolve_run_ion_forms(
        spectra, system_file, settings
    )
    log.info("%d spectra x %d ion forms, R %.0f, residual norm median %.3g", len(qc),
             basis.n_cols, resolving_power, qc["residual_norm"].median())  # fmt: skip
    write_run_outputs(smk.wildcards.sample, spectra, system_file, ion_forms, qc,
                      smk.output.ion_forms, smk.output.qc, smk.output.run,
                      warnings)  # fmt: skip
    write_tsv(intensities, smk.output.intensities)

    cid_files = smk.input.get("cid", [])
    cid_files = [cid_files] if isinstance(cid_files, str) else list(cid_files)
    if cid_files:
        cid_run = read_spectra(
            cid_files[0], ms_level=2, polarity=polarity, mz_required=monomer_mz_span(system)
        )
        # the MS1 file's reading of its sticks, if centroid (same instrument and exporter)
        ms1_reading = qc["centroid_intensity"].iloc[0] if len(qc) else "-"
        cid = deconvolve_cid_run(cid_run, system, resolving_power, settings,
                                 ms1_reading if ms1_reading != "-" else None,
                                 float(qc["peak_tail"].iloc[0]) if len(qc) else 0.0)  # fmt: skip
    else:
        log.info("the sample sheet names no CID file: cid.tsv gets the header only")
        cid = empty_cid_table()
    write_tsv(cid, smk.output.cid)


run(main)
