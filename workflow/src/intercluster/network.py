"""Reaction network of dimer-mediated metal exchange (docs/science.md §2, Scheme 1 of the paper).

Species, in state-vector order:

* monomers ``M_i`` (i = 0..N atoms of the first metal), indices ``0..N``;
* dimer isomers ``D_{i,j}`` (unordered, i >= j), indices ``N+1..``, sorted by the dimer's
  total count ``s = i + j`` and, inside one ``s``, by ``j`` ascending. Exchange keeps ``s``,
  so every exchange reaction links two neighbours inside one contiguous block: the dimer
  part of the Jacobian is block tridiagonal (at most N/2+1 rows per block).

Rate-law conventions (docs/science.md §2), both thermodynamically consistent:

* ``S`` (ordered pairs, default): homodimers form at (k_dim f_ii / 2) [M_i]^2, heterodimers
  at k_dim f_ij [M_i][M_j]; homodimer exchange moves carry a factor 2.
* ``U`` (unordered pairs): every pair forms at k_dim f_ij [M_i][M_j]; no factor 2.

Every reaction's rate is ``k * factor * (reactant concentrations)`` with ``k`` one of
``k_dim``, ``k_diss``, ``k_ex`` and a pure-number ``factor`` fixed by the model (and, for
model 4, by its dimensionless exchange bias ``beta``: model 3's forward exchange factors
times sqrt(beta), its backward ones, homodimer moves included, divided by sqrt(beta);
docs/science.md §2.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .records import SampleConditions

MODELS = (1, 2, 3, 4)
BIASED_MODELS = (4,)  # the models with the exchange bias beta (the others take beta = 1)
CONVENTIONS = ("S", "U")
RATE_CONSTANTS = ("k_dim", "k_diss", "k_ex")


def exchange_probabilities(i: int, j: int, nuclearity: int) -> tuple[float, float, float]:
    """P_f, P_b and the null probability of eqs 2-3 for a dimer (A_i B_(N-i))(A_j B_(N-j)).

    ``i`` is the subunit richer in the first metal. Forward moves one A atom from that
    subunit to the other (raises mixing entropy); backward does the opposite.
    """
    if i < j:
        i, j = j, i
    n = nuclearity
    p_f = (i / n) * ((n - j) / n)
    p_b = (j / n) * ((n - i) / n)
    return p_f, p_b, 1.0 - p_f - p_b


def dimerization_factor(i: int, j: int, model: int, nuclearity: int) -> float:
    """f_ij of Table 1: 1 for models 1-2; the second metal's fraction of the pair for models 3-4."""
    if model in (1, 2):
        return 1.0
    if model in (3, 4):
        return ((nuclearity - i) + (nuclearity - j)) / (2 * nuclearity)
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


@dataclass(frozen=True)
class Reaction:
    """One elementary reaction, for export and bookkeeping (the simulator uses arrays)."""

    kind: str  # "dimerization", "dissociation", "exchange"
    reactants: tuple[int, ...]  # species indices, repeated for stoichiometry 2
    products: tuple[int, ...]
    rate_constant: str  # one of RATE_CONSTANTS
    factor: float


@cache
def schema_convention() -> str:
    """The schema's ``kinetics.convention``: what ``convention=None`` means in this package."""
    from .schemas import schema_defaults  # jsonschema only where the default is asked for

    return str(schema_defaults("kinetics")["convention"])


