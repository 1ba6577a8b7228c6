"""Rule framework_deconvolve: mzML -> ion-form intensities, framework summary, QC, run.json."""

import logging

from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.io import write_json, write_tsv
from intercluster.rule_script import run
from intercluster.system import load_system

log = logging.getLogger("intercluster")


def main(smk):
    system = load_system(smk.params.system)
    cfg = smk.params.deconvolution
    basis = fw.ion_form_basis(system)
    spectra = read_spectra(
        smk.input.mzml, ms_level=1, polarity=system.polarity, mz_required=basis.mz_span
    )
    forms, _, qc, _ = fw.deconvolve_run_ion_forms(
        spectra, system, resolving_power_guess=float(cfg["resolving_power_guess"]),
        fit_resolution=bool(cfg.get("fit_resolving_power", True)),
        max_shift_ppm=float(cfg["max_shift_ppm"]), gaps=str(cfg.get("gaps", "censor")),
    )  # fmt: skip
    summary = fw.framework_summary(forms, system)
    write_tsv(forms, smk.output.ion_forms)
    write_tsv(summary, smk.output.summary)
    write_tsv(qc, smk.output.qc)
    # Whether the data are synthetic is recorded here, once, from the file itself.
    write_json({"sample": smk.wildcards.sample, "synthetic": bool(spectra.synthetic),
                "system": system.name, "mode": spectra.mode, "n_spectra": len(spectra),
                "n_ion_forms": basis.n_cols}, smk.output.run)  # fmt: skip
    log.info("%d spectra x %d ion forms; residual norm median %.3g", len(spectra), basis.n_cols,
             qc["residual_norm"].median())  # fmt: skip


run(main)
