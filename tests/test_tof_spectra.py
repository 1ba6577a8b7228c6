"""The spectrum model of a real time-of-flight: a smooth background and tailing peaks.

On the SYNTHETIC virtual experiment (40:40 sample, six spectra over the hour), written sparse
at 1.5 % of the base peak with baseline noise of 0.5 % of it (the runs of test_absent_ions):

* a broad background (a Gaussian hump of 2 % of the base peak at m/z 5600, sd 300 Th, plus
  a slope of 0.5 % at m/z 5000 falling to 0 at 7600) and EMG peaks with a tail of 0.6 sd:
  L1 within 1 % of the same run without them, the baseline's share of the signal in qc.tsv
  within 20 % of the truth; the constant baseline is the negative control;
* tailing peaks (tau = 1.5 sd): the tail fitted within 15 %, L1 within 1 % of the Gaussian
  run; the Gaussian peak model is the negative control;
* tailing peaks (tau = 1.5 sd) over the hour (31 spectra): the grid fit of t_max recovers
  the truth (k_ex and k_dim:k_diss on the truth's grid point) from the EMG reading; the
  Gaussian reading's fit is the control (its t_max misfit is far larger; its best grid point
  happens to be the truth too on these data, see the test);
* centroid files of the background run: areas say that neither is modelled; heights (a
  vendor picker's) get a pedestal smooth in m/z, L1 within 1 % of the flat run's heights,
  with one common height as the negative control;
* Gaussian peaks on a flat baseline, dense: the spline baseline and ``peak_shape: auto``
  move the intensities by less than 1e-3 L1 from a constant baseline with Gaussian peaks,
  and ``auto`` keeps the Gaussian.
"""

from dataclasses import replace

import numpy as np
import pytest
import yaml
from scipy.stats import exponnorm
from workflow_helpers import BASE_CONFIG, REPO, cluster_of

from intercluster import _deconv_kernels as kern
from intercluster import deconvolution as dec
from intercluster import fit, spectrum_basis
from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.observables import TmaxSettings, experimental_tmax
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system
from intercluster.virtual_experiment import (
    exported_spectra,
    simulate_sample,
    write_mzml,
)

CONFIG = yaml.safe_load(BASE_CONFIG.read_text())
AG25 = REPO / "resources" / "systems" / "ag25_au25.yaml"
SAMPLE = "ag40_au40"
TIMES = np.array([0.0, 1.0, 3.0, 8.0, 20.0, 60.0])
SETTINGS = DeconvolutionSettings.from_config(CONFIG["deconvolution"])
SPARSE = {"mode": "sparse", "threshold_rel": 0.015}
BACKGROUND = {"hump_rel": 0.02, "hump_mz": 5600.0, "hump_sd": 300.0, "slope_rel": 0.005,
              "slope_mz": [5000.0, 7600.0]}  # fmt: skip
L1_MARGIN = 0.01
SHARE_TOL = 0.2
TAIL_TOL = 0.15


def _virtual(tmp, tag, spectra, times=TIMES, **ve_options):
    system_file = load_system(AG25)
    ve = dict(CONFIG["virtual_experiment"], cid={}, **ve_options)
    ve["noise"] = {**ve["noise"], "baseline_rel": 0.005}
    vs = simulate_sample(system_file.cluster_system(), ve, SAMPLE, times_min=times)
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
    knots = spectrum_basis.baseline_knots(mz[100:], spacing)
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
    """Gaussian peaks on a flat baseline, dense: the shipped ``baseline: auto`` and
    ``peak_shape: auto`` keep the constant and the Gaussian, and every spectrum's intensities
    are within 1e-3 L1 of a constant baseline with Gaussian peaks (measured: 2e-5; R is
    searched with the spline before auto drops it). Control: a
    spline forced on the same file moves them by about that much (measured mean 0.9e-3,
    largest 1.1e-3), which is why auto keeps the constant."""
    case = _virtual(tmp_path, "dense", {"mode": "dense"})
    new, qc, _ = _deconvolve(case)
    old, old_qc, _ = _deconvolve(case, baseline="constant", peak_shape="gaussian")
    spline, spline_qc, _ = _deconvolve(case, baseline="spline", peak_shape="gaussian")
    pivot = {"index": "time_min", "columns": "species", "values": "intensity_norm"}
    diff = (new.pivot(**pivot) - old.pivot(**pivot)).abs().sum(axis=1)
    forced = (spline.pivot(**pivot) - old.pivot(**pivot)).abs().sum(axis=1)
    print(f"dense flat: L1 between auto+auto and constant+gaussian mean {diff.mean():.2e}, "
          f"max {diff.max():.2e}; a forced spline mean {forced.mean():.2e}, max "
          f"{forced.max():.2e}; baseline share {qc['baseline_fraction'].mean():.3f} vs "
          f"{old_qc['baseline_fraction'].mean():.3f}")  # fmt: skip
    assert diff.max() < 1e-3
    assert (qc["peak_shape"] == "gaussian").all() and (qc["peak_tail"] == 0).all()
    assert (qc["baseline_model"] == "constant").all()
    assert (spline_qc["baseline_model"] == "spline").all()
    assert forced.max() > 2 * diff.max()
    # the same baseline's share either way (a flat background is what both can be)
    assert spline_qc["baseline_fraction"].mean() == pytest.approx(
        old_qc["baseline_fraction"].mean(), rel=0.01)


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


