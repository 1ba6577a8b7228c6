"""Plausibility of fitted rate constants (docs/science.md §4, eqs 4-7 of the paper).

* Diffusion limit (eq 4): k_D = (8/3) k_B T N_A / eta, converted from m^3 mol^-1 s^-1 to
  L nmol^-1 s^-1 (x 1e3 L/m^3 x 1e-9 mol/nmol). DMF, 298 K: 8.3.
* Debye factor (eq 5): f = x / (exp(x) - 1), x = q_A q_B e^2 / (4 pi eps0 eps_r R k_B T)
  (charges in units of e). Both ions -1, eps_r = 38.4, R = 12.7 A: f = 0.53, k_D f = 4.4.
  Like charges repel (x > 0, f < 1); x = 0 gives f = 1.
* Dimer lifetime (eq 6): tau = 1 / k_diss; exchanges per lifetime Poisson with mean
  k_ex tau (eq 7), P(k) for k = 0..poisson_k_max; also at the paper's upper estimate
  tau_max = ``dimer_lifetime_max_s`` (100 s).

Checks (each pass/fail with its numbers):

* ``below_diffusion_limit``: k_dim <= k_D f.
* ``dimerization_not_rate_limiting``: k_dim c >= k_ex with c the lower of the two initial
  cluster concentrations of the sample (for a joint fit: the lowest over the samples); the
  paper's "k_dim c([M25]-) at least of the order of k_ex" read as a plain inequality
  **(choice)**.
* ``k_diss_min``: k_diss >= ``k_diss_min`` (1e-2 s^-1).
* ``k_dim_to_k_diss_range``: k_dim/k_diss (L nmol^-1) within ``k_dim_to_k_diss_range``
  ([0.1, 0.3]); bounds compared with a relative tolerance of 1e-6 so that grid values such
  as 10^-2/10^-1 = 0.0999... count as 0.1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import constants

from .records import PlausibilityResult
from .settings import PlausibilitySettings

RTOL = 1e-6



def diffusion_limit(temperature_K: float, viscosity_Pa_s: float) -> float:
    """k_D of eq 4 in L nmol^-1 s^-1."""
    k_d_si = 8.0 / 3.0 * constants.k * temperature_K * constants.N_A / viscosity_Pa_s
    return k_d_si * 1e3 * 1e-9


def debye_x(distance_A, temperature_K: float, relative_permittivity: float, charges=(-1, -1)):
    """x = q_A q_B e^2 / (4 pi eps0 eps_r R k_B T) for R in Angstrom (array-friendly)."""
    q_a, q_b = charges
    r = np.asarray(distance_A, dtype=float) * 1e-10
    energy = q_a * q_b * constants.e**2 / (4 * np.pi * constants.epsilon_0 * relative_permittivity)
    return energy / (r * constants.k * temperature_K)


def debye_factor(
    distance_A, temperature_K: float | None = None, relative_permittivity: float | None = None,
    charges: tuple[int, int] | None = None,
):  # fmt: skip
    """f = x / (exp(x) - 1) (eq 5) for reaction distances R in Angstrom (scalar or array).

    For Figure S11 pass an array of R. f -> 1 as x -> 0 (evaluated with expm1). A solvent
    keyword left at ``None`` is the schema's (``plausibility``: DMF at 298 K, both ions -1).
    """
    schema = PlausibilitySettings.schema_default()
    temperature_K = schema.temperature_K if temperature_K is None else temperature_K
    if relative_permittivity is None:
        relative_permittivity = schema.relative_permittivity
    charges = schema.charges if charges is None else charges
    x = np.asarray(debye_x(distance_A, temperature_K, relative_permittivity, charges))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        f = np.where(np.abs(x) < 1e-12, 1.0, x / np.expm1(np.where(x == 0, 1.0, x)))
    return float(f) if f.ndim == 0 else f


def poisson_probabilities(mean: float, k_max: int) -> list[float]:
    """P(k) = mean^k exp(-mean) / k! for k = 0..k_max (eq 7)."""
    return [float(mean**k * math.exp(-mean) / math.factorial(k)) for k in range(k_max + 1)]


def _check(passed: bool, **numbers) -> dict:
    return {"pass": bool(passed), **numbers}


def assess(
    k_dim: float,
    k_diss: float,
    k_ex: float,
    settings: PlausibilitySettings,
    concentration_nM: float | None = None,
) -> dict:
    """All numbers and checks of docs/science.md §4 for one set of rate constants.

    ``settings`` is the ``plausibility`` config section (typed); ``concentration_nM`` the cluster
    concentration c of the k_dim c >= k_ex check (that check is skipped when None).
    """
    temperature = settings.temperature_K
    viscosity = settings.viscosity_Pa_s
    eps_r = settings.relative_permittivity
    distance = settings.reaction_distance_A
    charges = settings.charges
    tau_max = settings.dimer_lifetime_max_s
    k_max = settings.poisson_k_max
    ratio_lo, ratio_hi = settings.k_dim_to_k_diss_range
    k_diss_min = settings.k_diss_min

    k_d = diffusion_limit(temperature, viscosity)
    x = float(debye_x(distance, temperature, eps_r, charges))
    f = debye_factor(distance, temperature, eps_r, charges)
    k_d_f = k_d * f
    tau = 1.0 / k_diss if k_diss > 0 else math.inf
    mean = k_ex * tau
    mean_max = k_ex * tau_max
    ratio = k_dim / k_diss if k_diss > 0 else math.inf

    checks = {
        "below_diffusion_limit": _check(
            k_dim <= k_d_f, k_dim=k_dim, k_D_f=k_d_f, ratio_k_D_f_to_k_dim=k_d_f / k_dim
        ),
        "k_diss_min": _check(
            k_diss >= k_diss_min * (1 - RTOL), k_diss=k_diss, k_diss_min=k_diss_min
        ),
        "k_dim_to_k_diss_range": _check(
            ratio_lo * (1 - RTOL) <= ratio <= ratio_hi * (1 + RTOL),
            k_dim_to_k_diss=ratio,
            range=[ratio_lo, ratio_hi],
        ),
    }
    if concentration_nM is not None:
        rate = k_dim * concentration_nM
        checks["dimerization_not_rate_limiting"] = _check(
            rate >= k_ex * (1 - RTOL),
            k_dim_times_c=rate,
            c_nM=concentration_nM,
            k_ex=k_ex,
            ratio=rate / k_ex,
        )
    return {
        "rate_constants": {"k_dim": k_dim, "k_diss": k_diss, "k_ex": k_ex},
        "units": {
            "k_dim": "L nmol^-1 s^-1",
            "k_diss": "s^-1",
            "k_ex": "s^-1",
            "k_D": "L nmol^-1 s^-1",
            "tau": "s",
        },
        "constants": {
            "temperature_K": temperature,
            "viscosity_Pa_s": viscosity,
            "relative_permittivity": eps_r,
            "reaction_distance_A": distance,
            "charges": list(charges),
        },
        "diffusion_limit": {
            "k_D": k_d,
            "debye_x": x,
            "debye_factor": f,
            "k_D_f": k_d_f,
            "ratio_k_D_f_to_k_dim": k_d_f / k_dim if k_dim > 0 else None,
        },
        "dimer_lifetime": {
            "tau_s": tau,
            "poisson_mean": mean,
            "poisson_p": poisson_probabilities(mean, k_max),
            "tau_max_s": tau_max,
            "poisson_mean_at_tau_max": mean_max,
            "poisson_p_at_tau_max": poisson_probabilities(mean_max, k_max),
        },
        "checks": checks,
        "n_checks": len(checks),
        "n_passed": sum(c["pass"] for c in checks.values()),
    }


def summary_markdown(entries: list[PlausibilityResult]) -> str:
    """A markdown table over samples and models (``entries``: the plausibility records)."""
    lines = [
        "# Plausibility of the best grid fits (docs/science.md §4)",
        "",
        "k_dim in L nmol^-1 s^-1, k_diss and k_ex in s^-1, tau = 1/k_diss in s, "
        "mu = k_ex tau (mean exchanges per dimer lifetime). Checks: D = k_dim <= k_D f, "
        "C = k_dim c >= k_ex, K = k_diss >= k_diss_min, R = k_dim:k_diss in range.",
        "",
        "| sample | model | k_dim | k_diss | k_ex | chi2 (min^2) | k_dim:k_diss | k_D f / k_dim "
        "| tau (s) | mu | D | C | K | R |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = (
        "below_diffusion_limit",
        "dimerization_not_rate_limiting",
        "k_diss_min",
        "k_dim_to_k_diss_range",
    )
    for e in sorted(entries, key=lambda e: (str(e.fit_sample), int(e.model))):
        if not e.assessed:
            lines.append(f"| {e.fit_sample} | {e.model} | no successful grid point |"
                         + " |" * 11)  # fmt: skip
            continue
        rc = e.rate_constants
        checks = e.checks
        marks = [("pass" if checks[k]["pass"] else "FAIL") if k in checks else "-" for k in keys]
        chi2 = e.chi2
        lines.append(
            f"| {e.fit_sample} | {e.model} | {rc['k_dim']:.2g} | {rc['k_diss']:.2g} "
            f"| {rc['k_ex']:.2g} | {'-' if chi2 is None else f'{chi2:.4g}'} "
            f"| {rc['k_dim'] / rc['k_diss']:.2f} "
            f"| {e.diffusion_limit['ratio_k_D_f_to_k_dim']:.3g} "
            f"| {e.dimer_lifetime['tau_s']:.3g} | {e.dimer_lifetime['poisson_mean']:.2f} | "
            + " | ".join(marks)
            + " |"
        )
    for e in entries:
        if e.exchange_bias:  # model 4: ΔG_mix beside its kinetic checks
            lines += ["", f"{e.fit_sample}, model {e.model}: {e.exchange_bias['statement']}"]
    lines.append("")
    return "\n".join(lines)
