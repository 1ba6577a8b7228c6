"""``intercluster inspect FILE.mzML``: what a file holds, before the workflow is run on it.

Prints, in a few seconds: the spectra per ms level, their time range (and the unit the file
uses), polarity, profile or centroid, m/z range and acquired window; the resolving power
measured on the most intense spectrum (median m/z / FWHM of its most prominent peaks,
:func:`intercluster.ingest.peak_shapes`); and which ions of the cluster system are seen in
that spectrum and how strongly: a quick fit with
:func:`intercluster.deconvolution.fit_spectrum` on the 77 observable patterns, listing the
strongest ions with their fraction of the fitted signal. A centroided spectrum is first
broadened into a profile (each stick a Gaussian of FWHM m/z / the configured
``resolving_power_guess``, area kept), so the same fit applies; that is a quick look, not
the workflow's deconvolution. Whether a centroid file's sticks are peak areas or heights is
decided as the workflow decides it (the config's ``centroid_intensity``; ``auto``: over the
whole run, :func:`intercluster.centroid.read_centroid_file`), and heights are converted
before the quick look.

The cluster system comes from the workflow config, read as snakemake reads it:
``config/config.yaml`` under the current directory if there is one, then each ``--configfile FILE``
(or ``--config FILE``) merged over it in the order given (so the second system's overlay
config is read as snakemake reads it), then ``--config KEY=VALUE``
overrides; ``--system FILE`` replaces the config's system file. With neither a config nor a
system file, the default demo's system file (:func:`~intercluster.system.default_system`).
A system with the dimer-exchange model is fitted on its kinetic observables (the 77 of the
demo); a framework system (``kinetics.model_family: none``, the second shipped one) on its
ion forms,
as the workflow deconvolves it.

Exit status: 0 when the workflow would take the file; 2 when it would refuse it (wrong
polarity, m/z range missing the species: the file is still described, with the workflow's
one-line reason), and 2 with that one line on stderr when the file cannot be read at all or
the config is bad, as in the workflow. A resolving power measured from the peaks that differs
from the config's ``deconvolution.resolving_power_guess`` by more than 30 % is reported with
the key to set (exit 0: the workflow fits R per file, but from that guess); the quick fit
starts from the measured value.

Usable as ``intercluster inspect FILE`` (console script) or ``python -m intercluster.inspect
FILE``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .centroid import read_centroid_file
from .deconvolution import (
    baseline_spacing,
    choose_baseline,
    fit_peak_shape,
    fit_prepared,
    fit_resolving_power,
    fit_tail_slope,
    prepare_spectrum,
    scan_shift,
)
from .errors import InputError
from .frameworks import ion_form_basis
from .ingest import SpectraRun, degenerate_run_problem, detect_mode, peak_shapes, read_runs
from .isotopes import FWHM_TO_SIGMA
from .settings import DeconvolutionSettings
from .spectrum_basis import observable_basis
from .system import (
    REPO_ROOT,
    ClusterSystem,
    SystemDefinition,
    default_system_definition,
    resolve_system_path,
    system_of_config,
)
from .system import load_system as load_system_file
from .textfiles import load_yaml

if TYPE_CHECKING:
    from .centroid import StickReading

DEFAULT_CONFIG = "config/config.yaml"
STICK_POINTS_PER_FWHM = 5  # sampling of the profile a centroid spectrum is broadened into
#: measured / configured resolving power beyond which the user is told to set the guess: the
#: workflow's per-file R fit starts from the guess and stays within a factor of it
R_GUESS_TOLERANCE = 0.30
R_GUESS_KEY = "deconvolution.resolving_power_guess"
R_FIT_RANGE = (0.6, 1.6)  # fit_resolving_power's search range, relative to its start
EXIT_REFUSED = 2  # the workflow would refuse the file (as for an unreadable file)


@dataclass
class LevelSummary:
    ms_level: int
    n_spectra: int
    time_range_min: tuple[float, float]
    time_unit: str
    polarity: str | None
    mode: str
    mode_source: str
    mz_range: tuple[float, float]
    scan_window: tuple[float, float] | None  # hull of the stated windows
    #: what :func:`~intercluster.ingest.detect_mode` makes of the most intense spectrum
    looks: str | None = None


@dataclass
class Inspection:
    path: str
    synthetic: bool
    n_spectra: int
    levels: list[LevelSummary]
    system_source: str
    mz_required: tuple[float, float]
    #: spectrum the quick look is made on (the most intense of the lowest ms level)
    spectrum_id: str = ""
    spectrum_index: int = -1
    spectrum_time_min: float = float("nan")
    #: median m/z / FWHM of the most prominent peaks (profile spectra only)
    resolving_power_peaks: float = float("nan")
    resolving_power_fit: float = float("nan")
    shift_ppm: float = float("nan")
    residual_norm: float = float("nan")
    #: the peak shape of the quick fit (deconvolution.peak_shape: the file's, as the
    #: workflow would choose it) and its EMG tail (tau / sigma)
    peak_shape: str = "gaussian"
    peak_tail: float = 0.0
    #: the tail's relative change per 1000 Th (deconvolution.tail_model linear; else 0)
    peak_tail_slope: float = 0.0
    #: the quick fit's baseline model and its share of the fitted signal
    baseline_model: str = "constant"
    baseline_fraction: float = float("nan")
    #: the ions by fitted signal: species, charge, n_first, intensity, fraction
    ions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: why the workflow would refuse the file (one line each)
    problems: list[str] = field(default_factory=list)
    #: centroid files: the sticks read as "area" or "height" and how that was decided
    #: (:class:`intercluster.centroid.StickReading`); None for profiles
    stick_reading: StickReading | None = None
    #: what to set in the config for the workflow to read the file well (one line each)
    advice: list[str] = field(default_factory=list)


# Where the system comes from when no config/config.yaml is found.
DEFAULT_SOURCE = "the default demo's system file (no config/config.yaml here)"


@dataclass(frozen=True)
class ConfigSources:
    """Where the system and the deconvolution settings come from, in snakemake's order."""

    files: tuple[str, ...] = ()  # --configfile / --config FILE, merged in this order
    overrides: tuple[str, ...] = ()  # --config KEY=VALUE, after the files
    system_file: str | None = None  # --system FILE: replaces the config's system


