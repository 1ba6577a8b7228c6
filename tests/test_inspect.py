"""``intercluster inspect FILE``: a virtual-experiment file (known truth), its centroided
copy, a real file of another instrument, broken files and configs.

The truth of the virtual experiment is its noise-free normalised ion abundances at the
time of the spectrum inspected; the centroids are made by pymzml's own peak picker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import BASE_CONFIG, cluster_of, small_config

from intercluster.cli import main as cli_main
from intercluster.inspect import format_inspection, inspect_file
from intercluster.settings import DeconvolutionSettings
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, write_mzml

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "data" / "pymzml" / "example.mzML.gz"
TOP = 6  # ions compared with the truth


@pytest.fixture(scope="module")
def virtual(tmp_path_factory):
    """(profile mzML, centroid mzML, truth, system, config) of a short virtual run."""
    config = small_config()
    ve = dict(config["virtual_experiment"], cid={})
    system = ClusterSystem.from_config(cluster_of(config))
    vs = simulate_sample(system, ve, "ag40_au40", times_min=np.array([0.0, 5.0, 15.0, 30.0, 60.0]))
    folder = tmp_path_factory.mktemp("inspect")
    profile = write_mzml(folder / "virtual.mzML", vs.ms1, resolving_power=ve["resolving_power"])
    import pymzml

    with pymzml.run.Reader(str(profile)) as reader:
        peaks = [np.asarray(s.peaks("centroided"), float) for s in reader]
    # pymzml's centroid intensity is the peak height; at one resolving power a peak's area is
    # height x FWHM ~ height x m/z, so the sticks get areas (what the ion count is).
    sticks = [
        dict(s, mz=p[:, 0], intensity=p[:, 1] * p[:, 0] / 6000.0)
        for s, p in zip(vs.ms1, peaks, strict=True)
    ]
    centroid = write_mzml(folder / "virtual_centroid.mzML", sticks)
    text = centroid.read_text().replace(
        'accession="MS:1000128" name="profile spectrum"',
        'accession="MS:1000127" name="centroid spectrum"',
    )
    centroid.write_text(text)
    return profile, centroid, vs, system, config


def _settings(config) -> DeconvolutionSettings:
    return DeconvolutionSettings.from_config(config["deconvolution"])


def _truth_at(vs, time_min: float):
    obs = vs.observables
    at = obs[np.isclose(obs["time_min"], time_min)]
    return at.sort_values("intensity_norm", ascending=False).reset_index(drop=True)


@pytest.mark.parametrize("which", ["profile", "centroid"])
def test_reports_the_true_strongest_ions(virtual, which):
    profile, centroid, vs, system, config = virtual
    result = inspect_file(profile if which == "profile" else centroid, system,
                          _settings(config))  # fmt: skip
    tic = [float(s["intensity"].sum()) for s in vs.ms1]
    assert result.spectrum_id == vs.ms1[int(np.argmax(tic))]["id"]
    truth = _truth_at(vs, result.spectrum_time_min)
    assert list(result.ions["species"][:TOP]) == list(truth["species"][:TOP])
    merged = result.ions.head(TOP).merge(truth, on="species")
    assert np.allclose(merged["fraction"], merged["intensity_norm"], atol=0.005)
    assert result.levels[0].mode == which and result.levels[0].mode_source == "stated"
    assert result.problems == []
    if which == "profile":
        r_true = float(config["virtual_experiment"]["resolving_power"])
        assert abs(result.resolving_power_peaks / r_true - 1) < 0.10
        assert abs(result.resolving_power_fit / r_true - 1) < 0.03
    else:
        assert np.isnan(result.resolving_power_peaks)


def _run(args, cwd, env_extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "workflow" / "src"),
                                         env.get("PYTHONPATH", "")])  # fmt: skip
    return subprocess.run([sys.executable, "-m", "intercluster.inspect", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_module_command_prints_the_summary(virtual, tmp_path):
    profile, _, vs, _, config = virtual
    proc = _run([profile, "--config", BASE_CONFIG], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert "(SYNTHETIC virtual experiment)" in out
    assert "MS1: 5 spectra, 0-60 min (file unit: minute), polarity negative, profile" in out
    assert f"cluster system (config ({BASE_CONFIG}))" in out
    first_ion = next(line for line in out.splitlines() if line.startswith("  ["))
    truth = _truth_at(vs, 0.0)
    species, _, percent, _ = first_ion.split()
    assert species == truth["species"][0]
    assert abs(float(percent) - 100 * truth["intensity_norm"][0]) < 0.5


def test_console_script_is_the_cli(virtual, capsys):
    """pyproject's [project.scripts] entry resolves to the CLI, and it runs ``inspect``."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["intercluster"].partition(":")
    entry = getattr(import_module(module), name)
    assert entry is cli_main
    assert entry(["inspect", str(virtual[0]), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("  [") for line in out.splitlines()) == 3
    assert entry(["frobnicate"]) == 2


def test_real_file_of_another_instrument(tmp_path):
    proc = _run([REAL], cwd=tmp_path)  # no config.yaml here: the built-in system
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "spectra: 11 (MS1: 11)" in out
    expected = (
        "MS1: 11 spectra, 0.001466-0.04605 min (file unit: minute), polarity positive, "
        "centroid (stated by cvParam), m/z 70.0-898.7, acquired window m/z 70.0-900.0"
    )
    assert expected in out
    assert "cluster system (the default demo's system file (no config.yaml here))" in out
    assert "the workflow would refuse it: MS1 spectra are positive polarity" in out
    assert "which misses the species" in out
    assert "Traceback" not in proc.stderr and proc.stderr.strip() == ""


def _assert_one_line_exit_2(proc, *words):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert proc.stdout == ""


def test_broken_file_is_one_line_and_exit_2(virtual, tmp_path):
    broken = tmp_path / "broken.mzML"
    data = virtual[0].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    _assert_one_line_exit_2(_run([broken], cwd=tmp_path), str(broken), "truncated")
    chrom = REPO / "tests" / "data" / "pymzml" / "mini.chrom.mzML"
    _assert_one_line_exit_2(_run([chrom], cwd=tmp_path), "only 3 chromatogram(s)")
    _assert_one_line_exit_2(_run([tmp_path / "nope.mzML"], cwd=tmp_path), "file not found")


def test_config_in_the_current_directory_is_used(virtual, tmp_path):
    config = small_config()
    positive = (REPO / config["system"]).read_text()
    for negative in ("-1", "-2", "-3"):
        positive = positive.replace(f"charge: {negative}", f"charge: {negative[1:]}")
    (tmp_path / "positive.yaml").write_text(positive)
    config["system"] = "positive.yaml"  # found next to the config
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = _run([virtual[0]], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the workflow would refuse it: MS1 spectra are negative polarity; the cluster " \
           "system's ions are positive" in proc.stdout  # fmt: skip
    config["fit"]["grid"]["k_dim"]["min"] = 0
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    _assert_one_line_exit_2(_run([virtual[0]], cwd=tmp_path),
                            f"config ({tmp_path / 'config.yaml'}): fit.grid.k_dim.min = 0: "
                            "must be > 0")  # fmt: skip
    (tmp_path / "config.yaml").write_text("cluster: [unclosed\n")
    _assert_one_line_exit_2(_run([virtual[0]], cwd=tmp_path), "not valid YAML")


def test_a_mode_the_peaks_contradict_is_pointed_out(virtual, tmp_path):
    mislabelled = tmp_path / "mislabelled.mzML"
    mislabelled.write_text(
        virtual[0]
        .read_text()
        .replace(
            'accession="MS:1000128" name="profile spectrum"',
            'accession="MS:1000127" name="centroid spectrum"',
        )
    )
    system, config = virtual[3], virtual[4]
    result = inspect_file(mislabelled, system, _settings(config))
    assert (result.levels[0].mode, result.levels[0].looks) == ("centroid", "profile")
    assert "centroid (stated by cvParam) but its most intense spectrum looks profile" in (
        format_inspection(result)
    )
    for path in virtual[:2]:  # the controls: the truthful labels raise no doubt
        level = inspect_file(path, system, _settings(config)).levels[0]
        assert level.looks == level.mode
