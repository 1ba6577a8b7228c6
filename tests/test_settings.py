"""One home for every default: the config schema's ``default:`` values, filled in once.

config.yaml states every default it documents; where it does, the schema's default must be
the same value (else the documented config and a config that omits the key would fit
differently). A config that omits an optional key gets the schema's value, and the typed
settings read a validated config without fallbacks.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from workflow_helpers import NUCLEARITY

from intercluster import coverage, deconvolution, frameworks, tmax_sigma, trajectory_fit
from intercluster.fit import intervals, profiles, weighted_fit
from intercluster.schemas import SCHEMA_DIR, schema_defaults
from intercluster.settings import (
    DeconvolutionSettings,
    FiguresSettings,
    FitSettings,
    KineticsSettings,
    PlausibilitySettings,
    SolverOptions,
    TmaxSettings,
    ZoomSettings,
)
from intercluster.validation import validate_config

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SCHEMA = yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text())


def _defaults(schema: dict, prefix: tuple = ()):
    """(key path, default) of every ``default:`` below ``schema``'s properties."""
    for key, sub in schema.get("properties", {}).items():
        path = (*prefix, key)
        if "default" in sub and sub["default"] != {}:
            yield path, sub["default"]
        yield from _defaults(sub, path)


def _lookup(config: dict, path: tuple):
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


ALL_DEFAULTS = list(_defaults(SCHEMA))


def test_the_schema_holds_defaults_of_every_section_it_owns():
    sections = {path[0] for path, _ in ALL_DEFAULTS}
    assert {"kinetics", "fit", "plausibility", "figures", "deconvolution"} <= sections
    assert len(ALL_DEFAULTS) >= 30


@pytest.mark.parametrize(
    ("path", "default"), ALL_DEFAULTS, ids=[".".join(path) for path, _ in ALL_DEFAULTS]
)
def test_schema_default_equals_config_yaml_where_it_states_the_key(path, default):
    stated = _lookup(CONFIG, path)
    if stated is None:
        pytest.skip("config/config.yaml leaves this key to the schema")
    assert stated == default


def test_a_config_without_optional_keys_gets_the_schema_defaults():
    full = copy.deepcopy(CONFIG)
    bare = copy.deepcopy(CONFIG)
    del bare["plausibility"]
    del bare["deconvolution"]
    for key in ("chunks", "orbits", "tmax", "zoom", "refine", "interval_f_confidence"):
        del bare["fit"][key]
    for key in ("rtol", "atol", "max_steps", "convention", "method"):
        del bare["kinetics"][key]
    del bare["figures"]["dpi"]
    validate_config(full)
    assert validate_config(bare) is bare
    for section in ("plausibility", "deconvolution", "fit", "kinetics", "figures"):
        assert bare[section] == full[section], section


def test_negative_control_a_different_default_is_seen():
    bare = copy.deepcopy(CONFIG)
    del bare["fit"]["refine_max_evaluations"]
    validate_config(bare)
    assert bare["fit"]["refine_max_evaluations"] == 60
    changed = copy.deepcopy(CONFIG)
    changed["fit"]["refine_max_evaluations"] = 7
    validate_config(changed)
    assert changed["fit"]["refine_max_evaluations"] == 7  # a stated value is never replaced


def test_typed_settings_from_the_validated_config():
    config = validate_config(copy.deepcopy(CONFIG))
    fit = FitSettings.from_config(config["fit"])
    assert fit.tmax == TmaxSettings(2.0, 0.01, 0.1, 0.05, 1.0)
    assert fit.zoom == ZoomSettings.schema_default() and fit.zoom.max_centres == 3
    kinetics = KineticsSettings.from_config(config["kinetics"])
    # The simulators' tolerances: one value, config.yaml's (not the former 1e-6/1e-9 fallback).
    assert kinetics.simulator_options() == SolverOptions(1e-5, 1e-8, 100_000, "rodas5p")
    assert SolverOptions.schema_default() == kinetics.simulator_options()
    with pytest.raises(ValueError, match="solver method"):
        SolverOptions(1e-5, 1e-8, 100_000, "rk4")
    assert PlausibilitySettings.from_config(config["plausibility"]).charges == (-1, -1)
    assert FiguresSettings.from_config(config["figures"]).dpi == 300
    with pytest.raises(KeyError):
        TmaxSettings.from_config({"smoothing_min": 2.0})  # no fallback: unvalidated is a bug


