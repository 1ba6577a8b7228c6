"""The one wrapper every rule script runs through.

A rule script defines ``main(smk)`` (``smk``: the ``snakemake`` object Snakemake puts into
the script's globals) and ends with ``run(main)``. :func:`run` logs to the rule's log file
(and stderr) before anything else happens and calls ``main``; an uncaught
:class:`~intercluster.errors.InputError` (a user's file problem) is logged as its one line,
anything else with its traceback, and the job exits with status 1 either way
(:func:`intercluster.io.configure_logging`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .io import configure_logging

__all__ = ["run"]


def run(main: Callable[[Any], None]) -> None:
    """Run ``main(snakemake)`` of the calling rule script with the rule's logging."""
    smk = main.__globals__["snakemake"]
    configure_logging(smk.log[0] if len(smk.log) else None)
    logging.getLogger("intercluster").debug("rule script %s", main.__module__)
    main(smk)
