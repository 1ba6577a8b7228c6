"""The cluster system: which metals, how many atoms, which ligands, which charges.

Nothing in the library hard-codes a system: every species, label and formula is derived
from a :class:`ClusterSystem`, which the workflow builds from the cluster-system file the
config names (:func:`system_of_config`). Monomers are counted by the number ``i`` of atoms
of the *first* metal (the file's ``metals[0]``), as in the paper (docs/science.md §1).

A cluster-system *file* (``resources/systems/*.yaml``, schema
``intercluster/schemas/system.schema.yaml``) describes a system more fully: species families
(frameworks, aggregates, in-source fragments) with their composition ranges, the ion forms in
which a spectrometer sees each family (charge states, Na+ for H+ exchange on acidic ligands),
the reactants of the sample sheet and the kinetic model family. :func:`load_system` reads and
checks one into a :class:`SystemDefinition`; :meth:`SystemDefinition.cluster_system` bridges a
dimer-exchange system to the :class:`ClusterSystem` the pipeline uses today.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from .errors import InputError
from .textfiles import load_yaml, quote, yaml_line

_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(formula: str) -> dict[str, int]:
    """Parse a Hill-like formula such as ``C2H5S`` into ``{"C": 2, "H": 5, "S": 1}``."""
    if not formula or _FORMULA_TOKEN.sub("", formula):
        raise ValueError(f"cannot parse chemical formula {formula!r} (expected e.g. 'C2H5S')")
    counts: dict[str, int] = {}
    for element, number in _FORMULA_TOKEN.findall(formula):
        counts[element] = counts.get(element, 0) + (int(number) if number else 1)
    return counts


def format_formula(counts: dict[str, int]) -> str:
    """Inverse of :func:`parse_formula`; elements with zero count are dropped."""
    return "".join(f"{el}{n if n != 1 else ''}" for el, n in counts.items() if n > 0)


def format_ion_label(
    metals: Sequence[tuple[str, int]],
    charge: int,
    ligands: Sequence[tuple[str, int]] = (),
    n_na: int = 0,
    n_h: int = 0,
    math: bool = False,
    keep_zero_counts: bool = False,
) -> str:
    """The one ion-label formatter, plain text or matplotlib mathtext.

    ``metals`` are (symbol, atoms) pairs, ``ligands`` (label, count) pairs written as a
    shell, ``n_na``/``n_h`` the Na+ gained and H+ removed. A metal with zero atoms is left
    out, except in plain labels with ``keep_zero_counts`` (the demo's tables name every
    composition by one pattern, ``[X0Y25]-``). Examples (plain, then mathtext)::

        [X12Y13]-                       [X$_{12}$Y$_{13}$]$^{-}$
        [X40Y4(SR)26+12Na-16H]6-        [X$_{40}$Y$_{4}$(SR)$_{26}$+12Na-16H]$^{6-}$
    """
    if charge == 0:
        raise ValueError("an ion label needs a non-zero charge")
    if math:
        core = "".join(f"{el}$_{{{k}}}$" for el, k in metals if k > 0)
        shell = "".join(f"({name})$_{{{k}}}$" for name, k in ligands if k > 0)
    else:
        core = "".join(f"{el}{k}" for el, k in metals if k > 0 or keep_zero_counts)
        shell = "".join(f"({name}){k}" for name, k in ligands if k > 0)
    adduct = "".join(
        f"{sign}{'' if k == 1 else k}{el}"
        for sign, k, el in (("+", n_na, "Na"), ("-", n_h, "H"))
        if k > 0
    )
    magnitude = "" if abs(charge) == 1 else str(abs(charge))
    sign = "-" if charge < 0 else "+"
    superscript = f"$^{{{magnitude}{sign}}}$" if math else f"{magnitude}{sign}"
    return f"[{core}{shell}{adduct}]{superscript}"


@dataclass(frozen=True)
class ClusterSystem:
    """A binary cluster system A_i B_(N-i) (L)_n with monomer and dimer ions.

    Built from a system file (:meth:`SystemDefinition.cluster_system`); the default demo's is
    :func:`default_system`.
    """

    metals: tuple[str, str]
    nuclearity: int
    ligand_formula: str
    ligands_per_monomer: int
    monomer_charge: int
    dimer_charge: int
    ligand_counts: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.metals) != 2 or self.metals[0] == self.metals[1]:
            raise ValueError(f"cluster.metals must name two different metals, got {self.metals}")
        if self.nuclearity < 1:
            raise ValueError(f"cluster.nuclearity must be >= 1, got {self.nuclearity}")
        if self.monomer_charge == 0 or self.dimer_charge == 0:
            raise ValueError("cluster charges must be non-zero (ions are what the MS sees)")
        object.__setattr__(self, "ligand_counts", parse_formula(self.ligand_formula))

    @classmethod
    def from_config(cls, cluster: dict) -> ClusterSystem:
        """Build from the ``cluster`` section of the workflow config."""
        return cls(
            metals=tuple(cluster["metals"]),
            nuclearity=int(cluster["nuclearity"]),
            ligand_formula=cluster["ligand"]["formula"],
            ligands_per_monomer=int(cluster["ligand"]["per_monomer"]),
            monomer_charge=int(cluster["charge"]["monomer"]),
            dimer_charge=int(cluster["charge"]["dimer"]),
        )

    def to_config(self) -> dict:
        """The inverse of :meth:`from_config`: the mapping the rules pass to their scripts."""
        return {
            "metals": list(self.metals),
            "nuclearity": self.nuclearity,
            "ligand": {"formula": self.ligand_formula, "per_monomer": self.ligands_per_monomer},
            "charge": {"monomer": self.monomer_charge, "dimer": self.dimer_charge},
        }

    @property
    def polarity(self) -> str:
        """``negative`` or ``positive``: the sign of the ions' charges (one sign, checked)."""
        if (self.monomer_charge > 0) != (self.dimer_charge > 0):
            raise ValueError("cluster charges of both signs: a system is measured in one polarity")
        return "positive" if self.monomer_charge > 0 else "negative"

    # --- counts ---------------------------------------------------------------------------
    @property
    def n_monomers(self) -> int:
        return self.nuclearity + 1

    @property
    def n_dimer_ions(self) -> int:
        return 2 * self.nuclearity + 1

    @property
    def n_observables(self) -> int:
        return self.n_monomers + self.n_dimer_ions

    # --- labels and formulas --------------------------------------------------------------
    def metal_label(self, n_a: int, subunits: int = 1) -> str:
        a, b = self.metals
        return f"{a}{n_a}{b}{subunits * self.nuclearity - n_a}"

    def ion_label(self, n_a: int, subunits: int) -> str:
        """Paper notation, e.g. ``[A12B13]-`` or ``[A24B26]2-`` for metals A, B."""
        charge = self.monomer_charge if subunits == 1 else self.dimer_charge
        a, b = self.metals
        metals = ((a, n_a), (b, subunits * self.nuclearity - n_a))
        return format_ion_label(metals, charge, keep_zero_counts=True)

    def elemental_formula(self, n_a: int, subunits: int = 1) -> dict[str, int]:
        """Neutral elemental composition of the ion's atoms (electrons handled elsewhere)."""
        a, b = self.metals
        counts = {a: n_a, b: subunits * self.nuclearity - n_a}
        for element, n in self.ligand_counts.items():
            counts[element] = counts.get(element, 0) + n * self.ligands_per_monomer * subunits
        return counts

    def observables(self) -> pd.DataFrame:
        """The observable ions in the paper's order: monomers by A count, then dimers.

        Columns: ``species`` (label), ``kind`` (monomer/dimer), ``subunits``, ``charge``,
        ``n_first`` (atoms of the first metal; the column keeps the paper's name), ``formula``.
        """
        rows = []
        for subunits, kind, charge in (
            (1, "monomer", self.monomer_charge),
            (2, "dimer", self.dimer_charge),
        ):
            for n_a in range(subunits * self.nuclearity + 1):
                rows.append(
                    {
                        "species": self.ion_label(n_a, subunits),
                        "kind": kind,
                        "subunits": subunits,
                        "charge": charge,
                        "n_first": n_a,
                        "formula": format_formula(self.elemental_formula(n_a, subunits)),
                    }
                )
        return pd.DataFrame(rows)


