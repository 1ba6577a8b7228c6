"""Figure S11: the Debye factor against the reaction distance (DMF, 298 K)."""

from intercluster import figures
from intercluster.plausibility import debye_factor
from intercluster.rule_script import run
from intercluster.settings import FiguresSettings, PlausibilitySettings


def main(smk):
    dpi = FiguresSettings.from_config(smk.params.figures).dpi
    p = PlausibilitySettings.from_config(smk.params.plausibility)
    settings = {
        "temperature_K": p.temperature_K,
        "relative_permittivity": p.relative_permittivity,
        "charges": list(p.charges),
    }

    def f_of_r(r_angstrom):
        return debye_factor(r_angstrom, **settings)

    # The paper's point: R = 12.7 Å (twice the cluster radius), f = 0.53.
    reference = (p.reaction_distance_A, 0.53)
    fig = figures.figure_s11(
        f_of_r,
        (5.0, 50.0),
        reference,
        conditions=f"DMF (ε$_r$ = {p.relative_permittivity:g}), {p.temperature_K:g} K",
    )
    record = {
        "figure": "figS11",
        **settings,
        "reaction_distance_A": reference[0],
        "paper_debye_factor": reference[1],
        "debye_factor_at_reaction_distance": float(f_of_r([reference[0]])[0]),
        "synthetic": False,
    }
    figures.save_outputs(fig, smk.output, "s11", dpi, record)


run(main)
