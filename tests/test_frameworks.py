"""Au44/Ag44 (Lin 2022): deconvolution over ion forms recovers a SYNTHETIC truth.

The spectra come from :func:`intercluster.frameworks.simulate_framework_experiment` (isotope
patterns of every ion form, Gaussian peaks, shot and baseline noise); the truth is the
documented synthetic time evolution. Recovery is measured as the mean per-spectrum L1
distance of the framework populations and of each framework's composition distribution.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import system_file_without_trimers

from intercluster import frameworks as fw
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system

REPO = Path(__file__).resolve().parents[1]
AU44 = REPO / "resources" / "systems" / "au44_ag44.yaml"
FRAMEWORKS = ("ag44_framework", "mixed_framework", "au44_framework")
TIMES = [0.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0]
# The model these tests were written for: one resolving power per file, no robust pass.
DEC = replace(DeconvolutionSettings.schema_default(), resolving_power_model="constant",
              robust=False)  # fmt: skip
TOLERANCE = 0.02  # 2 percentage points, L1 per spectrum (mean)
# The instrument and noise of the system's config (framework_experiment), which the tests
# were written for; the seed is each test's own.
with open(REPO / "config" / "au44_ag44.yaml") as _handle:
    _EXPERIMENT = yaml.safe_load(_handle)["framework_experiment"]
INSTRUMENT = {key: float(_EXPERIMENT[key])
              for key in ("resolving_power", "ions_per_spectrum", "baseline_rel")}  # fmt: skip


def _evolution(**changes) -> fw.FrameworkEvolution:
    """Ag-rich (SR)30 fading into (SR)27 and then into Au-rich (SR)26 (Lin 2022, Figs 3-4)."""
    settings = dict(
        initial={"ag44_framework": 0.5, "au44_framework": 0.5},
        chain=FRAMEWORKS,
        tau_min=(5.0, 20.0),
        q_start={"ag44_framework": 0.02, "mixed_framework": 0.3, "au44_framework": 1.0},
        q_end={"ag44_framework": 0.4, "mixed_framework": 0.7, "au44_framework": 0.6},
    )
    settings.update(changes)
    return fw.FrameworkEvolution(**settings)


def _recover(system, evolution, seed=1):
    ex = fw.simulate_framework_experiment(system, evolution, TIMES, **INSTRUMENT, seed=seed)
    forms, fits = fw.deconvolve_ion_forms(ex.times_min, [ex.mz] * len(ex.spectra), ex.spectra,
                                          system, DEC)  # fmt: skip
    return ex, forms, fw.framework_summary(forms, system)


def _form_share_l1(forms, truth_forms) -> float:
    """Mean per-spectrum L1 of the ion-form shares (every column of the basis)."""
    keys = ["time_min", "family", "n_first", "charge", "n_na", "n_h"]
    fitted = forms.set_index(keys)["intensity"]
    fitted = fitted / fitted.groupby(level="time_min").transform("sum")
    truth = truth_forms.set_index(keys)["intensity"]
    a, b = fitted.align(truth, fill_value=0.0)
    return float((a - b).abs().groupby(level="time_min").sum().mean())


@pytest.fixture(scope="module")
def au44():
    system = load_system(AU44)
    return (system, *_recover(system, _evolution()))


def test_framework_populations_and_compositions_are_recovered(au44):
    system, ex, forms, summary = au44
    assert fw.population_l1(summary, ex.truth) < TOLERANCE
    for family in FRAMEWORKS:
        assert fw.composition_l1(summary, ex.truth, family) < TOLERANCE, family
    # the truth moves: the Ag-rich framework fades, the Au-rich one grows
    pops = ex.truth.groupby(["time_min", "family"])["population"].first().unstack()
    assert pops["ag44_framework"].iloc[0] > 0.4 > 0.01 > pops["ag44_framework"].iloc[-1]
    assert pops["au44_framework"].iloc[-1] > 0.9


def test_every_charge_state_and_adduct_is_fitted(au44):
    system, ex, forms, _ = au44
    table = system.ion_form_table()
    assert len(forms) == len(TIMES) * len(table)
    # the Au44 framework's 3-, 6-, 7-, 8- ions, the 6- to 8- with 11 and 12 Na
    au = table[table["family"] == "au44_framework"]
    assert set(au["charge"]) == {-3, -6, -7, -8}
    assert set(au.loc[au["charge"] < -3, "n_na"]) == {11, 12}
    assert _form_share_l1(forms, ex.truth_forms) < TOLERANCE
    # each ion form holding >= 1 % of the signal, one by one within 20 % of its truth
    keys = ["time_min", "family", "n_first", "charge", "n_na", "n_h"]
    fitted = forms.set_index(keys)["intensity"]
    fitted = fitted / fitted.groupby(level="time_min").transform("sum")
    truth = ex.truth_forms.set_index(keys)["intensity"]
    big = truth[truth > 0.01]
    assert len(big) > 50
    assert np.allclose(fitted[big.index], big, rtol=0.2)


def test_negative_control_a_basis_without_the_sodium_forms_fails(au44, tmp_path):
    """The same spectra fitted without the Na/H exchange forms: the Au44 framework's
    6- to 8- signal has no column, and its population is far off."""
    system, ex, _, _ = au44
    text = AU44.read_text()
    old = "      - charge: {min: -8, max: -6}\n        n_na: {min: 11, max: 12}\n"
    assert old in text
    path = tmp_path / "no_sodium.yaml"
    path.write_text(text.replace(old, ""))
    narrow = load_system(path)
    forms, _ = fw.deconvolve_ion_forms(ex.times_min, [ex.mz] * len(ex.spectra), ex.spectra,
                                       narrow, DEC)  # fmt: skip
    summary = fw.framework_summary(forms, narrow)
    assert fw.population_l1(summary, ex.truth) > 5 * TOLERANCE


def test_a_missing_charge_state_gives_the_right_answer():
    """No 7- ions in the data (a charge state the instrument did not show): the fit puts
    ~nothing on them and the frameworks are still right."""
    system = load_system(AU44)
    ex, forms, summary = _recover(system, _evolution(form_weights={-7: 0.0}), seed=2)
    assert fw.population_l1(summary, ex.truth) < TOLERANCE
    for family in FRAMEWORKS:
        assert fw.composition_l1(summary, ex.truth, family) < TOLERANCE, family
    seven = forms.loc[forms["charge"] == -7, "intensity"].sum()
    assert seven < 0.005 * forms["intensity"].sum()


def test_overlapping_charge_states_give_the_right_answer(tmp_path):
    """The Ag-rich framework over x = 0-44 as 4- ions and as 5- ions (one carboxylic acid
    more deprotonated): the two charge states' m/z ranges overlap (m/z ~2340-2650); the sum
    over both is still recovered."""
    text = AU44.read_text()
    old = ("    composition: {min: 0, max: 12} # [AuxAg44-x(SR)30]4-, x = 0-12 (Figure 2b)\n"
           "    description: framework of [Ag44(SR)30]4-; ESI shows the bare 4- ion at m/z "
           "2335.5\n    ion_forms:\n      - charge: -4\n")  # fmt: skip
    assert old in text
    new = "    composition: {min: 0, max: 44}\n    ion_forms:\n      - charge: {min: -5, max: -4}\n"
    path = tmp_path / "overlap.yaml"
    path.write_text(text.replace(old, new))
    system = load_system(path)
    ag = system.family("ag44_framework")
    span = {z: [system.average_mz(ag, n, form) for n in (0, 44)]
            for z, form in ((f.charge, f) for f in ag.ion_forms)}  # fmt: skip
    assert span[-4][0] < span[-5][1]  # the ranges overlap
    evolution = _evolution(
        q_start={"ag44_framework": 0.3, "mixed_framework": 0.3, "au44_framework": 1.0},
        q_end={"ag44_framework": 0.6, "mixed_framework": 0.7, "au44_framework": 0.6},
    )
    ex, forms, summary = _recover(system, evolution, seed=3)
    assert fw.population_l1(summary, ex.truth) < TOLERANCE
    for family in FRAMEWORKS:
        assert fw.composition_l1(summary, ex.truth, family) < TOLERANCE, family


# --- the demo's system: ion forms summed per kinetic observable ------------------------------
AG25 = REPO / "resources" / "systems" / "ag25_au25.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Three spectra of the demo's SYNTHETIC virtual experiment, written and read back."""
    import yaml

    from intercluster.ingest import read_spectra
    from intercluster.virtual_experiment import simulate_sample, write_mzml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    system = load_system(AG25).cluster_system()
    ve = dict(config["virtual_experiment"], cid={})
    vs = simulate_sample(system, ve, "ag40_au40", times_min=np.array([0.0, 10.0, 40.0]))
    path = tmp_path_factory.mktemp("demo") / "demo.mzML"
    write_mzml(path, vs.ms1, resolving_power=ve["resolving_power"])
    return read_spectra(path), DEC



