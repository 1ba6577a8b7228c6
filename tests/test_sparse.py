"""Sparse profile spectra (points below a threshold left out, as exporters write them).

The 40:40 sample of the SYNTHETIC virtual experiment (one spectrum per minute) is written
once dense and once sparse at 1 % and, separately, 2 % of each spectrum's base peak, read
back and deconvolved. The sparse files must give the dense file's intensities; the same
sparse spectra fitted with their gaps left unconstrained (the former behaviour,
``gaps="ignore"``) must not, so the test can fail. The rate constants of a grid fit of the
sparse sample must match those of the dense one.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import cluster_of

from intercluster import fit
from intercluster.deconvolution import (
    deconvolve_cid_run,
    deconvolve_run,
    deconvolve_spectra,
    intensities_table,
    prepare_spectrum,
)
from intercluster.ingest import bin_spectra, read_spectra
from intercluster.isotopes import point_grid
from intercluster.observables import TmaxSettings, experiment_times, experimental_tmax
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import monomer_mz_span, observable_basis
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, sparse_profile, write_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
# The model these tests were written for: one resolving power per file, no robust pass.
DEC = replace(DeconvolutionSettings.from_config(CONFIG["deconvolution"]),
              resolving_power_model="constant", robust=False)  # fmt: skip
SAMPLE = "ag40_au40"
ABSENT = 1e-4  # truth normalised intensity below which an ion counts as absent
L1_MAX = 0.02
ABSENT_MAX = 0.005


@pytest.fixture(scope="module")
def virtual(tmp_path_factory):
    system = ClusterSystem.from_config(cluster_of(CONFIG))
    ve = CONFIG["virtual_experiment"]
    times = np.arange(0.0, 60.0 + 1e-9, 1.0)
    vs = simulate_sample(system, ve, SAMPLE, CONFIG["kinetics"]["convention"], times_min=times)
    return {"system": system, "ve": ve, "vs": vs, "dir": tmp_path_factory.mktemp("sparse")}


def _write_and_read(virtual, tag, spectra):
    out = virtual["dir"]
    paths = {
        k: out / f"{tag}_{k}.{'mzML' if 'mzml' in k else 'tsv'}"
        for k in ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")
    }
    ve = virtual["ve"]
    write_sample(virtual["vs"], **paths, resolving_power=ve["resolving_power"], sample=SAMPLE,
                 spectra=spectra)  # fmt: skip
    basis = observable_basis(virtual["system"])
    return paths["mzml"], read_spectra(paths["mzml"], mz_required=basis.mz_span), paths


def _deconvolve(virtual, run, settings=DEC):
    intensities, qc, _ = deconvolve_run(run, virtual["system"], settings)
    return intensities, qc


def _wide(table):
    return table.pivot(index="time_min", columns="species", values="intensity_norm")


@pytest.fixture(scope="module")
def dense(virtual):
    path, run, _ = _write_and_read(virtual, "dense", None)
    intensities, qc = _deconvolve(virtual, run)
    return {"path": path, "run": run, "intensities": intensities, "qc": qc}


@pytest.fixture(scope="module", params=[0.01, 0.02], ids=["1pct", "2pct"])
def sparse(request, virtual):
    threshold = request.param
    spectra = {"mode": "sparse", "threshold_rel": threshold}
    path, run, paths = _write_and_read(virtual, f"sparse{threshold:g}", spectra)
    intensities, qc = _deconvolve(virtual, run)
    return {"threshold": threshold, "path": path, "run": run, "intensities": intensities,
            "qc": qc, "cid_path": paths["cid_mzml"]}  # fmt: skip


def _errors(estimate, dense, truth):
    """Mean L1 against the dense file's intensities, and the largest absent-ion intensity."""
    est = _wide(estimate)
    ref = _wide(dense)[est.columns]
    true = _wide(truth)[est.columns]
    l1 = (est - ref).abs().sum(axis=1)
    absent = est.where(true < ABSENT).max().max()
    return float(l1.mean()), float(l1.max()), float(np.nan_to_num(absent))


def test_sparse_files_leave_points_out_and_state_the_scan_window(virtual, dense, sparse):
    dense_points = sum(m.size for m in dense["run"].mz)
    sparse_points = sum(m.size for m in sparse["run"].mz)
    assert sparse_points < 0.3 * dense_points
    for y, full in zip(sparse["run"].intensity, virtual["vs"].ms1, strict=True):
        assert y.min() >= sparse["threshold"] * full["intensity"].max()
    text = sparse["path"].read_bytes()
    assert b"SYNTHETIC" in text[:6000]
    assert b'name="scan window lower limit" value="5000' in text
    assert b'name="scan window upper limit" value="7600' in text


