"""Cluster-system files: the papers' m/z from the file, the bridge to today's pipeline, one-line
errors for broken files, isotope overrides and the grep for system literals in code."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import IsoSpecPy
import numpy as np
import pytest
import yaml
from check_system_literals import find_system_literals  # tools/

from intercluster.errors import InputError
from intercluster.figures import ion_math
from intercluster.isotopes import ELECTRON_MASS, average_mz, isotope_pattern
from intercluster.network import ReactionNetwork
from intercluster.system import (
    DEFAULT_SYSTEM,
    ClusterSystem,
    IonForm,
    format_ion_label,
    load_system,
)

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = REPO / "resources" / "systems"
AG25_AU25 = SYSTEMS / "ag25_au25.yaml"
AU44_AG44 = SYSTEMS / "au44_ag44.yaml"


def _raw(path: Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _write(tmp_path: Path, data: dict, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _form_mz(system, family: str, n_first: int, charge: int, n_na: int) -> tuple[float, int]:
    """Average m/z (intercluster.isotopes) of one row of the file's ion-form table, and its n_h."""
    table = system.ion_form_table()
    row = table[
        (table["family"] == family)
        & (table["n_first"] == n_first)
        & (table["charge"] == charge)
        & (table["n_na"] == n_na)
    ]
    assert len(row) == 1, f"{family} {n_first} {charge} {n_na}: {len(row)} rows"
    row = row.iloc[0]
    form = IonForm(int(row["charge"]), int(row["n_na"]), int(row["n_h"]))
    formula = system.elemental_formula(family, n_first, form)
    return average_mz(formula, form.charge), form.n_h


# --- the papers' ions, computed from the files ------------------------------------------------
# (family, Ag atoms, the paper's average m/z): Neumaier et al., JACS 2021, text and Figure 1.
# The paper gives whole numbers, so rounding bounds the deviation by 0.5 ([Ag23Au27]2- is
# 6369.55 with IsoSpecPy's natural isotopes: 0.45 from the printed 6370).
PAPER_ROUNDING = 0.5
NEUMAIER_MZ = [
    ("monomer", 25, 5167),  # [Ag25]-
    ("monomer", 0, 7394),  # [Au25]-
    ("dimer", 25, 6280),  # [Ag25Au25]2-
    ("monomer", 13, 6236),  # [Ag13Au12]-
    ("monomer", 12, 6325),  # [Ag12Au13]-
    ("dimer", 27, 6191),  # [Ag27Au23]2-
    ("dimer", 23, 6370),  # [Ag23Au27]2-
]


@pytest.mark.parametrize(("family", "n_ag", "expected"), NEUMAIER_MZ)
def test_neumaier_ions_from_the_file(family, n_ag, expected):
    system = load_system(AG25_AU25)
    charge = system.family(family).core_charge
    mz, n_h = _form_mz(system, family, n_ag, charge, 0)
    assert n_h == 0
    assert mz == pytest.approx(expected, abs=PAPER_ROUNDING)
    pattern = system.isotope_pattern(family, n_ag)
    assert pattern.average_mz == pytest.approx(expected, abs=PAPER_ROUNDING)


# (family, Au atoms, charge, Na, the paper's m/z, the paper's H removed or None):
# Lin et al., Chem. Sci. 2022, Figure 1c-d
LIN_MZ = [
    ("au44_framework", 44, -6, 12, 2151.0, 16),  # [Au44(p-MBA)26 + 12Na - 16H]6-
    ("au44_framework", 44, -7, 12, 1843.0, None),  # the 7- set
    ("au44_framework", 44, -8, 11, 1610.0, None),  # the 8- set
    ("ag44_framework", 0, -4, 0, 2335.5, 0),  # [Ag44(p-MBA)30]4-
    ("ag43_fragment", 0, -3, 0, 2975.0, 0),  # [Ag43(p-MBA)28]3-, Ag44 minus Ag(SR)2
]


@pytest.mark.parametrize(("family", "n_au", "charge", "n_na", "expected", "paper_n_h"), LIN_MZ)
def test_lin_ions_from_the_file(family, n_au, charge, n_na, expected, paper_n_h):
    system = load_system(AU44_AG44)
    mz, n_h = _form_mz(system, family, n_au, charge, n_na)
    assert mz == pytest.approx(expected, abs=1.0)
    if paper_n_h is not None:
        assert n_h == paper_n_h


