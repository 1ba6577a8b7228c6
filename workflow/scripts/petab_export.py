"""PEtab v1 problem of a fit's trajectory objective (rule petab_export; beyond the paper)."""

import logging
from pathlib import Path

from intercluster import fit, tmax_sigma
from intercluster import petab_export as pe
from intercluster.io import read_tsv
from intercluster.rule_script import run
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    system = ClusterSystem.from_config(smk.params.cluster)
    experiments = {
        s: (fit.Conditions.from_dict(smk.params.conditions[s]), read_tsv(f["intensities"]),
            tmax_sigma.read_tmax_table(f["tmax"]))
        for s, f in smk.params.experiments.items()
    }  # fmt: skip
    network = fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics)
    best = pe.TrajectoryBest.from_table(fit.read_parquet(smk.input.trajectory))
    problem = pe.petab_problem(network, system, pe.samples_from_tables(experiments, system),
                               best, smk.params.grid)  # fmt: skip
    path = pe.write_petab(problem, Path(smk.output.yaml).parent)
    k = best.constants
    sigma = problem.measurements["noiseParameters"]
    log.info("wrote %s: %d measurements, %d observables; SSE %.6g at k_dim=%g k_diss=%g "
             "k_ex=%g r=%.4g; the deconvolution's sd %.3g-%.3g (median %.3g)", path,
             len(problem.measurements), len(problem.observables), best.sse, k.k_dim, k.k_diss,
             k.k_ex, best.response, sigma.min(), sigma.max(), sigma.median())  # fmt: skip

run(main)
