"""PEtab (v1) export of a fit: the trajectory objective as a standard parameter-estimation problem.

What the workflow's trajectory objective is (:func:`intercluster.trajectory_fit.trajectory_fit`,
rule ``fit_trajectory``), and how each part is written here:

* **model**: the mass-action network as SBML (:mod:`intercluster.sbml`, species named and
  annotated), plus the dimer response ``r_dim`` (a dimer ion's signal per molecule relative
  to a monomer's) and three sums as parameters with assignment rules: ``M_total`` (all
  monomers), ``D_total`` (all dimers) and ``Dion_<s>`` (the isomers of the dimer ion with
  ``s`` atoms of the first metal: one ion in the spectrum);
* **observables**: the 77 (for the demo) normalised ion intensities, ``M_i / (M_total +
  r_dim D_total)`` for a monomer ion and ``r_dim Dion_s / (M_total + r_dim D_total)`` for a
  dimer ion: the normalisation of the workflow (every observable in the total, the t_max
  rule's exclusions only out of the sum of squares);
* **conditions**: one per sample, its reactants' initial concentrations (species columns)
  and ``dead_time_s``. PEtab v1 has no per-condition time offset, so the measurement times
  are seconds after mixing (the spectrum's time + the dead time), as the workflow
  simulates; the ``dead_time_s`` column (an SBML parameter no rate uses) records what was
  added;
* **measurements**: ``intensities.tsv`` (``intensity_norm``, renormalised over the
  observables per spectrum as :func:`intercluster.observables.normalise_rows` does) for the
  observables the t_max rule includes, every spectrum; missing values left out;
* **parameters**: ``k_dim``, ``k_diss``, ``k_ex`` on log10 scale within the grid's bounds,
  ``r_dim`` on log10 scale within the response search range, nominal values at the
  trajectory objective's best grid point; ``sigma_scale`` (below);
* **noise**: normal, one σ per measurement from the deconvolution: the standard error of the
  ion's intensity (``intensities.tsv`` ``intensity_sd``,
  :func:`intercluster.deconvolution.coefficient_sd`: the weighted least-squares covariance
  under the spectrum's own noise model) over the spectrum's total of the observables, as the
  intensity itself is normalised (the total's own error, a sum of 77 terms, is left out).
  It is the measurement table's ``noiseParameters``; the observables' ``noiseFormula`` is
  ``noiseParameter1_<observable> * sigma_scale``, with ``sigma_scale`` (log10, nominal 1:
  the deconvolution's σ as it is) estimated: the kinetic residuals also hold what a
  spectrum's noise does not (spray and transmission drift between spectra), and the scale
  says how much more they scatter. A σ the deconvolution could not give (not finite or 0)
  is the sample's median σ. PEtab's χ² at the nominal values is therefore the workflow's
  residuals weighted by 1/σ², and its unnormalised residuals are the workflow's: their sum
  of squares is ``trajectory.parquet``'s SSE (the workflow's objective is unweighted).

What has no PEtab form: the paper's t_max objective (eq 1: peak times of smoothed curves,
not a function of the model's trajectories at given times) and its weighted variant; this
export is the trajectory objective only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import libsbml
import numpy as np
import pandas as pd

from .fit import ranked
from .network import RATE_CONSTANTS, ReactionNetwork
from .observables import experiment_matrix, normalise_rows
from .records import RateConstants, SampleConditions
from .sbml import _check, _notes, sbml_document

FORMAT_VERSION = 1
FILES = {
    "sbml": "model.xml",
    "conditions": "conditions.tsv",
    "measurements": "measurements.tsv",
    "observables": "observables.tsv",
    "parameters": "parameters.tsv",
    "problem": "problem.yaml",
}
RESPONSE = "r_dim"
SIGMA_SCALE = "sigma_scale"
SIGMA_SCALE_BOUNDS = (1e-2, 1e4)  # the deconvolution's σ may be far below the kinetic misfit
DEAD_TIME = "dead_time_s"


@dataclass(frozen=True)
class PetabSample:
    """One sample's data as the trajectory objective uses them."""

    name: str
    conditions: SampleConditions
    times_min: np.ndarray  # spectrum times (min after the first spectrum)
    measured: np.ndarray  # (n_t, n_obs) normalised intensities, NaN where missing
    included: np.ndarray  # (n_obs,) the t_max rule's inclusion
    sigma: np.ndarray  # (n_t, n_obs) the deconvolution's sd of ``measured`` (module docstring)