def __getattr__(name: str):
    # DEFAULT_SYSTEM: the default demo's system (read from its file on first use)
    if name == "DEFAULT_SYSTEM":
        return default_system()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ==========================================================================================
# Cluster-system files
# ==========================================================================================

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "system.schema.yaml"
AGGREGATE_SUBUNITS = {"monomer": 1, "dimer": 2, "trimer": 3}
SIMULATED_AGGREGATES = ("monomer", "dimer")  # what the dimer-exchange model simulates
SODIUM, HYDROGEN = "Na", "H"


@dataclass(frozen=True)
class Ligand:
    """One ligand as it sits on the cluster (e.g. a thiolate), with its acidic protons."""

    name: str  # as written in labels, e.g. "SR"
    formula: str
    acidic_protons: int = 0
    description: str = ""

    @property
    def elements(self) -> dict[str, int]:
        return parse_formula(self.formula)


@dataclass(frozen=True)
class IonForm:
    """How one family member is seen: ``n_h`` protons removed, ``n_na`` of them replaced by Na+.

    The ion's formula is base - n_h H + n_na Na and its charge is
    ``core_charge - (n_h - n_na)``: every proton removed without a Na+ in its place adds one
    negative charge.
    """

    charge: int
    n_na: int = 0
    n_h: int = 0


