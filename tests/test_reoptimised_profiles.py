"""Profiles by re-optimisation (intercluster.fit.reoptimised_profiles) and the weighted fit's
consistency check (intercluster.fit.weighted_fit): on a quadratic χ² whose profile intervals are
known in closed form, and on a small simulated grid of the virtual experiment."""

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import NUCLEARITY

from intercluster import fit
from intercluster.fit import grid_axes, weighted_chi2
from intercluster.fit import reoptimised_profiles as rp
from intercluster.fit import weighted_fit as wf
from intercluster.fit.profiles import GridIndex, profile_results
from intercluster.network import RATE_CONSTANTS, ReactionNetwork
from intercluster.observables import TmaxSettings
from intercluster.settings import SolverOptions

DELTA = 3.84
BOUNDS = [(-3.0, 0.0)] * 3
X0 = np.array([-2.0, -1.25, -1.5])  # log10 (k_dim, k_diss, k_ex)
# a correlated quadratic χ² in log10 k: the slice through the optimum is narrower than the
# profile, so only a re-optimised profile gets the closed-form interval
H = np.array([[400.0, 300.0, 250.0], [300.0, 400.0, 0.0], [250.0, 0.0, 900.0]])
C_NM = 40.0


def _quadratic(log_k):
    d = np.asarray(log_k, float) - X0
    return 10.0 + float(d @ H @ d)


def _optimum(x=X0, chi2=10.0):
    return dict(zip(RATE_CONSTANTS, (10.0**x).tolist(), strict=True)) | {"chi2": chi2}


def _exact_half_width(a):
    """Profile of θ = a·x for χ² = dᵀHd: half-width sqrt(Δ aᵀH⁻¹a) (decades)."""
    return float(np.sqrt(DELTA * a @ np.linalg.solve(H, a)))


@pytest.mark.parametrize(
    ("name", "a", "shift", "moved"),
    [
        ("k_dim", np.array([1.0, 0, 0]), 0.0, 0),
        ("k_ex", np.array([0, 0, 1.0]), 0.0, 2),
        ("k_dim:k_diss", np.array([1.0, -1.0, 0]), 0.0, 0),
        ("k_dim*c/k_ex", np.array([1.0, 0, -1.0]), np.log10(C_NM), 2),
    ],
)
def test_reoptimised_interval_of_a_quadratic_is_the_closed_form(name, a, shift, moved):
    result = rp.reoptimised_profile(_quadratic, _optimum(), name, BOUNDS, DELTA, C_NM,
                                    tol_decades=0.002, inner_evaluations=200)  # fmt: skip
    centre, half = float(a @ X0) + shift, _exact_half_width(a)
    assert result.low_end == result.high_end == rp.CROSSED
    assert np.log10(result.low) == pytest.approx(centre - half, abs=0.005)
    assert np.log10(result.high) == pytest.approx(centre + half, abs=0.005)
    assert result.label == "identifiable"
    # negative control: the slice through the optimum (θ moves one constant, the others
    # stay at the optimum: no re-optimisation) is narrower than the profile
    slice_half = float(np.sqrt(DELTA / H[moved, moved]))
    assert slice_half < half - 0.015


