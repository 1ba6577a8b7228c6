# Uncertainty of the grid fit (beyond the paper; docs/science.md, "Uncertainty"): the
# weighted chi2 sum((t_max,sim - t_max,exp)/sigma)^2 over the grid, next to eq 1's chi2.
# The sigma(t_max) come from rule fit_tmax_experiment (fit.uncertainty); rule fit_best reads
# the weighted table for its profile-likelihood intervals and identifiability labels.


include: "uncertainty_functions.smk"


rule fit_chi2_weighted:
    input:
        chunks=fit_chunks_of,
        tmax=fit_tmax_of,
    output:
        chi2="results/fit/{fit_sample}/model{model}/chi2_weighted.parquet",
    log:
        "logs/fit/chi2_weighted/{fit_sample}/model{model}.log",
    benchmark:
        "results/benchmarks/fit_chi2_weighted/{fit_sample}/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        experiments=fit_experiments_of,
        chunks_of=fit_chunks_by_sample,
    script:
        "../scripts/fit_chi2_weighted.py"


# t_max residuals of every model's best grid point with σ(t_max) as error bars, per fit.
rule figure_tmax_residuals:
    input:
        residuals=expand(
            "results/fit/{{fit_sample}}/model{model}/residuals.tsv", model=FIT_MODELS
        ),
        tmax=fit_tmax_of,
        runs=fit_runs_of,
    output:
        png=report(
            f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.png",
            caption="../report/tmax_residuals.rst",
            category="Beyond the paper",
            subcategory="t_max residuals",
        ),
        pdf=f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.pdf",
        params=f"{FIGURES_DIR}/tmax_residuals_{{fit_sample}}.params.json",
    log:
        "logs/figures/tmax_residuals_{fit_sample}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        models=FIT_MODELS,
        samples=fit_samples_param,
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


rule model_comparison:
    input:
        weighted=expand(
            "results/fit/{{fit_sample}}/model{model}/chi2_weighted.parquet",
            model=FIT_MODELS,
        ),
        # the refined weighted optimum (fit.refine) at which goodness of fit is judged
        best=expand(
            "results/fit/{{fit_sample}}/model{model}/best.json", model=FIT_MODELS
        ),
    output:
        tsv="results/fit/{fit_sample}/model_comparison.tsv",
        md="results/fit/{fit_sample}/model_comparison.md",
    log:
        "logs/fit/model_comparison/{fit_sample}.log",
    conda:
        "../../envs/fit.yaml"
    params:
        models=FIT_MODELS,
    script:
        "../scripts/model_comparison.py"


rule best_fit_sbml:
    input:
        best="results/fit/{fit_sample}/model{model}/best.json",
    output:
        sbml="results/fit/{fit_sample}/model{model}/best.xml",
    log:
        "logs/fit/best_fit_sbml/{fit_sample}/model{model}.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        conditions=fit_conditions_param,
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
