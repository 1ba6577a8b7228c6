"""Markdown table of the plausibility checks over samples and models (rule plausibility_summary)."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

from pathlib import Path  # noqa: E402

from intercluster.io import read_json  # noqa: E402
from intercluster.plausibility import summary_markdown  # noqa: E402

sm = snakemake  # noqa: F821
text = summary_markdown([read_json(p) for p in sm.input.jsons])
Path(sm.output.md).write_text(text)
log.info("wrote %s (%d entries)", sm.output.md, len(sm.input.jsons))
