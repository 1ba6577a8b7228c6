"""The workflow through SLURM: a single-node cluster on localhost, the small config.

The fixture installs Debian's slurm-wlm and munge (tests/slurm/cluster.sh install; needs root
and apt-get), starts munged, slurmctld and slurmd (cluster.sh start) and stops exactly those
daemons afterwards (cluster.sh stop, by their recorded PIDs). A cluster that was already
running is used and left running. Without root or apt-get the test is skipped, unless the
environment variable CI is set: then it fails. A cluster that cannot start always fails.

The test runs the small config's upstream and fit stages (virtual experiment, deconvolution,
grid chunks, chi²) twice at the same time: locally, and through workflow/profiles/slurm with
the overrides this test cluster needs (partition, small runtime and memory, fast first status
check, at most as many chunks per sbatch job as the node has cores). It checks that every job
went through sbatch (the plugin's "submitted with SLURM jobid" lines, matched against
slurmctld's log), that the grid chunks were packed into group jobs, and that the result
tables are byte-identical to the local run's. Figures are not targeted (they add dependent
job layers, each costing the plugin's status-poll back-off). About 2 minutes.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_helpers import SMALL_CONFIG_FILES, read_sheet, small_config

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
STATE_DIR = Path(os.environ.get("SLURM_TEST_STATE_DIR", "/tmp/intercluster-slurm"))
PARTITION = os.environ.get("SLURM_TEST_PARTITION", "debug")
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
RUN_TIMEOUT_S = 420  # the SLURM run; it takes ~100 s here

_CONFIG = small_config()
SAMPLES = read_sheet(REPO / _CONFIG["samples"])["sample"].tolist()
FIT_SAMPLES = SAMPLES + [_CONFIG["fit"]["joint_sample_name"]]
FIT_MODELS = _CONFIG["fit"]["models"]
CHUNKS = _CONFIG["fit"]["chunks"]
TARGETS = [f"results/deconvolution/{s}/intensities.tsv" for s in SAMPLES] + [
    f"results/fit/{f}/model{m}/chi2.parquet" for f in FIT_SAMPLES for m in FIT_MODELS
]
# Compared byte for byte between the local and the SLURM run.
TABLES = (
    [f"results/deconvolution/{s}/{t}.tsv" for s in SAMPLES for t in ("intensities", "qc", "cid")]
    + [f"results/fit/{s}/tmax_experiment.tsv" for s in SAMPLES]
    + [f"results/fit/{f}/model{m}/{t}" for f in FIT_SAMPLES for m in FIT_MODELS
       for t in ("chi2.parquet", "residuals.tsv")]
    + [f"results/fit/{s}/model{m}/chunks/{i}-of-{CHUNKS}.parquet" for s in SAMPLES
       for m in FIT_MODELS for i in range(1, CHUNKS + 1)]
)  # fmt: skip
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: ([^)]*)\)")

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _unavailable(reason: str):
    """No SLURM test cluster on this machine: fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"SLURM test cluster unavailable (CI is set, so this fails): {reason}")
    pytest.skip(f"SLURM test cluster unavailable: {reason}")


def _cluster(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLUSTER), *args], capture_output=True, text=True, timeout=timeout)


def _tail(text: str, n: int = 4000) -> str:
    return text[-n:]


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM cluster; stops the daemons it started."""
    if os.geteuid() != 0:
        _unavailable("needs root (the daemons run as root; the config goes to /etc/slurm)")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        _unavailable("slurm-wlm is not installed and apt-get is not available")
    install = _cluster("install", timeout=1200)
    if install.returncode != 0:
        _unavailable(f"cluster.sh install failed:\n{_tail(install.stdout + install.stderr)}")
    already_running = _cluster("status", timeout=60).returncode == 0
    if not already_running:
        start = _cluster("start", timeout=180)
        if start.returncode != 0:
            pytest.fail(
                "the SLURM daemons could not start on this machine (cluster.sh start):\n"
                + _tail(start.stdout + start.stderr)
            )
    try:
        yield {"log": STATE_DIR / "log" / "slurmctld.log"}
    finally:
        if not already_running:  # a cluster someone else started stays up
            stop = _cluster("stop", timeout=180)
            assert stop.returncode == 0, f"cluster.sh stop failed:\n{stop.stdout}{stop.stderr}"


def _workdir(path: Path) -> Path:
    """A run directory: the small config's sample sheet where the config expects it."""
    sheet = REPO / _CONFIG["samples"]
    (path / sheet.parent.relative_to(REPO)).mkdir(parents=True)
    shutil.copy(sheet, path / _CONFIG["samples"])
    return path


def _snakemake(workdir: Path, *args) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
        "--directory", str(workdir), "--configfile", *map(str, SMALL_CONFIG_FILES),
        "--nolock", *args,
    ]  # fmt: skip


