"""Model 4 in the figures: S6 with model 4's distributions beside the binomial, the β
profile panel, and the figure scripts of S6 and Figure 3 with and without model 4 in
fit.models (plot functions and scripts on small synthetic files; no grid)."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_figures import DPI, as_experiment, png_size, simulated
from workflow_helpers import REPO, small_config

from intercluster import exchange_bias, figures
from intercluster.io import write_json, write_tsv
from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
from intercluster.rule_script import Fields
from intercluster.simulate import simulate
from intercluster.system import DEFAULT_SYSTEM

K = RateConstants(1e-2, 5.6e-2, 3.2e-2)


def model4_frame(beta: float) -> pd.DataFrame:
    """Model 4's observables in the figures' layout (what simulate_best writes)."""
    times = np.arange(0.0, 60.0 + 1e-9, 1.0)
    cond = SampleConditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
    result = simulate(ReactionNetwork(4, "S", 25, beta=beta), K, cond, times * 60)
    obs = DEFAULT_SYSTEM.observables()
    table = pd.DataFrame({
        "time_min": np.repeat(times, len(obs)),
        "species": np.tile(obs["species"], len(times)),
        "kind": np.tile(obs["kind"], len(times)),
        "charge": np.tile(obs["charge"], len(times)),
        "n_first": np.tile(obs["n_first"], len(times)),
        "concentration_nM": result.observables.ravel(),
    })  # fmt: skip
    return figures.normalise_observables(table)


def test_s6_draws_model4_beside_the_binomial(tmp_path):
    data = simulated(3)[0]
    narrow = model4_frame(3.0)
    entry = figures.SampleDistribution("a", 0.5, data, True, "a (40:40)", narrow, 3.0)
    fig = figures.figure_s6([entry], DEFAULT_SYSTEM, window_min=10)
    for ax in fig.axes[:2]:
        labels = [line.get_label() for line in ax.get_lines()]
        assert any(label.startswith("model 4, β = 3") for label in labels)
        model_line = next(li for li in ax.get_lines() if li.get_label().startswith("model 4"))
        y = np.asarray(model_line.get_ydata())
        x = np.arange(y.size)
        mean = (x * y).sum()
        variance = ((x - mean) ** 2 * y).sum()
        # narrower than the binomial of the same size (N p (1 - p) at p = 1/2)
        assert variance < 0.8 * (y.size - 1) * 0.25
    # negative control: without model 4 no such line
    plain = figures.figure_s6([figures.SampleDistribution("a", 0.5, data, True)],
                              DEFAULT_SYSTEM, window_min=10)  # fmt: skip
    assert not any(li.get_label().startswith("model 4") for ax in plain.axes
                   for li in ax.get_lines())  # fmt: skip
    png, pdf = tmp_path / "s6.png", tmp_path / "s6.pdf"
    figures.save_figure(fig, png, pdf, DPI)
    assert png_size(png) == figures.pixel_size("s6", DPI, 1)


def test_beta_profile_panel(tmp_path):
    beta = np.array([1.0, 1.5, 1.9, 2.0, 2.1, 3.0])
    chi2 = 40 + 300 * np.log(beta / 2.0) ** 2 * 100
    prof = pd.DataFrame({"beta": beta, "chi2_weighted": chi2, "k_dim": 1e-2, "k_diss": 5e-2,
                         "k_ex": 3e-2})  # fmt: skip
    summary = exchange_bias.beta_summary(prof, 298.0, refined_optimum=True)
    fig = figures.figure_beta_profile(summary, synthetic=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert any("ΔG" in a.get_xlabel() for a in fig.axes[1:])  # top axis: ΔG_mix = -RT ln β
    title = fig._suptitle.get_text()
    assert "β = 2" in title and "kJ/mol" in title
    assert len(ax.patches) == 1  # the interval
    png, pdf = tmp_path / "b.png", tmp_path / "b.pdf"
    figures.save_figure(fig, png, pdf, DPI)
    assert png_size(png) == figures.pixel_size("beta_profile", DPI)


# --- the figure scripts with and without model 4 in fit.models ---------------------------
# The rules pass params.model4 (record and per-sample simulations) only when fit.models lists
# 4 (figures_functions.smk: model4_files); the scripts are run here on small files with the
# figure captured, instead of running the grid (tests/test_workflow_model4.py: the wiring).


def small_model4_record(beta: float = 3.0, temperature_K: float = 298.0) -> dict:
    """beta.json of a small fit, made by exchange_bias's own functions from a profile with
    its minimum at ``beta`` (the tail of exchange_bias.fit_model4, without the grid)."""
    grid = np.array([1.0, 1.5, 2.0, 3.0, 4.0])
    prof = pd.DataFrame({"beta": grid, "chi2_weighted": 50 + 400 * np.log(grid / beta) ** 2,
                         "k_dim": K.k_dim, "k_diss": K.k_diss, "k_ex": K.k_ex})  # fmt: skip
    summary = exchange_bias.beta_summary(prof, temperature_K, refined_optimum=True)
    chi2_model3 = float(prof["chi2_weighted"].iloc[0])
    comparison = exchange_bias.compare_with_model3(chi2_model3, prof, 67)
    aic = comparison["aic"].set_index("model")
    return {
        "beta": summary["beta"], "beta_interval": summary["beta_interval"],
        "confidence": summary["confidence"], "temperature_K": temperature_K,
        "delta_g_mix_kJ_per_mol": summary["delta_g_mix_kJ_per_mol"],
        "delta_g_mix_interval": summary["delta_g_mix_interval"], "n_residuals": 67,
        "model4": {**summary["constants"], "chi2_weighted": summary["chi2_min"],
                   **exchange_bias.chi2_verdict(aic, 4)},
        "model3": {**K.to_dict(), "chi2_weighted": chi2_model3,
                   **exchange_bias.chi2_verdict(aic, 3)},
        "likelihood_ratio": comparison["likelihood_ratio"], "beta_axis": grid.tolist(),
    }  # fmt: skip


@pytest.fixture(scope="module")
def model4_files(tmp_path_factory):
    """One sample's experiment (model 3 with noise), model 3's and model 4's simulations,
    run.json, a best.json of model 3 and a beta.json at β = 3, as the rules write them."""
    from test_records import _best_dict, _chi2_table

    root = tmp_path_factory.mktemp("model4_files")
    model3 = simulated(3)[0]
    files = {
        "experiment": root / "intensities.tsv", "model3": root / "model3.tsv",
        "model4": root / "model4.tsv", "run": root / "run.json",
        "best": root / "best.json", "record": root / "beta.json",
    }  # fmt: skip
    write_tsv(as_experiment(model3), files["experiment"])
    write_tsv(model3, files["model3"])
    write_tsv(model4_frame(3.0), files["model4"])
    write_json({"synthetic": True}, files["run"])
    write_json(_best_dict(_chi2_table()), files["best"])
    write_json(small_model4_record(3.0), files["record"])
    return {k: str(v) for k, v in files.items()}


def run_figure_script(name, smk, monkeypatch):
    """Run workflow/scripts/``name`` with ``smk`` as its snakemake object; the figure it
    would save is returned instead (figures.save_outputs captured)."""
    drawn = []
    monkeypatch.setattr(figures, "save_outputs", lambda fig, *args, **kw: drawn.append(fig))
    runpy.run_path(str(REPO / "workflow" / "scripts" / name), init_globals={"snakemake": smk})
    assert len(drawn) == 1
    return drawn[0]


SAMPLE = {"sample": "a", "concentrations_nM": {"ag_nM": 40.0, "au_nM": 40.0},
          "first_fraction": 0.5, "label": "a (40:40 nmol/L)"}  # fmt: skip


def _model4_param(files, listed):
    return {"record": files["record"], "simulations": {"a": files["model4"]}} if listed else None


@pytest.mark.parametrize("listed", [True, False])
def test_s6_script_draws_model4_only_when_listed(model4_files, monkeypatch, listed):
    files = model4_files
    smk = SimpleNamespace(
        input=Fields(experiments=[files["experiment"]], runs=[files["run"]]),
        output=Fields(png="s6.png", pdf="s6.pdf", params="s6.json"), log=[],
        params=Fields(samples={"a": SAMPLE}, experiments={"a": files["experiment"]},
                      runs={"a": files["run"]}, model4=_model4_param(files, listed),
                      cluster=DEFAULT_SYSTEM.to_config(),
                      figures=small_config()["figures"]),
    )  # fmt: skip
    fig = run_figure_script("fig_s6.py", smk, monkeypatch)
    labels = [li.get_label() for ax in fig.axes for li in ax.get_lines()]
    drawn = [label for label in labels if label.startswith("model 4")]
    # S6 with model 4 beside the binomial and the data (monomers and dimers), or not at all
    assert drawn == (["model 4, β = 3, same window"] * 2 if listed else [])
    assert any(label.startswith("binomial") or "B(" in label for label in labels)


@pytest.mark.parametrize("listed", [True, False])
def test_figure3_script_gains_the_model4_panel_only_when_listed(model4_files, monkeypatch,
                                                                 listed):  # fmt: skip
    files = model4_files
    smk = SimpleNamespace(
        input=Fields(experiment=files["experiment"], best=[files["best"]],
                     simulations=[files["model3"]], run=files["run"]),
        output=Fields(png="f3.png", pdf="f3.pdf", params="f3.json"), log=[],
        params=Fields(sample=SAMPLE,
                      files={3: {"best": files["best"], "simulation": files["model3"]}},
                      model4=_model4_param(files, listed),
                      cluster=DEFAULT_SYSTEM.to_config(),
                      figures=small_config()["figures"]),
    )  # fmt: skip
    fig = run_figure_script("fig_figure3.py", smk, monkeypatch)
    titles = [ax.get_title(loc="left") for ax in fig.contour_axes]
    assert len(titles) == (3 if listed else 2)
    assert titles[1].startswith("(b) model 3, best fit")
    if listed:
        assert titles[2].startswith("(c) model 4, joint fit of every sample")
        assert "β = 3" in titles[2]
        assert "model(s) 3, 4 " in fig._suptitle.get_text()
    else:
        assert not any("model 4" in t for t in titles)
        assert "model(s) 3 " in fig._suptitle.get_text()


def test_beta_profile_of_a_small_record_and_its_words():
    """The β profile panel of a small record, and ΔG_mix with its interval in words (the
    report): the statement's numbers are the record's, negative ΔG_mix favours mixing."""
    record = small_model4_record(3.0)
    assert record["beta"] == pytest.approx(3.0)
    words = exchange_bias.delta_g_mix_statement(record)
    iv = record["delta_g_mix_interval"]
    assert f"ΔG_mix = {record['delta_g_mix_kJ_per_mol']:.3g} kJ/mol" in words
    assert f"interval {iv['low']:.3g} to {iv['high']:.3g} kJ/mol" in words
    assert "favours mixed" in words and "prefers model 4" in words
    # control: β = 1 (model 3) is not mixing-favoured and the test keeps model 3
    neutral = exchange_bias.delta_g_mix_statement(small_model4_record(1.0))
    assert "favours" not in neutral and "do not resolve a preference" in neutral
    assert "keeps model 3" in neutral
    assert "≤" in neutral  # β = 1 at the axis's edge: the interval is open there
    # a narrow interval is given with the digits that tell its ends apart
    narrow = {**record, "delta_g_mix_kJ_per_mol": -1.60598, "delta_g_mix_interval": {
        "low": -1.61170, "high": -1.60203, "low_open": False, "high_open": False}}  # fmt: skip
    assert "ΔG_mix = -1.606 kJ/mol" in exchange_bias.delta_g_mix_statement(narrow)
    assert "interval -1.612 to -1.602 kJ/mol" in exchange_bias.delta_g_mix_statement(narrow)
