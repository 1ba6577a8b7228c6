# Settings, batched stages and targets of the uncertainty rules (workflow/rules/uncertainty.smk).
# Paths: PATHS (paths.smk); the inputs of a fit: common.smk.

COVERAGE = config["fit"]["uncertainty"]["coverage"]
COVERAGE_SAMPLE = COVERAGE["sample"] or config["figures"]["main_sample"]


# --- batched stages (stage(), common.smk): one job for every fit (and model) -----------------

TMAX_RESIDUALS = stage(
    "figure_tmax_residuals",
    each_fit(),
    inputs={
        "residuals": lambda w: expand(
            fill(PATHS.residuals, fit_sample=w.fit_sample), model=FIT_MODELS
        ),
        "tmax": fit_tmax_of,
        "runs": fit_runs_of,
    },
    outputs={
        "png": figure("tmax_residuals_{fit_sample}", "png"),
        "pdf": figure("tmax_residuals_{fit_sample}", "pdf"),
        "params": figure("tmax_residuals_{fit_sample}", "params.json"),
    },
    params={"samples": fit_samples_param},
)
MODEL_COMPARISON = stage(
    "model_comparison",
    each_fit(),
    inputs={
        "weighted": lambda w: expand(
            fill(PATHS.chi2_weighted, fit_sample=w.fit_sample), model=FIT_MODELS
        ),
        # the refined weighted optimum (fit.refine) at which goodness of fit is judged
        "best": lambda w: expand(
            fill(PATHS.best, fit_sample=w.fit_sample), model=FIT_MODELS
        ),
        # model 4's row, as its own fit recorded it (the joint fit only; fit.models lists 4)
        "model4": lambda w: (
            [MODEL4_RECORD] if FIT_MODEL4 and w.fit_sample == JOINT_SAMPLE else []
        ),
    },
    outputs={"tsv": PATHS.model_comparison_tsv, "md": PATHS.model_comparison_md},
)
BEST_SBML = stage(
    "best_fit_sbml",
    each_fit_and_model(),
    inputs={"best": PATHS.best},
    outputs={"sbml": PATHS.best_sbml},
    params={"conditions": fit_conditions_param},
)


def uncertainty_targets():
    """The uncertainty stage's outputs in the default target (the weighted tables are
    inputs of fit_best already)."""
    targets = [
        figure(f"tmax_residuals_{s}", ext) for s in FITS for ext in ("png", "pdf")
    ]
    targets += MODEL_COMPARISON.targets("tsv", "md")
    return targets + BEST_SBML.targets()