def test_flat_direction_is_reported_open_and_a_bound_ends_a_side():
    """χ² that depends on k_dim only through k_dim:k_diss: the profile of k_dim is flat up
    to the bounds (open, both sides), the ratio's is closed."""

    def ratio_only(log_k):
        r = log_k[0] - log_k[1] - (X0[0] - X0[1])
        return 5.0 + 400.0 * r**2 + 900.0 * (log_k[2] - X0[2]) ** 2

    # k_diss ranges wider, so that every k_dim of its range has its k_diss inside the box
    bounds = [(-3.0, 0.0), (-3.0, 1.0), (-3.0, 0.0)]
    flat = rp.reoptimised_profile(ratio_only, _optimum(chi2=5.0), "k_dim", bounds, DELTA)
    assert flat.low is None and flat.high is None
    assert flat.low_end == flat.high_end == rp.BOUND
    assert flat.label == "flat"
    closed = rp.reoptimised_profile(ratio_only, _optimum(chi2=5.0), "k_dim:k_diss", bounds,
                                    DELTA)  # fmt: skip
    assert closed.low is not None and closed.high is not None
    # negative control: the same χ² with k_dim fixed by its own term is not flat
    pinned = rp.reoptimised_profile(lambda x: ratio_only(x) + 400.0 * (x[0] - X0[0]) ** 2,
                                    _optimum(chi2=5.0), "k_dim", bounds, DELTA)  # fmt: skip
    assert pinned.label == "identifiable"


def test_coordinates_round_trip_and_keep_points_inside_the_box():
    for name in ("k_dim", "k_diss", "k_ex", "k_dim:k_diss", "k_dim*c/k_ex"):
        coords = rp.ProfileCoordinates.of(name, BOUNDS, C_NM)
        x = np.array([-2.2, -0.7, -1.9])
        assert np.allclose(coords.embed(coords.theta(x), coords.free(x)), x)
        lo, hi = coords.theta_range()
        for theta in np.linspace(lo, hi, 7):
            fb = coords.free_bounds(theta)
            corner = coords.embed(theta, [fb[0][0], fb[1][1]])
            assert np.all(corner >= -3.0 - 1e-9) and np.all(corner <= 1e-9), (name, theta)
    with pytest.raises(ValueError, match="concentration"):
        rp.ProfileCoordinates.of("k_dim*c/k_ex", BOUNDS, None)


# --- on simulations of the virtual experiment -----------------------------------------------
GRID = {
    "k_dim": {"min": 10**-2.5, "max": 10**-1.5, "n": 5},
    "k_diss": {"min": 10**-1.75, "max": 10**-0.75, "n": 5},
    "k_ex": {"min": 10**-2.25, "max": 10**-0.75, "n": 7},
}


@pytest.fixture(scope="module")
def experiment():
    from test_uncertainty import BOOTSTRAP, SAMPLE, SYSTEM, TIMES, _ve

    from intercluster.replicas import virtual_replica

    return SAMPLE, TIMES, virtual_replica(SYSTEM, _ve(), SAMPLE, 4242, TIMES,
                                          n_replicas=BOOTSTRAP)[1]  # fmt: skip


def _grid_and_objective(model, experiment):
    from test_uncertainty import COND_40_40, _model_grid

    sample, times, exp = experiment
    table = weighted_chi2.weighted_chi2_table({sample: (_model_grid(model, GRID), exp)})
    objective = weighted_chi2.weighted_chi2_objective(
        ReactionNetwork(model, nuclearity=NUCLEARITY), {sample: (COND_40_40, times, exp)},
        TmaxSettings.schema_default(), options=SolverOptions(1e-6, 1e-9, 100_000),
    )  # fmt: skip
    return table, objective


