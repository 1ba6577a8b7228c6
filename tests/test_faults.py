"""Faults through the workflow: solver failures, interruption, determinism.

* Solver failures (``kinetics.max_steps``): failed parameter sets are marked, counted and
  excluded; a chunk holding only failures still completes; the count and the reasons
  reach best.json and the report's best-fit table; when every set fails the fit stops with
  one line.
* Interruption: a grid run killed part-way (SIGKILL of snakemake's process group, jobs
  included) and rerun gives chi² tables byte-identical to an uninterrupted run.
* Determinism: two clean runs of the small config give byte-identical tables.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fit_helpers import bypass_deconvolution
from workflow_helpers import REPO, small_config

from intercluster import fit
from intercluster.io import read_json
from intercluster.records import RateConstants, SampleConditions
from intercluster.settings import SolverOptions
from intercluster.simulate import simulate
from intercluster.system import load_system

pytestmark = pytest.mark.slow

SAMPLE = "ag40_au40"
MODEL_DIR = f"results/fit/{SAMPLE}/model3"


# --- solver failures -----------------------------------------------------------------------
# 2 x 2 x 2 grid, k_ex fastest: points with k_ex = 1 (1, 3, 5, 7) need about twice the
# solver steps of those with k_ex = 1e-3 (0, 2, 4, 6). With 4 interleaved chunks (point % 4)
# and a step limit between the two groups, chunks 2-of-4 and 4-of-4 hold only failures.
FAIL_GRID = {
    "k_dim": {"min": 1.0e-3, "max": 1.0e-2, "n": 2},
    "k_diss": {"min": 1.0e-2, "max": 1.0, "n": 2},
    "k_ex": {"min": 1.0e-3, "max": 1.0, "n": 2},
}
FAILING_CHUNKS = (2, 4)
TIMES_MIN = np.arange(0.0, 60.0 + 1e-9, 1.0)


def _failure_config(max_steps: int) -> dict:
    config = small_config()
    config["samples"] = "data/samples.tsv"
    config["fit"].update(models=[3], grid=FAIL_GRID, chunks=4)
    config["kinetics"]["max_steps"] = int(max_steps)
    return config


def _step_limit_between_groups(config: dict) -> int:
    """A max_steps that the k_ex = 1e-3 points stay under and the k_ex = 1 points exceed."""
    cluster = load_system(REPO / config["system"]).cluster_system().to_config()
    network = fit.network_for(3, cluster, config["kinetics"])
    steps = {}
    CONDITIONS = SampleConditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
    options = SolverOptions(config["kinetics"]["rtol"], config["kinetics"]["atol"], 100_000)
    for p in fit.grid_points(FAIL_GRID).itertuples():
        result = simulate(network, RateConstants(p.k_dim, p.k_diss, p.k_ex),
                          CONDITIONS, TIMES_MIN * 60.0, options,
                          return_states=False)  # fmt: skip
        steps.setdefault(p.i_ex, []).append(result.stats["steps"])
    low, high = max(steps[0]), min(steps[1])
    assert high > 1.2 * low, steps  # the grid separates the groups with a margin
    return (low + high) // 2


def test_failed_sets_are_marked_counted_excluded_and_reported(tmp_path, snakemake_runner):
    config = _failure_config(_step_limit_between_groups(small_config()))
    bypass_deconvolution(tmp_path, SAMPLE, TIMES_MIN)
    table = "results/figures/tables/best_fit.html"
    snakemake_runner.run(tmp_path, f"{MODEL_DIR}/best.json", table, config=config, cores=2)

    for k in (1, 2, 3, 4):  # every chunk completed; 2 and 4 hold only failures
        chunk = pd.read_parquet(tmp_path / f"{MODEL_DIR}/chunks/{k}-of-4.parquet")
        assert len(chunk) == 2
        if k not in FAILING_CHUNKS:
            assert (chunk["status"] == "ok").all() and (chunk["k_ex"] < 0.01).all()
        else:
            assert (chunk["status"] == "failed").all(), chunk
            assert (chunk["message"] == "too many steps").all()
            assert chunk.drop(columns=["point", "k_dim", "k_diss", "k_ex", "status",
                                       "message"]).isna().all().all()  # fmt: skip
            log = (tmp_path / f"logs/fit/grid_chunk/{SAMPLE}/model3/{k}-of-4.log").read_text()
            assert "2/2 sets done" in log and "2 failed" in log
    chi2 = pd.read_parquet(tmp_path / f"{MODEL_DIR}/chi2.parquet")
    failed = chi2["status"] == "failed"
    assert failed.sum() == 4 and chi2.loc[failed, "chi2"].isna().all()
    assert chi2.loc[~failed, "chi2"].notna().all()
    for fit_sample in (SAMPLE, "all"):
        best = read_json(tmp_path / f"results/fit/{fit_sample}/model3/best.json")
        assert best["n_points"] == 8 and best["n_ok"] == 4 and best["n_failed"] == 4
        assert best["failed_reasons"] == {"too many steps": 4}
        assert best["k_ex"] == pytest.approx(1.0e-3)  # the failures are excluded
    html = (tmp_path / table).read_text()
    assert "failed grid points" in html
    assert html.count("4 of 8 <span class='note'>(4 × too many steps)</span>") == 2


def test_every_set_failed_stops_the_fit_with_one_line(tmp_path, snakemake_runner):
    bypass_deconvolution(tmp_path, SAMPLE, TIMES_MIN)
    proc = snakemake_runner.run(tmp_path, f"{MODEL_DIR}/chi2.parquet", config=_failure_config(1),
                                cores=2, check=False)  # fmt: skip
    assert proc.returncode != 0
    expected = (f"ERROR intercluster: {MODEL_DIR}/chi2.parquet: all 8 grid points failed "
                "(8 x too many steps); see logs/fit/grid_chunk/; check fit.grid or raise "
                "kinetics.max_steps")  # fmt: skip
    assert expected in proc.stderr, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr
    for k in (1, 2, 3, 4):  # chunks of failures only: all completed
        chunk = pd.read_parquet(tmp_path / f"{MODEL_DIR}/chunks/{k}-of-4.parquet")
        assert (chunk["status"] == "failed").all()
    assert not (tmp_path / f"{MODEL_DIR}/chi2.parquet").exists()
    assert not (tmp_path / f"{MODEL_DIR}/residuals.tsv").exists()


# --- interruption and determinism ----------------------------------------------------------
# The small config (virtual experiment -> deconvolution -> fit -> plausibility) with a
# 6 x 6 x 6 grid in 6 chunks for model 3: ~15 s of chunks on 2 cores, long enough to kill.
N_GRID, N_CHUNKS = 6, 6
TABLES = [
    f"results/deconvolution/{SAMPLE}/intensities.tsv",
    f"results/deconvolution/{SAMPLE}/qc.tsv",
    f"{MODEL_DIR}/chi2.parquet",
    f"{MODEL_DIR}/residuals.tsv",
    f"{MODEL_DIR}/best.json",
    f"results/plausibility/{SAMPLE}/model3.json",
]


def _grid_config() -> dict:
    config = small_config()
    config["fit"]["models"] = [3]
    for axis in config["fit"]["grid"].values():
        axis["n"] = N_GRID
    config["fit"]["chunks"] = N_CHUNKS
    return config


def _grid_workdir(path: Path) -> Path:
    (path / ".test" / "config").mkdir(parents=True)
    for name in ("small.yaml", "small_samples.tsv"):
        source = REPO / ".test" / "config" / name
        (path / ".test" / "config" / name).write_bytes(source.read_bytes())
    return path


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory, snakemake_runner):
    """Two uninterrupted runs of the small config, in two directories."""
    works = []
    for name in ("clean_a", "clean_b"):
        work = _grid_workdir(tmp_path_factory.mktemp(name))
        snakemake_runner.run(work, *TABLES, config=_grid_config(), cores=2)
        works.append(work)
    return works


def test_two_clean_runs_give_byte_identical_tables(clean_runs):
    a, b = clean_runs
    for table in TABLES:
        assert (a / table).read_bytes() == (b / table).read_bytes(), table
    chunks = sorted(p.name for p in (a / MODEL_DIR / "chunks").iterdir())
    assert chunks == [f"{k}-of-{N_CHUNKS}.parquet" for k in range(1, N_CHUNKS + 1)]
    for name in chunks:
        assert (a / MODEL_DIR / "chunks" / name).read_bytes() == (
            b / MODEL_DIR / "chunks" / name
        ).read_bytes()


def test_killed_grid_run_resumes_to_identical_chi2(tmp_path, clean_runs, snakemake_runner):
    work = _grid_workdir(tmp_path)
    config = _grid_config()
    # without --nolock, as a user runs it: the kill leaves the lock behind
    command = snakemake_runner.command(work, *TABLES, config=config, cores=2, nolock=False)
    chunk_dir = work / MODEL_DIR / "chunks"
    killed_log = work / "killed.stderr"
    finished = re.compile(r"^Finished jobid: \d+ \(Rule: fit_grid_chunk\)", re.MULTILINE)
    with open(killed_log, "w") as err:
        proc = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True, env=snakemake_runner.env)  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if finished.search(killed_log.read_text()):  # a chunk recorded as done
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its running jobs
        proc.wait(timeout=60)
    n_recorded = len(finished.findall(killed_log.read_text()))
    n_files = len(list(chunk_dir.glob("*.parquet")))
    assert 1 <= n_recorded <= n_files < N_CHUNKS, (n_recorded, n_files)
    assert not (work / MODEL_DIR / "chi2.parquet").exists()

    # The next run refuses: the killed run's lock is still there.
    locked = subprocess.run(command + ["--rerun-incomplete"], cwd=work, capture_output=True,
                            text=True, timeout=120, env=snakemake_runner.env)  # fmt: skip
    assert locked.returncode != 0
    assert "Error: Directory cannot be locked." in locked.stderr, locked.stderr[-3000:]
    assert "It can be removed with the --unlock argument." in locked.stderr
    snakemake_runner.run(work, "--unlock", config=config, nolock=False)
    # A chunk killed between writing its table and being recorded as finished is marked
    # incomplete: a plain run refuses it (IncompleteFilesException), --rerun-incomplete
    # redoes it.
    plain = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600,
                           env=snakemake_runner.env)  # fmt: skip
    logs = plain.stderr
    if plain.returncode != 0:
        assert "IncompleteFilesException" in plain.stderr, plain.stderr[-3000:]
        assert "rerun your command with the --rerun-incomplete flag" in plain.stderr
        resumed = snakemake_runner.run(work, *TABLES, "--rerun-incomplete", config=config,
                                       cores=2, nolock=False)  # fmt: skip
        logs += resumed.stderr
    # only what was missing ran again
    started = re.findall(r"^localrule fit_grid_chunk:", logs, re.MULTILINE)
    assert N_CHUNKS - n_files <= len(started) <= N_CHUNKS - n_recorded, logs[-3000:]
    assert not re.search(r"^localrule (virtual_experiment|deconvolve):", logs, re.MULTILINE)
    reference = clean_runs[0]
    for table in TABLES:
        assert (work / table).read_bytes() == (reference / table).read_bytes(), table


# --- resume in one command ------------------------------------------------------------------
# The command the README documents: the default workflow profile (rerun-incomplete) and the
# user's options, without --nolock.
PROFILE = str(REPO / "workflow" / "profiles" / "default")


def _interrupt_mid_grid(command: list[str], work: Path, env: dict, sig: int) -> str:
    """Start ``command``, send ``sig`` to its process group (snakemake and its jobs) once a
    grid chunk is recorded as finished; return the run's stderr.

    On a loaded machine the few remaining chunks can finish between that line and the
    signal (the run then ends with 0 and the fit's tables): a race of this harness, not
    what is tested, so the run is made again in a fresh directory, at most three times."""
    finished = re.compile(r"^Finished jobid: \d+ \(Rule: fit_grid_chunk\)", re.MULTILINE)
    for attempt in range(3):
        log = work / f"interrupted.{sig}.{attempt}.stderr"
        with open(log, "w") as err:
            proc = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True, env=env)  # fmt: skip
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                if finished.search(log.read_text()):
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before it could be interrupted"
            os.killpg(proc.pid, sig)
            proc.wait(timeout=120)
        if proc.returncode != 0 or not (work / MODEL_DIR / "chi2.parquet").exists():
            break
        for made in ("results", "logs", ".snakemake"):  # the run outran the signal
            shutil.rmtree(work / made, ignore_errors=True)
    assert proc.returncode != 0
    assert not (work / MODEL_DIR / "chi2.parquet").exists()
    return log.read_text()


def test_interrupted_run_resumes_with_the_same_command(tmp_path, clean_runs, snakemake_runner):
    """Ctrl-C (SIGINT to the foreground process group) mid-grid, then the same command: the
    profile's rerun-incomplete redoes what was cut off, the tables match a clean run."""
    work = _grid_workdir(tmp_path)
    command = snakemake_runner.command(work, "--workflow-profile", PROFILE, *TABLES,
                                       config=_grid_config(), cores=2, nolock=False)  # fmt: skip
    _interrupt_mid_grid(command, work, snakemake_runner.env, signal.SIGINT)
    assert not list((work / ".snakemake" / "locks").glob("*.lock"))  # snakemake unlocked
    resumed = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600,
                             env=snakemake_runner.env)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not re.search(r"^localrule (virtual_experiment|deconvolve):", resumed.stderr,
                         re.MULTILINE)  # fmt: skip
    for table in TABLES:
        assert (work / table).read_bytes() == (clean_runs[0] / table).read_bytes(), table


