"""Figures S7-S9: one further mixing ratio, experiment against model 3 (figS7, figS8, figS9:
the further samples in sheet order)."""

from intercluster import figures
from intercluster.io import read_tsv
from intercluster.records import read_best_fit
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings
from intercluster.system import ClusterSystem


def main(smk):
    settings = FiguresSettings.from_config(smk.params.figures)
    system = ClusterSystem.from_config(smk.params.cluster)
    sample = smk.params.sample
    model = int(smk.params.model)
    constants = read_best_fit(smk.input.best).constants.to_dict()
    fig = figures.figure_s7_9(
        read_tsv(smk.input.experiment),
        read_tsv(smk.input.simulation),
        constants,
        float(sample["first_fraction"]),
        system,
        sample_label=sample["label"],
        time_max_min=settings.time_max_min,
        synthetic=bool(sample["synthetic"]),
        model_number=model,
        figure_name=figures.s7_s9_title(str(smk.params.figure)),
    )
    record = {
        "figure": str(smk.params.figure),
        "sample": sample,
        "model": model,
        "constants": constants,
        "constants_fitted_to": smk.params.fit_sample,
        "synthetic": bool(sample["synthetic"]),
    }
    figures.save_outputs(fig, smk.output, "s7_9", settings.dpi, record)


run(main)
