"""Beyond the paper: chi² slices through each model's best grid point."""

import pandas as pd

from intercluster import figures
from intercluster.records import read_best_fit, read_synthetic
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    models = [int(m) for m in smk.params.models]
    zooms = list(smk.input.zoom) if "zoom" in smk.input.keys() else [None] * len(models)
    landscapes = [
        (m, pd.read_parquet(chi2), read_best_fit(best), pd.read_parquet(zoom) if zoom else None)
        for m, chi2, best, zoom in zip(models, smk.input.chi2, smk.input.best, zooms, strict=True)
    ]
    fit_sample = smk.wildcards.fit_sample
    synthetic = read_synthetic(smk.input.runs)  # the run.json of the fit's samples
    fig = figures.figure_chi2(landscapes, fit_sample, synthetic)
    record = {
        "figure": "chi2_landscape",
        "fit_sample": fit_sample,
        "models": models,
        "best": {f"model{m}": b.constants.to_dict() for m, _, b, _ in landscapes},
        "zoom": any(z is not None for *_, z in landscapes),
        "synthetic": synthetic,
    }
    figures.save_outputs(fig, smk.output, "chi2", settings.dpi, record, len(models))


run(main)