@dataclass(frozen=True)
class TrajectoryBest:
    """The trajectory objective's best grid point (a row of ``trajectory.parquet``)."""

    constants: RateConstants
    response: float
    sse: float
    n_residuals: int

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> TrajectoryBest:
        best = ranked(table)
        if best.empty:
            raise ValueError("trajectory table has no successful grid point: nothing to export")
        row = best.iloc[0]
        return cls(RateConstants(*(float(row[k]) for k in RATE_CONSTANTS)),
                   float(row["response"]), float(row["chi2"]), int(row["n_species"]))  # fmt: skip


@dataclass(frozen=True)
class PetabProblem:
    sbml: str
    conditions: pd.DataFrame
    measurements: pd.DataFrame
    observables: pd.DataFrame
    parameters: pd.DataFrame


def condition_id(sample: str) -> str:
    """A PEtab/SBML identifier for a sample name (letters, digits, underscores)."""
    return "c_" + re.sub(r"\W", "_", sample)


def observable_ids(network: ReactionNetwork) -> list[str]:
    """``obs_M_<i>`` (monomer ions), then ``obs_D_<s>`` (dimer ions): the observables' order."""
    return [f"obs_M_{i}" for i in range(network.n_monomers)] + [
        f"obs_D_{s}" for s in range(2 * network.nuclearity + 1)
    ]


def _add_parameter(model, pid: str, value: float, constant: bool, name: str, notes: str):
    par = model.createParameter()
    _check(par.setId(pid), f"set parameter id {pid}")
    par.setName(name)
    par.setValue(float(value))
    par.setConstant(constant)
    par.setUnits("dimensionless" if pid in (RESPONSE,) else "second" if pid == DEAD_TIME
                 else "nM")  # fmt: skip
    _notes(par, notes)
    return par


def _assignment(model, pid: str, terms: list[str]) -> None:
    rule = model.createAssignmentRule()
    _check(rule.setVariable(pid), f"set assignment rule of {pid}")
    math = libsbml.parseL3Formula(" + ".join(terms) if terms else "0")
    if math is None:
        raise RuntimeError(f"cannot parse the assignment rule of {pid}")
    _check(rule.setMath(math), f"set assignment rule math of {pid}")


def petab_sbml(network: ReactionNetwork, best: TrajectoryBest, conditions: SampleConditions,
               system) -> str:  # fmt: skip
    """The SBML model with ``r_dim``, ``dead_time_s`` and the ion sums."""
    doc = sbml_document(network, best.constants, conditions, system)
    model = doc.getModel()
    ids = network.species_ids
    m = network.n_monomers
    _add_parameter(model, RESPONSE, best.response, True, "dimer response",
                   "a dimer ion's signal per molecule relative to a monomer ion's")
    _add_parameter(model, DEAD_TIME, conditions.dead_time_s, True, "dead time",
                   "seconds from mixing to the first spectrum (set per condition; the "
                   "measurement times already include it: no rate uses it)")  # fmt: skip
    _add_parameter(model, "M_total", 0.0, False, "all monomers",
                   "sum of the monomer concentrations (nmol/L)")
    _assignment(model, "M_total", ids[:m])
    _add_parameter(model, "D_total", 0.0, False, "all dimers",
                   "sum of the dimer concentrations (nmol/L)")
    _assignment(model, "D_total", ids[m:])
    offsets = network.block_offsets
    for s in range(2 * network.nuclearity + 1):
        pid = f"Dion_{s}"
        label = system.ion_label(s, 2)
        _add_parameter(model, pid, 0.0, False, label,
                       f"the dimer ion {label}: the sum of its isomers (nmol/L)")  # fmt: skip
        _assignment(model, pid, ids[m + int(offsets[s]): m + int(offsets[s + 1])])
    return libsbml.writeSBMLToString(doc)


