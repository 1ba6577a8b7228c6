"""Figure S6: near-equilibrium monomer and dimer distributions against binomials."""

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    window = settings.equilibrium_window_min
    infos = smk.params.samples  # sample -> its info, keyed like params.experiments
    entries = [
        figures.SampleDistribution(
            sample,
            float(infos[sample]["first_fraction"]),
            read_tsv(path),
            bool(infos[sample]["synthetic"]),
            infos[sample]["label"],
        )
        for sample, path in smk.params.experiments.items()
    ]
    fig = figures.figure_s6(entries, system, window)
    record = {
        "figure": "figS6",
        "samples": [infos[e.sample] for e in entries],
        "equilibrium_window_min": window,
        "synthetic": any(e.synthetic for e in entries),
    }
    figures.save_outputs(fig, smk.output, "s6", settings.dpi, record, len(entries))


run(main)
