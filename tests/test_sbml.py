"""SBML export: valid SBML L3, and libroadrunner reproduces the project's simulator."""

from __future__ import annotations

from types import SimpleNamespace

import libsbml
import numpy as np
import pytest
from workflow_helpers import NUCLEARITY, SHIPPED_SYSTEM

from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
from intercluster.sbml import consistency_errors, sbml_string, write_sbml
from intercluster.simulate import simulate

TABLE1 = {
    m: RateConstants(*k)
    for m, k in {1: (3.2e-3, 3.2e-2, 3.2e-2), 2: (1e-2, 1e-1, 3.2e-2),
                 3: (1e-2, 5.6e-2, 3.2e-2), 4: (1e-2, 5.6e-2, 3.2e-2)}.items()
}  # fmt: skip
BETA = {4: 2.0}  # model 4 exported with its exchange bias off 1
COND = SampleConditions.from_dict({"ag_nM": 40.0, "au_nM": 40.0, "dead_time_s": 20.0})


@pytest.fixture(scope="module", params=[1, 2, 3, 4])
def exported(request):
    net = ReactionNetwork(request.param, "S", beta=BETA.get(request.param, 1.0),
                          nuclearity=NUCLEARITY)
    return net, sbml_string(net, TABLE1[request.param], COND, SHIPPED_SYSTEM)


def test_sbml_is_consistent(exported):
    _, text = exported
    assert consistency_errors(text) == []


def test_sbml_content(exported):
    net, text = exported
    model = libsbml.readSBMLFromString(text).getModel()
    assert model.getLevel() == 3
    assert model.getNumSpecies() == 377
    assert model.getNumReactions() == 1302
    assert {model.getParameter(k).getId() for k in range(3)} == {"k_dim", "k_diss", "k_ex"}
    assert model.getSpecies("M_25").getInitialConcentration() == 40.0
    assert model.getSpecies("M_0").getInitialConcentration() == 40.0
    assert model.getSpecies("D_25_0").getInitialConcentration() == 0.0
    assert model.getCompartment(0).getSize() == 1.0
    homo = model.getReaction(0)  # M_0 + M_0 -> D_0_0
    assert homo.getNumReactants() == 1
    assert homo.getReactant(0).getStoichiometry() == 2.0
    assert all(not model.getReaction(k).getReversible() for k in range(1302))


def test_write_sbml(tmp_path):
    path = write_sbml(ReactionNetwork(2, nuclearity=NUCLEARITY), tmp_path / "m.xml", TABLE1[2],
                      COND, SHIPPED_SYSTEM)
    assert consistency_errors(path.read_text()) == []


def test_roadrunner_reproduces_simulator(exported):
    roadrunner = pytest.importorskip("roadrunner")
    net, text = exported
    rr = roadrunner.RoadRunner(text)
    rr.integrator.relative_tolerance = 1e-9
    rr.integrator.absolute_tolerance = 1e-12
    rr.timeCourseSelections = ["time"] + [f"[{sid}]" for sid in net.species_ids]
    t_exp = np.arange(0.0, 3601.0, 60.0)
    out = np.asarray(rr.simulate(times=np.concatenate([[0.0], t_exp + COND.dead_time_s])))[1:, 1:]
    ours = simulate(net, TABLE1[net.model], COND, t_exp).states
    dev = np.max(np.abs(out - ours) / np.maximum(np.abs(ours), 1e-3))
    assert dev <= 1e-3


def test_model4_export_carries_beta():
    """Model 4's bias is in the exported exchange factors (negative control: beta = 1 is
    model 3's export, factor for factor)."""
    biased = ReactionNetwork(4, "S", beta=2.0, nuclearity=NUCLEARITY)
    text = sbml_string(biased, TABLE1[4], COND, SHIPPED_SYSTEM)
    assert "exchange bias beta = 2" in text
    model = libsbml.readSBMLFromString(text).getModel()
    three = libsbml.readSBMLFromString(sbml_string(ReactionNetwork(3, "S", nuclearity=NUCLEARITY),
                                                   TABLE1[3], COND, SHIPPED_SYSTEM))
    at_one = libsbml.readSBMLFromString(sbml_string(ReactionNetwork(4, "S", nuclearity=NUCLEARITY),
                                                    TABLE1[3], COND, SHIPPED_SYSTEM))

    def laws(m):
        return [libsbml.formulaToL3String(m.getReaction(k).getKineticLaw().getMath())
                for k in range(m.getNumReactions())]  # fmt: skip

    assert laws(at_one.getModel()) == laws(three.getModel())
    changed = sum(a != b for a, b in zip(laws(model), laws(three.getModel()), strict=True))
    assert changed == 600  # every exchange reaction, nothing else


