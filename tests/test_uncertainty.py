"""Uncertainty of the fit (intercluster.tmax_sigma, weighted_chi2, profiles, coverage,
model_comparison, trajectory_fit): σ(t_max), weighted χ², profile intervals and
identifiability, coverage over noise replicas, model comparison and the trajectory objective,
on the SYNTHETIC virtual experiment with a known truth."""

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fit_helpers import synthetic_intensities
from workflow_helpers import NUCLEARITY

from intercluster import coverage, fit, model_comparison, tmax_sigma, trajectory_fit
from intercluster.fit import profiles, weighted_chi2, weighted_fit
from intercluster.io import SYNTHETIC_LABEL
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings, experiment_matrix, experimental_tmax
from intercluster.replicas import virtual_replica
from intercluster.settings import SolverOptions, UncertaintySettings
from intercluster.simulate import simulate_many
from intercluster.system import system_of_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
SYSTEM = system_of_config(CONFIG, search_dirs=[ROOT]).cluster_system()
OBS = SYSTEM.observables()
SAMPLE = "ag40_au40"
C_NM = 40.0  # the lower initial concentration of the 40:40 sample
TIMES = np.arange(0.0, 60.0 + 1e-9, 1.0)  # one spectrum a minute: few spectra, fast
# The truth exactly on the quarter-decade grid (the paper's 5.6e-2 and 3.2e-2 are these
# values to two figures): a replica's best point can then be the truth itself.
TRUTH = {"k_dim": 1e-2, "k_diss": 10**-1.25, "k_ex": 10**-1.5}
# 5 x 5 x 7 quarter-decade sub-grid around the truth
GRID = {
    "k_dim": {"min": 10**-2.5, "max": 10**-1.5, "n": 5},
    "k_diss": {"min": 10**-1.75, "max": 10**-0.75, "n": 5},
    "k_ex": {"min": 10**-2.25, "max": 10**-0.75, "n": 7},
}
# For coverage the k_ex axis is resolved finer than the weighted interval (about 0.001
# decades wide here): on quarter decades the truth is the best point of every replica, and
# each rule "covers" it trivially. 7 values, 0.002 decades apart, centred on the truth.
COVERAGE_GRID = {**GRID, "k_ex": {"min": 10 ** (-1.5 - 0.006), "max": 10 ** (-1.5 + 0.006), "n": 7}}
N_REPLICAS = 20
BOOTSTRAP = 100


def _ve(**noise) -> dict:
    ve = copy.deepcopy(CONFIG["virtual_experiment"])
    ve["samples"] = {SAMPLE: ve["samples"][SAMPLE]}
    ve["rate_constants"] = dict(TRUTH)
    ve["cid"]["times_min"] = []
    ve["noise"].update(noise)
    return ve


COND_40_40 = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})


def _simulate_grid(grid):
    return fit.run_chunk(
        ReactionNetwork(3, nuclearity=NUCLEARITY), fit.grid_points(grid), COND_40_40, TIMES,
        OBS["species"], TmaxSettings.schema_default(), options=SolverOptions(1e-6, 1e-9, 100_000),
    )  # fmt: skip


@pytest.fixture(scope="module")
def grid_sim():
    """ONE table of the grid's simulated t_max (noise-free: reused by every replica)."""
    return _simulate_grid(GRID)


@pytest.fixture(scope="module")
def coverage_sim():
    return _simulate_grid(COVERAGE_GRID)


@pytest.fixture(scope="module")
def replicas():
    """N noise replicas of the virtual experiment (new seeds, same truth), deconvolved."""
    ve = _ve()
    return [
        virtual_replica(SYSTEM, ve, SAMPLE, 1000 + r, TIMES, n_replicas=BOOTSTRAP)[1]
        for r in range(N_REPLICAS)
    ]


# --- σ(t_max) --------------------------------------------------------------------------------
def _sigma(tmp_path, seeds, ions):
    """Mean σ(t_max) over runs with ``seeds`` (one σ of one run is itself noisy).

    Baseline noise is set relative to the base peak, so it does not fall with the ion
    count; it is reduced here so that the shot noise the test is about dominates. The first
    run goes through a real mzML file.
    """
    ve = _ve(ions_per_spectrum=ions, baseline_rel=1e-4)
    tables = []
    for n, seed in enumerate(seeds):
        path = tmp_path / f"seed{seed}_ions{ions:.0e}.mzML" if n == 0 else None
        tables.append(
            virtual_replica(SYSTEM, ve, SAMPLE, seed, TIMES, n_replicas=BOOTSTRAP,
                                mzml_path=path)[1]
        )  # fmt: skip
    return tables


