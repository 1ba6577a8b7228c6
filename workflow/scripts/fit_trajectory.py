"""Trajectory objective at every grid point: least squares of the normalised intensities with
the dimer response factor fitted per point (rule fit_trajectory; beyond the paper)."""

import logging

from intercluster import fit, tmax_sigma, trajectory_fit
from intercluster.io import read_tsv
from intercluster.rule_script import run
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    experiments = {
        s: (fit.Conditions.from_dict(smk.params.conditions[s]), read_tsv(f["intensities"]),
            tmax_sigma.read_tmax_table(f["tmax"]))
        for s, f in smk.params.experiments.items()
    }  # fmt: skip
    table = trajectory_fit.trajectory_grid_fit(
        fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics),
        fit.grid_points(smk.params.grid), experiments,
        ClusterSystem.from_config(smk.params.cluster).observables(),
        fit.simulator_options(smk.params.kinetics),
    )  # fmt: skip
    best = fit.ranked(table)
    if not best.empty:
        b = best.iloc[0]
        log.info("trajectory best: k_dim=%g k_diss=%g k_ex=%g SSE=%.4g r=%.3f", b["k_dim"],
                 b["k_diss"], b["k_ex"], b["chi2"], b["response"])  # fmt: skip
    fit.write_parquet(table, smk.output.table)


run(main)
