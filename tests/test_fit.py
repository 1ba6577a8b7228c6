"""Grid fit (intercluster.fit): grid and chunks, failures, chi², intervals, refinement, and
the recovery of the virtual experiment's truth (model 3, Table 1 constants, 40:40 nmol/L)."""

import numpy as np
import pandas as pd
import pytest
from fit_helpers import TRUTH, synthetic_intensities
from workflow_helpers import NUCLEARITY

from intercluster import fit
from intercluster.fit import best_fit, intervals, refine, zoom
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings, experiment_times, experimental_tmax
from intercluster.settings import ZoomSettings
from intercluster.simulate import SimulationResult
from intercluster.system import DEFAULT_SYSTEM

OBS = DEFAULT_SYSTEM.observables()
ION_LABELS = OBS["species"].tolist()
SETTINGS = TmaxSettings.schema_default()
# The interval rules of config.yaml (fit.interval_delta_chi2_rel, fit.interval_f_confidence).
INTERVALS = {"delta_rel": 0.10, "f_confidence": 0.95}
COND = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
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
    iv = intervals.interval_from_profile(values, prof, 1.0 + 0.0625)  # |dx| <= 0.25
    assert iv["low"] == pytest.approx(10**-1.75, rel=1e-9)
    assert iv["high"] == pytest.approx(10**-1.25, rel=1e-9)
    assert not iv["low_open"] and not iv["high_open"]
    # the grid bracket: the first grid values outside the threshold (10^-1.75 is on it)
    assert iv["low_grid"] == pytest.approx(10**-2.0, rel=1e-9)
    assert iv["high_grid"] == pytest.approx(10**-1.0, rel=1e-9)
    iv = intervals.interval_from_profile(values, prof, 100.0)
    assert iv["low_open"] and iv["high_open"]
    assert iv["low_grid"] is None and iv["high_grid"] is None


