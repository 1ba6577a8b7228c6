# Kinetics of the intercluster reaction [Ag25(SR)18]- + [Au25(SR)18]- from time-resolved
# ESI mass spectra: ingestion -> deconvolution -> grid fit -> plausibility -> figures.
# See README.md; the science is described in docs/science.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/targets.smk"


# A system without a kinetic model (kinetics.model_family: none) has no fit stage.
if KINETIC:

    include: "workflow/rules/network.smk"
    include: "workflow/rules/experiment.smk"
    include: "workflow/rules/fit.smk"
    include: "workflow/rules/figures.smk"
    include: "workflow/rules/uncertainty.smk"
    include: "workflow/rules/model4.smk"

else:

    include: "workflow/rules/frameworks.smk"


rule all:
    default_target: True
    input:
        all_targets(),
