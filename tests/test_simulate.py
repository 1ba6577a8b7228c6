"""The fast simulator: conservation, positivity, long-time equilibria (docs/science.md §2),
agreement with the scipy reference and libroadrunner, failure handling."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import binom
from workflow_helpers import NUCLEARITY, SHIPPED_SYSTEM

from intercluster import _kernels
from intercluster.network import ReactionNetwork
from intercluster.records import RateConstants, SampleConditions
from intercluster.settings import SolverOptions
from intercluster.simulate import (
    SimulationBatch,
    isomers_table,
    observables_table,
    simulate,
    simulate_many,
)

TABLE1 = {1: (3.2e-3, 3.2e-2, 3.2e-2), 2: (1e-2, 1e-1, 3.2e-2), 3: (1e-2, 5.6e-2, 3.2e-2)}
STIFF = (1.0, 1.0, 1.0)
TIMES = np.arange(0.0, 3600.0 + 1, 15.0)  # experimental time, 0..60 min
N = 25
LONG = 1e6  # s: every model is at equilibrium long before this


def cond(c_a, c_b, dead_time_s=20.0):
    return SampleConditions.from_dict({"ag_nM": c_a, "au_nM": c_b, "dead_time_s": dead_time_s})


def opts(**changes):
    return replace(SolverOptions.schema_default(), **changes)


def rel_dev(a, b, floor=1e-3):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def long_time_state(net, c_a, c_b, k=TABLE1[2]):
    res = simulate(net, RateConstants(*k), cond(c_a, c_b), [LONG], opts(rtol=1e-10, atol=1e-16))
    assert res.ok, res.message
    return res.states[-1]


def binomial_p(monomers):
    """Per-neighbour estimate of p from M_(i+1)/M_i * (i+1)/(N-i) = p/(1-p)."""
    i = np.arange(N)
    ratio = monomers[1:] / monomers[:-1] * (i + 1) / (N - i)
    return ratio / (1 + ratio)


@pytest.mark.parametrize("convention", ["S", "U"])
@pytest.mark.parametrize(
    "model,k", [(m, TABLE1[m]) for m in (1, 2, 3)] + [(m, STIFF) for m in (1, 2, 3)]
)
def test_conservation_and_positivity(model, k, convention):
    net = ReactionNetwork(model, convention, nuclearity=NUCLEARITY)
    res = simulate(net, RateConstants(*k), cond(40.0, 40.0), TIMES)
    assert res.ok, res.message
    y0 = net.initial_state(cond(40.0, 40.0))
    for atoms in (net.atoms_a, net.atoms_b):
        total0 = atoms @ y0
        drift = np.abs(res.states @ atoms - total0) / total0
        assert drift.max() <= 1e-12
    assert res.states.min() >= -1e-12
    assert res.stats["min_raw_nM"] >= -1e-12  # before the output clipping
    assert res.observables.shape == (TIMES.size, 77)


@pytest.mark.parametrize("c_a,c_b", [(40.0, 40.0), (100.0, 60.0)])
def test_model2_S_ends_binomial_at_atom_fraction(c_a, c_b):
    net = ReactionNetwork(2, "S", nuclearity=NUCLEARITY)
    y = long_time_state(net, c_a, c_b)
    mono = y[: N + 1]
    p_atoms = c_a / (c_a + c_b)
    expected = mono.sum() * binom.pmf(np.arange(N + 1), N, p_atoms)
    assert np.max(np.abs(mono / expected - 1)) <= 1e-6
    # dimer isomers: product of binomials with the S pair weights (K f b_i b_j, K f b_i^2/2)
    k_dim, k_diss, _ = TABLE1[2]
    i, j = net.dimer_pairs.T
    weight = np.where(i == j, 0.5, 1.0)
    dimers_expected = (k_dim / k_diss) * weight * expected[i] * expected[j]
    big = dimers_expected > 1e-8
    assert big.sum() > 200
    assert np.max(np.abs(y[N + 1 :][big] / dimers_expected[big] - 1)) <= 1e-6


def test_model2_U_binomial_at_one_to_one_and_shifted_p_at_five_to_three():
    net = ReactionNetwork(2, "U", nuclearity=NUCLEARITY)
    y = long_time_state(net, 40.0, 40.0)
    mono = y[: N + 1]
    expected = mono.sum() * binom.pmf(np.arange(N + 1), N, 0.5)
    assert np.max(np.abs(mono / expected - 1)) <= 1e-6
    k_dim, k_diss, _ = TABLE1[2]
    i, j = net.dimer_pairs.T  # U pair weight: K f b_i b_j for homodimers too
    dimers_expected = (k_dim / k_diss) * expected[i] * expected[j]
    big = dimers_expected > 1e-8
    assert np.max(np.abs(y[N + 1 :][big] / dimers_expected[big] - 1)) <= 1e-6

    mono = long_time_state(net, 100.0, 60.0)[: N + 1]
    p = binomial_p(mono)
    assert np.ptp(p) <= 1e-6  # binomial in shape ...
    assert p.mean() == pytest.approx(0.6248, abs=1e-4)  # ... with p off 0.625
    assert abs(p.mean() - 0.625) > 1e-4


def test_negative_control_mixed_conventions_break_the_binomial():
    """S exchange factors with U homodimer formation: detailed balance is broken."""
    net = ReactionNetwork(2, "S", nuclearity=NUCLEARITY)
    unordered = ReactionNetwork(2, "U", nuclearity=NUCLEARITY)
    net.__dict__["dimerization_factors"] = unordered.dimerization_factors.copy()
    mono = long_time_state(net, 40.0, 40.0)[: N + 1]
    expected = mono.sum() * binom.pmf(np.arange(N + 1), N, 0.5)
    miss = np.max(np.abs(mono / expected - 1))
    assert 0.25 <= miss <= 0.35


@pytest.mark.parametrize("convention", ["S", "U"])
def test_model1_ends_uniform(convention):
    net = ReactionNetwork(1, convention, nuclearity=NUCLEARITY)
    y = long_time_state(net, 40.0, 40.0, k=TABLE1[1])
    mono = y[: N + 1]
    assert np.max(np.abs(mono / mono.mean() - 1)) <= 1e-6
    o = net.block_offsets
    iso_50 = y[N + 1 + o[N] : N + 1 + o[N + 1]]  # the 13 isomers of [Ag25Au25]2-
    assert iso_50.size == 13
    assert np.max(np.abs(iso_50 / iso_50.mean() - 1)) <= 1e-6


def test_model3_asymmetry_and_shifted_binomial():
    net = ReactionNetwork(3, "S", nuclearity=NUCLEARITY)
    res = simulate(net, RateConstants(*TABLE1[3]), cond(40.0, 40.0), TIMES)
    assert res.ok
    ag50 = net.state_index_of_dimer(N, N)
    assert np.all(res.states[:, ag50] == 0.0)
    mono = res.monomers
    mirror = mono[:, ::-1]
    assert np.max(np.abs(mono - mirror)) > 0.1  # nmol/L: Ag and Au sides differ
    y = long_time_state(net, 40.0, 40.0, k=TABLE1[3])
    assert y[ag50] == 0.0
    p = binomial_p(y[: N + 1])
    assert np.ptp(p) <= 1e-6
    assert 0.505 <= p.mean() <= 0.509


@pytest.mark.parametrize("c_a,c_b,centre", [(100.0, 60.0, 16), (60.0, 100.0, 9)])
def test_equilibrium_centre_follows_mixing_ratio(c_a, c_b, centre):
    mono = long_time_state(ReactionNetwork(3, "S", nuclearity=NUCLEARITY), c_a, c_b,
                           k=TABLE1[3])[: N + 1]
    assert int(np.argmax(mono)) == centre


@pytest.mark.parametrize(
    "model,k",
    [(1, TABLE1[1]), (2, TABLE1[2]), (3, TABLE1[3]), (3, STIFF), (2, (1e-3, 1.0, 1e-3))],
)
def test_fast_agrees_with_reference(model, k):
    net = ReactionNetwork(model, "S", nuclearity=NUCLEARITY)
    times = TIMES[::4]
    fast = simulate(net, RateConstants(*k), cond(40.0, 40.0), times)
    ref = simulate(net, RateConstants(*k), cond(40.0, 40.0), times,
                   opts(rtol=1e-9, atol=1e-12, method="reference"))  # fmt: skip
    assert fast.ok and ref.ok
    assert rel_dev(fast.states, ref.states) <= 1e-3


# --- the kernel methods against a tight scipy reference ---------------------------------------
TIGHT = SolverOptions(rtol=1e-10, atol=1e-14, max_steps=10**6, method="reference")


@functools.cache
def _tight_reference(model, convention):
    net = ReactionNetwork(model, convention, nuclearity=NUCLEARITY)
    ref = simulate(net, RateConstants(*TABLE1[model]), cond(40.0, 40.0), TIMES[::4], TIGHT)
    assert ref.ok, ref.message
    return ref.states


def _deviations_by_tolerance(model, convention, method):
    """Max relative deviation from the tight reference at the schema's default tolerances
    and one and two decades tighter."""
    net = ReactionNetwork(model, convention, nuclearity=NUCLEARITY)
    ref = _tight_reference(model, convention)
    default = SolverOptions.schema_default()
    devs = []
    for decade in (0, 1, 2):
        o = replace(default, rtol=default.rtol * 10.0**-decade,
                    atol=default.atol * 10.0**-decade, method=method)  # fmt: skip
        res = simulate(net, RateConstants(*TABLE1[model]), cond(40.0, 40.0), TIMES[::4], o)
        assert res.ok, res.message
        devs.append(rel_dev(res.states, ref))
    return devs


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
@pytest.mark.parametrize("convention", ["S", "U"])
@pytest.mark.parametrize("model", [1, 2, 3])
def test_kernel_methods_converge_to_the_tight_reference(model, convention, method):
    """Both conventions, every model: within 1e-4 at the default tolerances (Rodas5P measured
    0.9-1.5e-5, RODAS4 1.2-3.2e-5), and the deviation falls with the tolerance at the rate
    of a method of full order (two decades of tolerance: ~100x; 20x demanded)."""
    devs = _deviations_by_tolerance(model, convention, method)
    assert devs[0] <= 1e-4
    assert devs[2] < devs[1] < devs[0]
    assert devs[2] <= devs[0] / 20


def test_rodas5p_is_the_default_method():
    assert SolverOptions.schema_default().method == "rodas5p"


@pytest.mark.parametrize(
    "coefficient, factor, fails",
    [
        # the dense output's first coefficient off by 1 %: wrong values between the steps
        ((2, 0, 0), 1.01, "accuracy"),
        # one stage coefficient off by 0.1 %: the order conditions break, the error estimate
        # does not see it, and tightening the tolerance gains far less than it should
        ((0, 1, 0), 1.001, "order"),
    ],
)
def test_negative_control_a_wrong_tableau_fails_the_convergence_test(
    monkeypatch, coefficient, factor, fails
):
    part, row, col = coefficient
    gamma, a_mat, c_mat, h_mat, exponent = _kernels.TABLEAUS["rodas5p"]
    broken = [a_mat.copy(), c_mat.copy(), h_mat.copy()]
    broken[part][row, col] *= factor
    monkeypatch.setitem(_kernels.TABLEAUS, "rodas5p", (gamma, *broken, exponent))
    devs = _deviations_by_tolerance(3, "S", "rodas5p")
    if fails == "accuracy":
        assert devs[0] > 1e-3 and devs[2] > 1e-3
    else:
        assert devs[0] <= 1e-4  # passes the accuracy criterion alone ...
        assert devs[2] > devs[0] / 20  # ... but not the order one


@pytest.mark.parametrize(
    "k", [(np.nan, 1.0, 1.0), (1.0, np.inf, 1.0), (1.0, 1.0, -1.0), (1e300, 1e300, 1e300)]
)
def test_bad_parameters_fail_without_raising(k):
    res = simulate(ReactionNetwork(2, nuclearity=NUCLEARITY), RateConstants(*k), cond(40.0, 40.0),
                   TIMES)
    assert res.status == "failed"
    assert res.message
    assert res.states is None


def test_tiny_step_budget_reports_too_many_steps():
    res = simulate(ReactionNetwork(2, nuclearity=NUCLEARITY), RateConstants(*STIFF),
                   cond(40.0, 40.0), TIMES, opts(max_steps=5))  # fmt: skip
    assert res.status == "failed"
    assert "too many steps" in res.message


def test_simulate_many_matches_single_runs_and_isolates_failures():
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    params = np.array([TABLE1[3], (np.nan, 1.0, 1.0), STIFF])
    many = simulate_many(net, params, cond(40.0, 40.0), TIMES)
    assert list(many.status) == ["ok", "failed", "ok"]
    assert many.observables.shape == (3, TIMES.size, 77)
    assert np.all(np.isnan(many.observables[1]))
    single = simulate(net, RateConstants(*STIFF), cond(40.0, 40.0), TIMES)
    assert np.array_equal(many.observables[2], single.observables)


def test_tables():
    res = simulate(ReactionNetwork(3, nuclearity=NUCLEARITY), RateConstants(*TABLE1[3]),
                   cond(40.0, 40.0), TIMES[:5])
    with pytest.raises(TypeError):
        observables_table(res)  # no default system (the call below is the control)
    with pytest.raises(TypeError, match="cluster system"):
        observables_table(res, None)
    obs = observables_table(res, SHIPPED_SYSTEM)
    assert len(obs) == 5 * 77
    assert obs.loc[0, "species"] == "[Ag0Au25]-"
    sums = obs.groupby("time_min")["intensity_norm"].sum()
    assert np.allclose(sums, 1.0)
    assert set(obs["kind"]) == {"monomer", "dimer"}
    iso = isomers_table(res)
    assert len(iso) == 5 * 351
    assert (iso["i"] >= iso["j"]).all()
    assert np.array_equal(iso["n_first_total"], iso["i"] + iso["j"])


@pytest.mark.parametrize("constants", [(1e-2, 5.6e-2, 3.2e-2), STIFF])
def test_states_do_not_depend_on_where_the_output_stops(constants):
    """The last step is not cut to land on the last output time, so the step sequence, and
    every state before the end of a shorter record, is that of the longer one (this is what
    lets one integration serve a whole time-scale orbit of the grid)."""
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    full = simulate(net, RateConstants(*constants), cond(40.0, 40.0), TIMES)
    for n in (TIMES.size // 3, TIMES.size - 1):
        part = simulate(net, RateConstants(*constants), cond(40.0, 40.0), TIMES[:n])
        assert np.array_equal(part.states, full.states[:n])
        assert part.stats["steps"] <= full.stats["steps"]


def test_one_interface_batches_are_sequences_of_single_results():
    """simulate_many of records equals simulate_many of an (n, 3) array and each member is
    the SimulationResult simulate gives; the reference method answers through the same call."""
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    sets = [RateConstants(*TABLE1[3]), RateConstants(*STIFF)]
    batch = simulate_many(net, sets, cond(60.0, 100.0), TIMES[:40])
    assert isinstance(batch, SimulationBatch) and len(batch) == 2
    assert np.array_equal(batch.constants, np.array([TABLE1[3], STIFF]))
    from_array = simulate_many(net, np.array([TABLE1[3], STIFF]), cond(60.0, 100.0), TIMES[:40])
    assert np.array_equal(batch.observables, from_array.observables)
    for member, k in zip(batch, sets, strict=True):
        single = simulate(net, k, cond(60.0, 100.0), TIMES[:40])
        assert member.constants == k and np.array_equal(member.observables, single.observables)
    ref = simulate(net, sets[0], cond(60.0, 100.0), TIMES[:40], opts(rtol=1e-9, atol=1e-12,
                   method="reference"), return_states=False)  # fmt: skip
    assert ref.ok and ref.states is None
    assert rel_dev(ref.observables, batch[0].observables) <= 1e-3
    # negative control: other concentrations give other trajectories
    other = simulate(net, sets[0], cond(40.0, 40.0), TIMES[:40])
    assert rel_dev(other.observables, batch[0].observables) > 0.1


@pytest.mark.parametrize("c_a,c_b", [(-1.0, 40.0), (40.0, np.nan)])
def test_bad_conditions_fail_without_raising(c_a, c_b):
    """The initial state (ReactionNetwork.initial_state, its one owner) refuses them."""
    net = ReactionNetwork(2, nuclearity=NUCLEARITY)
    with pytest.raises(ValueError, match="initial concentrations"):
        net.initial_state(cond(c_a, c_b))
    res = simulate(net, RateConstants(*TABLE1[2]), cond(c_a, c_b), TIMES)
    assert res.status == "failed" and "initial concentrations" in res.message
    batch = simulate_many(net, [RateConstants(*TABLE1[2])], cond(c_a, c_b), TIMES)
    assert batch.status.tolist() == ["failed"] and np.isnan(batch.observables).all()


# --- observables written by the kernel ---------------------------------------------------------
def _kernel_rows(net, k, times_sim, observables_only, method="rodas5p"):
    from intercluster.simulate import NEGATIVE_TOLERANCE, _kernel_network

    y0 = net.initial_state(cond(40.0, 40.0))
    width = net.n_monomers + net.block_offsets.size - 1 if observables_only else net.n_species
    out = np.full((times_sim.size, width), np.nan)
    row_min = np.full(times_sim.size, np.nan)
    stats = np.zeros(_kernels.N_STATS)
    code = _kernels.integrate(
        y0, times_sim, *k, _kernel_network(net), 1e-5, 1e-8, NEGATIVE_TOLERANCE, 100_000, out,
        stats, _kernels.TABLEAUS[method], row_min, observables_only,
    )  # fmt: skip
    assert code == _kernels.OK
    return out, row_min


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
@pytest.mark.parametrize("model,k", [(1, TABLE1[1]), (3, TABLE1[3]), (2, STIFF)])
def test_kernel_observables_equal_the_post_processed_ones_exactly(model, k, method):
    """One integration, written once as states (then clipped and summed by
    ReactionNetwork.observables) and once as observables by the kernel: equal to the bit,
    and so are each row's lowest value and the public paths built on them."""
    net = ReactionNetwork(model, nuclearity=NUCLEARITY)
    times_sim = np.concatenate([[0.0], np.geomspace(0.5, 4000.0, 120)])  # orbit-like spacing
    states, min_s = _kernel_rows(net, k, times_sim, False, method)
    obs, min_o = _kernel_rows(net, k, times_sim, True, method)
    post = net.observables(np.maximum(states, 0.0))
    assert np.array_equal(obs, post)
    assert np.array_equal(min_o, states.min(axis=1)) and np.array_equal(min_s, min_o)
    if model == 1:  # round-off negatives (~-1e-40 nmol/L) here: the clipping is exercised
        assert (states < 0).any()
    full = simulate(net, RateConstants(*k), cond(40.0, 40.0), TIMES, opts(method=method))
    lean = simulate(net, RateConstants(*k), cond(40.0, 40.0), TIMES, opts(method=method),
                    return_states=False)  # fmt: skip
    assert np.array_equal(lean.observables, full.observables)
    assert lean.stats["min_raw_nM"] == full.stats["min_raw_nM"]


def test_negative_control_another_summation_order_is_seen():
    """The exact comparison above can fail: the same sums in the reverse order (and in numpy's
    own np.add.reduceat order) differ from the kernel's in the last bits somewhere."""
    net = ReactionNetwork(3, nuclearity=NUCLEARITY)
    times_sim = np.concatenate([[0.0], np.geomspace(0.5, 4000.0, 120)])
    states, _ = _kernel_rows(net, TABLE1[3], times_sim, False)
    obs, _ = _kernel_rows(net, TABLE1[3], times_sim, True)
    m = net.n_monomers
    dimers = np.maximum(states, 0.0)[:, m:]
    reduceat = np.add.reduceat(dimers, net.block_offsets[:-1], axis=-1)
    reversed_order = np.add.reduceat(dimers[:, ::-1], (net.n_dimers - net.block_offsets[1:])[::-1],
                                     axis=-1)[:, ::-1]  # fmt: skip
    for other in (reduceat, reversed_order):
        assert np.allclose(obs[:, m:], other, rtol=1e-14, atol=0)
        assert not np.array_equal(obs[:, m:], other)
