"""Rule framework_deconvolve: mzML -> ion-form intensities, framework summary, QC, run.json."""

import logging

from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.io import write_tsv
from intercluster.rule_script import run
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system

log = logging.getLogger("intercluster")


def main(smk):
    system = load_system(smk.params.system)
    settings = DeconvolutionSettings.from_config(smk.params.deconvolution)
    basis = fw.ion_form_basis(system)
    spectra = read_spectra(
        smk.input.mzml, ms_level=1, polarity=system.polarity, mz_required=basis.mz_span
    )
    forms, _, qc, _ = fw.deconvolve_run_ion_forms(spectra, system, settings)
    fw.write_run_outputs(smk.wildcards.sample, spectra, system, forms, qc,
                         smk.output.ion_forms, smk.output.qc, smk.output.run)  # fmt: skip
    write_tsv(fw.framework_summary(forms, system), smk.output.summary)
    log.info("%d spectra x %d ion forms; residual norm median %.3g", len(spectra), basis.n_cols,
             qc["residual_norm"].median())  # fmt: skip


run(main)
