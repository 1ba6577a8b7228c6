"""Helpers to run the workflow with snakemake in a subprocess, in a temporary directory.

``snakemake_runner.run(workdir, *targets, config=..., cores=2)`` writes ``config`` (a dict,
default: :func:`small_config`, the overlay .test/config/small.yaml merged onto the
repository's config.yaml) to ``workdir/config.yaml`` and runs the repository's
Snakefile with ``--directory workdir``, so every output lands under ``workdir``.
``snakemake_runner.command(...)`` gives the command line and ``snakemake_runner.env`` the
environment (for ``Popen``).

The environment puts a stub ``scontrol`` (exit 1) first on PATH: the SLURM executor plugin,
when installed, runs ``scontrol show config`` at every snakemake start, which waits 10 s
for its timeout on a machine with the SLURM client but no running controller. These tests
use the local executor only.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO / "config" / "config.yaml"
SMALL_CONFIG = REPO / ".test" / "config" / "small.yaml"
# The --configfile arguments of a small run from the command line (snakemake merges them).
SMALL_CONFIG_FILES = (BASE_CONFIG, SMALL_CONFIG)


def _shipped_system_definition():
    """The system file the shipped config names, loaded the way the rules load it (the
    library has no default system: tests pass this one explicitly)."""
    from intercluster.system import load_system, resolve_system_path

    return load_system(resolve_system_path(yaml.safe_load(BASE_CONFIG.read_text())["system"], REPO))


SHIPPED_SYSTEM_DEFINITION = _shipped_system_definition()
#: the shipped system (a ClusterSystem), its monomer nuclearity and its sheet's concentrations
SHIPPED_SYSTEM = SHIPPED_SYSTEM_DEFINITION.cluster_system()
NUCLEARITY = SHIPPED_SYSTEM.nuclearity
CONCENTRATION_COLUMNS = SHIPPED_SYSTEM_DEFINITION.concentration_columns()


def read_sheet(path, **kwargs):
    """A sample sheet read with the shipped system's concentration columns
    (``intercluster.validation.load_sample_sheet``, which has no default system)."""
    from intercluster.validation import load_sample_sheet

    return load_sample_sheet(path, concentration_columns=CONCENTRATION_COLUMNS, **kwargs)


@functools.cache
def _stub_bin() -> str:
    stub = Path(tempfile.mkdtemp(prefix="intercluster-test-bin-"))
    scontrol = stub / "scontrol"
    scontrol.write_text("#!/bin/sh\nexit 1\n")
    scontrol.chmod(0o755)
    return str(stub)


class SnakemakeRunner:
    snakefile = REPO / "workflow" / "Snakefile"

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([_stub_bin(), env.get("PATH", "")])
        return env

    def command(self, workdir, *args, config: dict | None = None, cores: int = 1,
                nolock: bool = True) -> list[str]:  # fmt: skip
        """The snakemake command line; writes ``config`` to ``workdir/config.yaml`` first."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        configfile = workdir / "config.yaml"
        configfile.write_text(yaml.safe_dump(config if config is not None else small_config()))
        cmd = [
            sys.executable, "-m", "snakemake", "--snakefile", str(self.snakefile),
            "--directory", str(workdir), "--configfile", str(configfile),
            "--cores", str(cores),
        ]  # fmt: skip
        if nolock:
            cmd.append("--nolock")
        if "--workflow-profile" not in args:
            # tests state every option they rely on: not the workflow's default profile,
            # which snakemake would otherwise apply by itself (rerun-incomplete, cores: all)
            cmd += ["--workflow-profile", "none"]
        return cmd + [str(a) for a in args]

    def run(self, workdir, *args, check: bool = True, timeout: float = 600, **kwargs):
        """Run snakemake; with ``check`` a non-zero exit fails the test with stderr's tail."""
        proc = subprocess.run(
            self.command(workdir, *args, **kwargs),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=workdir,
            env=self.env,
        )
        if check:
            assert proc.returncode == 0, proc.stderr[-6000:]
        return proc


def cluster_of(config: dict) -> dict:
    """The cluster mapping the rules pass to their scripts, from the config's system file."""
    from intercluster.system import load_system, resolve_system_path

    path = resolve_system_path(config["system"], REPO)
    return load_system(path).cluster_system().to_config()


def merged(base: dict, overlay: dict) -> dict:
    """``overlay`` merged onto ``base`` as snakemake merges config files: mappings key by
    key, everything else (lists included) replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def small_config() -> dict:
    """A fresh copy of the small configuration: .test/config/small.yaml onto config.yaml."""
    return copy.deepcopy(_SMALL)


_SMALL = merged(yaml.safe_load(BASE_CONFIG.read_text()), yaml.safe_load(SMALL_CONFIG.read_text()))


def system_file_without_trimers(tmp_path) -> Path:
    """A copy of the demo's system file with its trimer family switched off (the ion model
    before trimers), written under ``tmp_path``."""
    data = yaml.safe_load((REPO / "resources" / "systems" / "ag25_au25.yaml").read_text())
    data["families"]["trimer"]["enabled"] = False
    path = Path(tmp_path) / "without_trimers.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