@dataclass(frozen=True)
class Family:
    """A species family: one framework (or aggregate, or fragment) over a composition range."""

    name: str
    nuclearity: int
    ligands: tuple[tuple[str, int], ...]  # (ligand name, count per cluster)
    core_charge: int
    composition: tuple[int, int]  # (min, max) atoms of the first metal
    ion_forms: tuple[IonForm, ...]
    role: str = "cluster"  # or "fragment" (made in the ion source)
    enabled: bool = True
    description: str = ""

    @property
    def compositions(self) -> range:
        return range(self.composition[0], self.composition[1] + 1)


@dataclass(frozen=True)
class Reactant:
    """A cluster whose initial concentration the sample sheet gives (column ``sheet_column``)."""

    name: str
    family: str
    composition: int
    sheet_column: str
    description: str = ""


@dataclass(frozen=True)
class IsotopeOverride:
    """Isotope masses (u) and abundances of one element replacing IsoSpecPy's natural ones."""

    element: str
    masses: tuple[float, ...]
    abundances: tuple[float, ...]


@dataclass(frozen=True)
class Kinetics:
    """The kinetic model family and, for ``dimer_exchange``, the families of its aggregates."""

    model_family: str = "none"
    aggregates: tuple[tuple[str, str], ...] = ()  # (monomer|dimer|trimer, family name)

    def aggregate(self, kind: str) -> str | None:
        return dict(self.aggregates).get(kind)


