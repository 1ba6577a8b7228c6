"""Figure 3: experiment and models 1-3 as contour maps (best fits, or Table 1 constants)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import figures  # noqa: E402
from intercluster.io import read_json, read_tsv, write_json  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
sample = smk.params.sample
models = [int(m) for m in smk.params.models]
table1 = "constants" in smk.params.keys()
if table1:
    constants = [dict(smk.params.constants[f"model{m}"]) for m in models]
    source = "Table 1 constants"
else:
    constants = [figures.constants_of(read_json(path)) for path in smk.input.best]
    source = "best fit"
simulations = [read_tsv(path) for path in smk.input.simulations]
experiment = read_tsv(smk.input.experiment)
log.info("Figure 3 (%s) for %s, models %s: %s", source, sample["sample"], models, constants)
fig = figures.figure3(
    experiment,
    list(zip(models, constants, simulations, strict=True)),
    system,
    time_max_min=float(smk.params.figures["time_max_min"]),
    sample_label=sample["label"],
    synthetic=bool(sample["synthetic"]),
    constants_source=source,
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "fig3_table1" if table1 else "fig3_best_fit",
        "constants_source": source,
        "sample": sample,
        "models": {f"model{m}": c for m, c in zip(models, constants, strict=True)},
        "inputs": {"experiment": smk.input.experiment, "simulations": list(smk.input.simulations)},
        "synthetic": bool(sample["synthetic"]),
        "dpi": dpi,
        "size_px": figures.pixel_size("fig3", dpi),
    },
    smk.output.params,
)
