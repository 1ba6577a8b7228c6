# Grid fit of the rate constants (docs/science.md §3): experimental t_max, the grid scattered into
# chunks (scattergather "grid": config fit.chunks or --set-scatter grid=N), chi² per sample
# and jointly over all samples (fit_sample = fit.joint_sample_name), best fit with profile
# intervals and refinement, and the best fits' trajectories for the figures. Beyond the paper,
# the weighted chi2 sum((t_max,sim - t_max,exp)/sigma)^2 over the same grid, in the same pass
# over the chunks (rule fit_chi2), with the sigma(t_max) of rule fit_tmax_experiment
# (fit.uncertainty), for fit_best's profile-likelihood intervals.


include: "fit_functions.smk"


scattergather:
    grid=config["fit"]["chunks"],


# --- rules ------------------------------------------------------------------------------


# One job for every sample (TMAX; a sample's t_max and σ take less than a start-up).
rule fit_tmax_experiment:
    input:
        TMAX.input,
    output:
        tmax=TMAX.output("tmax"),
    log:
        "logs/fit/tmax_experiment.log",
    benchmark:
        benchmark_of("fit_tmax_experiment", "all")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=TMAX.per_item,
        cluster=CLUSTER,
        tmax=config["fit"]["tmax"],
        uncertainty=config["fit"]["uncertainty"],
    script:
        "../scripts/fit_tmax_experiment.py"


rule fit_grid_chunk:
    input:
        intensities=PATHS.intensities,
    output:
        chunk=PATHS.chunk,
    log:
        "logs/fit/grid_chunk/{sample}/model{model}/{scatteritem}.log",
    benchmark:
        benchmark_of("fit_grid_chunk", "{sample}/model{model}/{scatteritem}")
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
# fit_chi2 reads every chunk once for eq 1's chi2 (and its residuals) and the weighted chi2
# (its sigma(t_max) comes with the t_max tables of fit_tmax_experiment).
rule fit_chi2:
    input:
        CHI2.input,
    output:
        chi2=CHI2.output("chi2"),
        residuals=CHI2.output("residuals"),
        chi2_weighted=CHI2.output("chi2_weighted"),
    log:
        "logs/fit/chi2/model{model}.log",
    benchmark:
        benchmark_of("fit_chi2", "model{model}")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=CHI2.per_item,
        grid=config["fit"]["grid"],
    script:
        "../scripts/fit_chi2.py"


# --- zoom: a finer grid around the optimum (fit.zoom; beyond the paper) ---------------------


rule fit_zoom:
    input:
        ZOOM.input,
    output:
        tmax=ZOOM.output("tmax"),
        chi2=ZOOM.output("chi2"),
        residuals=ZOOM.output("residuals"),
    log:
        "logs/fit/zoom/model{model}.log",
    benchmark:
        benchmark_of("fit_zoom", "model{model}")
    conda:
        "../../envs/fit.yaml"
    threads: 1
    params:
        per_item=ZOOM.per_item,
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
        BEST.input,
    output:
        best=BEST.output("best"),
    log:
        "logs/fit/best/{fit_sample}/model{model}.log",
    benchmark:
        benchmark_of("fit_best", "{fit_sample}/model{model}")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=BEST.per_item,
        fit=config["fit"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/fit_best.py"


# Every fit's best point simulated at every sample of the sheet (the figures show the main
# sample's fit at the other mixing ratios too).
rule simulate_best:
    input:
        SIMULATE_BEST.input,
    output:
        trajectories=SIMULATE_BEST.output("trajectories"),
        isomers=SIMULATE_BEST.output("isomers"),
    log:
        "logs/fit/simulate_best/model{model}.log",
    benchmark:
        benchmark_of("simulate_best", "model{model}")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=SIMULATE_BEST.per_item,
        conditions=all_conditions_param,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/simulate_best.py"


# --- plausibility (docs/science.md §4) ---------------------------------------------------------------


rule plausibility:
    input:
        PLAUSIBILITY.input,
    output:
        json=PLAUSIBILITY.output("json"),
    log:
        "logs/plausibility/model{model}.log",
    benchmark:
        benchmark_of("plausibility", "model{model}")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=PLAUSIBILITY.per_item,
        settings=config["plausibility"],
    script:
        "../scripts/plausibility.py"


rule plausibility_summary:
    input:
        jsons=plausibility_jsons,
    output:
        md=PATHS.plausibility_summary,
    log:
        "logs/plausibility/summary.log",
    benchmark:
        benchmark_of("plausibility_summary", "summary")
    conda:
        "../../envs/fit.yaml"
    script:
        "../scripts/plausibility_summary.py"


# The dimer response of every sample of a fit, estimated from its data against the best fit
# (the equilibrium dimer:monomer ratio; intercluster.observables.dimer_response_row).
rule dimer_response:
    input:
        DIMER_RESPONSE.input,
    output:
        tsv=DIMER_RESPONSE.output("tsv"),
    log:
        "logs/fit/dimer_response.log",
    benchmark:
        benchmark_of("dimer_response", "all")
    conda:
        "../../envs/fit.yaml"
    params:
        per_item=DIMER_RESPONSE.per_item,
        tmax=config["fit"]["tmax"],
        cluster=CLUSTER,
    script:
        "../scripts/dimer_response.py"


DEFAULT_TARGETS += fit_targets()
