"""Beyond the paper: one spectrum with its deconvolution (data, fit, residual, species)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402

from intercluster import figures  # noqa: E402
from intercluster.deconvolution import fit_spectrum, observable_basis  # noqa: E402
from intercluster.ingest import bin_spectra, read_spectra  # noqa: E402
from intercluster.io import read_tsv, write_json  # noqa: E402
from intercluster.spectrum_model import fitted_spectrum  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
sample = smk.params.sample
settings = smk.params.deconvolution
qc = read_tsv(smk.input.qc)
# The QC spectrum: the one the deconvolution fitted worst (largest relative residual).
pick = int(np.nanargmax(qc["residual_norm"].to_numpy(float)))
row = qc.iloc[pick]
polarity = "negative" if system.monomer_charge < 0 else "positive"
run = read_spectra(smk.input.mzml, ms_level=1, polarity=polarity)
if float(settings.get("time_bin_min", 0) or 0) > 0:
    run = bin_spectra(run, float(settings["time_bin_min"]))
if len(run) != len(qc):
    raise ValueError(f"{smk.input.mzml}: {len(run)} spectra, but qc.tsv has {len(qc)} rows")
mz, y = np.asarray(run.mz[pick], float), np.asarray(run.intensity[pick], float)
basis = observable_basis(system)
fit = fit_spectrum(
    mz,
    y,
    basis,
    float(row["resolving_power"]),
    float(row["shift_ppm"]),
    float(settings["max_shift_ppm"]),
)
model, species, parts = fitted_spectrum(mz, fit, basis, components=True)
log.info(
    "spectrum %s (t = %.3f min): refit residual %.4g (qc.tsv %.4g), shift %.3f ppm, R %.0f",
    row["native_id"],
    row["time_min"],
    fit.residual_norm,
    row["residual_norm"],
    fit.shift_ppm,
    fit.resolving_power,
)
sticks = species[species["abundance"] > 0].rename(columns={"peak_height": "intensity"})
# Zoom: +-5 Th around the strongest monomer, where it and the dimer ion [A_2m B_(2N-2m)]2-
# share a nominal m/z (isotope spacing 1 vs 0.5 Th).
monomers = sticks[sticks["kind"] == "monomer"]
strongest = monomers if len(monomers) else sticks
centre = float(strongest.loc[strongest["intensity"].idxmax(), "mz"])
zoom = (centre - 5.0, centre + 5.0)
keep = (mz >= zoom[0]) & (mz <= zoom[1])
local_max = float(y[keep].max()) if keep.any() else 0.0
components = {
    system.ion_label(int(species.loc[k, "n_ag"]), int(species.loc[k, "subunits"])): (
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
)
fig = figures.figure_deconvolution_qc(
    mz, y, model, sticks, title, zoom, bool(sample["synthetic"]), system, components
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "deconvolution_qc",
        "sample": sample,
        "spectrum_index": pick,
        "native_id": str(row["native_id"]),
        "time_min": float(row["time_min"]),
        "residual_norm": float(fit.residual_norm),
        "qc_residual_norm": float(row["residual_norm"]),
        "shift_ppm": float(fit.shift_ppm),
        "resolving_power": float(fit.resolving_power),
        "zoom_mz": list(zoom),
        "synthetic": bool(sample["synthetic"]),
        "dpi": dpi,
        "size_px": figures.pixel_size("qc", dpi),
    },
    smk.output.params,
)