def test_reoptimised_profile_of_k_ex_on_a_simulated_grid(experiment):
    """Model 3 (the truth's) on a 5x5x7 grid: at every grid value of k_ex the re-optimised
    profile is never above the grid profile; its interval contains the truth and is wider
    than the grid profile's interpolation (0.0003 decades on foreign data) but within the
    grid bracket; negative control: the grid interpolation misses its ends by > 0.005."""
    table, objective = _grid_and_objective(3, experiment)
    ok = np.isfinite(table["chi2"].to_numpy(float))
    best = table[ok].sort_values("chi2").iloc[0]
    optimum = {k: float(best[k]) for k in RATE_CONSTANTS} | {"chi2": float(best["chi2"])}
    axes = grid_axes(GRID)
    result = rp.reoptimised_profile(objective, optimum, "k_ex", rp.log_bounds(axes), DELTA,
                                    grid=table, inner_evaluations=40)  # fmt: skip
    grid_profile = profile_results(table, names=["k_ex"], delta=DELTA)["k_ex"]
    coords = rp.ProfileCoordinates.of("k_ex", rp.log_bounds(axes))
    profiler = rp.Profiler(objective, coords, table, inner_evaluations=20)
    x_opt = np.log10([optimum[k] for k in RATE_CONSTANTS])
    for value, grid_chi2 in zip(grid_profile.values, grid_profile.profile, strict=True):
        reopt, _ = profiler.minimise_at(np.log10(value), coords.free(x_opt))
        assert reopt <= grid_chi2 + 1e-9
    assert result.low_end == result.high_end == rp.CROSSED
    assert result.contains(10**-1.5)  # the truth
    width = np.log10(result.high / result.low)
    grid_width = np.log10(grid_profile.high / grid_profile.low)
    assert width > grid_width + 0.005  # negative control: the interpolation is too narrow
    assert grid_profile.grid_low <= result.low and result.high <= grid_profile.grid_high


def test_k_dim_of_model_2_is_reported_open(experiment):
    """Model 2 on the simulated grid: k_dim is not fixed at fixed k_dim:k_diss, so its
    re-optimised profile stays below the threshold to a bound (an open end); negative
    control: model 3's k_dim profile on the same data closes on both sides."""
    labels = {}
    for model in (2, 3):
        table, objective = _grid_and_objective(model, experiment)
        ok = np.isfinite(table["chi2"].to_numpy(float))
        best = table[ok].sort_values("chi2").iloc[0]
        optimum = {k: float(best[k]) for k in RATE_CONSTANTS} | {"chi2": float(best["chi2"])}
        result = rp.reoptimised_profile(objective, optimum, "k_dim",
                                        rp.log_bounds(grid_axes(GRID)), DELTA, grid=table,
                                        inner_evaluations=20)  # fmt: skip
        labels[model] = (result.label, result.low_end, result.high_end)
    assert labels[2][0] != "identifiable" and rp.BOUND in labels[2][1:]
    assert labels[3] == ("identifiable", rp.CROSSED, rp.CROSSED)


def test_weighted_fit_takes_its_intervals_from_the_reoptimised_profiles():
    """best.json's weighted section with an objective (the quadratic χ², its grid table on a
    13^3 quarter-decade grid): intervals_weighted are the re-optimised ones, equal to the
    closed form within 0.01 decades, the optimum lies inside them and the section says
    where they come from; without profile_evaluations (negative control) they are the grid
    profile's, narrower than the closed form for the correlated k_dim."""
    grid = {k: {"min": 1e-3, "max": 1.0, "n": 13} for k in RATE_CONSTANTS}
    table = fit.grid_points(grid)
    logs = np.log10(table[list(RATE_CONSTANTS)].to_numpy(float))
    table = table.assign(chi2=[_quadratic(x) for x in logs], n_species=50, status="ok",
                         message="")[fit.CHI2_COLUMNS]  # fmt: skip
    fields = wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 200, profile_evaluations=60)
    section = fields["weighted"]
    assert "re-optimisation" in section["interval_source"]
    assert fields["intervals_weighted"] == section["intervals_reoptimised"]
    low, high = fields["intervals_weighted"]["k_dim"]
    half = _exact_half_width(np.array([1.0, 0, 0]))
    assert np.log10(low) == pytest.approx(X0[0] - half, abs=0.01)
    assert np.log10(high) == pytest.approx(X0[0] + half, abs=0.01)
    for name, (low, high) in fields["intervals_weighted"].items():
        value = wf.quantity_of(name, section["optimum"], C_NM)
        assert low <= value <= high, name
    assert not any("outside its own interval" in m for m in section["consistency"]["messages"])
    grid_only = wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 200)
    assert "grid profile" in grid_only["weighted"]["interval_source"]
    g_low, g_high = grid_only["intervals_weighted"]["k_dim"]
    assert np.log10(g_high / g_low) < 2 * half - 0.05


