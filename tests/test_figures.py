"""Figures: plot functions on synthetic frames (fast) and every figure rule of the workflow
on the small test configuration, with the report (slow)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import NUCLEARITY, small_config

from intercluster import figures
from intercluster.fit import intervals
from intercluster.io import SYNTHETIC_LABEL
from intercluster.network import ReactionNetwork
from intercluster.records import BestFit, RateConstants, SampleConditions
from intercluster.settings import SolverOptions
from intercluster.simulate import simulate
from intercluster.system import DEFAULT_SYSTEM

REPO = Path(__file__).resolve().parents[1]
TABLE1 = {
    1: {"k_dim": 3.2e-3, "k_diss": 3.2e-2, "k_ex": 3.2e-2},
    2: {"k_dim": 1.0e-2, "k_diss": 1.0e-1, "k_ex": 3.2e-2},
    3: {"k_dim": 1.0e-2, "k_diss": 5.6e-2, "k_ex": 3.2e-2},
}
DPI = 40  # small PNGs for the unit tests; the workflow test uses the config's dpi


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def simulated(model: int, ag=40.0, au=40.0, step_min=1.0):
    """(observables table, isomers table) of a reference simulation, workflow layout."""
    net = ReactionNetwork(model, nuclearity=NUCLEARITY)
    times = np.arange(0.0, 60.0 + 1e-9, step_min)
    result = simulate(
        net, RateConstants.from_dict(TABLE1[model]),
        SampleConditions.from_dict({"ag_nM": ag, "au_nM": au, "dead_time_s": 20.0}), times * 60,
        SolverOptions(rtol=1e-6, atol=1e-9, max_steps=100_000, method="reference"),
    )
    assert result.ok, result.message
    obs = DEFAULT_SYSTEM.observables()
    conc = result.observables
    table = pd.DataFrame(
        {
            "time_min": np.repeat(times, len(obs)),
            "species": np.tile(obs["species"], len(times)),
            "kind": np.tile(obs["kind"], len(times)),
            "charge": np.tile(obs["charge"], len(times)),
            "n_first": np.tile(obs["n_first"], len(times)),
            "concentration_nM": conc.ravel(),
        }
    )
    table = figures.normalise_observables(table)
    pairs = net.dimer_pairs
    isomers = pd.DataFrame(
        {
            "time_min": np.repeat(times, len(pairs)),
            "i": np.tile(pairs[:, 0], len(times)),
            "j": np.tile(pairs[:, 1], len(times)),
            "n_first_total": np.tile(pairs.sum(axis=1), len(times)),
            "concentration_nM": result.isomers.ravel(),
        }
    )
    return table, isomers


def as_experiment(table: pd.DataFrame, seed=1) -> pd.DataFrame:
    """Deconvolution layout (no kind column), with noise."""
    rng = np.random.default_rng(seed)
    exp = table.drop(columns=["kind", "concentration_nM"]).copy()
    exp["intensity_norm"] = np.clip(
        exp["intensity_norm"] * rng.lognormal(0, 0.05, len(exp)), 0, None
    )
    exp["intensity_norm"] /= exp.groupby("time_min")["intensity_norm"].transform("sum")
    exp["intensity"] = exp["intensity_norm"] * 1e6
    return exp


@pytest.fixture(scope="module")
def sims():
    return {m: simulated(m) for m in (1, 2, 3)}


@pytest.fixture(scope="module")
def experiment(sims):
    return as_experiment(sims[3][0])


def has_synthetic_label(fig) -> bool:
    texts = [t.get_text() for t in fig.texts]
    if fig._supxlabel is not None:
        texts.append(fig._supxlabel.get_text())
    if fig._suptitle is not None:
        texts.append(fig._suptitle.get_text())
    return any(SYNTHETIC_LABEL in t for t in texts)


def save_and_check(fig, tmp_path, name, n_rows=1):
    png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
    figures.save_figure(fig, png, pdf, DPI)
    assert png_size(png) == figures.pixel_size(name, DPI, n_rows)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000


# --- helpers -------------------------------------------------------------------------------


def test_observable_matrices_order_and_kind_from_charge(experiment):
    times, mono, dim = figures.observable_matrices(experiment, DEFAULT_SYSTEM, time_max_min=54)
    assert mono.shape == (len(times), 26) and dim.shape == (len(times), 51)
    assert times[-1] == 54
    first = experiment[experiment["time_min"] == 0]
    ag25 = first[(first["charge"] == -1) & (first["n_first"] == 25)]["intensity_norm"].item()
    ag25au25 = first[(first["charge"] == -2) & (first["n_first"] == 25)]["intensity_norm"].item()
    assert mono[0, 25] == pytest.approx(ag25) and dim[0, 25] == pytest.approx(ag25au25)
    assert np.allclose(mono.sum(axis=1) + dim.sum(axis=1), 1.0)


def test_format_k():
    assert figures.format_k(3.2e-3) == "3.2×10$^{-3}$"
    assert figures.format_k(1e-2) == "10$^{-2}$"
    assert figures.format_k(5.6e-2) == "5.6×10$^{-2}$"
    assert figures.format_k(float("nan")) == "n/a"
    # without mathtext (labels drawn many times): Unicode superscripts, same rounding
    assert figures.format_k(3.2e-3, math_text=False) == "3.2×10⁻³"
    assert figures.format_k(1e-2, math_text=False) == "10⁻²"
    assert figures.format_k(9.96e4, math_text=False) == "10⁵"
    assert figures.format_k(0.0, math_text=False) == "n/a"


def test_ion_math_drops_empty_metal():
    assert figures.ion_math(DEFAULT_SYSTEM, 25, 1) == "[Ag$_{25}$]$^{-}$"
    assert figures.ion_math(DEFAULT_SYSTEM, 25, 2) == "[Ag$_{25}$Au$_{25}$]$^{2-}$"


def test_fragment_distribution_counts_both_subunits(sims):
    _, isomers = sims[3]
    early = figures.fragment_distribution(isomers, 25, 0.0, 25)
    late = figures.fragment_distribution(isomers, 25, 60.0, 25)
    assert early.sum() == pytest.approx(1.0) and late.sum() == pytest.approx(1.0)
    # each isomer (i, 25 - i) gives i and 25 - i: the distribution is symmetric
    assert np.allclose(early, early[::-1]) and np.allclose(late, late[::-1])
    assert early[[0, 25]].sum() > late[[0, 25]].sum()
    assert late[12] + late[13] > early[12] + early[13]


def test_equilibrium_distribution_uses_the_last_minutes(sims):
    table, _ = sims[2]
    mono, dim, (t0, t1) = figures.equilibrium_distribution(table, DEFAULT_SYSTEM, 10.0)
    assert (t0, t1) == (50.0, 60.0)
    assert mono.sum() == pytest.approx(1.0) and dim.sum() == pytest.approx(1.0)
    n = np.arange(26)
    assert (n * mono).sum() == pytest.approx(12.5, abs=0.3)  # model 2 at 1:1


def test_chi2_slices_and_profiles_go_through_the_best_point():
    g = np.logspace(-3, 0, 5)
    k = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    chi2 = pd.DataFrame(k, columns=list(figures.RATE_CONSTANTS))
    chi2["chi2"] = 1 + (np.log10(k / g[2]) ** 2 * [0.1, 0.2, 1.0]).sum(axis=1)
    chi2["status"] = "ok"
    chi2.loc[0, "status"] = "failed"  # a corner, on no slice through the best point
    slices = figures.chi2_slices(chi2)
    for name in figures.RATE_CONSTANTS:
        profile = intervals.profile(chi2, name)  # what best.json holds, the figure draws
        assert len(slices[name]) == 5 and len(profile) == 5
        assert slices[name]["chi2"].min() == pytest.approx(1.0)
        assert np.all(profile["chi2_min"].to_numpy() <= slices[name]["chi2"].to_numpy() + 1e-12)


# --- every plot function: pixel size, PDF, synthetic label --------------------------------


@pytest.mark.parametrize("synthetic", [True, False])
def test_figure3(tmp_path, sims, experiment, synthetic):
    fig = figures.figure3(
        experiment,
        [(m, TABLE1[m], sims[m][0]) for m in (1, 2, 3)],
        DEFAULT_SYSTEM,
        54.0,
        "ag40_au40 (40:40 nmol/L)",
        synthetic,
        "Table 1 constants",
    )
    assert has_synthetic_label(fig) is synthetic
    titles = [ax.get_title(loc="left") for ax in fig.contour_axes]
    assert titles[0].startswith("(a)") and "3.2×10$^{-3}$" in titles[1]
    # one colour scale: every panel's mappable has the same norm limits
    save_and_check(fig, tmp_path, "fig3")


def test_figure3_with_two_models(tmp_path, sims, experiment):
    models = [(m, TABLE1[m], sims[m][0]) for m in (2, 3)]
    fig = figures.figure3(experiment, models, DEFAULT_SYSTEM, synthetic=True)
    assert len(fig.contour_axes) == 3
    save_and_check(fig, tmp_path, "fig3")


def test_figure_s5(tmp_path, sims, experiment):
    table, isomers = sims[2]
    fig = figures.figure_s5(
        experiment, table, isomers, TABLE1[2], 2, DEFAULT_SYSTEM, synthetic=True
    )
    assert has_synthetic_label(fig)
    assert len(fig.axes[1].get_lines()) == 13  # the 13 isomers of [Ag25Au25]2-
    save_and_check(fig, tmp_path, "s5")


def test_figure_s6(tmp_path, experiment, sims):
    entries = [
        figures.SampleDistribution("a", 0.5, experiment, True, "a (40:40)"),
        figures.SampleDistribution("b", 0.5, sims[2][0], False, "b (40:40)"),
    ]
    fig = figures.figure_s6(entries, DEFAULT_SYSTEM, window_min=10)
    assert has_synthetic_label(fig)
    save_and_check(fig, tmp_path, "s6", n_rows=2)


def test_figure_s7_9(tmp_path):
    model, _ = simulated(3, ag=100.0, au=60.0)
    fig = figures.figure_s7_9(
        as_experiment(model), model, TABLE1[3], 100 / 160, DEFAULT_SYSTEM,
        sample_label="ag100_au60", synthetic=True,
    )  # fmt: skip
    assert has_synthetic_label(fig)
    labels = [line.get_label() for line in fig.extra_axes[0].get_lines()]
    assert "[Ag$_{16}$Au$_{9}$]$^{-}$" in labels  # the equilibrium centre 25 * 5/8
    save_and_check(fig, tmp_path, "s7_9")


def test_figure_s10(tmp_path, sims):
    _, isomers = sims[3]
    cid = pd.concat(
        pd.DataFrame(
            {
                "time_min": t,
                "n_first": np.arange(26),
                "fraction": figures.fragment_distribution(isomers, 25, t, 25),
            }
        )
        for t in (3.0, 20.0, 60.0)
    )
    fig = figures.figure_s10(
        isomers, cid, [1, 3, 10, 20, 60], TABLE1[3], 3, DEFAULT_SYSTEM, synthetic=True
    )
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert sum("CID at" in t for t in titles) == 3
    save_and_check(fig, tmp_path, "s10")


def test_no_figure_function_assumes_a_cluster_system():
    import inspect

    takes_system = []
    for name in figures.__all__:
        obj = getattr(figures, name)
        if callable(obj) and not isinstance(obj, type) and name != "plt":
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                continue
            if "system" in params:
                takes_system.append(name)
                assert params["system"].default is inspect.Parameter.empty, name
    assert {"figure3", "figure_s5", "figure_s6", "figure_s7_9", "figure_s10"} <= set(takes_system)


def test_figure_s11(tmp_path):
    from intercluster.plausibility import debye_factor

    fig = figures.figure_s11(debye_factor)
    xs, ys = fig.axes[0].get_lines()[0].get_data()
    assert xs[0] == pytest.approx(5.0) and xs[-1] == pytest.approx(50.0)
    assert np.interp(12.7, xs, ys) == pytest.approx(0.53, abs=0.01)
    save_and_check(fig, tmp_path, "s11")


def test_figure_chi2(tmp_path):
    g = np.logspace(-3, 0, 4)
    k = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    chi2 = pd.DataFrame(k, columns=list(figures.RATE_CONSTANTS))
    chi2["chi2"] = 1 + np.log10(k[:, 2] / 1e-2) ** 2
    chi2["status"] = "ok"
    # Profiles by hand, 0.5 above the table's (along k_ex the bowl, along the others its
    # minimum), so the drawn profile shows where it came from: best.json, not the table.
    profiles = {
        name: [{"value": float(v), "chi2_min": float(1.5 + np.log10(v / 1e-2) ** 2) if
                name == "k_ex" else 1.5} for v in g]
        for name in figures.RATE_CONSTANTS
    }  # fmt: skip
    intervals = {name: {"low": None, "high": None, "low_open": True, "high_open": True,
                        "profile": profiles[name]} for name in figures.RATE_CONSTANTS}  # fmt: skip
    intervals["k_ex"].update(low=8e-3, high=1.3e-2, low_open=False, high_open=False)
    best = BestFit(
        fit_sample="test", model=2, samples=("test",), chi2_unit="min^2", n_points=64,
        n_ok=64, n_failed=0, failed_reasons={}, grid={},
        best={"point": 0, "k_dim": 1e-2, "k_diss": 1e-1, "k_ex": 1e-2, "chi2": 1.0},
        next_best=(),
        intervals={"chi2_threshold": 1.1, **intervals},
        refined={"k_dim": 1.1e-2, "k_diss": 0.1, "k_ex": 1.0e-2},
    )  # fmt: skip
    fig = figures.figure_chi2([(2, chi2, best), (3, chi2, best)], "test", True)
    profile_line = next(
        line for line in fig.axes[2].get_lines() if line.get_label().startswith("profile")
    )
    assert np.allclose(profile_line.get_ydata(), 1.5 + np.log10(g / 1e-2) ** 2)
    fig.canvas.draw()
    for ax in fig.axes:  # every axis keeps labels: decades, or minor ones within a decade
        for axis in (ax.xaxis, ax.yaxis) if ax.xaxis.get_visible() else (ax.yaxis,):
            shown = [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
            assert shown, (ax.get_title(), axis.axis_name)
    save_and_check(fig, tmp_path, "chi2", n_rows=2)


def test_figure_chi2_draws_the_reoptimised_profile_over_the_grid_profile(tmp_path):
    """With best.json's profiles by re-optimisation the χ² figure draws them (their own line,
    their own level) over the weighted grid profile; without them (negative control) no such
    line is drawn."""
    from dataclasses import replace

    g = np.logspace(-3, 0, 4)
    k = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    chi2 = pd.DataFrame(k, columns=list(figures.RATE_CONSTANTS))
    chi2["chi2"] = 1 + np.log10(k[:, 2] / 1e-2) ** 2
    chi2["status"] = "ok"
    grid_profile = [{"value": float(v), "chi2_min": 5.0 + 100 * np.log10(v / 1e-2) ** 2}
                    for v in g]  # fmt: skip
    fine = np.logspace(-2.1, -1.9, 9)
    reopt = [{"value": float(v), "chi2_min": 4.0 + 100 * np.log10(v / 1e-2) ** 2} for v in fine]
    weighted = {
        "confidence": 0.95,
        "profiles": {"k_ex": {"profile": grid_profile, "level": 8.84}},
        "profiles_reoptimised": {"k_ex": {"profile": reopt, "level": 7.84}},
    }
    intervals = {name: {"low": None, "high": None, "low_open": True, "high_open": True,
                        "profile": [{"value": float(v), "chi2_min": 1.0} for v in g]}
                 for name in figures.RATE_CONSTANTS}  # fmt: skip
    best = BestFit(
        fit_sample="test", model=3, samples=("test",), chi2_unit="min^2", n_points=64,
        n_ok=64, n_failed=0, failed_reasons={}, grid={},
        best={"point": 0, "k_dim": 1e-2, "k_diss": 1e-1, "k_ex": 1e-2, "chi2": 1.0},
        next_best=(), intervals={"chi2_threshold": 1.1, **intervals}, refined=None,
        identifiability={"k_ex": "identifiable"}, intervals_weighted={"k_ex": [9.6e-3, 1.04e-2]},
        weighted=weighted,
    )  # fmt: skip

    def reoptimised_lines(best_fit):
        fig = figures.figure_chi2([(3, chi2, best_fit)], "test", True)
        return fig, [line for ax in fig.axes for line in ax.get_lines()
                     if "re-optimised" in line.get_label()]  # fmt: skip

    fig, lines = reoptimised_lines(best)
    assert len(lines) == 1
    assert np.allclose(lines[0].get_xdata(), fine)
    assert np.allclose(lines[0].get_ydata(), [p["chi2_min"] for p in reopt])
    levels = [line.get_ydata()[0] for ax in fig.axes for line in ax.get_lines()
              if "threshold" in line.get_label()]  # fmt: skip
    assert 7.84 in levels
    save_and_check(fig, tmp_path, "chi2", n_rows=1)
    no_reopt = replace(best, weighted={k: v for k, v in weighted.items()
                                       if k != "profiles_reoptimised"})  # fmt: skip
    assert reoptimised_lines(no_reopt)[1] == []


def test_chi2_log_axes_label_decades_in_unicode_and_keep_minor_labels_within_a_decade():
    from intercluster.figures.diagnostics import _decade_labels

    fig, (wide, narrow) = figures.plt.subplots(1, 2)
    for ax, (low, high) in ((wide, (20.0, 3e4)), (narrow, (2.1e3, 8.7e3))):
        ax.plot([1, 2], [low, high])
        ax.set_yscale("log")
        _decade_labels(ax.yaxis)
    fig.canvas.draw()
    major = [t.get_text() for t in wide.yaxis.get_ticklabels() if t.get_text()]
    assert {"10²", "10³", "10⁴"} <= set(major) and not any("$" in t for t in major)
    assert not wide.yaxis.get_minorticklocs().size
    # no decade inside: the minor ticks and their labels stay (the only labels there are)
    assert narrow.yaxis.get_minorticklocs().size
    assert any(t.get_text() for t in narrow.yaxis.get_ticklabels(minor=True))
    figures.plt.close(fig)


def test_fitted_spectrum_matches_the_fit_and_qc_figure(tmp_path):
    from intercluster.deconvolution import fit_spectrum
    from intercluster.isotopes import render_profile, system_patterns
    from intercluster.spectrum_basis import observable_basis
    from intercluster.spectrum_model import fitted_spectrum

    mz = np.arange(6200.0, 6360.0, 0.01)
    abundances = np.zeros(77)
    abundances[13] = 5e5  # [Ag13Au12]-
    abundances[12] = 4e5  # [Ag12Au13]-
    abundances[26 + 24] = 3e5  # [Ag24Au26]2-, same nominal m/z as [Ag12Au13]-
    y = render_profile(mz, system_patterns(DEFAULT_SYSTEM), abundances, 25000, 3.0) + 2.0
    basis = observable_basis(DEFAULT_SYSTEM)
    fit = fit_spectrum(mz, y, basis, 25000, 2.0)
    model, species, parts = fitted_spectrum(mz, fit, basis, components=True)
    assert np.sum((y - model) ** 2) == pytest.approx(fit.rss, rel=1e-6, abs=1e-6)
    assert np.allclose(model, sum(parts.values()) + fit.baseline)
    assert species.loc[13, "abundance"] == pytest.approx(5e5, rel=1e-3)
    sticks = species[species["abundance"] > 0].rename(columns={"peak_height": "intensity"})
    comps = {str(k): (species.loc[k, "kind"], v) for k, v in parts.items()}
    fig = figures.figure_deconvolution_qc(
        mz, y, model, sticks, "QC\nsecond line", (6320, 6330), True, DEFAULT_SYSTEM, comps
    )
    assert has_synthetic_label(fig)
    save_and_check(fig, tmp_path, "qc")


# --- the workflow: every figure rule on the small config, and the report -------------------

SMALL_FIGURES = {
    # name: (figure kind for pixel_size, rows)
    "fig3_best_fit": ("fig3", 1),
    "fig3_table1": ("fig3", 1),
    "figS5": ("s5", 1),
    "figS6": ("s6", 1),  # one sample in the small sheet
    "figS7_S9_ag40_au40": ("s7_9", 1),  # the rule, exercised on the one sample there is
    "figS10": ("s10", 1),
    "figS11": ("s11", 1),
    "chi2_landscape_ag40_au40": ("chi2", 2),  # models 2 and 3
    "chi2_landscape_all": ("chi2", 2),
    "deconvolution_qc_ag40_au40": ("qc", 1),
}
TABLES = ["tables/best_fit.html", "tables/plausibility.html"]


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--workflow-profile",
        "none",
        "--directory",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=work)
    assert result.returncode == 0, result.stderr[-6000:]
    return result


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("figures_small")
    shutil.copytree(REPO / ".test" / "config", work / ".test" / "config")
    config = small_config()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/figures/{name}.png" for name in SMALL_FIGURES]
    targets += [f"results/figures/{t}" for t in TABLES]
    _snakemake(work, *targets)
    _snakemake(work, "--report", "results/report.html", *targets)
    return work, config


@pytest.mark.slow
def test_every_figure_rule_writes_png_and_pdf_of_the_expected_size(small_run):
    work, config = small_run
    dpi = int(config["figures"]["dpi"])
    for name, (kind, rows) in SMALL_FIGURES.items():
        png = work / "results" / "figures" / f"{name}.png"
        pdf = png.with_suffix(".pdf")
        params = json.loads((work / "results" / "figures" / f"{name}.params.json").read_text())
        assert png_size(png) == figures.pixel_size(kind, dpi, rows), name
        assert list(params["size_px"]) == list(png_size(png)), name
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000, name
        if name != "figS11":  # all data figures come from the virtual experiment
            assert params["synthetic"] is True, name


@pytest.mark.slow
def test_report_contains_every_figure_and_table(small_run):
    work, _ = small_run
    report = (work / "results" / "report.html").read_text(errors="replace")
    for name in SMALL_FIGURES:
        assert f"{name}.png" in report, name
    for table in TABLES:
        assert Path(table).name in report, table


@pytest.mark.slow
def test_dimer_response_estimated_per_fit_and_shown_in_the_report(small_run):
    """Rule dimer_response: every sample of every fit gets the response its simulations used
    and the one its data give against the best fit; the small virtual experiment renders
    none (1), so against the truth's model the estimate is near 1. Against another model it
    need not be: the late dimer:monomer ratio also depends on the model's equilibrium, so
    the estimate is only as good as the best fit's (the table is read per model)."""
    work, config = small_run
    tables = sorted((work / "results" / "fit").glob("*/model*/dimer_response.tsv"))
    assert len(tables) == 2 * len(config["fit"]["models"])  # the sample and the joint fit
    truth_model = f"model{config['virtual_experiment']['model']}"
    for path in tables:
        table = pd.read_csv(path, sep="\t")
        print(path.relative_to(work), table.to_dict("records"))
        assert (table["dimer_response_used"] == 1.0).all()
        assert (table["dimer_response_estimated"] > 0).all()
        if path.parent.name == truth_model:
            assert table["dimer_response_estimated"].between(0.9, 1.1).all()
    page = (work / "results" / "figures" / "tables" / "best_fit.html").read_text()
    assert "Dimer response" in page and "estimated from the data" in page


