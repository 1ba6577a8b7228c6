"""The reaction network (docs/science.md §2): sizes, exchange probabilities, dimerization
factors."""

from __future__ import annotations

import numpy as np
import pytest
from workflow_helpers import NUCLEARITY

from intercluster.network import (
    ReactionNetwork,
    dimerization_factor,
    exchange_probabilities,
)


@pytest.mark.parametrize("model", [1, 2, 3])
@pytest.mark.parametrize("convention", ["S", "U"])
def test_network_size(model, convention):
    net = ReactionNetwork(model, convention, nuclearity=NUCLEARITY)
    kinds = [r.kind for r in net.reactions]
    assert net.n_species == 377
    assert net.n_dimers == 351
    assert len(net.reactions) == 1302
    assert kinds.count("exchange") == 600
    assert kinds.count("dimerization") == kinds.count("dissociation") == 351


def test_exchange_probabilities_example():
    p_f, p_b, p_null = exchange_probabilities(24, 1, 25)
    assert p_f == pytest.approx(0.9216, abs=1e-12)
    assert p_b == pytest.approx(0.0016, abs=1e-12)
    assert p_null == pytest.approx(0.0768, abs=1e-12)


def test_gold_fraction_factor_example():
    assert dimerization_factor(8, 15, model=3, nuclearity=25) == pytest.approx(0.54, abs=1e-12)
    assert dimerization_factor(8, 15, model=2, nuclearity=25) == 1.0


def test_exchange_links_neighbours_only():
    """The fast solver relies on W_DD being tridiagonal in network order."""
    for model in (1, 2, 3):
        src, dst, _ = ReactionNetwork(model, nuclearity=NUCLEARITY).exchange
        assert np.all(np.abs(dst - src) == 1)


def test_exchange_keeps_dimer_composition():
    net = ReactionNetwork(2, nuclearity=NUCLEARITY)
    src, dst, _ = net.exchange
    assert np.array_equal(net.dimer_sum[src], net.dimer_sum[dst])


def test_conventions_differ_only_on_homodimers():
    s = ReactionNetwork(2, "S", nuclearity=NUCLEARITY)
    u = ReactionNetwork(2, "U", nuclearity=NUCLEARITY)
    homo = s.dimer_pairs[:, 0] == s.dimer_pairs[:, 1]
    assert np.allclose(s.dimerization_factors[homo] * 2, u.dimerization_factors[homo])
    assert np.array_equal(s.dimerization_factors[~homo], u.dimerization_factors[~homo])
    src = s.exchange[0]
    homo_src = homo[src]
    assert np.allclose(s.exchange[2][homo_src], 2 * u.exchange[2][homo_src])
    assert np.array_equal(s.exchange[2][~homo_src], u.exchange[2][~homo_src])


def test_the_nuclearity_is_required():
    """No default system: a network without its nuclearity is refused."""
    with pytest.raises(TypeError, match="nuclearity"):
        ReactionNetwork(3)
    with pytest.raises(TypeError, match="nuclearity"):
        ReactionNetwork(3, "S", None)
    # the controls: the shipped system's N and another N each give their own network
    assert ReactionNetwork(3, nuclearity=NUCLEARITY).n_monomers == NUCLEARITY + 1
    assert ReactionNetwork(3, "S", 4).n_monomers == 5
