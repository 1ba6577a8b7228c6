"""The one wrapper every rule script runs through.

A rule script defines ``main(smk)`` (``smk``: the ``snakemake`` object Snakemake puts into
the script's globals) and ends with ``run(main)``. :func:`run` logs to the rule's log file
(and stderr) before anything else happens and calls ``main``; an uncaught
:class:`~intercluster.errors.InputError` (a user's file problem) is logged as its one line,
anything else with its traceback, and the job exits with status 1 either way
(:func:`intercluster.io.configure_logging`).

A job that handles several items of one stage (all fits of one model, all samples of a QC
figure: one process start-up instead of one per item) lists them in ``params.per_item``, built
by the rule's input functions: ``{item: {"wildcards": {...}, "input": {...}, "output":
{...}, "params": {...}}}``. :func:`items` gives one view per item that looks like the
``snakemake`` object of a one-item job (``wildcards``, ``input``, ``output``, ``params``),
so the per-item body of a script is the same function a one-item job would run.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from .errors import WriteError
from .io import configure_logging

__all__ = ["Fields", "items", "run"]


#: errors that only a write can cause (a full disk or quota, a file too large, a read-only
#: file system): whatever raised them, the job's outputs are what could not be written
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})


def run(main: Callable[[Any], None]) -> None:
    """Run ``main(snakemake)`` of the calling rule script with the rule's logging.

    A failed write that no writer of :mod:`intercluster.io` caught (a figure, an mzML, a
    library's own writer) ends, like theirs, in one
    :class:`~intercluster.errors.WriteError` line: the file when the error names it, else the
    job's outputs (snakemake removes a failed job's outputs: nothing partial is kept).
    """
    smk = main.__globals__["snakemake"]
    configure_logging(smk.log[0] if len(smk.log) else None)
    logging.getLogger("intercluster").debug("rule script %s", main.__module__)
    call_writing(main, smk)


def call_writing(main: Callable[[Any], None], smk) -> None:
    """``main(smk)`` with a write error (:data:`WRITE_ERRNOS`) turned into a WriteError line."""
    try:
        main(smk)
    except WriteError:
        raise
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        target = exc.filename or ", ".join(str(p) for p in smk.output) or "an output"
        raise WriteError(
            f"{target}: cannot be written ({exc.strerror or exc}); nothing of it is kept; free "
            "disk space or fix the folder's permissions and run the same command again"
        ) from None


class Fields(dict):
    """A name -> value mapping read like Snakemake's named lists (``fields.chi2``,
    ``fields["chi2"]``, ``"zoom" in fields.keys()``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _paths(fields: dict) -> list[str]:
    out = []
    for value in fields.values():
        out += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


def items(smk) -> list[SimpleNamespace]:
    """One view per item of ``smk.params.per_item`` (see the module docstring), in its order.

    Every item's wildcards are the job's plus the item's, its params the job's plus the
    item's. The items' outputs must together be exactly the job's outputs, and their inputs
    among the job's inputs: otherwise the rule and its input functions disagree and this
    raises ``ValueError`` before anything is computed.
    """
    views = []
    for spec in smk.params["per_item"].values():
        views.append(
            SimpleNamespace(
                wildcards=Fields({**dict(smk.wildcards.items()), **spec.get("wildcards", {})}),
                input=Fields(spec.get("input", {})),
                output=Fields(spec.get("output", {})),
                params=Fields({**dict(smk.params.items()), **spec.get("params", {})}),
                log=smk.log,
                threads=smk.threads,
            )
        )
    declared_out = sorted(str(p) for p in smk.output)
    item_out = sorted(p for v in views for p in _paths(v.output))
    if item_out != declared_out:
        raise ValueError(
            f"params.per_item' outputs {item_out} are not the job's outputs {declared_out}"
        )
    declared_in = {str(p) for p in smk.input}
    missing = sorted({p for v in views for p in _paths(v.input)} - declared_in)
    if missing:
        raise ValueError(f"params.per_item' inputs {missing} are not among the job's inputs")
    return views
