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
    entries = [
        figures.SampleDistribution(
            info["sample"],
            float(info["first_fraction"]),
            read_tsv(path),
            bool(info["synthetic"]),
            info["label"],
        )
        for info, path in zip(smk.params.samples, smk.input.experiments, strict=True)
    ]
    fig = figures.figure_s6(entries, system, window)
    record = {
        "figure": "figS6",
        "samples": list(smk.params.samples),
        "equilibrium_window_min": window,
        "synthetic": any(e.synthetic for e in entries),
    }
    figures.save_outputs(fig, smk.output, "s6", settings.dpi, record, len(entries))


run(main)