def test_lin_na_exchange_formula_by_hand():
    """[Au44(SR)26 + 12Na - 16H]6- with SR = C7H5O2S, atom by atom (not via the file)."""
    system = load_system(AU44_AG44)
    form = IonForm(-6, 12, 16)
    by_hand = {"Au": 44, "C": 7 * 26, "H": 5 * 26 - 16, "O": 2 * 26, "S": 26, "Na": 12}
    assert {k: v for k, v in system.elemental_formula("au44_framework", 44, form).items() if v} == (
        by_hand
    )
    masses = IsoSpecPy.IsoTotalProb(formula="Au44C182H114O52S26Na12", prob_to_cover=0.99999)
    m, p = np.array(list(masses.masses)), np.array(list(masses.probs))
    expected = (np.dot(m, p) / p.sum() + 6 * ELECTRON_MASS) / 6
    assert system.average_mz("au44_framework", 44, form) == pytest.approx(expected, abs=1e-6)


def test_lin_families_and_ranges():
    system = load_system(AU44_AG44)
    assert system.metals == ("Au", "Ag")
    assert system.polarity == "negative"
    assert system.kinetics.model_family == "none"
    species = system.species_table()
    ranges = species.groupby("family")["n_first"].agg(["min", "max"]).to_dict("index")
    assert ranges == {
        "ag44_framework": {"min": 0, "max": 12},
        # the 1:1 reaction's ranges with the 3:1 one's (SR)27 x = 17-18, (SR)26 x = 35-39
        "mixed_framework": {"min": 17, "max": 24},
        "au44_framework": {"min": 35, "max": 44},
        "ag43_fragment": {"min": 0, "max": 12},
    }
    assert dict(zip(species["family"], species["charge"], strict=False)) == {
        "ag44_framework": -4,
        "mixed_framework": -3,
        "au44_framework": -2,
        "ag43_fragment": -3,
    }
    table = system.ion_form_table()
    assert not table.duplicated(["family", "n_first", "charge", "n_na"]).any()
    # the Au44 framework: -H 3- plus 6-, 7-, 8- with 11 or 12 Na: 7 forms per composition
    assert (table["family"] == "au44_framework").sum() == 10 * 7
    # every ion's charge follows from its core charge and its exchange
    core = table["family"].map(species.groupby("family")["charge"].first())
    assert (table["charge"] == core - (table["n_h"] - table["n_na"])).all()
    assert (table["n_na"] <= table["n_h"]).all()
    with pytest.raises(ValueError, match="no kinetic model"):
        system.kinetic_observables()
    with pytest.raises(InputError, match=r"kinetics.model_family = 'none'"):
        system.cluster_system()


# --- the bridge: ag25_au25.yaml is today's system ---------------------------------------------
def test_bridge_reproduces_todays_cluster_system():
    system = load_system(AG25_AU25)
    bridged = system.cluster_system()
    # the `cluster` section config.yaml had before the system file replaced it
    previous_section = {
        "metals": ["Ag", "Au"], "nuclearity": 25,
        "ligand": {"formula": "C8H9S", "per_monomer": 18},
        "charge": {"monomer": -1, "dimer": -2},
    }  # fmt: skip
    config_system = ClusterSystem.from_config(previous_section)
    assert bridged == DEFAULT_SYSTEM == config_system
    assert bridged.to_config() == previous_section
    assert _raw(REPO / "config" / "config.yaml")["system"] == "resources/systems/ag25_au25.yaml"
    assert bridged.ligand_counts == DEFAULT_SYSTEM.ligand_counts


def test_file_observables_equal_todays():
    system = load_system(AG25_AU25)
    today = DEFAULT_SYSTEM.observables()
    from_file = system.kinetic_observables()
    assert len(from_file) == 77
    for column in ("species", "kind", "subunits", "charge", "formula"):
        assert from_file[column].tolist() == today[column].tolist(), column
    assert from_file["n_first"].tolist() == today["n_first"].tolist()
    assert system.cluster_system().observables().equals(today)
    # one plain ion form per observable: the ion-form table is the same 77 ions, then the
    # 76 trimers (ion forms the deconvolution fits, not observables of the model)
    forms = system.ion_form_table()
    assert set(forms["family"]) == {"monomer", "dimer", "trimer"}
    forms = forms[forms["family"] != "trimer"]
    assert forms["label"].tolist() == today["species"].tolist()
    assert forms["formula"].tolist() == today["formula"].tolist()


