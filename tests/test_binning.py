"""Time bins keep every count: area-preserving rebinning of spectra on different grids.

The spectra are made here from an analytic density (Gaussian peaks on a flat background,
counts per point = density x the point's m/z interval), on grids the workflow never writes:
a uniform grid, a TOF-like grid whose step grows as sqrt(m/z), and sparse copies of both
with the points below a threshold left out.
"""

import numpy as np
import pytest

from intercluster.ingest import SpectraRun, bin_spectra, rebin_sum

PEAKS = [(5012.3, 40.0), (5030.0, 100.0), (5031.0, 60.0), (5071.7, 25.0)]  # (m/z, height)
SIGMA = 0.09  # Th


def _density(mz):
    out = np.full(mz.shape, 0.4)
    for centre, height in PEAKS:
        out += height * np.exp(-0.5 * ((mz - centre) / SIGMA) ** 2)
    return out


def uniform_grid(step=1 / 16, lo=5000.0, hi=5100.0):
    return np.arange(lo, hi + 1e-9, step)


def tof_grid(step_at_lo=1 / 12, lo=5000.3, hi=5099.7):
    """Equal steps in sqrt(m/z), as a TOF digitiser samples: the m/z step grows with m/z."""
    root = np.arange(np.sqrt(lo), np.sqrt(hi), step_at_lo / (2 * np.sqrt(lo)))
    return root**2


def counts_on(mz, rng, scale=1.0):
    width = np.gradient(mz)
    return rng.poisson(scale * _density(mz) * width * 50).astype(float)


def sparse(mz, y, threshold_rel):
    keep = y >= threshold_rel * y.max()
    return mz[keep], y[keep]


def _run(mz_list, y_list, times, mode="profile"):
    n = len(mz_list)
    ids = [f"scan={k + 1}" for k in range(n)]
    return SpectraRun("memory.mzML", 1, np.asarray(times, float), ids, np.arange(n),
                      list(mz_list), list(y_list), [None] * n, True, mode)  # fmt: skip


@pytest.fixture(scope="module")
def members():
    """Five spectra of one time bin on five different grids (two of them sparse)."""
    rng = np.random.default_rng(7)
    grids = [uniform_grid(), tof_grid(), uniform_grid(1 / 20, 5000.05), tof_grid(1 / 14, 5001.1)]
    spectra = [(g, counts_on(g, rng)) for g in grids]
    spectra.append(sparse(*spectra[0], 0.02))
    spectra.append(sparse(*spectra[1], 0.05))
    return spectra


def test_total_is_kept_on_different_uneven_and_sparse_grids(members):
    mz, y = rebin_sum([m for m, _ in members], [i for _, i in members])
    expected = sum(float(i.sum()) for _, i in members)
    print(f"binned total / members' total = {y.sum() / expected:.15f}")
    assert y.sum() == pytest.approx(expected, rel=1e-9)
    assert np.all(np.diff(mz) > 0) and np.all(y >= 0)
    # Peaks stay where they are: the binned centroid of each peak is the members' one.
    for centre, _ in PEAKS[:2]:
        near = np.abs(mz - centre) < 0.4
        assert np.average(mz[near], weights=y[near]) == pytest.approx(centre, abs=0.01)


def test_bin_spectra_sums_members_and_keeps_totals(members):
    run = _run([m for m, _ in members], [i for _, i in members], [0.0, 0.2, 0.4, 0.6, 0.8, 0.9])
    binned = bin_spectra(run, 1.0)
    assert len(binned) == 1
    assert binned.times_min[0] == pytest.approx(np.mean(run.times_min))
    assert binned.native_ids[0] == ";".join(run.native_ids)
    total = sum(float(y.sum()) for y in run.intensity)
    assert binned.intensity[0].sum() == pytest.approx(total, rel=1e-9)


def test_identical_members_give_their_sum_on_their_own_grid():
    rng = np.random.default_rng(3)
    for grid in (uniform_grid(), tof_grid()):
        ys = [counts_on(grid, rng) for _ in range(4)]
        mz, y = rebin_sum([grid] * 4, ys)
        assert np.array_equal(mz, grid)
        assert np.allclose(y, np.sum(ys, axis=0), rtol=1e-12, atol=0)
    # Sparse members with the same islands: same points, same sums.
    base = tof_grid()
    y0 = counts_on(base, rng)
    keep = y0 >= 0.03 * y0.max()
    ys = [counts_on(base, rng)[keep] for _ in range(3)]
    mz, y = rebin_sum([base[keep]] * 3, ys)
    assert np.array_equal(mz, base[keep])
    assert np.allclose(y, np.sum(ys, axis=0), rtol=1e-12, atol=0)


def test_gaps_stay_gaps(members):
    sparse_members = members[4:]
    mz, y = rebin_sum([m for m, _ in sparse_members], [i for _, i in sparse_members])
    # Between the peaks at 5012.3 and 5030 nothing reaches the thresholds: no point there.
    assert not np.any((mz > 5014.0) & (mz < 5028.0))
    assert mz.size < 0.3 * members[0][0].size


def test_centroided_members_are_concatenated_in_mz_order():
    a = (np.array([5000.0, 5010.0, 5020.0]), np.array([1.0, 2.0, 3.0]))
    b = (np.array([5005.0, 5010.0004, 5030.0]), np.array([4.0, 5.0, 6.0]))
    binned = bin_spectra(_run([a[0], b[0]], [a[1], b[1]], [0.0, 0.5], mode="centroid"), 1.0)
    assert np.array_equal(binned.mz[0], [5000.0, 5005.0, 5010.0, 5010.0004, 5020.0, 5030.0])
    assert np.array_equal(binned.intensity[0], [1.0, 4.0, 2.0, 5.0, 3.0, 6.0])


def _interpolating_bin(mz_list, y_list):
    """The former binning: the members interpolated onto the first grid and averaged."""
    grid = mz_list[0]
    acc = np.zeros_like(grid)
    for mz, y in zip(mz_list, y_list, strict=True):
        acc += np.interp(grid, mz, y, left=0.0, right=0.0)
    return grid, acc / len(mz_list)


def test_negative_control_interpolation_does_not_keep_intensity(members):
    """The former binning fails the same check (so the conservation test can fail)."""
    # Dense members on different grids, the first the finest (as when a bin starts with a
    # spectrum of a denser grid): counts per point do not interpolate between grids.
    chosen = [members[2], members[1], members[3]]
    _, y = _interpolating_bin([m for m, _ in chosen], [i for _, i in chosen])
    mean_total = np.mean([float(i.sum()) for _, i in chosen])
    ratio = y.sum() / mean_total
    print(f"interpolating bin, dense grids: total / members' mean total = {ratio:.3f}")
    assert ratio > 1.1
    mz, y = rebin_sum([m for m, _ in chosen], [i for _, i in chosen])
    assert y.sum() / len(chosen) == pytest.approx(mean_total, rel=1e-9)
    # With a sparse member, interpolation also fills its gaps.
    chosen = [members[0], members[4]]
    _, y = _interpolating_bin([m for m, _ in chosen], [i for _, i in chosen])
    ratio = y.sum() / np.mean([float(i.sum()) for _, i in chosen])
    print(f"interpolating bin, with a sparse member: {ratio:.3f}")
    assert abs(ratio - 1.0) > 0.1