def test_dense_spectra_are_fitted_as_before(dense):
    qc = dense["qc"]
    assert (qc["mode"] == "dense").all() and np.allclose(qc["coverage"], 1.0)
    assert (qc["detection_level"] == 0).all()
    assert (qc["n_points"] == dense["run"].mz[0].size).all()
    mz, y = dense["run"].mz[0], dense["run"].intensity[0]
    prepared = prepare_spectrum(mz, y, (5000.0, 7600.0))
    assert prepared.mz is mz and prepared.y is y and prepared.censored is None


def test_qc_reports_coverage_and_detection_level(virtual, sparse):
    qc, run = sparse["qc"], sparse["run"]
    assert (qc["mode"] == "sparse").all()
    # Coverage: the written points' share of the scan window (the file's, or the data range).
    windows = getattr(run, "scan_windows", None) or [None] * len(run)
    span = np.array(
        [(w[1] - w[0]) if w else m[-1] - m[0] for w, m in zip(windows, run.mz, strict=True)]
    )
    expected = np.array([m.size for m in run.mz]) / 16.0 / span
    assert np.allclose(qc["coverage"], expected, rtol=0.02)
    assert (qc["coverage"] < 0.75).all()
    assert (qc["n_points"].to_numpy() == [m.size for m in run.mz]).all()
    base = np.array([s["intensity"].max() for s in virtual["vs"].ms1])
    level = qc["detection_level"].to_numpy() / (sparse["threshold"] * base)
    print(f"detection level / (threshold x base peak): {level.min():.3f}..{level.max():.3f}")
    assert ((level >= 1.0) & (level < 1.2)).all()


def test_sparse_deconvolves_like_dense(virtual, dense, sparse):
    l1, worst, absent = _errors(
        sparse["intensities"], dense["intensities"], virtual["vs"].observables
    )
    print(f"sparse {100 * sparse['threshold']:g} %: mean L1 vs dense {l1:.4f} (max {worst:.4f}), "
          f"largest absent ion {absent:.4f}")  # fmt: skip
    assert l1 < L1_MAX
    assert absent < ABSENT_MAX


def test_negative_control_gaps_left_unconstrained_fail(virtual, dense, sparse):
    """The same sparse spectra fitted on the written points only reproduce the failure."""
    intensities, _ = _deconvolve(virtual, sparse["run"], replace(DEC, gaps="ignore"))
    l1, worst, absent = _errors(intensities, dense["intensities"], virtual["vs"].observables)
    print(f"gaps ignored, sparse {100 * sparse['threshold']:g} %: mean L1 vs dense {l1:.4f} "
          f"(max {worst:.4f}), largest absent ion {absent:.4f}")  # fmt: skip
    assert l1 > L1_MAX or absent > ABSENT_MAX


def test_scan_window_stated_by_the_file_is_used(virtual, dense, sparse):
    """With the written scan window (5000-7600) the edges outside the data are censored too."""
    run = sparse["run"]
    basis = observable_basis(virtual["system"])
    window = tuple(CONFIG["virtual_experiment"]["mz_range"])
    fits = deconvolve_spectra(run.mz, run.intensity, basis, DEC, windows=[window] * len(run))
    table = intensities_table(run.times_min, fits, basis)
    l1, _, absent = _errors(table, dense["intensities"], virtual["vs"].observables)
    coverage = np.array([f.coverage for f in fits])
    expected = np.array([m.size for m in run.mz]) / 16.0 / (window[1] - window[0])
    print(f"sparse {100 * sparse['threshold']:g} %, scan window given: L1 {l1:.4f}, "
          f"absent {absent:.4f}, coverage {coverage.min():.3f}..{coverage.max():.3f}")  # fmt: skip
    assert np.allclose(coverage, expected, rtol=0.02)
    assert l1 < L1_MAX and absent < ABSENT_MAX


def test_time_bins_of_sparse_spectra(virtual, dense, sparse):
    """Binned sparse spectra (2 min bins, summed by area) deconvolve like binned dense ones."""
    binned = {}
    for name, run in (("dense", dense["run"]), ("sparse", sparse["run"])):
        merged = bin_spectra(run, 2.0)
        binned[name] = _deconvolve(virtual, merged)[0]
        totals = [float(y.sum()) for y in merged.intensity]
        assert sum(totals) == pytest.approx(sum(float(y.sum()) for y in run.intensity), rel=1e-9)
    est, ref = _wide(binned["sparse"]), _wide(binned["dense"])
    l1 = (est - ref[est.columns]).abs().sum(axis=1)
    print(f"sparse {100 * sparse['threshold']:g} %, 2 min bins: L1 vs dense bins {l1.mean():.4f}")
    assert l1.mean() < L1_MAX


