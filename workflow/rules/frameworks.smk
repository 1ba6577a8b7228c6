# A framework system without a kinetic model (kinetics.model_family: none in its system file,
# e.g. the second shipped system file): a SYNTHETIC virtual experiment, the deconvolution
# over ion forms and the framework figure of every sample. Outputs under FRAMEWORK_DIR
# (config results_prefix), so they never overwrite the default demo's.


rule framework_virtual_experiment:
    output:
        mzml=f"{FRAMEWORK_DIR}/virtual_experiment/{{sample}}.mzML",
        truth_forms=f"{FRAMEWORK_DIR}/virtual_experiment/truth/{{sample}}/ion_forms.tsv",
        truth=f"{FRAMEWORK_DIR}/virtual_experiment/truth/{{sample}}/summary.tsv",
    log:
        f"logs/{SYSTEM.name}/virtual_experiment/{{sample}}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        system=SYSTEM.source,
        experiment=config.get("framework_experiment"),
        concentrations=concentrations_of,
    script:
        "../scripts/framework_virtual_experiment.py"


rule framework_deconvolve:
    input:
        mzml=mzml_of,
    output:
        ion_forms=f"{FRAMEWORK_DIR}/deconvolution/{{sample}}/ion_forms.tsv",
        summary=f"{FRAMEWORK_DIR}/deconvolution/{{sample}}/summary.tsv",
        qc=f"{FRAMEWORK_DIR}/deconvolution/{{sample}}/qc.tsv",
        run=f"{FRAMEWORK_DIR}/deconvolution/{{sample}}/run.json",
    log:
        f"logs/{SYSTEM.name}/deconvolution/{{sample}}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        system=SYSTEM.source,
        deconvolution=config["deconvolution"],
    script:
        "../scripts/framework_deconvolve.py"


rule fig_frameworks:
    input:
        summary=rules.framework_deconvolve.output.summary,
        qc=rules.framework_deconvolve.output.qc,
        run=rules.framework_deconvolve.output.run,
        truth=framework_truth_of,
    output:
        png=f"{FRAMEWORK_DIR}/figures/frameworks_{{sample}}.png",
        pdf=f"{FRAMEWORK_DIR}/figures/frameworks_{{sample}}.pdf",
    log:
        f"logs/{SYSTEM.name}/figures/frameworks_{{sample}}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        system=SYSTEM.source,
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/fig_frameworks.py"