def petab_problem(
    network: ReactionNetwork,
    system,
    samples: list[PetabSample],
    best: TrajectoryBest,
    grid: Mapping,
    response_bounds: tuple[float, float] = (0.1, 10.0),
) -> PetabProblem:
    """The PEtab tables of the trajectory objective of ``samples`` (module docstring).

    ``system``: the :class:`~intercluster.system.ClusterSystem` (names); ``grid``: the
    config's ``fit.grid`` (bounds of the constants).
    """
    if not samples:
        raise ValueError("no samples to export")
    obs_ids = observable_ids(network)
    labels = system.observables()
    if len(labels) != len(obs_ids):
        raise ValueError(f"{len(labels)} observables in the system, {len(obs_ids)} in the model")
    m = network.n_monomers
    total = f"(M_total + {RESPONSE} * D_total)"
    formulas = [f"M_{i} / {total}" for i in range(m)] + [
        f"{RESPONSE} * Dion_{s} / {total}" for s in range(2 * network.nuclearity + 1)
    ]
    observables = pd.DataFrame({
        "observableId": obs_ids,
        "observableName": labels["species"].to_numpy(),
        "observableFormula": formulas,
        "observableTransformation": "lin",
        "noiseFormula": [f"noiseParameter1_{o} * {SIGMA_SCALE}" for o in obs_ids],
        "noiseDistribution": "normal",
    })  # fmt: skip

    species_columns: list[str] = []
    initial = {}
    for sample in samples:
        y0 = network.initial_state(sample.conditions)
        initial[sample.name] = y0
        species_columns += [network.species_ids[k] for k in np.flatnonzero(y0)]
    species_columns = list(dict.fromkeys(species_columns))
    index = {sid: k for k, sid in enumerate(network.species_ids)}
    rows = []
    for sample in samples:
        row = {"conditionId": condition_id(sample.name), "conditionName": sample.name,
               DEAD_TIME: float(sample.conditions.dead_time_s)}  # fmt: skip
        for sid in species_columns:
            row[sid] = float(initial[sample.name][index[sid]])
        rows.append(row)
    conditions = pd.DataFrame(rows)

    measurements = []
    for sample in samples:
        y = np.asarray(sample.measured, float)
        t_s = np.asarray(sample.times_min, float) * 60.0 + float(sample.conditions.dead_time_s)
        for k in np.flatnonzero(np.asarray(sample.included, bool)):
            finite = np.isfinite(y[:, k])
            measurements.append(pd.DataFrame({
                "observableId": obs_ids[k],
                "simulationConditionId": condition_id(sample.name),
                "measurement": y[finite, k],
                "time": t_s[finite],
                "noiseParameters": np.asarray(sample.sigma, float)[finite, k],
            }))  # fmt: skip
    measurements = pd.concat(measurements, ignore_index=True).sort_values(
        ["simulationConditionId", "time", "observableId"], kind="stable", ignore_index=True
    )

    rows = []
    for name in RATE_CONSTANTS:
        axis = grid[name]
        value = float(getattr(best.constants, name))
        rows.append({"parameterId": name, "parameterName": name, "parameterScale": "log10",
                     "lowerBound": float(axis["min"]), "upperBound": float(axis["max"]),
                     "nominalValue": value, "estimate": 1})  # fmt: skip
    rows.append({"parameterId": RESPONSE, "parameterName": "dimer response",
                 "parameterScale": "log10", "lowerBound": float(response_bounds[0]),
                 "upperBound": float(response_bounds[1]), "nominalValue": best.response,
                 "estimate": 1})  # fmt: skip
    rows.append({"parameterId": SIGMA_SCALE,
                 "parameterName": "noise sd over the deconvolution's sd",
                 "parameterScale": "log10", "lowerBound": SIGMA_SCALE_BOUNDS[0],
                 "upperBound": SIGMA_SCALE_BOUNDS[1], "nominalValue": 1.0,
                 "estimate": 1})  # fmt: skip
    parameters = pd.DataFrame(rows)
    sbml = petab_sbml(network, best, samples[0].conditions, system)
    return PetabProblem(sbml, conditions, measurements, observables, parameters)


