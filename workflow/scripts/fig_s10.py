"""Figure S10: the model's half-and-half dimer isomer composition against CID fragments."""

import logging

import pandas as pd

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.records import read_best_fit, read_synthetic
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    synthetic = read_synthetic(smk.input.run)  # the deconvolution's run.json
    model = int(smk.params.model)
    times = list(settings.s10_times_min)
    constants = read_best_fit(smk.input.best).constants.to_dict()
    cid = read_tsv(smk.input.cid).dropna(subset=["fraction"])
    log.info("CID spectra at %s min", sorted(cid["time_min"].unique()))
    fig = figures.figure_s10(
        pd.read_parquet(smk.input.isomers),
        cid,
        times,
        constants,
        model,
        system,
        synthetic=synthetic,
    )
    record = {
        "figure": "figS10",
        "sample": sample,
        "model": model,
        "constants": constants,
        "times_min": times,
        "cid_times_min": sorted(cid["time_min"].unique().tolist()),
        "synthetic": synthetic,
    }
    figures.save_outputs(fig, smk.output, "s10", settings.dpi, record)


run(main)
