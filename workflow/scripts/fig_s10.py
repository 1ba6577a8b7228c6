"""Figure S10: the model's [Ag25Au25]2- isomer composition against CID fragments."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import pandas as pd  # noqa: E402

from intercluster import figures  # noqa: E402
from intercluster.io import read_json, read_tsv, write_json  # noqa: E402
from intercluster.system import ClusterSystem  # noqa: E402

smk = snakemake  # noqa: F821
system = ClusterSystem.from_config(smk.params.cluster)
sample = smk.params.sample
model = int(smk.params.model)
times = [float(t) for t in smk.params.figures["s10_times_min"]]
constants = figures.constants_of(read_json(smk.input.best))
cid = read_tsv(smk.input.cid).dropna(subset=["fraction"])
log.info("CID spectra at %s min", sorted(cid["time_min"].unique()))
fig = figures.figure_s10(
    pd.read_parquet(smk.input.isomers),
    cid,
    times,
    constants,
    model,
    system,
    synthetic=bool(sample["synthetic"]),
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "figS10",
        "sample": sample,
        "model": model,
        "constants": constants,
        "times_min": times,
        "cid_times_min": sorted(cid["time_min"].unique().tolist()),
        "synthetic": bool(sample["synthetic"]),
        "dpi": dpi,
        "size_px": figures.pixel_size("s10", dpi),
    },
    smk.output.params,
)
