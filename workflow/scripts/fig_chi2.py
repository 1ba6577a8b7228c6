"""Beyond the paper: chi² slices through each model's best grid point."""

import pandas as pd

from intercluster import figures
from intercluster.records import read_best_fit
from intercluster.rule_script import items, run
from intercluster.settings import FiguresSettings


def figure_one(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    files = smk.params.files  # model -> chi2, best and (with fit.zoom) zoom
    models = [int(m) for m in files]
    landscapes = [
        (int(m), pd.read_parquet(f["chi2"]), read_best_fit(f["best"]),
         pd.read_parquet(f["zoom"]) if "zoom" in f else None)
        for m, f in files.items()
    ]  # fmt: skip
    fit_sample = smk.wildcards.fit_sample
    fig = figures.figure_chi2(landscapes, fit_sample, bool(smk.params.synthetic))
    record = {
        "figure": "chi2_landscape",
        "fit_sample": fit_sample,
        "models": models,
        "best": {f"model{m}": b.constants.to_dict() for m, _, b, _ in landscapes},
        "zoom": any(z is not None for *_, z in landscapes),
        "synthetic": bool(smk.params.synthetic),
    }
    figures.save_outputs(fig, smk.output, "chi2", settings.dpi, record, len(models))


def main(smk):
    for one in items(smk):  # every fit (params.per_item)
        figure_one(one)


run(main)
