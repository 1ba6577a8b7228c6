"""Beyond the paper: t_max residuals of each model's best grid point with σ(t_max)."""

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.records import read_synthetic
from intercluster.rule_script import items, run
from intercluster.settings import FiguresSettings


def draw_one(smk, settings):
    models = [int(m) for m in smk.params.models]
    tmax = {s: read_tsv(p) for s, p in zip(smk.params.samples, smk.input.tmax, strict=True)}
    per_model = [(m, figures.tmax_residual_frame(read_tsv(p), tmax))
                 for m, p in zip(models, smk.input.residuals, strict=True)]  # fmt: skip
    synthetic = read_synthetic(smk.input.runs)  # the run.json of the fit's samples
    fig = figures.figure_tmax_residuals(per_model, smk.wildcards.fit_sample, synthetic)
    record = {
        "figure": "tmax_residuals",
        "fit_sample": smk.wildcards.fit_sample,
        "models": models,
        "chi2_weighted_at_best": {f"model{m}": float((f["z"] ** 2).sum()) for m, f in per_model},
        "synthetic": synthetic,
    }
    figures.save_outputs(fig, smk.output, "tmax_residuals", settings.dpi, record, len(models))


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    for one in items(smk):  # every fit (params.per_item)
        draw_one(one, settings)


run(main)
