"""Typed, frozen settings of the config sections, built from the validated config.

Every default lives in ``intercluster/schemas/config.schema.yaml``; ``validate_config`` fills
them in once, so ``from_config`` here reads every key without a fallback (a missing key is
a bug, not a user error: the config was not validated). ``schema_default()`` gives the
settings a config that omits the section gets (tests, benchmarks, notebooks).

The ``cluster``, ``virtual_experiment`` and sample-sheet parts are read by
:mod:`intercluster.system`, :mod:`intercluster.virtual_experiment` and
:mod:`intercluster.validation`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from .network import RATE_CONSTANTS  # the kinetic model owns its constants

__all__ = [
    "DeconvolutionSettings",
    "FiguresSettings",
    "FitSettings",
    "KineticsSettings",
    "PlausibilitySettings",
    "CoverageSettings",
    "SolverOptions",
    "TmaxSettings",
    "UncertaintySettings",
    "ZoomSettings",
    "table1_constants",
]



def _defaults(section: str) -> dict:
    from .schemas import schema_defaults  # jsonschema only where defaults are asked for

    return schema_defaults(section)


#: the simulator's methods: the numba Rosenbrock kernels (``intercluster._kernels``) and the
#: scipy Radau yardstick of the tests
SOLVER_METHODS = ("rodas5p", "rodas4", "reference")
DEFAULT_SOLVER_METHOD = "rodas5p"
GAP_TREATMENTS = ("censor", "censor_free", "zero", "ignore")
RESOLVING_POWER_MODELS = ("constant", "linear")
NORMALISE_OVER = ("observables", "all_clusters")
CENTROID_INTENSITIES = ("auto", "area", "height")
BASELINE_MODELS = ("constant", "spline", "auto")
TAIL_MODELS = ("constant", "linear")
PEAK_SHAPES = ("gaussian", "emg", "auto")


@dataclass(frozen=True)
class DeconvolutionSettings:
    """``deconvolution``: ingestion binning and the isotope-pattern fit of every spectrum.

    The library's deconvolution functions (:mod:`intercluster.deconvolution`,
    :func:`intercluster.frameworks.deconvolve_run_ion_forms`) take this object, so the
    workflow, the tests and the benchmarks fit with the same values unless they say otherwise
    (``dataclasses.replace(settings, resolving_power_model="constant")``).
    """

    time_bin_min: float  # sum consecutive spectra into bins of this width (0: off)
    resolving_power_guess: float  # start of the per-file R search (or R when not fitted)
    max_shift_ppm: float  # search range of the per-spectrum calibration shift
    fit_resolving_power: bool  # fit R per file (else the guess is used)
    gaps: str  # censor | zero | ignore (deconvolution.prepare_spectrum)
    normalise_over: str  # the total of intensity_norm: observables | all_clusters
    resolving_power_model: str  # constant | linear in m/z
    robust: bool  # the robust pass: points no column explains get weight 0
    #: what a centroid file's stick intensities are: auto (decided per file, centroid.py)
    centroid_intensity: str
    #: the baseline under the peaks: constant | spline (smooth in m/z, fitted per spectrum) |
    #: auto (the spline where it lowers the residual by 2 %, else constant; per file)
    baseline: str = "auto"
    #: the peak shape of a file: gaussian | emg (tail fitted per file) | auto (EMG if better)
    peak_shape: str = "auto"
    #: the EMG tail per file: constant (one tail) | linear (in m/z, its slope fitted too)
    tail_model: str = "constant"

    def __post_init__(self) -> None:
        for name, allowed in (("gaps", GAP_TREATMENTS),
                              ("resolving_power_model", RESOLVING_POWER_MODELS),
                              ("normalise_over", NORMALISE_OVER),
                              ("centroid_intensity", CENTROID_INTENSITIES),
                              ("baseline", BASELINE_MODELS),
                              ("peak_shape", PEAK_SHAPES),
                              ("tail_model", TAIL_MODELS)):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, deconvolution: dict) -> DeconvolutionSettings:
        return cls(
            time_bin_min=float(deconvolution["time_bin_min"]),
            resolving_power_guess=float(deconvolution["resolving_power_guess"]),
            max_shift_ppm=float(deconvolution["max_shift_ppm"]),
            fit_resolving_power=bool(deconvolution["fit_resolving_power"]),
            gaps=str(deconvolution["gaps"]),
            normalise_over=str(deconvolution["normalise_over"]),
            resolving_power_model=str(deconvolution["resolving_power_model"]),
            robust=bool(deconvolution["robust"]),
            centroid_intensity=str(deconvolution["centroid_intensity"]),
            baseline=str(deconvolution["baseline"]),
            peak_shape=str(deconvolution["peak_shape"]),
            tail_model=str(deconvolution.get("tail_model", "constant")),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> DeconvolutionSettings:
        """The settings of a config without a ``deconvolution`` section (the workflow's)."""
        return cls.from_config(_defaults("deconvolution"))


@dataclass(frozen=True)
class SolverOptions:
    """How :mod:`intercluster.simulate` integrates: tolerances, step limit and method.

    ``method`` is ``"rodas5p"`` (numba Rodas5P, order 5 with order-4 dense output, the
    default), ``"rodas4"`` (numba RODAS4, order 4 with order-3 dense output, the method before
    Rodas5P) or ``"reference"`` (scipy Radau, the yardstick of the tests; it has no step
    limit). The workflow's values come from the ``kinetics`` section
    (:meth:`KineticsSettings.simulator_options`).
    """

    rtol: float
    atol: float
    max_steps: int
    method: str = DEFAULT_SOLVER_METHOD

    def __post_init__(self) -> None:
        if self.method not in SOLVER_METHODS:
            raise ValueError(f"solver method must be one of {SOLVER_METHODS}, got {self.method!r}")

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> SolverOptions:
        """The schema's ``kinetics`` method, tolerances and step limit."""
        kinetics = _defaults("kinetics")
        return cls(float(kinetics["rtol"]), float(kinetics["atol"]), int(kinetics["max_steps"]),
                   str(kinetics["method"]))  # fmt: skip


@dataclass(frozen=True)
class KineticsSettings:
    """``kinetics``: models, rate-law convention, simulated span and integrator limits."""

    models: tuple[int, ...]
    convention: str
    t_end_min: float
    output_step_min: float
    rtol: float
    atol: float
    max_steps: int
    #: the simulator's method (one of SOLVER_METHODS but the reference)
    method: str = DEFAULT_SOLVER_METHOD

    @classmethod
    def from_config(cls, kinetics: dict) -> KineticsSettings:
        return cls(
            models=tuple(int(m) for m in kinetics["models"]),
            convention=str(kinetics["convention"]),
            t_end_min=float(kinetics["t_end_min"]),
            output_step_min=float(kinetics["output_step_min"]),
            rtol=float(kinetics["rtol"]),
            atol=float(kinetics["atol"]),
            max_steps=int(kinetics["max_steps"]),
            method=str(kinetics.get("method", DEFAULT_SOLVER_METHOD)),
        )

    def simulator_options(self) -> SolverOptions:
        """The simulators' options: method, tolerances and the step limit."""
        return SolverOptions(rtol=self.rtol, atol=self.atol, max_steps=self.max_steps,
                             method=self.method)  # fmt: skip


def table1_constants(kinetics: dict, model: int) -> dict:
    """The constants ``model`` is simulated and exported at in the Table 1 path (rules
    simulate_table1, export_sbml, figure3_table1): the paper's Table 1 of that model, and
    for model 4, which the paper has not, model 3's with ``beta`` = ``kinetics.beta`` (β = 1
    is model 3 exactly; docs/science.md §2.4).

    Raises
    ------
    ValueError
        When the model has no Table 1 constants (model 4: when model 3 has none), or
        model 4's β is not a finite number > 0.
    """
    model = int(model)
    table1 = kinetics.get("table1") or {}
    source = "model3" if model == 4 else f"model{model}"
    if source not in table1:
        need = "model 4 is simulated at model 3's Table 1 constants; " if model == 4 else ""
        raise ValueError(f"kinetics.table1: no {source} ({need}the table has "
                         f"{sorted(table1) or 'nothing'})")  # fmt: skip
    constants = {k: float(table1[source][k]) for k in RATE_CONSTANTS}
    if model != 4:
        return constants
    beta = kinetics.get("beta", 1.0)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (
        math.isfinite(beta) and beta > 0
    ):
        raise ValueError(f"kinetics.beta = {beta!r}: model 4 needs its exchange bias as a "
                         "finite number > 0 (1 is model 3)")  # fmt: skip
    return {**constants, "beta": float(beta)}


@dataclass(frozen=True)
class TmaxSettings:
    """``fit.tmax``: smoothing and peak search of the t_max of each observable."""

    smoothing_min: float
    min_signal: float
    peak_tolerance_rel: float
    #: depth of the top whose centre is t_max, relative to the maximum (0: the vertex)
    plateau_rel: float
    #: a dimer ion's signal per molecule relative to a monomer's, applied to the simulated
    #: observables before they are normalised (:func:`intercluster.observables.ion_signal`);
    #: the global value: a sample's sheet column ``dimer_response`` overrides it for that
    #: sample (:func:`intercluster.observables.dimer_response_of`)
    dimer_response: float

    @classmethod
    def from_config(cls, tmax: dict) -> TmaxSettings:
        return cls(
            smoothing_min=float(tmax["smoothing_min"]),
            min_signal=float(tmax["min_signal"]),
            peak_tolerance_rel=float(tmax["peak_tolerance_rel"]),
            plateau_rel=float(tmax["plateau_rel"]),
            dimer_response=float(tmax["dimer_response"]),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> TmaxSettings:
        return cls.from_config(_defaults("fit")["tmax"])


@dataclass(frozen=True)
class ZoomSettings:
    """``fit.zoom``: the finer grid around the optimum (see ``zoom.zoom_points``)."""

    enabled: bool
    step_decades: float  # log10 step of the fine grid
    half_width_steps: float  # half-width of the box around a centre, in coarse steps
    max_centres: int  # the best point and at most this many minima in all

    @classmethod
    def from_config(cls, zoom: dict) -> ZoomSettings:
        return cls(
            enabled=bool(zoom["enabled"]),
            step_decades=float(zoom["step_decades"]),
            half_width_steps=float(zoom["half_width_steps"]),
            max_centres=int(zoom["max_centres"]),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> ZoomSettings:
        return cls.from_config(_defaults("fit")["zoom"])


@dataclass(frozen=True)
class CoverageSettings:
    """``fit.uncertainty.coverage``: the noise replicas and the grid of rule coverage."""

    sample: str | None  # None: figures.main_sample
    model: int | None  # None: virtual_experiment.model (the truth's model)
    n_replicas: int
    bootstrap_replicas: int
    seed: int  # replica r uses noise seed seed + r
    scan_interval_min: float
    steps_decades: dict  # constant -> log10 step of the grid centred on the truth
    half_width_steps: dict  # constant -> values on each side of the truth

    @classmethod
    def from_config(cls, coverage: dict) -> CoverageSettings:
        return cls(
            sample=None if coverage["sample"] is None else str(coverage["sample"]),
            model=None if coverage["model"] is None else int(coverage["model"]),
            n_replicas=int(coverage["n_replicas"]),
            bootstrap_replicas=int(coverage["bootstrap_replicas"]),
            seed=int(coverage["seed"]),
            scan_interval_min=float(coverage["scan_interval_min"]),
            steps_decades={k: float(coverage["steps_decades"][k]) for k in RATE_CONSTANTS},
            half_width_steps={k: int(coverage["half_width_steps"][k]) for k in RATE_CONSTANTS},
        )


@dataclass(frozen=True)
class UncertaintySettings:
    """``fit.uncertainty``: σ(t_max) bootstrap, σ floor and the weighted intervals' confidence."""

    bootstrap_replicas: int
    block_length: int  # consecutive time points per resampled block
    seed: int
    sigma_floor_fraction: float  # σ floor as a fraction of the scan interval
    confidence: float  # of the weighted χ² profile intervals (Δχ² from χ² with 1 dof)
    coverage: CoverageSettings
    # profiles by re-optimisation (intercluster.fit.reoptimised_profiles) with fit.refine
    reoptimise_profiles: bool = True
    profile_evaluations: int = 30  # objective evaluations of one inner minimisation
    # profiles by re-optimisation also for a model the calibrated goodness of fit rejects
    profile_rejected_models: bool = False
    flat_top_sigma: bool = False  # σ(t_max) ≥ the flat top's width / √12
    # replicas of the calibrated goodness of fit (model_comparison.goodness_of_fit_section);
    # 0: χ²(n − 3) only
    gof_replicas: int = 200
    # σ(t_max) ⊕ the deconvolution's nuisance choices (intercluster.nuisance_sigma; rule
    # deconvolve_nuisance: extra deconvolutions of every run)
    nuisance_sigma: bool = False

    @classmethod
    def from_config(cls, uncertainty: dict) -> UncertaintySettings:
        return cls(
            bootstrap_replicas=int(uncertainty["bootstrap_replicas"]),
            block_length=int(uncertainty["block_length"]),
            seed=int(uncertainty["seed"]),
            sigma_floor_fraction=float(uncertainty["sigma_floor_fraction"]),
            confidence=float(uncertainty["confidence"]),
            coverage=CoverageSettings.from_config(uncertainty["coverage"]),
            reoptimise_profiles=bool(uncertainty["reoptimise_profiles"]),
            profile_evaluations=int(uncertainty["profile_evaluations"]),
            profile_rejected_models=bool(uncertainty["profile_rejected_models"]),
            flat_top_sigma=bool(uncertainty["flat_top_sigma"]),
            gof_replicas=int(uncertainty["gof_replicas"]),
            nuisance_sigma=bool(uncertainty["nuisance_sigma"]),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> UncertaintySettings:
        return cls.from_config(_defaults("fit")["uncertainty"])


@dataclass(frozen=True)
class FitSettings:
    """``fit``: the grid, its scatter, t_max, zoom, refinement and intervals."""

    models: tuple[int, ...]
    grid: dict  # name -> {"min", "max", "n"} (the config's mapping, as fit.grid_axes takes it)
    chunks: int
    orbits: bool
    joint_sample_name: str
    tmax: TmaxSettings
    zoom: ZoomSettings
    refine: bool
    refine_max_evaluations: int
    interval_delta_chi2_rel: float
    interval_f_confidence: float
    uncertainty: UncertaintySettings
    objective: str  # tmax (eq 1 only) | trajectory (also the trajectory fit)

    @classmethod
    def from_config(cls, fit: dict) -> FitSettings:
        return cls(
            models=tuple(int(m) for m in fit["models"]),
            grid={name: dict(fit["grid"][name]) for name in RATE_CONSTANTS},
            chunks=int(fit["chunks"]),
            orbits=bool(fit["orbits"]),
            joint_sample_name=str(fit["joint_sample_name"]),
            tmax=TmaxSettings.from_config(fit["tmax"]),
            zoom=ZoomSettings.from_config(fit["zoom"]),
            refine=bool(fit["refine"]),
            refine_max_evaluations=int(fit["refine_max_evaluations"]),
            interval_delta_chi2_rel=float(fit["interval_delta_chi2_rel"]),
            interval_f_confidence=float(fit["interval_f_confidence"]),
            uncertainty=UncertaintySettings.from_config(fit["uncertainty"]),
            objective=str(fit["objective"]),
        )


@dataclass(frozen=True)
class PlausibilitySettings:
    """``plausibility``: solvent, temperature and the bounds of the checks (DMF, 298 K)."""

    temperature_K: float
    viscosity_Pa_s: float
    relative_permittivity: float
    reaction_distance_A: float
    charges: tuple[int, int]
    dimer_lifetime_max_s: float
    poisson_k_max: int
    k_dim_to_k_diss_range: tuple[float, float]
    k_diss_min: float

    @classmethod
    def from_config(cls, plausibility: dict) -> PlausibilitySettings:
        low, high = (float(v) for v in plausibility["k_dim_to_k_diss_range"])
        first, second = (int(q) for q in plausibility["charges"])
        return cls(
            temperature_K=float(plausibility["temperature_K"]),
            viscosity_Pa_s=float(plausibility["viscosity_Pa_s"]),
            relative_permittivity=float(plausibility["relative_permittivity"]),
            reaction_distance_A=float(plausibility["reaction_distance_A"]),
            charges=(first, second),
            dimer_lifetime_max_s=float(plausibility["dimer_lifetime_max_s"]),
            poisson_k_max=int(plausibility["poisson_k_max"]),
            k_dim_to_k_diss_range=(low, high),
            k_diss_min=float(plausibility["k_diss_min"]),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> PlausibilitySettings:
        return cls.from_config(_defaults("plausibility"))


@dataclass(frozen=True)
class FiguresSettings:
    """``figures``: the main sample, time axes, the S6 window, the S10 times and the dpi."""

    main_sample: str
    time_max_min: float
    equilibrium_window_min: float
    s10_times_min: tuple[float, ...]
    dpi: int

    @classmethod
    def from_config(cls, figures: dict) -> FiguresSettings:
        return cls(
            main_sample=str(figures["main_sample"]),
            time_max_min=float(figures["time_max_min"]),
            equilibrium_window_min=float(figures["equilibrium_window_min"]),
            s10_times_min=tuple(float(t) for t in figures["s10_times_min"]),
            dpi=int(figures["dpi"]),
        )

    @classmethod
    @functools.cache  # frozen settings: one object per class, read once
    def schema_default(cls) -> FiguresSettings:
        """The schema's figure settings; ``main_sample`` has no default (a config names it),
        so it is empty here."""
        return cls.from_config({"main_sample": "", **_defaults("figures")})