def merge_config(base: dict, overlay: dict) -> dict:
    """``overlay`` onto ``base`` as snakemake merges config files: mappings key by key,
    everything else (lists included) replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def _read_config_file(path: Path, where: str) -> dict:
    if not path.is_file():
        raise InputError(f"{where}: file not found; expected the workflow's config/config.yaml")
    config = load_yaml(path, where)  # UTF-8, bounded size and alias expansion
    if not isinstance(config, dict):
        raise InputError(f"{where}: expected a mapping of config sections (system, ...)")
    return config


def _override(item: str, where: str) -> dict:
    """``KEY=VALUE`` as snakemake's ``--config`` reads it (the value parsed as YAML)."""
    import yaml

    key, _, value = item.partition("=")
    if not key:
        raise InputError(f"{where}: --config {item!r}: expected KEY=VALUE or a config file")
    try:
        return {key: yaml.safe_load(value)}
    except yaml.YAMLError:
        return {key: value}


def load_system(
    config_path: str | ConfigSources | None = None, cwd: Path | None = None
) -> tuple[SystemDefinition, DeconvolutionSettings, str]:
    """``(system file, the config's DeconvolutionSettings, where they came from)``.

    ``config_path``: one config file (a complete config, the former interface) or the
    :class:`ConfigSources` of the command line.
    """
    from .validation import validate_config

    sources = config_path if isinstance(config_path, ConfigSources) else (
        ConfigSources(files=() if config_path is None else (str(config_path),))
    )  # fmt: skip
    cwd = cwd or Path.cwd()
    # snakemake: the Snakefile's config/config.yaml (if present), then --configfile, then --config
    files = [Path(f) for f in sources.files]
    base = cwd / DEFAULT_CONFIG
    if base.is_file() and not any(f.resolve() == base.resolve() for f in files):
        files.insert(0, base)
    if not files and not sources.overrides:
        system = default_system_definition()
        deconvolution = DeconvolutionSettings.schema_default()
        if sources.system_file is None:
            return system, deconvolution, DEFAULT_SOURCE
        where = f"system file ({sources.system_file})"
        return _system_file(sources.system_file), deconvolution, where
    where = "config (" + ", ".join(
        [str(f) for f in files] + [f"--config {o}" for o in sources.overrides]
    ) + ")"
    config: dict = {}
    for path in files:
        config = merge_config(config, _read_config_file(path, f"config ({path})"))
    for item in sources.overrides:
        config = merge_config(config, _override(item, where))
    if sources.system_file is not None:
        config["system"] = str(Path(sources.system_file).resolve())
    try:
        validate_config(config, where=where)
    except InputError as exc:
        if "missing a required key" in str(exc) and not base.is_file():
            # an overlay alone (the second system's): snakemake reads ./config/config.yaml first
            raise InputError(f"{exc} (an overlay needs the workflow's {DEFAULT_CONFIG} first: "
                             f"--configfile {DEFAULT_CONFIG} OVERLAY)") from None  # fmt: skip
        raise
    # The config's system file: from the current directory, the configs', or the workflow's.
    dirs = [cwd, *dict.fromkeys(p.parent for p in files), REPO_ROOT]
    system_file = system_of_config(config, where, search_dirs=dirs)
    deconvolution = DeconvolutionSettings.from_config(config["deconvolution"])
    if sources.system_file is not None:
        where = f"system file ({sources.system_file}), {where}"
    return system_file, deconvolution, where


