"""Integrate the reaction network in time.

Time conventions (docs/science.md §2): ``times_s`` are *experimental* times, 0 = first
recorded spectrum, which is ``dead_time_s`` after mixing; the integration starts at mixing,
so the simulated time is ``t_exp + dead_time_s``.

An integration that fails never raises: it returns a result with ``status == "failed"``
and the reason in ``message``, so one bad grid point cannot bring down a grid chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .network import ReactionNetwork

# Default tolerances of the fast simulator. Against a reference at rtol 1e-10 they keep the
# largest deviation of any species near 5e-4 relative (floor 1e-3 nmol/L), inside the
# 1e-3 budget, at about half the time of rtol 1e-6 / atol 1e-9 (benchmarks/bench_simulate.py).
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-8


@dataclass
class SimulationResult:
    status: str  # "ok" or "failed"
    message: str
    times_s: np.ndarray  # experimental times, s after the first spectrum
    states: np.ndarray | None  # (n_times, n_species) in nmol/L, None when failed
    network: ReactionNetwork
    # solver diagnostics (steps, rejected, rhs_calls, min_raw_nM, seconds); may be empty
    stats: dict = field(default_factory=dict)
    # observables kept when the states were dropped (``simulate(..., return_states=False)``)
    observables_only: np.ndarray | None = None

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


def _failed(network, times_s, message) -> SimulationResult:
    return SimulationResult("failed", message, np.asarray(times_s, float), None, network)


def _check_inputs(k_dim, k_diss, k_ex, c_a, c_b, times_s, dead_time_s) -> str | None:
    values = {"k_dim": k_dim, "k_diss": k_diss, "k_ex": k_ex, "c_a": c_a, "c_b": c_b}
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            return f"{name} must be finite and >= 0, got {value}"
    if not np.isfinite(dead_time_s) or dead_time_s < 0:
        return f"dead_time_s must be finite and >= 0, got {dead_time_s}"
    t = np.asarray(times_s, float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        return "times_s must be a non-empty 1-D array of finite times"
    if np.any(np.diff(t) < 0):
        return "times_s must be sorted ascending"
    if t[0] + dead_time_s < 0:
        return "times_s must not start before mixing (t_exp + dead_time_s >= 0)"
    return None


def simulate_reference(
    network: ReactionNetwork,
    k_dim: float,
    k_diss: float,
    k_ex: float,
    c_a: float,
    c_b: float,
    times_s,
    dead_time_s: float = 20.0,
    rtol: float = 1e-8,
    atol: float = 1e-12,
    method: str = "Radau",
) -> SimulationResult:
    """Slow, plain scipy ``solve_ivp`` integration with the sparse analytic Jacobian.

    This is the yardstick the fast simulator is tested against; use tight tolerances.
    """
    from scipy.integrate import solve_ivp

    problem = _check_inputs(k_dim, k_diss, k_ex, c_a, c_b, times_s, dead_time_s)
    if problem:
        return _failed(network, times_s, problem)
    t_exp = np.asarray(times_s, float)
    t_sim = t_exp + dead_time_s
    y0 = network.initial_state(c_a, c_b)
    try:
        sol = solve_ivp(
            lambda t, y: network.rhs(y, k_dim, k_diss, k_ex),
            (0.0, float(t_sim[-1])),
            y0,
            method=method,
            t_eval=t_sim,
            jac=lambda t, y: network.jacobian(y, k_dim, k_diss, k_ex),
            rtol=rtol,
            atol=atol,
        )
    except Exception as exc:  # noqa: BLE001 - a failed integration is data, not a crash
        return _failed(network, t_exp, f"{type(exc).__name__}: {exc}")
    if not sol.success:
        return _failed(network, t_exp, f"solve_ivp: {sol.message}")
    return SimulationResult("ok", "", t_exp, sol.y.T.copy(), network)


# --- fast simulator ---------------------------------------------------------------------------

#: Accepted steps may dip below zero by at most this much (nmol/L) before the step is
#: rejected; output values in [-NEGATIVE_TOLERANCE, 0) are clipped to 0 (see `simulate`).
NEGATIVE_TOLERANCE = 1e-12


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
    ex_out = np.zeros(n_d)
    ex_low = np.zeros(n_d)
    ex_up = np.zeros(n_d)
    np.add.at(ex_out, src, fac)
    up_moves = dst == src + 1  # p -> p+1 enters row p+1 from below
    np.add.at(ex_low, dst[up_moves], fac[up_moves])
    np.add.at(ex_up, dst[~up_moves], fac[~up_moves])
    blocks = np.ascontiguousarray(network.block_offsets, dtype=np.int64)
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


def simulate(
    network: ReactionNetwork,
    k_dim: float,
    k_diss: float,
    k_ex: float,
    c_a: float,
    c_b: float,
    times_s,
    dead_time_s: float = 20.0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    return_states: bool = True,
    max_steps: int = 100_000,
) -> SimulationResult:
    """Fast integration (numba RODAS4 with a structured linear solve; see ``_kernels``).

    Same conventions as :func:`simulate_reference`. States at ``times_s`` come from the
    method's order-3 continuous extension, so output times do not constrain the steps.
    A step that leaves a concentration below ``-NEGATIVE_TOLERANCE`` nmol/L is rejected
    and retried smaller; the remaining round-off negatives (>= -NEGATIVE_TOLERANCE) are
    clipped to 0 in the output, which changes the atom totals by < 1e-10 nmol/L.

    Never raises for bad numbers: returns ``status == "failed"`` with the reason. With
    ``return_states=False`` only the observables are kept (``result.states`` is None,
    ``result.observables`` works), which is what grid fits need.
    """
    from . import _kernels

    started = time.perf_counter()
    problem = _check_inputs(k_dim, k_diss, k_ex, c_a, c_b, times_s, dead_time_s)
    if problem:
        return _failed(network, times_s, problem)
    t_exp = np.asarray(times_s, float)
    t_sim = np.ascontiguousarray(t_exp + dead_time_s)
    y0 = network.initial_state(c_a, c_b)
    net = _kernel_network(network)
    out = np.empty((t_sim.size, network.n_species))
    raw = np.zeros(_kernels.N_STATS)
    code = _kernels.integrate(
        y0, t_sim, float(k_dim), float(k_diss), float(k_ex), net,
        float(rtol), float(atol), NEGATIVE_TOLERANCE, int(max_steps), out, raw,
    )  # fmt: skip
    stats = {
        "steps": int(raw[_kernels.STAT_STEPS]),
        "rejected": int(raw[_kernels.STAT_REJECTED]),
        "rhs_calls": int(raw[_kernels.STAT_RHS]),
        "min_raw_nM": float(min(raw[_kernels.STAT_MIN_RAW], out.min() if code == 0 else 0)),
    }
    if code != _kernels.OK:
        result = _failed(network, t_exp, _kernels.STATUS_MESSAGES[code])
        result.stats = stats
        return result
    if stats["min_raw_nM"] < -NEGATIVE_TOLERANCE:
        # the interpolant can undershoot between accepted (non-negative) steps
        if stats["min_raw_nM"] < -max(atol, NEGATIVE_TOLERANCE):
            result = _failed(network, t_exp, _kernels.STATUS_MESSAGES[_kernels.NEGATIVE])
            result.stats = stats
            return result
    np.maximum(out, 0.0, out=out)
    stats["seconds"] = time.perf_counter() - started
    if not return_states:
        return SimulationResult(
            "ok", "", t_exp, None, network, stats, observables_only=network.observables(out)
        )
    return SimulationResult("ok", "", t_exp, out, network, stats)


@dataclass
class OrbitResult:
    """Outcome of :func:`simulate_orbit`: one entry per member of the orbit."""

    scales: np.ndarray  # (n_members,) time-scale factor of each member
    status: np.ndarray  # (n_members,) "ok" / "failed"
    messages: list[str]
    observables: np.ndarray  # (n_members, n_times, 77), NaN where failed
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        return self.status == "ok"


def simulate_orbit(
    network: ReactionNetwork,
    k_dim: float,
    k_diss: float,
    k_ex: float,
    scales,
    c_a: float,
    c_b: float,
    times_s,
    dead_time_s: float = 20.0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_steps: int = 100_000,
) -> OrbitResult:
    """Observables of every member ``a * (k_dim, k_diss, k_ex)``, ``a`` in ``scales``, from ONE
    integration of the base constants.

    Time-scale invariance (docs/science.md §2): with the initial concentrations fixed, every
    term of the rate equations is linear in one rate constant, so the state at time t with
    constants a k equals the state at time a t with constants k. The base set is integrated
    once, with output at the union of ``a * (t_exp + dead_time_s)`` over the members, and
    each member takes its own rows. ``scales`` must be >= 1 (the base is the slowest
    member); ``scales = [1.0]`` is exactly :func:`simulate` (same output times, same steps).

    Never raises for bad numbers. When the integration fails, members whose last output
    time was reached keep their values; the others are ``"failed"`` with the reason.
    """
    from . import _kernels

    started = time.perf_counter()
    scales = np.asarray(scales, dtype=float).ravel()
    t_exp = np.asarray(times_s, float)
    n_obs = network.n_monomers + 2 * network.nuclearity + 1
    n_members = scales.size
    observables = np.full((n_members, max(t_exp.size, 1), n_obs), np.nan)
    status = np.full(n_members, "failed", dtype=object)
    if n_members == 0:
        return OrbitResult(scales, status.astype(str), [], observables[:, :0])
    problem = _check_inputs(k_dim, k_diss, k_ex, c_a, c_b, times_s, dead_time_s)
    if problem is None and not (np.all(np.isfinite(scales)) and np.all(scales >= 1.0)):
        problem = "orbit scales must be finite and >= 1"
    if problem is None and np.any(np.diff(scales) < 0):
        problem = "orbit scales must be sorted ascending"
    if problem:
        return OrbitResult(scales, status.astype(str), [problem] * n_members, observables)
    t_sim = t_exp + dead_time_s
    n_t = t_sim.size
    # member m owns rows m * n_t .. (m + 1) * n_t - 1 of the merged output
    t_all = (scales[:, None] * t_sim[None, :]).ravel()
    order = np.argsort(t_all, kind="stable")
    t_sorted = np.ascontiguousarray(t_all[order])
    y0 = network.initial_state(c_a, c_b)
    net = _kernel_network(network)
    out = np.full((t_sorted.size, network.n_species), np.nan)
    raw = np.zeros(_kernels.N_STATS)
    code = _kernels.integrate(
        y0, t_sorted, float(k_dim), float(k_diss), float(k_ex), net,
        float(rtol), float(atol), NEGATIVE_TOLERANCE, int(max_steps), out, raw,
    )  # fmt: skip
    states = np.empty_like(out)
    states[order] = out
    states = states.reshape(n_members, n_t, network.n_species)
    failure = _kernels.STATUS_MESSAGES.get(code, f"status {code}")
    if code != _kernels.OK and n_members > 1:
        failure += (
            f" (one integration for this orbit of {n_members} grid points at "
            f"k = {k_dim:g}, {k_diss:g}, {k_ex:g}; it stopped before this point)"
        )
    # all members at once: a member is whole when every one of its rows was written
    finite = np.isfinite(states).all(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        lowest = np.where(finite, states.min(axis=(1, 2)), 0.0)
    # the interpolant can undershoot between accepted (non-negative) steps
    negative = finite & (lowest < -max(atol, NEGATIVE_TOLERANCE))
    good = finite & ~negative
    np.maximum(states, 0.0, out=states)
    observables = network.observables(states)
    observables[~good] = np.nan
    status[good] = "ok"
    not_reached = failure if code != _kernels.OK else _kernels.STATUS_MESSAGES[_kernels.NON_FINITE]
    messages = [
        "" if good[m] else (_kernels.STATUS_MESSAGES[_kernels.NEGATIVE] if negative[m]
                            else not_reached)
        for m in range(n_members)
    ]  # fmt: skip
    stats = {
        "steps": int(raw[_kernels.STAT_STEPS]),
        "rejected": int(raw[_kernels.STAT_REJECTED]),
        "rhs_calls": int(raw[_kernels.STAT_RHS]),
        "seconds": time.perf_counter() - started,
    }
    return OrbitResult(scales, status.astype(str), messages, observables, stats)


@dataclass
class ManyResult:
    """Outcome of :func:`simulate_many`: one row per parameter set."""

    param_sets: np.ndarray  # (n_sets, 3): k_dim, k_diss, k_ex
    status: np.ndarray  # (n_sets,) "ok" / "failed"
    messages: list[str]
    observables: np.ndarray  # (n_sets, n_times, 77), NaN where failed
    seconds: np.ndarray  # (n_sets,) wall time of each simulation
    times_s: np.ndarray


def simulate_many(
    network: ReactionNetwork,
    param_sets,
    c_a: float,
    c_b: float,
    times_s,
    dead_time_s: float = 20.0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> ManyResult:
    """Run :func:`simulate` for every row (k_dim, k_diss, k_ex) of ``param_sets``.

    Single-threaded on purpose: parallelism comes from running several chunks as separate
    jobs. A failed set leaves NaN observables and its reason in ``messages``.
    """
    params = np.atleast_2d(np.asarray(param_sets, dtype=float))
    if params.ndim != 2 or params.shape[1] != 3:
        raise ValueError(f"param_sets must have shape (n, 3), got {params.shape}")
    t_exp = np.asarray(times_s, float)
    n_obs = network.n_monomers + 2 * network.nuclearity + 1
    observables = np.full((len(params), t_exp.size, n_obs), np.nan)
    status = np.empty(len(params), dtype=object)
    messages: list[str] = []
    seconds = np.zeros(len(params))
    for n, (k_dim, k_diss, k_ex) in enumerate(params):
        started = time.perf_counter()
        try:
            res = simulate(
                network, k_dim, k_diss, k_ex, c_a, c_b, t_exp, dead_time_s,
                rtol=rtol, atol=atol, return_states=False,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - one bad set must not sink the chunk
            res = _failed(network, t_exp, f"{type(exc).__name__}: {exc}")
        seconds[n] = time.perf_counter() - started
        status[n] = res.status
        messages.append(res.message)
        if res.ok:
            observables[n] = res.observables
    return ManyResult(params, status.astype(str), messages, observables, seconds, t_exp)


# --- tidy tables ------------------------------------------------------------------------------


def observables_table(result: SimulationResult, system=None):
    """Long table of the 77 observable ions: one row per (time, ion).

    Columns: ``time_min`` (experimental time), ``species`` (paper label), ``kind``,
    ``charge``, ``n_first`` (atoms of the first metal), ``concentration_nM`` and
    ``intensity_norm`` (concentration over the summed ion concentration at that time;
    docs/science.md §3: a dimer ion counts as one ion).
    """
    import pandas as pd

    from .system import DEFAULT_SYSTEM

    system = DEFAULT_SYSTEM if system is None else system
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
