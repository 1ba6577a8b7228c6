# The SYNTHETIC virtual experiment (spectra + truth) and the isotope-pattern deconvolution
# of every sample's mzML (docs/science.md §1, §3).


rule virtual_experiment:
    output:
        mzml=PATHS.virtual_mzml,
        cid_mzml=PATHS.virtual_cid_mzml,
        observables=fill(PATHS.virtual_truth, table="observables"),
        tmax=fill(PATHS.virtual_truth, table="tmax"),
        cid_truth=fill(PATHS.virtual_truth, table="cid"),
        scans=fill(PATHS.virtual_truth, table="scans"),
        interferences=fill(PATHS.virtual_truth, table="interferences"),
    log:
        "logs/virtual_experiment/{virtual_sample}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        cluster=CLUSTER,
        virtual_experiment=config["virtual_experiment"],
        convention=config["kinetics"]["convention"],
    script:
        "../scripts/virtual_experiment.py"


rule deconvolve:
    input:
        mzml=mzml_of,
        cid=cid_mzml_of,
    output:
        ion_forms=PATHS.ion_forms,
        intensities=PATHS.intensities,
        qc=PATHS.qc,
        cid=PATHS.cid,
        run=PATHS.run,
    log:
        "logs/deconvolution/{sample}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        system=SYSTEM.source,
        cluster=CLUSTER,
        deconvolution=config["deconvolution"],
        dead_time_s=dead_time_of,
    script:
        "../scripts/deconvolve.py"


# fit.uncertainty.nuisance_sigma: the deconvolution's nuisance alternatives (sigma(t_max)'s
# systematic part, intercluster.nuisance_sigma); only asked for when the key is true.
rule deconvolve_nuisance:
    input:
        mzml=mzml_of,
    output:
        nuisance=PATHS.nuisance,
    log:
        "logs/deconvolution/nuisance/{sample}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        system=SYSTEM.source,
        deconvolution=config["deconvolution"],
    script:
        "../scripts/deconvolve_nuisance.py"


DEFAULT_TARGETS += [
    fill(pattern, sample=s)
    for s in SAMPLES
    for pattern in (PATHS.intensities, PATHS.qc, PATHS.cid)
]