def _system_file(path: str) -> SystemDefinition:
    return load_system_file(resolve_system_path(path, REPO_ROOT))


def _summary(run: SpectraRun) -> LevelSummary:
    windows = [w for w in run.scan_windows if w is not None]
    hull = (min(w[0] for w in windows), max(w[1] for w in windows)) if windows else None
    ref = int(np.argmax([float(y.sum()) for y in run.intensity]))
    return LevelSummary(
        ms_level=run.ms_level,
        n_spectra=len(run),
        time_range_min=(float(run.times_min[0]), float(run.times_min[-1])),
        time_unit=run.time_unit,
        polarity=run.polarity,
        mode=run.mode,
        mode_source=run.mode_source,
        mz_range=run.mz_range,
        scan_window=hull,
        looks=detect_mode(run.mz[ref], run.intensity[ref]),
    )


def sticks_to_profile(mz, intensity, resolving_power: float, span=None):
    """A profile (uniform grid, counts per point) with each stick a Gaussian of FWHM
    m/z / ``resolving_power`` and the stick's intensity as its area."""
    mz = np.asarray(mz, float)
    y = np.asarray(intensity, float)
    if span is not None:
        keep = (mz >= span[0]) & (mz <= span[1])
        mz, y = mz[keep], y[keep]
    if mz.size == 0:
        return mz, y
    sigma = mz / resolving_power * FWHM_TO_SIGMA
    step = float(np.min(mz) / resolving_power / STICK_POINTS_PER_FWHM)
    lo, hi = mz.min() - 6 * sigma.max(), mz.max() + 6 * sigma.max()
    grid = lo + step * np.arange(int(np.ceil((hi - lo) / step)) + 1)
    half = int(np.ceil(5 * sigma.max() / step))
    centre = np.rint((mz - lo) / step).astype(np.int64)
    idx = centre[:, None] + np.arange(-half, half + 1)[None, :]
    idx = np.clip(idx, 0, grid.size - 1)
    u = (grid[idx] - mz[:, None]) / sigma[:, None]
    mass = y[:, None] * np.exp(-0.5 * u * u) * step / (sigma[:, None] * np.sqrt(2 * np.pi))
    return grid, np.bincount(idx.ravel(), weights=mass.ravel(), minlength=grid.size)


