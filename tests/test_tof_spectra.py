"""The spectrum model of a real time-of-flight: a smooth background and tailing peaks.

On the SYNTHETIC virtual experiment (40:40 sample, six spectra over the hour), written sparse
at 1.5 % of the base peak with baseline noise of 0.5 % of it (the runs of test_absent_ions):

* a broad background (a Gaussian hump of 2 % of the base peak at m/z 5600, sd 300 Th, plus
  a slope of 0.5 % at m/z 5000 falling to 0 at 7600) and EMG peaks with a tail of 0.6 sd:
  L1 within 1 % of the same run without them, the baseline's share of the signal in qc.tsv
  within 20 % of the truth; the constant baseline is the negative control;
* tailing peaks (tau = 1.5 sd): the tail fitted within 15 %, L1 within 1 % of the Gaussian
  run; the Gaussian peak model is the negative control;
* Gaussian peaks on a flat baseline, dense: the spline baseline and ``peak_shape: auto``
  move the intensities by less than 1e-3 L1 from a constant baseline with Gaussian peaks,
  and ``auto`` keeps the Gaussian.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import exponnorm

from intercluster import _deconv_kernels as kern
from intercluster import deconvolution as dec
from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system
from intercluster.virtual_experiment import (
    exported_spectra,
    simulate_sample,
    write_mzml,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
AG25 = ROOT / "resources" / "systems" / "ag25_au25.yaml"
SAMPLE = "ag40_au40"
TIMES = np.array([0.0, 1.0, 3.0, 8.0, 20.0, 60.0])
SETTINGS = DeconvolutionSettings.from_config(CONFIG["deconvolution"])
SPARSE = {"mode": "sparse", "threshold_rel": 0.015}
BACKGROUND = {"hump_rel": 0.02, "hump_mz": 5600.0, "hump_sd": 300.0, "slope_rel": 0.005,
              "slope_mz": [5000.0, 7600.0]}  # fmt: skip
L1_MARGIN = 0.01
SHARE_TOL = 0.2
TAIL_TOL = 0.15


def _virtual(tmp, tag, spectra, **ve_options):
    system_file = load_system(AG25)
    ve = dict(CONFIG["virtual_experiment"], cid={}, **ve_options)
    ve["noise"] = {**ve["noise"], "baseline_rel": 0.005}
    vs = simulate_sample(system_file.cluster_system(), ve, SAMPLE, times_min=TIMES)
    path = tmp / f"{tag}.mzML"
    write_mzml(path, exported_spectra(vs.ms1, spectra), resolving_power=ve["resolving_power"])
    return {"vs": vs, "run": read_spectra(path), "system_file": system_file, "path": path}


def _deconvolve(case, **options):
    settings = replace(SETTINGS, **options)
    _, intensities, qc, r = fw.deconvolve_run_ion_forms(case["run"], case["system_file"], settings)
    return intensities, qc, r


def _l1(intensities, vs) -> np.ndarray:
    truth = vs.observables.pivot(index="time_min", columns="species", values="intensity_norm")
    est = intensities.pivot(index="time_min", columns="species", values="intensity_norm")
    return (est[truth.columns].fillna(0.0) - truth).abs().sum(axis=1).to_numpy()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tof")
    flat = _virtual(tmp, "flat", SPARSE)
    return {"flat": flat, "flat_fit": _deconvolve(flat)}


@pytest.fixture(scope="module")
def background_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tof_bg")
    case = _virtual(tmp, "bg", SPARSE, peak_tail_sd=0.6, background=BACKGROUND)
    return {**case, "fit": _deconvolve(case)}


@pytest.fixture(scope="module")
def tail_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tof_tail")
    case = _virtual(tmp, "tail", SPARSE, peak_tail_sd=1.5)
    return {**case, "fit": _deconvolve(case)}


def test_emg_peak_is_scipys_exponnorm():
    """The kernel's overflow-free EMG is scipy's exponnorm (mean at core + tail sd), its
    derivative the numerical one; negative control: the Gaussian is not."""
    u = np.linspace(-6.0, 40.0, 3001)
    for tail in (0.05, 0.6, 1.5, 3.0):
        value, slope = np.array([kern.peak_value(x, tail) for x in u]).T
        assert np.all(np.isfinite(value))
        assert np.allclose(value, exponnorm.pdf(u, tail), rtol=0, atol=1e-12)
        assert np.allclose(slope, np.gradient(value, u), rtol=0, atol=1e-4)
    gauss = np.array([kern.peak_value(x, 0.0)[0] for x in u])
    assert np.abs(gauss - exponnorm.pdf(u, 0.6)).max() > 0.05
    # the FWHM the tail search keeps: EMG with tail 1.5 is 1.374 cores wide (measured here)
    grid = np.linspace(-5, 30, 200001)
    pdf = exponnorm.pdf(grid, 1.5)
    wide = grid[pdf >= 0.5 * pdf.max()]
    assert dec.emg_fwhm(1.5) == pytest.approx((wide[-1] - wide[0]) / 2.35482, rel=1e-3)


def test_spline_baseline_columns_sum_to_one():
    """The B-splines sum to 1 at every point (a flat baseline is one coefficient for all),
    on knots that are the same lattice for any m/z range."""
    mz = np.linspace(5003.2, 7598.7, 5000)
    spacing = 270.0
    starts, ends, ptr, values, _ = dec.baseline_columns(mz, spacing)
    total = np.zeros(mz.size)
    for j in range(starts.size):
        total[starts[j] : ends[j]] += values[ptr[j] : ptr[j + 1]]
    assert np.allclose(total, 1.0)
    assert np.allclose(dec.spline_baseline(mz, np.full(starts.size, 3.0), spacing), 3.0)
    knots = dec.baseline_knots(mz[100:], spacing)
    assert np.allclose(np.round(knots / spacing), knots / spacing)


def test_background_and_tail_sparse(runs, background_run):
    vs = background_run["vs"]
    intensities, qc, _ = background_run["fit"]
    l1 = _l1(intensities, vs)
    flat_l1 = _l1(runs["flat_fit"][0], runs["flat"]["vs"])
    truth_share = vs.scans["background_share"].to_numpy()
    share = qc["baseline_fraction"].to_numpy()
    print(f"background + tail 0.6: mean L1 {l1.mean():.4f} (flat {flat_l1.mean():.4f}); "
          f"baseline share {np.round(share, 3)} truth {np.round(truth_share, 3)}; "
          f"tail {qc['peak_tail'].iloc[0]:.3f} R {qc['resolving_power'].iloc[0]:.0f}")  # fmt: skip
    assert l1.mean() <= flat_l1.mean() + L1_MARGIN
    assert np.all(np.abs(share / truth_share - 1.0) <= SHARE_TOL)
    assert (qc["baseline_model"] == "spline").all()
    assert (qc["peak_shape"] == "emg").all()
    assert qc["peak_tail"].iloc[0] == pytest.approx(0.6, rel=TAIL_TOL)
    # a broad background is the baseline's, not signal the robust pass calls unexplained
    assert qc["unexplained_fraction"].max() < 1e-3
    # run.json's record of the file's spectrum model
    record = fw._spectrum_model(qc)
    assert record["peak_shape"] == "emg" and record["baseline_model"] == "spline"
    assert record["baseline_fraction_median"] == pytest.approx(np.median(share))


def test_negative_control_constant_baseline(runs, background_run):
    intensities, _, _ = _deconvolve(background_run, baseline="constant")
    l1 = _l1(intensities, background_run["vs"])
    flat_l1 = _l1(runs["flat_fit"][0], runs["flat"]["vs"])
    print(f"constant baseline: mean L1 {l1.mean():.4f} (flat {flat_l1.mean():.4f})")
    assert l1.mean() > flat_l1.mean() + L1_MARGIN


def test_tailing_peaks_fitted(runs, tail_run):
    intensities, qc, r = tail_run["fit"]
    l1 = _l1(intensities, tail_run["vs"])
    flat_l1 = _l1(runs["flat_fit"][0], runs["flat"]["vs"])
    tail = qc["peak_tail"].iloc[0]
    print(f"tail 1.5: fitted {tail:.3f}, R {r:.0f}, mean L1 {l1.mean():.4f} "
          f"(Gaussian run {flat_l1.mean():.4f})")  # fmt: skip
    assert tail == pytest.approx(1.5, rel=TAIL_TOL)
    assert (qc["peak_shape"] == "emg").all()
    assert l1.mean() <= flat_l1.mean() + L1_MARGIN
    gaussian, _, _ = _deconvolve(tail_run, peak_shape="gaussian")
    gaussian_l1 = _l1(gaussian, tail_run["vs"])
    print(f"negative control, Gaussian peaks: mean L1 {gaussian_l1.mean():.4f}")
    assert gaussian_l1.mean() > flat_l1.mean() + L1_MARGIN


def test_gaussian_flat_dense_as_before(tmp_path):
    case = _virtual(tmp_path, "dense", {"mode": "dense"})
    new, qc, _ = _deconvolve(case)
    old, old_qc, _ = _deconvolve(case, baseline="constant", peak_shape="gaussian")
    pivot = {"index": "time_min", "columns": "species", "values": "intensity_norm"}
    diff = (new.pivot(**pivot) - old.pivot(**pivot)).abs().sum(axis=1)
    print(f"dense flat: L1 between spline+auto and constant+gaussian mean {diff.mean():.2e}, "
          f"max {diff.max():.2e}; baseline share {qc['baseline_fraction'].mean():.3f} vs "
          f"{old_qc['baseline_fraction'].mean():.3f}")  # fmt: skip
    assert diff.mean() < 1e-3
    assert (qc["peak_shape"] == "gaussian").all() and (qc["peak_tail"] == 0).all()
    # the same baseline's share either way (a flat background is what both can be)
    assert qc["baseline_fraction"].mean() == pytest.approx(old_qc["baseline_fraction"].mean(),
                                                          rel=0.01)  # fmt: skip


def test_inspect_reports_the_tail(tail_run):
    """``intercluster inspect``'s quick fit chooses the file's peak shape as the workflow
    does: EMG with the tail within 15 % (one spectrum); on Gaussian peaks it keeps the
    Gaussian (the control)."""
    from intercluster.inspect import format_inspection, inspect_file

    system = tail_run["system_file"].cluster_system()
    result = inspect_file(tail_run["path"], system, SETTINGS)
    print(format_inspection(result, top=3))
    assert result.peak_shape == "emg"
    assert result.peak_tail == pytest.approx(1.5, rel=TAIL_TOL)
    assert "peak shape of the quick fit: EMG" in format_inspection(result)
    gaussian = inspect_file(tail_run["path"], system, replace(SETTINGS, peak_shape="gaussian"))
    assert gaussian.peak_shape == "gaussian" and gaussian.peak_tail == 0.0
