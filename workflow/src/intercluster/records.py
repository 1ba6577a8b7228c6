"""Typed contracts between the stages: rate constants, sample conditions, best fits and
plausibility results, each one frozen dataclass with its JSON form.

``best.json`` (rule fit_best) and ``results/plausibility/{fit}/model{m}.json`` (rule
plausibility) are written and read only through :class:`BestFit` and
:class:`PlausibilityResult`: a reader never guesses a shape. ``from_dict`` checks the keys
(a missing or unknown key is an error naming the file's kind) and ``to_dict`` gives the JSON
form back unchanged (``from_dict(d).to_dict() == d``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from .io import read_json, write_json
from .network import RATE_CONSTANTS  # the kinetic model owns its constants

__all__ = [
    "BestFit",
    "PlausibilityResult",
    "RateConstants",
    "SampleConditions",
    "read_best_fit",
    "read_plausibility",
    "read_synthetic",
    "write_record",
]

#: What best.json's ``identifiability`` and ``intervals_weighted`` are keyed by: the constants
#: and the combinations the data fix (intercluster.fit.profiles profiles them).
PROFILE_NAMES = (*RATE_CONSTANTS, "k_dim:k_diss", "k_dim*c/k_ex")
# keys of a sample-conditions mapping that are not reactant concentrations
CONDITION_EXTRAS = ("dead_time_s", "second_dimer_fraction", "dimer_response")


@dataclass(frozen=True)
class RateConstants:
    """k_dim (L nmol⁻¹ s⁻¹), k_diss (s⁻¹), k_ex (L nmol⁻¹ s⁻¹)."""

    k_dim: float
    k_diss: float
    k_ex: float

    @classmethod
    def from_dict(cls, d: dict) -> RateConstants:
        """From any mapping that holds the three constants (extra keys are ignored)."""
        missing = [k for k in RATE_CONSTANTS if d.get(k) is None]
        if missing:
            raise KeyError(f"rate constants lack {', '.join(missing)}")
        return cls(float(d["k_dim"]), float(d["k_diss"]), float(d["k_ex"]))

    def to_dict(self) -> dict:
        return {"k_dim": self.k_dim, "k_diss": self.k_diss, "k_ex": self.k_ex}


@dataclass(frozen=True)
class SampleConditions:
    """Initial concentrations (nmol/L) of the system's reactants and dead time (s) of one sample.

    ``concentrations_nM`` pairs each reactant's sample-sheet column (the system file's
    ``sheet_column``) with its concentration, in the order of
    :meth:`~intercluster.system.SystemDefinition.concentration_columns` (the reactant richest
    in the first metal first): the order in which the kinetics takes its initial
    concentrations (:attr:`initial_nM`). The dict form is flat,
    ``{column: nmol/L, ..., "dead_time_s": s}``, its concentrations in that order.
    """

    concentrations_nM: tuple[tuple[str, float], ...]
    dead_time_s: float
    #: part of the second reactant present as its homodimer at mixing (sheet column
    #: ``second_dimer_fraction``; the initial state of every simulation of the sample)
    second_dimer_fraction: float = 0.0
    #: a dimer ion's signal per molecule relative to a monomer's in this sample's spectra
    #: (sheet column ``dimer_response``); None: the global ``fit.tmax.dimer_response``
    #: (:func:`intercluster.observables.dimer_response_of`)
    dimer_response: float | None = None

    @classmethod
    def from_dict(cls, d: dict) -> SampleConditions:
        """Every key but those of ``CONDITION_EXTRAS`` is a reactant's concentration, in the
        mapping's order."""
        concentrations = tuple(
            (str(k), float(v)) for k, v in d.items() if k not in CONDITION_EXTRAS
        )
        second = float(d["second_dimer_fraction"]) if "second_dimer_fraction" in d else 0.0
        response = d["dimer_response"] if "dimer_response" in d else None
        response = None if response is None else float(response)
        return cls(concentrations, float(d["dead_time_s"]), second, response)

    @property
    def initial_nM(self) -> tuple[float, ...]:
        """The reactants' initial concentrations (nmol/L), in the system's order."""
        return tuple(value for _, value in self.concentrations_nM)

    def to_dict(self) -> dict:
        second = self.second_dimer_fraction
        extra = {"second_dimer_fraction": second} if second else {}
        if self.dimer_response is not None:
            extra["dimer_response"] = self.dimer_response
        return {**dict(self.concentrations_nM), "dead_time_s": self.dead_time_s, **extra}


