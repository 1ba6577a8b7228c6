"""Model 4 in the figures: S6 with model 4's distributions beside the binomial, and the β
profile panel (plot functions on synthetic frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_figures import DPI, png_size, simulated

from intercluster import exchange_bias, figures
from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
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
