"""Integrate the reaction network in time.

Time conventions (SPEC §2): ``times_s`` are *experimental* times, 0 = first recorded spectrum,
which is ``dead_time_s`` after mixing; the integration starts at mixing, so the simulated time
is ``t_exp + dead_time_s``.

An integration that fails never raises: it returns a result with ``status == "failed"``
and the reason in ``message``, so one bad grid point cannot bring down a grid chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import ReactionNetwork


@dataclass
class SimulationResult:
    status: str  # "ok" or "failed"
    message: str
    times_s: np.ndarray  # experimental times, s after the first spectrum
    states: np.ndarray | None  # (n_times, n_species) in nmol/L, None when failed
    network: ReactionNetwork

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def observables(self) -> np.ndarray:
        """(n_times, 77) ion concentrations: monomers, then dimer ions (sum of isomers)."""
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