def test_sigma_halves_with_four_times_the_ions_and_is_finite(tmp_path):
    ions = float(CONFIG["virtual_experiment"]["noise"]["ions_per_spectrum"])
    low = _sigma(tmp_path, (7, 8, 9), ions)
    high = _sigma(tmp_path, (7, 8, 9), 4 * ions)
    control = _sigma(tmp_path, (10, 11), ions)
    for table in low + high + control:
        assert (table["source"] == SYNTHETIC_LABEL).all()
        use = table["included"]
        assert use.sum() > 50
        sigma = table.loc[use, "sigma_min"]
        assert np.all(np.isfinite(sigma)) and np.all(sigma > 0)
        assert np.all(sigma >= table.loc[use, "sigma_floor_min"])
    use = np.logical_and.reduce([t["included"].to_numpy() for t in low + high + control])

    def mean_sigma(tables):
        return np.mean([t["sigma_bootstrap_min"].to_numpy()[use] for t in tables], axis=0)

    ref = mean_sigma(low)
    ok = ref > 0
    ratio = np.median(mean_sigma(high)[ok] / ref[ok])
    same = np.median(mean_sigma(control)[ok] / ref[ok])
    print(f"median σ ratio, 4x ions: {ratio:.3f}; same ions, other noise seeds: {same:.3f}")
    assert 0.5 * 0.7 <= ratio <= 0.5 * 1.3
    assert 0.75 <= same <= 1.33  # negative control: same ion count, σ stays


def _two_columns(curve):
    """A peak and its complement: rows already sum to 1, so the rule's normalisation keeps them."""
    return np.column_stack([curve, 1.0 - curve])


def test_bootstrap_of_a_noise_free_curve_has_no_spread_and_floor_applies():
    times = np.arange(0.0, 30.0 + 1e-9, 1.0)
    curve = 0.4 * np.exp(-(((times - 10.3) / 4.0) ** 2))
    boot = tmax_sigma.bootstrap_tmax(times, _two_columns(curve), n_replicas=20, seed=1)
    assert boot.t_max[0] == pytest.approx(10.3, abs=0.05)
    fraction = UncertaintySettings.schema_default().sigma_floor_fraction
    assert boot.sigma[0] < 0.01 * tmax_sigma.sigma_floor_min(times) / fraction
    assert tmax_sigma.sigma_floor_min(times) == pytest.approx(fraction * 1.0)
    with pytest.raises(ValueError):
        tmax_sigma.bootstrap_tmax(times, _two_columns(curve), block_length=0)


def test_bootstrap_sigma_follows_the_noise_level():
    """White noise of known size on a peak: σ grows in proportion to it (4x noise, 4x σ)."""
    times = np.arange(0.0, 40.0 + 1e-9, 0.5)
    curve = 0.3 * np.exp(-(((times - 15.0) / 6.0) ** 2)) + 0.05
    unit = np.random.default_rng(3).standard_normal(times.size)
    sigmas = [
        tmax_sigma.bootstrap_tmax(times, _two_columns(curve + noise * unit), n_replicas=300,
                           seed=2).sigma[0]
        for noise in (0.001, 0.004)
    ]  # fmt: skip
    assert 2.8 < sigmas[1] / sigmas[0] < 5.5


def test_end_plateau_sigma_only_for_a_flat_top_reaching_the_end():
    """With the vertex rule (``plateau_rel = 0``) a flat top reaching the record's end leaves
    t_max undecided over minutes: σ (bootstrap or end plateau) is minutes in every noise
    draw, and the end-plateau term is bounded by the record's length; a peak inside the
    record or a steep rise at the end get none. With the default rule (the centre of the
    top) the same flat top's t_max is decided to a fraction of a scan interval: no
    end-plateau term, and a bootstrap σ of hundredths of a minute."""
    vertex_rule = replace(TmaxSettings.schema_default(), plateau_rel=0.0)
    times = np.arange(0.0, 60.0 + 1e-9, 0.5)
    curves = {
        "flat": 0.2 * np.minimum(times / 40.0, 1.0),  # flat for the last 20 min
        "peak": 0.3 * np.exp(-(((times - 20.0) / 5.0) ** 2)) + 0.05,
        "steep": 0.004 * times,
    }
    plateau = {name: [] for name in curves}
    sigma_flat, sigma_centre = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        for name, curve in curves.items():
            assert curve.max() < 0.5  # its complement stays positive
            # the curve with its complement: rows sum to 1, the rule's normalisation keeps them
            noisy = curve + 2e-4 * rng.standard_normal(times.size)
            boot = tmax_sigma.bootstrap_tmax(times, _two_columns(noisy), vertex_rule, n_replicas=50,
                                      seed=1)  # fmt: skip
            plateau[name].append(boot.end_plateau[0])
            if name == "flat":
                sigma_flat.append(max(boot.sigma[0], boot.end_plateau[0]))
                centre = tmax_sigma.bootstrap_tmax(times, _two_columns(noisy), n_replicas=50,
                                                   seed=1)  # fmt: skip
                sigma_centre.append(max(centre.sigma[0], centre.end_plateau[0]))
    assert max(plateau["peak"]) == 0.0 and max(plateau["steep"]) == 0.0
    assert min(sigma_flat) > 1.0
    assert max(plateau["flat"]) > 1.0 and max(plateau["flat"]) <= 60.0 / np.sqrt(12.0)
    assert max(sigma_centre) < 0.1


