# What `snakemake` builds by default, stage by stage.


def all_targets():
    if not KINETIC:
        return expand(
            f"{FRAMEWORK_DIR}/figures/frameworks_{{sample}}.png", sample=SAMPLES
        )
    targets = []
    targets += expand("results/network/model{model}.xml", model=MODELS)
    targets += expand(
        "results/simulations/table1/model{model}/{table}",
        model=MODELS,
        table=["observables.tsv", "isomers.parquet"],
    )
    targets += expand(
        "results/deconvolution/{sample}/{table}.tsv",
        sample=SAMPLES,
        table=["intensities", "qc", "cid"],
    )
    targets += fit_targets()
    targets += figure_targets()
    targets += uncertainty_targets()
    return targets
