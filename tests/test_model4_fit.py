"""Model 4's fit (intercluster.exchange_bias): a virtual experiment made with the exchange
bias β = 1.9, and one with β = 1, fitted with models 3 and 4 on a small grid around the
truth. Model 4 recovers β and k_ex; the likelihood-ratio test prefers model 4 at β = 1.9
and not at β = 1 (model 3 is model 4 at β = 1)."""

from __future__ import annotations

import numpy as np
import pytest
from fit_helpers import TRUTH, synthetic_intensities

from intercluster import exchange_bias, fit, tmax_sigma
from intercluster.model_comparison import likelihood_ratio_test
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings, experiment_times
from intercluster.system import DEFAULT_SYSTEM

OBS = DEFAULT_SYSTEM.observables()
SETTINGS = TmaxSettings.schema_default()
COND = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
STEP = 0.25  # decades: the k grid's step, three values per constant centred on the truth
GRID = {
    **{k: {"min": v * 10**-STEP, "max": v * 10**STEP, "n": 3} for k, v in TRUTH.items()},
    "beta": {"min": 1.0, "max": 4.0, "n": 5},
}


def _model4(beta):
    return ReactionNetwork(4, "S", 25, beta=beta)


def _model3(beta):
    return ReactionNetwork(3, "S", 25)


def _fit(truth_beta):
    table = synthetic_intensities(model=4, beta=truth_beta, times_min=np.arange(0, 60.001, 1.0))
    exp = tmax_sigma.tmax_uncertainty_table(table, OBS, SETTINGS, n_replicas=50, seed=1)
    experiments = {"s": (COND, experiment_times(table), exp)}
    points, axes = fit.grid_points(GRID), fit.grid_axes(GRID)
    out = {}
    fits = ((3, _model3, [1.0]), (4, _model4, exchange_bias.beta_axis(GRID)))
    for model, network_of, betas in fits:
        grid = exchange_bias.fit_beta_grid(points, betas, experiments, network_of, SETTINGS)
        profile = exchange_bias.refined_beta_profile(
            grid, experiments, network_of, SETTINGS, axes, max_evaluations=25
        )
        # the same optimiser and budget for both models (model 3: beta pinned at 1)
        optimum = exchange_bias.refine_beta_optimum(profile, experiments, network_of, SETTINGS)
        out[model] = (grid, exchange_bias.with_optimum(profile, optimum), optimum)
    n_residuals = int(out[4][0]["n_species"].iloc[0])
    chi2_w_model3 = out[3][2]["chi2_weighted"]
    comparison = exchange_bias.compare_with_model3(chi2_w_model3, out[4][1], n_residuals)
    summary = exchange_bias.beta_summary(out[4][1], 298.0, refined_optimum=True)
    return out, comparison, summary, experiments


@pytest.fixture(scope="module")
def biased():
    return _fit(1.9)


@pytest.fixture(scope="module")
def unbiased():
    return _fit(1.0)


def test_model4_recovers_beta_and_k_ex(biased):
    out, comparison, summary, _ = biased
    assert abs(summary["beta"] / 1.9 - 1) <= 0.15
    assert abs(np.log10(summary["constants"]["k_ex"] / TRUTH["k_ex"])) <= STEP
    # ΔG_mix = -RT ln beta, negative (mixing favoured) and bracketed by its interval
    assert summary["delta_g_mix_kJ_per_mol"] == pytest.approx(
        -8.314462618e-3 * 298.0 * np.log(summary["beta"]), rel=1e-9)
    dg = summary["delta_g_mix_interval"]
    assert dg["low"] <= summary["delta_g_mix_kJ_per_mol"] <= dg["high"] < 0
    # negative control: model 3 cannot take the bias; its best χ²_w is far worse
    assert out[3][2]["chi2_weighted"] > 10 * out[4][2]["chi2_weighted"]


def test_likelihood_ratio_prefers_model4_only_when_the_data_are_biased(biased, unbiased):
    assert biased[1]["likelihood_ratio"]["prefers_full"]
    assert biased[1]["aic"].set_index("model").loc[4, "delta_aic"] == 0.0
    lrt = unbiased[1]["likelihood_ratio"]
    assert not lrt["prefers_full"], lrt["statement"]
    assert lrt["on_boundary"]  # beta = 1 is the grid's edge: the halved (chi-bar²) reference
    summary = unbiased[2]
    assert summary["beta_interval"]["low"] <= 1.0 + 1e-9 or summary["beta_interval"]["low_open"]


def test_each_beta_value_is_its_own_orbit_set(biased, caplog):
    grid4 = biased[0][4][0]
    assert sorted(grid4["beta"].unique()) == pytest.approx(exchange_bias.beta_axis(GRID))
    assert len(grid4) == 5 * 27 and grid4["point"].is_unique
    # beta = 1 of model 4 is model 3's grid, value for value (the same factors to the bit)
    at_one = grid4[grid4["i_beta"] == 0]["chi2_weighted"].to_numpy()
    np.testing.assert_allclose(at_one, biased[0][3][0]["chi2_weighted"].to_numpy(), rtol=1e-12)


def test_local_profile_brackets_the_optimum(biased):
    """The profile re-optimised in small β steps around the optimum closes the interval
    on both sides within a few hundredths of a decade and keeps the estimate inside."""
    out, _, _, experiments = biased
    optimum = out[4][2]
    local = exchange_bias.local_beta_profile(
        optimum, experiments, _model4, SETTINGS, fit.grid_axes(GRID), (1.0, 4.0),
        max_evaluations=10,
    )  # fmt: skip
    assert (local["beta"] < optimum["beta"]).any() and (local["beta"] > optimum["beta"]).any()
    steps = np.abs(np.log10(local["beta"] / optimum["beta"]))
    assert steps.min() == pytest.approx(exchange_bias.LOCAL_STEPS_DECADES[0])
    summary = exchange_bias.beta_summary(exchange_bias.with_optimum(out[4][1], optimum, local),
                                         298.0, refined_optimum=True)  # fmt: skip
    iv = summary["beta_interval"]
    assert not iv["low_open"] and not iv["high_open"]
    assert iv["low"] <= summary["beta"] <= iv["high"]
    assert np.log10(iv["high"] / iv["low"]) < 0.2
    assert abs(summary["beta"] / 1.9 - 1) <= 0.15


def test_aic_charges_model4_its_fourth_parameter():
    from intercluster.model_comparison import compare_models

    table = compare_models({3: 70.0, 4: 69.0}, 72, {3: 3, 4: 4}).set_index("model")
    assert table.loc[3, "aic"] == 76.0 and table.loc[4, "aic"] == 77.0
    assert table.loc[3, "reference"] == "chi2(69)" and table.loc[4, "reference"] == "chi2(68)"
    # negative control: one count for both would hide the extra parameter
    same = compare_models({3: 70.0, 4: 69.0}, 72, 3).set_index("model")
    assert same.loc[4, "aic"] < same.loc[3, "aic"]


def test_likelihood_ratio_reference():
    from scipy.stats import chi2

    plain = likelihood_ratio_test(10.0, 6.0)
    assert plain["p_value"] == pytest.approx(chi2.sf(4.0, 1))
    edge = likelihood_ratio_test(10.0, 6.0, on_boundary=True)
    assert edge["p_value"] == pytest.approx(0.5 * chi2.sf(4.0, 1))
    assert likelihood_ratio_test(5.0, 5.2)["statistic"] == 0.0  # floored
    with pytest.raises(ValueError, match="finite"):
        likelihood_ratio_test(float("nan"), 1.0)
