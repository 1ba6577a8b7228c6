"""SBML Level 3 Version 2 export of a :class:`~intercluster.network.ReactionNetwork`.

The model is a plain mass-action network so any SBML tool (libroadrunner, COPASI, ...)
reproduces the project's simulations: global parameters ``k_dim``, ``k_diss``, ``k_ex``;
species ``M_<i>`` and ``D_<i>_<j>`` (i >= j, counting atoms of the first metal) as
concentrations in nmol/L inside one 1 L compartment; every reaction irreversible with the
kinetic law ``k * factor * reactants`` (stoichiometry 2 for the two identical monomers of
a homodimer). Kinetic laws in SBML are amounts per time, so each law is multiplied by the
compartment volume; with 1 L this is numerically the concentration rate.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import libsbml

from .network import ReactionNetwork
from .records import RateConstants, SampleConditions

COMPARTMENT = "solution"


def _check(status: int, what: str) -> None:
    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise RuntimeError(
            f"libsbml failed to {what}: {libsbml.OperationReturnValue_toString(status)}"
        )


def _unit_definition(model, uid: str, units: list[tuple[int, int, int, float]]) -> None:
    """units: (kind, exponent, scale, multiplier)."""
    ud = model.createUnitDefinition()
    _check(ud.setId(uid), f"set unit id {uid}")
    for kind, exponent, scale, multiplier in units:
        u = ud.createUnit()
        u.setKind(kind)
        u.setExponent(exponent)
        u.setScale(scale)
        u.setMultiplier(multiplier)


def _number(x: float) -> str:
    return repr(float(x))


def sbml_document(
    network: ReactionNetwork, constants: RateConstants, conditions: SampleConditions
) -> libsbml.SBMLDocument:
    """Build the SBML document of ``network`` with ``constants``; the initial state is the
    sample's at mixing (:meth:`ReactionNetwork.initial_state`, nmol/L). The dead time is
    not part of the model: SBML time 0 is mixing."""
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    model.setId(f"intercluster_model{network.model}_{network.convention}")
    model.setName(
        f"Dimer-mediated intercluster metal exchange, model {network.model}, "
        f"rate-law convention {network.convention}, nuclearity {network.nuclearity}"
    )
    nano = -9
    _unit_definition(model, "nM", [(libsbml.UNIT_KIND_MOLE, 1, nano, 1.0),
                                   (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0)])  # fmt: skip
    _unit_definition(model, "nmol", [(libsbml.UNIT_KIND_MOLE, 1, nano, 1.0)])
    _unit_definition(model, "per_s", [(libsbml.UNIT_KIND_SECOND, -1, 0, 1.0)])
    _unit_definition(model, "per_nM_per_s", [(libsbml.UNIT_KIND_MOLE, -1, nano, 1.0),
                                             (libsbml.UNIT_KIND_LITRE, 1, 0, 1.0),
                                             (libsbml.UNIT_KIND_SECOND, -1, 0, 1.0)])  # fmt: skip
    _unit_definition(model, "nmol_per_s", [(libsbml.UNIT_KIND_MOLE, 1, nano, 1.0),
                                           (libsbml.UNIT_KIND_SECOND, -1, 0, 1.0)])  # fmt: skip
    model.setTimeUnits("second")
    model.setSubstanceUnits("nmol")
    model.setExtentUnits("nmol")
    model.setVolumeUnits("litre")

    comp = model.createCompartment()
    comp.setId(COMPARTMENT)
    comp.setSpatialDimensions(3)
    comp.setSize(1.0)
    comp.setUnits("litre")
    comp.setConstant(True)

    for pid, value, units in (
        ("k_dim", constants.k_dim, "per_nM_per_s"),
        ("k_diss", constants.k_diss, "per_s"),
        ("k_ex", constants.k_ex, "per_s"),
    ):
        par = model.createParameter()
        par.setId(pid)
        par.setValue(float(value))
        par.setUnits(units)
        par.setConstant(True)

    y0 = network.initial_state(conditions)
    for sid, c0 in zip(network.species_ids, y0, strict=True):
        sp = model.createSpecies()
        sp.setId(sid)
        sp.setCompartment(COMPARTMENT)
        sp.setInitialConcentration(float(c0))
        sp.setSubstanceUnits("nmol")
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)

    ids = network.species_ids
    for n, rxn in enumerate(network.reactions):
        r = model.createReaction()
        r.setId(f"R{n}_{rxn.kind}")
        r.setReversible(False)
        # a repeated species (homodimer formation/dissociation) is one reference, stoich 2
        for species, create in ((rxn.reactants, r.createReactant), (rxn.products, r.createProduct)):
            for s, nu in Counter(species).items():
                ref = create()
                ref.setSpecies(ids[s])
                ref.setStoichiometry(float(nu))
                ref.setConstant(True)
        factors = [COMPARTMENT, rxn.rate_constant]
        if rxn.factor != 1.0:
            factors.append(_number(rxn.factor))
        factors += [ids[s] for s in rxn.reactants]  # repeated id = squared concentration
        law = r.createKineticLaw()
        math = libsbml.parseL3Formula(" * ".join(factors))
        if math is None:
            raise RuntimeError(f"cannot parse kinetic law of reaction {n}")
        _check(law.setMath(math), f"set kinetic law of reaction {n}")
    return doc


def sbml_string(
    network: ReactionNetwork, constants: RateConstants, conditions: SampleConditions
) -> str:
    """The SBML document (:func:`sbml_document`) as an XML string."""
    return libsbml.writeSBMLToString(sbml_document(network, constants, conditions))


def write_sbml(
    network: ReactionNetwork, path, constants: RateConstants, conditions: SampleConditions
) -> Path:
    """Write the SBML file (:func:`sbml_document`); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sbml_string(network, constants, conditions))
    return path


def consistency_errors(doc_or_string) -> list[str]:
    """libsbml's consistency check (units included); returns errors, warnings excluded."""
    if isinstance(doc_or_string, str):
        doc = libsbml.readSBMLFromString(doc_or_string)
    else:
        doc = doc_or_string
    doc.checkConsistency()
    log = doc.getErrorLog()
    return [
        log.getError(k).getMessage()
        for k in range(log.getNumErrors())
        if log.getError(k).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]


def best_fit_sbml(best, network, conditions) -> str:
    """SBML of a best fit with its constants set (eq 1's best grid point) and the initial
    concentrations of ``conditions`` (SampleConditions; rule best_fit_sbml). ``best`` is a
    :class:`~intercluster.records.BestFit`."""
    text = sbml_string(network, best.constants, conditions)
    errors = consistency_errors(text)
    if errors:
        raise RuntimeError("SBML consistency check failed:\n" + "\n".join(errors))
    return text
