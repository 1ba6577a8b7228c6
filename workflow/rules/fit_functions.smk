# Input functions, batched stages and targets of the fit and plausibility rules
# (workflow/rules/fit.smk). Paths: PATHS (paths.smk); the inputs of a fit: common.smk.


# --- input functions -------------------------------------------------------------------


def fit_chunks_by_sample(wildcards):
    """Sample -> its chunk tables (params of fit_chi2: which inputs belong to which sample)."""
    return {
        sample: gather.grid(fill(PATHS.chunk, sample=sample, model=wildcards.model))
        for sample in samples_of_fit(wildcards.fit_sample)
    }


def fit_chunks_of(wildcards):
    """Every chunk table of every sample of the fit, sample by sample."""
    return [p for paths in fit_chunks_by_sample(wildcards).values() for p in paths]


def best_simulation_outputs(wildcards):
    """Sample -> its trajectories and isomers files of rule simulate_best (the rule's outputs,
    keyed by sample)."""
    fit = {"fit_sample": wildcards.fit_sample, "model": wildcards.model}
    return {
        s: {
            "trajectories": fill(PATHS.best_simulation, sample=s, **fit),
            "isomers": fill(PATHS.best_isomers, sample=s, **fit),
        }
        for s in SAMPLES
    }


def fit_best_inputs(wildcards):
    """fit_best's inputs of one fit: the zoom's chi² table (fit.zoom) and the trajectory
    objective's table (fit.objective: trajectory) only when they are asked for."""
    inputs = {}
    if ZOOM_ENABLED:
        inputs["zoom"] = PATHS.zoom_chi2
    if config["fit"]["objective"] == "trajectory":
        inputs["trajectory"] = PATHS.trajectory
    inputs.update(
        chi2=PATHS.chi2,
        chi2_weighted=PATHS.chi2_weighted,
        intensities=fit_intensities_of,
        tmax=fit_tmax_of,
    )
    return inputs


def fit_replicate_intensities_of(wildcards):
    """The intensities of the OTHER runs of the sample's condition (sheet column
    ``condition``; none when the sheet has no condition for it)."""
    condition = samples.loc[wildcards.sample, "condition"]
    if not condition:
        return []
    return [
        fill(PATHS.intensities, sample=s)
        for s in SAMPLES
        if s != wildcards.sample and samples.loc[s, "condition"] == condition
    ]


def fit_nuisance_of(wildcards):
    """The nuisance alternatives' intensities (fit.uncertainty.nuisance_sigma), else none."""
    if not config["fit"]["uncertainty"]["nuisance_sigma"]:
        return []
    return fill(PATHS.nuisance, sample=wildcards.sample)


# --- batched stages (stage(), common.smk) ----------------------------------------------------
# fit_chi2, fit_zoom, simulate_best and plausibility each run one job per model that handles
# every fit of that model in turn (one process start-up instead of one per fit; the work of a
# fit is about a second). fit_best is not batched (below).

PER_MODEL_JOB = {"model": FIT_MODELS}

# one job for every sample (a sample's t_max and σ take less than a start-up)
TMAX = stage(
    "fit_tmax_experiment",
    {s: {"sample": s} for s in SAMPLES},
    outputs={"tmax": PATHS.tmax_experiment},
    inputs={
        "intensities": PATHS.intensities,
        "replicates": fit_replicate_intensities_of,
        "nuisance": fit_nuisance_of,
    },
)
CHI2 = stage(
    "fit_chi2",
    each_fit(),
    jobs=PER_MODEL_JOB,
    # eq 1's chi2 and its residuals and the weighted chi2, from one pass over the chunks
    outputs={
        "chi2": PATHS.chi2,
        "residuals": PATHS.residuals,
        "chi2_weighted": PATHS.chi2_weighted,
    },
    inputs={
        "chunks": fit_chunks_of,
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "chunks_of": fit_chunks_by_sample,
    },
)
ZOOM = stage(
    "fit_zoom",
    each_fit(),
    jobs=PER_MODEL_JOB,
    outputs={
        "tmax": PATHS.zoom_tmax,
        "chi2": PATHS.zoom_chi2,
        "residuals": PATHS.zoom_residuals,
    },
    inputs={
        "coarse": PATHS.chi2,
        "intensities": fit_intensities_of,
        "tmax": fit_tmax_of,
    },
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "conditions": fit_conditions_param,
    },
)
# one job per fit and model: a fit's refinement, profiles and goodness of fit take 5-60 s,
# well above a start-up, and the fits of one model then share the cores
BEST = stage(
    "fit_best",
    ONE_ITEM,
    jobs={"fit_sample": FITS, "model": FIT_MODELS},
    outputs={"best": PATHS.best},
    inputs=fit_best_inputs,
    params={
        "samples": fit_samples_param,
        "experiments": fit_experiments_of,
        "conditions": fit_conditions_param,
    },
)
# every fit's best point simulated at every sample of the sheet
SIMULATE_BEST = stage(
    "simulate_best",
    each_fit(),
    jobs=PER_MODEL_JOB,
    within={"sample": SAMPLES},
    outputs={
        "trajectories": PATHS.best_simulation,
        "isomers": PATHS.best_isomers,
    },
    inputs={"best": PATHS.best},
    params={"outputs": best_simulation_outputs},
)
PLAUSIBILITY = stage(
    "plausibility",
    each_fit(),
    jobs=PER_MODEL_JOB,
    outputs={"json": PATHS.plausibility},
    inputs={"best": PATHS.best},
    params={"conditions": fit_conditions_param},
)
# one job for every fit and model: reading two tables per sample is less than a start-up
DIMER_RESPONSE = stage(
    "dimer_response",
    each_fit_and_model(),
    outputs={"tsv": PATHS.dimer_response},
    inputs={
        "intensities": fit_intensities_of,
        "trajectories": lambda w: of_fit_samples(
            PATHS.best_simulation, w.fit_sample, model=w.model
        ),
    },
    params={"samples": fit_samples_param, "conditions": fit_conditions_param},
)


# --- targets -----------------------------------------------------------------------------


def plausibility_jsons(wildcards):
    """Every fit's plausibility record, fit by fit (the summary's order)."""
    jsons = expand(PATHS.plausibility, fit_sample=FITS, model=FIT_MODELS)
    # model 4 (fit.models lists 4): its one joint fit, ΔG_mix beside the kinetic checks
    return jsons + ([MODEL4_PLAUSIBILITY] if FIT_MODEL4 else [])


def fit_targets():
    """The fit's and plausibility's final outputs (the default target)."""
    targets = CHI2.targets() + BEST.targets()
    if ZOOM_ENABLED:
        targets += ZOOM.targets()
    targets += PLAUSIBILITY.targets() + [PATHS.plausibility_summary]
    targets += DIMER_RESPONSE.targets()
    # best fits simulated at their own samples' conditions (all samples for the joint fit)
    for fit_sample in FITS:
        for model in FIT_MODELS:
            for pattern in (PATHS.best_simulation, PATHS.best_isomers):
                targets += of_fit_samples(pattern, fit_sample, model=model)
    return targets
