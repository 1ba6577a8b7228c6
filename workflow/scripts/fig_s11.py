"""Figure S11: the Debye factor against the reaction distance (DMF, 298 K)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from intercluster import figures  # noqa: E402
from intercluster.io import write_json  # noqa: E402
from intercluster.plausibility import debye_factor  # noqa: E402

smk = snakemake  # noqa: F821
p = smk.params.plausibility
settings = {
    "temperature_K": float(p["temperature_K"]),
    "relative_permittivity": float(p["relative_permittivity"]),
    "charges": [int(q) for q in p["charges"]],
}


def f_of_r(r_angstrom):
    return debye_factor(r_angstrom, **settings)


# The paper's point: R = 12.7 Å (twice the cluster radius), f = 0.53.
reference = (float(p["reaction_distance_A"]), 0.53)
fig = figures.figure_s11(
    f_of_r,
    (5.0, 50.0),
    reference,
    conditions=f"DMF (ε$_r$ = {settings['relative_permittivity']:g}), "
    f"{settings['temperature_K']:g} K",
)
dpi = int(smk.params.figures["dpi"])
figures.save_figure(fig, smk.output.png, smk.output.pdf, dpi)
write_json(
    {
        "figure": "figS11",
        **settings,
        "reaction_distance_A": reference[0],
        "paper_debye_factor": reference[1],
        "debye_factor_at_reaction_distance": float(f_of_r([reference[0]])[0]),
        "synthetic": False,
        "dpi": dpi,
        "size_px": figures.pixel_size("s11", dpi),
    },
    smk.output.params,
)
