"""One SYNTHETIC noise replica of the coverage sample: spectra, deconvolution, t_max with σ
(rule coverage_replica)."""

from intercluster.io import write_tsv
from intercluster.replicas import coverage_replica_table
from intercluster.rule_script import run
from intercluster.settings import FitSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FitSettings.from_config(smk.params.fit)
    table = coverage_replica_table(
        ClusterSystem.from_config(smk.params.cluster), smk.params.virtual_experiment,
        smk.params.kinetics, smk.params.deconvolution, smk.params.sample,
        int(smk.wildcards.replica), settings.uncertainty.coverage, settings.uncertainty,
        settings.tmax,
    )  # fmt: skip
    write_tsv(table, smk.output.tmax)


run(main)
