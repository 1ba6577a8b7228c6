"""Figure 3: experiment and models 1-3 as contour maps (best fits, or Table 1 constants),
with model 4's joint fit when fit.models lists 4."""

import logging

from intercluster import exchange_bias, figures
from intercluster.io import read_json, read_tsv
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
    files = smk.params.files  # model -> its simulation (and best.json for the best fits)
    models = [int(m) for m in files]
    table1 = "constants" in smk.params.keys()
    sources = {}
    if table1:
        # model 4 (kinetics.models lists it): model 3's constants with kinetics.beta
        constants = [dict(smk.params.constants[f"model{m}"]) for m in models]
        source = "Table 1 constants"
        if 4 in models:
            sources[4] = "model 3's Table 1 constants"
    else:
        constants = [read_best_fit(f["best"]).constants.to_dict() for f in files.values()]
        source = "best fit"
    simulations = [read_tsv(f["simulation"]) for f in files.values()]
    # model 4 (fit.models lists 4; best fits only): its joint fit, simulated for this sample
    model4 = smk.params.model4 if "model4" in smk.params.keys() else None
    if model4:
        models.append(4)
        constants.append(exchange_bias.model4_constants(read_json(model4["record"])))
        simulations.append(read_tsv(model4["simulations"][sample["sample"]]))
        sources[4] = "joint fit of every sample"
    experiment = read_tsv(smk.input.experiment)
    log.info("Figure 3 (%s) for %s, models %s: %s", source, sample["sample"], models, constants)
    fig = figures.figure3(
        experiment,
        list(zip(models, constants, simulations, strict=True)),
        system,
        time_max_min=settings.time_max_min,
        sample_label=sample["label"],
        synthetic=synthetic,
        constants_source=source,
        model_sources=sources,
    )
    record = {
        "figure": "fig3_table1" if table1 else "fig3_best_fit",
        "constants_source": source,
        "sample": sample,
        "models": {f"model{m}": c for m, c in zip(models, constants, strict=True)},
        "inputs": {"experiment": smk.input.experiment,
                   "simulations": [f["simulation"] for f in files.values()]},  # fmt: skip
        "model4": model4,
        "synthetic": synthetic,
    }
    figures.save_outputs(fig, smk.output, "fig3", settings.dpi, record)


run(main)
