# Model 4 (exchange bias beta; docs/science.md §2.4) fitted beside model 3 to every sample
# jointly: fit.grid with its beta axis, each beta value its own set of time-scale orbits
# (intercluster.exchange_bias). The only rule that fits model 4: on request (`snakemake
# model4`), and in the default target when fit.models lists 4 (FIT_MODEL4, common.smk).


rule fit_model4:
    input:
        intensities=expand(PATHS.intensities, sample=SAMPLES),
        tmax=expand(PATHS.tmax_experiment, sample=SAMPLES),
    output:
        record=fill(PATHS.beta_record, fit_sample=JOINT_SAMPLE),
        profile=fill(PATHS.beta_profile, fit_sample=JOINT_SAMPLE),
        png=figure(f"beta_profile_{JOINT_SAMPLE}", "png"),
        pdf=figure(f"beta_profile_{JOINT_SAMPLE}", "pdf"),
    log:
        "logs/fit/model4.log",
    benchmark:
        benchmark_of("fit_model4", "all")
    # the fit and its figure: the figures env holds the fit's packages and matplotlib
    conda:
        "../../envs/figures.yaml"
    params:
        samples=SAMPLES,
        conditions=all_conditions_param,
        grid=config["fit"]["grid"],
        tmax=config["fit"]["tmax"],
        confidence=config["fit"]["uncertainty"]["confidence"],
        temperature_K=config["plausibility"]["temperature_K"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/fit_model4.py"


rule model4:
    input:
        rules.fit_model4.output,


if FIT_MODEL4:

    DEFAULT_TARGETS += rules.fit_model4.output