def test_flat_top_width_measures_a_top_flat_within_the_noise():
    """A curve that rises to equilibrium and stays flat within its noise for the last 30 min
    has a flat top of ~30 min (its t_max could be anywhere on it), where the default rule's
    bootstrap σ is a fraction of a minute; a sharp peak's top is a few minutes (negative
    control). In the table the columns are written, and with ``flat_top_in_sigma`` σ takes
    the flat top's width / √12 where that is the larger."""
    times = np.arange(0.0, 60.0 + 1e-9, 1.0)
    rng = np.random.default_rng(3)
    equilibrium = 0.2 * (1.0 - np.exp(-times / 6.0))  # within 1e-3 of the top after ~30 min
    peak = 0.3 * np.exp(-(((times - 20.0) / 4.0) ** 2)) + 0.05
    smoothing = TmaxSettings.schema_default().smoothing_min
    widths, sigmas = [], []
    for curve in (equilibrium, peak):
        y = _two_columns(curve + 1e-3 * rng.standard_normal(times.size))
        boot = tmax_sigma.bootstrap_tmax(times, y, n_replicas=30, seed=1)
        widths.append(tmax_sigma.flat_top_width(times, y, boot.t_max, smoothing)[0])
        sigmas.append(boot.sigma[0])
    assert 20.0 <= widths[0] <= 45.0
    assert widths[1] < 6.0
    assert sigmas[0] < widths[0] / np.sqrt(12.0) / 3  # what the bootstrap misses
    y = _two_columns(equilibrium + 1e-3 * rng.standard_normal(times.size))
    species = ["a", "b"]
    intensities = pd.DataFrame({
        "time_min": np.repeat(times, 2), "species": np.tile(species, times.size),
        "intensity_norm": (y / y.sum(axis=1, keepdims=True)).ravel(),
    })  # fmt: skip
    observables = OBS.iloc[:2].assign(species=species)
    plain = tmax_sigma.tmax_uncertainty_table(intensities, observables, n_replicas=30, seed=1)
    flat = tmax_sigma.tmax_uncertainty_table(intensities, observables, n_replicas=30, seed=1,
                                             flat_top_in_sigma=True)  # fmt: skip
    assert np.allclose(plain["sigma_flat_top_min"], plain["flat_top_width_min"] / np.sqrt(12))
    assert plain.loc[0, "sigma_min"] < flat.loc[0, "sigma_min"]
    assert flat.loc[0, "sigma_source"] == "flat top"
    assert plain.loc[1, "flat_top_width_min"] < 3.0  # the complement decays from the start
    assert np.all(flat["sigma_min"] >= plain["sigma_min"])


def test_replicate_sigma_is_the_spread_over_runs():
    base = experimental_tmax(synthetic_intensities(seed=1), OBS, TmaxSettings.schema_default())
    runs = []
    for shift in (-0.2, 0.0, 0.2):
        run = base.copy()
        run["t_max_min"] = run["t_max_min"] + shift
        runs.append(run)
    rep = tmax_sigma.replicate_sigma(runs)
    inc = base["included"].to_numpy()
    assert rep.loc[inc, "sigma_replicate_min"].to_numpy() == pytest.approx(0.2)
    assert rep.loc[inc, "n_runs"].eq(3).all()
    table = base.assign(sigma_min=0.05, sigma_source="bootstrap")
    merged = tmax_sigma.with_replicate_sigma(table, rep)
    assert merged.loc[inc, "sigma_min"].to_numpy() == pytest.approx(0.2)
    assert (merged.loc[inc, "sigma_source"] == "replicates").all()
    with pytest.raises(ValueError):
        tmax_sigma.replicate_sigma(runs[:1])


