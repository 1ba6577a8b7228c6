# Uncertainty of the grid fit (beyond the paper; docs/science.md, "Uncertainty"): t_max
# residuals with their sigma(t_max), coverage, model comparison, SBML of the best fits, the
# trajectory objective and its PEtab export. (The weighted chi2 is part of the fit stage:
# rule fit_chi2, fit.smk, with eq 1's chi2 in one pass over the chunks.)


include: "uncertainty_functions.smk"


# t_max residuals of every model's best grid point with σ(t_max) as error bars: one figure per
# fit, all drawn by one job (a figure costs less than a job's start-up).
rule figure_tmax_residuals:
    input:
        TMAX_RESIDUALS.input,
    output:
        png=report(
            TMAX_RESIDUALS.output("png"),
            caption="../report/tmax_residuals.rst",
            category="Beyond the paper",
            subcategory="t_max residuals",
        ),
        pdf=TMAX_RESIDUALS.output("pdf"),
        params=TMAX_RESIDUALS.output("params"),
    log:
        "logs/figures/tmax_residuals.log",
    benchmark:
        benchmark_of("figure_tmax_residuals", "all")
    conda:
        "../../envs/figures.yaml"
    params:
        per_item=TMAX_RESIDUALS.per_item,
        models=FIT_MODELS,
        figures=config["figures"],
    script:
        "../scripts/fig_tmax_residuals.py"


# --- coverage (opt-in: `snakemake coverage`; not in the default target) ----------------------
# N noise replicas of one virtual-experiment sample (new noise seeds, same truth) go through
# spectra, deconvolution and t_max with sigma; ONE table of the simulated t_max of a grid
# centred on the truth scores all of them (fit.uncertainty.coverage).


rule coverage_grid:
    output:
        tmax=PATHS.coverage_grid,
    log:
        "logs/uncertainty/coverage_grid.log",
    benchmark:
        benchmark_of("coverage_grid", "grid")
    conda:
        "../../envs/fit.yaml"
    params:
        sample=COVERAGE_SAMPLE,
        virtual_experiment=config["virtual_experiment"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        fit=config["fit"],
    script:
        "../scripts/coverage_grid.py"


rule coverage_replica:
    output:
        tmax=PATHS.coverage_replica,
    log:
        "logs/uncertainty/coverage_replica/{replica}.log",
    benchmark:
        benchmark_of("coverage_replica", "{replica}")
    wildcard_constraints:
        replica=r"\d+",
    conda:
        "../../envs/ms.yaml"
    params:
        sample=COVERAGE_SAMPLE,
        virtual_experiment=config["virtual_experiment"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        deconvolution=config["deconvolution"],
        fit=config["fit"],
    script:
        "../scripts/coverage_replica.py"


rule coverage:
    input:
        grid=PATHS.coverage_grid,
        replicas=expand(PATHS.coverage_replica, replica=range(COVERAGE["n_replicas"])),
    output:
        summary=PATHS.coverage_summary,
        intervals=PATHS.coverage_intervals,
        report=PATHS.coverage_report,
    log:
        "logs/uncertainty/coverage.log",
    conda:
        "../../envs/fit.yaml"
    params:
        sample=COVERAGE_SAMPLE,
        virtual_experiment=config["virtual_experiment"],
        fit=config["fit"],
    script:
        "../scripts/coverage_summary.py"


# --- model comparison and SBML of the best fits -----------------------------------------------


# Both rules below run one job for every fit (and model): each item is a small table or file.
rule model_comparison:
    input:
        MODEL_COMPARISON.input,
    output:
        tsv=MODEL_COMPARISON.output("tsv"),
        md=MODEL_COMPARISON.output("md"),
    log:
        "logs/fit/model_comparison.log",
    benchmark:
        benchmark_of("model_comparison", "all")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=MODEL_COMPARISON.per_item,
        models=FIT_MODELS,
    script:
        "../scripts/model_comparison.py"


rule best_fit_sbml:
    input:
        BEST_SBML.input,
    output:
        sbml=BEST_SBML.output("sbml"),
    log:
        "logs/fit/best_fit_sbml.log",
    benchmark:
        benchmark_of("best_fit_sbml", "all")
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=BEST_SBML.per_item,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/best_fit_sbml.py"


# --- trajectory objective (fit.objective: trajectory; or `snakemake trajectory`) -------------


rule fit_trajectory:
    input:
        intensities=fit_intensities_of,
        tmax=fit_tmax_of,
    output:
        table=PATHS.trajectory,
    log:
        "logs/fit/trajectory/{fit_sample}/model{model}.log",
    benchmark:
        benchmark_of("fit_trajectory", "{fit_sample}/model{model}")
    conda:
        "../../envs/fit.yaml"
    params:
        experiments=fit_experiments_of,
        conditions=fit_conditions_param,
        grid=config["fit"]["grid"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/fit_trajectory.py"


rule trajectory:
    input:
        expand(PATHS.trajectory, fit_sample=FITS, model=FIT_MODELS),


# --- PEtab export of the trajectory objective (`snakemake petab`) -----------------------------
# The trajectory objective of each fit as a PEtab v1 problem (intercluster.petab_export), for
# pyPESTO, AMICI, COPASI or Data2Dynamics; the t_max objective has no PEtab form.


rule petab_export:
    input:
        intensities=fit_intensities_of,
        tmax=fit_tmax_of,
        trajectory=PATHS.trajectory,
    output:
        yaml=PATHS.petab_yaml,
        sbml=PATHS.petab_sbml,
        tables=[
            fill(PATHS.petab_table, table=t)
            for t in ("conditions", "measurements", "observables", "parameters")
        ],
    log:
        "logs/petab/{fit_sample}/model{model}.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        experiments=fit_experiments_of,
        conditions=fit_conditions_param,
        grid=config["fit"]["grid"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/petab_export.py"


rule petab:
    input:
        expand(PATHS.petab_yaml, fit_sample=FITS, model=FIT_MODELS),


DEFAULT_TARGETS += uncertainty_targets()