@dataclass(frozen=True)
class SystemDefinition:
    """A cluster system as read from a system file (see :func:`load_system`)."""

    name: str
    title: str
    metals: tuple[str, str]
    ligands: tuple[Ligand, ...]
    families: tuple[Family, ...]
    reactants: tuple[Reactant, ...]
    kinetics: Kinetics
    isotopes: tuple[IsotopeOverride, ...] = ()
    show_ligands: bool = True
    keep_zero_counts: bool = False
    source: str = ""  # the file it was read from, for messages

    # --- look-ups -------------------------------------------------------------------------
    def family(self, name: str) -> Family:
        for family in self.families:
            if family.name == name:
                return family
        raise KeyError(f"{self.source or self.name}: no family {name!r}")

    def ligand(self, name: str) -> Ligand:
        for ligand in self.ligands:
            if ligand.name == name:
                return ligand
        raise KeyError(f"{self.source or self.name}: no ligand {name!r}")

    @property
    def enabled_families(self) -> tuple[Family, ...]:
        return tuple(f for f in self.families if f.enabled)

    @property
    def polarity(self) -> str:
        """``negative`` or ``positive``, from the charges (the loader rejects mixed signs)."""
        signs = {
            charge > 0
            for family in self.enabled_families
            for charge in (family.core_charge, *(form.charge for form in family.ion_forms))
        }
        if len(signs) != 1:
            raise ValueError(f"{self.source or self.name}: charges of both signs")
        return "positive" if signs.pop() else "negative"

    def isotope_overrides(self) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
        """``{element: (masses, abundances)}`` for :mod:`intercluster.isotopes`."""
        return {o.element: (o.masses, o.abundances) for o in self.isotopes}

    # --- formulas and labels --------------------------------------------------------------
    def elemental_formula(
        self, family: str | Family, n_first: int, form: IonForm | None = None
    ) -> dict[str, int]:
        """Atoms of one ion: metals, ligands, minus ``n_h`` H, plus ``n_na`` Na.

        Without ``form`` the neutral framework (no proton removed). Electrons are handled by
        :mod:`intercluster.isotopes`.
        """
        fam = family if isinstance(family, Family) else self.family(family)
        a, b = self.metals
        counts = {a: n_first, b: fam.nuclearity - n_first}
        for name, count in fam.ligands:
            for element, n in self.ligand(name).elements.items():
                counts[element] = counts.get(element, 0) + n * count
        if form is not None and (form.n_h or form.n_na):
            counts[HYDROGEN] = counts.get(HYDROGEN, 0) - form.n_h
            counts[SODIUM] = counts.get(SODIUM, 0) + form.n_na
        return counts

    def ion_label(
        self, family: str | Family, n_first: int, form: IonForm | None = None, math: bool = False
    ) -> str:
        """Label of one ion form (``form=None``: the framework at its core charge)."""
        fam = family if isinstance(family, Family) else self.family(family)
        a, b = self.metals
        form = form or IonForm(fam.core_charge)
        return format_ion_label(
            ((a, n_first), (b, fam.nuclearity - n_first)),
            form.charge,
            ligands=fam.ligands if self.show_ligands else (),
            n_na=form.n_na,
            n_h=form.n_h,
            math=math,
            keep_zero_counts=self.keep_zero_counts,
        )

    # --- tables ---------------------------------------------------------------------------
    def ion_form_table(self) -> pd.DataFrame:
        """One row per enabled family x composition x charge x adduct: what a spectrum shows.

        Columns: ``family``, ``role``, ``n_first`` (atoms of the first metal), ``charge``,
        ``n_na``, ``n_h``, ``formula``, ``label``, ``label_math``.
        """
        rows = [
            {
                "family": fam.name,
                "role": fam.role,
                "n_first": n,
                "charge": form.charge,
                "n_na": form.n_na,
                "n_h": form.n_h,
                "formula": format_formula(self.elemental_formula(fam, n, form)),
                "label": self.ion_label(fam, n, form),
                "label_math": self.ion_label(fam, n, form, math=True),
            }
            for fam in self.enabled_families
            for n in fam.compositions
            for form in fam.ion_forms
        ]
        return pd.DataFrame(rows, columns=ION_FORM_COLUMNS)

    def species_table(self) -> pd.DataFrame:
        """One row per enabled family x composition (the framework at its core charge)."""
        rows = [
            {
                "family": fam.name,
                "role": fam.role,
                "n_first": n,
                "charge": fam.core_charge,
                "formula": format_formula(self.elemental_formula(fam, n)),
                "label": self.ion_label(fam, n),
                "label_math": self.ion_label(fam, n, math=True),
            }
            for fam in self.enabled_families
            for n in fam.compositions
        ]
        return pd.DataFrame(rows, columns=FAMILY_MEMBER_COLUMNS)

    def kinetic_observables(self) -> pd.DataFrame:
        """The observables of the kinetic model: its monomers by composition, then its dimers.

        For the demo's system these are the 26 + 51 ions of eq 1, in the order of
        :meth:`ClusterSystem.observables` (its columns, with the metal-neutral ``n_first`` for
        its first-metal count, plus ``family``). Each observable sums all ion forms of its
        family member.
        """
        if self.kinetics.model_family == "none":
            raise ValueError(f"{self.source or self.name}: no kinetic model (model_family none)")
        rows = []
        for kind in SIMULATED_AGGREGATES:
            fam = self.family(self.kinetics.aggregate(kind))
            rows += [
                {
                    "species": self.ion_label(fam, n),
                    "kind": kind,
                    "subunits": AGGREGATE_SUBUNITS[kind],
                    "charge": fam.core_charge,
                    "n_first": n,
                    "formula": format_formula(self.elemental_formula(fam, n)),
                    "family": fam.name,
                }
                for n in fam.compositions
            ]
        return pd.DataFrame(rows, columns=OBSERVABLE_COLUMNS)

    def isotope_pattern(self, family: str | Family, n_first: int, form: IonForm | None = None):
        """Isotope pattern of one ion form, with the file's isotope overrides."""
        from .isotopes import isotope_pattern  # IsoSpecPy only where patterns are asked for

        fam = family if isinstance(family, Family) else self.family(family)
        form = form or IonForm(fam.core_charge)
        return isotope_pattern(
            self.elemental_formula(fam, n_first, form),
            form.charge,
            isotopes=self.isotope_overrides() or None,
        )

    def average_mz(self, family: str | Family, n_first: int, form: IonForm | None = None) -> float:
        """Isotope-averaged m/z of one ion form, with the file's isotope overrides."""
        from .isotopes import average_mz

        fam = family if isinstance(family, Family) else self.family(family)
        form = form or IonForm(fam.core_charge)
        return average_mz(
            self.elemental_formula(fam, n_first, form),
            form.charge,
            isotopes=self.isotope_overrides() or None,
        )

    # --- sample sheet ---------------------------------------------------------------------
    def concentration_columns(self) -> tuple[str, ...]:
        """The sample sheet's concentration columns, richest in the first metal first.

        For a dimer-exchange system these are the two pure reactants (all atoms of the first
        metal, then none), the order in which the kinetics takes its initial concentrations.
        """

        def first_metal_fraction(reactant: Reactant) -> float:
            return -reactant.composition / self.family(reactant.family).nuclearity

        return tuple(r.sheet_column for r in sorted(self.reactants, key=first_metal_fraction))

    def first_metal_fraction(self, concentrations_nM: dict[str, float]) -> float:
        """Atom fraction of the first metal in a mixture of the reactants.

        ``concentrations_nM`` maps the reactants' sheet columns to nmol/L: the first metal's
        atoms over all metal atoms of the reactant clusters (the binomials' p of Figure S6).
        """
        first = total = 0.0
        for reactant in self.reactants:
            c = float(concentrations_nM[reactant.sheet_column])
            first += c * reactant.composition
            total += c * self.family(reactant.family).nuclearity
        return first / total

    # --- bridge to today's pipeline -------------------------------------------------------
    def cluster_system(self) -> ClusterSystem:
        """The :class:`ClusterSystem` of a dimer-exchange system (what the pipeline uses).

        Needs monomers with one ligand and one plain ion form at the core charge, over the
        full composition range, and dimers of twice the monomer.
        """
        where = self.source or self.name
        if self.kinetics.model_family != "dimer_exchange":
            raise _input_error(
                f"{where}: kinetics.model_family = {self.kinetics.model_family!r}: the pipeline's "
                "cluster system needs 'dimer_exchange'"
            )
        monomer = self.family(self.kinetics.aggregate("monomer"))
        dimer = self.family(self.kinetics.aggregate("dimer"))
        for kind, fam in (("monomer", monomer), ("dimer", dimer)):
            key = f"{where}: families.{fam.name}"
            if len(fam.ligands) != 1:
                raise _input_error(f"{key}.ligands: the {kind} must carry exactly one ligand")
            if fam.ion_forms != (IonForm(fam.core_charge),):
                raise _input_error(
                    f"{key}.ion_forms: the {kind} must have one ion form at its core charge "
                    f"({fam.core_charge}) without Na/H exchange"
                )
            if fam.composition != (0, fam.nuclearity):
                raise _input_error(f"{key}.composition: the {kind} must span 0..{fam.nuclearity}")
        ((ligand_name, per_monomer),) = monomer.ligands
        return ClusterSystem(
            metals=tuple(self.metals),
            nuclearity=monomer.nuclearity,
            ligand_formula=self.ligand(ligand_name).formula,
            ligands_per_monomer=per_monomer,
            monomer_charge=monomer.core_charge,
            dimer_charge=dimer.core_charge,
        )