# --- the grid fit on tailing peaks -------------------------------------------------------------
SERIES_TIMES = np.arange(0.0, 60.0 + 1e-9, 2.0)  # t_max needs the hour, not six spectra
QUARTER = 10.0**0.25
TRUTH = CONFIG["virtual_experiment"]["rate_constants"]
SUB_GRID = {  # the paper's quarter-decade grid, 2 steps either side of the truth
    "k_dim": {"min": 1e-2 / QUARTER**2, "max": 1e-2 * QUARTER**2, "n": 5},
    "k_diss": {"min": 10**-1.25 / QUARTER**2, "max": 10**-1.25 * QUARTER**2, "n": 5},
    "k_ex": {"min": 10**-1.5 / QUARTER**2, "max": 10**-1.5 * QUARTER**2, "n": 5},
}


def _best_grid_point(chunk, tmax_settings, intensities, system):
    exp_tmax = experimental_tmax(intensities, system.observables(), tmax_settings)
    best = fit.ranked(fit.chi2_table({SAMPLE: (chunk, exp_tmax)})).iloc[0]
    ex_steps = np.log10(best["k_ex"] / TRUTH["k_ex"]) / 0.25
    ratio_steps = (np.log10(best["k_dim"] / best["k_diss"])
                   - np.log10(TRUTH["k_dim"] / TRUTH["k_diss"])) / 0.25  # fmt: skip
    return best, ex_steps, ratio_steps


def test_grid_fit_of_tailing_peaks_recovers_the_truth(tmp_path):
    """tau = 1.5 sd, sparse, a spectrum every 2 min: the EMG reading's tail within 15 % and
    the grid fit's best point is the truth's (k_ex and k_dim:k_diss within half a grid step).

    Control: the Gaussian reading of the same file. On these data its best grid point is
    the truth as well (a tail under-reads the monomers by a similar factor at every time,
    which moves their t_max little; the foreign run of the issue missed), so what shows it
    worse here is the t_max misfit: its chi2 at the best point is more than twice the EMG's
    (measured 19.7 vs 4.5), beside its L1 (test_tailing_peaks_fitted)."""
    case = _virtual(tmp_path, "tail_series", SPARSE, times=SERIES_TIMES, peak_tail_sd=1.5)
    system = case["system_file"].cluster_system()
    tmax_settings = TmaxSettings.from_config(CONFIG["fit"]["tmax"])
    cond = fit.Conditions.from_dict({**CONFIG["virtual_experiment"]["samples"][SAMPLE],
                                     "dead_time_s": 20.0})  # fmt: skip
    network = fit.network_for(3, cluster_of(CONFIG), CONFIG["kinetics"])
    chunk = fit.run_chunk(network, fit.grid_points(SUB_GRID), cond, SERIES_TIMES,
                          system.observables()["species"].tolist(), tmax_settings,
                          options=fit.simulator_options(CONFIG["kinetics"]))  # fmt: skip
    results = {}
    for shape in ("auto", "gaussian"):
        intensities, qc, _ = _deconvolve(case, peak_shape=shape)
        best, ex, ratio = _best_grid_point(chunk, tmax_settings, intensities, system)
        results[shape] = (qc, best, ex, ratio)
        print(f"{shape}: tail {qc['peak_tail'].iloc[0]:.3f}, mean L1 "
              f"{_l1(intensities, case['vs']).mean():.4f}; best k_dim {best['k_dim']:.3g}, "
              f"k_diss {best['k_diss']:.3g}, k_ex {best['k_ex']:.3g}, chi2 {best['chi2']:.3g}; "
              f"k_ex {ex:+.2f} steps, k_dim:k_diss {ratio:+.2f} steps")  # fmt: skip
    qc, best, ex, ratio = results["auto"]
    assert (qc["peak_shape"] == "emg").all()
    assert qc["peak_tail"].iloc[0] == pytest.approx(1.5, rel=TAIL_TOL)
    assert abs(ex) < 0.5 and abs(ratio) < 0.5  # the truth's grid point
    gaussian_best = results["gaussian"][1]
    assert gaussian_best["chi2"] > 2.0 * best["chi2"]


