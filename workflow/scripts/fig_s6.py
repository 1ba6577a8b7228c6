"""Figure S6: near-equilibrium monomer and dimer distributions against binomials."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import figures  # noqa: E402
from intercluster.io import read_tsv, write_json  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
window = float(smk.params.figures["equilibrium_window_min"])
entries = [
    figures.SampleDistribution(
        info["sample"],
        float(info["ag_fraction"]),
        read_tsv(path),
        bool(info["synthetic"]),
        info["label"],
    )
    for info, path in zip(smk.params.samples, smk.input.experiments, strict=True)
]
fig = figures.figure_s6(entries, system, window)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "figS6",
        "samples": list(smk.params.samples),
        "equilibrium_window_min": window,
        "synthetic": any(e.synthetic for e in entries),
        "dpi": dpi,
        "size_px": figures.pixel_size("s6", dpi, len(entries)),
    },
    smk.output.params,
)
