"""Config and sample-sheet validation: each bad input gives one line naming the field."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from intercluster import errors
from intercluster.records import SampleConditions
from intercluster.settings import table1_constants
from intercluster.system import load_system
from intercluster.validation import (
    InputError,
    load_sample_sheet,
    order_conditions,
    validate_config,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config() -> dict:
    with open(REPO / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


_BLOCK_THIRD_PARTY = (
    "import sys\n"
    "for name in ('jsonschema', 'yaml', 'pandas', 'numpy', 'scipy'):\n"
    "    sys.modules[name] = None  # any import of it now raises ImportError\n"
)


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "workflow" / "src"))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_input_error_needs_only_the_standard_library():
    """Every rule environment can import InputError: errors.py needs no third-party module."""
    assert InputError is errors.InputError  # the old import path names the same class
    code = "from intercluster.errors import InputError\nassert issubclass(InputError, ValueError)\n"
    ok = _python(_BLOCK_THIRD_PARTY + code)
    assert ok.returncode == 0, ok.stderr
    # The negative control: the blocking works, validation.py does need jsonschema.
    blocked = _python(_BLOCK_THIRD_PARTY + "import intercluster.validation\n")
    assert blocked.returncode != 0
    assert "ImportError" in blocked.stderr or "ModuleNotFoundError" in blocked.stderr


def test_shipped_config_is_valid(config):
    validate_config(config)


def _set(config: dict, dotted: str, value) -> dict:
    changed = copy.deepcopy(config)
    *parents, leaf = dotted.split(".")
    node = changed
    for key in parents:
        node = node[key]
    node[leaf] = value
    return changed


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("fit.grid.k_dim.min", 0, "fit.grid.k_dim.min = 0: must be > 0"),
        ("fit.grid.k_ex.max", -1.0, "fit.grid.k_ex.max = -1.0: must be > 0"),
        ("fit.grid.k_diss.n", 1, "fit.grid.k_diss.n = 1: must be >= 2"),
        ("fit.chunks", 100000, "fit.chunks = 100000: must be <= the number of grid points"),
        ("fit.models", [1, 5], "fit.models.1 = 5: must be one of [1, 2, 3, 4]"),
        # model 4 is fitted by the rule fit_model4 only: alone it leaves the grid rules nothing
        ("fit.models", [4], "fit.models = [4]: model 4 is fitted by the rule fit_model4"),
        ("virtual_experiment.beta", 2.0, "virtual_experiment.beta = 2.0: only model 4"),
        # model 4 in the Table 1 path: model 3's constants and kinetics.beta (> 0, finite)
        ("kinetics.beta", 0, "kinetics.beta = 0: must be > 0"),
        ("kinetics.beta", "steep", "kinetics.beta = 'steep': must be of type number"),
        ("kinetics.beta", 2.0, "kinetics.beta = 2.0: only model 4 has an exchange bias"),
        ("kinetics.table1", {"model1": {"k_dim": 1, "k_diss": 1, "k_ex": 1}},
         "kinetics.models lists 2: kinetics.table1: no model2"),
        ("virtual_experiment.beta", 0, "virtual_experiment.beta = 0: must be > 0"),
        ("fit.grid.beta.n", 1, "fit.grid.beta.n = 1: must be >= 2"),
        ("kinetics.convention", "X", "kinetics.convention = 'X': must be one of ['S', 'U']"),
        ("virtual_experiment.dead_time_s", -5, "virtual_experiment.dead_time_s = -5: must be >= 0"),
        ("kinetics.rtol", "tight", "kinetics.rtol = 'tight': must be of type number"),
    ],
)
def test_bad_config_names_field(config, field, value, expected):
    with pytest.raises(InputError) as caught:
        validate_config(_set(config, field, value))
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message


def test_grid_bounds_in_order(config):
    bad = _set(config, "fit.grid.k_dim", {"min": 1.0, "max": 0.1, "n": 3})
    with pytest.raises(InputError, match=r"fit.grid.k_dim: max = 0.1 is below min = 1.0"):
        validate_config(bad)



def test_config_conditions_follow_the_system(config):
    """table1_conditions and the virtual samples are keyed by the system's sheet columns and
    put in the system's order (first-metal-rich reactant first), whatever order they are in."""
    columns = load_system(REPO / config["system"]).concentration_columns()
    assert columns == ("ag_nM", "au_nM")  # the demo's file: Ag25 (all Ag) first
    swapped = validate_config(copy.deepcopy(config))
    swapped["kinetics"]["table1_conditions"] = {"dead_time_s": 20, "au_nM": 60, "ag_nM": 100}
    swapped["virtual_experiment"]["samples"]["ag100_au60"] = {"au_nM": 60, "ag_nM": 100}
    order_conditions(swapped, columns)
    table1 = swapped["kinetics"]["table1_conditions"]
    assert list(table1) == ["ag_nM", "au_nM", "dead_time_s"]
    assert SampleConditions.from_dict(table1).initial_nM == (100.0, 60.0)
    assert list(swapped["virtual_experiment"]["samples"]["ag100_au60"].items()) == [
        ("ag_nM", 100), ("au_nM", 60)
    ]  # fmt: skip
    # negative control: a column the system does not have, or one missing, is refused
    wrong = validate_config(copy.deepcopy(config))
    wrong["virtual_experiment"]["samples"]["ag40_au40"] = {"ag_nM": 40, "gold_nM": 40}
    with pytest.raises(InputError, match=r"virtual_experiment.samples.ag40_au40: concentrations "
                       r"ag_nM, gold_nM; expected the system's reactant columns ag_nM, au_nM"):
        order_conditions(wrong, columns)
    wrong = validate_config(copy.deepcopy(config))
    wrong["kinetics"]["table1_conditions"] = {"ag_nM": 40, "dead_time_s": 20}
    with pytest.raises(InputError, match=r"kinetics.table1_conditions: concentrations ag_nM;"):
        order_conditions(wrong, columns)

