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

Such a stage is declared once, as a :class:`Stage` (the rules' side,
workflow/rules/*.smk): its output patterns and its items. The rule's ``output:``, its
``params.per_item``, its ``input:`` and the stage's targets are all derived from that one
declaration, and the declaration is checked when it is made (when snakemake reads the
rule files): every output pattern must name exactly the items' wildcards, the job's
wildcards and the within-item ones, so that no two items write one file and no item
leaves a wildcard open. :func:`check_rule_outputs` then compares a rule's ``output:`` with
its stage's (the Snakefile calls it for every rule whose ``per_item`` is a stage's).
"""

from __future__ import annotations

import errno
import itertools
import logging
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .errors import WriteError
from .io import configure_logging

__all__ = ["Fields", "Stage", "StageError", "check_rule_outputs", "items", "run"]


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


# --- a batched stage, declared once -------------------------------------------------------


class StageError(ValueError):
    """A stage declaration whose outputs and items disagree (raised while the rules are read)."""


def pattern_fields(pattern: str) -> list[str]:
    """The wildcard names of a path pattern (``{name}`` fields), in order, without repeats."""
    names = [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]
    return list(dict.fromkeys(names))


def _flat(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


@dataclass(frozen=True)
class Stage:
    """One job per value of the job's wildcards, handling several items of one stage.

    Parameters
    ----------
    name : str
        The rule's name (in messages).
    items : Mapping[str, Mapping[str, str]]
        Item key -> the item's own wildcards (every item the same names), in job order.
    outputs : Mapping[str, str]
        Output name -> path pattern of the item's, the job's and the within-item wildcards.
    jobs : Mapping[str, Sequence]
        The job's wildcards -> their values (one job per combination); kept as ``{name}``
        in the rule's ``output:``.
    within : Mapping[str, Sequence]
        Wildcards expanded inside one item: an output naming one is a list per item.
    inputs : Mapping[str, str | Callable] or Callable
        Per item: input name -> pattern (formatted with the item's wildcards) or function
        of the item's wildcards; or one function of them returning that mapping (for
        inputs that are there only under some settings).
    params : Mapping[str, Callable]
        Per item: param name -> function of the item's wildcards.

    Raises
    ------
    StageError
        When an output pattern names a wildcard that neither the items, the job nor
        ``within`` give, or leaves out one of the items' wildcards (the items would write
        one file), or when two items' outputs coincide.
    """

    name: str
    items: Mapping[str, Mapping[str, str]]
    outputs: Mapping[str, str]
    jobs: Mapping[str, Sequence] = field(default_factory=dict)
    within: Mapping[str, Sequence] = field(default_factory=dict)
    inputs: Mapping[str, Any] | Callable = field(default_factory=dict)
    params: Mapping[str, Callable] = field(default_factory=dict)

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Refuse a declaration whose outputs and items disagree (see the class)."""
        where = f"stage {self.name}"
        if not self.items:
            raise StageError(f"{where}: no items")
        names = [tuple(w) for w in self.items.values()]
        if len(set(map(frozenset, names))) != 1:
            raise StageError(f"{where}: items name different wildcards: {sorted(set(names))}")
        item_names = set(names[0])
        job_names, within_names = set(self.jobs), set(self.within)
        if (both := item_names & (job_names | within_names)) or (job_names & within_names):
            raise StageError(f"{where}: wildcard(s) {sorted(both or job_names & within_names)} "
                             "given twice (items, job, within)")  # fmt: skip
        for out, pattern in self.outputs.items():
            fields = set(pattern_fields(pattern))
            if unknown := fields - item_names - job_names - within_names:
                raise StageError(
                    f"{where}: output {out} ({pattern}) names {sorted(unknown)}, which no "
                    f"item gives (items give {sorted(item_names)}; job wildcards "
                    f"{sorted(job_names)}; within items {sorted(within_names)})"
                )
            if missing := (item_names | job_names) - fields:
                raise StageError(
                    f"{where}: output {out} ({pattern}) leaves out {sorted(missing)}: its "
                    "items (or jobs) would write the same file"
                )
        every = [p for out in self.outputs for p in self.output(out)]
        if duplicates := sorted({p for p in every if every.count(p) > 1}):
            raise StageError(f"{where}: two items write {duplicates}")

    # -- the rule's side ---------------------------------------------------------------------

    def _format(self, pattern: str, values: Mapping[str, str]) -> list[str]:
        """``pattern`` for one item (``values``), expanded over the within-item wildcards
        it names: a list when it names any."""
        inside = [w for w in self.within if w in pattern_fields(pattern)]
        combos = itertools.product(*(self.within[w] for w in inside))
        return [pattern.format(**values, **dict(zip(inside, c, strict=True))) for c in combos]

    def _one(self, pattern: str, values: Mapping[str, str]):
        paths = self._format(pattern, values)
        named_within = any(w in pattern_fields(pattern) for w in self.within)
        return paths if named_within else paths[0]

    def output(self, name: str) -> list[str]:
        """The rule's ``output:`` ``name``: every item's paths, job wildcards kept open."""
        keep = {w: "{" + w + "}" for w in self.jobs}
        return [
            p for item in self.items.values()
            for p in self._format(self.outputs[name], {**item, **keep})
        ]  # fmt: skip

    def targets(self, *names: str) -> list[str]:
        """Every job's outputs (``names``, default all): the stage's final files."""
        out = []
        for combo in itertools.product(*(map(str, v) for v in self.jobs.values())):
            values = dict(zip(self.jobs, combo, strict=True))
            for name in names or self.outputs:
                out += [p.format(**values) for p in self.output(name)]
        return out

    def _fields(self, spec, one) -> dict:
        """Per item: a pattern is formatted with the item's wildcards, a function called
        with them; anything else (a list of paths) is taken as it is."""
        mapping = spec(one) if callable(spec) else spec
        out = {}
        for name, value in mapping.items():
            if callable(value):
                value = value(one)
            elif isinstance(value, str):
                value = value.format(**vars(one))
            out[name] = value
        return out

    def per_item(self, wildcards) -> dict:
        """``params.per_item`` of the job: item -> wildcards, input, output, params."""
        job = dict(wildcards.items())
        out = {}
        for key, item in self.items.items():
            one = SimpleNamespace(**{**job, **item})
            out[key] = {
                "wildcards": dict(item),
                "input": self._fields(self.inputs, one),
                "output": {n: self._one(p, vars(one)) for n, p in self.outputs.items()},
                "params": self._fields(self.params, one),
            }
        return out

    def input(self, wildcards) -> list[str]:
        """The job's ``input:``: every input of every item, once, in item order."""
        paths = []
        for spec in self.per_item(wildcards).values():
            for value in spec["input"].values():
                paths += _flat(value)
        return list(dict.fromkeys(paths))


def check_rule_outputs(rule_name: str, outputs: Mapping[str, Any], stage: Stage) -> None:
    """Refuse a rule whose ``output:`` (name -> patterns) is not its stage's
    (:meth:`Stage.output` of every output of the declaration)."""
    declared = {name: _flat(value) for name, value in outputs.items()}
    derived = {name: stage.output(name) for name in stage.outputs}
    if declared != derived:
        raise StageError(
            f"rule {rule_name}: its output {declared} is not what its stage {stage.name} "
            f"declares {derived}; write the rule's output as the stage's "
            f"(output: name=STAGE.output(name) for every output of the stage)"
        )