def test_a_model_the_goodness_of_fit_rejects_is_not_profiled():
    """A model whose calibrated goodness of fit rejects it at a converged refinement (or at
    a stopped one, far beyond the limit) gets the grid bracket as intervals_weighted and a
    reason in words, and no profile by re-optimisation (none of the objective's evaluations
    beyond the refinement's); the verdict is evaluated at the refined optimum. Controls:
    the same fit judged consistent, the same rejection with profile_rejected, and a stopped
    refinement rejected by less than twice the limit are profiled by re-optimisation."""
    grid = {k: {"min": 1e-3, "max": 1.0, "n": 13} for k in RATE_CONSTANTS}
    table = fit.grid_points(grid)
    logs = np.log10(table[list(RATE_CONSTANTS)].to_numpy(float))
    table = table.assign(chi2=[_quadratic(x) for x in logs], n_species=50, status="ok",
                         message="")[fit.CHI2_COLUMNS]  # fmt: skip
    seen = []

    def verdict(consistent, statistic=900.0):
        def goodness_of_fit(optimum):
            seen.append(dict(optimum))
            return {"available": True, "consistent": consistent, "statistic": statistic,
                    "limit": 80.0, "statement": f"capped chi2_w {statistic:g} against a "
                    "limit of 80"}  # fmt: skip
        return goodness_of_fit

    calls = []

    def counted(x):
        calls.append(1)
        return _quadratic(x)

    rejected = wf.weighted_fit_fields(table, C_NM, 0.95, counted, 200, profile_evaluations=60,
                                      goodness_of_fit=verdict(False))  # fmt: skip
    section = rejected["weighted"]
    assert section["refined"]["converged"]
    assert seen and seen[0]["k_ex"] == section["refined"]["k_ex"]
    assert len(calls) == section["refined"]["n_evaluations"]  # no profile evaluations
    assert "profiles_reoptimised" not in section
    assert rejected["intervals_weighted"] == section["intervals_grid"]
    assert "does not fit" in section["interval_source"]
    assert "capped chi2_w 900" in section["profiles_skipped"]
    assert section["goodness_of_fit"]["consistent"] is False
    # a refinement stopped at its limit: far beyond the limit is still not profiled ...
    stopped = wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 5, profile_evaluations=60,
                                     goodness_of_fit=verdict(False, 900.0))  # fmt: skip
    assert not stopped["weighted"]["refined"]["converged"]
    assert "profiles_skipped" in stopped["weighted"]
    for control in (
        wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 200, profile_evaluations=60,
                               goodness_of_fit=verdict(True)),
        wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 200, profile_evaluations=60,
                               goodness_of_fit=verdict(False), profile_rejected=True),
        # ... but close to it the stopped refinement's minimum might pass: profiled
        wf.weighted_fit_fields(table, C_NM, 0.95, _quadratic, 5, profile_evaluations=60,
                               goodness_of_fit=verdict(False, 120.0)),
    ):  # fmt: skip
        assert "profiles_reoptimised" in control["weighted"]
        assert control["intervals_weighted"] == control["weighted"]["intervals_reoptimised"]
        assert "profiles_skipped" not in control["weighted"]


