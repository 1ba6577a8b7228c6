"""Uncertainty that holds beyond the bootstrap's noise (issue: foreign data): σ(t_max)'s
systematic part from the deconvolution's nuisance choices (intercluster.nuisance_sigma) and
the goodness of fit calibrated on the spectra's own noise (intercluster.model_comparison),
on the project's SYNTHETIC virtual experiment: the demo's dense spectra and a run written
sparse with interferences (trimers, unlisted contaminants, a resolving power that falls with
m/z)."""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import BASE_CONFIG, NUCLEARITY, REPO

from intercluster import fit, model_comparison, nuisance_sigma
from intercluster.deconvolution import deconvolve_run
from intercluster.fit import refine, weighted_chi2
from intercluster.ingest import SpectraRun, read_spectra
from intercluster.network import ReactionNetwork
from intercluster.observables import TmaxSettings, tmax_of
from intercluster.replicas import virtual_replica
from intercluster.settings import DeconvolutionSettings, SolverOptions
from intercluster.spectrum_basis import observable_basis
from intercluster.system import system_of_config
from intercluster.tmax_sigma import tmax_uncertainty_table
from intercluster.virtual_experiment import exported_spectra, simulate_sample, write_mzml

CONFIG = yaml.safe_load(BASE_CONFIG.read_text())
SYSTEM = system_of_config(CONFIG, search_dirs=[REPO]).cluster_system()
OBS = SYSTEM.observables()
SAMPLE = "ag40_au40"
TIMES = np.arange(0.0, 60.0 + 1e-9, 1.0)  # one spectrum a minute: few spectra, fast
TRUTH = CONFIG["virtual_experiment"]["rate_constants"]  # the demo's (model 3), off the grid
TRUE_MODEL = int(CONFIG["virtual_experiment"]["model"])
GRID = {  # quarter decades around the truth
    "k_dim": {"min": 10**-2.5, "max": 10**-1.5, "n": 5},
    "k_diss": {"min": 10**-1.75, "max": 10**-0.75, "n": 5},
    "k_ex": {"min": 10**-2.25, "max": 10**-0.75, "n": 7},
}
COND = fit.Conditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})
INTERFERENCES = {"trimer_fraction": 0.05, "contaminants": {"n": 8, "fraction": 0.03},
                 "dimer_response": 1.0, "resolving_power_slope_per_1000": -0.08}  # fmt: skip
SPARSE = {"mode": "sparse", "threshold_rel": 0.01}
SETTINGS = TmaxSettings.schema_default()
OPTIONS = SolverOptions(1e-6, 1e-9, 100_000)
DECONVOLUTION = DeconvolutionSettings.schema_default()


def _ve(interferences=None) -> dict:
    ve = copy.deepcopy(CONFIG["virtual_experiment"])
    ve["samples"] = {SAMPLE: ve["samples"][SAMPLE]}
    ve["cid"]["times_min"] = []
    if interferences:
        ve["interferences"] = interferences
    return ve


def _deconvolve(run, settings):
    return deconvolve_run(run, SYSTEM, settings)[0]


@pytest.fixture(scope="module")
def sparse_run(tmp_path_factory):
    """One virtual run written sparse with interferences, deconvolved as the workflow does,
    with σ(t_max) and the nuisance alternatives (the costly part of this module)."""
    ve = _ve(INTERFERENCES) | {"seed": 11}
    vs = simulate_sample(SYSTEM, ve, SAMPLE, times_min=TIMES)
    path = tmp_path_factory.mktemp("sparse_interferences") / "run.mzML"
    write_mzml(path, exported_spectra(vs.ms1, SPARSE, ve["resolving_power"]),
               resolving_power=ve["resolving_power"])  # fmt: skip
    run = read_spectra(path, mz_required=observable_basis(SYSTEM).mz_span)
    intensities = _deconvolve(run, DECONVOLUTION)
    table = tmax_uncertainty_table(intensities, OBS, SETTINGS, n_replicas=100, seed=11)
    alternatives = nuisance_sigma.nuisance_intensities(run, DECONVOLUTION, _deconvolve)
    nuisance = nuisance_sigma.nuisance_sigma(intensities, alternatives, OBS, SETTINGS)
    return {"run": run, "intensities": intensities, "table": table,
            "alternatives": alternatives, "nuisance": nuisance}  # fmt: skip


def _true_tmax() -> np.ndarray:
    constants = fit.RateConstants(TRUTH["k_dim"], TRUTH["k_diss"], TRUTH["k_ex"])
    status, message, t_max = fit.simulate_tmax(ReactionNetwork(TRUE_MODEL, nuclearity=NUCLEARITY),
                                               constants, COND,
                                               TIMES, SETTINGS, options=OPTIONS)  # fmt: skip
    assert status == fit.STATUS_OK, message
    return t_max


