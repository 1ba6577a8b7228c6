"""Isotope patterns: the paper's average m/z (docs/science.md §1), electrons, nominal centroids."""

import IsoSpecPy
import numpy as np
import pytest

from intercluster.isotopes import (
    ELECTRON_MASS,
    average_mz,
    isotope_pattern,
    point_spacing,
    render_profile,
    system_patterns,
)
from intercluster.system import ClusterSystem

SYSTEM = ClusterSystem()

# (Ag atoms, subunits, the paper's average m/z)
PAPER_MZ = [
    (25, 1, 5167),  # [Ag25]-
    (0, 1, 7394),  # [Au25]-
    (25, 2, 6280),  # [Ag25Au25]2-
    (13, 1, 6236),  # [Ag13Au12]-
    (12, 1, 6325),  # [Ag12Au13]-
    (27, 2, 6191),  # [Ag27Au23]2-
    (23, 2, 6370),  # [Ag23Au27]2-
]


@pytest.mark.parametrize(("n_first", "subunits", "expected"), PAPER_MZ)
def test_average_mz_matches_paper(n_first, subunits, expected):
    charge = SYSTEM.monomer_charge if subunits == 1 else SYSTEM.dimer_charge
    formula = SYSTEM.elemental_formula(n_first, subunits)
    assert average_mz(formula, charge) == pytest.approx(expected, abs=0.5)
    # the nominal-peak pattern keeps the average
    assert isotope_pattern(formula, charge).average_mz == pytest.approx(expected, abs=0.5)


def test_electron_mass_is_added_for_anions():
    formula = SYSTEM.elemental_formula(25, 2)
    neutral = IsoSpecPy.IsoTotalProb(formula="Ag25Au25C288H324S36", prob_to_cover=0.99999)
    m = np.array(list(neutral.masses))
    p = np.array(list(neutral.probs))
    neutral_avg = np.dot(m, p) / p.sum()
    assert average_mz(formula, -2) == pytest.approx((neutral_avg + 2 * ELECTRON_MASS) / 2, abs=1e-6)
    assert average_mz(formula, -2) - neutral_avg / 2 == pytest.approx(ELECTRON_MASS, rel=1e-3)


def test_nominal_peaks_are_centroids_spaced_by_one_over_z():
    for n_first, subunits in ((25, 1), (13, 1), (25, 2)):
        z = 1 if subunits == 1 else 2
        pattern = isotope_pattern(SYSTEM.elemental_formula(n_first, subunits), -z)
        assert pattern.prob.sum() == pytest.approx(1.0)
        spacing = np.diff(pattern.mz) * z
        # ~1 Da apart (mass defects of 109Ag/13C/34S differ by a few mDa), never binned
        assert np.all(np.abs(spacing - 1.0) < 0.01)
        assert np.all(np.diff(pattern.mz) > 0)


def test_centroids_beat_binned_peaks():
    """IsoSpecPy's binned peaks sit at bin centres; the centroids are the exact means."""
    formula = SYSTEM.elemental_formula(25, 1)
    pattern = isotope_pattern(formula, -1)
    fine = IsoSpecPy.IsoTotalProb(formula="Ag25C144H162S18", prob_to_cover=0.99999)
    m = np.array(list(fine.masses))
    p = np.array(list(fine.probs))
    top = pattern.most_abundant_mz
    near = np.abs((m + ELECTRON_MASS) - top) < 0.3
    exact = np.dot(m[near] + ELECTRON_MASS, p[near]) / p[near].sum()
    assert abs(exact - top) / top * 1e6 < 0.1  # ppm


def test_system_patterns_follow_the_observables():
    patterns = system_patterns(SYSTEM)
    obs = SYSTEM.observables()
    assert len(patterns) == len(obs) == 77
    assert {p.charge for p in patterns[:26]} == {-1}
    assert {p.charge for p in patterns[26:]} == {-2}


def test_render_profile_counts_ions_and_resolving_power():
    pattern = isotope_pattern(SYSTEM.elemental_formula(25, 1), -1)
    mz = np.arange(5100, 5250, 2.0**-6)
    y = render_profile(mz, [pattern], [1000.0], 25000)
    assert y.sum() == pytest.approx(1000.0, rel=1e-3)
    # a single peak's FWHM is m/z / R
    single = render_profile(mz, [type(pattern)(np.array([5200.0]), np.array([1.0]), -1)], [1.0],
                            25000)  # fmt: skip
    half = mz[single >= single.max() / 2]
    assert half[-1] - half[0] == pytest.approx(5200 / 25000, abs=2 * 2.0**-6)
    assert point_spacing(mz) == pytest.approx(np.full(mz.size, 2.0**-6))
