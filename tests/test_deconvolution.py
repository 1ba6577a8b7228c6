"""The virtual experiment through ingestion and deconvolution, against its truth.

For every demo sample (all three mixing ratios) one module-scoped virtual experiment with
the real config's scan interval, noise, calibration, resolving power and CID settings is
written as mzML, read back and deconvolved; the tests compare with the simulated truth.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import NUCLEARITY, cluster_of

from intercluster.deconvolution import (
    CID_COLUMNS,
    INTENSITY_COLUMNS,
    QC_COLUMNS,
    deconvolve_cid_run,
    deconvolve_run,
    empty_cid_table,
)
from intercluster.ingest import read_spectra
from intercluster.io import SYNTHETIC_LABEL
from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import monomer_mz_span, observable_basis
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, simulate_truth, write_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
SAMPLES = list(CONFIG["virtual_experiment"]["samples"])
# The model these tests were written for: one resolving power per file, no robust pass.
DEC = replace(DeconvolutionSettings.from_config(CONFIG["deconvolution"]),
              resolving_power_model="constant", robust=False)  # fmt: skip


@pytest.fixture(scope="module", params=SAMPLES)
def experiment(request, tmp_path_factory):
    """Every mixing ratio of the demo: the contract holds for the whole virtual experiment."""
    sample = request.param
    out = tmp_path_factory.mktemp(f"virtual_experiment_{sample}")
    system = ClusterSystem.from_config(cluster_of(CONFIG))
    ve = CONFIG["virtual_experiment"]
    times = np.arange(0.0, 60.0 + 1e-9, ve["scan_interval_min"])
    vs = simulate_sample(system, ve, sample, CONFIG["kinetics"]["convention"], times_min=times)
    paths = {
        k: out / f"{k}.{'mzML' if 'mzml' in k else 'tsv'}"
        for k in ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")
    }
    write_sample(vs, **paths, resolving_power=ve["resolving_power"], sample=sample)
    basis = observable_basis(system)
    run = read_spectra(paths["mzml"], mz_required=basis.mz_span)
    intensities, qc, r = deconvolve_run(run, system, DEC)
    cid_run = read_spectra(paths["cid_mzml"], ms_level=2, mz_required=monomer_mz_span(system))
    cid = deconvolve_cid_run(cid_run, system, r, DEC)
    return {
        "system": system, "vs": vs, "paths": paths, "run": run, "intensities": intensities,
        "qc": qc, "cid": cid, "resolving_power": r, "sample": sample,
    }  # fmt: skip


def _wide(table, column="intensity_norm"):
    return table.pivot(index="time_min", columns="species", values=column)


def test_files_say_synthetic_and_stay_small(experiment):
    paths = experiment["paths"]
    for key in ("mzml", "cid_mzml"):
        head = paths[key].read_bytes()[:6000]
        assert SYNTHETIC_LABEL.encode() in head
        assert b"SYNTHETIC_virtual_experiment" in head
        assert b"negative scan" in paths[key].read_bytes()[:20000]
        assert paths[key].stat().st_size < 20e6
    for key in ("observables", "tmax", "cid_truth", "scans"):
        table = pd.read_csv(paths[key], sep="\t")
        assert (table["source"] == SYNTHETIC_LABEL).all()


def test_readback_same_times_and_arrays(experiment, tmp_path):
    vs, run = experiment["vs"], experiment["run"]
    assert np.allclose(run.times_min, [s["time_min"] for s in vs.ms1])
    for spec, mz, y in zip(vs.ms1, run.mz, run.intensity, strict=True):
        assert np.array_equal(mz, spec["mz"]) and np.array_equal(y, spec["intensity"])
    assert run.native_ids[0] == "scan=1" and run.synthetic
    from intercluster.virtual_experiment import write_mzml

    write_mzml(tmp_path / "seconds.mzML", vs.ms1[:5], time_unit="second")
    seconds = read_spectra(tmp_path / "seconds.mzML")
    assert np.allclose(seconds.times_min, run.times_min[:5])


def test_tables_have_the_contract_columns(experiment):
    assert list(experiment["intensities"].columns) == INTENSITY_COLUMNS
    assert list(experiment["qc"].columns) == QC_COLUMNS
    assert list(experiment["cid"].columns) == CID_COLUMNS
    assert list(empty_cid_table().columns) == CID_COLUMNS and empty_cid_table().empty
    assert len(experiment["intensities"]) == 77 * len(experiment["run"])


def test_normalised_intensities_within_2_percent(experiment):
    est = _wide(experiment["intensities"])
    truth = _wide(experiment["vs"].observables)[est.columns]
    l1 = (est - truth).abs().sum(axis=1)
    print(f"L1 mean {l1.mean():.4f}, max {l1.max():.4f}")
    assert l1.mean() < 0.02


def test_monomer_dimer_split_of_overlapping_pairs(experiment):
    system = experiment["system"]
    est = _wide(experiment["intensities"])
    truth = _wide(experiment["vs"].observables)
    worst = 0.0
    for m in range(system.nuclearity + 1):
        mono, dimer = system.ion_label(m, 1), system.ion_label(2 * m, 2)
        pair_true = truth[mono] + truth[dimer]
        keep = pair_true > 0.01
        if not keep.any():
            continue
        split_true = (truth[mono] / pair_true)[keep]
        split_est = (est[mono] / (est[mono] + est[dimer]))[keep]
        worst = max(worst, float((split_est - split_true).abs().max()))
    print(f"worst monomer/dimer split error {100 * worst:.2f} pp")
    assert worst < 0.02


def _tmax(times, values):
    try:
        from intercluster.observables import tmax_of
    except ImportError:  # fallback: 3-point moving average, argmax
        kernel = np.ones(3) / 3
        smooth = np.array([np.convolve(np.pad(v, 1, mode="edge"), kernel, "valid")
                           for v in values.T]).T  # fmt: skip
        return times[np.argmax(smooth, axis=0)]
    return tmax_of(times, values, smoothing_min=1.0, normalise=False, tolerance_rel=0.0)[0]


def test_tmax_of_deconvolved_curves(experiment):
    system = experiment["system"]
    ve = CONFIG["virtual_experiment"]
    est = _wide(experiment["intensities"])
    labels = system.observables()["species"].tolist()
    est = est[labels]
    times = est.index.to_numpy()
    t_hat = _tmax(times, est.to_numpy())
    fine = np.arange(0.0, 60.0 + 1e-9, 0.05)
    network = ReactionNetwork(model=ve["model"], convention=CONFIG["kinetics"]["convention"],
                              nuclearity=NUCLEARITY)
    cond = ve["samples"][experiment["sample"]]
    obs, _ = simulate_truth(
        network, RateConstants.from_dict(ve["rate_constants"]),
        SampleConditions.from_dict({**cond, "dead_time_s": ve["dead_time_s"]}), fine,
    )  # fmt: skip
    true = obs / obs.sum(axis=1, keepdims=True)
    failures, checked = [], 0
    for k, label in enumerate(labels):
        if true[:, k].max() < 0.01:
            continue
        checked += 1
        at = np.interp(t_hat[k], fine, true[:, k])
        if at < 0.95 * true[:, k].max():
            failures.append((label, t_hat[k], at / true[:, k].max()))
    print(f"{checked} observables checked, failures: {failures}")
    assert checked > 40 and not failures


def test_calibration_shift_recovered(experiment):
    qc, scans = experiment["qc"], experiment["vs"].scans
    error = np.abs(qc["shift_ppm"].to_numpy() - scans["shift_ppm"].to_numpy())
    print(f"shift error max {error.max():.3f} ppm; R {experiment['resolving_power']:.0f}")
    assert error.max() < 1.0
    assert (qc["residual_norm"] < 0.1).all()
    assert qc["resolving_power"].iloc[0] == pytest.approx(25000, rel=0.05)


def test_cid_fragment_distributions(experiment):
    est = experiment["cid"].pivot(index="time_min", columns="n_first", values="fraction")
    truth = experiment["vs"].cid_truth.pivot(index="time_min", columns="n_first", values="fraction")
    assert list(est.index) == list(CONFIG["virtual_experiment"]["cid"]["times_min"])
    error = (est - truth[est.columns]).abs().to_numpy().max()
    print(f"CID fraction error max {100 * error:.2f} pp")
    assert error < 0.03


def test_virtual_experiment_is_deterministic(experiment):
    system = experiment["system"]
    ve = CONFIG["virtual_experiment"]
    times = np.array([0.0, 30.0])
    first = simulate_sample(system, ve, experiment["sample"], times_min=times)
    again = simulate_sample(system, ve, experiment["sample"], times_min=times)
    other_sample = next(s for s in SAMPLES if s != experiment["sample"])
    other = simulate_sample(system, ve, other_sample, times_min=times)
    for a, b, c in zip(first.ms1, again.ms1, other.ms1, strict=True):
        assert np.array_equal(a["intensity"], b["intensity"])
        assert not np.array_equal(a["intensity"], c["intensity"])
    assert np.array_equal(first.cid[0]["intensity"], again.cid[0]["intensity"])
