"""Orbits of the time-scale invariance (one integration per orbit of a log-equidistant grid)
and t_max of many curves at once, against per-point simulation and the one-curve t_max rule.

The yardstick of every comparison is the per-point path (``fit.run_chunk`` without orbits:
``simulate`` + ``tmax_of`` for each point on its own), which shares no code with the orbit
path beyond the integrator kernel itself.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fit_helpers import synthetic_intensities
from workflow_helpers import NUCLEARITY

from intercluster import fit
from intercluster.network import ReactionNetwork
from intercluster.observables import (
    TmaxSettings,
    experiment_times,
    experimental_tmax,
    peak_finder,
    tmax_of,
)
from intercluster.records import RateConstants, SampleConditions
from intercluster.settings import SolverOptions
from intercluster.simulate import simulate, simulate_orbit
from intercluster.system import DEFAULT_SYSTEM

OBS = DEFAULT_SYSTEM.observables()
ION_LABELS = OBS["species"].tolist()
SETTINGS = TmaxSettings.schema_default()
COND = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
TIMES_MIN = np.arange(0.0, 60.0 + 1e-9, 0.5)
OPTIONS = SolverOptions(rtol=1e-5, atol=1e-8, max_steps=100_000)
# 7 half-decade values per constant over the paper's range 1e-3 .. 1
GRID7 = {n: {"min": 1e-3, "max": 1.0, "n": 7} for n in ("k_dim", "k_diss", "k_ex")}


def _axis(lo, hi, n):
    return {"min": lo, "max": hi, "n": n}


# --- orbits of a grid --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 7, 13])
def test_orbits_partition_an_equal_step_grid(n):
    points = fit.grid_points({k: _axis(1e-3, 1.0, n) for k in ("k_dim", "k_diss", "k_ex")})
    plan = fit.grid_orbits(points)
    assert plan.orbits is not None, plan.reason
    assert len(plan.orbits) == n**3 - (n - 1) ** 3  # 469 for the paper's 13^3 grid
    ids = np.concatenate([o.points for o in plan.orbits])
    assert sorted(ids.tolist()) == list(range(n**3))
    values = points.set_index("point")[["k_dim", "k_diss", "k_ex"]]
    for orbit in plan.orbits:
        base = values.loc[orbit.points[0]].to_numpy()
        assert np.allclose(base, orbit.base, rtol=0, atol=0)
        assert orbit.scales[0] == 1.0 and np.all(np.diff(orbit.scales) > 0)
        for point, scale in zip(orbit.points, orbit.scales, strict=True):
            assert np.allclose(values.loc[point].to_numpy(), scale * base, rtol=1e-12)
        # the base is the slowest member: one of its indices is 0
        indices = points.set_index("point").loc[orbit.points[0], ["i_dim", "i_diss", "i_ex"]]
        assert indices.min() == 0


def test_orbits_need_equal_steps_but_not_equal_ranges():
    # different ranges, equal half-decade steps (as .test/config/small.yaml): orbits
    grid = {"k_dim": _axis(10**-2.5, 10**-1.5, 3), "k_diss": _axis(10**-1.75, 10**-0.75, 3),
            "k_ex": _axis(1e-2, 1e-1, 3)}  # fmt: skip
    plan = fit.grid_orbits(fit.grid_points(grid))
    assert plan.orbits is not None and len(plan.orbits) == 19


@pytest.mark.parametrize(
    "grid, reason",
    [
        ({"k_dim": _axis(1e-3, 1.0, 7), "k_diss": _axis(1e-3, 1.0, 13),
          "k_ex": _axis(1e-3, 1.0, 7)}, "log steps differ"),  # fmt: skip
        ({"k_dim": _axis(1e-2, 1e-2, 1), "k_diss": _axis(1e-3, 1.0, 4),
          "k_ex": _axis(1e-3, 1.0, 4)}, "single value"),  # fmt: skip
    ],
)
def test_grids_without_orbits_fall_back_with_a_reason(grid, reason):
    plan = fit.grid_orbits(fit.grid_points(grid))
    assert plan.orbits is None and reason in plan.reason


def test_a_linear_grid_falls_back_and_gives_the_per_point_result():
    """A non-log grid: no orbits, and plan_chunk + run_chunk is exactly point by point."""
    values = np.linspace(0.01, 0.05, 3)
    k = np.array(np.meshgrid(values, values, values, indexing="ij")).reshape(3, -1).T
    linear = pd.DataFrame({"point": np.arange(len(k)), "k_dim": k[:, 0], "k_diss": k[:, 1],
                           "k_ex": k[:, 2]})  # fmt: skip
    plan = fit.grid_orbits(linear)
    assert plan.orbits is None and "not log-equidistant" in plan.reason
    chunk, orbits, how = fit.plan_chunk(linear, 0, 1)
    assert orbits is None and "not log-equidistant" in how
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    got = fit.run_chunk(net, chunk, COND, TIMES_MIN, ION_LABELS, SETTINGS, options=OPTIONS,
                        orbits=orbits)  # fmt: skip
    for row in got.sample(4, random_state=3).itertuples(index=False):
        k = RateConstants(row.k_dim, row.k_diss, row.k_ex)
        status, _, t_max = fit.simulate_tmax(net, k, COND, TIMES_MIN, SETTINGS, options=OPTIONS)
        assert status == "ok"
        assert np.array_equal(got.loc[got["point"] == row.point, ION_LABELS].to_numpy()[0], t_max)


def test_unequal_steps_fall_back_and_give_the_per_point_result():
    grid = {"k_dim": _axis(1e-2, 1e-1, 2), "k_diss": _axis(1e-2, 1.0, 2),
            "k_ex": _axis(1e-2, 1e-1, 2)}  # fmt: skip
    points = fit.grid_points(grid)
    chunk, orbits, how = fit.plan_chunk(points, 0, 1)
    assert orbits is None and "log steps differ" in how
    net = ReactionNetwork(2, nuclearity=NUCLEARITY)
    got = fit.run_chunk(net, chunk, COND, TIMES_MIN, ION_LABELS, SETTINGS, options=OPTIONS)
    per_point = [fit.simulate_tmax(net, RateConstants(p.k_dim, p.k_diss, p.k_ex), COND,
                                   TIMES_MIN, SETTINGS, options=OPTIONS)[2]
                 for p in points.itertuples()]  # fmt: skip
    assert np.array_equal(got[ION_LABELS].to_numpy(), np.array(per_point))


@pytest.mark.parametrize("n_chunks", [1, 2, 5, 18])
def test_chunks_share_whole_orbits_balanced_by_cost(n_chunks):
    plan = fit.grid_orbits(fit.grid_points({k: _axis(1e-3, 1.0, 13) for k in
                                            ("k_dim", "k_diss", "k_ex")}))  # fmt: skip
    parts = [fit.chunk_orbits(plan.orbits, c, n_chunks) for c in range(n_chunks)]
    firsts = sorted(int(o.points[0]) for part in parts for o in part)
    assert firsts == sorted(int(o.points[0]) for o in plan.orbits)  # each orbit exactly once
    loads = np.array([sum(o.cost for o in part) for part in parts])
    largest = max(o.cost for o in plan.orbits)
    assert loads.max() - loads.min() <= largest  # the greedy rule's guarantee
    assert parts == [fit.chunk_orbits(plan.orbits, c, n_chunks) for c in range(n_chunks)]


# --- one integration per orbit -----------------------------------------------------------------
def test_a_one_member_orbit_is_exactly_simulate():
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    k = (1e-2, 5.6e-2, 3.2e-2)
    orbit = simulate_orbit(net, RateConstants(*k), [1.0], COND, TIMES_MIN * 60, OPTIONS)
    single = simulate(net, RateConstants(*k), COND, TIMES_MIN * 60, OPTIONS, return_states=False)
    assert orbit.status.tolist() == ["ok"]
    assert np.array_equal(orbit.observables[0], single.observables)


@pytest.mark.parametrize("model, method", [(1, "rodas5p"), (2, "rodas5p"), (3, "rodas5p"),
                                           (3, "rodas4")])  # fmt: skip
def test_orbit_members_equal_their_own_simulations(model, method):
    """Time-scale invariance: one integration gives every member's trajectory; the step
    sequences coincide (the last step is not cut at the end), so to round-off. For the
    default method and the former one."""
    options = replace(OPTIONS, method=method)
    net = ReactionNetwork(model, nuclearity=NUCLEARITY)
    base = np.array([1e-3, 10**-2.5, 10**-2.75])
    scales = 10.0 ** (0.25 * np.arange(9))
    cond = SampleConditions.from_dict({"ag_nM": 60.0, "au_nM": 100.0, "dead_time_s": 20.0})
    orbit = simulate_orbit(net, RateConstants(*base), scales, cond, TIMES_MIN * 60, options)
    assert orbit.ok.all()
    for m, a in enumerate(scales):
        own = simulate(net, RateConstants(*(a * base)), cond, TIMES_MIN * 60, options,
                       return_states=False)  # fmt: skip
        assert np.max(np.abs(orbit.observables[m] - own.observables)) < 1e-9  # nmol/L
    assert orbit.stats["steps"] == own.stats["steps"]  # the last member: same integration


def test_a_failing_orbit_marks_only_the_members_it_did_not_reach():
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    base = np.array([1e-2, 1e-2, 1e-2])
    scales = 10.0 ** (0.5 * np.arange(5))  # up to 1 /s: the stiff corner
    steps = []
    for a in scales:
        own = simulate(net, RateConstants(*(a * base)), COND, TIMES_MIN * 60, OPTIONS)
        steps.append(own.stats["steps"] + own.stats["rejected"])
    assert steps == sorted(steps) and steps[2] < steps[3]
    limit = (steps[2] + steps[3]) // 2
    orbit = simulate_orbit(net, RateConstants(*base), scales, COND, TIMES_MIN * 60,
                           replace(OPTIONS, max_steps=limit))  # fmt: skip
    assert orbit.status.tolist() == ["ok", "ok", "ok", "failed", "failed"]
    assert all(m.startswith("too many steps") and "orbit" in m for m in orbit.messages[3:])
    assert np.isnan(orbit.observables[3:]).all()
    for m in range(3):  # reached before the failure: their values, as simulated on their own
        own = simulate(net, RateConstants(*(scales[m] * base)), COND, TIMES_MIN * 60, OPTIONS,
                       return_states=False)  # fmt: skip
        assert np.max(np.abs(orbit.observables[m] - own.observables)) < 1e-9


# --- the grid fit by orbits against point by point ---------------------------------------------
@pytest.fixture(scope="module")
def experiment():
    table = synthetic_intensities(model=3)
    return experiment_times(table), experimental_tmax(table, OBS, SETTINGS)


@pytest.mark.parametrize("model", [1, 2, 3])
def test_orbit_grid_fit_equals_point_by_point_on_7_cubed(model, experiment):
    times, exp_tmax = experiment
    points = fit.grid_points(GRID7)
    net = ReactionNetwork(model, nuclearity=NUCLEARITY)
    plan = fit.grid_orbits(points)
    assert plan.orbits is not None
    by_orbits = fit.run_chunk(net, points, COND, times, ION_LABELS, SETTINGS, options=OPTIONS,
                              orbits=plan.orbits)  # fmt: skip
    by_points = fit.run_chunk(net, points, COND, times, ION_LABELS, SETTINGS, options=OPTIONS)
    assert (by_orbits["status"] == by_points["status"]).all()
    ok = (by_points["status"] == "ok").to_numpy()
    assert ok.sum() > 0.9 * len(points)
    diff = np.abs(by_orbits[ION_LABELS].to_numpy()[ok] - by_points[ION_LABELS].to_numpy()[ok])
    assert diff.max() < 0.01  # min, every member's 77 t_max
    chi2_o = fit.chi2_single(by_orbits, exp_tmax)
    chi2_p = fit.chi2_single(by_points, exp_tmax)
    assert np.allclose(chi2_o["chi2"][ok], chi2_p["chi2"][ok], rtol=1e-4, atol=0)
    assert fit.ranked(chi2_o)["point"].iloc[0] == fit.ranked(chi2_p)["point"].iloc[0]


# --- t_max of many curves ----------------------------------------------------------------------
def _two_peaks(t, first, second, heights, width=3.0):
    return (heights[0] * np.exp(-0.5 * ((t - first) / width) ** 2)
            + heights[1] * np.exp(-0.5 * ((t - second) / width) ** 2))  # fmt: skip


@pytest.mark.parametrize("tolerance", [0.0, 0.1, 0.3])
def test_tmax_many_equals_tmax_of_on_random_curves(tolerance):
    rng = np.random.default_rng(11)
    curves = rng.random((40, TIMES_MIN.size, 77))
    many, peak = peak_finder(TIMES_MIN).tmax_many(curves, tolerance)
    for s in range(curves.shape[0]):
        ref, ref_peak = tmax_of(TIMES_MIN, curves[s], tolerance_rel=tolerance)
        assert np.array_equal(many[s], ref) and np.array_equal(peak[s], ref_peak)


def test_tmax_many_equals_tmax_of_near_equal_maxima():
    """Curves with an early maximum and a later one of nearly the same height, both sides of
    the tolerance, plus a plateau: the earliest-prominent rule must pick the same point."""
    t = TIMES_MIN
    sets = []
    for ratio in (0.85, 0.89, 0.905, 0.95, 1.0, 1.05, 1.2):
        columns = [_two_peaks(t, 5.0, 40.0, (1.0, ratio)),
                   _two_peaks(t, 2.0, 58.0, (ratio, 1.0)),
                   np.minimum(t / 10.0, 1.0) + 0.01 * ratio * np.sin(t)]  # fmt: skip
        columns += [np.exp(-t / 20.0)] * 74
        sets.append(np.column_stack(columns))
    curves = np.array(sets)
    many, _ = peak_finder(t).tmax_many(curves, 0.1, normalise=False)
    picked_early = 0
    for s, curve in enumerate(curves):
        ref, _ = tmax_of(t, curve, normalise=False, tolerance_rel=0.1)
        assert np.array_equal(many[s], ref)
        picked_early += ref[0] < 20
    assert 0 < picked_early < len(curves)  # both outcomes of the rule occur


def test_tmax_many_equals_tmax_of_on_simulated_curves():
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    base = np.array([1e-3, 10**-2.5, 10**-2.25])
    orbit = simulate_orbit(net, RateConstants(*base), 10.0 ** (0.25 * np.arange(12)), COND,
                           TIMES_MIN * 60, OPTIONS)  # fmt: skip
    many, _ = peak_finder(TIMES_MIN).tmax_many(orbit.observables, 0.1)
    for m, curve in enumerate(orbit.observables):
        assert np.array_equal(many[m], tmax_of(TIMES_MIN, curve, tolerance_rel=0.1)[0])