ION_FORM_COLUMNS = [
    "family",
    "role",
    "n_first",
    "charge",
    "n_na",
    "n_h",
    "formula",
    "label",
    "label_math",
]
FAMILY_MEMBER_COLUMNS = ["family", "role", "n_first", "charge", "formula", "label", "label_math"]
OBSERVABLE_COLUMNS = ["species", "kind", "subunits", "charge", "n_first", "formula", "family"]


# --- loading and checking -----------------------------------------------------------------
# IsoSpecPy and jsonschema (and intercluster.schemas, which needs jsonschema) are imported
# where a file is loaded: the figure and fit rules' environments import this module without them.
def _input_error(message: str) -> Exception:
    return InputError(message)


def _periodic_table():
    import IsoSpecPy

    return IsoSpecPy.PeriodicTbl


def _schema_check(data: dict, where: str, path=None) -> None:
    """Schema check of a system file's data; ``path``: the file, for the line of the key."""
    import jsonschema

    # the config's validator (schema defaults filled in) and wording: one style of message
    from .schemas import defaulting_validator, describe_error, error_path

    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = yaml.safe_load(handle)
    errors = list(defaulting_validator()(schema).iter_errors(data))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    whole_mapping = error.validator in ("required", "additionalProperties")
    value = "" if whole_mapping else f" = {quote(error.instance)}"
    words = describe_error(error)
    if error.validator == "not" and "const" in error.validator_value:
        words = f"must not be {error.validator_value['const']!r}"
    elif error.validator == "anyOf":
        words = "must be an integer or {min, max}"
    line = yaml_line(where, list(error.absolute_path)) if path is not None else None
    at = f" (line {line})" if line else ""
    raise _input_error(f"{where}: {error_path(error)}{value}: {words}{at}")