def test_deconvolution_settings_come_from_the_schema_only():
    """The deconvolution functions take the settings object, and no keyword of theirs
    repeats a settings field with a default of its own (the former ones disagreed with the
    schema: constant R and no robust pass against the schema's linear and robust)."""
    config = validate_config(copy.deepcopy(CONFIG))
    settings = DeconvolutionSettings.from_config(config["deconvolution"])
    assert settings == DeconvolutionSettings.schema_default()
    assert (settings.resolving_power_model, settings.robust) == ("linear", True)
    changed = copy.deepcopy(CONFIG)
    changed["deconvolution"]["resolving_power_model"] = "constant"
    validate_config(changed)
    assert DeconvolutionSettings.from_config(changed["deconvolution"]) == dataclasses.replace(
        settings, resolving_power_model="constant"
    )
    with pytest.raises(ValueError, match="gaps"):
        dataclasses.replace(settings, gaps="fill")
    with pytest.raises(KeyError):
        DeconvolutionSettings.from_config({"gaps": "censor"})  # unvalidated is a bug
    fields = {f.name for f in dataclasses.fields(DeconvolutionSettings)} | {
        "fit_resolution", "n_calibration_spectra",
    }  # fmt: skip
    functions = (
        deconvolution.deconvolve_spectra, deconvolution.fit_run, deconvolution.deconvolve_run,
        deconvolution.deconvolve_cid_run, frameworks.deconvolve_run_ion_forms,
        frameworks.deconvolve_ion_forms,
    )  # fmt: skip
    for function in functions:
        parameters = inspect.signature(function).parameters
        assert "settings" in parameters, function.__name__
        assert not fields & set(parameters), function.__name__


def test_section_defaults_are_what_validation_fills_in():
    assert schema_defaults("plausibility") == validate_config(copy.deepcopy(CONFIG))["plausibility"]


def _leaves(mapping: dict, prefix: tuple = ()):
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def test_small_config_is_an_overlay_of_only_the_keys_it_changes():
    overlay = yaml.safe_load((REPO / ".test" / "config" / "small.yaml").read_text())
    leaves = list(_leaves(overlay))
    assert leaves, "empty overlay"
    same = [".".join(path) for path, value in leaves if _lookup(CONFIG, path) == value]
    assert not same, f".test/config/small.yaml repeats config.yaml: {same}"
    unknown = [".".join(path) for path, _ in leaves if _lookup(CONFIG, path) is None]
    assert not unknown, f".test/config/small.yaml sets keys config.yaml lacks: {unknown}"


def test_low_level_deconvolution_keywords_default_to_the_schema():
    """The per-spectrum functions that take a settings field as a keyword leave it at None,
    which means the schema's value: no number of the schema is repeated in a signature."""
    from intercluster import centroid

    schema = DeconvolutionSettings.schema_default()
    assert DeconvolutionSettings.schema_default() == schema
    functions = (
        deconvolution.prepare_spectrum, deconvolution.fit_spectrum, deconvolution.fit_prepared,
        deconvolution.scan_shift, deconvolution.fit_resolving_power,
        deconvolution.fit_resolving_power_slope, centroid.fit_sticks, centroid.fit_stick_spectra,
    )  # fmt: skip
    fields = {f.name for f in dataclasses.fields(DeconvolutionSettings)}
    checked = 0
    for function in functions:
        for name, parameter in inspect.signature(function).parameters.items():
            if name in fields:
                assert parameter.default is None, (function.__name__, name)
                checked += 1
    assert checked >= len(functions)  # every one of them takes max_shift_ppm or gaps