def test_consistency_reports_a_best_point_outside_its_interval_and_an_edge_optimum():
    """A grid optimum at the grid's edge, an unconverged refinement and an optimum outside
    the interval are each said in words; a clean section is consistent."""
    axes = {k: np.logspace(-3, 0, 13) for k in RATE_CONSTANTS}
    point = {"k_dim": 1e-3, "k_diss": 0.1, "k_ex": 0.05}
    section = {
        "best": point | {"chi2": 5.0},
        "refined": {"converged": False, "n_evaluations": 60, "message": "maxfev"},
        "optimum": point | {"chi2": 4.0},
        "intervals_reoptimised": {"k_ex": [0.06, 0.07], "k_dim:k_diss": [None, 0.1]},
    }
    check = wf.consistency(section, axes, C_NM)
    text = " ".join(check["messages"])
    assert not check["consistent"]
    assert "grid's edge in k_dim" in text
    assert "stopped at its limit of 60 evaluations" in text
    assert "k_ex = 0.05 lies outside its own interval" in text
    assert "k_dim:k_diss" not in text  # 0.01 inside (open, 0.1]
    clean = {
        "best": {"k_dim": 1e-2, "k_diss": 0.1, "k_ex": 0.05, "chi2": 5.0},
        "refined": {"converged": True, "n_evaluations": 30},
        "optimum": {"k_dim": 1e-2, "k_diss": 0.1, "k_ex": 0.05, "chi2": 4.0},
        "intervals_reoptimised": {"k_ex": [0.04, 0.06]},
    }
    assert wf.consistency(clean, axes, C_NM) == {"consistent": True, "messages": []}


def test_grid_index_axes_feed_log_bounds():
    table = fit.grid_points(GRID).assign(chi2=1.0)
    bounds = rp.log_bounds(GridIndex.from_table(table).axes)
    assert bounds[0] == pytest.approx((-2.5, -1.5))
    assert bounds[2] == pytest.approx((-2.25, -0.75))


def test_grid_optimum_at_the_edge_is_reported_and_the_interval_stays_open_there():
    """The quadratic χ²'s minimum 0.4 decades below the grid's k_dim range: the best grid
    point sits at the edge, the refined point and the profiles are bounded by the grid, the
    k_dim interval is open at its low end (the bound) and holds the optimum, and the section
    says in words that the grid may not contain the optimum. Negative control: the same χ²
    centred inside the grid gives a consistent section."""
    shifted = X0 + np.array([-1.4, 0.0, 0.0])  # k_dim 10^-3.4, below the grid's 1e-3

    def off_grid(log_k):
        d = np.asarray(log_k, float) - shifted
        return 10.0 + float(d @ H @ d)

    grid = {k: {"min": 1e-3, "max": 1.0, "n": 13} for k in RATE_CONSTANTS}
    points = fit.grid_points(grid)
    logs = np.log10(points[list(RATE_CONSTANTS)].to_numpy(float))

    def table_of(objective):
        return points.assign(chi2=[objective(x) for x in logs], n_species=50, status="ok",
                             message="")[fit.CHI2_COLUMNS]  # fmt: skip

    fields = wf.weighted_fit_fields(table_of(off_grid), C_NM, 0.95, off_grid, 200,
                                    profile_evaluations=60)  # fmt: skip
    section = fields["weighted"]
    assert section["best"]["k_dim"] == pytest.approx(1e-3)
    assert fields["intervals_weighted"]["k_dim"][0] is None  # open at the bound
    assert section["profiles_reoptimised"]["k_dim"]["ends"][0] == rp.BOUND
    assert not section["consistency"]["consistent"]
    messages = " ".join(section["consistency"]["messages"])
    assert "grid's edge in k_dim" in messages
    assert "outside its own interval" not in messages
    for name, (low, high) in fields["intervals_weighted"].items():
        value = wf.quantity_of(name, section["optimum"], C_NM)
        assert low is None or low <= value * (1 + 1e-9)
        assert high is None or value <= high * (1 + 1e-9)
    inside = wf.weighted_fit_fields(table_of(_quadratic), C_NM, 0.95, _quadratic, 200,
                                    profile_evaluations=60)["weighted"]  # fmt: skip
    assert inside["consistency"]["consistent"], inside["consistency"]["messages"]


