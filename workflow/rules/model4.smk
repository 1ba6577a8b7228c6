# Model 4 (exchange bias beta; docs/science.md §2.4) fitted beside model 3 to every sample
# jointly: fit.grid with its beta axis, each beta value its own set of time-scale orbits
# (intercluster.exchange_bias). The only rule that fits model 4: on request (`snakemake
# model4`), and in the default target when fit.models lists 4 (FIT_MODEL4, common.smk).


rule fit_model4:
    input:
        intensities=expand(PATHS.intensities, sample=SAMPLES),
        tmax=expand(PATHS.tmax_experiment, sample=SAMPLES),
    output:
        record=MODEL4_RECORD,
        profile=fill(PATHS.beta_profile, fit_sample=JOINT_SAMPLE),
        png=report(
            figure(f"beta_profile_{JOINT_SAMPLE}", "png"),
            caption="../report/beta_profile.rst",
            category="Beyond the paper",
            subcategory="model 4 (exchange bias)",
        ),
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
        uncertainty=config["fit"]["uncertainty"],
        temperature_K=config["plausibility"]["temperature_K"],
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/fit_model4.py"


# Model 4 at its joint fit, simulated per sample for Figure S6 and Figure 3 (model 4 has no
# per-sample fit: the one fit of every sample jointly, at each sample's conditions).
rule simulate_model4:
    input:
        record=MODEL4_RECORD,
    output:
        trajectories=list(MODEL4_SIMULATIONS.values()),
    log:
        "logs/fit/simulate_model4.log",
    conda:
        "../../envs/fit.yaml"
    params:
        outputs=MODEL4_SIMULATIONS,
        conditions=all_conditions_param,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/simulate_model4.py"


# Model 4's constants through the kinetic checks, ΔG_mix beside them.
rule plausibility_model4:
    input:
        record=MODEL4_RECORD,
    output:
        json=MODEL4_PLAUSIBILITY,
    log:
        "logs/plausibility/model4.log",
    conda:
        "../../envs/fit.yaml"
    params:
        fit_sample=JOINT_SAMPLE,
        settings=config["plausibility"],
        conditions=all_conditions_param,
    script:
        "../scripts/plausibility_model4.py"


rule model4:
    input:
        rules.fit_model4.output,
        rules.simulate_model4.output,
        rules.plausibility_model4.output,


if FIT_MODEL4:

    DEFAULT_TARGETS += rules.model4.input
