# Settings and targets of the uncertainty rules (workflow/rules/uncertainty.smk).

COVERAGE = config["fit"]["uncertainty"]["coverage"]
COVERAGE_SAMPLE = COVERAGE["sample"] or config["figures"]["main_sample"]
COVERAGE_DIR = "results/uncertainty/coverage"


def uncertainty_targets():
    """The uncertainty stage's outputs in the default target (the weighted tables are
    inputs of fit_best already)."""
    targets = expand(
        f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.{{ext}}",
        fit_sample=FIT_SAMPLES,
        ext=["png", "pdf"],
    )
    targets += expand(
        "results/fit/{fit_sample}/model_comparison.{ext}",
        fit_sample=FIT_SAMPLES,
        ext=["tsv", "md"],
    )
    targets += expand(
        "results/fit/{fit_sample}/model{model}/best.xml",
        fit_sample=FIT_SAMPLES,
        model=FIT_MODELS,
    )
    return targets