def test_a_side_the_grid_keeps_below_the_threshold_is_open_without_a_walk():
    """χ² flat in k_dim at fixed k_dim:k_diss, tabulated on a grid: both sides of k_dim's
    profile end open at the bounds from the grid alone (no evaluation), as the walk without
    the grid ends them; negative control: k_ex, which the grid profile closes, is walked and
    crosses on both sides."""

    def ratio_only(log_k):
        r = log_k[0] - log_k[1] - (X0[0] - X0[1])
        return 5.0 + 400.0 * r**2 + 900.0 * (log_k[2] - X0[2]) ** 2

    bounds = [(-3.0, 0.0), (-3.0, 1.0), (-3.0, 0.0)]
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(bounds, (7, 17, 7), strict=True)]
    logs = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).T
    table = pd.DataFrame(10.0**logs, columns=list(RATE_CONSTANTS))
    table["chi2"] = [ratio_only(x) for x in logs]
    optimum = _optimum(chi2=5.0)
    from_grid = rp.reoptimised_profile(ratio_only, optimum, "k_dim", bounds, DELTA, grid=table)
    walked = rp.reoptimised_profile(ratio_only, optimum, "k_dim", bounds, DELTA)
    assert from_grid.low_end == from_grid.high_end == rp.BOUND
    assert (from_grid.low, from_grid.high) == (walked.low, walked.high) == (None, None)
    np.testing.assert_allclose([from_grid.low_edge, from_grid.high_edge],
                               [walked.low_edge, walked.high_edge], rtol=1e-9)  # fmt: skip
    assert from_grid.n_evaluations == 0 < walked.n_evaluations
    closed = rp.reoptimised_profile(ratio_only, optimum, "k_ex", bounds, DELTA, grid=table)
    assert closed.low_end == closed.high_end == rp.CROSSED and closed.n_evaluations > 0


def test_a_crossing_inside_one_bracket_is_interpolated_in_the_signed_root():
    """A profile steeper than the bisection's tolerance: half-widths of about a thousandth of a
    decade (a joint fit of several samples) against tol_decades 0.01. The crossing then lies
    inside the last bracket, whose chord of χ² would cut it short by the half-width over the
    bracket (about 5×); the signed root is exact for the quadratic."""
    steep = H * 2.0e3

    def objective(log_k):
        d = np.asarray(log_k, float) - X0
        return 10.0 + float(d @ steep @ d)

    a = np.array([0, 0, 1.0])
    half = float(np.sqrt(DELTA * a @ np.linalg.solve(steep, a)))
    assert half < 0.2 * 0.01  # the setting this test is about
    result = rp.reoptimised_profile(objective, _optimum(), "k_ex", BOUNDS, DELTA, C_NM,
                                    tol_decades=0.01, inner_evaluations=200)  # fmt: skip
    assert np.log10(result.high) - X0[2] == pytest.approx(half, rel=0.1)
    assert X0[2] - np.log10(result.low) == pytest.approx(half, rel=0.1)
    # negative control: the chord of χ² between the same kind of bracket ends (the optimum and
    # a point 0.01 decades out) is several times too narrow
    f_out = 10.0 + DELTA * (0.01 / half) ** 2
    chord = fit.intervals._crossing(0.0, 10.0, 0.01, f_out, 10.0 + DELTA)
    root = fit.intervals.signed_root_crossing(0.0, 10.0, 0.01, f_out, 10.0 + DELTA, 10.0)
    assert root == pytest.approx(half, rel=1e-9)
    assert chord < 0.3 * half


def test_signed_root_crossing_edges():
    crossing = fit.intervals.signed_root_crossing
    # an outside point that failed: the inside point is the end
    assert crossing(0.1, 11.0, 0.2, np.inf, 13.84, 10.0) == 0.1
    # both points on a parabola with its vertex elsewhere: still exact on one side
    def f(x):
        return 10.0 + 400.0 * (x - 0.03) ** 2

    exact = 0.03 + np.sqrt(3.84 / 400.0)
    assert crossing(0.05, f(0.05), 0.2, f(0.2), 13.84, 10.0) == pytest.approx(exact, rel=1e-12)