def quick_fit_basis(system: ClusterSystem | SystemDefinition):
    """The patterns the workflow deconvolves a file of ``system`` on: the kinetic observables
    (the 77 of eq 1 for the demo) for a cluster system with the dimer-exchange model, the ion
    forms (family x composition x charge x adduct) for a framework system."""

    if isinstance(system, SystemDefinition):
        if system.kinetics.model_family == "none":
            basis = ion_form_basis(system)
            # an ion form's label (family, composition, charge, adduct) is what it is called
            basis.labels["species"] = basis.labels["label"]
            return basis
        system = system.cluster_system()
    return observable_basis(system)


def _resolving_power_advice(peaks: float, fitted: float, guess: float) -> str | None:
    """The line telling the user to set the guess, when the peaks say R is elsewhere.

    The value to set is the quick fit's R (the peaks' median FWHM reads an undersampled
    peak as wider than it is); the trigger is the peaks' value, measured without a model.
    """
    if not np.isfinite(peaks) or abs(peaks / guess - 1.0) <= R_GUESS_TOLERANCE:
        return None
    best = fitted if np.isfinite(fitted) else peaks
    suggested = int(round(best, -3)) or int(round(best))
    return (
        f"resolving power: the peaks give {peaks:.0f} and the quick fit {best:.0f}, "
        f"{100 * (best / guess - 1):+.0f} % from the config's {R_GUESS_KEY} = {guess:.0f} (the "
        f"workflow fits R per file within a factor 0.6-1.6 of that guess): set {R_GUESS_KEY}: "
        f"{suggested} in the config (or --config "
        f"'deconvolution={{resolving_power_guess: {suggested}}}')"
    )


