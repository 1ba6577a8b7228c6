# Input functions and targets of the fit and plausibility rules (workflow/rules/fit.smk).

from types import SimpleNamespace

# Every fit: each sample on its own, then all samples jointly (JOINT_SAMPLE).
FITS = list(SAMPLES) + [JOINT_SAMPLE]


# --- one job per model for the per-fit stages --------------------------------------------
# fit_chi2, fit_zoom, fit_best, simulate_best and plausibility each run one job per model that
# handles every fit of that model in turn (one process start-up instead of five; the work of
# a fit is seconds). The rule's outputs are its per-fit outputs expanded over FITS; params.per_item
# gives each fit its own inputs, outputs and params (intercluster.rule_script.items).


def fit_items(inputs=None, outputs=None, params=None):
    """params.per_item of a per-model rule: every fit of the job's model (stage_items)."""
    return stage_items(
        lambda wildcards: {s: {"fit_sample": s} for s in FITS}, inputs, outputs, params
    )


def per_fit(pattern):
    """A per-fit output pattern expanded over every fit, for one model's job."""
    return expand(pattern.replace("{model}", "{{model}}"), fit_sample=FITS)


# --- input functions -------------------------------------------------------------------


def samples_of_fit(fit_sample):
    """The samples a fit covers: one sample, or every sample for the joint fit."""
    return list(SAMPLES) if fit_sample == JOINT_SAMPLE else [fit_sample]


def fit_chunks_of(wildcards):
    """Every chunk table of every sample of the fit, sample by sample."""
    return [
        path
        for sample in samples_of_fit(wildcards.fit_sample)
        for path in gather.grid(
            f"results/fit/{sample}/model{wildcards.model}/chunks/{{scatteritem}}.parquet"
        )
    ]


def fit_chunks_by_sample(wildcards):
    """Sample -> its chunk tables (params of fit_chi2: which inputs belong to which sample)."""
    return {
        sample: gather.grid(
            f"results/fit/{sample}/model{wildcards.model}/chunks/{{scatteritem}}.parquet"
        )
        for sample in samples_of_fit(wildcards.fit_sample)
    }


ZOOM_ENABLED = bool(config["fit"]["zoom"]["enabled"])


def fit_zoom_of(wildcards):
    """The zoom's chi² table for fit_best, when fit.zoom is enabled."""
    if not ZOOM_ENABLED:
        return {}
    fit = f"results/fit/{wildcards.fit_sample}/model{wildcards.model}"
    return {"zoom": f"{fit}/zoom/chi2.parquet"}


def fit_experiments_of(wildcards):
    """Sample -> its intensities and experimental t_max tables, for every sample of the fit
    (params of the rules that read them; the inputs below list the same paths)."""
    return {
        s: {
            "intensities": f"results/deconvolution/{s}/intensities.tsv",
            "tmax": f"results/fit/{s}/tmax_experiment.tsv",
        }
        for s in samples_of_fit(wildcards.fit_sample)
    }


def fit_intensities_of(wildcards):
    """The deconvolved intensities of every sample of the fit (time grids)."""
    return [e["intensities"] for e in fit_experiments_of(wildcards).values()]


def fit_tmax_of(wildcards):
    """The experimental t_max tables of every sample of the fit."""
    return [e["tmax"] for e in fit_experiments_of(wildcards).values()]


def fit_samples_param(wildcards):
    return samples_of_fit(wildcards.fit_sample)


def fit_conditions_param(wildcards):
    """Sample -> its conditions, for every sample of the fit."""
    return {
        s: conditions_of(SimpleNamespace(sample=s))
        for s in samples_of_fit(wildcards.fit_sample)
    }


def best_simulation_outputs(wildcards):
    """Sample -> its trajectories and isomers files of rule simulate_best (the rule's outputs,
    keyed by sample)."""
    fit = f"results/fit/{wildcards.fit_sample}/model{wildcards.model}/best_simulation"
    return {
        s: {
            "trajectories": f"{fit}/{s}.tsv",
            "isomers": f"{fit}/{s}_isomers.parquet",
        }
        for s in SAMPLES
    }


def all_conditions_param(wildcards):
    """Sample -> its conditions, for every sample of the sheet."""
    return {s: conditions_of(SimpleNamespace(sample=s)) for s in SAMPLES}


# --- the per-fit items of the per-model rules (fit_items) ----------------------------------

CHI2_ITEMS = fit_items(
    inputs={
        "chunks": fit_chunks_of,
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    outputs={
        "chi2": "results/fit/{fit_sample}/model{model}/chi2.parquet",
        "residuals": "results/fit/{fit_sample}/model{model}/residuals.tsv",
    },
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "chunks_of": fit_chunks_by_sample,
    },
)
ZOOM_ITEMS = fit_items(
    inputs={
        "coarse": lambda w: f"results/fit/{w.fit_sample}/model{w.model}/chi2.parquet",
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    outputs={
        "tmax": "results/fit/{fit_sample}/model{model}/zoom/tmax.parquet",
        "chi2": "results/fit/{fit_sample}/model{model}/zoom/chi2.parquet",
        "residuals": "results/fit/{fit_sample}/model{model}/zoom/residuals.tsv",
    },
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "conditions": fit_conditions_param,
    },
)


