# The reaction network as SBML, and the paper's Table 1 simulations (docs/science.md §2).
# One job per rule writes every model (seconds of work each; stage(), common.smk).


# Every model of kinetics.models, one item each.
PER_MODEL = {f"model{m}": {"model": str(m)} for m in MODELS}
SBML_EXPORT = stage(
    "export_sbml",
    PER_MODEL,
    outputs={"xml": PATHS.network_sbml},
    params={"constants": table1_constants},
)
TABLE1 = stage(
    "simulate_table1",
    PER_MODEL,
    outputs={
        "observables": PATHS.table1_observables,
        "isomers": PATHS.table1_isomers,
    },
    params={"constants": table1_constants},
)


rule export_sbml:
    output:
        xml=SBML_EXPORT.output("xml"),
    log:
        "logs/network/export_sbml.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=SBML_EXPORT.per_item,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/export_sbml.py"


rule simulate_table1:
    output:
        observables=TABLE1.output("observables"),
        isomers=TABLE1.output("isomers"),
    log:
        "logs/simulations/table1.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        per_item=TABLE1.per_item,
        cluster=CLUSTER,
        kinetics=config["kinetics"],
    script:
        "../scripts/simulate_table1.py"


DEFAULT_TARGETS += SBML_EXPORT.targets()
# the Table 1 simulations model by model (observables, then isomers)
DEFAULT_TARGETS += [
    path
    for model in PER_MODEL.values()
    for path in (
        fill(PATHS.table1_observables, **model),
        fill(PATHS.table1_isomers, **model),
    )
]
