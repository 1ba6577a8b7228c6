"""Figure 3: experiment and models 1-3 as contour maps (best fits, or Table 1 constants)."""

import logging

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.records import read_best_fit
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    files = smk.params.files  # model -> its simulation (and best.json for the best fits)
    models = [int(m) for m in files]
    table1 = "constants" in smk.params.keys()
    if table1:
        constants = [dict(smk.params.constants[f"model{m}"]) for m in models]
        source = "Table 1 constants"
    else:
        constants = [read_best_fit(f["best"]).constants.to_dict() for f in files.values()]
        source = "best fit"
    simulations = [read_tsv(f["simulation"]) for f in files.values()]
    experiment = read_tsv(smk.input.experiment)
    log.info("Figure 3 (%s) for %s, models %s: %s", source, sample["sample"], models, constants)
    fig = figures.figure3(
        experiment,
        list(zip(models, constants, simulations, strict=True)),
        system,
        time_max_min=settings.time_max_min,
        sample_label=sample["label"],
        synthetic=bool(sample["synthetic"]),
        constants_source=source,
    )
    record = {
        "figure": "fig3_table1" if table1 else "fig3_best_fit",
        "constants_source": source,
        "sample": sample,
        "models": {f"model{m}": c for m, c in zip(models, constants, strict=True)},
        "inputs": {"experiment": smk.input.experiment,
                   "simulations": [f["simulation"] for f in files.values()]},  # fmt: skip
        "synthetic": bool(sample["synthetic"]),
    }
    figures.save_outputs(fig, smk.output, "fig3", settings.dpi, record)


run(main)
