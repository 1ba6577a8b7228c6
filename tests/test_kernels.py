"""The kernels' structured factorisation and solve (``_kernels.factorize``/``solve``) against
a dense numpy solve of the same system ``(g I - J(y)) x = b``, J the network's analytic
Jacobian (``ReactionNetwork.jacobian``), on every model (model 4 with an exchange bias) and
convention."""

from __future__ import annotations

import numpy as np
import pytest
from workflow_helpers import NUCLEARITY

from intercluster import _kernels
from intercluster.network import ReactionNetwork
from intercluster.simulate import _kernel_network

CONSTANTS = [(1e-2, 5.6e-2, 3.2e-2), (1.0, 1e-3, 1.0), (1e-3, 1.0, 1e-3)]


def system(model, convention, constants, g, seed=0):
    """A positive state with every species present, the dense W = g I - J and a right side."""
    net = ReactionNetwork(model, convention, NUCLEARITY, beta=2.33 if model == 4 else 1.0)
    rng = np.random.default_rng(seed)
    y = 10.0 ** rng.uniform(-4, 1, net.n_species)
    w = g * np.eye(net.n_species) - net.jacobian(y, *constants).toarray()
    b = rng.standard_normal(net.n_species)
    return net, y, w, b


def kernel_solve(net, y, g, constants, b):
    x = np.full(b.size, np.nan)
    assert _kernels.solve_system(y, g, *constants, _kernel_network(net), b, x)
    return x


def relative_error(x, reference):
    return float(np.max(np.abs(x - reference)) / np.max(np.abs(reference)))


@pytest.mark.parametrize("convention", ["S", "U"])
@pytest.mark.parametrize("model", [1, 2, 3, 4])
def test_structured_solve_equals_the_dense_solve(model, convention):
    for constants in CONSTANTS:
        for g in (1e-3, 0.24, 1e3):  # 1 / (gamma h) from long to short steps
            net, y, w, b = system(model, convention, constants, g)
            x = kernel_solve(net, y, g, constants, b)
            reference = np.linalg.solve(w, b)
            assert relative_error(x, reference) < 1e-11, (constants, g)
            assert np.max(np.abs(w @ x - b)) < 1e-10 * np.max(np.abs(b)) * np.linalg.norm(w, 1)


@pytest.mark.parametrize("where", ["monomer-monomer", "dimer-monomer", "exchange", "diagonal"])
def test_negative_control_a_perturbed_matrix_is_detected(where):
    """The comparison above sees a change of one entry of W by one part in 10^6."""
    constants, g = CONSTANTS[0], 0.24
    net, y, w, b = system(3, "S", constants, g)
    m = net.n_monomers
    x = kernel_solve(net, y, g, constants, b)
    assert relative_error(x, np.linalg.solve(w, b)) < 1e-11
    rows, cols = np.nonzero(w)
    pick = {
        "monomer-monomer": (rows < m) & (cols < m) & (rows != cols),
        "dimer-monomer": (rows >= m) & (cols < m),
        "exchange": (rows >= m) & (cols >= m) & (rows != cols),
        "diagonal": (rows == cols) & (rows >= m),
    }[where]
    # the entry that matters most for this b: the largest |w_rc x_c| of the kind
    weights = np.abs(w[rows[pick], cols[pick]] * x[cols[pick]])
    r, c = rows[pick][np.argmax(weights)], cols[pick][np.argmax(weights)]
    perturbed = w.copy()
    perturbed[r, c] *= 1.0 + 1e-6
    assert relative_error(x, np.linalg.solve(perturbed, b)) > 1e-11


def test_kernel_network_refuses_blocks_whose_lengths_are_not_mirrored():
    """The sweeps run block b beside block n_blocks - 1 - b, so their lengths must match."""
    assert _kernel_network(ReactionNetwork(3, "S", NUCLEARITY))  # control: the real network passes
    net = ReactionNetwork(3, "S", NUCLEARITY)
    offsets = net.block_offsets.copy()
    offsets[3] += 1  # one dimer moves from block 3 to block 2
    net.__dict__["block_offsets"] = offsets  # frozen dataclass: bypass __setattr__
    with pytest.raises(ValueError, match="mirrored lengths"):
        _kernel_network(net)
