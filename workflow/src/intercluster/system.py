"""The cluster system: which metals, how many atoms, which ligands, which charges.

Nothing in the library hard-codes Ag25/Au25: every species, label and formula is derived
from a :class:`ClusterSystem`, which the workflow builds from the ``cluster`` section of
``config.yaml``. Monomers are counted by the number ``i`` of atoms of the *first* metal
(Ag in the demo), as in the paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(formula: str) -> dict[str, int]:
    """Parse a Hill-like formula such as ``C8H9S`` into ``{"C": 8, "H": 9, "S": 1}``."""
    if not formula or _FORMULA_TOKEN.sub("", formula):
        raise ValueError(f"cannot parse chemical formula {formula!r} (expected e.g. 'C8H9S')")
    counts: dict[str, int] = {}
    for element, number in _FORMULA_TOKEN.findall(formula):
        counts[element] = counts.get(element, 0) + (int(number) if number else 1)
    return counts


def format_formula(counts: dict[str, int]) -> str:
    """Inverse of :func:`parse_formula`; elements with zero count are dropped."""
    return "".join(f"{el}{n if n != 1 else ''}" for el, n in counts.items() if n > 0)


@dataclass(frozen=True)
class ClusterSystem:
    """A binary cluster system A_i B_(N-i) (L)_n with monomer and dimer ions."""

    metals: tuple[str, str] = ("Ag", "Au")
    nuclearity: int = 25
    ligand_formula: str = "C8H9S"
    ligands_per_monomer: int = 18
    monomer_charge: int = -1
    dimer_charge: int = -2
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
        """Paper notation, e.g. ``[Ag12Au13]-`` or ``[Ag24Au26]2-``."""
        charge = self.monomer_charge if subunits == 1 else self.dimer_charge
        sign = "-" if charge < 0 else "+"
        magnitude = "" if abs(charge) == 1 else str(abs(charge))
        return f"[{self.metal_label(n_a, subunits)}]{magnitude}{sign}"

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
        ``n_ag`` (atoms of the first metal; the column keeps the paper's name), ``formula``.
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
                        "n_ag": n_a,
                        "formula": format_formula(self.elemental_formula(n_a, subunits)),
                    }
                )
        return pd.DataFrame(rows)


DEFAULT_SYSTEM = ClusterSystem()
