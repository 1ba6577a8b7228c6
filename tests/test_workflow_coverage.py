"""The opt-in coverage rules end to end (`snakemake coverage`) on a few replicas: one grid
table centred on the truth, replicas through spectra and deconvolution, and the four rules
side by side. The statistical claim (≥ 20 replicas, weighted 95 % k_ex interval consistent
with 0.95) is tested on the library in test_uncertainty.py; here the wiring."""

import pandas as pd
import pytest
from fit_helpers import bypass_deconvolution
from workflow_helpers import merged, small_config

pytestmark = pytest.mark.slow


def test_coverage_rule_scores_replicas_against_one_grid(tmp_path, snakemake_runner):
    bypass_deconvolution(tmp_path)
    config = merged(small_config(), {
        "samples": "data/samples.tsv",
        "fit": {"uncertainty": {"coverage": {"n_replicas": 3, "bootstrap_replicas": 20}}},
    })  # fmt: skip
    snakemake_runner.run(tmp_path, "coverage", config=config, cores=2)
    out = tmp_path / "results/uncertainty/coverage"
    grid = pd.read_parquet(out / "grid_tmax.parquet")
    assert len(grid) == 5 * 5 * 7 and (grid["status"] == "ok").all()
    truth = config["virtual_experiment"]["rate_constants"]
    for name, value in truth.items():  # the grid is centred on the truth
        assert sorted(grid[name].unique())[len(grid[name].unique()) // 2] == pytest.approx(value)
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    assert set(summary["rule"]) == {"relative", "f_test", "weighted", "weighted_calibrated"}
    assert (summary["n_replicas"] == 3).all()
    report = (out / "report.md").read_text()
    assert "weighted_calibrated" in report and "f_test" in report and "k_ex" in report
    replicas = sorted((out / "replicas").iterdir())
    assert [p.name for p in replicas] == ["0.tsv", "1.tsv", "2.tsv"]
    first = pd.read_csv(replicas[0], sep="\t")
    assert first["source"].str.startswith("SYNTHETIC").all() and "sigma_min" in first
    assert not (tmp_path / "results/fit").exists()  # opt-in: no fit ran for it
