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

The cluster system comes from the workflow config: ``--config FILE``, else
``config.yaml`` in the current directory if there is one, else the default demo's system
file (:func:`~intercluster.system.default_system`). A file the workflow would refuse (wrong
polarity, m/z range missing the species) is still described, with the workflow's one-line
reason. A file that cannot be read at all, or a bad config, ends with that one line on
stderr and exit status 2, as in the workflow.

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

from .ingest import SpectraRun, degenerate_run_problem, detect_mode, peak_shapes, read_runs
from .isotopes import FWHM_TO_SIGMA
from .settings import DeconvolutionSettings
from .system import ClusterSystem, default_system, system_of_config
from .validation import InputError

if TYPE_CHECKING:
    from .centroid import StickReading

DEFAULT_CONFIG = "config.yaml"
REPO_DIR = Path(__file__).resolve().parents[3]  # where resources/systems/ ships
STICK_POINTS_PER_FWHM = 5  # sampling of the profile a centroid spectrum is broadened into


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
    #: the ions by fitted signal: species, charge, n_first, intensity, fraction
    ions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: why the workflow would refuse the file (one line each)
    problems: list[str] = field(default_factory=list)
    #: centroid files: the sticks read as "area" or "height" and how that was decided
    #: (:class:`intercluster.centroid.StickReading`); None for profiles
    stick_reading: StickReading | None = None


# Where the system comes from when no config.yaml is found.
DEFAULT_SOURCE = "the default demo's system file (no config.yaml here)"


def load_system(config_path: str | None, cwd: Path | None = None):
    """``(ClusterSystem, the config's DeconvolutionSettings, where they came from)``."""
    from .textfiles import load_yaml
    from .validation import validate_config

    if config_path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG
        if not candidate.is_file():
            return default_system(), DeconvolutionSettings.schema_default(), DEFAULT_SOURCE
        config_path = str(candidate)
    path = Path(config_path)
    where = f"config ({config_path})"
    if not path.is_file():
        raise InputError(f"{where}: file not found; expected the workflow's config.yaml")
    config = load_yaml(path, where)  # UTF-8, bounded size and alias expansion
    if not isinstance(config, dict):
        raise InputError(f"{where}: expected a mapping of config sections (cluster, ...)")
    validate_config(config, where=where)
    # The config's system file: from the current directory, the config's, or the workflow's.
    system_file = system_of_config(config, where, search_dirs=[path.parent, REPO_DIR])
    deconvolution = DeconvolutionSettings.from_config(config["deconvolution"])
    return system_file.cluster_system(), deconvolution, where


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


def inspect_file(
    path,
    system: ClusterSystem,
    deconvolution: DeconvolutionSettings | None = None,
    system_source: str = DEFAULT_SOURCE,
) -> Inspection:
    """Read ``path`` (every ms level, any polarity) and make the quick look described above."""
    from .deconvolution import (
        fit_prepared,
        fit_resolving_power,
        observable_basis,
        prepare_spectrum,
        scan_shift,
    )

    cfg = deconvolution or DeconvolutionSettings.schema_default()  # None: the workflow's
    guess = cfg.resolving_power_guess
    max_shift = cfg.max_shift_ppm
    runs, n_spectra = read_runs(path, polarity=None)
    basis = observable_basis(system)
    span = basis.mz_span
    first = next(iter(runs.values()))
    result = Inspection(str(path), first.synthetic, n_spectra, [_summary(r) for r in runs.values()],
                        system_source, span)  # fmt: skip
    expected_polarity = "negative" if system.monomer_charge < 0 else "positive"
    run = runs[min(runs)]
    if run.polarity not in (None, expected_polarity):
        result.problems.append(
            f"MS{run.ms_level} spectra are {run.polarity} polarity; the cluster system's ions "
            f"are {expected_polarity} (the system file's charges)"
        )
    lo, hi = run.mz_range
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
        from .centroid import read_centroid_file

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
        r0 = result.resolving_power_peaks
        if not np.isfinite(r0) or not 0.5 * guess <= r0 <= 2.0 * guess:
            r0 = guess
        # the same gap treatment as the workflow's deconvolution (sparse profiles)
        spectrum = prepare_spectrum(mz, y, None, cfg.gaps)
        shift0 = scan_shift(spectrum, basis, r0, max_shift)
        r_fit = fit_resolving_power([spectrum], basis, r0, shift0, max_shift)
        shift0 = scan_shift(spectrum, basis, r_fit, max_shift)
        fit = fit_prepared(spectrum, basis, r_fit, shift0, max_shift)
    result.resolving_power_fit = float(r_fit)
    result.shift_ppm = fit.shift_ppm
    result.residual_norm = fit.residual_norm
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
    if not result.ions.empty:
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


def build_parser(prog: str = "intercluster inspect") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="mzML or mzML.gz file")
    parser.add_argument("--config", default=None,
                        help=f"workflow config (default: ./{DEFAULT_CONFIG} if present, else "
                             "the default demo's system file)")  # fmt: skip
    parser.add_argument("--top", type=int, default=10, help="ions to list (default 10)")
    return parser


def main(argv=None, prog: str = "intercluster inspect") -> int:
    args = build_parser(prog).parse_args(argv)
    # pymzml reports CV-version guesses as warnings; they are not the user's concern here.
    logging.getLogger("pymzml").setLevel(logging.ERROR)
    try:
        system, deconvolution, source = load_system(args.config)
        result = inspect_file(args.file, system, deconvolution, source)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_inspection(result, top=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m intercluster.inspect"))