def test_sparse_cid_fragment_distributions(virtual, sparse):
    system = virtual["system"]
    run = read_spectra(sparse["cid_path"], ms_level=2, mz_required=monomer_mz_span(system))
    assert sum(m.size for m in run.mz) < 0.3 * len(run) * virtual["vs"].cid[0]["mz"].size
    cid = deconvolve_cid_run(run, system, CONFIG["virtual_experiment"]["resolving_power"], DEC)
    est = cid.pivot(index="time_min", columns="n_first", values="fraction")
    truth = virtual["vs"].cid_truth.pivot(index="time_min", columns="n_first", values="fraction")
    error = (est - truth[est.columns]).abs().to_numpy().max()
    print(f"sparse {100 * sparse['threshold']:g} %: CID fraction error max {100 * error:.2f} pp")
    assert error < 0.01


def test_native_spacing_found_locally_on_a_tof_grid():
    """A TOF grid (step ~ sqrt(m/z)) with points left out: gaps filled on the local step."""
    root = np.arange(np.sqrt(5000.0), np.sqrt(7600.0), 1e-4)
    mz = root**2  # step 0.0141 Th at m/z 5000, 0.0174 Th at 7600
    keep = np.zeros(mz.size, bool)
    for centre in (5003.0, 5500.0, 6280.0, 7590.0):
        keep |= np.abs(mz - centre) < 0.3
    grid = point_grid(mz[keep])
    assert grid.gap.sum() == 3
    native = np.diff(mz)
    inside = np.flatnonzero(keep[:-1] & keep[1:])
    assert np.allclose(grid.step[np.searchsorted(mz[keep], mz[inside])], native[inside],
                       rtol=1e-3)  # fmt: skip
    y = np.ones(keep.sum())
    prepared = prepare_spectrum(mz[keep], y, (5000.0, 7600.0))
    assert prepared.mode == "sparse" and prepared.censored.sum() == prepared.mz.size - y.size
    # The left-out points of the native grid are back (the step taken linear across a gap of
    # up to 1300 Th, where a TOF's grows as sqrt(m/z): 0.1 % more points).
    assert prepared.mz.size == pytest.approx(mz.size, rel=1e-3)
    assert np.allclose(np.diff(prepared.mz), np.interp(prepared.mz[1:], mz[1:], native),
                       rtol=0.02)  # fmt: skip
    covered = np.gradient(mz)[keep].sum() / 2600.0  # the kept points' share of the window
    assert prepared.coverage == pytest.approx(covered, rel=0.01)


def test_flanking_zeros_are_censored_too():
    mz = np.arange(5000.0, 5010.0, 1 / 16)
    y = np.where(np.abs(mz - 5005.0) < 0.5, 100.0, 1.0)
    out_mz, out_y = sparse_profile(mz, y, 0.05, keep_flanking_zeros=True)
    assert out_y[0] == 0.0 and out_y[-1] == 0.0 and (out_y[1:-1] == 100.0).all()
    prepared = prepare_spectrum(out_mz, out_y, (mz[0], mz[-1]))
    assert prepared.mz.size == mz.size
    assert prepared.censored.sum() == mz.size - (out_y > 0).sum()
    assert prepared.detection_level == 100.0


# --- fit recovery ----------------------------------------------------------------------------
QUARTER = 10.0**0.25
TRUTH = CONFIG["virtual_experiment"]["rate_constants"]
SUB_GRID = {  # the paper's quarter-decade grid, 2 steps either side of the truth
    "k_dim": {"min": 1e-2 / QUARTER**2, "max": 1e-2 * QUARTER**2, "n": 5},
    "k_diss": {"min": 10**-1.25 / QUARTER**2, "max": 10**-1.25 * QUARTER**2, "n": 5},
    "k_ex": {"min": 10**-1.5 / QUARTER**2, "max": 10**-1.5 * QUARTER**2, "n": 5},
}