HEAD = "sample\tmzml\tag_nM\tau_nM\n"
HEAD_DT = "sample\tmzml\tag_nM\tau_nM\tdead_time_s\n"
HEAD_DR = "sample\tmzml\tag_nM\tau_nM\tdimer_response\n"


def _sheet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "samples.tsv"
    path.write_text(text)
    return path


def test_demo_sheet_paths_resolve_relative_to_sheet():
    sheet = load_sample_sheet(REPO / "resources/demo/samples.tsv")
    assert sheet.loc["ag40_au40", "mzml"].endswith("results/virtual_experiment/ag40_au40.mzML")
    assert sheet.loc["ag100_au60", "ag_nM"] == 100
    assert sheet.loc["ag60_au100", "dead_time_s"] == 20


def test_sheet_defaults(tmp_path):
    (tmp_path / "a.mzML").write_text("")
    sheet = load_sample_sheet(
        _sheet(tmp_path, "sample\tmzml\tag_nM\tau_nM\nx\ta.mzML\t40\t40\n"), check_files=True
    )
    assert sheet.loc["x", "dead_time_s"] == 20.0
    assert sheet.loc["x", "cid_mzml"] is None
    assert sheet.loc["x", "condition"] is None
    assert sheet.loc["x", "mzml"] == str(tmp_path / "a.mzML")


def test_sheet_condition_column_names_replicate_runs(tmp_path):
    text = (
        "sample\tmzml\tag_nM\tau_nM\tcondition\n"
        "r1\ta.mzML\t40\t40\tc40\nr2\ta.mzML\t40\t40\tc40\nr3\ta.mzML\t60\t40\t\n"
    )
    sheet = load_sample_sheet(_sheet(tmp_path, text))
    assert sheet["condition"].tolist() == ["c40", "c40", None]


def test_sheet_dimer_response_column_empty_means_the_global_one(tmp_path):
    text = HEAD_DR + "r1\ta.mzML\t40\t40\t0.7\nr2\ta.mzML\t40\t40\t\n"
    sheet = load_sample_sheet(_sheet(tmp_path, text))
    assert sheet["dimer_response"].tolist() == [0.7, None]
    # a sheet without the column: every sample takes the global fit.tmax.dimer_response
    bare = load_sample_sheet(_sheet(tmp_path, HEAD + "x\ta.mzML\t40\t40\n"))
    assert bare.loc["x", "dimer_response"] is None