@pytest.mark.slow
def test_figure3_table1_uses_exactly_the_table1_constants(small_run):
    work, config = small_run
    params = json.loads((work / "results" / "figures" / "fig3_table1.params.json").read_text())
    assert params["constants_source"] == "Table 1 constants"
    # all three models, although the small config fits only models 2 and 3
    assert params["models"] == config["kinetics"]["table1"]
    assert params["models"] == {f"model{m}": TABLE1[m] for m in (1, 2, 3)}
    assert params["inputs"]["simulations"] == [
        f"results/simulations/table1/model{m}/observables.tsv" for m in (1, 2, 3)
    ]
    best = json.loads((work / "results" / "figures" / "fig3_best_fit.params.json").read_text())
    assert set(best["models"]) == {"model2", "model3"}


@pytest.mark.slow
def test_figure3_table1_panels_are_the_table1_simulations(small_run):
    """The trajectories behind panels b-d are the models at Table 1 constants, 40:40 nmol/L."""
    work, _ = small_run
    for model in (1, 2, 3):
        table = pd.read_csv(
            work / "results" / "simulations" / "table1" / f"model{model}" / "observables.tsv",
            sep="\t",
        )
        times = np.array([5.0, 20.0, 54.0])
        reference, _ = simulated(model, step_min=1.0)
        for t in times:
            order = ["charge", "n_first"]
            got = table[np.isclose(table["time_min"], t)].sort_values(order)
            want = reference[np.isclose(reference["time_min"], t)].sort_values(order)
            assert np.allclose(got["intensity_norm"], want["intensity_norm"], atol=2e-4), (model, t)


