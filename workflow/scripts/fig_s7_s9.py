"""Figures S7-S9: one further mixing ratio, experiment against model 3 (figS7, figS8, figS9:
the further samples in sheet order)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import figures  # noqa: E402
from intercluster.io import read_json, read_tsv, write_json  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
sample = smk.params.sample
model = int(smk.params.model)
constants = figures.constants_of(read_json(smk.input.best))
fig = figures.figure_s7_9(
    read_tsv(smk.input.experiment),
    read_tsv(smk.input.simulation),
    constants,
    float(sample["ag_fraction"]),
    system,
    sample_label=sample["label"],
    time_max_min=float(smk.params.figures["time_max_min"]),
    synthetic=bool(sample["synthetic"]),
    model_number=model,
    figure_name=figures.s7_s9_title(str(smk.params.figure)),
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": str(smk.params.figure),
        "sample": sample,
        "model": model,
        "constants": constants,
        "constants_fitted_to": smk.params.fit_sample,
        "synthetic": bool(sample["synthetic"]),
        "dpi": dpi,
        "size_px": figures.pixel_size("s7_9", dpi),
    },
    smk.output.params,
)