@pytest.fixture(scope="module")
def grid_simulation(virtual, dense):
    settings = TmaxSettings.from_config(CONFIG["fit"]["tmax"])
    times = experiment_times(dense["intensities"])
    cond = fit.Conditions.from_dict(
        {**CONFIG["virtual_experiment"]["samples"][SAMPLE], "dead_time_s": 20.0}
    )
    network = fit.network_for(3, cluster_of(CONFIG), CONFIG["kinetics"])
    species = virtual["system"].observables()["species"].tolist()
    chunk = fit.run_chunk(network, fit.grid_points(SUB_GRID), cond, times, species, settings,
                          options=fit.simulator_options(CONFIG["kinetics"]))  # fmt: skip
    return chunk, settings


def _best(chunk, settings, intensities, system):
    exp_tmax = experimental_tmax(intensities, system.observables(), settings)
    chi2 = fit.chi2_table({SAMPLE: (chunk, exp_tmax)})
    return fit.ranked(chi2).iloc[0]


def test_grid_fit_of_sparse_sample_recovers_the_truth(virtual, dense, sparse, grid_simulation):
    chunk, settings = grid_simulation
    steps = {}
    for name, table in (("dense", dense["intensities"]), ("sparse", sparse["intensities"])):
        best = _best(chunk, settings, table, virtual["system"])
        ratio = np.log10(best["k_dim"] / best["k_diss"]) - np.log10(
            TRUTH["k_dim"] / TRUTH["k_diss"]
        )
        steps[name] = (np.log10(best["k_ex"] / TRUTH["k_ex"]) / 0.25, ratio / 0.25)
        ex, ratio = steps[name]
        print(f"{name} (threshold {sparse['threshold']:g}): best k_dim {best['k_dim']:.3g}, "
              f"k_diss {best['k_diss']:.3g}, k_ex {best['k_ex']:.3g}, chi2 {best['chi2']:.3g}; "
              f"k_ex {ex:+.2f} steps, k_dim:k_diss {ratio:+.2f} steps")  # fmt: skip
    for name, (ex_steps, ratio_steps) in steps.items():
        assert abs(ex_steps) < 0.5, name  # the grid value nearest the truth's k_ex
        assert abs(ratio_steps) < 1.5, name  # within one grid step


@pytest.fixture(scope="module")
def centroid(virtual):
    """The same sample written as centroid spectra by the virtual experiment."""
    path, run, _ = _write_and_read(virtual, "centroid", {"mode": "centroid"})
    assert run.mode == "centroid"
    intensities, qc = _deconvolve(virtual, run)
    return {"path": path, "run": run, "intensities": intensities, "qc": qc}


def test_grid_fit_of_centroid_sample_recovers_the_truth(virtual, dense, centroid, grid_simulation):
    chunk, settings = grid_simulation
    l1 = _errors(centroid["intensities"], dense["intensities"], virtual["vs"].observables)[0]
    best = _best(chunk, settings, centroid["intensities"], virtual["system"])
    ex = np.log10(best["k_ex"] / TRUTH["k_ex"]) / 0.25
    ratio = (np.log10(best["k_dim"] / best["k_diss"])
             - np.log10(TRUTH["k_dim"] / TRUTH["k_diss"])) / 0.25  # fmt: skip
    print(f"centroid: mean L1 vs dense {l1:.4f}; best k_dim {best['k_dim']:.3g}, k_diss "
          f"{best['k_diss']:.3g}, k_ex {best['k_ex']:.3g}, chi2 {best['chi2']:.3g}; k_ex "
          f"{ex:+.2f} steps, k_dim:k_diss {ratio:+.2f} steps")  # fmt: skip
    assert l1 < 0.02
    assert abs(ex) < 0.5 and abs(ratio) < 1.5


