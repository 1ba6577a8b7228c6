"""Weighted chi² Σ((t_max,sim − t_max,exp)/σ)² per grid point (rule fit_chi2_weighted)."""

import logging

from intercluster import fit
from intercluster.fit import weighted_chi2
from intercluster.rule_script import items, run

log = logging.getLogger("intercluster")


def fit_one(smk):
    experiments = smk.params.experiments  # sample -> {intensities, tmax}
    exp_tmax = {s: fit.load_experiment(f["intensities"], f["tmax"])[1]
                for s, f in experiments.items()}  # fmt: skip
    chunks = {s: [str(p) for p in smk.params.chunks_of[s]] for s in experiments}
    weighted = weighted_chi2.weighted_chi2_from_chunks(chunks, exp_tmax)
    best = fit.ranked(weighted)
    if not best.empty:
        b = best.iloc[0]
        log.info("%s model %s: weighted chi2 min %.4g at k_dim=%g k_diss=%g k_ex=%g "
                 "(%d observables)", smk.wildcards.fit_sample, smk.wildcards.model, b["chi2"],
                 b["k_dim"], b["k_diss"], b["k_ex"], b["n_species"])  # fmt: skip
    fit.write_parquet(weighted, smk.output.chi2)


def main(smk):
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one)


run(main)
