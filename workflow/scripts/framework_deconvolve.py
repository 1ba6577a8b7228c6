"""Rule framework_deconvolve: mzML -> ion-form intensities, framework summary, QC, run.json."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821 - injected by Snakemake

from intercluster import frameworks as fw  # noqa: E402
from intercluster.ingest import read_spectra  # noqa: E402
from intercluster.io import write_json, write_tsv  # noqa: E402
from intercluster.system import load_system  # noqa: E402

sm = snakemake  # noqa: F821
system = load_system(sm.params.system)
cfg = sm.params.deconvolution
basis = fw.ion_form_basis(system)
run = read_spectra(sm.input.mzml, ms_level=1, polarity=system.polarity, mz_required=basis.mz_span)
forms, _, qc, _ = fw.deconvolve_run_ion_forms(
    run, system, resolving_power_guess=float(cfg["resolving_power_guess"]),
    fit_resolution=bool(cfg.get("fit_resolving_power", True)),
    max_shift_ppm=float(cfg["max_shift_ppm"]), gaps=str(cfg.get("gaps", "censor")),
)  # fmt: skip
summary = fw.framework_summary(forms, system)
write_tsv(forms, sm.output.ion_forms)
write_tsv(summary, sm.output.summary)
write_tsv(qc, sm.output.qc)
# Whether the data are synthetic is recorded here, once, from the file itself.
write_json({"sample": sm.wildcards.sample, "synthetic": bool(run.synthetic),
            "system": system.name, "mode": run.mode, "n_spectra": len(run),
            "n_ion_forms": basis.n_cols}, sm.output.run)  # fmt: skip
log.info("%d spectra x %d ion forms; residual norm median %.3g", len(run), basis.n_cols,
         qc["residual_norm"].median())  # fmt: skip