def _z_sd(table: pd.DataFrame, sigma_column: str = "sigma_min") -> float:
    use = table["included"].astype(bool).to_numpy()
    z = (table["t_max_min"].to_numpy(float) - _true_tmax())[use] / table[sigma_column].to_numpy(
        float)[use]  # fmt: skip
    return float(np.std(z))


# --- σ(t_max)'s nuisance part --------------------------------------------------------------------
def test_nuisance_alternatives_follow_the_run():
    """Gaps are re-made only for spectra that have them; each alternative changes one choice."""
    dense = SpectraRun(path="SYNTHETIC dense", ms_level=1, times_min=np.array([0.0]),
                       native_ids=["s0"], index=np.arange(1),
                       mz=[np.linspace(5000.0, 5010.0, 101)], intensity=[np.ones(101)],
                       synthetic=True)  # fmt: skip
    holes = np.r_[np.linspace(5000.0, 5002.0, 21), np.linspace(5008.0, 5010.0, 21)]
    sparse = SpectraRun(path="SYNTHETIC sparse", ms_level=1, times_min=np.array([0.0]),
                        native_ids=["s0"], index=np.arange(1), mz=[holes],
                        intensity=[np.ones(holes.size)], synthetic=True)  # fmt: skip
    assert not nuisance_sigma.run_has_gaps(dense)
    assert nuisance_sigma.run_has_gaps(sparse)
    alternatives = nuisance_sigma.nuisance_settings(DECONVOLUTION, has_gaps=True)
    assert set(alternatives) == {"resolving_power", "robust", "gaps"}
    assert set(nuisance_sigma.nuisance_settings(DECONVOLUTION, has_gaps=False)) == {
        "resolving_power", "robust"}
    for name, field in (("resolving_power", "resolving_power_model"), ("robust", "robust"),
                        ("gaps", "gaps")):  # fmt: skip
        assert getattr(alternatives[name], field) != getattr(DECONVOLUTION, field)


def test_nuisance_sigma_of_constructed_shifts_is_half_the_shift_in_quadrature():
    """Two equally plausible choices: sd |d|/2; independent nuisances add in square; the
    smoothing widths' three-point sd. A constructed run whose alternatives shift one
    observable by known amounts."""
    times = np.arange(0.0, 60.0 + 1e-9, 0.5)
    species = OBS["species"].tolist()
    centres = np.linspace(5.0, 50.0, len(species))
    centres[0] = 30.0  # mid-run, and a large flat share: the row totals barely move

    def table(shift_first: float) -> pd.DataFrame:
        c = centres.copy()
        c[0] += shift_first
        y = np.exp(-0.5 * ((times[:, None] - c[None, :]) / 6.0) ** 2) + 1.0
        return pd.DataFrame({"time_min": np.repeat(times, len(species)),
                             "species": np.tile(species, times.size),
                             "intensity_norm": (y / y.sum(axis=1, keepdims=True)).ravel()},
                            )  # fmt: skip

    base = table(0.0)
    alternatives = pd.concat([table(2.0).assign(nuisance="robust"),
                              table(-1.0).assign(nuisance="gaps")], ignore_index=True)  # fmt: skip
    out = nuisance_sigma.nuisance_sigma(base, alternatives, OBS, SETTINGS).set_index("species")
    first = out.loc[species[0]]
    assert first["shift_robust_min"] == pytest.approx(2.0, abs=0.05)
    assert first["shift_gaps_min"] == pytest.approx(-1.0, abs=0.05)
    smoothing = np.nanvar([0.0, first["shift_smoothing_x0.75_min"],
                           first["shift_smoothing_x1.5_min"]])  # fmt: skip
    expected = np.sqrt((first["shift_robust_min"] / 2) ** 2 + (first["shift_gaps_min"] / 2) ** 2
                       + smoothing)  # fmt: skip
    assert first["sigma_nuisance_min"] == pytest.approx(expected, rel=1e-9)
    assert first["sigma_nuisance_min"] == pytest.approx(np.hypot(1.0, 0.5), abs=0.05)
    # an observable no alternative moves (only the row totals, slightly): no shift
    assert out.loc[species[5], "shift_robust_min"] == pytest.approx(0.0, abs=0.01)
    # σ grows in quadrature only when asked
    tmax = pd.DataFrame({"species": species, "sigma_min": 0.3, "sigma_source": "bootstrap"})
    applied = nuisance_sigma.with_nuisance_sigma(tmax, out.reset_index(), apply=True)
    kept = nuisance_sigma.with_nuisance_sigma(tmax, out.reset_index(), apply=False)
    assert applied["sigma_min"].iloc[0] == pytest.approx(np.hypot(0.3, expected))
    assert applied["sigma_source"].iloc[0] == "bootstrap + nuisance"
    assert kept["sigma_min"].iloc[0] == 0.3 and "sigma_nuisance_min" in kept