def test_outermost_interval_spans_every_value_below_the_threshold():
    """A re-optimised profile is an upper bound of the true one: a value below the threshold
    beyond a spike (an inner search that missed the valley) is still in the set."""
    values = 10.0 ** np.array([-0.2, -0.1, 0.0, 0.05, 0.1, 0.2])
    prof = np.array([50.0, 20.0, 0.0, 19.0, 0.3, 60.0])
    level = 3.84
    connected = fit.intervals.interval_from_profile(values, prof, level, minimum=0.0)
    outermost = fit.intervals.interval_from_profile(values, prof, level, minimum=0.0,
                                                    outermost=True)  # fmt: skip
    assert np.log10(connected["high"]) < 0.05  # control: stops at the spike
    assert 0.1 < np.log10(outermost["high"]) < 0.2  # reaches past the value at 0.1
    assert outermost["low"] == pytest.approx(connected["low"])


def _residual_objective(hessian, minimum=10.0):
    """χ² = minimum + dᵀ H d as a sum of squared residuals (L d and a constant √minimum,
    LᵀL = H): an objective with residuals, as the simulation-based one is."""
    cholesky = np.linalg.cholesky(hessian).T

    def residuals(log_k):
        d = np.asarray(log_k, float) - X0
        return [np.append(cholesky @ d, np.sqrt(minimum))]

    return fit.refine.Chi2Objective(residuals)


def test_objective_with_residuals_sums_them_as_the_scalar_objective():
    objective = _residual_objective(H)
    x = X0 + np.array([0.01, -0.02, 0.005])
    assert objective(x) == pytest.approx(_quadratic(x), rel=1e-12)
    assert float(np.sum(objective.residual_vector(x) ** 2)) == pytest.approx(objective(x))
    failing = fit.refine.Chi2Objective(lambda log_k: None)
    assert failing(x) == np.inf and failing.residual_vector(x) is None


@pytest.mark.parametrize("name", ["k_dim", "k_ex", "k_dim:k_diss", "k_dim*c/k_ex"])
def test_path_predicted_from_the_curvature_gives_the_closed_form_in_few_steps(name):
    """The curvature JᵀJ of the residuals at the optimum predicts each profile's path and
    half-width: the closed-form interval of the quadratic, each side ended after its aimed
    first step (the crossing through it agrees with the predicted one) and the probe beyond
    the crossing."""
    a = {"k_dim": [1.0, 0, 0], "k_ex": [0, 0, 1.0], "k_dim:k_diss": [1.0, -1.0, 0],
         "k_dim*c/k_ex": [1.0, 0, -1.0]}[name]  # fmt: skip
    a = np.array(a)
    shift = np.log10(C_NM) if name == "k_dim*c/k_ex" else 0.0
    objective = _residual_objective(H)
    curvature = rp.gauss_newton_curvature(objective, X0)
    np.testing.assert_allclose(curvature, H, atol=1e-6 * H.max())  # exact: linear residuals
    path = rp.ProfilePath.of(rp.ProfileCoordinates.of(name, BOUNDS, C_NM), X0, curvature, DELTA)
    half = _exact_half_width(a)
    assert path.half_width == pytest.approx(half, rel=1e-6)
    guided = rp.reoptimised_profile(objective, _optimum(), name, BOUNDS, DELTA, C_NM,
                                    curvature=curvature)  # fmt: skip
    centre = float(a @ X0) + shift
    assert np.log10(guided.low) == pytest.approx(centre - half, abs=0.002)
    assert np.log10(guided.high) == pytest.approx(centre + half, abs=0.002)
    assert guided.values.size == 5  # the optimum, one point per side and its probe
    # control: without the curvature the first step is the fixed one and more points follow
    unguided = rp.reoptimised_profile(objective, _optimum(), name, BOUNDS, DELTA, C_NM)
    assert unguided.values.size > guided.values.size


