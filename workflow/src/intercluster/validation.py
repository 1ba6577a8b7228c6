"""Validate the workflow config and the sample sheet before any job runs.

Errors are raised as :class:`InputError` with one line that names the file and the field
and says what is expected, e.g.::

    config: fit.grid.k_dim.min = 0: must be > 0

JSON schemas (:mod:`intercluster.schemas`, package data) do the type and range checks and
hold every default (``default:``); :func:`validate_config` fills those in once, in place, so
the code reads settings without fallbacks (typed: :mod:`intercluster.settings`). The
cross-field rules a schema cannot express (grid bounds in order, chunks vs grid size, sheet
paths) live here.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import math
import os
from pathlib import Path

import jsonschema
import pandas as pd

from .errors import InputError
from .network import RATE_CONSTANTS
from .records import CONDITION_EXTRAS
from .schemas import (
    defaulting_validator,
    describe_error,
    error_path,
    finite_validator,
    load_schema,
    non_finite,
    schema_defaults,
)
from .settings import table1_constants
from .system import default_system_definition
from .textfiles import load_yaml, quote, read_text, yaml_line

log = logging.getLogger("intercluster.validation")

__all__ = [
    "InputError",
    "defaulting_validator",
    "fit_models_note",
    "grid_size",
    "load_sample_sheet",
    "order_conditions",
    "schema_defaults",
    "validate_config",
]

def _same(a, b) -> bool:
    return a == b or (non_finite(a) and non_finite(b) and repr(a) == repr(b))


def _line_in_files(files, keys: list, value) -> str:
    """`` (FILE, line N)`` of the config file that sets ``keys`` to ``value`` (the last such
    of ``files``, as snakemake merges them); empty where none does (a --config value, a
    default)."""

    for file in reversed([str(f) for f in files]):
        try:
            node = load_yaml(file)
            for key in keys:
                node = node[key]
        except (InputError, KeyError, IndexError, TypeError):
            continue
        if _same(node, value):
            line = yaml_line(file, keys)
            return f" ({file}, line {line})" if line else ""
    return ""


def _schema_check(data, schema: dict, where: str, fill_defaults: bool = False,
                  files=()) -> None:  # fmt: skip
    validator = (defaulting_validator() if fill_defaults else finite_validator())(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        value = "" if error.validator == "required" else f" = {quote(error.instance)}"
        at = _line_in_files(files, list(error.absolute_path), error.instance) if value else ""
        raise InputError(f"{where}: {error_path(error)}{value}: {describe_error(error)}{at}")


def grid_size(fit: dict) -> int:
    """Points of the grid of the three rate constants (per model 4 beta value; fit.grid.beta,
    model 4's extra axis, is not counted)."""
    return math.prod(int(fit["grid"][name]["n"]) for name in RATE_CONSTANTS)


def fit_models_note(config: dict) -> str | None:
    """What listing 4 in ``fit.models`` does, in words (None when it is not listed): said
    when the workflow is read, since the grid rules fit the other models only."""
    models = list(config["fit"]["models"])
    if 4 not in models:
        return None
    others = ", ".join(str(m) for m in models if m != 4)
    return (
        "fit.models lists 4: model 4 is fitted by the rule fit_model4 only (fit.grid.beta, "
        "beside model 3, every sample jointly; results/fit/<all>/model4/beta.json), which "
        f"joins the default target; the grid rules fit models {others}"
    )


def validate_config(config: dict, where: str = "config", files=()) -> dict:
    """Schema check, the schema's defaults filled in (in place), then the cross-field rules.

    Returns ``config`` (the same dict); raises :class:`InputError`. ``files``: the config
    files ``config`` was merged from, in order; a schema error names the line of the file
    that set the bad value (snakemake merges the files before the workflow sees them).
    """
    _schema_check(config, load_schema("config.schema.yaml"), where, fill_defaults=True,
                  files=files)  # fmt: skip
    for name, axis in config["fit"]["grid"].items():
        if axis["max"] < axis["min"]:
            raise InputError(
                f"{where}: fit.grid.{name}: max = {axis['max']} is below min = {axis['min']}"
            )
    if 4 in config["fit"]["models"]:
        # model 4 has a fourth axis (beta) the grid rules do not have: it is fitted by the
        # rule fit_model4 alone (intercluster.exchange_bias, beside model 3, every sample
        # jointly), never by the grid rules at beta = 1; those fit the other models listed
        others = [m for m in config["fit"]["models"] if m != 4]
        if not others:
            raise InputError(
                f"{where}: fit.models = [4]: model 4 is fitted by the rule fit_model4 (its "
                "beta axis fit.grid.beta, beside model 3, every sample jointly), not by the "
                "grid rules, which need at least one of models 1-3 as well (e.g. [3, 4])"
            )
        log.info("%s: %s", where, fit_models_note(config))
    kinetics = config["kinetics"]
    # kinetics.models are simulated and exported at their Table 1 constants; model 4, which
    # the paper has not, at model 3's and kinetics.beta (settings.table1_constants)
    for model in kinetics["models"]:
        try:
            table1_constants(kinetics, model)
        except ValueError as error:
            raise InputError(f"{where}: kinetics.models lists {model}: {error}") from None
    if kinetics["beta"] != 1.0 and 4 not in kinetics["models"]:
        raise InputError(
            f"{where}: kinetics.beta = {kinetics['beta']}: only model 4 has an exchange bias "
            f"(kinetics.models is {kinetics['models']}; add 4 to simulate it)"
        )
    ve = config.get("virtual_experiment")
    if ve and ve.get("beta", 1.0) != 1.0 and ve.get("model") != 4:
        raise InputError(
            f"{where}: virtual_experiment.beta = {ve['beta']}: only model 4 has an exchange "
            f"bias (virtual_experiment.model is {ve.get('model')})"
        )
    n_points = grid_size(config["fit"])
    if config["fit"]["chunks"] > n_points:
        raise InputError(
            f"{where}: fit.chunks = {config['fit']['chunks']}: must be <= the number of grid "
            f"points ({n_points})"
        )
    return config


def order_conditions(config: dict, columns: tuple[str, ...], where: str = "config") -> None:
    """The config's sample conditions name exactly the system's concentration columns.

    ``kinetics.table1_conditions`` and every ``virtual_experiment.samples`` entry give the
    initial concentrations of the cluster system's reactants under their sheet column names
    (``columns``, :meth:`~intercluster.system.SystemDefinition.concentration_columns`). A
    missing or unknown column raises :class:`InputError`; the mappings are then put in the
    system's order, in place (the order :class:`~intercluster.records.SampleConditions` and
    the kinetics take them in).
    """
    mappings = [("kinetics.table1_conditions", config["kinetics"]["table1_conditions"])]
    mappings += [
        (f"virtual_experiment.samples.{name}", entry)
        for name, entry in config["virtual_experiment"]["samples"].items()
    ]
    for key, mapping in mappings:
        given = [k for k in mapping if k not in CONDITION_EXTRAS]
        if set(given) != set(columns):
            raise InputError(
                f"{where}: {key}: concentrations {', '.join(given) or '(none)'}; expected the "
                f"system's reactant columns {', '.join(columns)}"
            )
        ordered = {c: mapping.pop(c) for c in columns}
        rest = dict(mapping)
        mapping.clear()
        mapping.update({**ordered, **rest})


SHEET_COLUMNS = ("sample", "mzml")
SHEET_NUMBERS = ("dead_time_s", "second_dimer_fraction", "dimer_response")  # optional numbers
SHEET_TEXT = ("cid_mzml", "condition")  # optional text (empty: None)
#: A line whose first non-blank character is this is a comment; inside a field it is data
#: (a path or a sample note may hold it).
SHEET_COMMENT = "#"


def default_concentration_columns() -> tuple[str, ...]:
    """The concentration columns of the system file the default demo's config/config.yaml names."""
    return default_system_definition().concentration_columns()


def _nearest(name: str, known) -> str | None:
    """The known column a misspelt ``name`` most likely means (None: none is close)."""
    by_case = [k for k in known if k.casefold() == name.casefold()]
    if by_case:
        return by_case[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _sheet_table(path: Path, where: str, known: tuple[str, ...]):
    """``(columns, [(line number, {column: text})])`` of a sample sheet: UTF-8 (a BOM
    dropped), any line ending, tab-separated, comment and blank lines skipped; the header's
    names stripped of surrounding blanks, each column once and known."""
    text = read_text(path, where)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            line_no = reader.line_num
            if not "".join(fields).strip() or fields[0].lstrip().startswith(SHEET_COMMENT):
                continue  # a blank line (also one of tabs only) or a comment line
            if header is None:
                header, header_line = [f.strip() for f in fields], line_no
            else:
                rows.append((line_no, fields))
    except csv.Error as exc:
        raise InputError(
            f"{where}, line {reader.line_num}: cannot be read as TSV ({exc})"
        ) from None
    if header is None:
        raise InputError(f"{where}: has no header line; expected tab-separated columns "
                         f"{', '.join(known)}")  # fmt: skip
    if len(header) == 1 and any(sep in header[0] for sep in ",;"):
        sep = "," if "," in header[0] else ";"
        raise InputError(
            f"{where}, line {header_line}: header {quote(header[0])} has no tab but {sep!r}; "
            "expected tab-separated columns (save the sheet as 'Text (Tab delimited)', not CSV)"
        )
    # Columns without a name and without values: the trailing tabs a spreadsheet may write.
    used = [k for k, name in enumerate(header)
            if name or any(k < len(f) and f[k].strip() for _, f in rows)]  # fmt: skip
    for k in used:
        if not header[k]:
            raise InputError(
                f"{where}, line {header_line}: column {k + 1} has values but no name; expected "
                "a name for every column"
            )
    seen: dict[str, int] = {}
    for k in used:
        if header[k] in seen:
            raise InputError(
                f"{where}, line {header_line}: column {header[k]!r} is given twice (columns "
                f"{seen[header[k]] + 1} and {k + 1}); expected each column once"
            )
        seen[header[k]] = k
    out = []
    for line_no, fields in rows:
        extra = [f for f in fields[len(header) :] if f.strip()]
        if extra:
            raise InputError(
                f"{where}, line {line_no}: {len(fields)} fields for {len(header)} columns "
                f"(extra value {quote(extra[0].strip())}); expected one value per column"
            )
        fields = fields + [""] * (len(header) - len(fields))
        out.append((line_no, {header[k]: fields[k] for k in used}))
    return [header[k] for k in used], header_line, out


def _decimal_comma_hint(value: str) -> str:
    """What a number written with a decimal comma (a European spreadsheet) needs."""
    try:
        float(value.replace(",", "."))
    except ValueError:
        return ""
    return "; write the decimal separator as '.'" if value.count(",") == 1 else ""


def _check_sheet_columns(columns, header_line, where, required, optional) -> None:
    """Missing columns (with the near miss among the unknown ones), then unknown columns
    with the nearest known name: a misspelt optional column would otherwise be ignored."""
    known = required + optional
    unknown = [c for c in columns if c not in known]
    missing = [c for c in required if c not in columns]
    if missing:
        hints = [f"`{c}`: unknown column; did you mean `{m}`?" for c in unknown
                 if (m := _nearest(c, missing))]  # fmt: skip
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; expected tab-separated columns "
            f"{', '.join(required)}[, dead_time_s, cid_mzml]" + "".join(f"; {h}" for h in hints)
        )
    for column in unknown:
        near = _nearest(column, known)
        guess = f"did you mean `{near}`?" if near else f"expected one of {', '.join(known)}"
        raise InputError(
            f"{where}, line {header_line}: `{quote(column)[1:-1]}`: unknown column; {guess}"
        )


def load_sample_sheet(
    path: str | os.PathLike,
    check_files: bool = False,
    concentration_columns: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Read and validate the sample sheet; resolve paths relative to the sheet.

    ``concentration_columns`` are the initial concentrations (nmol/L) the cluster system's
    reactants name (:meth:`~intercluster.system.SystemDefinition.concentration_columns`;
    default: those of the demo's system file). Returns a frame indexed by ``sample`` with
    columns ``mzml``, the concentration columns, ``dead_time_s`` (default 20),
    ``second_dimer_fraction`` (default 0), ``dimer_response`` (None: the global
    ``fit.tmax.dimer_response``), ``cid_mzml`` and ``condition`` (runs of one
    condition are replicates; both None where absent). With ``check_files`` every referenced
    file must exist (use it for a user's own data; the demo's files are made by the workflow).

    The file: UTF-8 (a byte-order mark is dropped), tab-separated, any line ending; a line
    whose first non-blank character is ``#`` is a comment, a ``#`` inside a field is data.
    Every column is known (an unknown one is refused with the nearest known name) and given
    once; numbers are finite and in the ranges of ``intercluster/schemas/samples.schema.yaml``.
    """
    path = Path(path)
    where = f"sample sheet {path}"
    if concentration_columns is None:
        concentration_columns = default_concentration_columns()
    concentration_columns = tuple(concentration_columns)
    required = SHEET_COLUMNS + concentration_columns
    if not path.is_file():
        raise InputError(f"{where}: file not found")
    columns, header_line, table = _sheet_table(path, where, required)
    _check_sheet_columns(columns, header_line, where, required, SHEET_NUMBERS + SHEET_TEXT)
    if not table:
        raise InputError(f"{where}: has no samples")
    schema = load_schema("samples.schema.yaml")
    # the system's concentration columns: nmol/L, finite, >= 0 (the sum > 0 is checked below)
    schema["properties"].update(
        {c: {"type": "number", "minimum": 0} for c in concentration_columns}
    )
    rows = []
    for line_no, raw in table:
        row: dict = {}
        for key, value in raw.items():
            value = value.strip()
            if key in concentration_columns or key in SHEET_NUMBERS:
                if value == "" and key in SHEET_NUMBERS:
                    continue
                try:
                    row[key] = float(value)
                except ValueError:
                    raise InputError(
                        f"{where}, line {line_no}: {key} = {quote(value)}: must be a number "
                        "(nmol/L for concentrations, s for dead_time_s)"
                        + _decimal_comma_hint(value)
                    ) from None
            elif key in SHEET_TEXT:
                row[key] = value or None
            else:
                row[key] = value
        _schema_check(row, schema, f"{where}, line {line_no}")
        if row["sample"].startswith("."):
            raise InputError(
                f"{where}, line {line_no}: sample = {quote(row['sample'])}: must not start with "
                "'.' (results/<step>/<sample>/ would be a hidden or a parent directory)"
            )
        row.setdefault("dead_time_s", schema["properties"]["dead_time_s"]["default"])
        row.setdefault(
            "second_dimer_fraction", schema["properties"]["second_dimer_fraction"]["default"]
        )
        row.setdefault("dimer_response", schema["properties"]["dimer_response"]["default"])
        row.setdefault("cid_mzml", None)
        row.setdefault("condition", None)
        rows.append(row)
    frame = pd.DataFrame(rows)
    duplicated = frame["sample"][frame["sample"].duplicated()].unique().tolist()
    if duplicated:
        raise InputError(f"{where}: duplicate sample name(s) {', '.join(duplicated)}")
    folded = frame["sample"].str.casefold()
    if folded.duplicated().any():
        clashes = "; ".join(
            ", ".join(names)
            for names in frame.groupby(folded, sort=False)["sample"].agg(list)
            if len(names) > 1
        )
        raise InputError(
            f"{where}: sample names {clashes} differ only in case, so their results would "
            "overwrite each other on a case-insensitive file system (macOS's default); "
            "expected names that differ in more than case"
        )
    total = frame[list(concentration_columns)].sum(axis=1)
    if (total <= 0).any():
        bad = frame.loc[total <= 0, "sample"].tolist()
        raise InputError(
            f"{where}: sample(s) {', '.join(bad)}: {' + '.join(concentration_columns)} must be > 0"
        )
    # None, not NaN, where a run names no condition (pandas turns a None beside strings to NaN)
    frame["condition"] = pd.Series(
        [c if isinstance(c, str) else None for c in frame["condition"]],
        index=frame.index, dtype=object,
    )  # fmt: skip
    # None, not NaN, where a run gives no dimer response of its own (the global one applies)
    frame["dimer_response"] = pd.Series(
        [None if v is None or pd.isna(v) else float(v) for v in frame["dimer_response"]],
        index=frame.index, dtype=object,
    )  # fmt: skip
    base = path.parent
    for column in ("mzml", "cid_mzml"):
        # a None beside paths comes back from pandas as NaN: only a text is a path
        frame[column] = pd.Series(
            [os.path.normpath(base / p) if isinstance(p, str) and p else None
             for p in frame[column].tolist()],
            index=frame.index, dtype=object,
        )  # fmt: skip
    if check_files:
        for sample, column, file in _referenced_files(frame):
            if not Path(file).is_file():
                raise InputError(f"{where}: sample {sample}: {column} file {file} not found")
    return frame.set_index("sample", drop=False)


def _referenced_files(frame: pd.DataFrame):
    for row in frame.itertuples():
        yield row.sample, "mzml", row.mzml
        if row.cid_mzml:
            yield row.sample, "cid_mzml", row.cid_mzml
