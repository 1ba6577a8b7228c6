# The reaction network as SBML, and the paper's Table 1 simulations (docs/science.md §2).


rule export_sbml:
    output:
        "results/network/model{model}.xml",
    log:
        "logs/network/export_sbml/model{model}.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        constants=table1_constants,
    script:
        "../scripts/export_sbml.py"


rule simulate_table1:
    output:
        observables="results/simulations/table1/model{model}/observables.tsv",
        isomers="results/simulations/table1/model{model}/isomers.parquet",
    log:
        "logs/simulations/table1/model{model}.log",
    conda:
        "../../envs/kinetics.yaml"
    params:
        cluster=CLUSTER,
        kinetics=config["kinetics"],
        constants=table1_constants,
    script:
        "../scripts/simulate_table1.py"
