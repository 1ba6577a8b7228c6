"""Rule virtual_experiment: SYNTHETIC spectra (MS1 + CID mzML) and their truth tables."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821 - injected by Snakemake

from intercluster.system import ClusterSystem  # noqa: E402
from intercluster.virtual_experiment import simulate_sample, write_sample  # noqa: E402

sm = snakemake  # noqa: F821
system = ClusterSystem.from_config(sm.params.cluster)
ve = sm.params.virtual_experiment
sample = sm.wildcards.virtual_sample
log.info("SYNTHETIC virtual experiment, sample %s", sample)
vs = simulate_sample(system, ve, sample, convention=sm.params.convention)
write_sample(
    vs,
    mzml=sm.output.mzml,
    cid_mzml=sm.output.cid_mzml,
    observables=sm.output.observables,
    tmax=sm.output.tmax,
    cid_truth=sm.output.cid_truth,
    scans=sm.output.scans,
    interferences=sm.output.interferences,
    resolving_power=ve["resolving_power"],
    sample=sample,
    spectra=ve.get("spectra"),
)
mode = (ve.get("spectra") or {}).get("mode", "dense")
log.info("wrote %d MS1 and %d CID spectra (%s)", len(vs.ms1), len(vs.cid), mode)