def inspect_file(
    path,
    system: ClusterSystem | SystemDefinition,
    deconvolution: DeconvolutionSettings | None = None,
    system_source: str = DEFAULT_SOURCE,
) -> Inspection:
    """Read ``path`` (every ms level, any polarity) and make the quick look described above."""

    cfg = deconvolution or DeconvolutionSettings.schema_default()  # None: the workflow's
    guess = cfg.resolving_power_guess
    max_shift = cfg.max_shift_ppm
    runs, n_spectra = read_runs(path, polarity=None)
    basis = quick_fit_basis(system)
    span = basis.mz_span
    first = next(iter(runs.values()))
    result = Inspection(str(path), first.synthetic, n_spectra, [_summary(r) for r in runs.values()],
                        system_source, span)  # fmt: skip
    expected_polarity = system.polarity
    run = runs[min(runs)]
    if run.polarity not in (None, expected_polarity):
        result.problems.append(
            f"MS{run.ms_level} spectra are {run.polarity} polarity; the cluster system's ions "
            f"are {expected_polarity} (the system file's charges)"
        )
    lo, hi = run.acquired_mz_range
    if not (lo <= span[0] and hi >= span[1]):
        result.problems.append(
            f"the MS{run.ms_level} spectra cover m/z {lo:.1f}-{hi:.1f}, which misses the species; "
            f"expected at least m/z {span[0]:.1f}-{span[1]:.1f}"
        )
    # the workflow's before-any-job rule for runs no t_max can come from (one owner)
    degenerate = degenerate_run_problem(run, span, cfg.time_bin_min)
    if degenerate is not None:
        result.problems.append(degenerate)
    ref = int(np.argmax([float(y.sum()) for y in run.intensity]))
    result.spectrum_id = run.native_ids[ref]
    result.spectrum_index = int(run.index[ref])
    result.spectrum_time_min = float(run.times_min[ref])
    mz, y = run.mz[ref], run.intensity[ref]
    if run.mode == "profile":
        shape = peak_shapes(mz, y)
        if shape is not None:
            result.resolving_power_peaks = shape.resolving_power
    margin = 0.02 * (span[1] - span[0])
    window = (span[0] - margin, span[1] + margin)
    keep = (mz >= window[0]) & (mz <= window[1])
    mz, y = mz[keep], y[keep]
    if mz.size < (1 if run.mode == "centroid" else 10) or not np.any(y > 0):
        result.problems.append(
            f"spectrum {result.spectrum_id!r} has no signal at the species' m/z "
            f"{span[0]:.1f}-{span[1]:.1f}: no fit"
        )
        return result
    if run.mode == "centroid":
        reading, _ = read_centroid_file(run.mz, run.intensity, basis, guess,
                                        cfg.centroid_intensity, max_shift)  # fmt: skip
        result.stick_reading = reading
        mz, y = reading.areas(mz, y)
        # A quick look: the sticks broadened into Gaussians at the configured resolving power
        # and fitted as a profile. (The workflow's stick fit, intercluster.centroid, makes
        # every predicted peak without a stick a measured zero, which a peak list holding
        # every local maximum of the noise, as some converters write, defeats.)
        mz, y = sticks_to_profile(mz, y, guess, window)
        r_fit = guess
        spectrum = prepare_spectrum(mz, y, None, "ignore")
        fit = fit_prepared(spectrum, basis, r_fit, scan_shift(spectrum, basis, r_fit, max_shift),
                           max_shift)  # fmt: skip
    else:
        # The fit's R search stays within a factor of its start: started from the guess, a
        # file at 70,000 measured against a 25,000 guess was fitted at the cap (40,000).
        r0 = result.resolving_power_peaks
        if not np.isfinite(r0) or r0 <= 0:
            r0 = guess
        # the same gap treatment as the workflow's deconvolution (sparse profiles)
        spectrum = prepare_spectrum(mz, y, None, cfg.gaps)
        shift0 = scan_shift(spectrum, basis, r0, max_shift)
        r_fit = fit_resolving_power([spectrum], basis, r0, shift0, max_shift, R_FIT_RANGE)
        # An undersampled peak looks wider than it is, so the peaks' R can be low by more than
        # the fit's range (0.6-1.6 x its start): at the range's edge, once more from there.
        if not R_FIT_RANGE[0] * 1.01 < r_fit / r0 < R_FIT_RANGE[1] * 0.99:
            shift0 = scan_shift(spectrum, basis, r_fit, max_shift)
            r_fit = fit_resolving_power([spectrum], basis, r_fit, shift0, max_shift,
                                        R_FIT_RANGE)  # fmt: skip
        spacing = baseline_spacing(basis) if cfg.baseline != "constant" else 0.0
        tail = 0.0
        if cfg.peak_shape != "gaussian":
            # the file's peak shape as the workflow's deconvolution chooses it, on this spectrum
            r_fit, tail = fit_peak_shape([spectrum], basis, r_fit, shift0, cfg, True, 0.0,
                                      float(np.mean(span)), spacing)  # fmt: skip
        tail_slope = 0.0
        if cfg.tail_model == "linear" and tail > 0:
            r_fit, _, tail, tail_slope = fit_tail_slope([spectrum], basis, r_fit, tail, shift0,
                                                        max_shift, 0.0, float(np.mean(span)),
                                                        spacing, False)  # fmt: skip
        if cfg.baseline == "auto":
            # ... and its baseline
            spacing = choose_baseline([spectrum], basis, r_fit, shift0, max_shift, spacing,
                                      mz_ref=float(np.mean(span)), tail=tail,
                                      tail_slope=tail_slope)  # fmt: skip
        advice = _resolving_power_advice(result.resolving_power_peaks, r_fit, guess)
        if advice is not None and tail == 0.0:  # a tailed core is narrower than its FWHM says
            result.advice.append(advice)
        # the tail's slope is about the span's centre (R is one value here: no slope)
        about = {"mz_ref": float(np.mean(span)), "tail": tail, "tail_slope": tail_slope}
        shift0 = scan_shift(spectrum, basis, r_fit, max_shift, baseline_spacing=spacing,
                            **about)  # fmt: skip
        fit = fit_prepared(spectrum, basis, r_fit, shift0, max_shift, baseline_spacing=spacing,
                           **about)  # fmt: skip
    result.resolving_power_fit = float(r_fit)
    result.shift_ppm = fit.shift_ppm
    result.residual_norm = fit.residual_norm
    result.peak_shape, result.peak_tail = fit.peak_shape, fit.peak_tail
    result.peak_tail_slope = fit.peak_tail_slope
    result.baseline_model, result.baseline_fraction = fit.baseline_model, fit.baseline_fraction
    total = float(fit.coef.sum())
    ions = basis.labels[["species", "charge", "n_first"]].copy()
    ions["intensity"] = fit.coef
    ions["fraction"] = fit.coef / total if total > 0 else np.nan
    result.ions = ions.sort_values("intensity", ascending=False, kind="stable").reset_index(
        drop=True
    )
    return result


