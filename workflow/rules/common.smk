# Shared set-up: the library on the path, config and sample-sheet validation, wildcard
# constraints and the named input functions the rules use.

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

# This file is workflow/rules/common.smk of the repository. (Not workflow.basedir: when the
# workflow is used as a module, that is the using workflow's directory.)
WORKFLOW_DIR = Path(str(workflow.current_basedir)).parent
# The library lives in workflow/src; jobs (local, conda or cluster) inherit PYTHONPATH.
LIBRARY_DIR = str(WORKFLOW_DIR / "src")
if LIBRARY_DIR not in sys.path:
    sys.path.insert(0, LIBRARY_DIR)
# (Set, not required from the user: hence no `envvars:` directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (LIBRARY_DIR, os.environ.get("PYTHONPATH", "")) if p
    )
)

from intercluster.runlock import explain_lock, record_lock_owner
from intercluster.system import system_of_config
from intercluster.validation import (
    InputError,
    load_sample_sheet,
    order_conditions,
    validate_config,
)

VIRTUAL_EXPERIMENT_DIR = "results/virtual_experiment"
# Where the before-any-job check of a user's mzML remembers the files that passed.
RUN_CHECK_CACHE = ".snakemake/intercluster/checked_runs"

# Name the config file(s) in messages: --configfile paths, else the workflow's config.yaml.
CONFIG_FILES = ", ".join(
    str(p) for p in workflow.overwrite_configfiles or ["config/config.yaml"]
)

try:
    validate_config(
        config,
        where=f"config ({CONFIG_FILES})",
        files=["config/config.yaml", *workflow.overwrite_configfiles],
    )
    # The cluster-system file: loaded and checked once, before any job. A relative path is
    # found from the working directory, else from the workflow's own directory.
    SYSTEM = system_of_config(
        config,
        where=f"config ({CONFIG_FILES})",
        search_dirs=[WORKFLOW_DIR.parent],
    )
    # A system with a kinetic model runs the whole DAG; one without (model_family none)
    # stops after the deconvolution and its framework figures (frameworks.smk).
    KINETIC = SYSTEM.kinetics.model_family != "none"
    # What the rules pass to their scripts (ClusterSystem.from_config reads it back).
    CLUSTER = SYSTEM.cluster_system().to_config() if KINETIC else None
    # The sheet's concentration columns: the reactants', richest in the first metal first
    # (the order of records.SampleConditions and of the kinetics).
    CONCENTRATION_COLUMNS = SYSTEM.concentration_columns()
    # Where a framework system's outputs go: never over the default demo's results/.
    FRAMEWORK_DIR = config.get("results_prefix") or f"results/{SYSTEM.name}"
    # Files the workflow writes itself (the sample sheet may name them before they exist).
    GENERATED_DIRS = (VIRTUAL_EXPERIMENT_DIR, f"{FRAMEWORK_DIR}/virtual_experiment")
    samples = load_sample_sheet(
        config["samples"], concentration_columns=CONCENTRATION_COLUMNS
    )
    if KINETIC:  # the config's conditions: the same reactant columns, in the same order
        order_conditions(
            config, CONCENTRATION_COLUMNS, where=f"config ({CONFIG_FILES})"
        )
    for _sample, _column, _file in (
        (row.sample, column, getattr(row, column))
        for row in samples.itertuples()
        for column in ("mzml", "cid_mzml")
    ):
        # Files under results/virtual_experiment are made by the workflow; a user's own
        # files must exist before anything runs.
        if _file and not _file.startswith(GENERATED_DIRS) and not Path(_file).is_file():
            raise InputError(
                f"sample sheet {config['samples']}: sample {_sample}: {_column} file "
                f"{_file} not found"
            )
    # A user's MS1 run that no t_max can come from (too few spectra, all zero, no signal at
    # the species' m/z) or whose dead time is longer than the run: refused here, before
    # any job, by the rule intercluster inspect also applies (ingest.check_sample_run).
    # Once, by the main snakemake process (a cluster job's own parsing skips it).
    _own_runs = [
        row
        for row in samples.itertuples()
        if workflow.is_main_process and not row.mzml.startswith(GENERATED_DIRS)
    ]
    if _own_runs:  # (imported here: the demo's parsing needs neither)
        from intercluster.frameworks import ion_form_basis
        from intercluster.ingest import check_sample_run
        from snakemake.logging import logger

        _species_span = ion_form_basis(SYSTEM).mz_span
    for _row in _own_runs:
        for _warning in check_sample_run(
            _row.mzml,
            _row.sample,
            _species_span,
            config["deconvolution"]["time_bin_min"],
            _row.dead_time_s,
            cache_dir=RUN_CHECK_CACHE,
            polarity=SYSTEM.polarity,
        ):
            logger.warning(f"warning: {_warning}")
