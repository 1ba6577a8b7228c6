"""Model 4 in the model comparison table (rule model_comparison): its row is model 4's
record (beta.json of rule fit_model4) as it stands: χ²_w, 4 parameters, AIC, its verdict
and the likelihood-ratio test against model 3; only ΔAIC and the Akaike weights are
computed over the set. Records made by exchange_bias's own functions (no grid)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_model4_figures import small_model4_record

from intercluster import fit, model_comparison

N_OBS = 67  # small_model4_record's observables


def weighted_tables(chi2: dict[int, float], n_species: int = N_OBS) -> dict[int, pd.DataFrame]:
    """Minimal weighted χ² tables of models 1-3 (the columns compare_fitted_models reads)."""
    return {
        m: pd.DataFrame({"chi2": [c, c + 10.0], "status": fit.STATUS_OK,
                         "n_species": n_species})  # fmt: skip
        for m, c in chi2.items()
    }


GRID_MODELS = {1: 900.0, 2: 400.0, 3: 520.0}


def test_model4_row_is_its_record_and_the_test_prefers_it_on_biased_data():
    record = small_model4_record(3.0)  # minimum at β = 3: model 3 far worse
    cmp = model_comparison.compare_fitted_models(weighted_tables(GRID_MODELS), model4=record)
    assert cmp["model"].tolist() == [1, 2, 3, 4]
    row = cmp.set_index("model").loc[4]
    fitted = record["model4"]
    # the record's numbers, not recomputed
    assert row["chi2_weighted_min"] == fitted["chi2_weighted"]
    assert row["aic"] == fitted["aic"] == pytest.approx(fitted["chi2_weighted"] + 8.0)
    assert row["n_parameters"] == 4
    assert cmp.set_index("model")["n_parameters"].loc[[1, 2, 3]].tolist() == [3, 3, 3]
    assert row["p_value"] == fitted["p_value"] and row["reference"] == fitted["reference"]
    assert bool(row["fits"]) is fitted["fits"] is True and row["gof_source"] == "chi2"
    lrt = record["likelihood_ratio"]
    assert row["lrt_against"] == 3 and row["lrt_statistic"] == lrt["statistic"]
    assert row["lrt_p_value"] == lrt["p_value"] and bool(row["lrt_prefers_full"])
    assert "the data prefer model 4" in row["statement"]
    assert "rule fit_model4" in row["statement"] and "β = 3" in row["statement"]
    # ΔAIC and the weights are over the whole set: model 4 is best
    assert row["delta_aic"] == 0.0 and cmp["akaike_weight"].sum() == pytest.approx(1.0)
    assert cmp.set_index("model").loc[2, "delta_aic"] == pytest.approx(406.0 - fitted["aic"])
    # the other models carry no test
    assert cmp.loc[cmp["model"] != 4, "lrt_statistic"].isna().all()
    text = model_comparison.model_comparison_statement(cmp)
    assert "AIC prefers model 4" in text and "fourth" in text


def test_unbiased_record_keeps_model3_and_without_a_record_no_row():
    """Negative controls: a record at β = 1 (model 3's data) does not prefer model 4, and
    without a record the table is models 1-3 as before."""
    neutral = model_comparison.compare_fitted_models(weighted_tables(GRID_MODELS),
                                                     model4=small_model4_record(1.0))  # fmt: skip
    row = neutral.set_index("model").loc[4]
    assert not bool(row["lrt_prefers_full"]) and row["lrt_p_value"] >= 0.05
    assert "model 3 suffices" in row["statement"]
    plain = model_comparison.compare_fitted_models(weighted_tables(GRID_MODELS))
    assert plain["model"].tolist() == [1, 2, 3]
    assert plain["lrt_statistic"].isna().all()
    assert "equal numbers of constants" in model_comparison.model_comparison_statement(plain)
    # models 1-3's own rows do not change with model 4 beside them (only ΔAIC and weights)
    both = neutral.set_index("model").loc[[1, 2, 3]]
    for column in ("chi2_weighted_min", "aic", "fits", "p_value", "reference"):
        assert both[column].tolist() == plain.set_index("model")[column].tolist()


def test_model4_calibrated_verdict_and_other_observables():
    record = small_model4_record(3.0)
    record["model4"]["goodness_of_fit"] = {
        "available": True, "consistent": False, "reference": "parametric bootstrap",
        "limit": 30.0, "quantile": 0.99, "p_value": 0.005,
        "statement": "capped chi2_w 50 against a parametric bootstrap: the model does not fit",
    }  # fmt: skip
    cmp = model_comparison.compare_fitted_models(weighted_tables(GRID_MODELS), model4=record)
    row = cmp.set_index("model").loc[4]
    # judged by the calibrated verdict where the record holds one; χ² verdict kept beside it
    assert row["gof_source"] == "calibrated" and not bool(row["fits"])
    assert bool(row["fits_chi2"]) and row["reference_limit"] == 30.0
    assert "the data prefer model 4" in row["statement"]  # the test survives the rewording
    with pytest.raises(ValueError, match="not the same data"):
        model_comparison.compare_fitted_models(weighted_tables(GRID_MODELS, N_OBS + 1),
                                               model4=record)  # fmt: skip
    with pytest.raises(ValueError, match="not a model-4 record"):
        model_comparison.model4_row({"beta": 1.0})
    assert np.isfinite(cmp["aic"]).all()


def test_statement_says_when_model3_fitted_beside_model4_lies_lower():
    """Model 3's row (grid rules) may sit above model 3 as fitted beside model 4: the words
    say that AIC then overstates model 4's advantage; not when the two agree (control)."""
    record = small_model4_record(1.0)  # β = 1: model 3 beside it at chi2 50
    beside = record["model3"]["chi2_weighted"]
    higher = model_comparison.compare_fitted_models(weighted_tables({3: beside + 150.0}),
                                                    model4=record)  # fmt: skip
    assert higher.set_index("model").loc[4, "lrt_chi2_nested"] == beside
    assert "AIC overstates" in model_comparison.model_comparison_statement(higher)
    same = model_comparison.compare_fitted_models(weighted_tables({3: beside}), model4=record)
    assert "AIC overstates" not in model_comparison.model_comparison_statement(same)
