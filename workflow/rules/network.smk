# The reaction network as SBML, and the paper's Table 1 simulations (docs/science.md §2).
# One job per rule writes every model (seconds of work each; params.per_item, common.smk).


# Every model of kinetics.models, one item each.
PER_MODEL = lambda wildcards: {f"model{m}": {"model": str(m)} for m in MODELS}
SBML_ITEMS = stage_items(
    PER_MODEL,
    outputs={"xml": "results/network/model{model}.xml"},
    params={"constants": table1_constants},
)
TABLE1_ITEMS = stage_items(
    PER_MODEL,
    outputs={
        "observables": "results/simulations/table1/model{model}/observables.tsv",
        "isomers": "results/simulations/table1/model{model}/isomers.parquet",
    },
    params={"constants": table1_constants},
)


rule export_sbml:
    output:
        xml=expand("results/network/model{model}.xml", model=MODELS),
    log:
        "logs/network/export_sbml.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=SBML_ITEMS,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/export_sbml.py"


rule simulate_table1:
    output:
        observables=expand(
            "results/simulations/table1/model{model}/observables.tsv", model=MODELS
        ),
        isomers=expand(
            "results/simulations/table1/model{model}/isomers.parquet", model=MODELS
        ),
    log:
        "logs/simulations/table1.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=TABLE1_ITEMS,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/simulate_table1.py"
