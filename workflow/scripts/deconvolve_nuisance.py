"""Rule deconvolve_nuisance (fit.uncertainty.nuisance_sigma): every run deconvolved again
under the alternatives of its nuisance choices (intercluster.nuisance_sigma)."""

import logging

from intercluster.frameworks import deconvolve_run_ion_forms, ion_form_basis
from intercluster.ingest import bin_spectra, read_spectra
from intercluster.io import write_tsv
from intercluster.nuisance_sigma import nuisance_intensities
from intercluster.rule_script import run
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system

log = logging.getLogger("intercluster")


def main(smk):
    system_file = load_system(smk.params.system)
    settings = DeconvolutionSettings.from_config(smk.params.deconvolution)
    spectra = read_spectra(smk.input.mzml, ms_level=1, polarity=system_file.polarity,
                           mz_required=ion_form_basis(system_file).mz_span)  # fmt: skip
    spectra = bin_spectra(spectra, settings.time_bin_min)

    def deconvolve(one_run, alternative):
        return deconvolve_run_ion_forms(one_run, system_file, alternative)[1]

    table = nuisance_intensities(spectra, settings, deconvolve)
    log.info("%s: nuisance alternatives %s", smk.wildcards.sample,
             sorted(table["nuisance"].unique()))  # fmt: skip
    write_tsv(table, smk.output.nuisance)


run(main)