def _range(value) -> tuple[int, int]:
    if isinstance(value, dict):
        return int(value["min"]), int(value["max"])
    return int(value), int(value)


def _check_element(element: str, where: str, key: str, value: str | None = None) -> None:
    if element not in _periodic_table().symbol_to_masses:
        shown = element if value is None else value
        raise _input_error(
            f"{where}: {key} = {shown!r}: unknown element {element} (not in IsoSpecPy's "
            "periodic table)"
        )


def _isotopes(raw: dict, where: str) -> tuple[IsotopeOverride, ...]:
    out = []
    for element, entry in raw.items():
        key = f"isotopes.{element}"
        _check_element(element, where, key)
        abundances = tuple(float(a) for a in entry["abundances"])
        natural = _periodic_table().symbol_to_masses[element]
        masses = tuple(float(m) for m in entry.get("masses", natural))
        if len(masses) != len(abundances):
            raise _input_error(
                f"{where}: {key}.abundances: {len(abundances)} abundances for {len(masses)} "
                f"isotope masses"
            )
        if abs(sum(abundances) - 1.0) > 1e-6:
            raise _input_error(
                f"{where}: {key}.abundances = {list(abundances)}: must sum to 1 "
                f"(sum {sum(abundances):.6g})"
            )
        out.append(IsotopeOverride(element, masses, abundances))
    return tuple(out)


def _ligands(raw: dict, where: str) -> tuple[Ligand, ...]:
    out = []
    for name, entry in raw.items():
        key = f"ligands.{name}"
        elements = parse_formula(entry["formula"])
        for element in elements:
            _check_element(element, where, f"{key}.formula", entry["formula"])
        if entry["acidic_protons"] > elements.get(HYDROGEN, 0):
            raise _input_error(
                f"{where}: {key}.acidic_protons = {entry['acidic_protons']}: more than the "
                f"{elements.get(HYDROGEN, 0)} H of {entry['formula']}"
            )
        out.append(Ligand(name, entry["formula"], entry["acidic_protons"], entry["description"]))
    return tuple(out)


def _ion_forms(entry: dict, ligands: dict[str, Ligand], where: str, key: str):
    """Expand a family's ``ion_forms`` (ranges) into checked :class:`IonForm` values."""
    core = entry["core_charge"]
    acidic = sum(ligands[name].acidic_protons * n for name, n in entry["ligands"].items())
    seen: dict[tuple[int, int], int] = {}
    forms = []
    for k, spec in enumerate(entry["ion_forms"]):
        form_key = f"{key}.ion_forms.{k}"
        z_lo, z_hi = _range(spec["charge"])
        na_lo, na_hi = _range(spec["n_na"])
        if z_lo > z_hi or na_lo > na_hi:
            bad = "charge" if z_lo > z_hi else "n_na"
            raise _input_error(f"{where}: {form_key}.{bad}: min is above max")
        for charge in sorted(range(z_lo, z_hi + 1), key=abs):
            for n_na in range(na_lo, na_hi + 1):
                n_h = n_na + core - charge
                label = f"{where}: {form_key}: charge {charge} with {n_na} Na"
                if n_h < 0:
                    raise _input_error(
                        f"{label} would need {-n_h} extra H+ (only removal of H+ is described; "
                        f"core_charge is {core})"
                    )
                if n_h > acidic:
                    raise _input_error(
                        f"{label} removes {n_h} H+ (n_h = n_na + core_charge - charge): beyond "
                        f"the {acidic} acidic protons of the ligands"
                    )
                if (charge, n_na) in seen:
                    raise _input_error(
                        f"{label}: duplicate ion form (also in {key}.ion_forms."
                        f"{seen[(charge, n_na)]})"
                    )
                seen[(charge, n_na)] = k
                forms.append(IonForm(charge, n_na, n_h))
    return tuple(forms)


