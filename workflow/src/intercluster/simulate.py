"""Integrate the reaction network in time: one interface, in the spirit of scipy's ``solve_ivp``.

Three entry points, one per concept, all with the same inputs and one result type:

* :func:`simulate` -- one parameter set -> one :class:`SimulationResult`;
* :func:`simulate_orbit` -- the members ``a * k`` of one time-scale orbit, from ONE
  integration -> a :class:`SimulationBatch` (a sequence of :class:`SimulationResult`);
* :func:`simulate_many` -- many parameter sets, one by one -> a :class:`SimulationBatch`.

The inputs are typed records: the rate constants (:class:`~intercluster.records.RateConstants`),
the sample (:class:`~intercluster.records.SampleConditions`: initial concentrations and dead
time; the initial state is :meth:`ReactionNetwork.initial_state`'s, nowhere else), the
output times, and how to integrate (:class:`~intercluster.settings.SolverOptions`: rtol,
atol, max_steps and ``method``: ``"rodas5p"`` (numba Rodas5P, the default), ``"rodas4"``
(numba RODAS4, the former method) or ``"reference"`` (scipy Radau, the yardstick the numba
kernels are tested against)). Without options the schema's defaults of the ``kinetics``
section are used.

Time conventions (docs/science.md §2): ``times_s`` are *experimental* times, 0 = first
recorded spectrum, which is ``conditions.dead_time_s`` after mixing; the integration starts
at mixing, so the simulated time is ``t_exp + dead_time_s``.

An integration that fails never raises: it returns a result with ``status == "failed"``
and the reason in ``message``, so one bad grid point cannot bring down a grid chunk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .network import ReactionNetwork
from .records import RATE_CONSTANTS, RateConstants, SampleConditions
from .settings import DEFAULT_SOLVER_METHOD, SolverOptions

__all__ = [
    "SimulationBatch",
    "SimulationResult",
    "SolverOptions",
    "isomers_table",
    "observables_table",
    "output_times_s",
    "simulate",
    "simulate_many",
    "simulate_orbit",
]


@dataclass
class SimulationResult:
    """Outcome of one simulation (one parameter set, one sample).

    Attributes
    ----------
    status : str
        ``"ok"`` or ``"failed"``.
    message : str
        Why it failed; empty when ok.
    times_s : ndarray
        Experimental times, s after the first spectrum.
    states : ndarray or None
        ``(n_times, n_species)`` in nmol/L; None when failed or when only the observables
        were kept (``return_states=False``, orbit and batch members).
    network : ReactionNetwork
    stats : dict
        Solver diagnostics (steps, rejected, rhs_calls, min_raw_nM, seconds); may be empty.
    observables_only : ndarray or None
        The observables when the states were dropped.
    constants : RateConstants or None
        The rate constants simulated.
    """

    status: str
    message: str
    times_s: np.ndarray
    states: np.ndarray | None
    network: ReactionNetwork
    stats: dict = field(default_factory=dict)
    observables_only: np.ndarray | None = None
    constants: RateConstants | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def observables(self) -> np.ndarray:
        """(n_times, 77) ion concentrations: monomers, then dimer ions (sum of isomers)."""
        if self.states is None and self.observables_only is not None:
            return self.observables_only
        if self.states is None:
            raise RuntimeError(f"simulation failed: {self.message}")
        return self.network.observables(self.states)

    @property
    def monomers(self) -> np.ndarray:
        return self.observables[:, : self.network.n_monomers]

    @property
    def isomers(self) -> np.ndarray:
        """(n_times, n_dimers) concentrations of the dimer isomers, in network order."""
        if self.states is None:
            raise RuntimeError(f"simulation failed: {self.message}")
        return self.states[:, self.network.n_monomers :]


class SimulationBatch(Sequence):
    """Outcome of :func:`simulate_orbit` or :func:`simulate_many`: a sequence of
    :class:`SimulationResult`, one per parameter set, with their observables stacked.

    Attributes
    ----------
    observables : ndarray
        ``(n_sets, n_times, 77)`` in nmol/L, NaN where a set failed (member ``m``'s
        ``observables`` is row ``m``).
    stats : dict
        Diagnostics of the batch as a whole (an orbit: its one integration).
    """

    def __init__(self, results: Sequence[SimulationResult], observables: np.ndarray,
                 stats: dict | None = None) -> None:  # fmt: skip
        self.results = tuple(results)
        self.observables = observables
        self.stats = dict(stats or {})

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index):
        return self.results[index]

    def __iter__(self) -> Iterator[SimulationResult]:
        return iter(self.results)

    @property
    def status(self) -> np.ndarray:
        """(n_sets,) ``"ok"`` / ``"failed"``."""
        return np.array([r.status for r in self.results], dtype=str)

    @property
    def ok(self) -> np.ndarray:
        return self.status == "ok"

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.results]

    @property
    def constants(self) -> np.ndarray:
        """(n_sets, 3): k_dim, k_diss, k_ex of every set."""
        return np.array([[getattr(r.constants, k) for k in RATE_CONSTANTS]
                         for r in self.results], dtype=float).reshape(-1, 3)  # fmt: skip


@lru_cache(maxsize=1)
def _default_options() -> SolverOptions:
    return SolverOptions.schema_default()  # read the schema once


def _options(options: SolverOptions | None) -> SolverOptions:
    return _default_options() if options is None else options


def _failed(network, times_s, message, constants=None) -> SimulationResult:
    return SimulationResult(
        "failed", message, np.asarray(times_s, float), None, network, constants=constants
    )


def _prepare(network, constants: RateConstants, conditions: SampleConditions, times_s):
    """(problem or None, initial state, experimental times) of a simulation's inputs."""
    for name in RATE_CONSTANTS:
        value = getattr(constants, name)
        if not np.isfinite(value) or value < 0:
            return f"{name} must be finite and >= 0, got {value}", None, None
    try:
        y0 = network.initial_state(conditions)
    except ValueError as exc:
        return str(exc), None, None
    dead_time_s = conditions.dead_time_s
    if not np.isfinite(dead_time_s) or dead_time_s < 0:
        return f"dead_time_s must be finite and >= 0, got {dead_time_s}", None, None
    t = np.asarray(times_s, float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        return "times_s must be a non-empty 1-D array of finite times", None, None
    if np.any(np.diff(t) < 0):
        return "times_s must be sorted ascending", None, None
    if t[0] + dead_time_s < 0:
        return "times_s must not start before mixing (t_exp + dead_time_s >= 0)", None, None
    return None, y0, t


def _k(constants: RateConstants) -> tuple[float, float, float]:
    return float(constants.k_dim), float(constants.k_diss), float(constants.k_ex)


def simulate(
    network: ReactionNetwork,
    constants: RateConstants,
    conditions: SampleConditions,
    times_s,
    options: SolverOptions | None = None,
    *,
    return_states: bool = True,
) -> SimulationResult:
    """Integrate the rate equations of ``network`` for one parameter set and one sample.

    Parameters
    ----------
    network : ReactionNetwork
    constants : RateConstants
        k_dim, k_diss, k_ex.
    conditions : SampleConditions
        Initial concentrations (nmol/L) and dead time (s) of the sample.
    times_s : array_like
        Sorted experimental output times, s after the first spectrum.
    options : SolverOptions, optional
        Tolerances, step limit and method (``"rodas5p"`` or ``"rodas4"``: numba
        Rosenbrock kernels with a structured linear solve, see ``_kernels``;
        ``"reference"``: scipy ``solve_ivp`` Radau with the sparse analytic Jacobian,
        ignores ``max_steps``). Default: the schema's.
    return_states : bool
        With False only the observables are kept (``result.states`` is None,
        ``result.observables`` works), which is what grid fits need.

    Returns
    -------
    SimulationResult
        Never raises for bad numbers: ``status == "failed"`` with the reason.

    Notes
    -----
    Kernel methods: states at ``times_s`` come from the method's continuous extension
    (order 4 for Rodas5P, 3 for RODAS4), so output times do not constrain the steps. A step
    that leaves a concentration below ``-NEGATIVE_TOLERANCE`` nmol/L is rejected and retried
    smaller; the remaining round-off negatives (>= -NEGATIVE_TOLERANCE) are clipped to 0 in
    the output, which changes the atom totals by < 1e-10 nmol/L.
    """
    options = _options(options)
    if options.method == "reference":
        result = _simulate_reference(network, constants, conditions, times_s, options)
        if result.ok and not return_states:
            result.observables_only = result.observables
            result.states = None
        return result
    from . import _kernels

    started = time.perf_counter()
    problem, y0, t_exp = _prepare(network, constants, conditions, times_s)
    if problem:
        return _failed(network, times_s, problem, constants)
    t_sim = np.ascontiguousarray(t_exp + conditions.dead_time_s)
    net = _kernel_network(network)
    # without the states the kernel writes the (clipped) observables itself
    out = np.empty((t_sim.size, network.n_species if return_states else _n_observables(network)))
    row_min = np.empty(t_sim.size)
    raw = np.zeros(_kernels.N_STATS)
    rtol, atol = float(options.rtol), float(options.atol)
    code = _kernels.integrate(
        y0, t_sim, *_k(constants), net, rtol, atol, NEGATIVE_TOLERANCE,
        int(options.max_steps), out, raw, _tableau(options), row_min, not return_states,
    )  # fmt: skip
    stats = {
        "steps": int(raw[_kernels.STAT_STEPS]),
        "rejected": int(raw[_kernels.STAT_REJECTED]),
        "rhs_calls": int(raw[_kernels.STAT_RHS]),
        "min_raw_nM": float(min(raw[_kernels.STAT_MIN_RAW], row_min.min() if code == 0 else 0)),
    }
    if code != _kernels.OK:
        result = _failed(network, t_exp, _kernels.STATUS_MESSAGES[code], constants)
        result.stats = stats
        return result
    if stats["min_raw_nM"] < -NEGATIVE_TOLERANCE:
        # the interpolant can undershoot between accepted (non-negative) steps
        if stats["min_raw_nM"] < -max(atol, NEGATIVE_TOLERANCE):
            result = _failed(network, t_exp, _kernels.STATUS_MESSAGES[_kernels.NEGATIVE],
                             constants)  # fmt: skip
            result.stats = stats
            return result
    stats["seconds"] = time.perf_counter() - started
    if not return_states:
        return SimulationResult("ok", "", t_exp, None, network, stats, observables_only=out,
                                constants=constants)  # fmt: skip
    np.maximum(out, 0.0, out=out)
    return SimulationResult("ok", "", t_exp, out, network, stats, constants=constants)


def _simulate_reference(network, constants, conditions, times_s, options) -> SimulationResult:
    """Slow, plain scipy ``solve_ivp`` (Radau) integration with the sparse analytic Jacobian.

    This is the yardstick the fast simulator is tested against; use tight tolerances.
    """
    from scipy.integrate import solve_ivp

    problem, y0, t_exp = _prepare(network, constants, conditions, times_s)
    if problem:
        return _failed(network, times_s, problem, constants)
    t_sim = t_exp + conditions.dead_time_s
    k_dim, k_diss, k_ex = _k(constants)
    try:
        sol = solve_ivp(
            lambda t, y: network.rhs(y, k_dim, k_diss, k_ex),
            (0.0, float(t_sim[-1])),
            y0,
            method="Radau",
            t_eval=t_sim,
            jac=lambda t, y: network.jacobian(y, k_dim, k_diss, k_ex),
            rtol=options.rtol,
            atol=options.atol,
        )
    except Exception as exc:  # noqa: BLE001 - a failed integration is data, not a crash
        return _failed(network, t_exp, f"{type(exc).__name__}: {exc}", constants)
    if not sol.success:
        return _failed(network, t_exp, f"solve_ivp: {sol.message}", constants)
    return SimulationResult("ok", "", t_exp, sol.y.T.copy(), network, constants=constants)


# --- fast simulator ---------------------------------------------------------------------------

#: Accepted steps may dip below zero by at most this much (nmol/L) before the step is
#: rejected; output values in [-NEGATIVE_TOLERANCE, 0) are clipped to 0 (see `simulate`).
NEGATIVE_TOLERANCE = 1e-12


def _n_observables(network: ReactionNetwork) -> int:
    """Monomer ions, then one dimer ion per block of equal first-metal count."""
    return network.n_monomers + len(network.block_offsets) - 1


def _tableau(options: SolverOptions) -> tuple:
    """The kernel tableau of ``options.method``; the default kernel method for the scipy
    reference (an orbit needs the kernel's dense output and step sequence)."""
    from . import _kernels

    return _kernels.TABLEAUS.get(options.method, _kernels.TABLEAUS[DEFAULT_SOLVER_METHOD])


def _kernel_network(network: ReactionNetwork) -> tuple:
    """The network as the flat arrays the numba kernels use (see ``_kernels``).

    Cached on the network instance (not by value), so a network whose factor arrays were
    modified after construction (tests do this) gets its own arrays.

    Exchange reactions are folded into a tridiagonal operator on the dimer vector:
    ``ex_out[p]`` is the summed factor of moves out of dimer p, ``ex_low[p]`` the factor of
    the move p-1 -> p and ``ex_up[p]`` of p+1 -> p. That exchange only links neighbours is
    a property of the network's dimer order; it is checked here, not assumed.
    """
    cached = network.__dict__.get("_kernel_arrays")
    if cached is not None:
        return cached
    pairs = network.dimer_pairs
    n_d = network.n_dimers
    src, dst, fac = network.exchange
    if np.any(np.abs(dst - src) != 1):
        raise ValueError("exchange must link neighbouring dimers in network order")
    # the kernels sweep W_DD block by block (_kernels._tridiagonal_solve)
    if np.any(network.dimer_sum[src] != network.dimer_sum[dst]):
        raise ValueError("exchange must stay inside a block of equal first-metal count")
    ex_out = np.zeros(n_d)
    ex_low = np.zeros(n_d)
    ex_up = np.zeros(n_d)
    np.add.at(ex_out, src, fac)
    up_moves = dst == src + 1  # p -> p+1 enters row p+1 from below
    np.add.at(ex_low, dst[up_moves], fac[up_moves])
    np.add.at(ex_up, dst[~up_moves], fac[~up_moves])
    blocks = np.ascontiguousarray(network.block_offsets, dtype=np.int64)
    # the tridiagonal sweeps run block b beside block n_blocks - 1 - b
    # (_kernels._tridiagonal_solve): their lengths must match
    lengths = np.diff(blocks)
    if np.any(lengths != lengths[::-1]):
        raise ValueError("blocks of equal first-metal count must have mirrored lengths")
    arrays = (
        np.ascontiguousarray(pairs[:, 0], dtype=np.int64),
        np.ascontiguousarray(pairs[:, 1], dtype=np.int64),
        np.ascontiguousarray(network.dimerization_factors, dtype=float),
        ex_out,
        ex_low,
        ex_up,
        blocks,
        int(network.n_monomers),
    )
    network.__dict__["_kernel_arrays"] = arrays  # frozen dataclass: bypass __setattr__
    return arrays


def _scaled(constants: RateConstants, a: float) -> RateConstants:
    return RateConstants(a * constants.k_dim, a * constants.k_diss, a * constants.k_ex)


def simulate_orbit(
    network: ReactionNetwork,
    constants: RateConstants,
    scales,
    conditions: SampleConditions,
    times_s,
    options: SolverOptions | None = None,
) -> SimulationBatch:
    """Observables of every member ``a * constants``, ``a`` in ``scales``, from ONE
    integration of the base constants.

    Parameters
    ----------
    network, conditions, times_s, options
        As in :func:`simulate` (a kernel method: ``"reference"`` means the default one).
    constants : RateConstants
        The base set, the slowest member.
    scales : array_like
        Time-scale factor of each member, finite, >= 1 and sorted ascending.

    Returns
    -------
    SimulationBatch
        One member per scale (``constants`` scaled), observables only; ``stats`` of the one
        integration. ``scales = [1.0]`` is exactly :func:`simulate` (same output times,
        same steps).

    Notes
    -----
    Time-scale invariance (docs/science.md §2): with the initial concentrations fixed, every
    term of the rate equations is linear in one rate constant, so the state at time t with
    constants a k equals the state at time a t with constants k. The base set is integrated
    once, with output at the union of ``a * (t_exp + dead_time_s)`` over the members, and
    each member takes its own rows.

    Never raises for bad numbers. When the integration fails, members whose last output
    time was reached keep their values; the others are ``"failed"`` with the reason.
    """
    from . import _kernels

    options = _options(options)
    started = time.perf_counter()
    scales = np.asarray(scales, dtype=float).ravel()
    t_exp = np.asarray(times_s, float)
    n_obs = _n_observables(network)
    n_members = scales.size
    members = [_scaled(constants, float(a)) for a in scales]
    observables = np.full((n_members, max(t_exp.size, 1), n_obs), np.nan)
    if n_members == 0:
        return SimulationBatch([], observables[:, :0])
    problem, y0, _ = _prepare(network, constants, conditions, times_s)
    if problem is None and not (np.all(np.isfinite(scales)) and np.all(scales >= 1.0)):
        problem = "orbit scales must be finite and >= 1"
    if problem is None and np.any(np.diff(scales) < 0):
        problem = "orbit scales must be sorted ascending"
    if problem:
        return SimulationBatch([_failed(network, t_exp, problem, c) for c in members],
                               observables)  # fmt: skip
    t_sim = t_exp + conditions.dead_time_s
    n_t = t_sim.size
    # member m owns rows m * n_t .. (m + 1) * n_t - 1 of the merged output
    t_all = (scales[:, None] * t_sim[None, :]).ravel()
    order = np.argsort(t_all, kind="stable")
    t_sorted = np.ascontiguousarray(t_all[order])
    net = _kernel_network(network)
    # the kernel writes the clipped observables and each row's lowest state value (NaN when
    # not finite); rows it never reached stay NaN
    out = np.full((t_sorted.size, n_obs), np.nan)
    row_min = np.full(t_sorted.size, np.nan)
    raw = np.zeros(_kernels.N_STATS)
    atol = float(options.atol)
    code = _kernels.integrate(
        y0, t_sorted, *_k(constants), net, float(options.rtol), atol, NEGATIVE_TOLERANCE,
        int(options.max_steps), out, raw, _tableau(options), row_min, True,
    )  # fmt: skip
    # Checks row by row on the sorted output, then the rows put back in member order.
    rows = np.empty_like(order)
    rows[order] = np.arange(order.size)
    row_finite = np.isfinite(row_min)
    row_lowest = np.where(row_finite, row_min, 0.0)
    failure = _kernels.STATUS_MESSAGES.get(code, f"status {code}")
    if code != _kernels.OK and n_members > 1:
        failure += (
            f" (one integration for this orbit of {n_members} grid points at "
            f"k = {constants.k_dim:g}, {constants.k_diss:g}, {constants.k_ex:g}; "
            "it stopped before this point)"
        )
    # all members at once: a member is whole when every one of its rows was written
    finite = row_finite[rows].reshape(n_members, n_t).all(axis=1)
    lowest = np.where(finite, row_lowest[rows].reshape(n_members, n_t).min(axis=1), 0.0)
    # the interpolant can undershoot between accepted (non-negative) steps
    negative = finite & (lowest < -max(atol, NEGATIVE_TOLERANCE))
    good = finite & ~negative
    observables = out[rows].reshape(n_members, n_t, n_obs)
    observables[~good] = np.nan
    not_reached = failure if code != _kernels.OK else _kernels.STATUS_MESSAGES[_kernels.NON_FINITE]
    results = []
    for m, member in enumerate(members):
        if good[m]:
            results.append(SimulationResult("ok", "", t_exp, None, network,
                                            observables_only=observables[m],
                                            constants=member))  # fmt: skip
        else:
            reason = _kernels.STATUS_MESSAGES[_kernels.NEGATIVE] if negative[m] else not_reached
            results.append(_failed(network, t_exp, reason, member))
    stats = {
        "steps": int(raw[_kernels.STAT_STEPS]),
        "rejected": int(raw[_kernels.STAT_REJECTED]),
        "rhs_calls": int(raw[_kernels.STAT_RHS]),
        "seconds": time.perf_counter() - started,
    }
    return SimulationBatch(results, observables, stats)


def _constant_sets(constants) -> list[RateConstants]:
    if len(constants) and all(isinstance(c, RateConstants) for c in constants):
        return list(constants)
    params = np.atleast_2d(np.asarray(constants, dtype=float))
    if params.ndim != 2 or params.shape[1] != 3:
        raise ValueError(f"parameter sets must have shape (n, 3), got {params.shape}")
    return [RateConstants(*(float(v) for v in row)) for row in params]


def simulate_many(
    network: ReactionNetwork,
    constants,
    conditions: SampleConditions,
    times_s,
    options: SolverOptions | None = None,
) -> SimulationBatch:
    """Run :func:`simulate` (observables only) for every parameter set.

    Parameters
    ----------
    constants : sequence of RateConstants or array_like of shape (n, 3)
        The parameter sets (rows k_dim, k_diss, k_ex).
    network, conditions, times_s, options
        As in :func:`simulate`.

    Returns
    -------
    SimulationBatch
        Member ``n`` is set ``n``'s result (``stats["seconds"]``: its wall time); a failed
        set leaves NaN observables and its reason in ``messages``.

    Notes
    -----
    Single-threaded on purpose: parallelism comes from running several chunks as separate
    jobs.
    """
    sets = _constant_sets(constants)
    t_exp = np.asarray(times_s, float)
    n_obs = _n_observables(network)
    observables = np.full((len(sets), t_exp.size, n_obs), np.nan)
    results = []
    for n, k in enumerate(sets):
        started = time.perf_counter()
        try:
            res = simulate(network, k, conditions, t_exp, options, return_states=False)
        except Exception as exc:  # noqa: BLE001 - one bad set must not sink the chunk
            res = _failed(network, t_exp, f"{type(exc).__name__}: {exc}", k)
        res.stats["seconds"] = time.perf_counter() - started
        if res.ok:
            observables[n] = res.observables
        results.append(res)
    return SimulationBatch(results, observables)


# --- tidy tables ------------------------------------------------------------------------------


def observables_table(result: SimulationResult, system):
    """Long table of the 77 observable ions: one row per (time, ion).

    Columns: ``time_min`` (experimental time), ``species`` (paper label), ``kind``,
    ``charge``, ``n_first`` (atoms of the first metal), ``concentration_nM`` and
    ``intensity_norm`` (concentration over the summed ion concentration at that time;
    docs/science.md §3: a dimer ion counts as one ion). ``system``: the
    :class:`~intercluster.system.ClusterSystem` whose observables these are (required).
    """
    import pandas as pd

    if system is None:
        raise TypeError("observables_table needs the cluster system (a ClusterSystem)")
    if system.nuclearity != result.network.nuclearity:
        raise ValueError("cluster system and network disagree on the nuclearity")
    labels = system.observables()
    obs = result.observables
    total = obs.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(total > 0, obs / total, np.nan)
    n_t, n_o = obs.shape
    return pd.DataFrame(
        {
            "time_min": np.repeat(result.times_s / 60.0, n_o),
            "species": np.tile(labels["species"].to_numpy(), n_t),
            "kind": np.tile(labels["kind"].to_numpy(), n_t),
            "charge": np.tile(labels["charge"].to_numpy(), n_t),
            "n_first": np.tile(labels["n_first"].to_numpy(), n_t),
            "concentration_nM": obs.ravel(),
            "intensity_norm": norm.ravel(),
        }
    )


def isomers_table(result: SimulationResult):
    """Long table of the dimer isomers: ``time_min, i, j, n_first_total, concentration_nM``."""
    import pandas as pd

    pairs = result.network.dimer_pairs
    iso = result.isomers
    n_t, n_d = iso.shape
    return pd.DataFrame(
        {
            "time_min": np.repeat(result.times_s / 60.0, n_d),
            "i": np.tile(pairs[:, 0], n_t),
            "j": np.tile(pairs[:, 1], n_t),
            "n_first_total": np.tile(pairs.sum(axis=1), n_t),
            "concentration_nM": iso.ravel(),
        }
    )


def output_times_s(kinetics: dict) -> np.ndarray:
    """Experimental output times (s) from the ``kinetics`` config: 0..t_end_min every
    output_step_min minutes, end included."""
    step = float(kinetics["output_step_min"])
    t_end = float(kinetics["t_end_min"])
    minutes = np.round(np.arange(0.0, t_end + 0.5 * step, step), 10)
    return minutes * 60.0
