"""Figure S5: [Ag25Au25]2- against time (experiment, model sum) and the model's isomers."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import pandas as pd  # noqa: E402

from intercluster import figures  # noqa: E402
from intercluster.io import read_json, read_tsv, write_json  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
sample = smk.params.sample
constants = figures.constants_of(read_json(smk.input.best))
fig = figures.figure_s5(
    read_tsv(smk.input.experiment),
    read_tsv(smk.input.simulation),
    pd.read_parquet(smk.input.isomers),
    constants,
    model_number=int(smk.params.model),
    system=system,
    time_max_min=float(smk.params.figures["time_max_min"]),
    synthetic=bool(sample["synthetic"]),
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "figS5",
        "sample": sample,
        "model": int(smk.params.model),
        "constants": constants,
        "synthetic": bool(sample["synthetic"]),
        "dpi": dpi,
        "size_px": figures.pixel_size("s5", dpi),
    },
    smk.output.params,
)
