"""The JSON schemas of the config, the sample sheet and the system file (package data: the
``*.schema.yaml`` files beside this module), and the one validator every schema check uses:
draft 2020-12, numbers finite, ``default:`` values filled in. Below every other module of
the package (it imports none of them), so that validation, the system file and the settings
can all read the schemas' defaults.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent


def load_schema(name: str) -> dict:
    with open(SCHEMA_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def non_finite(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def describe_error(error: jsonschema.ValidationError) -> str:
    """Turn a jsonschema error into 'what is expected' words a chemist can act on."""
    v = error.validator_value
    if error.validator == "type" and non_finite(error.instance):
        return "must be a finite number"
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


def error_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _finite_number(checker, instance) -> bool:
    base = jsonschema.Draft202012Validator.TYPE_CHECKER
    return base.is_type(instance, "number") and not non_finite(instance)


#: JSON has no NaN or infinity, but YAML (``.nan``, ``.inf``) and Python floats do, and
#: jsonschema's range keywords let them through (``nan > 0`` and ``nan <= 0`` are both
#: false). So "number" means a finite number in every schema of the project: one owner for
#: "every number finite", the ranges stay in the schemas.
FINITE_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number)


def finite_validator():
    """The draft 2020-12 validator class whose "number" excludes NaN and infinities."""
    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, type_checker=FINITE_TYPES
    )


def defaulting_validator():
    """A draft 2020-12 validator class that also fills in the schema's ``default`` values
    (numbers finite, :func:`finite_validator`).

    A key a mapping lacks gets a deep copy of its ``default`` before the mapping's own
    properties are checked, so a defaulted ``{}`` section is filled in turn.
    """
    validator_class = finite_validator()
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def schema_defaults(section: str) -> dict:
    """The schema's defaults of one config section, as a config that omits it would get."""
    schema = load_schema("config.schema.yaml")
    sub = schema["properties"][section]
    out: dict = {}
    section_schema = {**sub, "required": [], "definitions": schema["definitions"]}
    errors = defaulting_validator()(section_schema).iter_errors(out)
    for _ in errors:  # consumed for the defaults they fill in; a partial section may be invalid
        pass
    return out
