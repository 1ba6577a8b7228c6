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
    proc = _run([REAL], cwd=tmp_path)  # no config/config.yaml here: the built-in system
    assert proc.returncode == 2, proc.stderr  # described, but the workflow would refuse it
    out = proc.stdout
    assert "spectra: 11 (MS1: 11)" in out
    expected = (
        "MS1: 11 spectra, 0.001466-0.04605 min (file unit: minute), polarity positive, "
        "centroid (stated by cvParam), m/z 70.0-898.7, acquired window m/z 70.0-900.0"
    )
    assert expected in out
    assert "cluster system (the default demo's system file (no config/config.yaml here))" in out
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
    config["system"] = "positive.yaml"  # found from the current directory
    config_file = tmp_path / "config" / "config.yaml"  # where snakemake looks, as inspect
    config_file.parent.mkdir()
    config_file.write_text(yaml.safe_dump(config))
    proc = _run([virtual[0]], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "the workflow would refuse it: MS1 spectra are negative polarity; the cluster " \
           "system's ions are positive" in proc.stdout  # fmt: skip
    config["fit"]["grid"]["k_dim"]["min"] = 0
    config_file.write_text(yaml.safe_dump(config))
    _assert_one_line_exit_2(_run([virtual[0]], cwd=tmp_path),
                            f"config ({config_file}): fit.grid.k_dim.min = 0: "
                            "must be > 0")  # fmt: skip
    config_file.write_text("cluster: [unclosed\n")
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


# --- config overlays, other systems, exit status, arguments, resolving power ----------------
AU44_OVERLAY = REPO / "config" / "au44_ag44.yaml"


def _au44_mzml(path: Path, resolving_power: float) -> tuple[Path, object]:
    """(mzML, truth of its ion forms) of a short SYNTHETIC Au44/Ag44 run (the workflow's
    framework virtual experiment with config/au44_ag44.yaml's settings, 1/64 Th sampling)."""
    from intercluster import frameworks as fw
    from intercluster.system import load_system

    config = yaml.safe_load(AU44_OVERLAY.read_text())
    cfg = config["framework_experiment"]
    system = load_system(REPO / config["system"])
    initial = {r.family: 1.0 / len(system.reactants) for r in system.reactants}
    evolution = fw.FrameworkEvolution.from_config({**cfg["evolution"], "initial": initial})
    ex = fw.simulate_framework_experiment(
        system, evolution, np.array([0.0, 10.0, 30.0]), resolving_power=resolving_power,
        ions_per_spectrum=float(cfg["ions_per_spectrum"]), baseline_rel=1e-3, seed=7,
    )  # fmt: skip
    window = (float(ex.mz[0]), float(ex.mz[-1]))
    spectra = [
        {"id": f"scan={k + 1}", "time_min": float(t), "mz": ex.mz, "intensity": y,
         "scan_window": window}
        for k, (t, y) in enumerate(zip(ex.times_min, ex.spectra, strict=True))
    ]  # fmt: skip
    written = write_mzml(path, spectra, polarity=f"{system.polarity} scan",
                         resolving_power=resolving_power)  # fmt: skip
    return written, ex.truth_forms


@pytest.fixture(scope="module")
def au44_file(tmp_path_factory):
    return _au44_mzml(tmp_path_factory.mktemp("au44") / "au44.mzML", 25000.0)


def test_au44_file_with_the_overlay_config(au44_file, tmp_path):
    """The overlay on config.yaml, as snakemake reads it: the Au44/Ag44 ion forms are found;
    against the demo's system alone the same file is refused with exit status 2."""
    path, truth = au44_file
    proc = _run([path, "--configfile", BASE_CONFIG, AU44_OVERLAY, "--top", "5"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"cluster system (config ({BASE_CONFIG}, {AU44_OVERLAY}))" in proc.stdout
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert len(listed) == 5
    # the most intense spectrum (t = 0 here) and its strongest true ion forms
    at = truth[np.isclose(truth["time_min"], truth["time_min"].min())]
    strongest = set(at.sort_values("intensity", ascending=False)["label"].head(10))
    assert set(listed) <= strongest, (listed, sorted(strongest))
    # the same from the repository's directory, where snakemake finds config/config.yaml itself
    proc = _run([path, "--config", AU44_OVERLAY], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    # negative control: judged against the demo's Ag25/Au25 system it is refused
    refused = _run([path, "--configfile", BASE_CONFIG], cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert "the workflow would refuse it" in refused.stdout
    # --system names the system file directly
    direct = _run([path, "--system", REPO / "resources" / "systems" / "au44_ag44.yaml"],
                  cwd=tmp_path)  # fmt: skip
    assert direct.returncode == 0, direct.stderr
    # an overlay alone (no config/config.yaml to put it on) is a one-line error that says so
    _assert_one_line_exit_2(_run([path, "--configfile", AU44_OVERLAY], cwd=tmp_path),
                            "missing a required key", "an overlay needs")  # fmt: skip


def test_config_overrides_as_snakemake(virtual, tmp_path):
    """``--config KEY=VALUE`` after the files, as snakemake applies it."""
    profile = virtual[0]
    system_file = REPO / "resources" / "systems" / "au44_ag44.yaml"
    proc = _run([profile, "--configfile", BASE_CONFIG, "--config", f"system={system_file}"],
                cwd=tmp_path)  # fmt: skip
    assert f"--config system={system_file}" in proc.stdout
    plain = _run([profile, "--configfile", BASE_CONFIG], cwd=tmp_path)
    assert plain.returncode == 0 and "--config system" not in plain.stdout

    def span(out):
        return next(line for line in out.splitlines() if line.startswith("cluster system"))

    # the Ag25/Au25 file judged on the Au44/Ag44 system's species: the override took effect
    assert span(proc.stdout).split("species at")[1] != span(plain.stdout).split("species at")[1]


def test_version_and_argument_checks(virtual, capsys):
    from intercluster.inspect import version

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["inspect", "--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"intercluster inspect {version()}"
    assert version() == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert cli_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"intercluster {version()}"
    for bad in ("-3", "0", "two"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["inspect", str(virtual[0]), "--top", bad])
        assert exit_info.value.code == 2
        assert "--top" in capsys.readouterr().err
    assert cli_main(["inspect", str(virtual[0]), "--top", "1"]) == 0  # the control
    # the file after --configfile's several files (as snakemake's options are written) is
    # the file, not a config file; two files, or none, are refused
    assert cli_main(["inspect", "--configfile", str(BASE_CONFIG), str(virtual[0]),
                     "--top", "1"]) == 0  # fmt: skip
    for files in ([str(virtual[0])] * 2, []):
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["inspect", "--configfile", str(BASE_CONFIG), *files])
        assert exit_info.value.code == 2
        assert "file" in capsys.readouterr().err


def test_resolving_power_far_from_the_guess_is_reported(au44_file, tmp_path):
    """A file at R 70,000 with the config's guess at 25,000: the peaks say so, the quick fit
    starts from them (from the guess its range would end at 1.6 x 25,000 = 40,000) and the
    key to set is named."""
    from intercluster.system import load_system

    system = load_system(REPO / "resources" / "systems" / "au44_ag44.yaml")
    settings = DeconvolutionSettings.schema_default()
    assert settings.resolving_power_guess == 25000
    path, _ = _au44_mzml(tmp_path / "r70k.mzML", 70000.0)
    result = inspect_file(path, system, settings)
    assert abs(result.resolving_power_peaks / 70000 - 1) < 0.15
    # (the quick fit reads this file 5-6 % low, against 1 % at 25,000; the former start
    # from the guess ended at its range's edge, 40,000)
    assert abs(result.resolving_power_fit / 70000 - 1) < 0.08, result.resolving_power_fit
    assert len(result.advice) == 1, result.advice
    assert "set deconvolution.resolving_power_guess: " in result.advice[0]
    suggested = float(result.advice[0].split("resolving_power_guess: ")[1].split()[0])
    assert abs(suggested / 70000 - 1) < 0.08
    assert "to set: resolving power" in format_inspection(result)
    # control: the 25,000 file, at the guess, gets no advice
    at_guess = inspect_file(au44_file[0], system, settings)
    assert at_guess.advice == [] and abs(at_guess.resolving_power_fit / 25000 - 1) < 0.08