def test_best_fit_sbml_carries_the_fit_and_the_sample():
    """The rule best_fit_sbml's call: the best fit's constants and the sample's initial state
    (the second reactant's homodimer at mixing included), read back with libsbml."""
    from intercluster.sbml import best_fit_sbml

    net = ReactionNetwork(3, "S", nuclearity=NUCLEARITY)
    best = SimpleNamespace(constants=RateConstants(1.78e-2, 3.16e-2, 5.62e-2))
    cond = SampleConditions.from_dict(
        {"ag_nM": 80.0, "au_nM": 40.0, "dead_time_s": 20.0, "second_dimer_fraction": 0.1}
    )
    model = libsbml.readSBMLFromString(best_fit_sbml(best, net, cond, SHIPPED_SYSTEM)).getModel()
    values = {model.getParameter(k).getId(): model.getParameter(k).getValue() for k in range(3)}
    assert values == {"k_dim": 1.78e-2, "k_diss": 3.16e-2, "k_ex": 5.62e-2}
    assert model.getSpecies("M_25").getInitialConcentration() == 80.0
    assert model.getSpecies("M_0").getInitialConcentration() == pytest.approx(36.0)
    assert model.getSpecies("D_0_0").getInitialConcentration() == pytest.approx(2.0)
    # negative control: another fit gives other constants
    other = SimpleNamespace(constants=TABLE1[3])
    text = best_fit_sbml(other, net, cond, SHIPPED_SYSTEM)
    assert libsbml.readSBMLFromString(text).getModel().getParameter("k_dim").getValue() == 1e-2


def test_species_names_sbo_terms_and_notes(exported):
    """Names in the paper's notation, SBO terms and notes; the metals follow the system."""
    from intercluster.sbml import SBO_DIMER, SBO_MONOMER, SBO_REACTION, species_names
    from intercluster.system import ClusterSystem

    net, text = exported
    model = libsbml.readSBMLFromString(text).getModel()
    assert model.getSpecies("M_12").getName() == "[Ag12Au13]-"
    assert model.getSpecies("D_13_12").getName() == "(Ag12Au13)(Ag13Au12)"
    assert model.getSpecies("M_12").getSBOTermID() == f"SBO:{SBO_MONOMER:07d}"
    assert model.getSpecies("D_13_12").getSBOTermID() == f"SBO:{SBO_DIMER:07d}"
    names = [model.getSpecies(k).getName() for k in range(model.getNumSpecies())]
    assert len(set(names)) == len(names) == model.getNumSpecies()
    kinds = {model.getReaction(k).getSBOTerm() for k in range(model.getNumReactions())}
    assert kinds == set(SBO_REACTION.values())
    assert "nmol/L" in model.getSpecies("M_0").getNotesString()
    assert model.getNotesString() and model.getParameter("k_ex").getSBOTerm() == 9
    # the names come from the system: swapped metals give swapped names (the control)
    swapped = ClusterSystem.from_config({**SHIPPED_SYSTEM.to_config(), "metals": ["Au", "Ag"]})
    assert species_names(net, swapped)["M_12"] == "[Au12Ag13]-"


def test_the_export_needs_the_system():
    """No default system: every export names its species from the system it is given."""
    from intercluster.sbml import best_fit_sbml, species_names

    net = ReactionNetwork(3, "S", nuclearity=NUCLEARITY)
    with pytest.raises(TypeError):
        sbml_string(net, TABLE1[3], COND)  # the system left out
    with pytest.raises(TypeError, match="cluster system"):
        species_names(net, None)
    with pytest.raises(TypeError, match="cluster system"):
        best_fit_sbml(SimpleNamespace(constants=TABLE1[3]), net, COND, None)
    # a system of another nuclearity is refused, not silently mislabelled
    small = ReactionNetwork(3, "S", nuclearity=4)
    with pytest.raises(ValueError, match="nuclearity"):
        species_names(small, SHIPPED_SYSTEM)
    # the control: with the system given, the names are there
    assert species_names(net, SHIPPED_SYSTEM)["M_0"] == SHIPPED_SYSTEM.ion_label(0, 1)