def _centroid_case(run, tmp_path, mode):
    """The run's spectra as a centroid file of ``mode`` (areas or heights)."""
    ve = CONFIG["virtual_experiment"]
    path = tmp_path / f"{mode}_{run['path'].stem}.mzML"
    write_mzml(path, exported_spectra(run["vs"].ms1, {"mode": mode}, ve["resolving_power"]),
               resolving_power=ve["resolving_power"], centroided=True)  # fmt: skip
    case = {**run, "run": read_spectra(path), "path": path}
    assert case["run"].mode == "centroid"
    return case


def _absent(intensities, vs) -> float:
    """The largest per-spectrum sum of normalised signal on observables whose truth is
    below 0.05 % (signal on absent ions)."""
    truth = vs.observables.pivot(index="time_min", columns="species", values="intensity_norm")
    est = intensities.pivot(index="time_min", columns="species", values="intensity_norm")
    return float(est[truth.columns].fillna(0.0).where(truth < 5e-4, 0.0).sum(axis=1).max())


def test_area_centroids_say_shape_and_baseline_are_not_modelled(background_run, tmp_path,
                                                                caplog):  # fmt: skip
    """Area centroids of the background + tail run: fitted as sticks, qc.tsv and run.json
    say ``-`` for the peak shape and the baseline (an integrating centroider subtracts the
    background). Under the shipped ``auto`` settings that is said once at INFO, not as a
    warning; asked for explicitly (``peak_shape: emg``, ``baseline: spline``) it is one
    WARNING. Control: the profile file of the same run is modelled (EMG, spline)."""
    import logging

    case = _centroid_case(background_run, tmp_path, "centroid")
    with caplog.at_level(logging.INFO, logger="intercluster.deconvolution"):
        intensities, qc, _ = _deconvolve(case)
    said = [r for r in caplog.records if "centroid file: peak_shape: auto, baseline: auto"
            in r.getMessage()]  # fmt: skip
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert (qc["peak_shape"] == dec.STICK_MODEL).all() and (qc["peak_tail"] == 0).all()
    assert (qc["baseline_model"] == dec.STICK_MODEL).all()
    record = fw._spectrum_model(qc)
    assert record["peak_shape"] == "-" and record["baseline_model"] == "-"
    totals = intensities.groupby("time_min")["intensity_norm"].sum()
    assert np.allclose(totals, 1.0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="intercluster.deconvolution"):
        _deconvolve(case, peak_shape="emg", baseline="spline")
    warned = [r for r in caplog.records if "centroid file: peak_shape: emg, baseline: spline"
              in r.getMessage()]  # fmt: skip
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    profile_qc = background_run["fit"][1]
    assert (profile_qc["peak_shape"] == "emg").all()
    assert (profile_qc["baseline_model"] == "spline").all()


def test_height_centroids_under_a_background_get_a_smooth_pedestal(runs, background_run,
                                                                   tmp_path):  # fmt: skip
    """Height centroids (a vendor picker: one stick per local maximum, its height) of the
    background + tail run: every height under the hump is lifted by the background and the
    hump's noise maxima become sticks. With the shipped ``baseline: auto`` the heights'
    pedestal is smooth in m/z (qc.tsv ``spline``, its share reported) and L1 stays within
    1 % of the height centroids of the flat run, the signal on absent ions no higher than
    there + 0.5 %; on the flat run ``auto`` keeps one common height. Negative control:
    ``baseline: constant`` (one height) under the hump exceeds the margin (measured: L1
    5.3 % smooth, 9.4 % constant, 4.5 % flat)."""
    flat = _centroid_case(runs["flat"], tmp_path, "centroid_height")
    hump = _centroid_case(background_run, tmp_path, "centroid_height")
    flat_int, flat_qc, _ = _deconvolve(flat)
    smooth_int, smooth_qc, _ = _deconvolve(hump)
    one_int, _, _ = _deconvolve(hump, baseline="constant")
    vs_flat, vs_hump = runs["flat"]["vs"], background_run["vs"]
    l1 = {k: _l1(i, v).mean() for k, i, v in (("flat", flat_int, vs_flat),
                                               ("smooth", smooth_int, vs_hump),
                                               ("one", one_int, vs_hump))}  # fmt: skip
    absent = {k: _absent(i, v) for k, i, v in (("flat", flat_int, vs_flat),
                                               ("smooth", smooth_int, vs_hump),
                                               ("one", one_int, vs_hump))}  # fmt: skip
    print(f"height centroids: L1 {l1}, absent {absent}, pedestal share "
          f"{smooth_qc['baseline_fraction'].median():.3f}")
    assert (smooth_qc["centroid_intensity"] == "height").all()
    assert (smooth_qc["baseline_model"] == "spline").all()
    assert (smooth_qc["baseline_fraction"] > 0).all()
    assert (flat_qc["baseline_model"] == "constant").all()
    assert l1["smooth"] <= l1["flat"] + L1_MARGIN
    assert absent["smooth"] <= absent["flat"] + 0.005
    assert l1["one"] > l1["flat"] + L1_MARGIN  # the negative control