def test_sigma_with_its_nuisance_part_describes_the_true_models_residuals(sparse_run):
    """Sparse with interferences: the z-scores of the true model's residuals (at the truth)
    have SD within 0.7-1.5 with σ ⊕ σ_nuisance; negative control: the bootstrap alone leaves
    them above 1.5 (σ too small for what the front end adds)."""
    table = nuisance_sigma.with_nuisance_sigma(sparse_run["table"], sparse_run["nuisance"],
                                               apply=True)  # fmt: skip
    assert "gaps" in set(sparse_run["alternatives"]["nuisance"])  # sparse: gaps re-made
    with_nuisance = _z_sd(table)
    bootstrap_alone = _z_sd(sparse_run["table"], "sigma_bootstrap_min")
    print(f"z SD: bootstrap alone {bootstrap_alone:.2f}, with the nuisance part "
          f"{with_nuisance:.2f}")
    assert 0.7 <= with_nuisance <= 1.5
    assert bootstrap_alone > 1.5


# --- goodness of fit calibrated on the data -------------------------------------------------------
def _verdicts(intensities, exp) -> pd.DataFrame:
    """Every model fitted (small grid, refined) and judged by the calibrated verdict, through
    compare_fitted_models as rule model_comparison does."""
    weighted, refined, calibrated = {}, {}, {}
    for model in (1, 2, 3):
        sim = fit.run_chunk(ReactionNetwork(model, nuclearity=NUCLEARITY), fit.grid_points(GRID),
                            COND, TIMES,
                            OBS["species"], SETTINGS, options=OPTIONS)  # fmt: skip
        weighted[model] = weighted_chi2.weighted_chi2_table({SAMPLE: (sim, exp)})
        objective = weighted_chi2.weighted_chi2_objective(
            ReactionNetwork(model, nuclearity=NUCLEARITY), {SAMPLE: (COND, TIMES, exp)}, SETTINGS,
            options=OPTIONS)
        best = weighted[model].sort_values("chi2").iloc[0]
        start = {k: float(best[k]) for k in ("k_dim", "k_diss", "k_ex")}
        optimum = refine.refine(objective, start | {"chi2": float(best["chi2"])},
                                fit.grid_axes(GRID), 60)  # fmt: skip
        refined[model] = optimum["chi2"]
        calibrated[model] = model_comparison.goodness_of_fit_section(
            ReactionNetwork(model, nuclearity=NUCLEARITY), optimum,
            {SAMPLE: (COND, TIMES, exp, intensities)},
            SETTINGS, OPTIONS, n_replicas=200)  # fmt: skip
    comparison = model_comparison.compare_fitted_models(weighted, refined, calibrated=calibrated)
    print(model_comparison.model_comparison_statement(comparison))
    return comparison


@pytest.mark.parametrize("case", ["demo", "sparse_interferences"])
def test_calibrated_goodness_of_fit_keeps_the_true_model_only(case, request):
    if case == "demo":
        intensities, exp = virtual_replica(SYSTEM, _ve(), SAMPLE, 4242, TIMES, n_replicas=100)
    else:
        run = request.getfixturevalue("sparse_run")
        intensities = run["intensities"]
        exp = nuisance_sigma.with_nuisance_sigma(run["table"], run["nuisance"], apply=True)
    comparison = _verdicts(intensities, exp)
    assert set(comparison["gof_source"]) == {"calibrated"}
    assert comparison.set_index("model")["fits"].to_dict() == {1: False, 2: False, 3: True}
    text = model_comparison.model_comparison_statement(comparison)
    assert "parametric bootstrap of each fitted model" in text and "0.99 quantile" in text


def _two_top_model():
    """A fitted model of 20 observables, the first with two tops (15 and 45 min) at the
    rule's near-equal tolerance: its t_max is the first, a few replicas' jump to the second."""
    times = np.arange(0.0, 60.0 + 1e-9, 0.5)
    centres = np.linspace(10.0, 50.0, 20)
    y = np.exp(-0.5 * ((times[:, None] - centres[None, :]) / 5.0) ** 2)
    y[:, 0] = (np.exp(-0.5 * ((times - 15.0) / 5.0) ** 2)
               + 1.3 * np.exp(-0.5 * ((times - 45.0) / 5.0) ** 2))  # fmt: skip
    y += 1.0  # a flat share: the row totals barely move
    model = y / y.sum(axis=1, keepdims=True)
    noise = np.full(model.shape, 0.0007)
    return times, model, noise