def test_experiment_tmax_table_keeps_eq1_columns_and_adds_replicate_sigma():
    """The rule's table: experimental_tmax's columns and values unchanged, σ added; with
    replicate runs of the condition σ = max(bootstrap, replicate) and the replicate σ is the
    spread of t_max over the runs (computed here independently)."""
    settings = TmaxSettings.schema_default()
    uncertainty = UncertaintySettings.schema_default()
    runs = [synthetic_intensities(times_min=TIMES, seed=s) for s in (21, 22, 23)]
    alone = tmax_sigma.experiment_tmax_table(runs[0], OBS, settings, uncertainty)
    plain = experimental_tmax(runs[0], OBS, settings)
    pd.testing.assert_frame_equal(alone[plain.columns], plain)
    assert "sigma_replicate_min" not in alone
    use = alone["included"].to_numpy()
    assert np.all(np.isfinite(alone.loc[use, "sigma_min"]))
    with_reps = tmax_sigma.experiment_tmax_table(runs[0], OBS, settings, uncertainty, runs[1:])
    pd.testing.assert_frame_equal(with_reps[plain.columns], plain)
    tmax = np.stack([experimental_tmax(r, OBS, settings)["t_max_min"].to_numpy() for r in runs])
    both = use & np.logical_and.reduce(
        [experimental_tmax(r, OBS, settings)["included"].to_numpy() for r in runs]
    )
    spread = np.std(tmax, axis=0, ddof=1)
    assert with_reps.loc[both, "sigma_replicate_min"].to_numpy() == pytest.approx(spread[both])
    expected = np.maximum(alone["sigma_min"].to_numpy(), spread)
    assert with_reps.loc[both, "sigma_min"].to_numpy() == pytest.approx(expected[both])
    assert (with_reps.loc[both & (spread > alone["sigma_min"].to_numpy()), "sigma_source"]
            == "replicates").all()  # fmt: skip


# --- weighted χ² and profiles ---------------------------------------------------------------
def test_weighted_chi2_with_equal_sigma_is_eq1_over_sigma_squared(grid_sim, replicas):
    exp = replicas[0].assign(sigma_min=0.5)
    weighted = weighted_chi2.weighted_chi2_table({SAMPLE: (grid_sim, exp)})
    eq1 = fit.chi2_table({SAMPLE: (grid_sim, exp)})
    assert weighted["chi2"].to_numpy() == pytest.approx(eq1["chi2"].to_numpy() / 0.25)
    table = weighted_chi2.weighted_chi2_table
    single = [table({SAMPLE: (grid_sim, r)})["chi2"] for r in replicas[:2]]
    joint = table({"a": (grid_sim, replicas[0]), "b": (grid_sim, replicas[1])})
    assert joint["chi2"].to_numpy() == pytest.approx((single[0] + single[1]).to_numpy())
    n_single = replicas[0]["included"].sum() + replicas[1]["included"].sum()
    assert (joint["n_species"] == n_single).all()
    bad = replicas[0].assign(sigma_min=0.0)
    with pytest.raises(ValueError, match="σ"):
        weighted_chi2.weighted_chi2_table({SAMPLE: (grid_sim, bad)})


def test_combination_profiles_match_a_brute_force_groupby():
    points = fit.grid_points(GRID)
    rng = np.random.default_rng(5)
    table = points.assign(chi2=rng.uniform(1, 100, len(points)), n_species=60, status="ok",
                          message="")  # fmt: skip
    results = profiles.profile_results(table, c_nM=C_NM)
    for name, ratio in (
        (profiles.RATIO, table["k_dim"] / table["k_diss"]),
        (profiles.RATE_RATIO, C_NM * table["k_dim"] / table["k_ex"]),
    ):
        key = np.round(np.log10(ratio), 6)
        brute = table.groupby(key)["chi2"].min()
        assert np.log10(results[name].values) == pytest.approx(brute.index.to_numpy(), abs=1e-6)
        assert results[name].profile == pytest.approx(brute.to_numpy())
    uneven = table.copy()
    uneven.loc[uneven["k_ex"] == uneven["k_ex"].max(), "k_ex"] = 0.5
    with pytest.raises(ValueError, match="log"):
        profiles.profile_results(uneven, c_nM=C_NM)


