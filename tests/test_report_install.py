"""The README's report command works on the README's install (``pip install -e .``, no extras).

A copy of the repository's tracked files gets a virtual environment made exactly as the
README's quick start says; in it, the small configuration's deconvolution QC figure (a figure
the report holds) is made, and ``snakemake --report`` builds the HTML report of it. The
negative control: the same report command after removing pygments from that environment
fails with snakemake's "pygments must be installed" (what the default install gave before
pygments was a dependency), so the test sees a missing report dependency.

Needs the package index pip is configured with (the install takes about a minute).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import REPO, SMALL_CONFIG_FILES, SnakemakeRunner

pytestmark = pytest.mark.slow

SAMPLE = "ag40_au40"
FIGURE = f"results/figures/deconvolution_qc_{SAMPLE}.png"


def _copy_tracked(dest: Path) -> None:
    """The repository's tracked files (a fresh clone's content, no .venv or results)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:  # not a git checkout: everything but the generated folders
        ignore = shutil.ignore_patterns(".venv", ".snakemake", "results", "logs", ".git")
        shutil.copytree(REPO, dest, ignore=ignore, dirs_exist_ok=True)
        return
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)


def _sh(cmd: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=SnakemakeRunner().env)  # fmt: skip


def test_readme_report_command_on_the_readme_install(tmp_path):
    clone = tmp_path / "clone"
    _copy_tracked(clone)
    python = shutil.which("python3.11") or sys.executable
    # the README's quick-start install, verbatim but for the interpreter's path
    install = _sh(f"{python} -m venv .venv && .venv/bin/pip install -q -e .", clone)
    assert install.returncode == 0, install.stderr[-4000:]
    configs = " ".join(str(f.relative_to(REPO)) for f in SMALL_CONFIG_FILES)
    # the target first: --configfile takes every argument that follows it
    snakemake = f".venv/bin/snakemake {FIGURE} --cores 2"
    configfiles = f"--configfile {configs}"
    run = _sh(f"{snakemake} {configfiles}", clone)
    assert run.returncode == 0, run.stderr[-4000:]
    # the README's report command, restricted to what was made
    report = _sh(f"{snakemake} --report results/report.html {configfiles}", clone)
    assert report.returncode == 0, report.stderr[-4000:]
    html = (clone / "results" / "report.html").read_text(errors="replace")
    assert f"deconvolution_qc_{SAMPLE}.png" in html
    # negative control: without pygments the same command fails, and says why
    removed = _sh(".venv/bin/pip uninstall -q -y pygments", clone)
    assert removed.returncode == 0, removed.stderr
    (clone / "results" / "report.html").unlink()
    failed = _sh(f"{snakemake} --report results/report.html {configfiles}", clone)
    assert failed.returncode != 0
    assert "pygments must be installed" in failed.stderr
    assert not (clone / "results" / "report.html").exists()