def _range(values, fmt: str) -> str:
    return f"{values[0]:{fmt}}-{values[1]:{fmt}}"


def format_inspection(result: Inspection, top: int = 10) -> str:
    lines = [f"{result.path}" + ("  (SYNTHETIC virtual experiment)" if result.synthetic else "")]
    per_level = ", ".join(f"MS{lv.ms_level}: {lv.n_spectra}" for lv in result.levels)
    lines.append(f"spectra: {result.n_spectra} ({per_level})")
    for lv in result.levels:
        how = {"stated": "stated by cvParam", "detected": "detected from the peaks",
               "default": "not stated, not detectable: taken as"}[lv.mode_source]  # fmt: skip
        mode = f"{how} {lv.mode}" if lv.mode_source == "default" else f"{lv.mode} ({how})"
        window = f", acquired window m/z {_range(lv.scan_window, '.1f')}" if lv.scan_window else ""
        if lv.looks is not None and lv.looks != lv.mode:
            mode += f" but its most intense spectrum looks {lv.looks}"
        lines.append(
            f"MS{lv.ms_level}: {lv.n_spectra} spectra, {_range(lv.time_range_min, '.4g')} min "
            f"(file unit: {lv.time_unit}), polarity {lv.polarity or 'not stated'}, {mode}, "
            f"m/z {_range(lv.mz_range, '.1f')}{window}"
        )
    lines.append(
        f"cluster system ({result.system_source}): species at m/z "
        f"{_range(result.mz_required, '.1f')}"
    )
    lines.append(
        f"most intense spectrum: {result.spectrum_id!r} (index {result.spectrum_index}) at "
        f"{result.spectrum_time_min:.4g} min"
    )
    if np.isfinite(result.resolving_power_peaks):
        lines.append(
            "resolving power from its peaks (median m/z / FWHM): "
            f"{result.resolving_power_peaks:.0f}"
        )
    else:
        lines.append("resolving power from its peaks: not measurable (centroid or too few peaks)")
    reading = result.stick_reading
    if reading is not None:
        how = ("decided from the data: metal-atom balance spread "
               f"{reading.balance_spread[0]:.3g} as areas / {reading.balance_spread[1]:.3g} as "
               f"heights, stick-fit residual {reading.residual_norm[0]:.3g} / "
               f"{reading.residual_norm[1]:.3g}" if reading.decided_by == "auto"
               else "as the config says (deconvolution.centroid_intensity)")  # fmt: skip
        converted = (f"; converted to areas at R {reading.resolving_power:.0f}"
                     if reading.intensity == "height" else "")  # fmt: skip
        lines.append(f"centroid stick intensities: peak {reading.intensity}s ({how}){converted}")
    for problem in result.problems:
        lines.append(f"the workflow would refuse it: {problem}")
    for advice in result.advice:
        lines.append(f"to set: {advice}")
    if not result.ions.empty:
        slope = (f", {100 * result.peak_tail_slope:+.1f} % per 1000 Th"
                 if result.peak_tail_slope else "")  # fmt: skip
        shape = (f"EMG, tail {result.peak_tail:.2f} sd of the Gaussian core{slope} (R is the "
                 "core's)" if result.peak_shape == "emg" else "Gaussian")  # fmt: skip
        lines.append(f"peak shape of the quick fit: {shape}; {result.baseline_model} baseline, "
                     f"{100 * result.baseline_fraction:.1f} % of the fitted signal")  # fmt: skip
        n_seen = int((result.ions["fraction"] >= 0.005).sum())
        lines.append(
            f"quick fit of that spectrum ({len(result.ions)} ions; "
            f"R {result.resolving_power_fit:.0f}, shift {result.shift_ppm:+.2f} ppm, "
            f"residual norm {result.residual_norm:.3g}): "
            f"{n_seen} ions at >= 0.5 % of the fitted signal; the strongest:"
        )
        for row in result.ions.head(top).itertuples():
            lines.append(f"  {row.species:<24} z={row.charge:+d}  {100 * row.fraction:6.2f} %")
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected a whole number >= 1")
    return value