def test_identifiability_labels_of_constructed_profiles():
    values = 10.0 ** np.arange(-3, 0.01, 0.25)
    x = np.log10(values)
    closed = (x + 1.5) ** 2 * 40.0
    open_high = np.where(x < -1.5, (x + 1.5) ** 2 * 40.0, 0.0)
    flat = 0.5 + 0.1 * np.sin(x)
    level = 3.84
    assert profiles.identifiability_label(closed, level) == profiles.IDENTIFIABLE
    assert profiles.identifiability_label(open_high, level) == profiles.PRACTICALLY_NON_IDENTIFIABLE
    open_low = profiles.identifiability_label(open_high[::-1], level)
    assert open_low == profiles.PRACTICALLY_NON_IDENTIFIABLE
    assert profiles.identifiability_label(flat, level) == profiles.FLAT
    r = profiles.profile_result("k_ex", values, open_high, level)
    assert r.low is not None and r.high is None and r.high_edge == pytest.approx(1.0)
    assert r.resolved
    spike = np.where(np.isclose(x, -1.5), 0.0, 1e4)  # only the best value below the level
    assert not profiles.profile_result("k_ex", values, spike, level).resolved
    flat_result = profiles.profile_result("k_ex", values, flat, level)
    assert flat_result.as_dict()["interval"] == [None, None]


def _independent_label(prof, level):
    if np.nanmax(prof) <= level:
        return profiles.FLAT
    if prof[0] <= level or prof[-1] <= level:
        return profiles.PRACTICALLY_NON_IDENTIFIABLE
    return profiles.IDENTIFIABLE


def test_virtual_fit_labels_match_profiles_and_ratio_is_narrowest(grid_sim, replicas):
    weighted = weighted_chi2.weighted_chi2_table({SAMPLE: (grid_sim, replicas[0])})
    results = profiles.profile_results(weighted, c_nM=C_NM)
    fields = profiles.best_json_fields(results)
    assert set(fields["identifiability"]) == set(profiles.PROFILE_NAMES)
    for name, r in results.items():
        assert r.label == _independent_label(r.profile, r.level), name
        low, high = fields["intervals_weighted"][name]
        assert (low is None) == (r.profile[0] <= r.level)
        assert (high is None) == (r.profile[-1] <= r.level)
        print(f"{name:14s} {r.label:28s} [{low}, {high}] resolved={r.resolved}")

    def decades(r):
        return np.log10(r.high_edge) - np.log10(r.low_edge)

    ratio = decades(results[profiles.RATIO])
    assert ratio < decades(results["k_dim"]) and ratio < decades(results["k_diss"])


# --- coverage --------------------------------------------------------------------------------
def test_coverage_of_the_weighted_rule_is_consistent_with_its_confidence(coverage_sim, replicas):
    # k_dim*c/k_ex needs equal log steps of k_dim and k_ex: not on this grid (c_nM=None)
    result = coverage.coverage(coverage_sim, replicas, TRUTH, confidence=0.95)
    table = coverage.coverage_table(result)
    with pd.option_context("display.width", 160):
        print(f"\ncoverage over {len(replicas)} SYNTHETIC replicas (fraction containing the truth)")
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    assert list(table.columns) == list(coverage.RULES)
    lo, hi = coverage.binomial_range(len(replicas), 0.95, 0.99)
    row = result.summary.set_index(["rule", "name"]).loc[("weighted", "k_ex")]
    assert lo <= row["n_contain"] <= hi
    assert row["n_replicas"] == len(replicas) >= 20
    assert set(result.calibration) == set(profiles.PROFILE_NAMES) - {profiles.RATE_RATIO}
    # negative control: scored against a false truth 0.006 decades (1.4 %) off, it collapses
    wrong = {**TRUTH, "k_ex": TRUTH["k_ex"] * 10**0.006}
    false = coverage.coverage(coverage_sim, replicas, wrong, confidence=0.95)
    row = false.summary.set_index(["rule", "name"]).loc[("weighted", "k_ex")]
    assert row["n_contain"] < lo


def test_threshold_calibration_is_used_only_when_chi2_quantile_fails():
    rng = np.random.default_rng(0)
    good = pd.DataFrame({"replica": range(40), "name": "k_ex",
                         "delta": rng.chisquare(1, 40)})  # fmt: skip
    bad = good.assign(delta=good["delta"] * 6.0)  # correlated residuals: Δχ² far too big
    assert not coverage.threshold_calibration(good)["k_ex"]["used"]
    calibrated = coverage.threshold_calibration(bad)["k_ex"]
    assert calibrated["used"] and calibrated["calibrated"] > calibrated["chi2_quantile"]