def test_demo_ion_forms_sum_to_the_previous_intensities(demo_run, tmp_path):
    """The system file without its trimer family: exactly the observable deconvolution."""
    from intercluster.deconvolution import deconvolve_run

    run, dec = demo_run
    system = load_system(system_file_without_trimers(tmp_path))
    before, qc_before, _ = deconvolve_run(run, system.cluster_system(), dec)
    forms, after, qc_after, _ = fw.deconvolve_run_ion_forms(run, system, dec)
    assert len(forms) == 3 * 77
    assert list(after.columns) == list(before.columns)
    assert (after["species"] == before["species"]).all()
    for column in ("intensity", "intensity_norm"):
        assert np.allclose(after[column], before[column], rtol=1e-9, atol=0), column
    assert np.allclose(qc_after["shift_ppm"], qc_before["shift_ppm"], rtol=1e-9, atol=1e-12)


def test_trimers_get_their_own_columns_but_stay_out_of_the_observables(demo_run, tmp_path):
    """The trimer family is on by default (data without trimers): 77 + 76 ion forms fitted,
    the intensities table keeps the 77 observables normalised among themselves, and they
    are the 77 of the fit without trimers to well below the noise (1e-3 L1 per spectrum)."""
    run, dec = demo_run
    system = load_system(AG25)
    forms, intensities, _, _ = fw.deconvolve_run_ion_forms(run, system, dec)
    assert len(forms) == 3 * (77 + 76)
    assert len(intensities) == 3 * 77
    assert np.allclose(intensities.groupby("time_min")["intensity_norm"].sum(), 1.0)
    trimer = forms.loc[forms["family"] == "trimer", "intensity"].sum()
    assert trimer < 0.01 * forms["intensity"].sum()
    _, without, _, _ = fw.deconvolve_run_ion_forms(
        run, load_system(system_file_without_trimers(tmp_path)), dec
    )
    diff = np.abs(intensities["intensity_norm"].to_numpy() - without["intensity_norm"].to_numpy())
    assert diff.reshape(3, 77).sum(axis=1).max() < 1e-3
    # the other total: trimers counted, so the 77 sum to less than 1 (by the trimer share)
    _, with_all, _, _ = fw.deconvolve_run_ion_forms(
        run, system, replace(dec, normalise_over="all_clusters")
    )
    sums = with_all.groupby("time_min")["intensity_norm"].sum().to_numpy()
    assert np.all(sums < 1.0) and np.all(sums > 1.0 - 0.01)