@dataclass(frozen=True)
class ReactionNetwork:
    """The network of one model and one convention for clusters of nuclearity N.

    ``nuclearity`` (required): the monomer nuclearity N of the cluster system
    (:attr:`intercluster.system.ClusterSystem.nuclearity`; :func:`build_network` takes it
    from the system); leaving it out raises TypeError. ``convention`` None is the schema's
    ``kinetics.convention``.
    ``beta`` is model 4's exchange bias (forward moves times sqrt(beta), backward moves
    divided by it); the other models take only beta = 1.
    """

    model: int = 3
    convention: str | None = None
    nuclearity: int | None = None
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.convention is None:
            object.__setattr__(self, "convention", schema_convention())
        if self.nuclearity is None:
            # no fallback to a shipped system: N is a fact of the system being modelled
            raise TypeError(
                "ReactionNetwork needs nuclearity=N, the monomer nuclearity of the cluster "
                "system (ClusterSystem.nuclearity of the system file)"
            )
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {MODELS}")
        if self.convention not in CONVENTIONS:
            raise ValueError(
                f"unknown rate-law convention {self.convention!r}; expected one of {CONVENTIONS}"
            )
        if self.nuclearity < 1:
            raise ValueError(f"nuclearity must be >= 1, got {self.nuclearity}")
        beta = float(self.beta)
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"the exchange bias beta must be finite and > 0, got {self.beta!r}")
        if beta != 1.0 and self.model not in BIASED_MODELS:
            raise ValueError(
                f"model {self.model} has no exchange bias (beta = {beta}); only models "
                f"{BIASED_MODELS} take beta != 1"
            )
        object.__setattr__(self, "beta", beta)

    # --- species --------------------------------------------------------------------------
    @property
    def n_monomers(self) -> int:
        return self.nuclearity + 1

    @cached_property
    def dimer_pairs(self) -> np.ndarray:
        """(n_dimers, 2) array of (i, j), i >= j, in state order (by s, then j)."""
        n = self.nuclearity
        pairs = [
            (s - j, j)
            for s in range(2 * n + 1)
            for j in range(max(0, s - n), s // 2 + 1)
        ]
        return np.array(pairs, dtype=np.int64)

    @property
    def n_dimers(self) -> int:
        return len(self.dimer_pairs)

    @property
    def n_species(self) -> int:
        return self.n_monomers + self.n_dimers

    @cached_property
    def dimer_sum(self) -> np.ndarray:
        """Total first-metal count s = i + j of each dimer isomer."""
        return self.dimer_pairs.sum(axis=1)

    @cached_property
    def block_offsets(self) -> np.ndarray:
        """Dimer-index offsets of the blocks of equal s (length 2N+2, CSR style)."""
        counts = np.bincount(self.dimer_sum, minlength=2 * self.nuclearity + 1)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @cached_property
    def dimer_index(self) -> dict[tuple[int, int], int]:
        """Map (i, j) with i >= j to the dimer's index among dimers (not the state index)."""
        return {(int(i), int(j)): k for k, (i, j) in enumerate(self.dimer_pairs)}

    def state_index_of_dimer(self, i: int, j: int) -> int:
        if i < j:
            i, j = j, i
        return self.n_monomers + self.dimer_index[(i, j)]

    @cached_property
    def species_ids(self) -> list[str]:
        """SBML-safe ids: ``M_<i>`` and ``D_<i>_<j>``."""
        return [f"M_{i}" for i in range(self.n_monomers)] + [
            f"D_{i}_{j}" for i, j in self.dimer_pairs
        ]

    # --- rate factors as arrays (what the simulators use) ---------------------------------
    @cached_property
    def dimerization_factors(self) -> np.ndarray:
        """Per dimer: rate of M_i + M_j -> D_ij is k_dim * factor * [M_i][M_j]."""
        out = np.empty(self.n_dimers)
        for k, (i, j) in enumerate(self.dimer_pairs):
            f = dimerization_factor(int(i), int(j), self.model, self.nuclearity)
            homodimer_weight = 0.5 if (i == j and self.convention == "S") else 1.0
            out[k] = f * homodimer_weight
        return out

    @cached_property
    def exchange(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exchange reactions as (source dimer index, product dimer index, factor)."""
        return self._exchange_moves[:3]

    @cached_property
    def exchange_direction(self) -> np.ndarray:
        """Per exchange reaction (order of :attr:`exchange`): +1 forward (mixing: the
        subunits' first-metal counts i > j move one atom closer, |i - j| falls by 2),
        -1 backward (demixing, homodimer moves D_ii -> D_(i+1)(i-1) included)."""
        return self._exchange_moves[3]

    @cached_property
    def _exchange_moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.nuclearity
        # Model 4's bias (docs/science.md §2.4): one factor sqrt(beta) per direction, so the
        # ratio of a forward move to its reverse is model 3's times beta.
        root_beta = math.sqrt(self.beta)
        forward_bias, backward_bias = root_beta, 1.0 / root_beta
        src, dst, fac, direction = [], [], [], []
        for k, (i, j) in enumerate(self.dimer_pairs):
            i, j = int(i), int(j)
            if i == j:
                # Both subunits can give: one distinct move, to D_{i+1,i-1}.
                if 1 <= i <= n - 1:
                    p = 1.0 if self.model == 1 else (i / n) * ((n - i) / n)
                    src.append(k)
                    dst.append(self.dimer_index[(i + 1, i - 1)])
                    fac.append(p * (2.0 if self.convention == "S" else 1.0) * backward_bias)
                    direction.append(-1)
                continue
            p_f, p_b, _ = exchange_probabilities(i, j, n)
            if i - j >= 2:  # forward; i - j == 1 would return the same pair (null)
                a, b = max(i - 1, j + 1), min(i - 1, j + 1)
                src.append(k)
                dst.append(self.dimer_index[(a, b)])
                fac.append((1.0 if self.model == 1 else p_f) * forward_bias)
                direction.append(1)
            if i + 1 <= n and j >= 1:  # backward
                src.append(k)
                dst.append(self.dimer_index[(i + 1, j - 1)])
                fac.append((1.0 if self.model == 1 else p_b) * backward_bias)
                direction.append(-1)
        return (
            np.array(src, dtype=np.int64),
            np.array(dst, dtype=np.int64),
            np.array(fac, dtype=float),
            np.array(direction, dtype=np.int64),
        )

    # --- reactions as objects (export, counting) ------------------------------------------
    @cached_property
    def reactions(self) -> list[Reaction]:
        m = self.n_monomers
        out: list[Reaction] = []
        for k, (i, j) in enumerate(self.dimer_pairs):
            out.append(
                Reaction(
                    "dimerization",
                    (int(i), int(j)),
                    (m + k,),
                    "k_dim",
                    float(self.dimerization_factors[k]),
                )
            )
        for k, (i, j) in enumerate(self.dimer_pairs):
            out.append(Reaction("dissociation", (m + k,), (int(i), int(j)), "k_diss", 1.0))
        for s, d, f in zip(*self.exchange, strict=True):
            out.append(Reaction("exchange", (m + int(s),), (m + int(d),), "k_ex", float(f)))
        return out

    # --- conserved quantities and initial state -------------------------------------------
    @cached_property
    def atoms_a(self) -> np.ndarray:
        """First-metal atoms per species (dot with a state = total A atoms)."""
        return np.concatenate([np.arange(self.n_monomers), self.dimer_sum]).astype(float)

    @cached_property
    def atoms_b(self) -> np.ndarray:
        n = self.nuclearity
        return np.concatenate(
            [n - np.arange(self.n_monomers), 2 * n - self.dimer_sum]
        ).astype(float)

    def initial_state(self, conditions: SampleConditions) -> np.ndarray:
        """The state at mixing of a sample (nmol/L): pure A_N monomers at the first
        reactant's concentration, pure B_N monomers at the second's, less the part of the
        second reactant already present as its homodimer D(0,0)
        (``conditions.second_dimer_fraction`` f: ``c_b f / 2`` dimers, ``c_b (1 - f)``
        monomers; the atoms of each metal are unchanged).

        The one place that turns a sample's conditions into a state vector: every simulator
        and the SBML export start from here.
        """
        c_a, c_b = (float(c) for c in conditions.initial_nM)  # the reactants, in the system's order
        if not (np.isfinite(c_a) and np.isfinite(c_b) and c_a >= 0 and c_b >= 0):
            raise ValueError(f"initial concentrations must be finite and >= 0, got {c_a}, {c_b}")
        b_dimer_fraction = float(conditions.second_dimer_fraction)
        if not 0.0 <= b_dimer_fraction <= 1.0:
            raise ValueError(
                f"second_dimer_fraction must be in [0, 1], got {b_dimer_fraction}"
            )
        y0 = np.zeros(self.n_species)
        y0[self.nuclearity] += c_a
        y0[0] += c_b * (1.0 - b_dimer_fraction)
        if b_dimer_fraction > 0:
            y0[self.n_monomers + int(self.block_offsets[0])] += 0.5 * c_b * b_dimer_fraction
        return y0

    # --- observables -------------------------------------------------------------------------
    def observables(self, states: np.ndarray) -> np.ndarray:
        """Map states (..., n_species) to the observable ions (..., N+1 + 2N+1).

        Monomer ions are the monomers; a dimer ion [A_s B_(2N-s)] is the sum of its isomers
        (each dimer counts as one ion).
        """
        states = np.asarray(states, dtype=float)
        m = self.n_monomers
        offsets = np.asarray(self.block_offsets, dtype=np.int64)
        dimers = states[..., m:]
        first, sizes = offsets[:-1], np.diff(offsets)
        # Each ion sums its isomers in network order, one after the other from 0, written out
        # rather than left to np.add.reduceat (whose order is numpy's choice): the simulator's
        # kernel writes the same sums itself (intercluster._kernels.emit_row) and the two
        # must agree to the last bit.
        dimer_ions = np.zeros(states.shape[:-1] + (sizes.size,))
        for k in range(int(sizes.max(initial=0))):
            has = sizes > k  # the blocks with a (k+1)-th isomer
            dimer_ions[..., has] += dimers[..., first[has] + k]
        return np.concatenate([states[..., :m], dimer_ions], axis=-1)

    # --- right-hand side (vectorised numpy; the reference for faster kernels) --------------
    def rhs(self, y: np.ndarray, k_dim: float, k_diss: float, k_ex: float) -> np.ndarray:
        m = self.n_monomers
        pairs = self.dimer_pairs
        mono, dim = y[:m], y[m:]
        r_dim = k_dim * self.dimerization_factors * mono[pairs[:, 0]] * mono[pairs[:, 1]]
        r_diss = k_diss * dim
        net = r_diss - r_dim  # per dimer: monomers gained from it
        dy = np.zeros_like(y)
        np.add.at(dy, pairs[:, 0], net)
        np.add.at(dy, pairs[:, 1], net)
        dy[m:] += r_dim - r_diss
        src, dst, fac = self.exchange
        r_ex = k_ex * fac * dim[src]
        np.add.at(dy, m + src, -r_ex)
        np.add.at(dy, m + dst, r_ex)
        return dy

    def jacobian(self, y: np.ndarray, k_dim: float, k_diss: float, k_ex: float):
        """Sparse (CSC) Jacobian of :meth:`rhs`."""
        from scipy.sparse import coo_matrix

        m = self.n_monomers
        pairs = self.dimer_pairs
        mono = y[:m]
        dim_idx = m + np.arange(self.n_dimers)
        a = k_dim * self.dimerization_factors
        rows, cols, vals = [], [], []
        for partner_col, other in ((0, 1), (1, 0)):
            # d r_dim / d M_{pair[partner_col]} = a * M_{pair[other]}
            col = pairs[:, partner_col]
            d = a * mono[pairs[:, other]]
            for target in (pairs[:, 0], pairs[:, 1]):
                rows.append(target)
                cols.append(col)
                vals.append(-d)
            rows.append(dim_idx)
            cols.append(col)
            vals.append(d)
        for target in (pairs[:, 0], pairs[:, 1]):
            rows.append(target)
            cols.append(dim_idx)
            vals.append(np.full(self.n_dimers, k_diss))
        rows.append(dim_idx)
        cols.append(dim_idx)
        vals.append(np.full(self.n_dimers, -k_diss))
        src, dst, fac = self.exchange
        rows += [m + src, m + dst]
        cols += [m + src, m + src]
        vals += [-k_ex * fac, k_ex * fac]
        return coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_species, self.n_species),
        ).tocsc()


def build_network(model: int, convention: str, cluster, beta: float = 1.0) -> ReactionNetwork:
    """The reaction network of ``model`` for a cluster system: the one place every caller uses.

    ``cluster`` is a :class:`~intercluster.system.ClusterSystem` or its config mapping
    (:meth:`~intercluster.system.ClusterSystem.to_config`); only its nuclearity enters.
    ``beta`` is model 4's exchange bias (1 for the other models).
    """
    nuclearity = cluster["nuclearity"] if isinstance(cluster, dict) else cluster.nuclearity
    return ReactionNetwork(
        model=int(model), convention=str(convention), nuclearity=int(nuclearity), beta=float(beta)
    )
