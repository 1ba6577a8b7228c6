"""SBML Level 3 Version 2 export of a :class:`~intercluster.network.ReactionNetwork`.

The model is a plain mass-action network so any SBML tool (libroadrunner, COPASI, ...)
reproduces the project's simulations: global parameters ``k_dim``, ``k_diss``, ``k_ex``;
species ``M_<i>`` and ``D_<i>_<j>`` (i >= j, counting atoms of the first metal) as
concentrations in nmol/L inside one 1 L compartment; every reaction irreversible with the
kinetic law ``k * factor * reactants`` (stoichiometry 2 for the two identical monomers of
a homodimer). Kinetic laws in SBML are amounts per time, so each law is multiplied by the
compartment volume; with 1 L this is numerically the concentration rate.

For a reader (and tools that show names), species carry the paper's names (``[A12B13]-``
for ``M_12``, ``(A12B13)(A13B12)`` for ``D_13_12``, A and B the system's metals), SBO
terms (species, reactions by kind, rate constants, the mass-action laws) and XHTML notes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import libsbml

from .network import ReactionNetwork
from .records import RateConstants, SampleConditions

COMPARTMENT = "solution"

# Systems Biology Ontology terms (https://www.ebi.ac.uk/sbo): what each element is
SBO_MONOMER = 247  # simple chemical
SBO_DIMER = 253  # non-covalent complex
SBO_REACTION = {"dimerization": 177, "dissociation": 180, "exchange": 176}  # binding,
# dissociation, biochemical reaction (the metal exchange inside a dimer)
SBO_RATE_CONSTANT = 9  # kinetic constant
SBO_MASS_ACTION = 12  # mass action rate law
SBO_COMPARTMENT = 290  # physical compartment
XHTML = "http://www.w3.org/1999/xhtml"


def _notes(element, text: str) -> None:
    from xml.sax.saxutils import escape

    _check(element.setNotes(f'<body xmlns="{XHTML}"><p>{escape(text)}</p></body>'),
           "set notes")  # fmt: skip


def species_names(network: ReactionNetwork, system) -> dict[str, str]:
    """Species id -> name in the paper's notation: ``[A12B13]-`` (monomer ion with its
    charge), ``(A12B13)(A13B12)`` (dimer: its two monomer units, fewer first-metal atoms
    first). ``system``: the :class:`~intercluster.system.ClusterSystem` (required; its
    metals name the species)."""
    if system is None:
        raise TypeError("species_names needs the cluster system (a ClusterSystem)")
    if system.nuclearity != network.nuclearity:
        raise ValueError("cluster system and network disagree on the nuclearity")
    a, b = system.metals
    n = network.nuclearity

    def unit(i: int) -> str:
        return f"{a}{i}{b}{n - i}"

    names = {f"M_{i}": system.ion_label(i, 1) for i in range(network.n_monomers)}
    for i, j in network.dimer_pairs:
        names[f"D_{i}_{j}"] = f"({unit(int(j))})({unit(int(i))})"
    return names


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
    network: ReactionNetwork, constants: RateConstants, conditions: SampleConditions,
    system,
) -> libsbml.SBMLDocument:  # fmt: skip
    """Build the SBML document of ``network`` with ``constants``; the initial state is the
    sample's at mixing (:meth:`ReactionNetwork.initial_state`, nmol/L). The dead time is
    not part of the model: SBML time 0 is mixing. ``system`` (a ClusterSystem, required)
    names the species."""
    names = species_names(network, system)
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    # model 4's exchange bias is a pure number inside the exchange factors: say which
    bias = (f", exchange bias beta = {network.beta:.17g} in the exchange factors: forward "
            "moves times sqrt(beta), backward ones divided by it" if network.model == 4
            else "")  # fmt: skip
    _notes(model, (
        f"Dimer-mediated metal exchange between {network.nuclearity}-atom clusters: monomers "
        "M_i (i atoms of the first metal) dimerise, dimers D_i_j dissociate and exchange one "
        f"atom pair (model {network.model}, rate-law convention {network.convention}{bias}). "
        "Concentrations in nmol/L, time in s from mixing. Written by the intercluster "
        "workflow (intercluster.sbml)."
    ))  # fmt: skip
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
    comp.setSBOTerm(SBO_COMPARTMENT)

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
        par.setSBOTerm(SBO_RATE_CONSTANT)

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
        sp.setName(names[sid])
        monomer = sid.startswith("M_")
        sp.setSBOTerm(SBO_MONOMER if monomer else SBO_DIMER)
        _notes(sp, f"{'monomer' if monomer else 'dimer'} {names[sid]}; concentration in nmol/L")

    ids = network.species_ids
    for n, rxn in enumerate(network.reactions):
        r = model.createReaction()
        r.setId(f"R{n}_{rxn.kind}")
        r.setReversible(False)
        r.setSBOTerm(SBO_REACTION[rxn.kind])
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
        law.setSBOTerm(SBO_MASS_ACTION)
    return doc


def sbml_string(
    network: ReactionNetwork, constants: RateConstants, conditions: SampleConditions,
    system,
) -> str:  # fmt: skip
    """The SBML document (:func:`sbml_document`) as an XML string."""
    return libsbml.writeSBMLToString(sbml_document(network, constants, conditions, system))


def write_sbml(
    network: ReactionNetwork, path, constants: RateConstants, conditions: SampleConditions,
    system,
) -> Path:  # fmt: skip
    """Write the SBML file (:func:`sbml_document`); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sbml_string(network, constants, conditions, system))
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


def best_fit_sbml(best, network, conditions, system, check: bool = True) -> str:
    """SBML of a best fit with its constants set (eq 1's best grid point) and the initial
    concentrations of ``conditions`` (SampleConditions; rule best_fit_sbml). ``best`` is a
    :class:`~intercluster.records.BestFit`.

    ``check``: run libsbml's consistency check (two thirds of the time). What it checks
    (units, references, kinetic laws) depends on the network alone, not on the constants or
    the initial concentrations, so a caller writing one network for several fits checks its
    first document only."""
    text = sbml_string(network, best.constants, conditions, system)
    errors = consistency_errors(text) if check else []
    if errors:
        raise RuntimeError("SBML consistency check failed:\n" + "\n".join(errors))
    return text
