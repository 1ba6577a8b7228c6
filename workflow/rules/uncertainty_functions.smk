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


# --- the items of the one-job rules (stage_items; fit_functions.smk: fit_items) ----------


def every_fit(pattern):
    """A per-fit path pattern expanded over every fit (outputs of a one-job rule)."""
    return expand(pattern, fit_sample=FITS)


def _each_fit(wildcards):
    return {s: {"fit_sample": s} for s in FITS}


def _each_fit_and_model(wildcards):
    return {
        f"{s}/model{m}": {"fit_sample": s, "model": str(m)}
        for s in FITS
        for m in FIT_MODELS
    }


WEIGHTED_ITEMS = fit_items(
    inputs={
        "chunks": fit_chunks_of,
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    outputs={"chi2": "results/fit/{fit_sample}/model{model}/chi2_weighted.parquet"},
    params={"experiments": fit_experiments_of, "chunks_of": fit_chunks_by_sample},
)
TMAX_RESIDUALS_ITEMS = stage_items(
    _each_fit,
    inputs={
        "residuals": lambda w: expand(
            f"results/fit/{w.fit_sample}/model{{model}}/residuals.tsv", model=FIT_MODELS
        ),
        "tmax": fit_tmax_of,
        "runs": fit_runs_of,
    },
    outputs={
        "png": f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.png",
        "pdf": f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.pdf",
        "params": f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.params.json",
    },
    params={"samples": fit_samples_param},
)
COMPARISON_ITEMS = stage_items(
    _each_fit,
    inputs={
        "weighted": lambda w: expand(
            f"results/fit/{w.fit_sample}/model{{model}}/chi2_weighted.parquet",
            model=FIT_MODELS,
        ),
        # the refined weighted optimum (fit.refine) at which goodness of fit is judged
        "best": lambda w: expand(
            f"results/fit/{w.fit_sample}/model{{model}}/best.json", model=FIT_MODELS
        ),
    },
    outputs={
        "tsv": "results/fit/{fit_sample}/model_comparison.tsv",
        "md": "results/fit/{fit_sample}/model_comparison.md",
    },
)
SBML_ITEMS = stage_items(
    _each_fit_and_model,
    inputs={"best": lambda w: f"results/fit/{w.fit_sample}/model{w.model}/best.json"},
    outputs={"sbml": "results/fit/{fit_sample}/model{model}/best.xml"},
    params={"conditions": fit_conditions_param},
)
