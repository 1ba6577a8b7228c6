"""Grid fit (intercluster.fit): grid and chunks, failures, chi², intervals, refinement, and
the recovery of the virtual experiment's truth (model 3, Table 1 constants, 40:40 nmol/L)."""

import numpy as np
import pandas as pd
import pytest
from fit_helpers import TRUTH, synthetic_intensities

from intercluster import fit
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings, experiment_times, experimental_tmax
from intercluster.simulate import SimulationResult
from intercluster.system import DEFAULT_SYSTEM

OBS = DEFAULT_SYSTEM.observables()
ION_LABELS = OBS["species"].tolist()
SETTINGS = TmaxSettings()
COND = fit.Conditions(40.0, 40.0, 20.0)
DEFAULT_GRID = {n: {"min": 1e-3, "max": 1.0, "n": 13} for n in ("k_dim", "k_diss", "k_ex")}
# 7 quarter-decade values per constant, 10^-2.5 .. 10^-1: contains the truth (1e-2,
# 10^-1.25 = 5.6e-2, 10^-1.5 = 3.2e-2 to the paper's two significant figures)
TEST_GRID = {n: {"min": 10**-2.5, "max": 10**-1.0, "n": 7} for n in ("k_dim", "k_diss", "k_ex")}


def test_default_grid_is_13_quarter_decades():
    points = fit.grid_points(DEFAULT_GRID)
    assert len(points) == 2197
    axes = fit.grid_axes(DEFAULT_GRID)
    for values in axes.values():
        assert np.allclose(np.diff(np.log10(values)), 0.25)
        for paper_value in (1.8e-3, 3.2e-3, 1e-2, 3.2e-2, 5.6e-2, 1e-1):
            assert np.min(np.abs(values / paper_value - 1)) < 0.02
    assert points["point"].tolist() == list(range(2197))


@pytest.mark.parametrize("n_chunks", [1, 7, 8, 2197])
def test_chunks_partition_the_grid(n_chunks):
    points = fit.grid_points(DEFAULT_GRID)
    seen = np.concatenate(
        [fit.chunk_points(points, c, n_chunks)["point"].to_numpy() for c in range(n_chunks)]
    )
    assert sorted(seen.tolist()) == list(range(2197))


def test_parse_scatteritem():
    assert fit.parse_scatteritem("3-of-8") == (2, 8)
    with pytest.raises(ValueError):
        fit.parse_scatteritem("9-of-8")
    with pytest.raises(ValueError):
        fit.parse_scatteritem("x")


def test_interval_from_profile_interpolates_in_log_and_flags_open_ends():
    values = 10.0 ** np.arange(-3, 0.01, 0.25)
    prof = (np.log10(values) + 1.5) ** 2 + 1.0  # minimum 1 at 10^-1.5
    iv = fit.interval_from_profile(values, prof, 1.0 + 0.0625)  # |dx| <= 0.25
    assert iv["low"] == pytest.approx(10**-1.75, rel=1e-9)
    assert iv["high"] == pytest.approx(10**-1.25, rel=1e-9)
    assert not iv["low_open"] and not iv["high_open"]
    iv = fit.interval_from_profile(values, prof, 100.0)
    assert iv["low_open"] and iv["high_open"]


def _experiment(seed=20210513, **kwargs):
    table = synthetic_intensities(seed=seed, **kwargs)
    return experiment_times(table), experimental_tmax(table, OBS, SETTINGS)


def test_failed_sets_are_marked_counted_and_excluded():
    """A NaN and a negative constant, and a simulator that fails or raises, for some sets."""
    times, exp_tmax = _experiment()
    grid = {n: {"min": 1e-2, "max": 1e-1, "n": 2} for n in ("k_dim", "k_diss", "k_ex")}
    points = fit.grid_points(grid)
    points.loc[1, "k_ex"] = np.nan
    points.loc[2, "k_dim"] = -1.0
    from intercluster.simulate import simulate

    def flaky(network, k_dim, k_diss, k_ex, *args, **kwargs):
        if k_diss == 1e-1 and k_ex == 1e-1 and k_dim == 1e-2:
            return SimulationResult("failed", "solver gave up (forced)", args[2], None, network)
        if k_dim == 1e-1 and k_diss == 1e-2 and k_ex == 1e-2:
            raise FloatingPointError("boom (forced)")
        return simulate(network, k_dim, k_diss, k_ex, *args, **kwargs)

    chunk = fit.run_chunk(ReactionNetwork(3), points, COND, times, ION_LABELS, SETTINGS, flaky)
    assert len(chunk) == 8
    status = dict(zip(chunk["point"], chunk["status"], strict=True))
    assert [status[p] for p in (1, 2, 3, 4)] == ["failed", "failed", "failed", "failed"]
    assert sum(s == "ok" for s in status.values()) == 4
    chi2 = fit.chi2_table({"s": (chunk, exp_tmax)})
    assert chi2.loc[chi2["status"] == "failed", "chi2"].isna().all()
    best = fit.best_fit(chi2, fit.grid_axes(grid))
    assert best["n_failed"] == 4 and best["n_ok"] == 4
    assert sum(best["failed_reasons"].values()) == 4
    assert any("boom" in reason for reason in best["failed_reasons"])
    assert best["best"]["point"] not in (1, 2, 3, 4)
    assert all(p["point"] not in (1, 2, 3, 4) for p in best["next_best"])


