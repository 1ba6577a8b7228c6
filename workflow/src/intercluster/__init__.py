"""Kinetics of intercluster metal exchange from time-resolved ESI mass spectra."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("intercluster")  # one place: pyproject.toml
except PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
    __version__ = "0+unknown"
