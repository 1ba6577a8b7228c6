# Grid fit of the rate constants (docs/science.md §3): experimental t_max, the grid scattered into
# chunks (scattergather "grid": config fit.chunks or --set-scatter grid=N), chi² per sample
# and jointly over all samples (fit_sample = fit.joint_sample_name), best fit with profile
# intervals and refinement, and the best fits' trajectories for the figures.


include: "fit_functions.smk"


scattergather:
    grid=config["fit"]["chunks"],


# --- rules ------------------------------------------------------------------------------


# One job for every sample (TMAX_ITEMS; a sample's t_max and σ take less than a start-up).
rule fit_tmax_experiment:
    input:
        items_inputs(TMAX_ITEMS),
    output:
        tmax=expand("results/fit/{sample}/tmax_experiment.tsv", sample=SAMPLES),
    log:
        "logs/fit/tmax_experiment.log",
    benchmark:
        "results/benchmarks/fit_tmax_experiment/all.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=TMAX_ITEMS,
        cluster=CLUSTER,
        tmax=config["fit"]["tmax"],
        uncertainty=config["fit"]["uncertainty"],
    script:
        "../scripts/fit_tmax_experiment.py"


rule fit_grid_chunk:
    input:
        intensities=fit_intensities_of_sample,
    output:
        chunk="results/fit/{sample}/model{model}/chunks/{scatteritem}.parquet",
    log:
        "logs/fit/grid_chunk/{sample}/model{model}/{scatteritem}.log",
    benchmark:
        "results/benchmarks/fit_grid_chunk/{sample}/model{model}/{scatteritem}.tsv"
    conda:
        "../../envs/fit.yaml"
    threads: 1
    params:
        grid=config["fit"]["grid"],
        orbits=config["fit"]["orbits"],
        tmax=config["fit"]["tmax"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        conditions=conditions_of,
    script:
        "../scripts/fit_grid_chunk.py"


# The per-fit rules below run one job per model for all fits (FITS; fit_functions.smk).
rule fit_chi2:
    input:
        items_inputs(CHI2_ITEMS),
    output:
        chi2=per_fit("results/fit/{fit_sample}/model{model}/chi2.parquet"),
        residuals=per_fit("results/fit/{fit_sample}/model{model}/residuals.tsv"),
    log:
        "logs/fit/chi2/model{model}.log",
    benchmark:
        "results/benchmarks/fit_chi2/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=CHI2_ITEMS,
        grid=config["fit"]["grid"],
    script:
        "../scripts/fit_chi2.py"


# --- zoom: a finer grid around the optimum (fit.zoom; beyond the paper) ---------------------


rule fit_zoom:
    input:
        items_inputs(ZOOM_ITEMS),
    output:
        tmax=per_fit("results/fit/{fit_sample}/model{model}/zoom/tmax.parquet"),
        chi2=per_fit("results/fit/{fit_sample}/model{model}/zoom/chi2.parquet"),
        residuals=per_fit("results/fit/{fit_sample}/model{model}/zoom/residuals.tsv"),
    log:
        "logs/fit/zoom/model{model}.log",
    benchmark:
        "results/benchmarks/fit_zoom/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    threads: 1
    params:
        per_item=ZOOM_ITEMS,
        grid=config["fit"]["grid"],
        zoom=config["fit"]["zoom"],
        delta_rel=config["fit"]["interval_delta_chi2_rel"],
        orbits=config["fit"]["orbits"],
        tmax=config["fit"]["tmax"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/fit_zoom.py"


rule fit_best:
    input:
        items_inputs(BEST_ITEMS),
    output:
        best=per_fit("results/fit/{fit_sample}/model{model}/best.json"),
    log:
        "logs/fit/best/model{model}.log",
    benchmark:
        "results/benchmarks/fit_best/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=BEST_ITEMS,
        fit=config["fit"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/fit_best.py"


# Every fit's best point simulated at every sample of the sheet (the figures show the main
# sample's fit at the other mixing ratios too).
rule simulate_best:
    input:
        items_inputs(SIMULATE_BEST_ITEMS),
    output:
        trajectories=expand(
            "results/fit/{fit_sample}/model{{model}}/best_simulation/{sample}.tsv",
            fit_sample=FITS,
            sample=SAMPLES,
        ),
        isomers=expand(
            "results/fit/{fit_sample}/model{{model}}/best_simulation/{sample}_isomers.parquet",
            fit_sample=FITS,
            sample=SAMPLES,
        ),
    log:
        "logs/fit/simulate_best/model{model}.log",
    benchmark:
        "results/benchmarks/simulate_best/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=SIMULATE_BEST_ITEMS,
        conditions=all_conditions_param,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/simulate_best.py"


# --- plausibility (docs/science.md §4) ---------------------------------------------------------------


rule plausibility:
    input:
        items_inputs(PLAUSIBILITY_ITEMS),
    output:
        json=per_fit("results/plausibility/{fit_sample}/model{model}.json"),
    log:
        "logs/plausibility/model{model}.log",
    benchmark:
        "results/benchmarks/plausibility/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=PLAUSIBILITY_ITEMS,
        settings=config["plausibility"],
    script:
        "../scripts/plausibility.py"


rule plausibility_summary:
    input:
        jsons=plausibility_jsons,
    output:
        md="results/plausibility/summary.md",
    log:
        "logs/plausibility/summary.log",
    benchmark:
        "results/benchmarks/plausibility_summary/summary.tsv"
    conda:
        "../../envs/fit.yaml"
    script:
        "../scripts/plausibility_summary.py"


# The dimer response of every sample of a fit, estimated from its data against the best fit
# (the equilibrium dimer:monomer ratio; intercluster.observables.dimer_response_row).
rule dimer_response:
    input:
        items_inputs(DIMER_RESPONSE_ITEMS),
    output:
        tsv=expand(
            "results/fit/{fit_sample}/model{model}/dimer_response.tsv",
            fit_sample=FITS,
            model=FIT_MODELS,
        ),
    log:
        "logs/fit/dimer_response.log",
    benchmark:
        "results/benchmarks/dimer_response/all.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=DIMER_RESPONSE_ITEMS,
        tmax=config["fit"]["tmax"],
        cluster=CLUSTER,
    script:
        "../scripts/dimer_response.py"
