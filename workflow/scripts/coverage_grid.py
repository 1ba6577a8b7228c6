"""ONE table of the simulated t_max of the coverage grid, centred on the truth (rule
coverage_grid; the simulations do not depend on the noise, so every replica reuses it)."""

from intercluster import coverage, fit
from intercluster.rule_script import run
from intercluster.settings import FitSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FitSettings.from_config(smk.params.fit)
    table = coverage.coverage_grid_tmax(
        ClusterSystem.from_config(smk.params.cluster), smk.params.cluster,
        smk.params.virtual_experiment, smk.params.kinetics, smk.params.sample,
        settings.uncertainty.coverage, settings.tmax,
    )  # fmt: skip
    fit.write_parquet(table, smk.output.tmax)


run(main)
