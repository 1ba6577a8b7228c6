"""t_max rule (intercluster.observables): peaks, monotone species, noise, exclusion."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from intercluster.observables import (
    PeakFinder,
    TmaxSettings,
    experimental_tmax,
    normalise_rows,
    tmax_of,
)
from intercluster.system import DEFAULT_SYSTEM

T = np.arange(0.0, 60.0 + 1e-9, 0.5)


def gauss(t, centre, width, height=1.0):
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def test_normalise_rows_sums_to_one_and_keeps_zero_rows():
    y = np.array([[1.0, 3.0], [0.0, 0.0]])
    out = normalise_rows(y)
    assert out[0].tolist() == [0.25, 0.75]
    assert out[1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("centre", [3.3, 12.8, 27.1, 41.6])
def test_peak_position_between_samples(centre):
    y = gauss(T, centre, 6.0)[:, None]
    t_max, peak = tmax_of(T, y, smoothing_min=2.0, normalise=False)
    assert abs(t_max[0] - centre) < 0.05
    assert peak[0] == pytest.approx(1.0, abs=0.02)


def test_monotone_species_decay_gives_zero_rise_gives_end():
    """The vertex rule (plateau_rel 0): a decay peaks at the first spectrum, a rise at the
    last."""
    decay = np.exp(-T / 5.0)
    rise = 1 - np.exp(-T / 15.0)
    t_max, _ = tmax_of(T, np.column_stack([decay, rise]), normalise=False, plateau_rel=0.0)
    assert t_max[0] == 0.0
    assert t_max[1] == T[-1]


def test_centre_of_the_top_of_monotone_species():
    """The default rule: the centre of the run within p of the maximum, from the record's
    end to the crossing of the (1 - p) level (solved analytically here)."""
    p = TmaxSettings.schema_default().plateau_rel
    assert p > 0
    decay = np.exp(-T / 5.0)
    rise = 1 - np.exp(-T / 15.0)
    t_max, _ = tmax_of(T, np.column_stack([decay, rise]), normalise=False)
    assert t_max[0] == pytest.approx(0.5 * 5.0 * np.log(1 / (1 - p)), abs=0.02)
    top = rise[-1]
    crossing = -15.0 * np.log(1 - (1 - p) * top)
    assert t_max[1] == pytest.approx(0.5 * (crossing + T[-1]), abs=0.05)
    # the vertex rule's plateau time is far from it: the test could fail
    assert abs(T[-1] - t_max[1]) > 5.0


@pytest.mark.parametrize("plateau_rel", [0.0, 0.02, 0.05])
def test_symmetric_peak_centre_is_its_vertex(plateau_rel):
    y = gauss(T, 23.37, 5.0)[:, None]
    t_max, _ = tmax_of(T, y, smoothing_min=2.0, normalise=False, plateau_rel=plateau_rel)
    assert abs(t_max[0] - 23.37) < 0.01


def test_centre_of_a_noisy_plateau_is_determined_the_vertex_is_not():
    """A broad top within 0.3 % of its peak for ~20 min and 0.1 % noise: over 40 noise
    realisations the centre of the top moves by well under one scan interval (0.5 min),
    the vertex by several minutes (the reason for the rule)."""
    rng = np.random.default_rng(11)
    clean = 0.05 * (1 - np.exp(-T / 4.0)) * np.exp(-np.maximum(T - 45.0, 0.0) ** 2 / 200.0)
    centre, vertex = [], []
    for _ in range(40):
        noisy = clean + 5e-5 * rng.standard_normal(T.size)
        centre.append(tmax_of(T, noisy[:, None], normalise=False)[0][0])
        vertex.append(tmax_of(T, noisy[:, None], normalise=False, plateau_rel=0.0)[0][0])
    truth = tmax_of(T, clean[:, None], normalise=False)[0][0]
    assert np.max(np.abs(np.array(centre) - truth)) < 0.5
    assert np.std(vertex) > 4 * np.std(centre)
    assert np.max(vertex) - np.min(vertex) > 3.0


def test_plateau_rel_must_stay_below_the_near_equal_tolerance():
    y = gauss(T, 10.0, 3.0)[:, None]
    with pytest.raises(ValueError, match="plateau_rel"):
        tmax_of(T, y, normalise=False, tolerance_rel=0.1, plateau_rel=0.1)
    with pytest.raises(ValueError, match="plateau_rel"):
        tmax_of(T, y, normalise=False, plateau_rel=-0.01)


def test_same_rule_without_smoothing():
    y = gauss(T, 10.2, 4.0)[:, None]
    t_max, _ = tmax_of(T, y, smoothing_min=0.0, normalise=False)
    assert abs(t_max[0] - 10.2) < 0.05


def test_robust_to_noise():
    rng = np.random.default_rng(3)
    clean = gauss(T, 17.0, 7.0, 0.05)
    errors = []
    for _ in range(50):
        noisy = clean * (1 + 0.03 * rng.standard_normal(T.size)) + 1e-3 * rng.standard_normal(
            T.size
        )
        errors.append(tmax_of(T, noisy[:, None], normalise=False)[0][0] - 17.0)
    raw_errors = []
    for _ in range(50):
        noisy = clean * (1 + 0.03 * rng.standard_normal(T.size)) + 1e-3 * rng.standard_normal(
            T.size
        )
        raw_errors.append(tmax_of(T, noisy[:, None], 0.0, normalise=False)[0][0] - 17.0)
    assert np.sqrt(np.mean(np.square(errors))) < 1.5
    assert np.sqrt(np.mean(np.square(errors))) < np.sqrt(np.mean(np.square(raw_errors)))


def test_near_equal_maxima_take_the_earlier_prominent_one():
    # early peak, a dip, then a rise to a plateau 2 % higher: the early peak counts
    y = gauss(T, 2.0, 1.5, 1.0) + 1.02 / (1 + np.exp(-(T - 30) / 4.0)) * 1.0
    y = y[:, None]
    t_max, _ = tmax_of(T, y, normalise=False, tolerance_rel=0.1)
    assert abs(t_max[0] - 2.0) < 0.6
    t_global, _ = tmax_of(T, y, normalise=False, tolerance_rel=0.0)
    assert t_global[0] > 50
    # a clearly higher late maximum wins
    y2 = gauss(T, 2.0, 1.5, 1.0) + 1.5 / (1 + np.exp(-(T - 30) / 4.0))
    assert tmax_of(T, y2[:, None], normalise=False)[0][0] > 50


def test_plateau_wiggles_do_not_count():
    rng = np.random.default_rng(5)
    y = 1 - np.exp(-T / 8.0) + 0.004 * rng.standard_normal(T.size)
    t_max, _ = tmax_of(T, y[:, None], normalise=False)
    assert t_max[0] > 30


def test_uneven_time_grid_and_missing_values():
    t = np.sort(np.concatenate([T, [0.25, 7.3, 33.1]]))
    y = gauss(t, 9.0, 5.0)
    y_missing = y.copy()
    y_missing[[4, 20]] = np.nan
    t_max, _ = tmax_of(t, np.column_stack([y, y_missing, np.full_like(y, np.nan)]),
                       normalise=False)  # fmt: skip
    assert abs(t_max[0] - 9.0) < 0.1 and abs(t_max[1] - 9.0) < 0.1
    assert np.isnan(t_max[2])


def test_peak_finder_rejects_bad_grids():
    with pytest.raises(ValueError):
        PeakFinder([0.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        PeakFinder([0.0, 1.0], smoothing_min=-1)


def test_experimental_tmax_excludes_species_below_noise():
    obs = DEFAULT_SYSTEM.observables()
    species = obs["species"].tolist()
    rng = np.random.default_rng(0)
    y = np.full((T.size, len(species)), 1e-4) + 1e-4 * rng.random((T.size, len(species)))
    y[:, 0] = 1.0 * np.exp(-T / 5)  # decays
    y[:, 1] = 1.0  # keeps the total signal up
    y[:, 5] = gauss(T, 12.0, 4.0, 0.5)
    long = pd.DataFrame(
        {
            "time_min": np.repeat(T, len(species)),
            "species": np.tile(species, T.size),
            "intensity": y.ravel(),
        }
    )
    long = long[long["species"] != species[-1]]  # one observable without data
    vertex_rule = replace(TmaxSettings.schema_default(), min_signal=0.01, plateau_rel=0.0)
    table = experimental_tmax(long, obs, vertex_rule)
    assert len(table) == 77
    assert table["included"].sum() == 3
    assert table.loc[0, "t_max_min"] == 0.0
    assert abs(table.loc[5, "t_max_min"] - 12.0) < 0.3
    assert table.loc[76, "reason"] == "no data"
    assert (table.loc[2:75, "reason"].drop(5) == "below min_signal").all()


def test_unknown_species_label_is_an_error():
    obs = DEFAULT_SYSTEM.observables()
    long = pd.DataFrame({"time_min": [0.0], "species": ["[Xx1]-"], "intensity_norm": [1.0]})
    with pytest.raises(ValueError, match="unknown species"):
        experimental_tmax(long, obs, TmaxSettings.schema_default())


def test_dimer_response_row_recovers_a_scaled_dimer_signal_on_another_time_grid():
    """Measured = simulated with every dimer ion times 0.6, at scan times the simulation's
    output grid does not hold: the row interpolates and recovers 0.6; unscaled gives 1."""
    from intercluster.observables import dimer_response_row

    observables = DEFAULT_SYSTEM.observables()
    species = observables["species"].tolist()
    dimer = (observables["kind"] == "dimer").to_numpy()
    rng = np.random.default_rng(3)
    rates = rng.uniform(0.02, 0.2, len(species))
    levels = rng.uniform(0.5, 2.0, len(species))

    def table(times, response, value):
        curves = levels * (1.0 - np.exp(-np.outer(times, rates))) + 0.1
        curves[:, dimer] *= response
        return pd.DataFrame({"time_min": np.repeat(times, len(species)),
                             "species": np.tile(species, times.size),
                             value: curves.ravel()})  # fmt: skip

    simulated = table(np.arange(0.0, 60.01, 0.1), 1.0, "concentration_nM")
    scans = np.arange(0.25, 60.0, 1.0)
    row = dimer_response_row("s", table(scans, 0.6, "intensity"), simulated, observables, 1.0)
    assert row["dimer_response_estimated"] == pytest.approx(0.6, rel=1e-3)
    assert row["n_times"] == 30 and row["late_from_min"] == pytest.approx(30.25)
    same = dimer_response_row("s", table(scans, 1.0, "intensity"), simulated, observables, 0.7)
    assert same["dimer_response_estimated"] == pytest.approx(1.0, rel=1e-3)
    assert same["dimer_response_used"] == 0.7


def test_dimer_response_of_a_sample_overrides_the_global_one():
    from intercluster.observables import dimer_response_of
    from intercluster.records import SampleConditions

    settings = replace(TmaxSettings.schema_default(), dimer_response=0.8)
    own = SampleConditions.from_dict({"ag_nM": 40, "au_nM": 40, "dead_time_s": 20,
                                      "dimer_response": 0.5})  # fmt: skip
    none = SampleConditions.from_dict({"ag_nM": 40, "au_nM": 40, "dead_time_s": 20,
                                       "dimer_response": None})  # fmt: skip
    assert dimer_response_of(own, settings) == 0.5
    assert dimer_response_of(none, settings) == 0.8
    assert own.to_dict()["dimer_response"] == 0.5 and "dimer_response" not in none.to_dict()
    assert own.initial_nM == (40.0, 40.0)  # the response is not taken for a concentration


def _earliest_prominent(s: np.ndarray, k_global: int, r: float) -> int:
    """The reference: index of the earliest maximum of ``s`` within ``r`` of, and prominent
    by ``r`` of, the maximum at ``k_global``."""
    top = s[k_global]
    level = top - r * abs(top)
    need = r * abs(top)
    n = s.size
    for i in range(k_global):
        if s[i] < level:
            continue
        if i > 0 and s[i - 1] > s[i]:
            continue
        if i < n - 1 and s[i + 1] >= s[i]:
            continue  # not a maximum (plateaus resolve at their last point)
        # right base: the lowest point before the curve exceeds s[i] again
        j = i + 1
        right = np.inf
        while j < n and s[j] <= s[i]:
            right = min(right, s[j])
            j += 1
        # left base: the lowest point back to the last higher one (-inf at the record start)
        h = i - 1
        left = np.inf
        while h >= 0 and s[h] <= s[i]:
            left = min(left, s[h])
            h -= 1
        if h < 0:
            left = -np.inf
        if j >= n:
            right = -np.inf
        if s[i] - max(left, right) >= need:
            return i
    return k_global


def test_earliest_prominent_kernel_is_the_reference_rule():
    """PeakFinder.tmax takes the near-equal-maxima rule from the kernel
    (_kernels.earliest_prominent_columns) that replaced a Python loop over the columns: the
    same index as the reference (_earliest_prominent, the rule written plainly for one
    column) on curves with several near-equal maxima, plateaus and noise, for every
    column."""
    from intercluster import _kernels

    rng = np.random.default_rng(11)
    t = np.linspace(0.0, 1.0, 120)[:, None]
    centres = rng.uniform(0.1, 0.9, size=(3, 200))
    heights = 1.0 + rng.uniform(-0.03, 0.03, size=(3, 200))
    pairs = zip(heights, centres, strict=True)
    curves = sum(h * np.exp(-(((t - c) / 0.05) ** 2)) for h, c in pairs)
    curves = np.round(curves + rng.normal(0.0, 0.004, curves.shape), 3)  # ties and plateaus
    for r in (0.01, 0.05):
        k = np.argmax(curves, axis=0).astype(np.int64)
        reference = [_earliest_prominent(curves[:, c], int(k[c]), r) for c in range(200)]
        _kernels.earliest_prominent_columns(np.ascontiguousarray(curves), k, r)
        np.testing.assert_array_equal(k, reference)
        assert np.any(k < np.argmax(curves, axis=0))  # the rule moved some columns