@pytest.mark.parametrize("convention", ["S", "U"])
@pytest.mark.parametrize("model", [1, 2, 3])
def test_file_network_size(model, convention):
    bridged = load_system(AG25_AU25).cluster_system()
    network = ReactionNetwork(model, convention, nuclearity=bridged.nuclearity)
    assert network.n_species == 377
    assert len(network.reactions) == 1302


def test_bridge_refuses_what_the_pipeline_cannot_run(tmp_path):
    data = _raw(AG25_AU25)
    data["families"]["monomer"]["ion_forms"] = [{"charge": {"min": -2, "max": -1}}]
    data["ligands"]["SR"]["acidic_protons"] = 1
    system = load_system(_write(tmp_path, data))  # a valid file ...
    with pytest.raises(InputError, match=r"x.yaml: families.monomer.ion_forms: the monomer must"):
        system.cluster_system()  # ... that today's ClusterSystem cannot describe


def test_the_trimer_adds_its_ions_not_observables(tmp_path):
    system = load_system(AG25_AU25)  # on by default
    forms = system.ion_form_table()
    trimers = forms[forms["family"] == "trimer"]
    assert len(trimers) == 76 and set(trimers["charge"]) == {-3}
    assert len(system.kinetic_observables()) == 77
    # [AgAu74(SR)54]3- of the paper's Figure 1: (Ag + 74 Au + 54 SR) / 3
    mz = system.average_mz("trimer", 1)
    assert mz == pytest.approx((107.868 + 74 * 196.96657 + 54 * 137.22 + 3 * 5.486e-4) / 3, abs=0.5)



def test_search_window_range_check_and_anchors_follow_the_system(tmp_path):
    """The deconvolution's basis (its calibration scan's peaks), the m/z span a file must
    cover and the polarity come from the system file: a second charge state of the monomer
    (one proton off) adds its columns and widens the span, so a file that covers only the
    demo's species is refused, naming the span the system needs; the demo's file passes."""
    from intercluster.frameworks import ion_form_basis
    from intercluster.ingest import read_spectra
    from intercluster.virtual_experiment import write_mzml

    demo = load_system(AG25_AU25)
    data = _raw(AG25_AU25)
    data["ligands"]["SR"]["acidic_protons"] = 1  # so that a 2- monomer (one H+ off) exists
    data["families"]["monomer"]["ion_forms"].append({"charge": -2})
    wider = load_system(_write(tmp_path, data))
    base, more = ion_form_basis(demo), ion_form_basis(wider)
    n_forms = len(demo.ion_form_table())  # the anchors: one column per ion form
    assert base.n_cols == n_forms and more.n_cols == n_forms + 26
    want = [demo.average_mz(f, n) for f, n in zip(base.labels["family"], base.labels["n_first"],
                                                   strict=True)]  # fmt: skip
    assert np.allclose(base.average_mz, want, rtol=1e-6)
    lo, hi = base.mz_span
    assert more.mz_span[1] == pytest.approx(hi) and more.mz_span[0] < 0.51 * lo  # 2- at ~m/z/2
    mz = np.arange(0.99 * lo, 1.01 * hi, 0.05)
    path = write_mzml(tmp_path / "demo_span.mzML",
                      [{"id": "scan=1", "time_min": 0.0, "mz": mz, "intensity": np.ones_like(mz)}],
                      polarity=f"{demo.polarity} scan")  # fmt: skip
    assert len(read_spectra(path, polarity=demo.polarity, mz_required=base.mz_span)) == 1
    with pytest.raises(InputError, match=rf"misses the species; expected at least m/z "
                                         rf"{more.mz_span[0]:.1f}-{more.mz_span[1]:.1f}"):
        read_spectra(path, polarity=wider.polarity, mz_required=more.mz_span)
    # and the polarity: the demo's file is negative, refused for a positive system
    with pytest.raises(InputError, match="negative polarity; expected positive ions"):
        read_spectra(path, polarity="positive")

