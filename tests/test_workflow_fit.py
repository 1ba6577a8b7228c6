"""End-to-end fit rules on .test/config/small.yaml (3 x 3 x 3 grid, models 2 and 3).

The deconvolution is bypassed: the sample sheet names a placeholder mzML, and a synthetic
intensities.tsv (model 3 + noise) is placed where the deconvolution would write it, older
inputs first, so snakemake considers it up to date. The chi² tables must be byte-identical
for 1 and 7 chunks and for 1 and 2 cores.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from fit_helpers import bypass_deconvolution
from workflow_helpers import SMALL_CONFIG_FILES

from intercluster.io import read_json

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SAMPLE = "ag40_au40"
CHI2 = [f"results/fit/{SAMPLE}/model{m}/chi2.parquet" for m in (2, 3)]
FULL = CHI2 + [
    f"results/fit/{SAMPLE}/model3/residuals.tsv",
    f"results/fit/{SAMPLE}/model3/best.json",
    "results/fit/all/model3/best.json",
    f"results/fit/{SAMPLE}/model3/best_simulation/{SAMPLE}.tsv",
    "results/plausibility/summary.md",
    f"results/figures/tmax_residuals_{SAMPLE}.png",
]

pytestmark = pytest.mark.slow


def _run(workdir: Path, cores: int, chunks: int, targets) -> subprocess.CompletedProcess:
    cmd = [
        SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
        "--workflow-profile", "none", "--configfile", *map(str, SMALL_CONFIG_FILES),
        "--config", "samples=data/samples.tsv",
        "--cores", str(cores), "--set-scatter", f"grid={chunks}", "--nolock", *targets,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, cores, chunks, targets in (
        ("c2_n1", 2, 1, FULL),
        ("c1_n7", 1, 7, CHI2[1:]),
        ("c2_n7", 2, 7, CHI2[1:]),
    ):
        workdir = tmp_path_factory.mktemp(name)
        bypass_deconvolution(workdir, SAMPLE)
        _run(workdir, cores, chunks, targets)
        out[name] = workdir
    return out


def test_chi2_tables_byte_identical_over_chunks_and_cores(runs):
    path = CHI2[1]  # model 3; c2_n1 vs c2_n7: chunks; c1_n7 vs c2_n7: cores
    reference = (runs["c2_n1"] / path).read_bytes()
    assert (runs["c2_n7"] / path).read_bytes() == reference
    assert (runs["c1_n7"] / path).read_bytes() == reference
    chunks = sorted((runs["c1_n7"] / f"results/fit/{SAMPLE}/model3/chunks").iterdir())
    assert [p.name for p in chunks] == [f"{i}-of-7.parquet" for i in range(1, 8)]


def test_fit_outputs_and_logs(runs):
    import pandas as pd

    work = runs["c2_n1"]
    chi2 = pd.read_parquet(work / CHI2[1])
    assert len(chi2) == 27 and (chi2["status"] == "ok").all()
    assert {"k_dim", "k_diss", "k_ex", "chi2", "n_species", "status"} <= set(chi2.columns)
    best = read_json(work / f"results/fit/{SAMPLE}/model3/best.json")
    assert best["k_ex"] == pytest.approx(10**-1.5)
    assert best["chi2_unit"] == "min^2" and best["n_failed"] == 0
    assert best["refined"]["chi2"] <= best["chi2"]
    assert set(best["intervals"]) >= {"k_dim", "k_diss", "k_ex", "delta_rel"}
    # the zoom (fit.zoom in the small config): its own table, best point and the intervals
    zoom = pd.read_parquet(work / f"results/fit/{SAMPLE}/model3/zoom/chi2.parquet")
    assert len(zoom) == best["zoom"]["n_points"] and (zoom["status"] == "ok").all()
    assert best["intervals"]["source"] == "zoom" and "intervals_coarse" in best
    assert best["zoom"]["best"]["chi2"] == pytest.approx(zoom["chi2"].min())
    assert best["zoom"]["best"]["chi2"] <= best["chi2"] * (1 + 1e-6)
    chunk_log = (work / f"logs/fit/grid_chunk/{SAMPLE}/model3/1-of-1.log").read_text()
    assert "27 points in 19 orbits" in chunk_log
    joint = read_json(work / "results/fit/all/model3/best.json")
    assert joint["chi2"] == pytest.approx(best["chi2"])  # one sample: joint = single
    traj = pd.read_csv(work / f"results/fit/{SAMPLE}/model3/best_simulation/{SAMPLE}.tsv",
                       sep="\t")  # fmt: skip
    assert {"time_min", "species", "kind", "charge", "n_first", "concentration_nM",
            "intensity_norm"} <= set(traj.columns)  # fmt: skip
    assert (work / f"results/fit/{SAMPLE}/model3/best_simulation/{SAMPLE}_isomers.parquet").exists()
    summary = (work / "results/plausibility/summary.md").read_text()
    assert f"| {SAMPLE} | 3 |" in summary and "| all | 2 |" in summary
    log = (work / f"logs/fit/grid_chunk/{SAMPLE}/model3/1-of-1.log").read_text()
    assert "27/27 sets done" in log and "sets/s" in log
    for rule in ("fit_grid_chunk", "fit_chi2", "fit_best", "plausibility"):
        assert any((work / "results/benchmarks" / rule).rglob("*.tsv")), rule


def _independent_label(prof, level):
    """The identifiability label by its definition, from the profile alone."""
    if max(prof) <= level:
        return "flat"
    if prof[0] <= level or prof[-1] <= level:
        return "practically non-identifiable"
    return "identifiable"


def test_weighted_fit_sigma_labels_and_intervals(runs):
    """σ(t_max) in tmax_experiment.tsv (finite, floored, eq 1's columns kept) and the weighted
    χ² fit in best.json: each label matches the profile it came from (recomputed here from the
    weighted table), open ends are null, and k_dim:k_diss is narrower in decades than k_dim
    and k_diss (the data fix the ratio better than either constant)."""
    import numpy as np
    import pandas as pd

    work = runs["c2_n1"]
    tmax = pd.read_csv(work / f"results/fit/{SAMPLE}/tmax_experiment.tsv", sep="\t")
    assert {"species", "t_max_min", "included", "reason", "sigma_bootstrap_min",
            "sigma_floor_min", "sigma_min", "sigma_source"} <= set(tmax.columns)  # fmt: skip
    use = tmax["included"].astype(bool)
    sigma = tmax.loc[use, "sigma_min"]
    assert np.all(np.isfinite(sigma)) and np.all(sigma >= tmax.loc[use, "sigma_floor_min"])
    assert tmax["sigma_floor_min"].iloc[0] == pytest.approx(0.1)  # 0.1 of 1-min scans
    best = read_json(work / f"results/fit/{SAMPLE}/model3/best.json")
    weighted = pd.read_parquet(work / f"results/fit/{SAMPLE}/model3/chi2_weighted.parquet")
    names = ["k_dim", "k_diss", "k_ex", "k_dim:k_diss", "k_dim*c/k_ex"]
    assert set(best["identifiability"]) == set(names) == set(best["intervals_weighted"])
    level = weighted["chi2"].min() + 3.841458820694124  # χ²₁ quantile at 0.95
    assert best["weighted"]["best"]["chi2"] == pytest.approx(weighted["chi2"].min())
    for name in ("k_dim", "k_diss", "k_ex"):  # profiles recomputed from the table
        prof = weighted.groupby(name)["chi2"].min().to_numpy()
        stored = [p["chi2_min"] for p in best["weighted"]["profiles"][name]["profile"]]
        assert stored == pytest.approx(prof)
    ratio = np.round(np.log10(weighted["k_dim"] / weighted["k_diss"]), 6)
    prof_ratio = weighted.groupby(ratio)["chi2"].min().to_numpy()
    stored = [p["chi2_min"] for p in best["weighted"]["profiles"]["k_dim:k_diss"]["profile"]]
    assert stored == pytest.approx(prof_ratio)

    def decades(name):
        entry = best["weighted"]["profiles"][name]
        values = [p["value"] for p in entry["profile"]]
        low, high = best["intervals_weighted"][name]
        low = values[0] if low is None else low
        high = values[-1] if high is None else high
        return np.log10(high) - np.log10(low)

    for name in names:
        entry = best["weighted"]["profiles"][name]
        prof = [p["chi2_min"] for p in entry["profile"]]
        assert entry["level"] == pytest.approx(level)
        assert best["identifiability"][name] == _independent_label(prof, level), name
        low, high = best["intervals_weighted"][name]
        assert (low is None) == (prof[0] <= level) and (high is None) == (prof[-1] <= level)
    assert decades("k_dim:k_diss") < min(decades("k_dim"), decades("k_diss"))
    assert (work / f"results/figures/tmax_residuals_{SAMPLE}.params.json").exists()