def read_synthetic(run_files) -> bool:
    """Whether the data behind an output are synthetic: the one place every figure and the
    report decide it.

    ``run_files`` is one or several ``results/.../deconvolution/{sample}/run.json`` (key
    ``synthetic``), written once by the deconvolution from the mzML itself (the workflow's
    virtual experiment writes SYNTHETIC into the file's header). True when any of them is.
    """
    paths = [run_files] if isinstance(run_files, str | os.PathLike) else list(run_files)
    if not paths:
        raise ValueError("read_synthetic: no run.json given")
    flags = []
    for path in paths:
        record = read_json(path)
        if not isinstance(record.get("synthetic"), bool):
            raise ValueError(f"{path}: run.json needs a true/false 'synthetic'")
        flags.append(record["synthetic"])
    return any(flags)


def _check_keys(kind: str, d: dict, required: set, optional: set) -> None:
    missing = sorted(required - set(d))
    unknown = sorted(set(d) - required - optional)
    if missing or unknown:
        raise ValueError(f"{kind}: missing keys {missing}, unknown keys {unknown}")


# Keys a best fit without any successful grid point does not have; ``None`` means absent.
_BEST_FIT_OPTIONAL = (
    "n_species",
    "k_dim_to_k_diss",
    "intervals_f_test",
    "zoom",
    "intervals_coarse",
    "intervals_f_test_coarse",
    "identifiability",
    "intervals_weighted",
    "weighted",
    "trajectory",
)


@dataclass(frozen=True)
class BestFit:
    """``best.json``: the best grid point of eq 1, its neighbours, intervals, zoom, refinement.

    ``best`` is the best grid point ({point, k_dim, k_diss, k_ex, chi2, k_dim_to_k_diss}) or
    None when every point failed; ``k_dim``/``k_diss``/``k_ex``/``chi2`` at the top level of
    the JSON repeat it (the paper's grid optimum). Nested sections (intervals with their
    profiles, zoom, refined) keep the layout :func:`intercluster.fit.best_fit.best_fit` gives them.
    """

    fit_sample: str
    model: int
    samples: tuple[str, ...]
    chi2_unit: str
    n_points: int
    n_ok: int
    n_failed: int
    failed_reasons: dict
    grid: dict
    best: dict | None
    next_best: tuple
    intervals: dict | None
    refined: dict | None
    n_species: int | None = None
    intervals_f_test: dict | None = None
    zoom: dict | None = None
    intervals_coarse: dict | None = None
    intervals_f_test_coarse: dict | None = None
    # the weighted χ² fit (intercluster.fit.weighted_fit.weighted_fit_fields): name -> label,
    # name -> [low, high] (None: open end), and its best point, profiles and levels
    identifiability: dict | None = None
    intervals_weighted: dict | None = None
    weighted: dict | None = None
    # fit.objective trajectory: the trajectory fit's best point, response factor, profiles
    trajectory: dict | None = None
    k_dim_to_k_diss: float | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether any grid point succeeded."""
        return self.best is not None

    @property
    def constants(self) -> RateConstants:
        """The best grid point's rate constants (an error when every point failed)."""
        if self.best is None:
            raise ValueError(f"best fit {self.fit_sample} model {self.model}: no grid point")
        return RateConstants.from_dict(self.best)

    @property
    def chi2(self) -> float | None:
        return None if self.best is None else float(self.best["chi2"])

    def profile(self, name: str, zoom: bool = False) -> list[tuple[float, float]]:
        """The fit's profile of ``name`` (value, min chi² over the other two constants) on the
        coarse grid or, with ``zoom``, on the zoom's grid; values where every point failed
        are left out. The fit writes these (``intervals.profile_intervals``); figures read them."""
        if zoom:
            intervals = (self.zoom or {}).get("intervals")
        else:
            intervals = self.intervals_coarse if self.zoom is not None else self.intervals
        if not intervals or name not in intervals:
            raise ValueError(f"best fit {self.fit_sample} model {self.model}: no profile of {name}")
        return [
            (float(p["value"]), float(p["chi2_min"]))
            for p in intervals[name]["profile"]
            if p["chi2_min"] is not None
        ]

    def weighted_profile(self, name: str) -> list[tuple[float, float]]:
        """The weighted χ² profile of a constant or combination (value, min χ²_w); values
        where every point failed are left out."""
        profiles = (self.weighted or {}).get("profiles") or {}
        if name not in profiles:
            raise ValueError(
                f"best fit {self.fit_sample} model {self.model}: no weighted profile of {name}"
            )
        return [
            (float(p["value"]), float(p["chi2_min"]))
            for p in profiles[name]["profile"]
            if p["chi2_min"] is not None
        ]

    @classmethod
    def from_dict(cls, d: dict) -> BestFit:
        names = {f.name for f in fields(cls)}
        required = names - set(_BEST_FIT_OPTIONAL)
        _check_keys("best fit", d, required | {*RATE_CONSTANTS, "chi2"}, set(_BEST_FIT_OPTIONAL))
        values = {k: d.get(k) for k in names}
        values["samples"] = tuple(d["samples"])
        values["next_best"] = tuple(d["next_best"])
        values["model"] = int(d["model"])
        return cls(**values)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _BEST_FIT_OPTIONAL:
            if out[key] is None:
                del out[key]
        out["samples"] = list(self.samples)
        out["next_best"] = list(self.next_best)
        for key in (*RATE_CONSTANTS, "chi2"):
            out[key] = None if self.best is None else self.best[key]
        return out


