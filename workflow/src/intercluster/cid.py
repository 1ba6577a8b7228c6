"""The CID (MS2) rule, in one place: which ion of the cluster system is the precursor, the
isolation window around it, and which ions it fragments into (docs/science.md §3).

The virtual experiment writes its CID spectra with it (the precursor's m/z, charge and
isolation window in the mzML) and the deconvolution reads them with it (the basis of each
MS2 spectrum: the fragments plus the surviving precursor), so writer and reader cannot
disagree on the ion.

* **precursor**: the dimer ion whose average m/z is nearest the selected-ion m/z;
* **isolation window**: ``ISOLATION_HALF_WIDTH`` Th either side of the precursor's average
  m/z (well inside half the spacing of neighbouring dimer ions of one charge);
* **fragments**: every monomer ion of the system. A dimer isomer D_{i,j} dissociates into
  M_i and M_j, so the fragments of the dimer ion with ``s`` atoms of the first metal are
  the monomers i and s - i (:func:`fragment_distribution`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .isotopes import system_patterns

if TYPE_CHECKING:
    from .network import ReactionNetwork
    from .system import ClusterSystem

__all__ = ["ISOLATION_HALF_WIDTH", "CidSelection", "cid_selection", "fragment_distribution"]

ISOLATION_HALF_WIDTH = 10.0  # Th, either side of the precursor's average m/z


@dataclass(frozen=True)
class CidSelection:
    """The precursor of one CID spectrum and what it fragments into.

    ``precursor`` and ``fragments`` are rows of ``system.observables()``.
    """

    precursor: int
    precursor_mz: float  # average m/z of the precursor ion
    precursor_charge: int  # |z|
    dimer_sum: int  # atoms of the first metal in the precursor dimer ion
    fragments: tuple[int, ...]

    @property
    def isolation_window(self) -> tuple[float, float]:
        """(lower, upper) m/z of the isolation window."""
        return (self.precursor_mz - ISOLATION_HALF_WIDTH, self.precursor_mz + ISOLATION_HALF_WIDTH)

    def precursor_problem(self, selected_mz: float,
                          window: tuple[float, float] | None = None) -> str | None:  # fmt: skip
        """Why a spectrum whose selected ion is at ``selected_mz`` is not this precursor's
        CID (None: it is). The precursor's average m/z must lie inside the isolation window
        the file states (``window``: lower, upper m/z), else within ``ISOLATION_HALF_WIDTH``
        of the selected m/z: the nearest dimer ion of a selected m/z far from every dimer
        is not what was fragmented."""
        if window is not None:
            lo, hi = window
            source = "the file's isolation window"
        else:
            lo, hi = selected_mz - ISOLATION_HALF_WIDTH, selected_mz + ISOLATION_HALF_WIDTH
            source = f"± {ISOLATION_HALF_WIDTH:g} Th; the file states no isolation window"
        if lo <= self.precursor_mz <= hi:
            return None
        return (
            f"selected ion m/z {selected_mz:.2f} (isolation window m/z {lo:.2f}-{hi:.2f}, "
            f"{source}) does not hold the nearest dimer ion (average m/z "
            f"{self.precursor_mz:.2f}, charge -{self.precursor_charge}); expected the CID of a "
            "dimer ion of the cluster system"
        )

    @property
    def basis_rows(self) -> list[int]:
        """The observables an MS2 spectrum is fitted on: the fragments, then the precursor."""
        return [*self.fragments, self.precursor]


def cid_selection(system: ClusterSystem, selected_mz: float) -> CidSelection:
    """The CID rule applied to a selected-ion m/z (the config's ``cid.precursor_mz`` when
    writing, the spectrum's MS:1000744 when reading)."""
    obs = system.observables()
    patterns = system_patterns(system)
    dimers = obs.index[obs["kind"] == "dimer"]
    avg = np.array([patterns[k].average_mz for k in dimers])
    precursor = int(dimers[np.argmin(np.abs(avg - float(selected_mz)))])
    monomers = tuple(int(k) for k in obs.index[obs["kind"] == "monomer"])
    return CidSelection(
        precursor=precursor,
        precursor_mz=float(patterns[precursor].average_mz),
        precursor_charge=abs(int(obs.loc[precursor, "charge"])),
        dimer_sum=int(obs.loc[precursor, "n_first"]),
        fragments=monomers,
    )


def fragment_distribution(
    network: ReactionNetwork, isomers: np.ndarray, selection: CidSelection
) -> np.ndarray:
    """Fragment fractions (n_t, N+1) of the precursor from the dimer isomers (n_t, n_dimers):
    each isomer D_{i,j} of the precursor's dimer ion gives one M_i and one M_j."""
    isomers = np.atleast_2d(isomers)
    pairs = network.dimer_pairs
    sel = np.flatnonzero(network.dimer_sum == selection.dimer_sum)
    out = np.zeros((isomers.shape[0], network.n_monomers))
    for k in sel:
        i, j = pairs[k]
        out[:, i] += 0.5 * isomers[:, k]
        out[:, j] += 0.5 * isomers[:, k]
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)