def test_killed_run_explains_its_stale_lock_in_one_line(tmp_path, clean_runs, snakemake_runner):
    """SIGKILL leaves snakemake's lock: the same command says whose lock it is and how to
    clear it; --unlock and the same command then finish the run."""
    work = _grid_workdir(tmp_path)
    command = snakemake_runner.command(work, "--workflow-profile", PROFILE, *TABLES,
                                       config=_grid_config(), cores=2, nolock=False)  # fmt: skip
    _interrupt_mid_grid(command, work, snakemake_runner.env, signal.SIGKILL)
    owner = json.loads((work / ".snakemake" / "locks" / "owner.json").read_text())
    locked = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=120,
                            env=snakemake_runner.env)  # fmt: skip
    assert locked.returncode != 0
    expected = (f".snakemake/locks: stale lock of snakemake process {owner['pid']} on "
                f"{owner['host']}, which no longer runs (the run was killed): snakemake "
                "--unlock with the same --configfile/--config/--workflow-profile options, then "
                "the same command again")  # fmt: skip
    lines = [line for line in locked.stderr.splitlines() if expected in line]
    assert len(lines) == 1, locked.stderr[-3000:]
    unlock = subprocess.run(command + ["--unlock"], cwd=work, capture_output=True, text=True,
                            timeout=120, env=snakemake_runner.env)  # fmt: skip
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    resumed = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600,
                             env=snakemake_runner.env)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert expected not in resumed.stderr  # the lock is gone, nothing to explain
    for table in TABLES:
        assert (work / table).read_bytes() == (clean_runs[0] / table).read_bytes(), table