def _families(raw: dict, ligands: dict[str, Ligand], where: str) -> tuple[Family, ...]:
    out = []
    for name, entry in raw.items():
        key = f"families.{name}"
        for ligand in entry["ligands"]:
            if ligand not in ligands:
                raise _input_error(
                    f"{where}: {key}.ligands.{ligand}: unknown ligand (declared: "
                    f"{', '.join(ligands)})"
                )
        n = entry["nuclearity"]
        lo, hi = _range(entry.get("composition", {"min": 0, "max": n}))
        for bound, value in (("min", lo), ("max", hi)):
            if not 0 <= value <= n:
                raise _input_error(
                    f"{where}: {key}.composition.{bound} = {value}: must lie in 0..{n} "
                    "(the nuclearity)"
                )
        if lo > hi:
            raise _input_error(f"{where}: {key}.composition: min = {lo} is above max = {hi}")
        out.append(
            Family(
                name=name,
                nuclearity=n,
                ligands=tuple((lig, int(c)) for lig, c in entry["ligands"].items()),
                core_charge=entry["core_charge"],
                composition=(lo, hi),
                ion_forms=_ion_forms(entry, ligands, where, key),
                role=entry["role"],
                enabled=entry["enabled"],
                description=entry["description"].strip(),
            )
        )
    return tuple(out)


def _check_charges(families: dict, where: str) -> None:
    """No charge 0 and one sign for every charge of the enabled families."""
    charges = []
    for name, entry in families.items():
        charges.append((f"families.{name}.core_charge", entry["core_charge"], entry["enabled"]))
        for k, spec in enumerate(entry["ion_forms"]):
            key = f"families.{name}.ion_forms.{k}.charge"
            z_lo, z_hi = _range(spec["charge"])
            if min(z_lo, z_hi) <= 0 <= max(z_lo, z_hi):
                raise _input_error(f"{where}: {key} = {spec['charge']!r}: must not be 0")
            charges.append((key, z_lo, entry["enabled"]))
    charges = [(key, z) for key, z, enabled in charges if enabled]
    first_key, first = charges[0]
    for key, charge in charges:
        if (charge > 0) != (first > 0):
            raise _input_error(
                f"{where}: {key} = {charge}: mixed polarity ({first_key} = {first}); a system "
                "is measured in one polarity"
            )


def _check_distinct_ions(system: SystemDefinition, where: str) -> None:
    """Two enabled families must not claim the same ion (same formula and charge)."""
    table = system.ion_form_table()
    clash = table[table.duplicated(["formula", "charge"], keep=False)]
    if not clash.empty:
        first = clash.iloc[0]
        other = clash[clash["family"] != first["family"]].iloc[0]
        raise _input_error(
            f"{where}: families.{other['family']}.ion_forms: duplicate ion form "
            f"{first['formula']} charge {first['charge']} (also in families.{first['family']})"
        )


def _reactants(raw: dict, families: Sequence[Family], where: str) -> tuple[Reactant, ...]:
    by_name = {f.name: f for f in families}
    columns: dict[str, str] = {}
    out = []
    for name, entry in raw.items():
        key = f"reactants.{name}"
        fam = by_name.get(entry["family"])
        if fam is None:
            raise _input_error(
                f"{where}: {key}.family = {entry['family']!r}: not among the families "
                f"({', '.join(by_name)})"
            )
        if not fam.enabled:
            raise _input_error(f"{where}: {key}.family = {fam.name!r}: that family is disabled")
        if entry["composition"] not in fam.compositions:
            raise _input_error(
                f"{where}: {key}.composition = {entry['composition']}: outside the family's "
                f"range {fam.composition[0]}..{fam.composition[1]}"
            )
        column = entry["sheet_column"]
        if column in columns:
            raise _input_error(
                f"{where}: {key}.sheet_column = {column!r}: already used by reactants."
                f"{columns[column]}"
            )
        columns[column] = name
        out.append(Reactant(name, fam.name, entry["composition"], column, entry["description"]))
    return tuple(out)


def _kinetics(raw: dict, families: Sequence[Family], where: str) -> Kinetics:
    by_name = {f.name: f for f in families}
    model_family = raw["model_family"]
    aggregates = raw.get("aggregates")
    if model_family == "none":
        if aggregates:
            raise _input_error(
                f"{where}: kinetics.aggregates: only for model_family dimer_exchange"
            )
        return Kinetics(model_family)
    if not aggregates:
        raise _input_error(
            f"{where}: kinetics.aggregates: model_family {model_family} needs the monomer and "
            "dimer families"
        )
    for kind, name in aggregates.items():
        if name not in by_name:
            raise _input_error(
                f"{where}: kinetics.aggregates.{kind} = {name!r}: not among the families "
                f"({', '.join(by_name)})"
            )
    monomer = by_name[aggregates["monomer"]]
    for kind, name in aggregates.items():
        fam = by_name[name]
        key = f"{where}: kinetics.aggregates.{kind} = {name!r}"
        if kind in SIMULATED_AGGREGATES and not fam.enabled:
            raise _input_error(f"{key}: the model simulates it, so it must be enabled")
        k = AGGREGATE_SUBUNITS[kind]
        expected_ligands = tuple((lig, k * c) for lig, c in monomer.ligands)
        if fam.nuclearity != k * monomer.nuclearity or fam.ligands != expected_ligands:
            raise _input_error(
                f"{key}: a {kind} must be {k} x the monomer ({k * monomer.nuclearity} atoms, "
                f"ligands {dict(expected_ligands)})"
            )
    return Kinetics(model_family, tuple(aggregates.items()))


