# Uncertainty of the grid fit (beyond the paper; docs/science.md, "Uncertainty"): the
# weighted chi2 sum((t_max,sim - t_max,exp)/sigma)^2 over the grid, next to eq 1's chi2.
# The sigma(t_max) come from rule fit_tmax_experiment (fit.uncertainty); rule fit_best reads
# the weighted table for its profile-likelihood intervals and identifiability labels.


rule fit_chi2_weighted:
    input:
        chunks=fit_chunks_of,
        tmax=fit_tmax_of,
    output:
        chi2="results/fit/{fit_sample}/model{model}/chi2_weighted.parquet",
    log:
        "logs/fit/chi2_weighted/{fit_sample}/model{model}.log",
    benchmark:
        "results/benchmarks/fit_chi2_weighted/{fit_sample}/model{model}.tsv"
    conda:
        "../../envs/fit.yaml"
    params:
        experiments=fit_experiments_of,
        chunks_of=fit_chunks_by_sample,
    script:
        "../scripts/fit_chi2_weighted.py"
