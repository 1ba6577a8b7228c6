"""Centroided spectra: peak picking, the stick fit, and centroid mzML through the pipeline.

Three independent sources of peak lists: rendered Gaussian peaks of known area and position
(``isotopes.render_profile``); sticks made directly from the truth of a SYNTHETIC virtual
experiment (each nominal isotope peak of each species, area = ions x probability with
Poisson noise, m/z jittered), which do not pass through ``pick_peaks``; and the virtual
experiment's profile spectra centroided by ``pick_peaks``, written as centroid mzML and read
back. Negative controls show the checks can fail: the same sticks without the measured
zeros, and sticks fitted as if they were a profile spectrum.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import cluster_of

from intercluster.centroid import (
    fit_sticks,
    fitted_sticks,
    noise_level,
    pick_peaks,
    stick_design,
)
from intercluster.deconvolution import (
    INTENSITY_COLUMNS,
    QC_COLUMNS,
    deconvolve_cid_run,
    deconvolve_run,
    deconvolve_spectra,
    fit_spectrum,
)
from intercluster.ingest import read_spectra
from intercluster.isotopes import FWHM_TO_SIGMA, IsotopePattern, render_profile, system_patterns
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import monomer_mz_span, observable_basis
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import mz_grid, simulate_sample, write_mzml, write_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
VE = CONFIG["virtual_experiment"]
# The model these tests were written for: one resolving power per file, no robust pass.
DEC = replace(DeconvolutionSettings.from_config(CONFIG["deconvolution"]),
              resolving_power_model="constant", robust=False)  # fmt: skip
R = float(VE["resolving_power"])
SAMPLE = "ag40_au40"
ABSENT = 1e-5  # a truth share below this counts as absent


def _peak(mz, prob=None):
    mz = np.atleast_1d(np.asarray(mz, float))
    prob = np.full(mz.size, 1.0 / mz.size) if prob is None else np.asarray(prob, float)
    return IsotopePattern(mz, prob, -1)


def _l1(fitted, truth):
    """Per-spectrum L1 distance of normalised intensities (rows: spectra)."""
    fitted = fitted / fitted.sum(axis=1, keepdims=True)
    truth = truth / truth.sum(axis=1, keepdims=True)
    return np.abs(fitted - truth).sum(axis=1)


# --- peak picking on rendered peaks ----------------------------------------------------------
@pytest.mark.parametrize("offset", [0.0, 0.011, 0.023, 0.037, 0.05])
def test_pick_peaks_gaussian_area_and_position(offset):
    """One Gaussian of 1e5 ions anywhere between grid points: its centroid and its area."""
    grid = mz_grid((5990.0, 6010.0))
    centre = 6000.0 + offset
    y = render_profile(grid, [_peak(centre)], [1e5], R)
    mz, area = pick_peaks(grid, y, R)
    assert mz.size == 1
    assert abs(mz[0] / centre - 1) < 0.05e-6
    assert area[0] == pytest.approx(1e5, rel=2e-3)
    # The area is a sum of counts per point, not the height: a coarser grid keeps it.
    coarse = grid[::2]
    mz2, area2 = pick_peaks(coarse, render_profile(coarse, [_peak(centre)], [1e5], R), R)
    assert area2[0] == pytest.approx(1e5, rel=5e-3)
    assert y.max() < 0.3 * area[0]


@pytest.mark.parametrize("offset", [0.0, 0.02, 0.045])
def test_pick_peaks_two_peaks_half_a_th_apart_are_resolved(offset):
    """m/z ~6000, 0.5 Th apart (a dimer's half-integer spacing) at R = 25,000: two sticks."""
    grid = mz_grid((5990.0, 6010.0))
    centres = np.array([6000.0, 6000.5]) + offset
    y = render_profile(grid, [_peak(centres, [0.75, 0.25])], [2e5], R)
    mz, area = pick_peaks(grid, y, R)
    assert mz.size == 2
    np.testing.assert_allclose(mz / centres - 1, 0.0, atol=0.05e-6)
    np.testing.assert_allclose(area, [1.5e5, 0.5e5], rtol=2e-3)


def test_pick_peaks_on_noise():
    """Baseline noise: its level and sd are estimated; no peak beyond 5 sd; a real one is found."""
    rng = np.random.default_rng(7)
    grid = mz_grid((5000.0, 7500.0))
    sd, level = 10.0, 30.0
    noise = rng.normal(level, sd, grid.size)
    baseline, sd_est = noise_level(noise)
    assert baseline == pytest.approx(level, abs=0.1 * sd)
    assert sd_est == pytest.approx(sd, rel=0.05)
    assert pick_peaks(grid, noise, R, min_snr=5.0)[0].size == 0
    # At 3 sd, false peaks are rare (a few per 10,000 points) and small.
    mz3, area3 = pick_peaks(grid, noise, R)
    assert mz3.size < 2e-3 * grid.size
    # A weak peak, 15 noise sds high, on the same noise: found where it is, with its area.
    centre = 6123.4
    sigma = centre / R * FWHM_TO_SIGMA
    ions = 15 * sd * sigma * np.sqrt(2 * np.pi) / (grid[1] - grid[0])  # 15 sd high
    y = noise + render_profile(grid, [_peak(centre)], [ions], R)
    mz, area = pick_peaks(grid, y, R, min_snr=5.0)
    assert mz.size == 1
    assert abs(mz[0] - centre) < 0.1 * centre / R  # a tenth of the FWHM
    assert area[0] == pytest.approx(ions, rel=0.1)


# --- stick fit on sticks made from the truth (no pick_peaks) --------------------------------
@pytest.fixture(scope="module")
def system():
    return ClusterSystem.from_config(cluster_of(CONFIG))


@pytest.fixture(scope="module")
def basis(system):
    return observable_basis(system)


@pytest.fixture(scope="module")
def virtual(system):
    times = np.arange(0.0, 61.0, 2.0)
    return simulate_sample(system, VE, SAMPLE, CONFIG["kinetics"]["convention"], times_min=times)


@pytest.fixture(scope="module")
def truth(virtual, basis):
    wide = virtual.observables.pivot(index="time_min", columns="species", values="intensity_norm")
    return wide[basis.labels["species"]].to_numpy()


def truth_sticks(rng, basis, abundance, shift_ppm, jitter_ppm=3.0, min_area=30.0, n_noise=0):
    """Every nominal isotope peak of every species: Poisson area, jittered m/z, detection cut.

    ``n_noise`` false sticks at detection level anywhere in m/z 5000-7600, as a centroider
    writes from baseline noise.
    """
    col = np.repeat(np.arange(basis.n_cols), np.diff(basis.col_ptr))
    area = rng.poisson(np.asarray(abundance)[col] * basis.peak_prob).astype(float)
    mz = basis.peak_mz * (1 + 1e-6 * (shift_ppm + rng.normal(0.0, jitter_ppm, area.size)))
    keep = area >= min_area
    mz = np.concatenate([mz[keep], rng.uniform(5000.0, 7600.0, n_noise)])
    area = np.concatenate([area[keep], rng.uniform(min_area, 5 * min_area, n_noise)])
    order = np.argsort(mz)
    return mz[order], area[order]


@pytest.fixture(scope="module")
def truth_stick_lists(virtual, truth, basis):
    rng = np.random.default_rng(11)
    ions = virtual.scans["ions"].to_numpy()
    shifts = virtual.scans["shift_ppm"].to_numpy()
    return [truth_sticks(rng, basis, ions[i] * truth[i], shifts[i], n_noise=200)
            for i in range(len(truth))]  # fmt: skip


def test_stick_fit_recovers_truth_sticks(truth_stick_lists, truth, basis, virtual):
    design = stick_design(basis, R)
    fits = [fit_sticks(mz, a, basis, R, design=design) for mz, a in truth_stick_lists]
    coef = np.array([f.coef for f in fits])
    l1 = _l1(coef, truth)
    assert l1.mean() < 0.01 and l1.max() < 0.02, l1
    absent = truth < ABSENT
    assert absent.any()
    norm = coef / coef.sum(axis=1, keepdims=True)
    assert norm[absent].max() < 0.005
    shift_error = np.array([f.shift_ppm for f in fits]) - virtual.scans["shift_ppm"].to_numpy()
    assert np.abs(shift_error).max() < 1.0
    # Abundances are ion counts (the sticks' areas), as in the profile fit.
    ions = virtual.scans["ions"].to_numpy()
    np.testing.assert_allclose(coef.sum(axis=1) / ions, 1.0, atol=0.02)
    assert all(f.baseline == 0.0 and f.resolving_power == R for f in fits)
    # Window by window (the QC view): the fit follows the summed sticks; only some of the
    # noise sticks fall outside every window.
    mz, a = truth_stick_lists[15]
    windows = fitted_sticks(mz, a, fits[15], basis)
    strong = windows["observed"] > 0.05 * windows["observed"].max()
    np.testing.assert_allclose(windows["fitted"][strong], windows["observed"][strong], rtol=0.1)
    unmatched = a.sum() - windows["observed"].sum()
    assert 0 < unmatched < 0.01 * a.sum()

    # Negative control 1: no measured zeros where a predicted peak has no stick.
    loose = [fit_sticks(mz, a, basis, R, design=design, zero_unsupported=False)
             for mz, a in truth_stick_lists]  # fmt: skip
    loose_coef = np.array([f.coef for f in loose])
    loose_norm = loose_coef / loose_coef.sum(axis=1, keepdims=True)
    assert _l1(loose_coef, truth).mean() > 3 * l1.mean()
    assert loose_norm[absent].max() > 0.05
    # Negative control 2: the sticks fitted as if they were a profile spectrum.
    as_profile = [fit_spectrum(mz, a, basis, R, fits[i].shift_ppm).coef
                  for i, (mz, a) in enumerate(truth_stick_lists[::5])]  # fmt: skip
    assert _l1(np.array(as_profile), truth[::5]).mean() > 0.1


@pytest.mark.parametrize("factor", [1 / 1.6, 1.6])
def test_stick_fit_tolerates_a_wrong_resolving_power(truth_stick_lists, truth, basis, factor):
    """A peak list keeps no shape to fit R from: the guess only sets the windows."""
    r = R * factor
    design = stick_design(basis, r)
    coef = np.array([fit_sticks(mz, a, basis, r, design=design).coef
                     for mz, a in truth_stick_lists[::3]])  # fmt: skip
    assert _l1(coef, truth[::3]).mean() < 0.01


@pytest.mark.parametrize("resolving_power", [R, 10000.0])
def test_half_integer_peaks_tell_monomer_from_dimer(system, basis, resolving_power):
    """[Ag12Au13]- and [Ag24Au26]2- share every integer m/z: the half-integer peaks decide.

    Also at a low resolving power, where half a FWHM would reach the neighbouring peak.
    """
    labels = basis.labels
    mono = int(labels.index[(labels["kind"] == "monomer") & (labels["n_first"] == 12)][0])
    dimer = int(labels.index[(labels["kind"] == "dimer") & (labels["n_first"] == 24)][0])
    patterns = system_patterns(system)
    assert patterns[mono].average_mz == pytest.approx(patterns[dimer].average_mz, abs=0.05)
    rng = np.random.default_rng(3)
    design = stick_design(basis, resolving_power)
    for share in (1.0, 0.7, 0.3, 0.0):
        abundance = np.zeros(basis.n_cols)
        abundance[mono], abundance[dimer] = 1e6 * share, 1e6 * (1 - share)
        mz, area = truth_sticks(rng, basis, abundance, 2.0, n_noise=50)
        fit = fit_sticks(mz, area, basis, resolving_power, design=design)
        assert fit.coef[mono] / fit.coef.sum() == pytest.approx(share, abs=0.01)
        assert fit.coef[dimer] / fit.coef.sum() == pytest.approx(1 - share, abs=0.01)


# --- centroid mzML through ingestion and deconvolve_run --------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory, virtual, system, basis):
    out = tmp_path_factory.mktemp("centroid")
    dense_path = write_mzml(out / "dense.mzML", virtual.ms1, resolving_power=R)
    # The virtual experiment's own centroid output (config virtual_experiment.spectra):
    # pick_peaks on every profile spectrum, written as centroid mzML (MS and CID).
    keys = ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")
    paths = {key: out / f"{key}.{'mzML' if 'mzml' in key else 'tsv'}" for key in keys}
    write_sample(virtual, **paths, resolving_power=R, sample=SAMPLE, spectra={"mode": "centroid"})
    centroid_path, cid_path = paths["mzml"], paths["cid_mzml"]
    dense = read_spectra(dense_path, mz_required=basis.mz_span)
    centroid = read_spectra(centroid_path, mz_required=basis.mz_span)
    cid = read_spectra(cid_path, ms_level=2, mz_required=monomer_mz_span(system))
    return {
        "dense": dense,
        "centroid": centroid,
        "cid": cid,
        "dense_fit": deconvolve_run(dense, system, DEC),
        "centroid_fit": deconvolve_run(centroid, system, DEC),
    }


def _wide(intensities, basis, column="intensity"):
    wide = intensities.pivot(index="time_min", columns="species", values=column)
    return wide[basis.labels["species"]].to_numpy()


def test_centroid_file_is_read_as_centroid(runs):
    assert runs["centroid"].mode == "centroid"
    assert runs["cid"].mode == "centroid"
    assert runs["dense"].mode == "profile"
    assert b"centroid spectrum" in Path(runs["centroid"].path).read_bytes()[:20000]


def test_centroid_run_deconvolves_like_the_dense_profile(runs, basis, truth, virtual):
    intensities, qc, r = runs["centroid_fit"]
    dense_intensities, dense_qc, _ = runs["dense_fit"]
    # Same tables as for profile spectra.
    assert list(intensities.columns) == INTENSITY_COLUMNS
    assert list(qc.columns) == QC_COLUMNS
    assert len(intensities) == len(dense_intensities) and len(qc) == len(dense_qc)
    assert (qc["baseline"] == 0).all()
    # A peak list keeps no peak shape: the resolving power used is the configured guess.
    assert (qc["resolving_power"] == DEC.resolving_power_guess).all()
    assert r == DEC.resolving_power_guess
    assert qc["residual_norm"].between(0, 0.05).all()
    np.testing.assert_allclose(qc["total_intensity"], _wide(intensities, basis).sum(axis=1))

    centroid = _wide(intensities, basis)
    dense = _wide(dense_intensities, basis)
    print(f"centroid vs dense: mean L1 {_l1(centroid, dense).mean():.4f}; vs truth "
          f"{_l1(centroid, truth).mean():.4f} (dense vs truth {_l1(dense, truth).mean():.4f})")
    assert _l1(centroid, dense).mean() < 0.02
    assert _l1(centroid, truth).mean() < 0.02
    norm = centroid / centroid.sum(axis=1, keepdims=True)
    absent = truth < ABSENT
    assert absent.any() and norm[absent].max() < 0.005
    shift_error = qc["shift_ppm"].to_numpy() - virtual.scans["shift_ppm"].to_numpy()
    assert np.abs(shift_error).max() < 1.0

    # Negative controls: the same peak lists without the measured zeros, and fitted as
    # profiles (what happened before), fail.
    run = runs["centroid"]
    design = stick_design(basis, R)
    loose = np.array([fit_sticks(mz, a, basis, R, design=design, zero_unsupported=False).coef
                      for mz, a in zip(run.mz, run.intensity, strict=True)])  # fmt: skip
    assert _l1(loose, truth).max() > 0.2
    assert (loose / loose.sum(axis=1, keepdims=True))[absent].max() > 0.05
    pick = slice(None, None, 6)
    as_profile = deconvolve_spectra(run.mz[pick], run.intensity[pick], basis, DEC,
                                    resolving_power=R)  # fmt: skip
    assert _l1(np.array([f.coef for f in as_profile]), truth[pick]).mean() > 0.1


def test_centroid_cid_fragment_fractions(runs, system, virtual):
    cid = deconvolve_cid_run(runs["cid"], system, R, DEC)
    truth = virtual.cid_truth
    merged = cid.merge(truth, on=["time_min", "n_first"], suffixes=("", "_truth"))
    assert len(merged) == len(truth) > 0
    error = (merged["fraction"] - merged["fraction_truth"]).abs()
    per_time = error.groupby(merged["time_min"]).sum()
    assert per_time.max() < 0.03, per_time


def test_empty_and_noise_only_peak_lists(basis):
    """No sticks: nothing is fitted; noise sticks only: no species takes a real share."""
    empty = fit_sticks(np.zeros(0), np.zeros(0), basis, R, shift0=3.0)
    assert (empty.coef == 0).all() and np.isnan(empty.residual_norm)
    rng = np.random.default_rng(5)
    mz = np.sort(rng.uniform(5000.0, 7600.0, 300))
    area = rng.uniform(30.0, 150.0, mz.size)
    noise = fit_sticks(mz, area, basis, R)
    assert noise.coef.sum() < 0.2 * area.sum()
    assert noise.residual_norm > 0.9
    # Negative control: without the measured zeros, the few noise sticks that fall into a
    # species' windows carry its whole pattern, many times the noise's total area.
    loose = fit_sticks(mz, area, basis, R, zero_unsupported=False)
    assert loose.coef.sum() > area.sum()


def test_stick_qc_figure_shows_every_fitted_window(runs, basis):
    """The deconvolution QC of a centroid run: observed vs fitted area per window, zeros marked."""
    from intercluster import figures

    run, qc = runs["centroid"], runs["centroid_fit"][1]
    k = int(np.argmax(qc["residual_norm"].to_numpy()))
    fit = fit_sticks(run.mz[k], run.intensity[k], basis, R, float(qc["shift_ppm"].iloc[k]))
    assert fit.residual_norm == pytest.approx(float(qc["residual_norm"].iloc[k]), rel=1e-6)
    table = fitted_sticks(run.mz[k], run.intensity[k], fit, basis)
    fig = figures.figure_stick_qc(table, "QC", (6275.0, 6285.0), True)
    full = fig.axes[0]
    stems, fitted, zeros = full.collections[0], full.lines[0], full.lines[1]
    assert len(stems.get_segments()) == len(table)
    assert len(fitted.get_xdata()) == len(table)
    assert len(zeros.get_xdata()) == int((table["observed"] == 0).sum()) > 0


# --- the detection floor of the stick fit ---------------------------------------------------
def _stick_list(basis, coef, integer_gain_of=None, gain=1.0, threshold_rel=0.01):
    """Sticks of the basis's nominal peaks (area = coef x probability); the integer peaks of
    column ``integer_gain_of`` (those a monomer of half its composition shares) x ``gain``."""
    mz, area = [], []
    for k in np.flatnonzero(coef):
        lo, hi = basis.col_ptr[k], basis.col_ptr[k + 1]
        a = coef[k] * basis.peak_prob[lo:hi]
        if k == integer_gain_of:
            whole = np.abs(basis.peak_mz[lo:hi] - np.round(basis.peak_mz[lo:hi])) < 0.25
            a = np.where(whole, gain * a, a)
        mz.append(basis.peak_mz[lo:hi])
        area.append(a)
    mz, area = np.concatenate(mz), np.concatenate(area)
    keep = area >= threshold_rel * area.max()
    order = np.argsort(mz[keep])
    return mz[keep][order], area[keep][order]


def _monomer_and_its_dimer(basis):
    labels = basis.labels
    dimer = int(np.flatnonzero((labels["kind"] == "dimer") & (labels["charge"] == -2)
                               & (labels["n_first"] == 24))[0])  # fmt: skip
    monomer = int(np.flatnonzero((labels["kind"] == "monomer") & (labels["n_first"] == 12))[0])
    return monomer, dimer


def test_an_absent_monomer_under_its_dimer_stays_absent(basis, monkeypatch):
    """A monomer's peaks coincide with the integer peaks of the dimer of twice its
    composition. With the dimer present and its integer peaks 20 % high (a response or
    pattern misfit), the absent monomer would take that excess; the detection floor
    (a stick window it must hold a share of) reads it 0. Control: a monomer that is
    present at 60 % of the dimer keeps its signal. Negative control: without the share rule
    the absent monomer takes signal."""
    import intercluster.centroid as centroid

    monomer, dimer = _monomer_and_its_dimer(basis)
    np.testing.assert_allclose(basis.average_mz[monomer], basis.average_mz[dimer], rtol=1e-4)
    reference = int(np.flatnonzero(basis.labels["kind"] == "monomer")[0])  # a strong reactant
    coef = np.zeros(basis.n_cols)
    coef[[reference, dimer]] = [1e6, 2e5]
    mz, area = _stick_list(basis, coef, integer_gain_of=dimer, gain=1.2)
    fit = fit_sticks(mz, area, basis, R)
    assert fit.coef[monomer] == 0.0
    assert fit.coef[dimer] == pytest.approx(2e5, rel=0.25)

    present = coef.copy()
    present[monomer] = 1.2e5
    mz_p, area_p = _stick_list(basis, present, integer_gain_of=dimer, gain=1.2)
    kept = fit_sticks(mz_p, area_p, basis, R).coef
    assert kept[monomer] == pytest.approx(1.2e5, rel=0.35)

    monkeypatch.setattr(centroid, "STICK_OWN_SHARE", 0.0)
    assert fit_sticks(mz, area, basis, R).coef[monomer] > 0.02 * 2e5
