"""Shared fixtures (helpers in tests/workflow_helpers.py)."""

import pytest
from workflow_helpers import SnakemakeRunner, small_config


@pytest.fixture(scope="session")
def snakemake_runner() -> SnakemakeRunner:
    """Runs the workflow with snakemake in a subprocess (see workflow_helpers)."""
    return SnakemakeRunner()


@pytest.fixture
def small_config_dict() -> dict:
    """A fresh copy of .test/config/small.yaml as a dict."""
    return small_config()


@pytest.fixture(autouse=True)
def _no_slurm_controller_lookup(request, monkeypatch):
    """Every subprocess snakemake of a non-SLURM test gets the stub ``scontrol``.

    The installed SLURM executor plugin runs ``scontrol show config`` at each snakemake start,
    which waits 10 s for a timeout where the SLURM client is installed (after the SLURM test)
    but no controller runs. Only the SLURM test needs the real one.
    """
    if request.node.get_closest_marker("slurm") is None:
        monkeypatch.setenv("PATH", SnakemakeRunner().env["PATH"])
