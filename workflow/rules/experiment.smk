# The SYNTHETIC virtual experiment (spectra + truth) and the isotope-pattern deconvolution
# of every sample's mzML (docs/science.md §1, §3).


rule virtual_experiment:
    output:
        mzml="results/virtual_experiment/{virtual_sample}.mzML",
        cid_mzml="results/virtual_experiment/{virtual_sample}_cid.mzML",
        observables="results/virtual_experiment/truth/{virtual_sample}/observables.tsv",
        tmax="results/virtual_experiment/truth/{virtual_sample}/tmax.tsv",
        cid_truth="results/virtual_experiment/truth/{virtual_sample}/cid.tsv",
        scans="results/virtual_experiment/truth/{virtual_sample}/scans.tsv",
        interferences="results/virtual_experiment/truth/{virtual_sample}/interferences.tsv",
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
        ion_forms="results/deconvolution/{sample}/ion_forms.tsv",
        intensities="results/deconvolution/{sample}/intensities.tsv",
        qc="results/deconvolution/{sample}/qc.tsv",
        cid="results/deconvolution/{sample}/cid.tsv",
        run="results/deconvolution/{sample}/run.json",
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
        nuisance="results/deconvolution/{sample}/nuisance.tsv",
    log:
        "logs/deconvolution/nuisance/{sample}.log",
    conda:
        "../../envs/ms.yaml"
    params:
        system=SYSTEM.source,
        deconvolution=config["deconvolution"],
    script:
        "../scripts/deconvolve_nuisance.py"
