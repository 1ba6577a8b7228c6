# A framework system without a kinetic model (kinetics.model_family: none in its system file,
# e.g. the second shipped system file): a SYNTHETIC virtual experiment, the deconvolution
# over ion forms and the framework figure of every sample. Outputs under FRAMEWORK_DIR
# (config results_prefix), so they never overwrite the default demo's.


rule framework_virtual_experiment:
    output:
        mzml=PATHS.framework_mzml,
        truth_forms=fill(PATHS.framework_truth, table="ion_forms"),
        truth=fill(PATHS.framework_truth, table="summary"),
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
        ion_forms=fill(PATHS.framework_table, table="ion_forms.tsv"),
        summary=fill(PATHS.framework_table, table="summary.tsv"),
        qc=fill(PATHS.framework_table, table="qc.tsv"),
        run=fill(PATHS.framework_table, table="run.json"),
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
        png=fill(PATHS.framework_figure, ext="png"),
        pdf=fill(PATHS.framework_figure, ext="pdf"),
    log:
        f"logs/{SYSTEM.name}/figures/frameworks_{{sample}}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        system=SYSTEM.source,
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/fig_frameworks.py"


DEFAULT_TARGETS += expand(fill(PATHS.framework_figure, ext="png"), sample=SAMPLES)