@pytest.mark.parametrize("quartic", [0.0, 1e5, 1e7])
def test_crossing_search_is_exact_beyond_the_parabola(quartic):
    """A profile that rises faster than a parabola (a quartic term, as where t_max of one
    observable starts to jump): the regula falsi in the signed root still lands on the
    crossing, with and without the curvature's guidance (which only sees the parabola)."""

    def objective(log_k):
        d = np.asarray(log_k, float) - X0
        return 10.0 + 400.0 * d[2] ** 2 + quartic * d[2] ** 4 + 900.0 * (d[0] ** 2 + d[1] ** 2)

    roots = np.roots([quartic, 0.0, 400.0, 0.0, -DELTA]) if quartic else [np.sqrt(DELTA / 400)]
    half = min(float(r.real) for r in np.atleast_1d(roots) if abs(r.imag) < 1e-12 and r.real > 0)
    curvature = np.diag([900.0, 900.0, 400.0])
    for guide in (None, curvature):
        result = rp.reoptimised_profile(objective, _optimum(), "k_ex", BOUNDS, DELTA, C_NM,
                                        inner_evaluations=200, curvature=guide)  # fmt: skip
        assert np.log10(result.high) - X0[2] == pytest.approx(half, rel=0.02)
        assert X0[2] - np.log10(result.low) == pytest.approx(half, rel=0.02)


def test_gauss_newton_polish_reaches_the_minimum_a_refinement_stopped_short_of():
    """A start off the minimum (as a refinement that ran out of evaluations leaves it): the
    Gauss-Newton steps on the residuals reach the minimum; an objective without residuals
    is left where it is (the control)."""
    objective = _residual_objective(H)
    start = X0 + np.array([0.1, -0.05, 0.02])
    x, chi2 = rp.gauss_newton_polish(objective, start, objective(start), BOUNDS)
    np.testing.assert_allclose(x, X0, atol=1e-6)
    assert chi2 == pytest.approx(10.0, abs=1e-6)
    assert objective(start) > 10.5
    same, same_chi2 = rp.gauss_newton_polish(_quadratic, start, _quadratic(start), BOUNDS)
    np.testing.assert_array_equal(same, start)
    assert same_chi2 == _quadratic(start)
    # a bound keeps the step inside the box
    boxed = [(-3.0, 0.0), (-3.0, 0.0), (-3.0, X0[2] - 0.01)]
    x, _ = rp.gauss_newton_polish(objective, start, np.inf, boxed)
    assert x[2] <= X0[2] - 0.01 + 1e-12


def test_a_probe_beyond_the_crossing_walks_past_a_spike():
    """χ²_w of t_max is jagged: a narrow spike above the threshold (0.095-0.105 decades out)
    inside the confidence set. The first crossing found is at the spike; the probe beyond
    it finds the profile below the threshold again, and the side walks on to the outer
    crossing of the parabola (0.196 decades)."""

    def spiky(log_k):
        d = np.asarray(log_k, float) - X0
        spike = 10.0 if 0.095 < d[2] < 0.105 else 0.0
        return 10.0 + 100.0 * d[2] ** 2 + spike + 900.0 * (d[0] ** 2 + d[1] ** 2)

    result = rp.reoptimised_profile(spiky, _optimum(), "k_ex", BOUNDS, DELTA, C_NM,
                                    inner_evaluations=100)  # fmt: skip
    outer = np.sqrt(DELTA / 100.0)
    assert np.log10(result.high) - X0[2] == pytest.approx(outer, rel=0.02)
    assert X0[2] - np.log10(result.low) == pytest.approx(outer, rel=0.02)
    # the walk met the spike (a point above the threshold inside the interval): without the
    # probe the interval would have ended there
    d = np.log10(result.values) - X0[2]
    assert np.any((d > 0.09) & (d < 0.11) & (result.chi2 > result.level))