except InputError as error:
    raise WorkflowError(str(error)) from None

# A lock left by a killed run: one line saying whose it is and how to clear it (snakemake's
# own refusal follows). onstart, after snakemake took the lock, records its owner.
if workflow.is_main_process and (_lock_note := explain_lock(".snakemake")):
    from snakemake.logging import logger

    logger.warning(_lock_note)


onstart:
    record_lock_owner(".snakemake")


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
    """Initial concentrations (nmol/L) and dead time (s) of a sample (records.SampleConditions)."""
    row = samples.loc[wildcards.sample]
    return {
        **{column: float(row[column]) for column in CONCENTRATION_COLUMNS},
        "dead_time_s": float(row["dead_time_s"]),
        "second_dimer_fraction": float(row["second_dimer_fraction"]),
        # None: the global fit.tmax.dimer_response (intercluster.observables.dimer_response_of)
        "dimer_response": row["dimer_response"],
    }


def dead_time_of(wildcards):
    """Seconds from mixing to the sample's first spectrum (the sheet's dead_time_s)."""
    return float(samples.loc[wildcards.sample, "dead_time_s"])


def concentrations_of(wildcards):
    """The sample's concentrations (nmol/L) under the system's sheet column names."""
    row = samples.loc[wildcards.sample]
    return {column: float(row[column]) for column in CONCENTRATION_COLUMNS}


def framework_truth_of(wildcards):
    """The synthetic truth of a framework sample, when the workflow made its mzML."""
    mzml = samples.loc[wildcards.sample, "mzml"]
    if not mzml.startswith(f"{FRAMEWORK_DIR}/virtual_experiment"):
        return []
    return [f"{FRAMEWORK_DIR}/virtual_experiment/truth/{wildcards.sample}/summary.tsv"]


def table1_constants(wildcards):
    """The paper's Table 1 rate constants of one model."""
    return config["kinetics"]["table1"][f"model{wildcards.model}"]


# --- one job for several items of a stage --------------------------------------------------
# A stage whose per-item work costs less than a process start-up runs one job for several
# items (all fits of a model, all models, all samples): the rule's outputs are the items'
# outputs, params.per_item gives each item its own wildcards, inputs, outputs and params
# (intercluster.rule_script.items in the script).


def _fields(functions, wildcards):
    out = {}
    for name, function in functions.items():
        value = function(wildcards)
        if name.startswith("**"):  # an unpacked dict of named inputs (may be empty)
            out.update(value)
        else:
            out[name] = value
    return out


def stage_items(item_wildcards, inputs=None, outputs=None, params=None):
    """params.per_item: ``item_wildcards(job wildcards)`` gives item -> its own wildcards;
    per item its inputs (name -> input function of the item's wildcards; a name starting
    with ** unpacks a dict), outputs (name -> path pattern of the wildcards, or a function)
    and params (name -> function)."""

    def per_item(wildcards):
        out = {}
        for item, extra in item_wildcards(wildcards).items():
            one = SimpleNamespace(**{**dict(wildcards.items()), **extra})
            output = {
                name: (p(one) if callable(p) else p.format(**vars(one)))
                for name, p in (outputs or {}).items()
            }
            out[item] = {
                "wildcards": extra,
                "input": _fields(inputs or {}, one),
                "output": output,
                "params": _fields(params or {}, one),
            }
        return out

    return per_item


def items_inputs(items):
    """The job's inputs: every input of every item (for a rule's ``input:``)."""

    def inputs(wildcards):
        paths = []
        for spec in items(wildcards).values():
            for value in spec["input"].values():
                paths += list(value) if isinstance(value, (list, tuple)) else [value]
        return list(dict.fromkeys(paths))

    return inputs
