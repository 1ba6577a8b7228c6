# Uncertainty of the grid fit (beyond the paper; docs/science.md, "Uncertainty"): the
# weighted chi2 sum((t_max,sim - t_max,exp)/sigma)^2 over the grid, next to eq 1's chi2.
# The sigma(t_max) come from rule fit_tmax_experiment (fit.uncertainty); rule fit_best reads
# the weighted table for its profile-likelihood intervals and identifiability labels.


include: "uncertainty_functions.smk"


# One job per model for every fit (as fit_chi2; WEIGHTED_ITEMS in uncertainty_functions.smk).
rule fit_chi2_weighted:
    input:
        items_inputs(WEIGHTED_ITEMS),
    output:
        chi2=per_fit("results/fit/{fit_sample}/model{model}/chi2_weighted.parquet"),
    log:
        "logs/fit/chi2_weighted/model{model}.log",
    benchmark:
        "results/benchmarks/fit_chi2_weighted/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=WEIGHTED_ITEMS,
    script:
        "../scripts/fit_chi2_weighted.py"


# t_max residuals of every model's best grid point with σ(t_max) as error bars: one figure per
# fit, all drawn by one job (a figure costs less than a job's start-up).
rule figure_tmax_residuals:
    input:
        items_inputs(TMAX_RESIDUALS_ITEMS),
    output:
        png=report(
            every_fit(f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.png"),
            caption="../report/tmax_residuals.rst",
            category="Beyond the paper",
            subcategory="t_max residuals",
        ),
        pdf=every_fit(f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.pdf"),
        params=every_fit(f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.params.json"),
    log:
        "logs/figures/tmax_residuals.log",
    benchmark:
        "results/benchmarks/figure_tmax_residuals/all.tsv"
    conda:
        "../../envs/figures.yaml"
    params:
        per_item=TMAX_RESIDUALS_ITEMS,
        models=FIT_MODELS,
        figures=FIG_CFG,
    script:
        "../scripts/fig_tmax_residuals.py"


# --- coverage (opt-in: `snakemake coverage`; not in the default target) ----------------------
# N noise replicas of one virtual-experiment sample (new noise seeds, same truth) go through
# spectra, deconvolution and t_max with sigma; ONE table of the simulated t_max of a grid
# centred on the truth scores all of them (fit.uncertainty.coverage).


rule coverage_grid:
    output:
        tmax=f"{COVERAGE_DIR}/grid_tmax.parquet",
    log:
        "logs/uncertainty/coverage_grid.log",
    benchmark:
        "results/benchmarks/coverage_grid/grid.tsv"
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
        tmax=f"{COVERAGE_DIR}/replicas/{{replica}}.tsv",
    log:
        "logs/uncertainty/coverage_replica/{replica}.log",
    benchmark:
        "results/benchmarks/coverage_replica/{replica}.tsv"
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
        grid=f"{COVERAGE_DIR}/grid_tmax.parquet",
        replicas=expand(
            f"{COVERAGE_DIR}/replicas/{{replica}}.tsv",
            replica=range(COVERAGE["n_replicas"]),
        ),
    output:
        summary=f"{COVERAGE_DIR}/summary.tsv",
        intervals=f"{COVERAGE_DIR}/intervals.tsv",
        report=f"{COVERAGE_DIR}/report.md",
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
        items_inputs(COMPARISON_ITEMS),
    output:
        tsv=every_fit("results/fit/{fit_sample}/model_comparison.tsv"),
        md=every_fit("results/fit/{fit_sample}/model_comparison.md"),
    log:
        "logs/fit/model_comparison.log",
    benchmark:
        "results/benchmarks/model_comparison/all.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=COMPARISON_ITEMS,
        models=FIT_MODELS,
    script:
        "../scripts/model_comparison.py"


rule best_fit_sbml:
    input:
        items_inputs(SBML_ITEMS),
    output:
        sbml=expand(
            "results/fit/{fit_sample}/model{model}/best.xml",
            fit_sample=FITS,
            model=FIT_MODELS,
        ),
    log:
        "logs/fit/best_fit_sbml.log",
    benchmark:
        "results/benchmarks/best_fit_sbml/all.tsv"
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=SBML_ITEMS,
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
        table="results/fit/{fit_sample}/model{model}/trajectory.parquet",
    log:
        "logs/fit/trajectory/{fit_sample}/model{model}.log",
    benchmark:
        "results/benchmarks/fit_trajectory/{fit_sample}/model{model}.tsv"
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
        expand(
            "results/fit/{fit_sample}/model{model}/trajectory.parquet",
            fit_sample=FIT_SAMPLES,
            model=FIT_MODELS,
        ),


# --- PEtab export of the trajectory objective (`snakemake petab`) -----------------------------
# The trajectory objective of each fit as a PEtab v1 problem (intercluster.petab_export), for
# pyPESTO, AMICI, COPASI or Data2Dynamics; the t_max objective has no PEtab form.


rule petab_export:
    input:
        intensities=fit_intensities_of,
        tmax=fit_tmax_of,
        trajectory="results/fit/{fit_sample}/model{model}/trajectory.parquet",
    output:
        yaml="results/petab/{fit_sample}/model{model}/problem.yaml",
        sbml="results/petab/{fit_sample}/model{model}/model.xml",
        tables=expand(
            "results/petab/{{fit_sample}}/model{{model}}/{table}.tsv",
            table=["conditions", "measurements", "observables", "parameters"],
        ),
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
        expand(
            "results/petab/{fit_sample}/model{model}/problem.yaml",
            fit_sample=FIT_SAMPLES,
            model=FIT_MODELS,
        ),