def test_joint_chi2_is_the_sum_over_samples():
    grid = {n: {"min": 1e-2, "max": 1e-1, "n": 2} for n in ("k_dim", "k_diss", "k_ex")}
    points = fit.grid_points(grid)
    per_sample = {}
    for name, (a, b) in {"x": (40.0, 40.0), "y": (100.0, 60.0)}.items():
        table = synthetic_intensities(ag_nM=a, au_nM=b)
        times = experiment_times(table)
        exp_tmax = experimental_tmax(table, OBS, SETTINGS)
        chunk = fit.run_chunk(ReactionNetwork(2), points, fit.Conditions(a, b), times, ION_LABELS,
                              SETTINGS)  # fmt: skip
        per_sample[name] = (chunk, exp_tmax)
    joint = fit.chi2_table(per_sample)
    single = {s: fit.chi2_table({s: per_sample[s]}) for s in per_sample}
    assert np.allclose(joint["chi2"], single["x"]["chi2"] + single["y"]["chi2"])
    assert (joint["n_species"] == single["x"]["n_species"] + single["y"]["n_species"]).all()
    residuals = fit.residual_table(per_sample, 0)
    assert len(residuals) == 2 * 77
    at_zero = joint.loc[joint["point"] == 0, "chi2"].item()
    assert residuals["residual_sq_min2"].sum() == pytest.approx(at_zero)


def _fit_model(model, times, exp_tmax):
    points = fit.grid_points(TEST_GRID)
    chunk = fit.run_chunk(ReactionNetwork(model), points, COND, times, ION_LABELS, SETTINGS)
    return chunk, fit.chi2_table({"ag40_au40": (chunk, exp_tmax)})


@pytest.fixture(scope="module")
def virtual_fit():
    """Grid fits of models 1-3 to a noisy virtual experiment with model 3's truth."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    times, exp_tmax = _experiment()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = {m: pool.submit(_fit_model, m, times, exp_tmax) for m in (3, 2, 1)}
        out = {m: futures[m].result() for m in (1, 2, 3)}
    return times, exp_tmax, out


def _step_index(values, x):
    return int(np.argmin(np.abs(np.log10(values) - np.log10(x))))


def test_virtual_experiment_recovers_model3_truth(virtual_fit):
    times, exp_tmax, fits = virtual_fit
    axes = fit.grid_axes(TEST_GRID)
    best = {m: fit.best_fit(fits[m][1], axes) for m in (1, 2, 3)}
    b3 = best[3]["best"]
    # k_ex exactly (the grid value nearest the truth)
    assert _step_index(axes["k_ex"], b3["k_ex"]) == _step_index(axes["k_ex"], TRUTH["k_ex"])
    # k_dim:k_diss within one grid step (quarter decade) of the truth's ratio
    ratio_truth = TRUTH["k_dim"] / TRUTH["k_diss"]
    assert abs(np.log10(b3["k_dim_to_k_diss"] / ratio_truth)) <= 0.25 + 0.01
    # model ranking
    assert best[3]["chi2"] <= best[2]["chi2"] < best[1]["chi2"]
    # the k_ex interval contains the truth and is bounded on the grid
    iv = best[3]["intervals"]["k_ex"]
    assert iv["low"] <= TRUTH["k_ex"] * 1.02 and iv["high"] >= TRUTH["k_ex"] * 0.98
    assert not iv["low_open"] and not iv["high_open"]
    assert best[3]["n_failed"] == 0


def test_refinement_does_not_get_worse_and_stays_in_bounds(virtual_fit):
    times, exp_tmax, fits = virtual_fit
    axes = fit.grid_axes(TEST_GRID)
    objective = fit.chi2_objective(
        ReactionNetwork(3), {"ag40_au40": (COND, times, exp_tmax)}, SETTINGS
    )
    result = fit.best_fit(fits[3][1], axes, objective=objective, max_evaluations=25)
    refined = result["refined"]
    assert refined["chi2"] <= result["chi2"] + 1e-9
    assert 1 <= refined["n_evaluations"] <= 26
    for name in ("k_dim", "k_diss", "k_ex"):
        assert axes[name].min() * (1 - 1e-9) <= refined[name] <= axes[name].max() * (1 + 1e-9)
    # the objective reproduces the grid's chi² at a grid point
    row = fits[3][1].iloc[100]
    value = objective(np.log10([row["k_dim"], row["k_diss"], row["k_ex"]]))
    assert value == pytest.approx(row["chi2"], rel=1e-12)


def test_chunk_results_do_not_depend_on_the_chunking(virtual_fit):
    times, exp_tmax, fits = virtual_fit
    points = fit.grid_points(TEST_GRID)
    parts = [
        fit.run_chunk(
            ReactionNetwork(3), fit.chunk_points(points, c, 50), COND, times, ION_LABELS, SETTINGS
        )  # fmt: skip
        for c in (0, 17)
    ]
    merged = pd.concat(parts).sort_values("point").reset_index(drop=True)
    reference = fits[3][0].set_index("point").loc[merged["point"]].reset_index()
    pd.testing.assert_frame_equal(merged, reference, check_exact=True)


def test_parquet_is_byte_reproducible(tmp_path, virtual_fit):
    chi2 = virtual_fit[2][3][1]
    fit.write_parquet(chi2, tmp_path / "a.parquet")
    fit.write_parquet(chi2.sample(frac=1, random_state=1).sort_values("point"),
                      tmp_path / "b.parquet")  # fmt: skip
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
