"""Figure S5: the half-and-half dimer ion against time (experiment, model sum), its isomers."""

import pandas as pd

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.records import read_best_fit, read_synthetic
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    synthetic = read_synthetic(smk.input.run)  # the deconvolution's run.json
    constants = read_best_fit(smk.input.best).constants.to_dict()
    fig = figures.figure_s5(
        read_tsv(smk.input.experiment),
        read_tsv(smk.input.simulation),
        pd.read_parquet(smk.input.isomers),
        constants,
        model_number=int(smk.params.model),
        system=system,
        time_max_min=settings.time_max_min,
        synthetic=synthetic,
    )
    record = {
        "figure": "figS5",
        "sample": sample,
        "model": int(smk.params.model),
        "constants": constants,
        "synthetic": synthetic,
    }
    figures.save_outputs(fig, smk.output, "s5", settings.dpi, record)


run(main)