def test_library_keywords_that_name_a_setting_default_to_the_schema():
    """Every library keyword that mirrors a schema key (σ bootstrap, floor and confidence,
    the t_max smoothing and tolerance, the rate-law convention, the plausibility solvent, the
    figures' time axis and dpi) defaults to None, and None gives the schema's value: no
    number of the schema is repeated (or contradicted) in a signature."""
    from intercluster import framework_figures, observables, plausibility, replicas
    from intercluster import virtual_experiment as vx
    from intercluster.figures import maps, style
    from intercluster.network import ReactionNetwork
    from intercluster.settings import UncertaintySettings

    uncertainty = UncertaintySettings.schema_default()
    tmax = TmaxSettings.schema_default()
    plaus = PlausibilitySettings.schema_default()
    figures_schema = schema_defaults("figures")
    assert UncertaintySettings.schema_default() == uncertainty
    assert TmaxSettings.schema_default() == tmax
    assert PlausibilitySettings.schema_default() == plaus
    assert FiguresSettings.schema_default().dpi == figures_schema["dpi"]
    assert FiguresSettings.schema_default().time_max_min == figures_schema["time_max_min"]
    assert vx.schema_convention() == schema_defaults("kinetics")["convention"]
    fit_schema = schema_defaults("fit")
    assert intervals.schema_interval_rules() == (
        fit_schema["interval_delta_chi2_rel"], fit_schema["interval_f_confidence"]
    )

    keywords = {
        tmax_sigma.bootstrap_tmax: ("n_replicas", "block_length", "seed"),
        tmax_sigma.tmax_uncertainty_table: ("n_replicas", "block_length", "seed", "floor_fraction"),
        tmax_sigma.sigma_floor_min: ("fraction",),
        weighted_fit.weighted_fit_fields: ("confidence",),
        profiles.delta_chi2: ("confidence",),
        profiles.profile_results: ("confidence",),
        coverage.threshold_calibration: ("confidence",),
        coverage.coverage: ("confidence", "delta_rel", "f_confidence"),
        trajectory_fit.trajectory_fields: ("confidence",),
        trajectory_fit.trajectory_delta: ("confidence",),
        replicas.virtual_replica: ("convention", "n_replicas", "block_length", "floor_fraction"),
        vx.simulate_sample: ("convention",),
        ReactionNetwork: ("convention",),
        observables.PeakFinder.__init__: ("smoothing_min",),
        observables.PeakFinder.tmax: ("tolerance_rel",),
        observables.PeakFinder.tmax_many: ("tolerance_rel",),
        observables.peak_finder: ("smoothing_min",),
        observables.tmax_of: ("smoothing_min", "tolerance_rel"),
        plausibility.debye_factor: ("temperature_K", "relative_permittivity", "charges"),
        maps.contour_figure: ("time_max_min",),
        maps.figure3: ("time_max_min",),
        maps.figure_s7_9: ("time_max_min",),
        style.save_figure: ("dpi",),
        intervals.f_test_delta: ("confidence",),
        framework_figures.save_figure: ("dpi",),
    }
    for function, names in keywords.items():
        parameters = inspect.signature(function).parameters
        for name in names:
            assert parameters[name].default is None, (function.__qualname__, name)

    # None means the schema's value, not some other fallback
    assert profiles.delta_chi2() == profiles.delta_chi2(uncertainty.confidence)
    f_confidence = fit_schema["interval_f_confidence"]
    assert intervals.f_test_delta(12) == intervals.f_test_delta(12, 3, f_confidence)
    times = [0.0, 1.0, 2.0, 4.0]
    assert tmax_sigma.sigma_floor_min(times) == tmax_sigma.sigma_floor_min(
        times, uncertainty.sigma_floor_fraction
    )
    assert plausibility.debye_factor(plaus.reaction_distance_A) == plausibility.debye_factor(
        plaus.reaction_distance_A, plaus.temperature_K, plaus.relative_permittivity,
        plaus.charges,
    )  # fmt: skip
    assert observables.peak_finder(times).smoothing_min == tmax.smoothing_min
    assert ReactionNetwork(3, nuclearity=NUCLEARITY).convention == vx.schema_convention()
    # the framework experiment's instrument and noise are required config keys without a
    # schema default, so the library takes them without one too
    parameters = inspect.signature(frameworks.simulate_framework_experiment).parameters
    for name in ("resolving_power", "ions_per_spectrum", "baseline_rel", "seed"):
        assert parameters[name].default is inspect.Parameter.empty, name


def test_kinetics_method_reaches_the_simulator_options_and_a_wrong_one_is_refused():
    config = copy.deepcopy(CONFIG)
    config["kinetics"]["method"] = "rodas4"
    validate_config(config)
    options = KineticsSettings.from_config(config["kinetics"]).simulator_options()
    assert options.method == "rodas4" and options.rtol == 1e-5
    wrong = copy.deepcopy(CONFIG)
    wrong["kinetics"]["method"] = "reference"  # the tests' yardstick, not a workflow method
    with pytest.raises(Exception, match="kinetics.method"):
        validate_config(wrong)
