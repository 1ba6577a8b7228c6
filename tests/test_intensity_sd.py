"""The deconvolution's standard errors (intensities.tsv ``intensity_sd``, the PEtab noise).

Replicas of one SYNTHETIC spectrum (the virtual experiment's 40:40 sample at 6 min, its
shot and baseline noise drawn again for each replica) are deconvolved at the known R: the
scatter of each ion's fitted intensity over the replicas must match the standard error the
fit reports (:func:`intercluster.deconvolution.coefficient_sd`) for every ion above 1 % of
the signal. Measured: the reported sd is about 1.2-1.3 x the scatter (median over the ions;
the noise model s0 + c m also counts the patterns' small misfit on large peaks as noise),
so the bounds are 0.8-1.6 (median) and 0.6-2.2 (every ion). Negative control: the replicas
of the same spectrum at a quarter of the ions (twice the shot noise) scatter more than the
first replicas' reported sd allows. The same replicas centroided (peak areas,
:func:`intercluster.centroid.pick_peaks`) and fitted as sticks, whose weights are relative
and scaled by the weighted residual variance: measured median 1.25, every ion 0.55-1.78
(the picker's own noise on weak peaks), so every ion's bound is 0.45-2.2 there; the
control is the profile case's.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from intercluster import deconvolution as dec
from intercluster.centroid import pick_peaks
from intercluster.isotopes import system_patterns
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system
from intercluster.virtual_experiment import (
    _flatten,
    expected_counts,
    mz_grid,
    noisy_spectrum,
    simulate_sample,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
N_REPLICAS = 24
MEDIAN_RATIO = (0.8, 1.6)
EVERY_RATIO = {False: (0.6, 2.2), True: (0.45, 2.2)}  # by centroided


@pytest.fixture(scope="module")
def spectrum():
    system = load_system(ROOT / "resources" / "systems" / "ag25_au25.yaml").cluster_system()
    ve = dict(CONFIG["virtual_experiment"], cid={})
    vs = simulate_sample(system, ve, "ag40_au40", times_min=np.array([0.0, 3.0, 6.0]))
    at = vs.observables[vs.observables["time_min"] == 6.0].set_index("species")
    shares = at.loc[system.observables()["species"], "intensity_norm"].to_numpy(float)
    grid = mz_grid(ve["mz_range"])
    flat = _flatten(list(system_patterns(system)))
    r = float(ve["resolving_power"])
    return system, ve, shares, grid, flat, r


def _replicas(spectrum, ions: float, seed: int, centroided: bool = False):
    """(fitted intensities, reported sds) of the replicas, each (replicas x ions)."""
    system, ve, shares, grid, flat, r = spectrum
    expected = expected_counts(grid, flat, shares * ions, r, 0.0)
    baseline_sd = float(ve["noise"]["baseline_rel"]) * expected.max()
    rng = np.random.default_rng(seed)
    spectra = [noisy_spectrum(rng, expected, baseline_sd) for _ in range(N_REPLICAS)]
    settings = DeconvolutionSettings.from_config(CONFIG["deconvolution"])
    mz = [grid] * N_REPLICAS
    if centroided:
        mz, spectra = zip(*(pick_peaks(grid, y, r) for y in spectra), strict=True)
    fits = dec.deconvolve_spectra(list(mz), list(spectra), dec.observable_basis(system),
                                  settings, resolving_power=r, centroided=centroided)  # fmt: skip
    return np.array([f.coef for f in fits]), dec.coefficient_sd_matrix(fits, len(shares))


@pytest.mark.parametrize("centroided", [False, True], ids=["profile", "sticks"])
def test_reported_sd_matches_the_scatter_over_replicas(spectrum, centroided):
    shares = spectrum[2]
    ions = float(spectrum[1]["noise"]["ions_per_spectrum"])
    big = shares > 0.01
    assert big.sum() > 20  # monomers and dimers: a real test
    coef, sd = _replicas(spectrum, ions, seed=1, centroided=centroided)
    assert np.isfinite(sd).all() and (sd > 0).all()
    scatter = coef.std(axis=0, ddof=1)[big]
    ratio = np.median(sd, axis=0)[big] / scatter
    print(f"reported sd / scatter over {N_REPLICAS} replicas, {big.sum()} ions: median "
          f"{np.median(ratio):.3f}, {ratio.min():.3f}-{ratio.max():.3f}")
    assert MEDIAN_RATIO[0] < np.median(ratio) < MEDIAN_RATIO[1]
    assert EVERY_RATIO[centroided][0] < ratio.min() and ratio.max() < EVERY_RATIO[centroided][1]
    if centroided:
        return
    # negative control: twice the shot noise scatters beyond the sd reported above, in
    # ion units (a quarter of the ions: the intensities are scaled back by 4)
    noisier, _ = _replicas(spectrum, ions / 4.0, seed=2, centroided=centroided)
    control = np.median(sd, axis=0)[big] / (4.0 * noisier.std(axis=0, ddof=1)[big])
    print(f"control (a quarter of the ions): median {np.median(control):.3f}")
    assert not MEDIAN_RATIO[0] < np.median(control) < MEDIAN_RATIO[1]


def test_inverse_diagonal_kernel():
    """The numba Cholesky's diagonal of the inverse against numpy's inverse; an indefinite
    matrix (the control) gives NaN, which sends the caller to the pseudo-inverse."""
    from intercluster._deconv_kernels import spd_inverse_diagonal

    rng = np.random.default_rng(0)
    for n in (1, 7, 120):
        a = rng.standard_normal((n + 3, n))
        a = a.T @ a + 0.1 * np.eye(n)
        np.testing.assert_allclose(spd_inverse_diagonal(a), np.diag(np.linalg.inv(a)),
                                   rtol=1e-10)  # fmt: skip
    assert np.isnan(spd_inverse_diagonal(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()