def _node_cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%c"], capture_output=True,
                         text=True, timeout=30).stdout.split()  # fmt: skip
    return min(int(x) for x in out) if out else 1


def test_workflow_through_slurm_matches_local_run(slurm_cluster, tmp_path):
    local = _workdir(tmp_path / "local")
    remote = _workdir(tmp_path / "slurm")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # A group job asks SLURM for the summed cores of the chunks it runs side by side: more
    # chunks per job than cores on a node and the job pends forever (Reason=PartitionConfig).
    per_job = min(2, _node_cpus())
    n_chunk_jobs = len(SAMPLES) * len(FIT_MODELS) * CHUNKS
    n_groups = math.ceil(n_chunk_jobs / per_job)
    # virtual_experiment, deconvolve per sample; one fit_tmax_experiment for every sample;
    # fit_chi2 per model (one job for all fits of the model)
    n_expected = 2 * len(SAMPLES) + 1 + len(FIT_MODELS) + n_groups

    t0 = time.monotonic()
    local_log = (tmp_path / "local.log").open("w")
    local_proc = subprocess.Popen(
        ["timeout", "-k", "10", str(RUN_TIMEOUT_S),
         *_snakemake(local, "--workflow-profile", "none", "--cores", "1", *TARGETS)],
        stdout=local_log, stderr=subprocess.STDOUT, env=env, cwd=local,
    )  # fmt: skip
    slurm_cmd = ["timeout", "-k", "10", str(RUN_TIMEOUT_S), *_snakemake(
        remote, "--workflow-profile", str(PROFILE),
        "--default-resources", f"slurm_partition={PARTITION}", "runtime=10", "mem_mb=500",
        "cpus_per_task=1",
        "--set-resources", "fit_grid_chunk:mem_mb=400", "fit_grid_chunk:runtime=10",
        "--group-components", f"grid={per_job}",
        "--slurm-init-seconds-before-status-checks", "2",
        "--slurm-keep-successful-logs",
        "--jobs", "4",
        *TARGETS,
    )]  # fmt: skip
    ids: list[str] = []
    try:
        proc = subprocess.run(slurm_cmd, capture_output=True, text=True, env=env, cwd=remote,
                              timeout=RUN_TIMEOUT_S + 60)  # fmt: skip
        slurm_s = time.monotonic() - t0
        out = proc.stdout + proc.stderr
        submitted = SUBMITTED.findall(out)
        ids = [jobid for _, jobid, _ in submitted]
        assert proc.returncode == 0, (
            f"SLURM run failed (rc {proc.returncode}; 124/137 = timeout after {RUN_TIMEOUT_S}"
            f" s):\n{_tail(out)}\n--- cluster logs ---\n{_cluster('logs', '30').stdout}"
        )
    finally:
        _cancel(ids)
        local_rc = local_proc.wait(timeout=RUN_TIMEOUT_S + 60)
        local_log.close()
        local_s = time.monotonic() - t0
    assert local_rc == 0, _tail((tmp_path / "local.log").read_text())
    print(
        f"SLURM run {slurm_s:.0f} s, {len(ids)} sbatch jobs (expected {n_expected}, "
        f"{n_groups} of them grid groups of {per_job}); local run done at {local_s:.0f} s"
    )

    # Every job went through sbatch, and slurmctld saw it submitted and completed.
    assert len(ids) >= n_expected, out[-4000:]
    group_logs = [Path(log) for _, _, log in submitted if "/group_grid_" in log]
    assert len(group_logs) >= n_groups, submitted
    assert len(ids) < n_expected - n_groups + n_chunk_jobs  # chunks were packed
    ctld = slurm_cluster["log"].read_text(errors="replace")
    for jobid in ids:
        assert re.search(rf"_slurm_rpc_submit_batch_job: JobId={jobid}\b", ctld), jobid
        assert re.search(rf"_job_complete: JobId={jobid} WEXITSTATUS 0", ctld), jobid
    # A group job ran several chunks, each as a job step of the one SLURM job.
    per_group = [
        len(re.findall(r"^rule fit_grid_chunk:", log.read_text(errors="replace"), flags=re.M))
        for log in group_logs
    ]
    assert sum(per_group) == n_chunk_jobs and max(per_group) == per_job, per_group

    # Same tables as the local run, byte for byte.
    for table in TABLES:
        a, b = local / table, remote / table
        assert b.is_file(), f"missing from the SLURM run: {table}"
        assert a.read_bytes() == b.read_bytes(), f"differs from the local run: {table}"


def _cancel(ids: list[str]) -> None:
    """scancel this run's jobs that are still queued or running (after a failure)."""
    if not ids or shutil.which("squeue") is None:
        return
    queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True,
                            timeout=30).stdout.split()  # fmt: skip
    left = sorted(set(ids) & set(queued))
    if left:
        subprocess.run(["scancel", *left], capture_output=True, timeout=30)
