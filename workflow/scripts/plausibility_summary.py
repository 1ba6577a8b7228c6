"""Markdown table of the plausibility checks over samples and models (rule plausibility_summary)."""

import logging

from intercluster.io import write_text
from intercluster.plausibility import summary_markdown
from intercluster.records import read_plausibility
from intercluster.rule_script import run

log = logging.getLogger("intercluster")


def main(smk):
    text = summary_markdown([read_plausibility(p) for p in smk.input.jsons])
    write_text(text, smk.output.md)
    log.info("wrote %s (%d entries)", smk.output.md, len(smk.input.jsons))


run(main)
