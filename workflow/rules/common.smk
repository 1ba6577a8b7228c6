# Shared set-up: the library on the path, config and sample-sheet validation, wildcard
# constraints and the named input functions the rules use.

import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The library lives in workflow/src; jobs (local, conda or cluster) inherit PYTHONPATH.
LIBRARY_DIR = str(Path(workflow.basedir) / "workflow" / "src")
if LIBRARY_DIR not in sys.path:
    sys.path.insert(0, LIBRARY_DIR)
# (Set, not required from the user: hence no `envvars:` directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (LIBRARY_DIR, os.environ.get("PYTHONPATH", "")) if p
    )
)

from intercluster.validation import InputError, load_sample_sheet, validate_config

VIRTUAL_EXPERIMENT_DIR = "results/virtual_experiment"

# Name the config file(s) in messages: --configfile paths, else the workflow's config.yaml.
CONFIG_FILES = ", ".join(
    str(p) for p in workflow.overwrite_configfiles or ["config.yaml"]
)

try:
    validate_config(config, where=f"config ({CONFIG_FILES})")
    samples = load_sample_sheet(config["samples"])
    for _sample, _column, _file in (
        (row.sample, column, getattr(row, column))
        for row in samples.itertuples()
        for column in ("mzml", "cid_mzml")
    ):
        # Files under results/virtual_experiment are made by the workflow; a user's own
        # files must exist before anything runs.
        if (
            _file
            and not _file.startswith(VIRTUAL_EXPERIMENT_DIR)
            and not Path(_file).is_file()
        ):
            raise InputError(
                f"sample sheet {config['samples']}: sample {_sample}: {_column} file "
                f"{_file} not found"
            )
except InputError as error:
    raise WorkflowError(str(error)) from None

SAMPLES = samples["sample"].tolist()
JOINT_SAMPLE = config["fit"]["joint_sample_name"]
# In any letter case: results/fit/ALL and results/fit/all are one folder on macOS.
for _sample in SAMPLES:
    if _sample.casefold() == JOINT_SAMPLE.casefold():
        _case = "" if _sample == JOINT_SAMPLE else ", in any letter case"
        raise WorkflowError(
            f"sample sheet {config['samples']}: sample name {_sample!r} is reserved for the "
            f"joint fit over all samples (fit.joint_sample_name{_case})"
        )
MODELS = config["kinetics"]["models"]
FIT_MODELS = config["fit"]["models"]
VIRTUAL_SAMPLES = list(config["virtual_experiment"]["samples"])


wildcard_constraints:
    sample="|".join(re.escape(s) for s in SAMPLES),
    fit_sample="|".join(re.escape(s) for s in SAMPLES + [JOINT_SAMPLE]),
    virtual_sample="|".join(re.escape(s) for s in VIRTUAL_SAMPLES),
    model="|".join(str(m) for m in sorted(set(MODELS) | set(FIT_MODELS))),


# --- input functions -------------------------------------------------------------------


def mzml_of(wildcards):
    """The MS1 time series of a sample (from the sheet)."""
    return samples.loc[wildcards.sample, "mzml"]


def cid_mzml_of(wildcards):
    """The sample's CID file, or nothing when the sheet names none."""
    path = samples.loc[wildcards.sample, "cid_mzml"]
    return [path] if path else []


def conditions_of(wildcards):
    """Initial concentrations (nmol/L) and dead time (s) of a sample."""
    row = samples.loc[wildcards.sample]
    return {
        "ag_nM": float(row["ag_nM"]),
        "au_nM": float(row["au_nM"]),
        "dead_time_s": float(row["dead_time_s"]),
    }


def table1_constants(wildcards):
    """The paper's Table 1 rate constants of one model."""
    return config["kinetics"]["table1"][f"model{wildcards.model}"]
