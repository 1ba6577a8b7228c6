"""Beyond the paper: chi² slices through each model's best grid point."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import pandas as pd  # noqa: E402

from intercluster import figures  # noqa: E402
from intercluster.io import read_json, write_json  # noqa: E402

smk = snakemake  # noqa: F821
models = [int(m) for m in smk.params.models]
zooms = list(smk.input.zoom) if "zoom" in smk.input.keys() else [None] * len(models)
landscapes = [
    (m, pd.read_parquet(chi2), read_json(best), pd.read_parquet(zoom) if zoom else None)
    for m, chi2, best, zoom in zip(models, smk.input.chi2, smk.input.best, zooms, strict=True)
]
fit_sample = smk.wildcards.fit_sample
fig = figures.figure_chi2(landscapes, fit_sample, bool(smk.params.synthetic))
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "chi2_landscape",
        "fit_sample": fit_sample,
        "models": models,
        "best": {f"model{m}": figures.constants_of(b) for m, _, b, _ in landscapes},
        "zoom": any(z is not None for *_, z in landscapes),
        "synthetic": bool(smk.params.synthetic),
        "dpi": dpi,
        "size_px": figures.pixel_size("chi2", dpi, len(models)),
    },
    smk.output.params,
)
