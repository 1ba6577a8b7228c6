"""Validate the workflow config and the sample sheet before any job runs.

Errors are raised as :class:`InputError` with one line that names the file and the field
and says what is expected, e.g.::

    config: fit.grid.k_dim.min = 0: must be > 0

JSON schemas (``workflow/schemas``) do the type and range checks and hold every default
(``default:``); :func:`validate_config` fills those in once, in place, so the code reads
settings without fallbacks (typed: :mod:`intercluster.settings`). The cross-field rules a
schema cannot express (grid bounds in order, chunks vs grid size, sheet paths) live here.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from .errors import InputError
from .records import CONDITION_EXTRAS

__all__ = [
    "InputError",
    "defaulting_validator",
    "grid_size",
    "load_sample_sheet",
    "order_conditions",
    "schema_defaults",
    "validate_config",
]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def _load_schema(name: str) -> dict:
    with open(SCHEMA_DIR / name) as handle:
        return yaml.safe_load(handle)


def _describe(error: jsonschema.ValidationError) -> str:
    """Turn a jsonschema error into 'what is expected' words a chemist can act on."""
    v = error.validator_value
    words = {
        "exclusiveMinimum": f"must be > {v}",
        "minimum": f"must be >= {v}",
        "maximum": f"must be <= {v}",
        "enum": f"must be one of {v}",
        "type": f"must be of type {v}",
        "required": f"is missing a required key ({error.message.split(' ')[0]})",
        "minItems": f"must have at least {v} entries",
        "maxItems": f"must have at most {v} entries",
        "pattern": f"must match the pattern {v}",
        "uniqueItems": "must not repeat entries",
        "additionalProperties": f"has an unknown key ({error.message})",
        "not": "has a forbidden value",
    }
    return words.get(error.validator, error.message)


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def defaulting_validator():
    """A draft 2020-12 validator class that also fills in the schema's ``default`` values.

    A key a mapping lacks gets a deep copy of its ``default`` before the mapping's own
    properties are checked, so a defaulted ``{}`` section is filled in turn.
    """
    validator_class = jsonschema.Draft202012Validator
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def _schema_check(data, schema: dict, where: str, fill_defaults: bool = False) -> None:
    validator = (defaulting_validator() if fill_defaults else jsonschema.Draft202012Validator)(
        schema
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        value = "" if error.validator == "required" else f" = {error.instance!r}"
        raise InputError(f"{where}: {_path(error)}{value}: {_describe(error)}")


def grid_size(fit: dict) -> int:
    return math.prod(int(axis["n"]) for axis in fit["grid"].values())


def validate_config(config: dict, where: str = "config") -> dict:
    """Schema check, the schema's defaults filled in (in place), then the cross-field rules.

    Returns ``config`` (the same dict); raises :class:`InputError`.
    """
    _schema_check(config, _load_schema("config.schema.yaml"), where, fill_defaults=True)
    for name, axis in config["fit"]["grid"].items():
        if axis["max"] < axis["min"]:
            raise InputError(
                f"{where}: fit.grid.{name}: max = {axis['max']} is below min = {axis['min']}"
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


def schema_defaults(section: str) -> dict:
    """The schema's defaults of one config section, as a config that omits it would get."""
    schema = _load_schema("config.schema.yaml")
    sub = schema["properties"][section]
    out: dict = {}
    section_schema = {**sub, "required": [], "definitions": schema["definitions"]}
    errors = defaulting_validator()(section_schema).iter_errors(out)
    for _ in errors:  # consumed for the defaults they fill in; a partial section may be invalid
        pass
    return out


SHEET_COLUMNS = ("sample", "mzml")
SHEET_NUMBERS = ("dead_time_s", "second_dimer_fraction", "dimer_response")  # optional numbers
REPO_DIR = Path(__file__).resolve().parents[3]


def default_concentration_columns() -> tuple[str, ...]:
    """The concentration columns of the system file the default demo's config.yaml names."""
    from .system import load_system

    with open(REPO_DIR / "config.yaml") as handle:
        system_file = yaml.safe_load(handle)["system"]
    return load_system(REPO_DIR / system_file).concentration_columns()


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
    """
    path = Path(path)
    where = f"sample sheet {path}"
    if concentration_columns is None:
        concentration_columns = default_concentration_columns()
    concentration_columns = tuple(concentration_columns)
    required = SHEET_COLUMNS + concentration_columns
    if not path.is_file():
        raise InputError(f"{where}: file not found")
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    except Exception as exc:  # noqa: BLE001 - any parser error is the user's file
        raise InputError(f"{where}: cannot be read as TSV ({exc})") from exc
    sheet.columns = [c.strip() for c in sheet.columns]
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; expected tab-separated columns "
            f"{', '.join(required)}[, dead_time_s, cid_mzml]"
        )
    if sheet.empty:
        raise InputError(f"{where}: has no samples")
    schema = _load_schema("samples.schema.yaml")
    rows = []
    for line_no, raw in enumerate(sheet.to_dict("records"), start=2):
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
                        f"{where}, line {line_no}: {key} = {value!r}: must be a number (nmol/L "
                        "for concentrations, s for dead_time_s)"
                    ) from None
                if row[key] < 0:
                    raise InputError(f"{where}, line {line_no}: {key} = {row[key]!r}: must be >= 0")
            elif key in ("cid_mzml", "condition"):
                row[key] = value or None
            else:
                row[key] = value
        _schema_check(row, schema, f"{where}, line {line_no}")
        if row["sample"].startswith("."):
            raise InputError(
                f"{where}, line {line_no}: sample = {row['sample']!r}: must not start with '.' "
                "(results/<step>/<sample>/ would be a hidden or a parent directory)"
            )
        row.setdefault("dead_time_s", 20.0)
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
        frame[column] = [
            os.path.normpath(base / p) if p else None for p in frame[column].tolist()
        ]
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
