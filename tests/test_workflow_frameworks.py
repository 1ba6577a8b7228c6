"""The Au44/Ag44 system through the workflow (snakemake in a subprocess, temp directory).

config/au44_ag44.yaml over the default config.yaml, shortened to 7 spectra: the SYNTHETIC
virtual experiment is written as mzML, read back, deconvolved over ion forms and drawn; the
framework populations and compositions recovered from the mzML are compared with the truth
tables the virtual-experiment rule wrote.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from workflow_helpers import REPO

from intercluster import frameworks as fw
from intercluster.io import read_json, read_tsv
from intercluster.system import load_system

pytestmark = pytest.mark.slow

PREFIX = "results/au44_ag44"
SAMPLE = "lin_1to1"
FRAMEWORKS = ("ag44_framework", "mixed_framework", "au44_framework")


def _config() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(yaml.safe_load((REPO / "config" / "au44_ag44.yaml").read_text()))
    config["framework_experiment"].update(t_end_min=30, scan_interval_min=5)
    return config


def test_au44_ag44_runs_and_recovers_its_truth(tmp_path, snakemake_runner):
    sheet = tmp_path / "resources" / "au44_ag44" / "samples.tsv"
    sheet.parent.mkdir(parents=True)
    shutil.copy(REPO / "resources" / "au44_ag44" / "samples.tsv", sheet)
    snakemake_runner.run(tmp_path, config=_config(), cores=2)
    out = tmp_path / PREFIX
    assert (out / "figures" / f"frameworks_{SAMPLE}.png").stat().st_size > 10_000
    run = read_json(out / "deconvolution" / SAMPLE / "run.json")
    assert run["synthetic"] is True and run["system"] == "au44_ag44"
    system = load_system(REPO / "resources" / "systems" / "au44_ag44.yaml")
    forms = read_tsv(out / "deconvolution" / SAMPLE / "ion_forms.tsv")
    assert len(forms) == 7 * len(system.ion_form_table()) == 7 * run["n_ion_forms"]
    fitted = read_tsv(out / "deconvolution" / SAMPLE / "summary.tsv")
    truth = read_tsv(out / "virtual_experiment" / "truth" / SAMPLE / "summary.tsv")
    assert (truth["data"] == "SYNTHETIC virtual experiment").all()
    assert fw.population_l1(fitted, truth) < 0.02
    for family in FRAMEWORKS:
        assert fw.composition_l1(fitted, truth, family) < 0.02, family
    # qc.tsv's columns for unlisted ion forms (tests/test_unlisted.py): data made from the
    # shipped file leave next to nothing on forms it does not list
    qc = read_tsv(out / "deconvolution" / SAMPLE / "qc.tsv")
    assert list(qc.columns[-2:]) == ["unlisted_fraction", "unlisted_forms"]
    assert (qc["unlisted_fraction"] < 0.01).all(), qc[["unlisted_fraction", "unlisted_forms"]]
    # nothing of the default demo's outputs (results/deconvolution, results/fit, ...)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["au44_ag44"]