SPECTRA_SUFFIXES = (".mzml", ".mzml.gz")


class _ConfigItems(argparse.Action):
    """``--config`` / ``--configfile``: files in the order given; ``KEY=VALUE`` overrides.

    Both take several values, so ``--configfile a.yaml b.yaml FILE.mzML`` would swallow the
    spectra file: an item named as one (``SPECTRA_SUFFIXES``) is kept as the file instead.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        files = list(getattr(namespace, "config_files", None) or [])
        overrides = list(getattr(namespace, "overrides", None) or [])
        for item in values:
            if item.lower().endswith(SPECTRA_SUFFIXES):
                namespace.spectra_files = [*getattr(namespace, "spectra_files", []), item]
            elif self.dest == "config_items" and "=" in item and not Path(item).is_file():
                overrides.append(item)
            else:
                files.append(item)
        namespace.config_files, namespace.overrides = files, overrides


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("intercluster")
    except PackageNotFoundError:  # run from the source tree, not installed
        import tomllib

        with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]["version"]


def build_parser(prog: str = "intercluster inspect") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="mzML or mzML.gz file")
    parser.add_argument("--configfile", "--configfiles", dest="configfile_items", nargs="+",
                        metavar="FILE", action=_ConfigItems, default=None,
                        help=f"config files, merged in order over ./{DEFAULT_CONFIG} as "
                             "snakemake merges them (e.g. the overlays under config/)")  # fmt: skip
    parser.add_argument("--config", dest="config_items", nargs="+", metavar="FILE|KEY=VALUE",
                        action=_ConfigItems, default=None,
                        help="a config file (as --configfile) or, as for snakemake, KEY=VALUE "
                             "overrides applied after the files")  # fmt: skip
    parser.add_argument("--system", default=None, metavar="FILE",
                        help="cluster-system file (replaces the config's system)")
    parser.add_argument("--top", type=_positive_int, default=10, help="ions to list (default 10)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    return parser


def main(argv=None, prog: str = "intercluster inspect") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    spectra = [args.file] if args.file else []
    spectra += getattr(args, "spectra_files", [])
    if len(spectra) != 1:
        parser.error("the following arguments are required: file" if not spectra
                     else f"one spectra file at a time, got {len(spectra)}: {spectra}")  # fmt: skip
    args.file = spectra[0]
    sources = ConfigSources(
        files=tuple(getattr(args, "config_files", None) or ()),
        overrides=tuple(getattr(args, "overrides", None) or ()),
        system_file=args.system,
    )
    # pymzml reports CV-version guesses as warnings; they are not the user's concern here.
    logging.getLogger("pymzml").setLevel(logging.ERROR)
    try:
        system, deconvolution, source = load_system(sources)
        result = inspect_file(args.file, system, deconvolution, source)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_inspection(result, top=args.top))
    # a file the workflow would refuse is described, but the exit status says so (scripts)
    return EXIT_REFUSED if result.problems else 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m intercluster.inspect"))