# --- model comparison -------------------------------------------------------------------------
def test_model_comparison_aic_and_goodness_of_fit_in_words():
    reference = np.random.default_rng(1).chisquare(63, 50)
    cmp = model_comparison.compare_models({1: 400.0, 2: 90.0, 3: 66.0}, 66,
                                          replica_chi2_min=reference)  # fmt: skip
    assert cmp.loc[cmp["model"] == 3, "delta_aic"].item() == 0.0
    assert cmp.loc[cmp["model"] == 2, "delta_aic"].item() == pytest.approx(24.0)
    assert cmp["akaike_weight"].sum() == pytest.approx(1.0)
    assert cmp.set_index("model")["fits"].to_dict() == {1: False, 2: False, 3: True}
    text = model_comparison.model_comparison_statement(cmp)
    assert "prefers model 3" in text and "No model of the set fits" not in text
    none_fit = model_comparison.compare_models({1: 900.0, 2: 500.0, 3: 400.0}, 66)
    assert "No model of the set fits" in model_comparison.model_comparison_statement(none_fit)


def test_grid_bracket_reports_an_unresolved_interval_at_the_grid_resolution():
    values = 10.0 ** np.arange(-3.0, -0.9, 0.25)
    prof = np.array([90.0, 60.0, 30.0, 10.0, 0.0, 12.0, 40.0, 70.0, 95.0])
    level = 3.84  # only the best value lies below: the interval is narrower than a step
    r = profiles.profile_result("k_ex", values, prof, level)
    assert not r.resolved
    assert r.grid_low == pytest.approx(values[3]) and r.grid_high == pytest.approx(values[5])
    assert r.grid_low < r.low < values[4] < r.high < r.grid_high
    assert r.as_dict()["interval_grid"] == [r.grid_low, r.grid_high]
    wide = profiles.profile_result("k_ex", values, prof, 35.0)  # resolved, high end on the grid
    assert wide.resolved and wide.grid_low == pytest.approx(values[1])
    assert wide.grid_high == pytest.approx(values[6])
    open_end = profiles.profile_result("k_ex", values, prof[::-1] * 0 + np.linspace(9, 0, 9), 3.84)
    assert open_end.grid_high is None and open_end.high is None


def _model_grid(model, grid):
    return fit.run_chunk(
        ReactionNetwork(model, nuclearity=NUCLEARITY), fit.grid_points(grid), COND_40_40, TIMES,
        OBS["species"],
        TmaxSettings.schema_default(), options=SolverOptions(1e-6, 1e-9, 100_000),
    )  # fmt: skip


def test_goodness_of_fit_keeps_the_true_model_and_rejects_wrong_ones():
    """The demo's own truth (Table 1's model 3, 5.6e-2 and 3.2e-2: not on the quarter-decade
    grid) in a small virtual experiment: judged at the refined weighted optimum against
    χ²(n − 3), model 3 fits; models 1 and 2 (negative controls) are flagged."""
    ve = _ve()
    ve["rate_constants"] = dict(CONFIG["virtual_experiment"]["rate_constants"])
    exp = virtual_replica(SYSTEM, ve, SAMPLE, 4242, TIMES, n_replicas=BOOTSTRAP)[1]
    weighted, refined = {}, {}
    for model in (1, 2, 3):
        sim = _model_grid(model, GRID)
        weighted[model] = weighted_chi2.weighted_chi2_table({SAMPLE: (sim, exp)})
        objective = weighted_chi2.weighted_chi2_objective(
            ReactionNetwork(model, nuclearity=NUCLEARITY), {SAMPLE: (COND_40_40, TIMES, exp)},
            TmaxSettings.schema_default(), options=SolverOptions(1e-6, 1e-9, 100_000),
        )  # fmt: skip
        fields = weighted_fit.weighted_fit_fields(weighted[model], C_NM, 0.95, objective, 60)
        refined[model] = fields["weighted"]["refined"]["chi2"]
        assert refined[model] <= fields["weighted"]["best"]["chi2"]
    cmp = model_comparison.compare_fitted_models(weighted, refined)
    text = model_comparison.model_comparison_statement(cmp)
    print(cmp[["model", "chi2_weighted_grid_min", "chi2_weighted_min", "reference_limit",
               "fits"]].to_string())  # fmt: skip
    print(text)
    assert cmp.set_index("model")["fits"].to_dict() == {1: False, 2: False, 3: True}
    assert "prefers model 3" in text and "No model of the set fits" not in text
    assert "chi2 distribution chi2(" in text  # says which reference was used
    # off the grid the refinement is what keeps model 3: its grid minimum is far higher
    m3 = cmp.set_index("model").loc[3]
    assert m3["chi2_weighted_grid_min"] > 2 * m3["chi2_weighted_min"]
    # with replicas of a correct model as the reference, the statement names them instead
    by_replicas = model_comparison.compare_fitted_models(weighted, refined,
                                            replica_chi2_min=np.full(19, refined[3]))  # fmt: skip
    statement = model_comparison.model_comparison_statement(by_replicas)
    assert "19 replicas of a correct model" in statement