def test_sheet_accepts_inner_dots_and_names_that_differ_in_more_than_case(tmp_path):
    """The control of the two name rules below: only a leading '.' and case-only twins fail."""
    (tmp_path / "a.mzML").write_text("")
    text = HEAD + "".join(f"{n}\ta.mzML\t40\t40\n" for n in ("a.b", "a..b", "S1", "S2", "s-1"))
    sheet = load_sample_sheet(_sheet(tmp_path, text), check_files=True)
    assert sheet["sample"].tolist() == ["a.b", "a..b", "S1", "S2", "s-1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sample\tmzml\tag_nM\nx\ta.mzML\t4\n", "missing column(s) au_nM"),
        (HEAD + "x\ta.mzML\tforty\t40\n", "line 2: ag_nM = 'forty': must be a number"),
        (HEAD + "x\ta.mzML\t40\t40\nx\ta.mzML\t4\t4\n", "duplicate sample name(s) x"),
        (HEAD + "x\ta.mzML\t-40\t40\n", "line 2: ag_nM = -40.0: must be >= 0"),
        (HEAD_DT + "x\ta.mzML\t40\t40\t-1\n", "dead_time_s = -1.0: must be >= 0"),
        (HEAD_DT + "x\ta.mzML\t40\t40\tsoon\n", "dead_time_s = 'soon': must be a number"),
        (HEAD + "bad name\ta.mzML\t40\t40\n", "sample = 'bad name': must match"),
        (HEAD + "..\ta.mzML\t40\t40\n", "line 2: sample = '..': must not start with '.'"),
        (HEAD + "x\ta.mzML\t40\t40\n.\ta.mzML\t4\t4\n", "line 3: sample = '.': must not"),
        (HEAD + ".x\ta.mzML\t40\t40\n", "line 2: sample = '.x': must not start with '.'"),
        (HEAD + "S1\ta.mzML\t40\t40\ny\ta.mzML\t4\t4\ns1\ta.mzML\t4\t4\n",
         "sample names S1, s1 differ only in case"),
        (HEAD, "has no samples"),
        (HEAD + "x\tmissing.mzML\t40\t40\n", "mzml file"),
        (HEAD + "x\ta.mzML\t0\t0\n", "ag_nM + au_nM must be > 0"),
        (HEAD_DR + "x\ta.mzML\t40\t40\t0\n", "line 2: dimer_response"),
        (HEAD_DR + "x\ta.mzML\t40\t40\thalf\n", "dimer_response = 'half': must be a number"),
    ],
)
def test_bad_sheet_names_line_and_field(tmp_path, text, expected):
    (tmp_path / "a.mzML").write_text("")
    with pytest.raises(InputError) as caught:
        load_sample_sheet(_sheet(tmp_path, text), check_files=True)
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message
    assert "samples.tsv" in message


def test_model4_virtual_experiment_and_beta_axis_validate(config):
    """A model-4 virtual experiment with its beta, and the beta axis's default, pass."""
    good = _set(_set(config, "virtual_experiment.model", 4), "virtual_experiment.beta", 1.9)
    validated = validate_config(good)
    assert validated["virtual_experiment"]["beta"] == 1.9
    assert validated["fit"]["grid"]["beta"] == {"min": 1.0, "max": 4.0, "n": 9}


def test_model4_in_kinetics_models_needs_model3_constants_and_a_usable_beta(config):
    """kinetics.models may list 4 (model 3's Table 1 constants, kinetics.beta, default 1);
    refused without model 3's constants or with a β that is not a finite number > 0."""
    listed = _set(config, "kinetics.models", [3, 4])
    assert validate_config(copy.deepcopy(listed))["kinetics"]["beta"] == 1.0  # the default
    assert validate_config(_set(listed, "kinetics.beta", 2.0))["kinetics"]["beta"] == 2.0
    no_model3 = _set(_set(config, "kinetics.models", [1, 4]), "kinetics.table1",
                     {"model1": config["kinetics"]["table1"]["model1"]})  # fmt: skip
    with pytest.raises(InputError, match=r"kinetics.models lists 4: kinetics.table1: no model3 "
                       r"\(model 4 is simulated at model 3's Table 1 constants"):  # fmt: skip
        validate_config(no_model3)
    for bad in (float("inf"), -1.0):
        with pytest.raises(InputError, match=r"kinetics.beta"):
            validate_config(_set(listed, "kinetics.beta", bad))
    constants = table1_constants(validate_config(_set(listed, "kinetics.beta", 2.0))["kinetics"], 4)
    assert constants == {**config["kinetics"]["table1"]["model3"], "beta": 2.0}
    with pytest.raises(ValueError, match="kinetics.beta = True"):  # a bool is not a β
        table1_constants({**config["kinetics"], "beta": True}, 4)


def test_model4_in_fit_models_validates_and_says_who_fits_it(config, caplog):
    """fit.models may list 4 beside a grid model: accepted, and the log says that the rule
    fit_model4 fits it (the control, 4 alone, is refused in test_bad_config_names_field)."""
    with caplog.at_level("INFO", logger="intercluster.validation"):
        validated = validate_config(_set(config, "fit.models", [3, 4]))
    assert validated["fit"]["models"] == [3, 4]
    assert "fitted by the rule fit_model4 only" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="intercluster.validation"):
        validate_config(_set(config, "fit.models", [2, 3]))
    assert "fit_model4" not in caplog.text
