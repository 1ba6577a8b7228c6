"""End-to-end fit rules on tests/config/small.yaml (3 x 3 x 3 grid, models 2 and 3).

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
]

pytestmark = pytest.mark.slow


def _run(workdir: Path, cores: int, chunks: int, targets) -> subprocess.CompletedProcess:
    cmd = [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", *map(str, SMALL_CONFIG_FILES),
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
