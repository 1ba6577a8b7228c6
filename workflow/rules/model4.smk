# Model 4 (exchange bias beta; docs/science.md §2.4) fitted beside model 3 to every sample
# jointly (opt-in: `snakemake model4`, not in the default target): fit.grid with its beta
# axis, each beta value its own set of time-scale orbits (intercluster.exchange_bias).


rule fit_model4:
    input:
        intensities=expand(
            "results/deconvolution/{sample}/intensities.tsv", sample=SAMPLES
        ),
        tmax=expand("results/fit/{sample}/tmax_experiment.tsv", sample=SAMPLES),
    output:
        record=f"results/fit/{JOINT_SAMPLE}/model4/beta.json",
        profile=f"results/fit/{JOINT_SAMPLE}/model4/beta_profile.tsv",
        png=f"results/figures/beta_profile_{JOINT_SAMPLE}.png",
        pdf=f"results/figures/beta_profile_{JOINT_SAMPLE}.pdf",
    log:
        "logs/fit/model4.log",
    benchmark:
        "results/benchmarks/fit_model4/all.tsv"
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