def test_interval_narrower_than_a_grid_step_keeps_a_grid_bracket():
    """Only the best grid value below the threshold: the interpolated ends lie within one
    step of it, the bracket is its two neighbours; a point between grid values, inside the
    bracket but outside the interpolated ends, is in the box, a point beyond is not."""
    values = 10.0 ** np.arange(-3, 0.01, 0.25)
    prof = 100.0 * (np.log10(values) + 1.5) ** 2 + 1.0  # steep: only 10^-1.5 below 1.1
    iv = intervals.interval_from_profile(values, prof, 1.1)
    assert np.log10(iv["high"]) - np.log10(iv["low"]) < 0.25
    assert iv["low_grid"] == pytest.approx(10**-1.75)
    assert iv["high_grid"] == pytest.approx(10**-1.25)
    box = dict.fromkeys(fit.RATE_CONSTANTS, iv)
    between = dict.fromkeys(fit.RATE_CONSTANTS, 10**-1.4)  # beyond iv["high"], inside bracket
    assert between["k_ex"] > iv["high"]
    assert all(intervals.in_interval_box(box, between).values())
    beyond = {**between, "k_diss": 10**-1.2}
    assert intervals.in_interval_box(box, beyond) == {
        "k_dim": True, "k_diss": False, "k_ex": True}
    # an open end bounds nothing on its side
    open_low = intervals.interval_from_profile(values, (np.log10(values) + 3) ** 2 + 1.0, 1.1)
    assert open_low["low_open"] and open_low["low_grid"] is None
    assert intervals.in_interval_box(dict.fromkeys(fit.RATE_CONSTANTS, open_low),
                               dict.fromkeys(fit.RATE_CONSTANTS, 1e-9))["k_ex"]  # fmt: skip


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

    def flaky(network, k, conditions, times_s, options):
        if k.k_diss == 1e-1 and k.k_ex == 1e-1 and k.k_dim == 1e-2:
            return SimulationResult("failed", "solver gave up (forced)", times_s, None, network)
        if k.k_dim == 1e-1 and k.k_diss == 1e-2 and k.k_ex == 1e-2:
            raise FloatingPointError("boom (forced)")
        return simulate(network, k, conditions, times_s, options)

    chunk = fit.run_chunk(ReactionNetwork(3, nuclearity=NUCLEARITY), points, COND, times,
                          ION_LABELS, SETTINGS, flaky)
    assert len(chunk) == 8
    status = dict(zip(chunk["point"], chunk["status"], strict=True))
    assert [status[p] for p in (1, 2, 3, 4)] == ["failed", "failed", "failed", "failed"]
    assert sum(s == "ok" for s in status.values()) == 4
    chi2 = fit.chi2_table({"s": (chunk, exp_tmax)})
    assert chi2.loc[chi2["status"] == "failed", "chi2"].isna().all()
    best = best_fit.best_fit(chi2, fit.grid_axes(grid), delta_rel=0.10, f_confidence=0.95)
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
        cond = fit.Conditions.from_dict({"ag_nM": a, "au_nM": b, "dead_time_s": 20.0})
        chunk = fit.run_chunk(ReactionNetwork(2, nuclearity=NUCLEARITY), points, cond, times,
                              ION_LABELS, SETTINGS)
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
    chunk = fit.run_chunk(ReactionNetwork(model, nuclearity=NUCLEARITY), points, COND, times,
                          ION_LABELS, SETTINGS)
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
    best = {m: best_fit.best_fit(fits[m][1], axes, **INTERVALS) for m in (1, 2, 3)}
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
    objective = refine.chi2_objective(
        ReactionNetwork(3, nuclearity=NUCLEARITY), {"ag40_au40": (COND, times, exp_tmax)}, SETTINGS
    )
    result = best_fit.best_fit(fits[3][1], axes, **INTERVALS, objective=objective,
                               max_evaluations=25)  # fmt: skip
    refined = result["refined"]
    assert refined["chi2"] <= result["chi2"] + 1e-9
    assert 1 <= refined["n_evaluations"] <= 26
    for name in ("k_dim", "k_diss", "k_ex"):
        assert axes[name].min() * (1 - 1e-9) <= refined[name] <= axes[name].max() * (1 + 1e-9)
    # the objective reproduces the grid's chi² at a grid point
    row = fits[3][1].iloc[100]
    value = objective(np.log10([row["k_dim"], row["k_diss"], row["k_ex"]]))
    assert value == pytest.approx(row["chi2"], rel=1e-12)


def test_shared_cache_simulates_each_point_once_and_changes_no_value(virtual_fit):
    """Objectives sharing a cache (the weighted and unweighted refinement of a job) simulate
    a point of a sample once and give the values of their uncached twins; a point of another
    sample, or other settings, is simulated anew."""
    from intercluster.simulate import simulate

    times, exp_tmax, _ = virtual_fit
    exp_tmax = exp_tmax.assign(sigma_min=0.1 + 0.01 * np.arange(len(exp_tmax)))
    calls = []

    def counting(*args):
        calls.append(args[1])
        return simulate(*args)

    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    other = fit.Conditions.from_dict({"ag_nM": 60.0, "au_nM": 100.0, "dead_time_s": 20.0})
    one = {"ag40_au40": (COND, times, exp_tmax)}
    cache = {}
    shared = {"simulator": counting, "cache": cache}
    plain = refine.chi2_objective(net, one, SETTINGS, **shared)
    weighted = refine.chi2_objective(net, one, SETTINGS, weighted=True, **shared)
    both = refine.chi2_objective(net, {**one, "b": (other, times, exp_tmax)}, SETTINGS, **shared)
    x, y = np.log10([TRUTH["k_dim"], TRUTH["k_diss"], TRUTH["k_ex"]]), np.log10([2e-2, 5e-2, 3e-2])
    values = [plain(x), weighted(x), plain(x), plain(y), both(x)]
    assert len(calls) == 3  # x, y, then x of the second sample only
    assert len(cache) == 3
    uncached = [
        refine.chi2_objective(net, one, SETTINGS)(x),
        refine.chi2_objective(net, one, SETTINGS, weighted=True)(x),
        refine.chi2_objective(net, one, SETTINGS)(x),
        refine.chi2_objective(net, one, SETTINGS)(y),
        refine.chi2_objective(net, {**one, "b": (other, times, exp_tmax)}, SETTINGS)(x),
    ]
    assert values == uncached
    assert values[1] != values[0]  # the weighted one divides by sigma_min
    wider = TmaxSettings(**{**SETTINGS.__dict__, "smoothing_min": 2 * SETTINGS.smoothing_min})
    refine.chi2_objective(net, one, wider, **shared)(x)
    assert len(calls) == 4


