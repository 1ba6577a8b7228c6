"""chi² (eq 1) and the weighted chi² Σ((t_max,sim − t_max,exp)/σ)² per grid point for a
sample or the joint fit, and eq 1's residuals at its best point (rule fit_chi2).

The chunk tables are streamed once for both χ² (fit.chi2_streaming_all), never all held at
once."""

import logging

from intercluster import fit
from intercluster.errors import InputError
from intercluster.io import write_tsv
from intercluster.rule_script import items, run

log = logging.getLogger("intercluster")


def fit_one(smk):
    experiments = smk.params.experiments  # sample -> {intensities, tmax}
    samples = list(experiments)
    chunks, exp_tmax = {}, {}
    for sample, files in experiments.items():
        chunks[sample] = [str(p) for p in smk.params.chunks_of[sample]]
        _, exp_tmax[sample] = fit.load_experiment(files["intensities"], files["tmax"])
    tables = fit.chi2_streaming_all(chunks, exp_tmax, len(fit.grid_points(smk.params.grid)))
    chi2, weighted = tables[fit.EQ1], tables[fit.WEIGHTED]
    summary = fit.failure_summary(chi2)
    log.info("%s model %s: %d points, %d ok, %d failed", smk.wildcards.fit_sample,
             smk.wildcards.model, summary["n_points"], summary["n_ok"],
             summary["n_failed"])  # fmt: skip
    for reason, count in summary["failed_reasons"].items():
        log.warning("failed sets: %d x %s", count, reason)
    fit.write_parquet(chi2, smk.output.chi2)
    fit.write_parquet(weighted, smk.output.chi2_weighted)
    ranking = fit.ranked(chi2)
    if ranking.empty:
        reasons = "; ".join(f"{n} x {r}" for r, n in summary["failed_reasons"].items())
        raise InputError(
            f"{smk.output.chi2}: all {summary['n_points']} grid points failed ({reasons}); see "
            f"logs/fit/grid_chunk/; check fit.grid or raise kinetics.max_steps"
        )
    best = ranking.iloc[0]
    log.info("best grid point %d: k_dim=%g k_diss=%g k_ex=%g chi2=%.6g min^2", best["point"],
             best["k_dim"], best["k_diss"], best["k_ex"], best["chi2"])  # fmt: skip
    b = fit.ranked(weighted).iloc[0]
    log.info("weighted chi2 min %.4g at k_dim=%g k_diss=%g k_ex=%g (%d observables)",
             b["chi2"], b["k_dim"], b["k_diss"], b["k_ex"], b["n_species"])  # fmt: skip
    point = int(best["point"])
    # the residuals need every observable at one point: a filtered read of that row only
    per_sample = {s: (fit.chunk_row(chunks[s], point), exp_tmax[s]) for s in samples}
    write_tsv(fit.residual_table(per_sample, point), smk.output.residuals)


def main(smk):
    for one in items(smk):  # every fit of the job's model (params.per_item)
        fit_one(one)


run(main)