def test_framework_figure_integer_ticks_and_visible_truth(au44):
    """Atom counts get whole-number ticks; the truth is drawn wider than the fitted lines
    (else a good fit hides it), in the populations and the mean counts, with its legend
    entry; without a truth there is none of it (the control)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from intercluster.framework_figures import TRUTH_STYLE, figure_frameworks

    system, ex, forms, summary = au44
    # what the figure reads of qc.tsv
    qc = pd.DataFrame({"time_min": ex.times_min, "residual_norm": 0.03, "shift_ppm": 0.0})
    clusters = [f.name for f in system.enabled_families if f.role != "fragment"]

    def truth_lines(ax):
        return [line for line in ax.get_lines()
                if line.get_linewidth() == TRUTH_STYLE["linewidth"] and line.get_xdata().size]

    fig = figure_frameworks(summary, qc, system, True, "s", ex.truth)
    ax_pop, ax_mean = fig.axes[0], fig.axes[1]
    heat_maps = [ax for ax in fig.axes if ax.get_ylabel() == f"{system.metals[0]} atoms"]
    assert len(heat_maps) == len(clusters)
    for ax in heat_maps:
        lo, hi = ax.get_ylim()
        ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    from intercluster.framework_figures import family_label

    names = {family_label(system, family) for family in clusters}
    fitted = [line for line in ax_pop.get_lines() if line.get_label() in names]
    assert len(fitted) == len(clusters)
    assert len(truth_lines(ax_pop)) == len(clusters)
    assert truth_lines(ax_mean)
    widest_fit = max(line.get_linewidth() for line in fitted)
    assert TRUTH_STYLE["linewidth"] >= 3 * widest_fit
    assert "truth (synthetic)" in ax_pop.get_legend_handles_labels()[1]
    plt.close(fig)
    control = figure_frameworks(summary, qc, system, True, "s", None)
    assert not truth_lines(control.axes[0]) and not truth_lines(control.axes[1])
    assert "truth (synthetic)" not in control.axes[0].get_legend_handles_labels()[1]
    plt.close(control)
