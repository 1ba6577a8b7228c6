"""Rule deconvolve: mzML -> abundances of the ion forms and of the observables, QC, run.json,
CID fragment distributions."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821 - injected by Snakemake

from intercluster.deconvolution import (  # noqa: E402
    deconvolve_cid_run,
    empty_cid_table,
    monomer_mz_span,
)
from intercluster.frameworks import deconvolve_run_ion_forms, ion_form_basis  # noqa: E402
from intercluster.ingest import bin_spectra, read_spectra  # noqa: E402
from intercluster.io import write_json, write_tsv  # noqa: E402
from intercluster.system import ClusterSystem, load_system  # noqa: E402

sm = snakemake  # noqa: F821
system_file = load_system(sm.params.system)
system = ClusterSystem.from_config(sm.params.cluster)
cfg = sm.params.deconvolution
polarity = system_file.polarity
basis = ion_form_basis(system_file)

run = read_spectra(sm.input.mzml, ms_level=1, polarity=polarity, mz_required=basis.mz_span)
run = bin_spectra(run, float(cfg.get("time_bin_min", 0) or 0))
ion_forms, intensities, qc, resolving_power = deconvolve_run_ion_forms(
    run,
    system_file,
    resolving_power_guess=float(cfg["resolving_power_guess"]),
    fit_resolution=bool(cfg.get("fit_resolving_power", True)),
    max_shift_ppm=float(cfg["max_shift_ppm"]),
    gaps=str(cfg.get("gaps", "censor")),
    normalise_over=str(cfg["normalise_over"]),
    resolving_power_model=str(cfg["resolving_power_model"]),
    robust=bool(cfg["robust"]),
)
log.info("%d spectra x %d ion forms, R %.0f, residual norm median %.3g", len(qc), basis.n_cols,
         resolving_power, qc["residual_norm"].median())  # fmt: skip
write_tsv(ion_forms, sm.output.ion_forms)
write_tsv(intensities, sm.output.intensities)
write_tsv(qc, sm.output.qc)
# Whether the data are synthetic is recorded here, once, from the file itself.
write_json({"sample": sm.wildcards.sample, "synthetic": bool(run.synthetic),
            "system": system_file.name, "mode": run.mode, "n_spectra": len(run),
            "n_ion_forms": basis.n_cols}, sm.output.run)  # fmt: skip

cid_files = sm.input.get("cid", [])
cid_files = [cid_files] if isinstance(cid_files, str) else list(cid_files)
if cid_files:
    cid_run = read_spectra(
        cid_files[0], ms_level=2, polarity=polarity, mz_required=monomer_mz_span(system)
    )
    cid = deconvolve_cid_run(cid_run, system, resolving_power, float(cfg["max_shift_ppm"]),
                             gaps=str(cfg.get("gaps", "censor")))  # fmt: skip
else:
    log.info("the sample sheet names no CID file: cid.tsv gets the header only")
    cid = empty_cid_table()
write_tsv(cid, sm.output.cid)
