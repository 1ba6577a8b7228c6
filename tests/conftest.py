"""Shared fixtures (helpers in tests/workflow_helpers.py)."""

import pytest
from workflow_helpers import SnakemakeRunner, small_config


@pytest.fixture(scope="session")
def snakemake_runner() -> SnakemakeRunner:
    """Runs the workflow with snakemake in a subprocess (see workflow_helpers)."""
    return SnakemakeRunner()


@pytest.fixture
def small_config_dict() -> dict:
    """A fresh copy of tests/config/small.yaml as a dict."""
    return small_config()
