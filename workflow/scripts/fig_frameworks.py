"""Rule fig_frameworks: framework populations, compositions and deconvolution QC of a sample."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821 - injected by Snakemake

from intercluster.framework_figures import figure_frameworks, save_figure  # noqa: E402
from intercluster.io import read_json, read_tsv  # noqa: E402
from intercluster.system import load_system  # noqa: E402

sm = snakemake  # noqa: F821
system = load_system(sm.params.system)
run = read_json(sm.input.run)
truth = read_tsv(sm.input.truth[0]) if sm.input.get("truth") else None
fig = figure_frameworks(read_tsv(sm.input.summary), read_tsv(sm.input.qc), system,
                        bool(run["synthetic"]), sm.wildcards.sample, truth)  # fmt: skip
save_figure(fig, sm.output.png, sm.output.pdf, dpi=int(sm.params.dpi))
log.info("wrote %s (synthetic: %s)", sm.output.png, run["synthetic"])