def load_system(path: str | os.PathLike) -> SystemDefinition:
    """Read, schema-check and cross-check a cluster-system file.

    Every problem raises :class:`~intercluster.errors.InputError` with one line naming
    the file and the key, e.g. ``x.yaml: families.dimer.core_charge = 0: must not be 0``.
    """

    where = str(path)
    raw = load_yaml(path, where)  # UTF-8, bounded size and alias expansion
    if not isinstance(raw, dict):
        raise _input_error(f"{where}: (top level): must be a mapping of keys")
    data = copy.deepcopy(raw)
    _schema_check(data, where, path)
    for k, metal in enumerate(data["metals"]):
        _check_element(metal, where, f"metals.{k}")
    if data["metals"][0] == data["metals"][1]:
        raise _input_error(f"{where}: metals = {data['metals']}: must name two different metals")
    ligands = _ligands(data["ligands"], where)
    if not any(entry["enabled"] for entry in data["families"].values()):
        raise _input_error(f"{where}: families: none is enabled")
    _check_charges(data["families"], where)
    families = _families(data["families"], {lig.name: lig for lig in ligands}, where)
    system = SystemDefinition(
        name=data["name"],
        title=data["title"],
        metals=tuple(data["metals"]),
        ligands=ligands,
        families=families,
        reactants=_reactants(data["reactants"], families, where),
        kinetics=_kinetics(data["kinetics"], families, where),
        isotopes=_isotopes(data["isotopes"], where),
        show_ligands=data["labels"]["show_ligands"],
        keep_zero_counts=data["labels"]["keep_zero_counts"],
        source=where,
    )
    _check_distinct_ions(system, where)
    return system


def resolve_system_path(path: str | os.PathLike, *search_dirs: str | os.PathLike) -> Path:
    """``path`` as given when it exists, else the first of ``search_dirs``/``path`` that does.

    The config names a system file relative to the working directory; the shipped ones
    (``resources/systems/``) are also found relative to the workflow's own directory, so a run
    with ``--directory elsewhere`` still finds them.
    """
    given = Path(path)
    if given.is_file() or given.is_absolute():
        return given
    for directory in search_dirs:
        candidate = Path(directory) / given
        if candidate.is_file():
            return candidate
    return given


def system_of_config(
    config: dict, where: str = "config", search_dirs: Sequence[str | os.PathLike] = ()
) -> SystemDefinition:
    """Load the cluster-system file the workflow config names (key ``system``).

    ``search_dirs`` are tried for a relative path that does not exist as given
    (:func:`resolve_system_path`). A config that still has the old ``cluster`` section is
    refused with one line: the system file replaces it.
    """
    if "cluster" in config:
        raise _input_error(
            f"{where}: cluster: replaced by system, the path of a cluster-system file "
            "(one of resources/systems/*.yaml)"
        )
    return load_system(resolve_system_path(config["system"], *search_dirs))


#: the repository (the working directory of a run from a clone), from which the shipped
#: config's paths are written: the one place the package looks outside itself (the default
#: demo's system; resources/systems/ ships there, not in the package). Only the command line
#: (``intercluster.inspect``) and the tests ask for it: the library takes the system and the
#: nuclearity as required arguments and never falls back to the demo's.
REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_CONFIG = REPO_ROOT / "config" / "config.yaml"


@functools.cache
def default_system_definition() -> SystemDefinition:
    """The system file the shipped ``config/config.yaml`` names (the default demo's system):
    an explicit helper for the command line and the tests, never a library default."""
    with open(SHIPPED_CONFIG, encoding="utf-8") as handle:
        system_file = yaml.safe_load(handle)["system"]
    return load_system(resolve_system_path(system_file, REPO_ROOT))


@functools.cache
def default_system() -> ClusterSystem:
    """The default demo's :class:`ClusterSystem` (also ``intercluster.system.DEFAULT_SYSTEM``):
    an explicit helper for the command line and the tests, never a library default."""
    return default_system_definition().cluster_system()