@dataclass(frozen=True)
class PlausibilityResult:
    """The plausibility checks of one best fit (docs/science.md §4).

    ``checks`` maps each check's name to its numbers and ``pass`` (bool); the other
    sections are None when the fit had no successful grid point (nothing to assess).
    """

    fit_sample: str
    model: int
    rate_constants: dict | None
    checks: dict | None = None
    constants: dict | None = None
    diffusion_limit: dict | None = None
    dimer_lifetime: dict | None = None
    units: dict | None = None
    n_checks: int | None = None
    n_passed: int | None = None
    chi2: float | None = None
    source: str | None = None
    #: model 4 only: ΔG_mix and β with their intervals, beside the kinetic checks
    #: (:func:`intercluster.exchange_bias.plausibility_entry`); absent for models 1-3
    exchange_bias: dict | None = None

    @property
    def assessed(self) -> bool:
        return self.rate_constants is not None

    def passed(self, check: str) -> bool:
        return bool(self.checks[check]["pass"])

    @classmethod
    def from_dict(cls, d: dict) -> PlausibilityResult:
        names = {f.name for f in fields(cls)}
        base = {"fit_sample", "model", "rate_constants"}
        optional = {"exchange_bias"}
        if d.get("rate_constants") is None:
            _check_keys("plausibility result", d, base, set())
        else:
            _check_keys("plausibility result", d, names - optional, optional)
        return cls(**{k: d.get(k) for k in names})

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.exchange_bias is None:
            del out["exchange_bias"]  # models 1-3: their records as before
        if not self.assessed:
            out = {k: out[k] for k in ("fit_sample", "model", "rate_constants")}
        return out


def read_best_fit(path: str | os.PathLike) -> BestFit:
    return BestFit.from_dict(read_json(path))


def read_plausibility(path: str | os.PathLike) -> PlausibilityResult:
    return PlausibilityResult.from_dict(read_json(path))


def write_record(record: BestFit | PlausibilityResult, path: str | os.PathLike) -> None:
    """Write a record as JSON (sorted keys, as every JSON of the workflow)."""
    write_json(record.to_dict(), path)