def test_capped_statistic_rejects_a_wrong_fit_that_an_uncapped_reference_accepts():
    """One ambiguous top in the fitted model made the uncapped reference accept anything
    (docs/uncertainty-benchmarks.md); capped, data 3σ off everywhere are rejected. Negative
    control: the same data with the cap lifted are called consistent."""
    times, model, noise = _two_top_model()
    t_model, _ = tmax_of(times, model, SETTINGS.smoothing_min,
                         tolerance_rel=SETTINGS.peak_tolerance_rel,
                         plateau_rel=SETTINGS.plateau_rel)  # fmt: skip
    sigma = np.full(t_model.size, 0.2)
    exp = pd.DataFrame({"species": [f"s{i}" for i in range(t_model.size)], "included": True,
                        "t_max_min": t_model + 3.0 * sigma, "sigma_min": sigma})  # fmt: skip
    sample = [(times, model, noise, exp)]
    capped = model_comparison.calibrated_statistic(sample, SETTINGS, n_replicas=200)
    uncapped = model_comparison.calibrated_statistic(sample, SETTINGS, n_replicas=200,
                                                     z2_cap=np.inf)  # fmt: skip
    print(capped["statement"], "|", uncapped["statement"])
    assert t_model[0] < 20.0  # the fitted curve's t_max is the first top
    assert not capped["consistent"]
    assert uncapped["consistent"]  # the fragility the cap removes
    # data as the model says (within noise): consistent either way
    fine = [(times, model, noise, exp.assign(t_max_min=t_model))]
    assert model_comparison.calibrated_statistic(fine, SETTINGS, n_replicas=200)["consistent"]


def test_goodness_of_fit_falls_back_to_chi2_in_words():
    """No calibrated verdict (0 replicas, too few, no refined optimum): the section says why,
    and the comparison judges that model by χ²(n − 3) and says so."""
    experiments = {SAMPLE: (COND, TIMES, pd.DataFrame(), pd.DataFrame())}
    off = model_comparison.goodness_of_fit_section(ReactionNetwork(3, nuclearity=NUCLEARITY), {},
                                                   experiments,
                                                   SETTINGS, n_replicas=0)  # fmt: skip
    few = model_comparison.goodness_of_fit_section(ReactionNetwork(3, nuclearity=NUCLEARITY), {},
                                                   experiments,
                                                   SETTINGS, n_replicas=10)  # fmt: skip
    unrefined = model_comparison.goodness_of_fit_section(ReactionNetwork(3, nuclearity=NUCLEARITY),
                                                         None, experiments,
                                                         SETTINGS)  # fmt: skip
    broken = model_comparison.goodness_of_fit_section(
        ReactionNetwork(3, nuclearity=NUCLEARITY), {"k_dim": 1e-2, "k_diss": 1e-1, "k_ex": 3e-2},
        experiments, SETTINGS)
    expected = ((off, "gof_replicas is 0"), (few, "too few"),
                (unrefined, "no refined weighted optimum"), (broken, "Error"))
    for section, words in expected:
        assert section["available"] is False and words in section["reason"]
        assert section["statement"].startswith("calibrated goodness of fit not computed")
    table = pd.DataFrame({"point": [0], "k_dim": [1e-2], "k_diss": [1e-1], "k_ex": [3e-2],
                          "chi2": [50.0], "n_species": [66], "status": [fit.STATUS_OK],
                          "message": [""]})  # fmt: skip
    available = {"available": True, "consistent": False, "limit": 80.0, "p_value": 0.001,
                 "quantile": 0.99, "reference": "parametric bootstrap (test)",
                 "statement": "capped chi2_w 120 against the test reference: does not fit",
                 }  # fmt: skip
    comparison = model_comparison.compare_fitted_models(
        {2: table, 3: table}, {2: None, 3: None}, calibrated={2: available, 3: unrefined})
    by_model = comparison.set_index("model")
    assert by_model.loc[2, "gof_source"] == "calibrated" and not by_model.loc[2, "fits"]
    assert by_model.loc[2, "fits_chi2"]  # χ²(63) alone would have passed 50
    assert by_model.loc[3, "gof_source"] == "chi2" and by_model.loc[3, "fits"]
    assert "judged by the chi2 distribution instead" in by_model.loc[3, "statement"]
    text = model_comparison.model_comparison_statement(comparison)
    assert "Models 3: no calibrated verdict" in text and "chi2(63)" in text