def test_goodness_of_fit_calibrated_on_the_data_noise_keeps_the_true_model():
    """The calibrated verdict: each model's refined χ²_w against a parametric bootstrap of
    that fitted model with the noise of these spectra (not the virtual experiment's noise
    settings): model 3 (the truth's) consistent, models 1 and 2 not (negative controls)."""
    from intercluster.fit import refine
    from intercluster.observables import normalise_rows

    ve = _ve()
    ve["rate_constants"] = dict(CONFIG["virtual_experiment"]["rate_constants"])
    intensities, exp = virtual_replica(SYSTEM, ve, SAMPLE, 4243, TIMES, n_replicas=BOOTSTRAP)
    settings = TmaxSettings.schema_default()
    options = SolverOptions(1e-6, 1e-9, 100_000)
    times, y = experiment_matrix(intensities, OBS["species"].tolist())
    noise = model_comparison.data_noise_model(times, normalise_rows(y), settings.smoothing_min)
    verdicts = {}
    for model in (1, 2, 3):
        table = weighted_chi2.weighted_chi2_table({SAMPLE: (_model_grid(model, GRID), exp)})
        objective = weighted_chi2.weighted_chi2_objective(
            ReactionNetwork(model, nuclearity=NUCLEARITY), {SAMPLE: (COND_40_40, TIMES, exp)},
            settings, options=options)
        best = table.sort_values("chi2").iloc[0]
        start = {k: float(best[k]) for k in ("k_dim", "k_diss", "k_ex")}
        start["chi2"] = float(best["chi2"])
        refined = refine.refine(objective, start, fit.grid_axes(GRID), 60)
        constants = fit.RateConstants(refined["k_dim"], refined["k_diss"], refined["k_ex"])
        traj, _ = fit.best_trajectories(ReactionNetwork(model, nuclearity=NUCLEARITY), OBS,
                                        constants, COND_40_40,
                                        times, options=options)  # fmt: skip
        model_norm = (traj.pivot(index="time_min", columns="species", values="intensity_norm")
                      [OBS["species"].tolist()].to_numpy(float))  # fmt: skip
        reference = model_comparison.parametric_gof_reference(times, model_norm, noise, exp,
                                                              settings, n_replicas=100)  # fmt: skip
        verdicts[model] = model_comparison.calibrated_verdict(refined["chi2"], reference)
        print(model, verdicts[model]["statement"])
    assert {m: v["consistent"] for m, v in verdicts.items()} == {1: False, 2: False, 3: True}
    assert "parametric bootstrap" in verdicts[3]["statement"]


# --- trajectory objective ---------------------------------------------------------------------
def test_trajectory_objective_recovers_truth_and_dimer_response():
    response = 0.7
    table = synthetic_intensities(constants=TRUTH, times_min=TIMES, seed=11)
    times, y = experiment_matrix(table, OBS["species"].tolist())
    is_dimer = (OBS["kind"] == "dimer").to_numpy()
    y = y * np.where(is_dimer, response, 1.0)
    y = y / y.sum(axis=1, keepdims=True)
    included = experimental_tmax(table, OBS, TmaxSettings.schema_default())["included"].to_numpy()
    points = fit.grid_points(GRID)
    sims = simulate_many(ReactionNetwork(3, nuclearity=NUCLEARITY),
                         points[["k_dim", "k_diss", "k_ex"]].to_numpy(),
                         COND_40_40, times * 60.0)  # fmt: skip
    fitted = trajectory_fit.trajectory_fit(sims.observables, y, is_dimer, included)
    fixed = trajectory_fit.trajectory_fit(sims.observables, y, is_dimer, included,
                                          fit_response=False)  # fmt: skip
    best = points.iloc[fitted.best]
    truth_ratio = np.log10(TRUTH["k_dim"] / TRUTH["k_diss"])
    r_best = fitted.response[fitted.best]
    sse_fit, sse_fixed = np.nanmin(fitted.sse), np.nanmin(fixed.sse)
    print(f"best {best[['k_dim', 'k_diss', 'k_ex']].to_dict()}, r = {r_best:.3f}; "
          f"SSE {sse_fit:.3g} (r fitted) vs {sse_fixed:.3g} (r = 1)")  # fmt: skip
    assert best["k_ex"] == pytest.approx(TRUTH["k_ex"], rel=1e-6)
    assert abs(np.log10(best["k_dim"] / best["k_diss"]) - truth_ratio) <= 0.25 + 1e-6
    assert fitted.response[fitted.best] == pytest.approx(response, abs=0.05)
    assert sse_fixed > 2.0 * sse_fit  # negative control
    traj = trajectory_fit.trajectory_table(points, fitted)
    results = profiles.profile_results(traj, c_nM=C_NM, delta=trajectory_fit.trajectory_delta(traj))
    assert results["k_ex"].contains(TRUTH["k_ex"])


