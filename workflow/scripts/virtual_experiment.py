"""Rule virtual_experiment: SYNTHETIC spectra (MS1 + CID mzML) and their truth tables."""

import logging

from intercluster.rule_script import run
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, write_sample

log = logging.getLogger("intercluster")


def main(smk):
    system = ClusterSystem.from_config(smk.params.cluster)
    ve = smk.params.virtual_experiment
    sample = smk.wildcards.virtual_sample
    log.info("SYNTHETIC virtual experiment, sample %s", sample)
    vs = simulate_sample(system, ve, sample, convention=smk.params.convention)
    write_sample(
        vs,
        mzml=smk.output.mzml,
        cid_mzml=smk.output.cid_mzml,
        observables=smk.output.observables,
        tmax=smk.output.tmax,
        cid_truth=smk.output.cid_truth,
        scans=smk.output.scans,
        interferences=smk.output.interferences,
        resolving_power=ve["resolving_power"],
        sample=sample,
        spectra=ve["spectra"],
    )
    log.info("wrote %d MS1 and %d CID spectra (%s)", len(vs.ms1), len(vs.cid),
             ve["spectra"]["mode"])  # fmt: skip


run(main)