@pytest.mark.slow
def test_figures_and_report_read_synthetic_from_run_json(small_run):
    """Whether a figure says SYNTHETIC is read from the deconvolution's run.json, not from
    where the mzML lies: the same virtual-experiment file, its run.json set to false, gives
    figures and report tables without the label (and restored, with it again)."""
    work, _ = small_run
    run_file = work / "results" / "deconvolution" / "ag40_au40" / "run.json"
    original = run_file.read_text()
    names = ["figS5", "figS6", "fig3_best_fit", "chi2_landscape_all"]
    targets = [f"results/figures/{n}.png" for n in names] + [f"results/figures/{TABLES[0]}"]
    try:
        run_file.write_text(json.dumps({**json.loads(original), "synthetic": False}))
        _snakemake(work, *targets, "--rerun-triggers", "mtime")
        for name in names:
            params = json.loads((work / "results" / "figures" / f"{name}.params.json").read_text())
            assert params["synthetic"] is False, name
        assert "SYNTHETIC" not in (work / "results" / "figures" / TABLES[0]).read_text()
    finally:
        run_file.write_text(original)
    _snakemake(work, *targets, "--rerun-triggers", "mtime")  # negative control: back to true
    for name in names:
        params = json.loads((work / "results" / "figures" / f"{name}.params.json").read_text())
        assert params["synthetic"] is True, name
    assert "SYNTHETIC" in (work / "results" / "figures" / TABLES[0]).read_text()


def test_qc_figure_shows_the_spectrum_the_config_names():
    """figures.qc_spectrum: the worst-fitted (largest residual), the first, or the one
    nearest a time; anything else is refused by name."""
    from intercluster.spectrum_model import qc_spectrum_pick

    qc = pd.DataFrame({"time_min": [0.33, 1.0, 2.0, 3.0], "residual_norm": [0.1, 0.4, 0.2, 0.3]})
    assert qc_spectrum_pick(qc) == (1, "worst-fitted spectrum")
    assert qc_spectrum_pick(qc, "first") == (0, "first spectrum")
    assert qc_spectrum_pick(qc, 2.4)[0] == 2
    assert qc_spectrum_pick(qc, 0)[0] == 0
    with pytest.raises(ValueError, match="'best'; expected 'worst', 'first' or a time"):
        qc_spectrum_pick(qc, "best")