def fit_trajectory_of(wildcards):
    """The trajectory objective's table for fit_best, when fit.objective is trajectory."""
    if config["fit"]["objective"] != "trajectory":
        return {}
    fit = f"results/fit/{wildcards.fit_sample}/model{wildcards.model}"
    return {"trajectory": f"{fit}/trajectory.parquet"}


BEST_ITEMS = fit_items(
    inputs={
        "**zoom": fit_zoom_of,
        "**trajectory": fit_trajectory_of,
        "chi2": lambda w: f"results/fit/{w.fit_sample}/model{w.model}/chi2.parquet",
        "chi2_weighted": lambda w: (
            f"results/fit/{w.fit_sample}/model{w.model}/chi2_weighted.parquet"
        ),
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    outputs={"best": "results/fit/{fit_sample}/model{model}/best.json"},
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "conditions": fit_conditions_param,
    },
)
SIMULATE_BEST_ITEMS = fit_items(
    inputs={"best": lambda w: f"results/fit/{w.fit_sample}/model{w.model}/best.json"},
    outputs={
        "trajectories": lambda w: [
            f"results/fit/{w.fit_sample}/model{w.model}/best_simulation/{s}.tsv"
            for s in SAMPLES
        ],
        "isomers": lambda w: [
            f"results/fit/{w.fit_sample}/model{w.model}/best_simulation/{s}_isomers.parquet"
            for s in SAMPLES
        ],
    },
    params={"outputs": best_simulation_outputs},
)
PLAUSIBILITY_ITEMS = fit_items(
    inputs={"best": lambda w: f"results/fit/{w.fit_sample}/model{w.model}/best.json"},
    outputs={"json": "results/plausibility/{fit_sample}/model{model}.json"},
    params={"conditions": fit_conditions_param},
)
# one job for every fit and model: reading two tables per sample is less than a start-up
DIMER_RESPONSE_ITEMS = stage_items(
    lambda wildcards: {
        f"{s}/model{m}": {"fit_sample": s, "model": str(m)}
        for s in FITS
        for m in FIT_MODELS
    },
    inputs={
        "intensities": fit_intensities_of,
        "trajectories": lambda w: [
            f"results/fit/{w.fit_sample}/model{w.model}/best_simulation/{s}.tsv"
            for s in samples_of_fit(w.fit_sample)
        ],
    },
    outputs={"tsv": "results/fit/{fit_sample}/model{model}/dimer_response.tsv"},
    params={"samples": fit_samples_param, "conditions": fit_conditions_param},
)


def fit_intensities_of_sample(wildcards):
    return f"results/deconvolution/{wildcards.sample}/intensities.tsv"


def fit_replicate_intensities_of(wildcards):
    """The intensities of the OTHER runs of the sample's condition (sheet column
    ``condition``; none when the sheet has no condition for it)."""
    condition = samples.loc[wildcards.sample, "condition"]
    if not condition:
        return []
    return [
        f"results/deconvolution/{s}/intensities.tsv"
        for s in SAMPLES
        if s != wildcards.sample and samples.loc[s, "condition"] == condition
    ]


def plausibility_jsons(wildcards):
    return expand(
        "results/plausibility/{fit_sample}/model{model}.json",
        fit_sample=SAMPLES + [JOINT_SAMPLE],
        model=FIT_MODELS,
    )


def fit_targets():
    """The fit's and plausibility's final outputs (for all_targets())."""
    fit_samples = SAMPLES + [JOINT_SAMPLE]
    targets = expand(
        "results/fit/{fit_sample}/model{model}/{name}",
        fit_sample=fit_samples,
        model=FIT_MODELS,
        name=["chi2.parquet", "best.json", "residuals.tsv"],
    )
    if ZOOM_ENABLED:
        targets += expand(
            "results/fit/{fit_sample}/model{model}/zoom/{name}",
            fit_sample=fit_samples,
            model=FIT_MODELS,
            name=["tmax.parquet", "chi2.parquet", "residuals.tsv"],
        )
    targets += expand(
        "results/plausibility/{fit_sample}/model{model}.json",
        fit_sample=fit_samples,
        model=FIT_MODELS,
    )
    targets.append("results/plausibility/summary.md")
    targets += expand(
        "results/fit/{fit_sample}/model{model}/dimer_response.tsv",
        fit_sample=fit_samples,
        model=FIT_MODELS,
    )
    # best fits simulated at their own samples' conditions (all samples for the joint fit)
    for fit_sample in fit_samples:
        for model in FIT_MODELS:
            for sample in samples_of_fit(fit_sample):
                base = f"results/fit/{fit_sample}/model{model}/best_simulation/{sample}"
                targets += [f"{base}.tsv", f"{base}_isomers.parquet"]
    return targets


def fit_nuisance_of(wildcards):
    """The nuisance alternatives' intensities (fit.uncertainty.nuisance_sigma), else none."""
    if not config["fit"]["uncertainty"]["nuisance_sigma"]:
        return []
    return f"results/deconvolution/{wildcards.sample}/nuisance.tsv"


TMAX_ITEMS = stage_items(
    lambda wildcards: {s: {"sample": s} for s in SAMPLES},
    inputs={
        "intensities": fit_intensities_of_sample,
        "replicates": fit_replicate_intensities_of,
        "nuisance": fit_nuisance_of,
    },
    outputs={"tmax": "results/fit/{sample}/tmax_experiment.tsv"},
)
