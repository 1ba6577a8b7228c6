"""Rule fig_frameworks: framework populations, compositions and deconvolution QC of a sample."""

import logging

from intercluster.framework_figures import figure_frameworks, save_figure
from intercluster.io import read_tsv
from intercluster.records import read_synthetic
from intercluster.rule_script import run
from intercluster.system import load_system

log = logging.getLogger("intercluster")


def main(smk):
    system = load_system(smk.params.system)
    synthetic = read_synthetic(smk.input.run)  # the deconvolution's run.json
    truth = read_tsv(smk.input.truth[0]) if smk.input.get("truth") else None
    fig = figure_frameworks(read_tsv(smk.input.summary), read_tsv(smk.input.qc), system,
                            synthetic, smk.wildcards.sample, truth)  # fmt: skip
    save_figure(fig, smk.output.png, smk.output.pdf, dpi=int(smk.params.dpi))
    log.info("wrote %s (synthetic: %s)", smk.output.png, synthetic)


run(main)