def test_trajectory_sse_equals_the_direct_sum_of_squares():
    rng = np.random.default_rng(4)
    conc = rng.uniform(0.0, 5.0, (6, 9, 5))
    conc[2, 3] = 0.0  # a time point without signal: modelled intensities 0
    measured = rng.uniform(0.0, 0.5, (9, 5))
    measured[1, 4] = np.nan  # missing value: left out
    is_dimer = np.array([False, False, True, True, True])
    included = np.array([True, True, False, True, True])
    fixed = trajectory_fit.trajectory_fit(conc, measured, is_dimer, included, fit_response=False,
                               fixed_response=0.6)  # fmt: skip
    signal = conc * np.where(is_dimer, 0.6, 1.0)
    total = signal.sum(axis=2, keepdims=True)
    model = np.divide(signal, total, out=np.zeros_like(signal), where=total > 0)
    direct = np.nansum(((model - measured)[:, :, included]) ** 2, axis=(1, 2))
    assert fixed.sse == pytest.approx(direct, rel=1e-9)
    fitted = trajectory_fit.trajectory_fit(conc, measured, is_dimer, included)
    assert np.all(fitted.sse <= fixed.sse + 1e-12)


def test_wired_trajectory_fit_recovers_truth_with_dimer_response_0_7():
    """The rule's path (trajectory_grid_fit, trajectory_fields): long intensity table whose
    dimer ions carry 0.7 of a monomer's signal per molecule; the best point has k_ex on the
    truth, k_dim:k_diss within one grid step and r = 0.7; a joint fit over two copies of the
    sample has the same best point and twice the SSE."""
    response = 0.7
    table = synthetic_intensities(constants=TRUTH, times_min=TIMES, seed=12)
    dimer = table["species"].isin(OBS.loc[OBS["kind"] == "dimer", "species"])
    table["intensity_norm"] = table["intensity_norm"] * np.where(dimer, response, 1.0)
    table["intensity_norm"] /= table.groupby("time_min")["intensity_norm"].transform("sum")
    exp = experimental_tmax(table, OBS, TmaxSettings.schema_default())
    points = fit.grid_points(GRID)
    conditions = COND_40_40
    options = {"rtol": 1e-6, "atol": 1e-9, "max_steps": 10**6}
    single = trajectory_fit.trajectory_grid_fit(ReactionNetwork(3, nuclearity=NUCLEARITY), points,
                                                {"s": (conditions, table, exp)}, OBS,
                                                options)  # fmt: skip
    fields = trajectory_fit.trajectory_fields(single, c_nM=C_NM)
    best = fields["best"]
    print(f"trajectory best {best}")
    assert best["k_ex"] == pytest.approx(TRUTH["k_ex"], rel=1e-6)
    ratio = np.log10(best["k_dim"] / best["k_diss"]) - np.log10(TRUTH["k_dim"] / TRUTH["k_diss"])
    assert abs(ratio) <= 0.25 + 1e-6
    assert best["response"] == pytest.approx(response, abs=0.05)
    for name, label in fields["identifiability"].items():
        prof = [p["chi2_min"] for p in fields["profiles"][name]["profile"]]
        assert label == _independent_label(np.array(prof, float), fields["profiles"][name]["level"])
    joint = trajectory_fit.trajectory_grid_fit(ReactionNetwork(3, nuclearity=NUCLEARITY), points,
                                    {"a": (conditions, table, exp), "b": (conditions, table, exp)},
                                    OBS, {"rtol": 1e-6, "atol": 1e-9})  # fmt: skip
    assert joint["chi2"].to_numpy() == pytest.approx(2 * single["chi2"].to_numpy(), rel=1e-6)
    assert trajectory_fit.trajectory_fields(joint, c_nM=C_NM)["best"]["point"] == best["point"]


def test_delta_chi2_is_scipy_stats_chi2_quantile():
    from scipy.stats import chi2

    for confidence in (0.6827, 0.9, 0.95, 0.99):
        for dof in (1, 2, 3, 74):
            assert profiles.delta_chi2(confidence, dof) == chi2.ppf(confidence, dof)
    assert profiles.delta_chi2(0.95) == pytest.approx(3.841458820694124, rel=1e-12)
    with pytest.raises(ValueError):
        profiles.delta_chi2(1.0)
