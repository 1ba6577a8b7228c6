"""Model 4 (docs/science.md §2.4): model 3 with the exchange bias beta. beta = 1 is model 3;
with the dimers closed (no dissociation) every block of dimer isomers reaches the analytic
biased equilibrium; with dissociation beta != 1 leaves a driven steady state."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import comb

from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
from intercluster.settings import SolverOptions
from intercluster.simulate import simulate

TIMES = np.arange(0.0, 3600.0 + 1, 60.0)
K = RateConstants(1e-2, 5.6e-2, 3.2e-2)
LONG = 1e6


def cond(c_a=40.0, c_b=40.0):
    return SampleConditions.from_dict({"ag_nM": c_a, "au_nM": c_b, "dead_time_s": 20.0})


def tight():
    return replace(SolverOptions.schema_default(), rtol=1e-10, atol=1e-16)


def biased_block_equilibrium(net: ReactionNetwork, s: int) -> np.ndarray:
    """The analytic within-block distribution of docs/science.md §2.4, normalised:
    D_ij ∝ w_ij C(N,i) C(N,j) beta^(-(i-j)/2), w = 1/2 for homodimers in convention S."""
    n = net.nuclearity
    lo, hi = net.block_offsets[s], net.block_offsets[s + 1]
    i, j = net.dimer_pairs[lo:hi].T
    w = np.where((i == j) & (net.convention == "S"), 0.5, 1.0)
    d = w * comb(n, i) * comb(n, j) * net.beta ** (-(i - j) / 2.0)
    return d / d.sum()


@pytest.mark.parametrize("convention", ["S", "U"])
def test_beta_one_is_model_three(convention):
    three = simulate(ReactionNetwork(3, convention, 25), K, cond(), TIMES)
    four = simulate(ReactionNetwork(4, convention, 25, beta=1.0), K, cond(), TIMES)
    assert three.ok and four.ok
    np.testing.assert_allclose(four.observables, three.observables, rtol=1e-9, atol=1e-12)
    # negative control: a beta off 1 changes the observables well beyond solver tolerance
    biased = simulate(ReactionNetwork(4, convention, 25, beta=1.5), K, cond(), TIMES)
    assert np.max(np.abs(biased.observables - three.observables)) > 1e-2


def test_bias_multiplies_forward_and_divides_backward():
    three = ReactionNetwork(3, "S", 25)
    four = ReactionNetwork(4, "S", 25, beta=2.0)
    np.testing.assert_array_equal(four.exchange[0], three.exchange[0])
    ratio = four.exchange[2] / three.exchange[2]
    forward = four.exchange_direction == 1
    np.testing.assert_allclose(ratio[forward], np.sqrt(2.0), rtol=1e-15)
    np.testing.assert_allclose(ratio[~forward], 1 / np.sqrt(2.0), rtol=1e-15)
    # forward moves bring the subunits' counts together, backward ones (homodimers' too) apart
    src, dst = (three.dimer_pairs[a] for a in three.exchange[:2])
    gap_change = np.abs(dst[:, 0] - dst[:, 1]) - np.abs(src[:, 0] - src[:, 1])
    np.testing.assert_array_equal(np.where(gap_change < 0, 1, -1), four.exchange_direction)


@pytest.mark.parametrize("convention", ["S", "U"])
@pytest.mark.parametrize("beta", [2.0, 0.5])
def test_closed_dimer_blocks_reach_the_biased_equilibrium(convention, beta):
    """No dissociation: the monomers dimerise for good and every block of isomers relaxes
    by exchange alone to the analytic equilibrium (N = 4: blocks with a homodimer)."""
    net = ReactionNetwork(4, convention, 4, beta=beta)
    k = RateConstants(1.0, 0.0, 0.5)
    res = simulate(net, k, cond(1.0, 1.0), [LONG], tight())
    assert res.ok, res.message
    y = res.states[-1]
    atoms = net.atoms_a @ y, net.atoms_b @ y
    y0 = net.initial_state(cond(1.0, 1.0))
    np.testing.assert_allclose(atoms, (net.atoms_a @ y0, net.atoms_b @ y0), rtol=1e-9)
    dimers = y[net.n_monomers :]
    s = net.nuclearity  # the block the mixed pairs land in: (4, 0), (3, 1), (2, 2)
    lo, hi = net.block_offsets[s], net.block_offsets[s + 1]
    block = dimers[lo:hi] / dimers[lo:hi].sum()
    expected = biased_block_equilibrium(net, s)
    np.testing.assert_allclose(block, expected, atol=1e-6, rtol=0)
    # negative controls: the binomial (model 3's) block, and the bias the other way round
    unbiased = biased_block_equilibrium(ReactionNetwork(3, convention, 4), s)
    assert np.max(np.abs(block - unbiased)) > 1e-2
    inverse = biased_block_equilibrium(ReactionNetwork(4, convention, 4, beta=1 / beta), s)
    assert np.max(np.abs(block - inverse)) > 1e-2


def _net_exchange_flux(net, y, k_ex):
    src, dst, fac = net.exchange
    rates = (k_ex * fac * y[net.n_monomers + src]).tolist()
    flux = dict(zip(zip(src.tolist(), dst.tolist(), strict=True), rates, strict=True))
    return max(abs(f - flux.get((b, a), 0.0)) for (a, b), f in flux.items())


@pytest.mark.parametrize("convention", ["S", "U"])
def test_dissociation_makes_beta_off_one_a_driven_steady_state(convention):
    """With dissociation the exchange bias cannot be a potential over all species (its
    Wegscheider condition fails, docs/science.md §2.4): the long-time state is steady, atoms
    are conserved, but the exchange reactions carry a net flux; at beta = 1 they do not."""
    fluxes = {}
    for beta in (1.0, 2.0):
        net = ReactionNetwork(4, convention, 4, beta=beta)
        res = simulate(net, RateConstants(1.0, 1.0, 1.0), cond(1.0, 1.0), [1e4], tight())
        assert res.ok, res.message
        y = res.states[-1]
        assert np.max(np.abs(net.rhs(y, 1.0, 1.0, 1.0))) < 1e-10  # steady
        y0 = net.initial_state(cond(1.0, 1.0))
        np.testing.assert_allclose(net.atoms_a @ y, net.atoms_a @ y0, rtol=1e-9)
        fluxes[beta] = _net_exchange_flux(net, y, 1.0)
    assert fluxes[1.0] < 1e-12
    assert fluxes[2.0] > 1e-4


def test_beta_is_rejected_where_it_has_no_meaning():
    with pytest.raises(ValueError, match="no exchange bias"):
        ReactionNetwork(3, "S", 25, beta=2.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta must be finite and > 0"):
            ReactionNetwork(4, "S", 25, beta=bad)


def test_virtual_experiment_makes_model4_data():
    """virtual_experiment.model 4 with .beta: the truth it writes is model 4's at that beta."""
    from workflow_helpers import cluster_of, small_config

    from intercluster.system import ClusterSystem
    from intercluster.virtual_experiment import simulate_sample

    config = small_config()
    system = ClusterSystem.from_config(cluster_of(config))
    times = np.array([0.0, 10.0, 40.0])
    truth = {}
    for model, beta in ((4, 2.0), (3, 1.0)):
        ve = dict(config["virtual_experiment"], cid={}, model=model, beta=beta)
        vs = simulate_sample(system, ve, "ag40_au40", times_min=times)
        truth[model] = vs.observables["concentration_nM"].to_numpy().reshape(times.size, -1)
    ve = config["virtual_experiment"]
    conditions = SampleConditions.from_dict({**ve["samples"]["ag40_au40"],
                                             "dead_time_s": ve["dead_time_s"]})  # fmt: skip
    direct = simulate(ReactionNetwork(4, None, system.nuclearity, beta=2.0),
                      RateConstants.from_dict(ve["rate_constants"]), conditions,
                      times * 60.0, tight())  # fmt: skip
    np.testing.assert_allclose(truth[4], direct.observables, rtol=1e-4, atol=1e-6)
    # negative control: the same run without the bias is model 3's and differs
    assert np.max(np.abs(truth[4] - truth[3])) > 1e-2