def write_petab(problem: PetabProblem, folder) -> Path:
    """Write the model, the four tables and ``problem.yaml`` into ``folder``; returns the
    YAML's path."""
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILES["sbml"]).write_text(problem.sbml)
    for key in ("conditions", "measurements", "observables", "parameters"):
        table = getattr(problem, key)
        table.to_csv(folder / FILES[key], sep="\t", index=False, float_format="%.17g")
    spec = {
        "format_version": FORMAT_VERSION,
        "parameter_file": FILES["parameters"],
        "problems": [{
            "sbml_files": [FILES["sbml"]],
            "condition_files": [FILES["conditions"]],
            "measurement_files": [FILES["measurements"]],
            "observable_files": [FILES["observables"]],
        }],
    }  # fmt: skip
    path = folder / FILES["problem"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sse_from_residuals(residuals: pd.DataFrame) -> float:
    """The trajectory objective (SSE) from PEtab's unnormalised residuals
    (``petab.v1.calculate.calculate_residuals(..., normalize=False)``)."""
    return float(np.sum(np.square(residuals["residual"].to_numpy(float))))


def measurement_sigma(intensities: pd.DataFrame, species: list[str]) -> np.ndarray:
    """(n_t, n_obs) sd of the normalised intensities from ``intensities.tsv``'s
    ``intensity_sd``: each over its spectrum's total of ``species`` (module docstring);
    a σ that is not finite or not positive is the table's median σ."""

    if "intensity_sd" not in intensities.columns:
        raise ValueError("the intensities table has no intensity_sd column (the "
                         "deconvolution's standard errors): deconvolve the sample again")
    keys = ["time_min", "species"]
    _, raw = experiment_matrix(intensities[[*keys, "intensity"]], species)
    _, sd = experiment_matrix(
        intensities[[*keys, "intensity_sd"]].rename(columns={"intensity_sd": "intensity"}),
        species,
    )
    total = np.nansum(raw, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(total > 0, sd / np.where(total > 0, total, 1.0), np.nan)
    good = np.isfinite(sigma) & (sigma > 0)
    if not good.any():
        raise ValueError("no intensity has a usable standard error (intensity_sd)")
    return np.where(good, sigma, float(np.median(sigma[good])))


def samples_from_tables(experiments: Mapping, system) -> list[PetabSample]:
    """``experiments``: sample -> (SampleConditions, intensities.tsv table, t_max table), as
    the rule fit_trajectory reads them; the data as :func:`intercluster.trajectory_fit.
    trajectory_grid_fit` uses them."""

    species = system.observables()["species"].tolist()
    out = []
    for name in sorted(experiments):
        conditions, intensities, tmax = experiments[name]
        times, y = experiment_matrix(intensities, species)
        included = tmax.set_index("species").loc[species, "included"].to_numpy(bool)
        try:
            sigma = measurement_sigma(intensities, species)
        except ValueError as error:
            raise ValueError(f"sample {name}: {error}") from None
        out.append(PetabSample(name, conditions, np.asarray(times, float), normalise_rows(y),
                               included, sigma))  # fmt: skip
    return out