# --- a tail linear in m/z ---------------------------------------------------------------------
SLOPED_TAIL = 1.0  # tau / sigma at the scan window's centre (m/z 6300) ...
TAIL_SLOPE = 0.4  # ... changing by this part per 1000 Th: 0.55 sd at m/z 5170, 1.44 at 7400
TAIL_SLOPE_TOL = 0.1  # per 1000 Th


def test_tail_linear_in_mz(runs, tail_run, tmp_path):
    """A tail of 1.0 sd at the centre growing by 40 % per 1000 Th, sparse: with
    ``tail_model: linear`` the tail within 15 %, its slope within 0.1 per 1000 Th (qc.tsv and
    run.json), and L1 within 1 % of the Gaussian run. Controls: on the constant tail of
    tau = 1.5 sd the fitted slope stays within 0.05 of 0 (the slope invents nothing); one
    tail for the sloped file (``tail_model: constant``) reads it at 12.1 % mean L1 (measured).

    One R per file (``resolving_power_model: constant``): with R linear in m/z as well, a
    tail growing with m/z partly trades with a falling R (measured: slope 0.27, R's slope
    -0.033 per 1000 Th; L1 2.8 %, one tail 8.9 %). Measured here: tail 0.95, slope 0.42,
    L1 2.35 % (Gaussian run 2.11 %); the constant tail's slope -0.005."""
    case = _virtual(tmp_path, "tail_slope", SPARSE, peak_tail_sd=SLOPED_TAIL,
                    peak_tail_slope=TAIL_SLOPE)  # fmt: skip
    one_r = {"resolving_power_model": "constant"}
    intensities, qc, _ = _deconvolve(case, tail_model="linear", **one_r)
    l1 = _l1(intensities, case["vs"])
    flat_l1 = _l1(runs["flat_fit"][0], runs["flat"]["vs"])
    tail, slope = qc["peak_tail"].iloc[0], qc["peak_tail_slope"].iloc[0]
    print(f"sloped tail: fitted {tail:.3f} sd at m/z {qc['resolving_power_mz_ref'].iloc[0]:.0f},"
          f" slope {slope:+.3f} per 1000 Th; mean L1 {l1.mean():.4f} (Gaussian run "
          f"{flat_l1.mean():.4f})")  # fmt: skip
    assert (qc["peak_shape"] == "emg").all()
    assert tail == pytest.approx(SLOPED_TAIL, rel=TAIL_TOL)
    assert abs(slope - TAIL_SLOPE) < TAIL_SLOPE_TOL
    assert l1.mean() <= flat_l1.mean() + L1_MARGIN
    assert fw._spectrum_model(qc)["peak_tail_slope"] == pytest.approx(slope)
    # the control: a constant tail gets no slope
    _, constant_qc, _ = _deconvolve(tail_run, tail_model="linear", **one_r)
    constant_slope = constant_qc["peak_tail_slope"].iloc[0]
    print(f"constant tail 1.5: fitted {constant_qc['peak_tail'].iloc[0]:.3f}, slope "
          f"{constant_slope:+.3f} per 1000 Th")  # fmt: skip
    assert abs(constant_slope) < 0.05
    assert constant_qc["peak_tail"].iloc[0] == pytest.approx(1.5, rel=TAIL_TOL)


def test_solve_fallback_for_an_indefinite_gram_matrix_agrees_with_lapack():
    """_spd_solve falls back to the kernel's own LU with partial pivoting (not numba's LAPACK
    binding, slow to compile) when Cholesky fails: same solution as np.linalg.solve, and a
    singular matrix still raises."""
    rng = np.random.default_rng(7)
    for n in (1, 4, 25):
        a = rng.normal(size=(n, n))
        a = a + a.T - 3.0 * n * np.eye(n)  # symmetric, negative definite: Cholesky fails
        b = rng.normal(size=n)
        assert not kern._cholesky(a)[1]
        expected = np.linalg.solve(a, b)
        np.testing.assert_allclose(kern._spd_solve(a, b), expected, rtol=1e-10, atol=1e-12)
    pivot_needed = np.array([[0.0, 2.0], [3.0, 1.0]])  # zero first pivot without a row swap
    np.testing.assert_allclose(kern._lu_solve(pivot_needed, np.array([4.0, 5.0])),
                               np.linalg.solve(pivot_needed, [4.0, 5.0]), rtol=1e-14)  # fmt: skip
    with pytest.raises(np.linalg.LinAlgError):
        kern._lu_solve(np.zeros((2, 2)), np.ones(2))