def test_f_test_delta_is_scipy_stats_f_quantile():
    from scipy.stats import f

    for n, conf in ((77, 0.95), (5, 0.68), (300, 0.99)):
        assert intervals.f_test_delta(n, 3, conf) == f.ppf(conf, 1, n - 3) / (n - 3)
    assert np.isnan(intervals.f_test_delta(3, 3, 0.95))


def test_chunk_results_do_not_depend_on_the_chunking(virtual_fit):
    times, exp_tmax, fits = virtual_fit
    points = fit.grid_points(TEST_GRID)
    parts = [
        fit.run_chunk(
            ReactionNetwork(3, nuclearity=NUCLEARITY), fit.chunk_points(points, c, 50), COND,
            times, ION_LABELS, SETTINGS
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


# --- streaming chi² ------------------------------------------------------------------------
def _random_chunk_tables(rng, n_points, n_chunks, failed=()):
    species = ION_LABELS
    tmax = rng.uniform(0.0, 60.0, (n_points, len(species)))
    frame = pd.DataFrame({"point": np.arange(n_points, dtype=np.int64),
                          "k_dim": rng.random(n_points), "k_diss": rng.random(n_points),
                          "k_ex": rng.random(n_points)})  # fmt: skip
    frame["status"] = np.where(np.isin(frame["point"], failed), "failed", "ok")
    frame["message"] = np.where(frame["status"] == "failed", "too many steps", "")
    frame = pd.concat([frame, pd.DataFrame(tmax, columns=species)], axis=1)
    frame.loc[frame["status"] == "failed", species] = np.nan
    return [frame[frame["point"] % n_chunks == c].reset_index(drop=True) for c in range(n_chunks)]


def test_streaming_chi2_equals_the_in_memory_table(tmp_path):
    rng = np.random.default_rng(5)
    _, exp_tmax = _experiment()
    other = exp_tmax.copy()
    other["t_max_min"] = rng.uniform(0.0, 60.0, len(other))
    n = 501
    tables = {"x": _random_chunk_tables(rng, n, 3, failed=(7, 100)),
              "y": _random_chunk_tables(rng, n, 4, failed=(100, 300))}  # fmt: skip
    paths = {}
    for sample, parts in tables.items():
        paths[sample] = []
        for c, part in enumerate(parts):
            path = tmp_path / f"{sample}_{c}.parquet"
            fit.write_parquet(part, path)
            paths[sample].append(path)
    exps = {"x": exp_tmax, "y": other}
    for sample in ("x", "y"):
        reference = fit.chi2_table({sample: (fit.merge_chunks(tables[sample]), exps[sample])})
        streamed = fit.chi2_streaming({sample: paths[sample]}, {sample: exps[sample]}, n,
                                      batch_rows=17)  # fmt: skip
        pd.testing.assert_frame_equal(streamed, reference, check_exact=True)
    joint = fit.chi2_streaming(paths, exps, n, batch_rows=64)
    single = {s: fit.chi2_streaming({s: paths[s]}, {s: exps[s]}, n) for s in paths}
    both_ok = joint["status"] == "ok"
    assert np.array_equal(joint.loc[both_ok, "chi2"],
                          (single["x"]["chi2"] + single["y"]["chi2"])[both_ok])  # fmt: skip
    assert joint.loc[joint["point"] == 100, "message"].item() == (
        "x: too many steps; y: too many steps")
    assert (joint["status"] == "failed").sum() == 3
    # a point twice, or one missing, is an error (negative controls)
    with pytest.raises(ValueError, match="more than one chunk"):
        fit.chi2_streaming({"x": paths["x"] + paths["x"][:1]}, {"x": exp_tmax}, n)
    with pytest.raises(ValueError, match="the grid has 501"):
        fit.chi2_streaming({"x": paths["x"][:2]}, {"x": exp_tmax}, n)
    # the residuals' row comes from the chunk that holds the point
    row = fit.chunk_row(paths["y"], 302)
    assert row["point"].item() == 302 and row["status"].item() == "ok"


def _hand_chi2(tables, exps, sigma: bool) -> np.ndarray:
    """chi² per point written out with pandas (the test's own reference): Σ over samples and
    included observables of ((t_sim - t_exp)/σ)², NaN where any sample failed."""
    total = 0.0
    for sample, parts in tables.items():
        sim = fit.merge_chunks(parts).set_index("point")
        exp = exps[sample][exps[sample]["included"].astype(bool)].set_index("species")
        scale = exp["sigma_min"] if sigma else 1.0
        z = (sim[exp.index] - exp["t_max_min"]) / scale
        total = total + (z**2).sum(axis=1).where(sim["status"] == "ok")
    return total.sort_index().to_numpy()


def test_one_pass_gives_eq1_and_weighted_chi2_of_the_two_separate_reductions(tmp_path):
    """rule fit_chi2: both χ² from one read of every chunk, bit for bit those of two passes."""
    rng = np.random.default_rng(11)
    _, exp_tmax = _experiment()
    exps = {"x": exp_tmax.assign(sigma_min=rng.uniform(0.5, 3.0, len(exp_tmax))),
            "y": exp_tmax.assign(t_max_min=rng.uniform(0.0, 60.0, len(exp_tmax)),
                                 sigma_min=rng.uniform(0.5, 3.0, len(exp_tmax)))}  # fmt: skip
    n = 301
    tables = {"x": _random_chunk_tables(rng, n, 3, failed=(5,)),
              "y": _random_chunk_tables(rng, n, 2, failed=(5, 77))}  # fmt: skip
    paths = {s: [] for s in tables}
    for sample, parts in tables.items():
        for c, part in enumerate(parts):
            paths[sample].append(tmp_path / f"{sample}_{c}.parquet")
            fit.write_parquet(part, paths[sample][-1])
    opened = []

    def counted(sample):  # a chunk source that records every read of a sample's chunks
        source = fit.chunk_batches(paths[sample], 50)
        return lambda columns: (opened.append(sample), source(columns))[1]

    both = fit.chi2_reductions({s: counted(s) for s in paths}, exps, n)
    assert sorted(opened) == ["x", "y"]  # every sample's chunks read once for both kinds
    separate = {kind: fit.chi2_streaming(paths, exps, n, batch_rows=50, weighted=weighted)
                for kind, weighted in ((fit.EQ1, False), (fit.WEIGHTED, True))}  # fmt: skip
    for kind in fit.CHI2_KINDS:
        pd.testing.assert_frame_equal(both[kind], separate[kind], check_exact=True)
        fit.write_parquet(both[kind], tmp_path / "one.parquet")
        fit.write_parquet(separate[kind], tmp_path / "two.parquet")
        assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    # ... and those are the χ² written out by hand (not only the reducer agreeing with itself)
    for kind, sigma in ((fit.EQ1, False), (fit.WEIGHTED, True)):
        expected = _hand_chi2(tables, exps, sigma)
        assert np.isnan(both[kind]["chi2"]).tolist() == np.isnan(expected).tolist()
        assert both[kind]["chi2"].to_numpy() == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert both[fit.EQ1]["status"].eq("failed").sum() == 2
    assert both[fit.EQ1].drop(columns="chi2").equals(both[fit.WEIGHTED].drop(columns="chi2"))
    # negative controls: two passes read every sample twice, the kinds are not interchangeable
    # (σ ≠ 1), another σ changes the weighted χ² only, and a σ of 0 is refused before reading
    opened.clear()
    for kind in fit.CHI2_KINDS:
        fit.chi2_reductions({s: counted(s) for s in paths}, exps, n, kinds=(kind,))
    assert sorted(opened) == ["x", "x", "y", "y"]
    assert not np.allclose(both[fit.EQ1]["chi2"], both[fit.WEIGHTED]["chi2"], equal_nan=True)
    doubled = {s: e.assign(sigma_min=2 * e["sigma_min"]) for s, e in exps.items()}
    other = fit.chi2_streaming_all(paths, doubled, n)
    pd.testing.assert_frame_equal(other[fit.EQ1], both[fit.EQ1], check_exact=True)
    assert other[fit.WEIGHTED]["chi2"].to_numpy() == pytest.approx(
        both[fit.WEIGHTED]["chi2"].to_numpy() / 4, nan_ok=True)
    assert not np.allclose(other[fit.WEIGHTED]["chi2"], both[fit.WEIGHTED]["chi2"],
                           equal_nan=True)  # fmt: skip
    opened.clear()
    with pytest.raises(ValueError, match="σ > 0"):
        fit.chi2_reductions({s: counted(s) for s in paths},
                            {**exps, "y": exps["y"].assign(sigma_min=0.0)}, n)  # fmt: skip
    assert opened == []
    with pytest.raises(ValueError, match="kinds"):
        fit.chi2_reductions({s: counted(s) for s in paths}, exps, n, kinds=("chi3",))


# --- zoom ------------------------------------------------------------------------------------
def _bowl(points, centre, scale=1.0):
    logs = np.log10(points[["k_dim", "k_diss", "k_ex"]].to_numpy())
    return scale * (1.0 + np.sum((logs - np.log10(centre)) ** 2, axis=1))


def _chi2_of(points, values):
    out = points[["point", "k_dim", "k_diss", "k_ex"]].copy()
    out["chi2"] = values
    out["n_species"] = np.int64(50)
    out["status"] = "ok"
    out["message"] = ""
    return out


def test_zoom_centres_are_the_best_point_and_near_equal_local_minima():
    points = fit.grid_points(DEFAULT_GRID)
    axes = fit.grid_axes(DEFAULT_GRID)
    first, second = (1e-2, 10**-1.25, 10**-1.5), (10**-2.5, 10**-0.5, 10**-1.0)
    values = np.minimum(_bowl(points, first), _bowl(points, second, 1.05))
    chi2 = _chi2_of(points, values)
    minima = zoom.local_minima(chi2, axes)
    assert len(minima) == 2
    settings = ZoomSettings(enabled=True, step_decades=0.05, half_width_steps=1, max_centres=3)
    centres = zoom.zoom_centres(chi2, axes, 0.10, settings)
    assert np.allclose(centres[["k_dim", "k_diss", "k_ex"]].to_numpy(), [first, second])
    assert len(zoom.zoom_centres(chi2, axes, 0.01, settings)) == 1  # outside the threshold
    zoomed = zoom.zoom_points(chi2, DEFAULT_GRID, 0.10, settings)
    assert len(zoomed) == 2 * 11**3  # two disjoint boxes of +-1 grid step at 1/20 decade
    assert not zoomed.duplicated(["i_dim", "i_diss", "i_ex"]).any()
    for centre in (first, second):
        hit = np.all(np.isclose(zoomed[["k_dim", "k_diss", "k_ex"]].to_numpy(), centre,
                                rtol=1e-12), axis=1)  # fmt: skip
        assert hit.sum() == 1
    plan = fit.grid_orbits(zoomed)
    assert plan.orbits is not None  # equal fine steps on every axis
    # a centre at the grid's corner: the box is clipped to the grid
    corner = _chi2_of(points, _bowl(points, (1.0, 1.0, 1e-3)))
    clipped = zoom.zoom_points(corner, DEFAULT_GRID, 0.10, settings)
    assert len(clipped) == 6**3
    assert clipped["k_dim"].max() == pytest.approx(1.0) and clipped["k_ex"].min() == pytest.approx(
        1e-3)


def test_zoom_intervals_use_the_coarse_end_beyond_the_box():
    points = fit.grid_points(DEFAULT_GRID)
    axes = fit.grid_axes(DEFAULT_GRID)
    centre = (1e-2, 10**-1.25, 10**-1.5)
    assert np.isclose(fit.grid_axes(DEFAULT_GRID)["k_dim"], centre[0]).any()

    def valley(p):  # flat along k_dim: that interval is wider than the zoom box
        lg = np.log10(p[["k_dim", "k_diss", "k_ex"]].to_numpy())
        return 1.0 + 0.01 * (lg[:, 0] + 2) ** 2 + (lg[:, 1] + 1.25) ** 2 + 4 * (lg[:, 2] + 1.5) ** 2

    chi2 = _chi2_of(points, valley(points))
    settings = ZoomSettings(enabled=True, step_decades=0.05, half_width_steps=1, max_centres=3)
    zoom_pts = zoom.zoom_points(chi2, DEFAULT_GRID, 0.10, settings)
    zoom_chi2 = _chi2_of(zoom_pts, valley(zoom_pts))
    best = best_fit.best_fit(chi2, axes, **INTERVALS, zoom_chi2=zoom_chi2, zoom_settings=settings)
    assert best["intervals"]["source"] == "zoom"
    k_dim = best["intervals"]["k_dim"]
    assert k_dim["low_from"] == "coarse" and k_dim["high_from"] == "coarse"
    assert k_dim["low"] == best["intervals_coarse"]["k_dim"]["low"]
    k_ex = best["intervals"]["k_ex"]  # inside the box: the zoom's own, finer interval
    assert "low_from" not in k_ex and "high_from" not in k_ex
    half = np.sqrt(0.1 / 4)  # chi2 = 1 + 4 dx^2 <= 1.1: 0.16 decades, inside the box
    assert np.log10(k_ex["low"]) == pytest.approx(-1.5 - half, abs=0.005)
    assert np.log10(k_ex["high"]) == pytest.approx(-1.5 + half, abs=0.005)
    assert best["zoom"]["best"]["chi2"] == pytest.approx(1.0)


def test_zoom_interval_at_its_box_takes_the_coarse_bracket_not_a_narrower_crossing():
    """A zoom still below the threshold at its box edge, around a coarse interval narrower
    than a grid step: the coarse crossings lie inside the box (they would shrink what the zoom
    measured), so the ends become the coarse grid bracket (first grid values outside)."""
    points = fit.grid_points(DEFAULT_GRID)
    axes = fit.grid_axes(DEFAULT_GRID)
    centre = (1e-2, 10**-1.25, 10**-1.5)
    logs = np.log10(points[["k_dim", "k_diss", "k_ex"]].to_numpy())
    chi2 = _chi2_of(points, 1.0 + 100 * np.sum((logs - np.log10(centre)) ** 2, axis=1))
    settings = ZoomSettings(enabled=True, step_decades=0.05, half_width_steps=1, max_centres=3)
    zoom_pts = zoom.zoom_points(chi2, DEFAULT_GRID, 0.10, settings)
    zoom_chi2 = _chi2_of(zoom_pts, np.ones(len(zoom_pts)))  # flat over the whole box
    best = best_fit.best_fit(chi2, axes, **INTERVALS, zoom_chi2=zoom_chi2, zoom_settings=settings)
    for name, c in zip(fit.RATE_CONSTANTS, centre, strict=True):
        coarse, zoomed = best["intervals_coarse"][name], best["intervals"][name]
        assert coarse["high"] < c * 10**0.05  # the crossing: inside the box's first fine step
        assert zoomed["low_from"] == zoomed["high_from"] == "coarse_grid"
        assert zoomed["low"] == pytest.approx(c * 10**-0.25) == coarse["low_grid"]
        assert zoomed["high"] == pytest.approx(c * 10**0.25) == coarse["high_grid"]


@pytest.mark.slow
def test_zoom_on_the_40_40_sample_stays_inside_the_coarse_interval_box():
    """The issue's acceptance, literally: on a 40:40 virtual experiment (model 3, the paper's
    13^3 grid; the noisy stand-in of fit_helpers, no MS in the loop) the zoom with the
    settings of config.yaml fit.zoom finds a best point inside the coarse grid's interval box
    and a chi² <= the coarse optimum's.

    The box is the grid-resolution bracket of the coarse intervals (``low_grid``/``high_grid``
    of intervals.interval_from_profile: the first grid value outside the threshold on each side).
    The interpolated ends cannot hold it: only the best grid value's profile lies below the
    threshold, so they are narrower than one grid step, while the k_dim-k_diss valley runs
    diagonally between grid points and the zoom's best lies off them.
    Negative control: the box of a wrong point (the coarse table with another point made the
    best, two grid steps away along k_ex) does not contain the zoom's best."""
    from pathlib import Path

    import yaml

    from intercluster.network import ReactionNetwork as Net

    with open(Path(__file__).resolve().parents[1] / "config" / "config.yaml") as handle:
        config = yaml.safe_load(handle)
    settings = ZoomSettings.from_config(config["fit"]["zoom"])  # (enabled or not)
    grid = config["fit"]["grid"]
    times, exp_tmax = _experiment()
    options = fit.simulator_options(config["kinetics"])
    coarse_points = fit.grid_points(grid)
    plan = fit.grid_orbits(coarse_points)
    coarse = fit.run_chunk(Net(3, nuclearity=NUCLEARITY), coarse_points, COND, times,
                           ION_LABELS, SETTINGS, options=options, orbits=plan.orbits)  # fmt: skip
    chi2 = fit.chi2_table({"ag40_au40": (coarse, exp_tmax)})
    delta = float(config["fit"]["interval_delta_chi2_rel"])
    zoom_pts = zoom.zoom_points(chi2, grid, delta, settings)
    zoom_plan = fit.grid_orbits(zoom_pts)
    zoom_sim = fit.run_chunk(Net(3, nuclearity=NUCLEARITY), zoom_pts, COND, times, ION_LABELS,
                             SETTINGS, options=options, orbits=zoom_plan.orbits)  # fmt: skip
    zoom_chi2 = fit.chi2_table({"ag40_au40": (zoom_sim, exp_tmax)})
    best = best_fit.best_fit(chi2, fit.grid_axes(grid), delta_rel=delta, f_confidence=0.95,
                        zoom_chi2=zoom_chi2, zoom_settings=settings)  # fmt: skip
    zoom_best = best["zoom"]["best"]
    coarse_iv = best["intervals_coarse"]
    all_in = dict.fromkeys(fit.RATE_CONSTANTS, True)
    assert intervals.in_interval_box(coarse_iv, zoom_best) == all_in
    assert best["zoom"]["best_in_coarse_box"] == dict.fromkeys(fit.RATE_CONSTANTS, True)
    assert zoom_best["chi2"] <= best["chi2"]
    for name in fit.RATE_CONSTANTS:
        iv = coarse_iv[name]  # a bracket, not a point: both ends on the grid, around the best
        assert iv["low_grid"] < best[name] < iv["high_grid"], name
        assert np.isclose(fit.grid_axes(grid)[name], iv["low_grid"], rtol=1e-12).any()
        # the intervals are now the zoom's, around its own best point
        zoom_iv = best["intervals"][name]
        assert zoom_iv["low"] * (1 - 1e-9) <= zoom_best[name] <= zoom_iv["high"] * (1 + 1e-9)
    # negative control: the box around a wrong point
    step = float(np.diff(np.log10(fit.grid_axes(grid)["k_ex"]))[0])
    wrong = chi2.copy()
    target = np.isclose(wrong["k_dim"], best["k_dim"]) & np.isclose(
        wrong["k_diss"], best["k_diss"]) & np.isclose(
        np.log10(wrong["k_ex"]), np.log10(best["k_ex"]) + 2 * step)  # fmt: skip
    assert target.sum() == 1
    wrong.loc[target, "chi2"] = 0.5 * best["chi2"]
    wrong_iv = intervals.profile_intervals(wrong, delta)
    inside = intervals.in_interval_box(wrong_iv, zoom_best)
    assert not inside["k_ex"], wrong_iv["k_ex"]
    assert best["zoom"]["n_failed"] == 0 and len(zoom_chi2) >= 11**3