def test_qc_figure_never_joins_data_across_a_gap(virtual, sparse):
    """The QC figure of a sparse spectrum: data drawn only where written, gaps shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from intercluster import figures
    from intercluster.deconvolution import baseline_spacing, fit_prepared
    from intercluster.spectrum_model import fitted_spectrum

    run, qc = sparse["run"], sparse["qc"]
    k = int(np.argmax(qc["residual_norm"].to_numpy()))
    # the refit uses the acquired window the deconvolution used (the file states it)
    window = run.scan_windows[k] if run.scan_windows else None
    spectrum = prepare_spectrum(run.mz[k], run.intensity[k], window)
    basis = observable_basis(virtual["system"])
    row = qc.iloc[k]
    # with the run's spectrum model (its peak tail and baseline, qc.tsv)
    spacing = baseline_spacing(basis) if row["baseline_model"] == "spline" else 0.0
    fit = fit_prepared(spectrum, basis, row["resolving_power"], row["shift_ppm"],
                       tail=row["peak_tail"], baseline_spacing=spacing)  # fmt: skip
    # the same fit: the run moved its columns from a neighbour's shift to first order
    # (deconvolution.REBUILD_PPM, error < 1e-3), the refit builds them at the shift itself
    assert fit.residual_norm == pytest.approx(row["residual_norm"], rel=2e-3)
    model, species = fitted_spectrum(spectrum.mz, fit, basis, width=spectrum.width)
    # The model is what the fit saw: below the detection level wherever no point was written.
    gap = ~spectrum.written
    excess = np.maximum(model[gap] - spectrum.detection_level, 0.0)
    assert np.sqrt(np.square(excess).sum()) < 0.05 * np.sqrt(np.square(spectrum.y).sum())
    sticks = species[species["abundance"] > 0].rename(columns={"peak_height": "intensity"})
    fig = figures.figure_deconvolution_qc(
        spectrum.mz, spectrum.y, model, sticks, "QC", None, True, virtual["system"],
        measured=spectrum.written, detection_level=spectrum.detection_level,
    )  # fmt: skip
    ax = fig.axes[0]
    data_line = next(line for line in ax.get_lines() if line.get_label().startswith("data"))
    drawn = np.asarray(data_line.get_ydata(), float)
    assert np.array_equal(np.isfinite(drawn), spectrum.written)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("detection level") for label in labels)
    assert any("no data point" in str(c.get_label()) for c in ax.collections)
    figures.plt.close(fig)


def test_sparse_tof_spectrum_fitted_like_its_dense_original(virtual):
    """Not the virtual experiment's grid: a TOF grid (step ~ sqrt(m/z), 0.009-0.011 Th),
    one noisy spectrum of the 20 min truth, fitted dense and with points below 2 % left out."""
    from intercluster.deconvolution import fit_prepared
    from intercluster.isotopes import render_profile, system_patterns

    system = virtual["system"]
    truth = _wide(virtual["vs"].observables).loc[20.0]
    labels = system.observables()["species"]
    abundance = 5e6 * truth[labels].to_numpy()
    mz = np.arange(np.sqrt(5000.0), np.sqrt(7600.0), 6.5e-5) ** 2
    expected = render_profile(mz, system_patterns(system), abundance, 25000, 3.0)
    rng = np.random.default_rng(11)
    background = 0.003 * expected.max()  # as the virtual experiment: 3 sds of baseline noise
    noise = rng.normal(background, background / 3.0, mz.size)
    y = np.rint(rng.poisson(expected) + noise).clip(0.0)
    basis = observable_basis(system)
    window = (5000.0, 7600.0)
    dense_fit = fit_prepared(prepare_spectrum(mz, y, window), basis, 25000, 0.0)
    keep = y >= 0.02 * y.max()
    results = {}
    for gaps in ("censor", "ignore"):
        spectrum = prepare_spectrum(mz[keep], y[keep], window, gaps)
        results[gaps] = fit_prepared(spectrum, basis, 25000, dense_fit.shift_ppm)
    assert spectrum.mode == "sparse" and spectrum.coverage < 0.5
    ref = dense_fit.coef / dense_fit.coef.sum()
    l1 = {g: float(np.abs(f.coef / f.coef.sum() - ref).sum()) for g, f in results.items()}
    absent = truth[labels].to_numpy() < ABSENT
    worst = {g: float((f.coef / f.coef.sum())[absent].max(initial=0.0)) for g, f in results.items()}
    print(f"TOF grid, 2 %: L1 vs dense censor {l1['censor']:.4f}, ignore {l1['ignore']:.4f}; "
          f"absent ions censor {worst['censor']:.4f}, ignore {worst['ignore']:.4f}")  # fmt: skip
    assert l1["censor"] < L1_MAX and worst["censor"] < ABSENT_MAX
    assert l1["ignore"] > L1_MAX or worst["ignore"] > ABSENT_MAX


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("virtual_experiment", "spectra", {"mode": "sparce"}, "virtual_experiment.spectra.mode"),
        ("virtual_experiment", "spectra", {"threshold_rel": 1.5}, "threshold_rel"),
        ("deconvolution", "gaps", "fill", "deconvolution.gaps"),
    ],
)
def test_bad_output_mode_or_gap_treatment_is_one_line(section, key, value, expected):
    import copy

    from intercluster.errors import InputError
    from intercluster.validation import validate_config

    config = copy.deepcopy(CONFIG)
    validate_config(config)
    config[section][key] = value
    with pytest.raises(InputError) as error:
        validate_config(config)
    message = str(error.value)
    print(message)
    assert expected in message and "\n" not in message
