"""Beyond the paper: t_max residuals of each model's best grid point with σ(t_max)."""

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    models = [int(m) for m in smk.params.models]
    tmax = {s: read_tsv(p) for s, p in zip(smk.params.samples, smk.input.tmax, strict=True)}
    per_model = [(m, figures.tmax_residual_frame(read_tsv(p), tmax))
                 for m, p in zip(models, smk.input.residuals, strict=True)]  # fmt: skip
    fig = figures.figure_tmax_residuals(per_model, smk.wildcards.fit_sample,
                                        bool(smk.params.synthetic))  # fmt: skip
    record = {
        "figure": "tmax_residuals",
        "fit_sample": smk.wildcards.fit_sample,
        "models": models,
        "chi2_weighted_at_best": {f"model{m}": float((f["z"] ** 2).sum()) for m, f in per_model},
        "synthetic": bool(smk.params.synthetic),
    }
    figures.save_outputs(fig, smk.output, "tmax_residuals", settings.dpi, record, len(models))


run(main)
