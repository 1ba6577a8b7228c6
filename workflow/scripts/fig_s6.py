"""Figure S6: near-equilibrium monomer and dimer distributions against binomials (and model
4's when fit.models lists 4)."""

from intercluster import exchange_bias, figures
from intercluster.io import read_json, read_tsv
from intercluster.records import read_synthetic
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    window = settings.equilibrium_window_min
    infos = smk.params.samples  # sample -> its info, keyed like params.experiments
    runs = smk.params.runs  # sample -> its run.json (the deconvolution's record)
    # model 4 (fit.models lists 4): its joint fit simulated per sample, drawn beside the binomial
    model4 = smk.params.model4
    beta = exchange_bias.model4_constants(read_json(model4["record"]))["beta"] if model4 else None
    entries = [
        figures.SampleDistribution(
            sample,
            float(infos[sample]["first_fraction"]),
            read_tsv(path),
            read_synthetic(runs[sample]),
            infos[sample]["label"],
            read_tsv(model4["simulations"][sample]) if model4 else None,
            beta,
        )
        for sample, path in smk.params.experiments.items()
    ]
    fig = figures.figure_s6(entries, system, window)
    record = {
        "figure": "figS6",
        "samples": [infos[e.sample] for e in entries],
        "equilibrium_window_min": window,
        "synthetic": any(e.synthetic for e in entries),
        "model4": None if model4 is None else {"beta": beta, **model4},
    }
    figures.save_outputs(fig, smk.output, "s6", settings.dpi, record, len(entries))


run(main)