# --- labels -----------------------------------------------------------------------------------
def test_one_label_formatter():
    system = load_system(AG25_AU25)
    obs = system.kinetic_observables()
    legacy = DEFAULT_SYSTEM
    assert legacy.ion_label(12, 1) == "[Ag12Au13]-"
    assert legacy.ion_label(24, 2) == "[Ag24Au26]2-"
    assert (legacy.ion_label(0, 1), legacy.ion_label(50, 2)) == ("[Ag0Au25]-", "[Ag50Au0]2-")
    # mathtext from the same formatter equals what the figures draw today
    for n, subunits in zip(obs["n_first"], obs["subunits"], strict=True):
        family = "monomer" if subunits == 1 else "dimer"
        assert system.ion_label(family, int(n), math=True) == ion_math(legacy, int(n), subunits)
    lin = load_system(AU44_AG44)
    form = IonForm(-6, 12, 16)
    assert lin.ion_label("au44_framework", 44, form) == "[Au44(SR)26+12Na-16H]6-"
    assert (
        lin.ion_label("au44_framework", 44, form, math=True)
        == "[Au$_{44}$(SR)$_{26}$+12Na-16H]$^{6-}$"
    )
    assert lin.ion_label("au44_framework", 43, IonForm(-3, 0, 1)) == "[Au43Ag1(SR)26-H]3-"
    assert lin.ion_label("ag44_framework", 0) == "[Ag44(SR)30]4-"
    assert format_ion_label((("Ag", 12), ("Au", 13)), -1, math=True) == (
        "[Ag$_{12}$Au$_{13}$]$^{-}$"
    )
    assert format_ion_label((("Pt", 1),), 2) == "[Pt1]2+"


def test_polarity_follows_the_charges(tmp_path):
    assert load_system(AG25_AU25).polarity == "negative"
    data = _raw(AG25_AU25)
    for family, z in (("monomer", 1), ("dimer", 2), ("trimer", 3)):
        data["families"][family]["core_charge"] = z
        data["families"][family]["ion_forms"] = [{"charge": z}]
    assert load_system(_write(tmp_path, data)).polarity == "positive"


# --- broken files: one line naming the file and the key ---------------------------------------
def _edit(base: Path, change):
    def make(tmp_path: Path) -> Path:
        data = copy.deepcopy(_raw(base))
        change(data)
        return _write(tmp_path, data)

    return make


def _set(base: Path, dotted: str, value):
    def change(data):
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value

    return _edit(base, change)


def _add_family(name: str, entry: dict):
    return _edit(AU44_AG44, lambda data: data["families"].__setitem__(name, entry))


