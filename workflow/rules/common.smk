# Shared set-up: the library on the path, config and sample-sheet validation, wildcard
# constraints and the named input functions the rules use.

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError
from snakemake.io import strip_wildcard_constraints

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

from intercluster.rule_script import Stage, StageError, check_rule_outputs
from intercluster.runlock import explain_lock, record_lock_owner
from intercluster.settings import table1_constants as settings_table1_constants
from intercluster.system import system_of_config
from intercluster.validation import (
    InputError,
    fit_models_note,
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
# The models of the grid rules (fit_chi2 ... fit_best): fit.models without 4. Model 4 is
# fitted by the rule fit_model4 alone (model4.smk); FIT_MODEL4 says whether it is listed.
FIT_MODELS = [m for m in config["fit"]["models"] if m != 4]
FIT_MODEL4 = 4 in config["fit"]["models"]
if FIT_MODEL4:
    from snakemake.logging import logger

    logger.info(fit_models_note(config))
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
    return [fill(PATHS.framework_truth, sample=wildcards.sample, table="summary")]


def table1_constants(wildcards):
    """The paper's Table 1 rate constants of one model (model 4: model 3's and
    kinetics.beta; intercluster.settings.table1_constants)."""
    return settings_table1_constants(config["kinetics"], wildcards.model)


# --- the inputs of a fit (fit, uncertainty and figure rules) --------------------------------
# (PATHS, FITS and samples_of_fit: paths.smk)

ZOOM_ENABLED = bool(config["fit"]["zoom"]["enabled"])


def fit_experiments_of(wildcards):
    """Sample -> its intensities and experimental t_max tables, for every sample of the fit
    (params of the rules that read them; the inputs below list the same paths)."""
    return {
        s: {
            "intensities": fill(PATHS.intensities, sample=s),
            "tmax": fill(PATHS.tmax_experiment, sample=s),
        }
        for s in samples_of_fit(wildcards.fit_sample)
    }


def fit_intensities_of(wildcards):
    """The deconvolved intensities of every sample of the fit (time grids)."""
    return of_fit_samples(PATHS.intensities, wildcards.fit_sample)


def fit_tmax_of(wildcards):
    """The experimental t_max tables of every sample of the fit."""
    return of_fit_samples(PATHS.tmax_experiment, wildcards.fit_sample)


def fit_runs_of(wildcards):
    """The run.json of a fit's samples (every sample for the joint fit)."""
    return of_fit_samples(PATHS.run, wildcards.fit_sample)


def fit_samples_param(wildcards):
    return samples_of_fit(wildcards.fit_sample)


def fit_conditions_param(wildcards):
    """Sample -> its conditions, for every sample of the fit."""
    return {
        s: conditions_of(SimpleNamespace(sample=s))
        for s in samples_of_fit(wildcards.fit_sample)
    }


def all_conditions_param(wildcards):
    """Sample -> its conditions, for every sample of the sheet."""
    return {s: conditions_of(SimpleNamespace(sample=s)) for s in SAMPLES}


# --- one job for several items of a stage --------------------------------------------------
# A stage whose per-item work costs less than a process start-up runs one job for several
# items (all fits of a model, all models, all samples). Such a stage is declared once, by
# stage(): its output patterns (PATHS) and its items. The rule's output (STAGE.output(name)),
# input (STAGE.input), params.per_item (STAGE.per_item) and the stage's targets
# (STAGE.targets()) are derived from it (intercluster.rule_script.Stage). A declaration whose
# outputs and items disagree is refused when it is read; check_stages(), at the end of the
# Snakefile, refuses a rule whose output is not its stage's.


def stage(name, items, outputs, **kwargs):
    """A batched stage (rule_script.Stage), refused with a WorkflowError when its outputs
    and items disagree."""
    try:
        return Stage(name, items, outputs, **kwargs)
    except StageError as error:
        raise WorkflowError(str(error)) from None


def each_fit():
    """The items of a per-fit stage: every fit (FITS)."""
    return {s: {"fit_sample": s} for s in FITS}


# The items of a stage of one job per combination of its job wildcards (nothing batched).
ONE_ITEM = {"job": {}}


def each_fit_and_model():
    """The items of a stage over every fit and every fitted model."""
    return {
        f"{s}/model{m}": {"fit_sample": s, "model": str(m)}
        for s in FITS
        for m in FIT_MODELS
    }


def check_stages():
    """Refuse a batched rule (params.per_item of a stage) whose output is not its stage's."""
    for declared in workflow.rules:
        params = declared.params
        per_item = params.get("per_item") if "per_item" in params.keys() else None
        stage_of_rule = getattr(per_item, "__self__", None)
        if isinstance(stage_of_rule, Stage):
            try:
                # (snakemake has added the global wildcard constraints to the patterns)
                outputs = {
                    name: [strip_wildcard_constraints(str(p)) for p in paths]
                    for name, paths in declared.output.items()
                }
                check_rule_outputs(declared.name, outputs, stage_of_rule)
            except StageError as error:
                raise WorkflowError(str(error)) from None
