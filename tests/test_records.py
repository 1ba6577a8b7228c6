"""Stage contracts (intercluster.records) and the one rule-script wrapper (rule_script).

best.json and the plausibility JSON go through one dataclass each: a record survives its
JSON form unchanged, a record with a missing or an unknown key is refused (no reader
guessing shapes). Every rule script runs through ``rule_script.run``: a user's input problem
ends the job with one line in the rule's log, anything else with its traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from intercluster import fit
from intercluster.fit import best_fit, profiles, weighted_fit
from intercluster.plausibility import assess
from intercluster.records import (
    BestFit,
    PlausibilityResult,
    RateConstants,
    SampleConditions,
    read_best_fit,
    read_synthetic,
    write_record,
)
from intercluster.settings import PlausibilitySettings

REPO = Path(__file__).resolve().parents[1]
GRID = {
    "k_dim": {"min": 1e-3, "max": 1e-1, "n": 3},
    "k_diss": {"min": 1e-2, "max": 1.0, "n": 3},
    "k_ex": {"min": 1e-3, "max": 1e-1, "n": 3},
}


def _chi2_table(failed=()):
    points = fit.grid_points(GRID)
    chi2 = points.copy()
    # A bowl with its minimum at the centre point (13), by hand: not from the fit's code.
    logs = np.log10(points[["k_dim", "k_diss", "k_ex"]].to_numpy())
    centre = np.log10([1e-2, 1e-1, 1e-2])
    chi2["chi2"] = 10.0 + ((logs - centre) ** 2).sum(axis=1)
    chi2["n_species"] = 70
    chi2["status"] = "ok"
    chi2["message"] = ""
    for point in failed:
        chi2.loc[chi2["point"] == point, ["chi2", "status", "message"]] = [np.nan, "failed", "x"]
    return chi2


def _best_dict(chi2):
    result = best_fit.best_fit(chi2, fit.grid_axes(GRID), delta_rel=0.10, f_confidence=0.95)
    result.update({"fit_sample": "s1", "model": 3, "samples": ["s1"]})
    return json.loads(json.dumps(result))  # the JSON form


def test_best_fit_round_trip_and_constants(tmp_path):
    data = _best_dict(_chi2_table())
    record = BestFit.from_dict(data)
    assert record.to_dict() == data
    assert record.constants == RateConstants(1e-2, 1e-1, 1e-2)
    assert record.chi2 == pytest.approx(10.0)
    write_record(record, tmp_path / "best.json")
    assert read_best_fit(tmp_path / "best.json") == record


@pytest.mark.parametrize("scale, label", [(1.0, "flat"), (100.0, "identifiable")])
def test_best_fit_round_trip_with_the_weighted_fit(scale, label):
    """best.json with the weighted χ² fit (here the hand-made bowl, scaled): a rise of
    1 per decade stays below the χ²₁ threshold 3.84 on a one-decade grid (flat); 100 per
    decade closes every interval inside the grid (identifiable)."""

    chi2 = _chi2_table()
    data = _best_dict(chi2)
    weighted = chi2.assign(chi2=10.0 + scale * (chi2["chi2"] - 10.0))
    data.update(json.loads(json.dumps(weighted_fit.weighted_fit_fields(weighted, c_nM=40.0))))
    record = BestFit.from_dict(data)
    assert record.to_dict() == data
    assert set(record.identifiability) == set(profiles.PROFILE_NAMES)
    assert set(record.identifiability.values()) == {label}
    for name, (low, high) in record.intervals_weighted.items():
        assert (low is None and high is None) == (label == "flat"), name
        if label != "flat":
            assert low < high
    assert record.weighted["best"]["point"] == 13
    assert min(c for _, c in record.weighted_profile("k_ex")) == pytest.approx(10.0)
    old = {k: v for k, v in data.items() if k not in ("identifiability", "intervals_weighted",
                                                      "weighted")}  # fmt: skip
    assert BestFit.from_dict(old).identifiability is None  # files written before stay readable


def test_best_fit_without_a_successful_point():
    data = _best_dict(_chi2_table(failed=range(27)))
    record = BestFit.from_dict(data)
    assert not record.ok and record.to_dict() == data
    with pytest.raises(ValueError, match="no grid point"):
        _ = record.constants


@pytest.mark.parametrize("change", ["missing", "unknown"])
def test_best_fit_refuses_another_shape(change):
    data = _best_dict(_chi2_table())
    if change == "missing":
        del data["intervals"]
    else:
        data["pass"] = True
    with pytest.raises(ValueError, match=f"{change} keys \\['"):
        BestFit.from_dict(data)


def test_plausibility_round_trip_and_refusal():
    settings = PlausibilitySettings.from_config(
        yaml.safe_load((REPO / "config" / "config.yaml").read_text())["plausibility"]
    )
    data = assess(1e-2, 5.6e-2, 3.2e-2, settings, 40.0)
    data.update({"fit_sample": "s1", "model": 3, "chi2": 1.5, "source": "test"})
    data = json.loads(json.dumps(data))
    record = PlausibilityResult.from_dict(data)
    assert record.to_dict() == data and record.passed("k_diss_min")
    empty = {"fit_sample": "s1", "model": 3, "rate_constants": None}
    assert PlausibilityResult.from_dict(empty).to_dict() == empty
    with pytest.raises(ValueError, match="unknown keys \\['passed'\\]"):
        PlausibilityResult.from_dict({**data, "passed": True})


def test_rate_constants_and_conditions():
    assert RateConstants.from_dict({"k_dim": 1, "k_diss": 2, "k_ex": 3, "chi2": 4}).to_dict() == {
        "k_dim": 1.0, "k_diss": 2.0, "k_ex": 3.0,
    }  # fmt: skip
    with pytest.raises(KeyError, match="k_ex"):
        RateConstants.from_dict({"k_dim": 1, "k_diss": 2})
    assert fit.Conditions is SampleConditions
    with pytest.raises(KeyError):
        SampleConditions.from_dict({"ag_nM": 40, "au_nM": 40})  # the sheet fills dead_time_s
    # keyed by the system's reactant columns, in the given (the system's) order; round trip
    d = {"au44_nM": 30.0, "ag44_nM": 10.0, "dead_time_s": 20.0}
    c = SampleConditions.from_dict(d)
    assert c.initial_nM == (30.0, 10.0) and c.dead_time_s == 20.0
    assert c.to_dict() == d and list(c.to_dict()) == list(d)


@pytest.mark.parametrize(
    ("error", "one_line"),
    [("InputError('sheet x: bad')", True), ("RuntimeError('bug')", False)],
)
def test_rule_script_wrapper_logs_input_errors_as_one_line(tmp_path, error, one_line):
    log = tmp_path / "logs" / "rule.log"
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(f"""
        from types import SimpleNamespace
        from intercluster.errors import InputError
        from intercluster.rule_script import run

        snakemake = SimpleNamespace(log=[{str(log)!r}])


        def main(smk):
            raise {error}


        run(main)
        """)
    )
    env = {"PYTHONPATH": str(REPO / "workflow" / "src"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    text = log.read_text()
    assert ("Traceback" not in text) == one_line
    if one_line:
        assert text.strip().endswith("ERROR intercluster: sheet x: bad")
        assert len(text.strip().splitlines()) == 1


def test_every_rule_script_is_a_thin_adapter():
    scripts = sorted((REPO / "workflow" / "scripts").glob("*.py"))
    assert len(scripts) >= 20
    for path in scripts:  # every one of them, no exceptions
        text = path.read_text()
        assert "noqa" not in text, path.name
        assert text.rstrip().endswith("run(main)"), path.name
        assert "snakemake" not in text.replace("snakemake)", ""), path.name


def test_read_synthetic_is_any_run_json(tmp_path):
    files = []
    for name, flag in (("a", False), ("b", True)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"sample": name, "synthetic": flag}))
        files.append(path)
    assert read_synthetic(files[0]) is False  # negative control
    assert read_synthetic(str(files[1])) is True
    assert read_synthetic(files) is True
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sample": "c", "synthetic": "yes"}))
    with pytest.raises(ValueError, match="bad.json: run.json needs a true/false 'synthetic'"):
        read_synthetic([bad])
    with pytest.raises(ValueError, match="no run.json"):
        read_synthetic([])


def test_weighted_fit_on_a_grid_with_unequal_steps_leaves_the_combinations_out():
    """k_dim and k_diss with different log steps: no k_dim:k_diss profile, named with the
    reason; the constants and k_dim*c/k_ex (equal k_dim and k_ex steps) are profiled."""

    grid = {**GRID, "k_diss": {"min": 1e-2, "max": 1.0, "n": 5}}
    points = fit.grid_points(grid)
    table = points.assign(chi2=10.0 + np.log10(points["k_ex"] / 1e-2) ** 2 * 100, n_species=70,
                          status="ok", message="")  # fmt: skip
    fields = weighted_fit.weighted_fit_fields(table, c_nM=40.0)
    assert set(fields["identifiability"]) == {"k_dim", "k_diss", "k_ex", "k_dim*c/k_ex"}
    assert set(fields["weighted"]["not_profiled"]) == {"k_dim:k_diss"}
    assert "equal log steps" in fields["weighted"]["not_profiled"]["k_dim:k_diss"]
    assert fields["identifiability"]["k_ex"] == "identifiable"
    assert fields["identifiability"]["k_dim"] == "flat"