BAD_FILES = {
    "unknown metal": (
        _set(AG25_AU25, "metals", ["Ag", "Xq"]),
        "metals.1 = 'Xq': unknown element Xq",
    ),
    "unknown ligand element": (
        _set(AG25_AU25, "ligands.SR.formula", "C8H9Zz"),
        "ligands.SR.formula = 'C8H9Zz': unknown element Zz",
    ),
    "unknown isotope element": (
        _set(AG25_AU25, "isotopes", {"Qq": {"abundances": [1.0]}}),
        "isotopes.Qq = 'Qq': unknown element Qq",
    ),
    "composition above nuclearity": (
        _set(AU44_AG44, "families.ag44_framework.composition", {"min": 0, "max": 45}),
        "families.ag44_framework.composition.max = 45: must lie in 0..44",
    ),
    "composition below 0": (
        _set(AU44_AG44, "families.ag44_framework.composition", {"min": -1, "max": 12}),
        "families.ag44_framework.composition.min = -1: must be >= 0",
    ),
    "core charge 0": (
        _set(AG25_AU25, "families.dimer.core_charge", 0),
        "families.dimer.core_charge = 0: must not be 0",
    ),
    "ion charge 0": (
        _set(AG25_AU25, "families.dimer.ion_forms", [{"charge": 0}]),
        "families.dimer.ion_forms.0.charge = 0: must not be 0",
    ),
    "ion charge range through 0": (
        _set(AU44_AG44, "families.ag44_framework.ion_forms", [{"charge": {"min": -1, "max": 1}}]),
        "families.ag44_framework.ion_forms.0.charge = {'min': -1, 'max': 1}: must not be 0",
    ),
    "reactant not among the families": (
        _set(AG25_AU25, "reactants.ag25.family", "monomr"),
        "reactants.ag25.family = 'monomr': not among the families",
    ),
    "reactant outside the family's range": (
        _set(AU44_AG44, "reactants.ag44.composition", 20),
        "reactants.ag44.composition = 20: outside the family's range 0..12",
    ),
    "duplicate ion form in a family": (
        _set(AG25_AU25, "families.monomer.ion_forms", [{"charge": -1}, {"charge": -1}]),
        "families.monomer.ion_forms.1: charge -1 with 0 Na: duplicate ion form",
    ),
    "duplicate ion form across families": (
        _add_family(
            "copy",
            {
                "nuclearity": 44,
                "ligands": {"SR": 30},
                "core_charge": -4,
                "composition": {"min": 12, "max": 14},
                "ion_forms": [{"charge": -4}],
            },
        ),
        "families.copy.ion_forms: duplicate ion form",
    ),
    "more H removed than acidic protons": (
        _set(AG25_AU25, "families.monomer.ion_forms", [{"charge": -2}]),
        "families.monomer.ion_forms.0: charge -2 with 0 Na removes 1 H+",
    ),
    "Na beyond acidic protons": (
        _set(AU44_AG44, "families.ag44_framework.ion_forms", [{"charge": -5, "n_na": 30}]),
        "families.ag44_framework.ion_forms.0: charge -5 with 30 Na removes 31 H+",
    ),
    "mixed polarity": (
        _set(AG25_AU25, "families.dimer.ion_forms", [{"charge": 2}]),
        "families.dimer.ion_forms.0.charge = 2: mixed polarity (families.monomer.core_charge = -1)",
    ),
    "acidic protons beyond H": (
        _set(AG25_AU25, "ligands.SR.acidic_protons", 10),
        "ligands.SR.acidic_protons = 10: more than the 9 H of C8H9S",
    ),
    "missing nuclearity": (
        _edit(AG25_AU25, lambda d: d["families"]["dimer"].pop("nuclearity")),
        "families.dimer: is missing a required key ('nuclearity')",
    ),
    "aggregates without kinetic model": (
        _set(AU44_AG44, "kinetics.aggregates", {"monomer": "ag44_framework", "dimer": "x"}),
        "kinetics.aggregates: only for model_family dimer_exchange",
    ),
    "simulated aggregate disabled": (
        _edit(AG25_AU25, lambda d: (d["kinetics"]["aggregates"].update(dimer="trimer"),
                                    d["families"]["trimer"].update(enabled=False))),
        "kinetics.aggregates.dimer = 'trimer': the model simulates it, so it must be enabled",
    ),
    "dimer is not twice the monomer": (
        _set(AG25_AU25, "families.dimer.nuclearity", 49),
        "kinetics.aggregates.dimer = 'dimer': a dimer must be 2 x the monomer (50 atoms",
    ),
    "kinetic model without aggregates": (
        _edit(AG25_AU25, lambda d: d["kinetics"].pop("aggregates")),
        "kinetics.aggregates: model_family dimer_exchange needs the monomer and dimer",
    ),
    "unknown ligand in a family": (
        _set(AG25_AU25, "families.dimer.ligands", {"SR": 36, "PPh3": 2}),
        "families.dimer.ligands.PPh3: unknown ligand (declared: SR)",
    ),
    "abundances not summing to 1": (
        _set(AG25_AU25, "isotopes", {"Ag": {"abundances": [0.5, 0.4]}}),
        "isotopes.Ag.abundances = [0.5, 0.4]: must sum to 1",
    ),
    "unknown key": (
        _set(AG25_AU25, "families.monomer.charge", -1),
        "families.monomer: has an unknown key",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_broken_file_gives_one_line(tmp_path, case):
    make, expected = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        load_system(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_good_files_and_their_round_trip_pass(tmp_path):
    """Negative control: the shipped files, and a YAML round trip of each, load cleanly."""
    for path in (AG25_AU25, AU44_AG44):
        system = load_system(path)
        again = load_system(_write(tmp_path, _raw(path), name=path.name))
        assert again.ion_form_table().equals(system.ion_form_table())
        # frozen, hashable values: equal files give equal definitions (cache keys later)
        assert again == dataclasses.replace(system, source=again.source)
        assert hash(again) == hash(dataclasses.replace(system, source=again.source))


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(InputError, match=r"nothere.yaml: file not found"):
        load_system(tmp_path / "nothere.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml: not valid YAML"):
        load_system(bad)


# --- isotope overrides ------------------------------------------------------------------------
def _spread(pattern) -> float:
    return float(np.sqrt(np.dot(pattern.prob, (pattern.mz - pattern.average_mz) ** 2)))


def test_pure_107ag_override_narrows_and_lightens(tmp_path):
    formula = DEFAULT_SYSTEM.elemental_formula(25, 1)  # [Ag25(SR)18]-
    natural = isotope_pattern(formula, -1)
    ag = IsoSpecPy.PeriodicTbl.symbol_to_masses["Ag"]
    pure = isotope_pattern(formula, -1, isotopes={"Ag": (ag, (1.0, 0.0))})
    assert _spread(pure) < 0.5 * _spread(natural)
    assert pure.average_mz < natural.average_mz - 20  # 25 x (~0.48 x 2 u)
    # independently: 25 x m(107Ag) plus the ligands' natural average, plus one electron
    ligands = IsoSpecPy.IsoTotalProb(formula="C144H162S18", prob_to_cover=0.999999)
    m, p = np.array(list(ligands.masses)), np.array(list(ligands.probs))
    expected = 25 * min(ag) + np.dot(m, p) / p.sum() + ELECTRON_MASS
    assert pure.average_mz == pytest.approx(expected, abs=2e-3)
    assert average_mz(formula, -1, isotopes={"Ag": (ag, (1.0, 0.0))}) == pytest.approx(
        expected, abs=2e-3
    )
    # the same override from a system file
    data = _raw(AG25_AU25)
    data["isotopes"] = {"Ag": {"abundances": [1.0, 0.0]}}
    from_file = load_system(_write(tmp_path, data)).isotope_pattern("monomer", 25)
    assert np.array_equal(from_file.mz, pure.mz) and np.array_equal(from_file.prob, pure.prob)


def test_default_isotopes_unchanged():
    formula = DEFAULT_SYSTEM.elemental_formula(13, 1)
    default = isotope_pattern(formula, -1)
    natural = {
        el: (IsoSpecPy.PeriodicTbl.symbol_to_masses[el], IsoSpecPy.PeriodicTbl.symbol_to_probs[el])
        for el in formula
    }
    explicit = isotope_pattern(formula, -1, isotopes=natural)
    assert np.array_equal(default.mz, explicit.mz)
    assert np.array_equal(default.prob, explicit.prob)
    assert isotope_pattern(formula, -1, isotopes=None).mz.tobytes() == default.mz.tobytes()
    assert average_mz(formula, -1) == average_mz(formula, -1, isotopes={})


# --- the grep for system literals in code -----------------------------------------------------
def test_find_system_literals_finds_planted_ones(tmp_path):
    systems = [load_system(AG25_AU25), load_system(AU44_AG44)]
    planted = tmp_path / "src" / "planted.py"
    planted.parent.mkdir()
    planted.write_text(
        "\n".join(
            [
                "import numpy as np  # nothing here",  # 1
                "label = '[Ag12Au13]-'",  # 2 metal
                "n = 25",  # 3 nuclearity
                "column = 'n_ag'",  # 4 metal in an identifier
                "ligand = 'C7H5O2S'",  # 5 ligand formula
                "image_tag, agg, resolving_power, step = 1, 2, 25000, 0.25  # R ~25,000",  # 6 clean
                "x = 44",  # 7 nuclearity
            ]
        )
    )
    (tmp_path / "src" / "notes.txt").write_text("Ag25 in a file of another kind\n")
    found = find_system_literals([tmp_path / "src"], systems)
    by_line = {(f.line, f.kind, f.token) for f in found}
    assert by_line == {
        (2, "metal", "Ag"),
        (2, "metal", "Au"),
        (3, "nuclearity", "25"),
        (4, "metal", "Ag"),
        (5, "ligand formula", "C7H5O2S"),
        (7, "nuclearity", "44"),
    }
    assert all(f.path == str(planted) for f in found)
    # negative control: a clean file yields nothing
    clean = tmp_path / "clean.py"
    clean.write_text("def f(image, tag):\n    return 0.25 * 25000\n")
    assert find_system_literals([clean], systems) == []


def test_system_module_imports_without_isospec_or_jsonschema():
    """The figure and fit rules' environments have neither; they import intercluster.system."""
    import subprocess
    import sys

    code = (
        "import sys, intercluster.system, intercluster.network\n"
        "print(sorted(m for m in ('IsoSpecPy', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_readme_examples_are_the_shipped_systems(tmp_path):
    """The two YAML examples of docs/system-file.md load and describe the same ions as the files."""
    section = (REPO / "docs" / "system-file.md").read_text()
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    for block, shipped in zip(blocks, (AG25_AU25, AU44_AG44), strict=True):
        path = tmp_path / shipped.name
        path.write_text(block)
        example, system = load_system(path), load_system(shipped)
        assert example.ion_form_table().equals(system.ion_form_table()), shipped.name
        assert example.reactants == system.reactants
        assert example.kinetics == system.kinetics
