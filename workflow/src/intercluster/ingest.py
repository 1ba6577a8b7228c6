"""Read time-resolved spectra from mzML (pymzml) with checks that name the file and spectrum.

What is accepted (docs/science.md §1, §3):

* plain or gzip-compressed (indexed) mzML, as written by msconvert, psims or the
  instrument software; any CV version (or none) in the ``cvList``;
* profile or centroid arrays, one mode per ms level: the mode comes from the spectrum's
  cvParam (MS:1000128 profile, MS:1000127 centroid) or, where a spectrum states neither,
  from its arrays (:func:`detect_mode`). A file whose spectra of one ms level mix the two
  modes is an error;
* scan start time (MS:1000016) in minutes, seconds, milliseconds or hours; everything is
  returned in minutes. A missing time or unit, or an unknown unit, is an error;
* any native id format. msconvert's Bruker ids (``merged=0 frame=N scanStart=0
  scanEnd=917``) make pymzml's ``spectrum.ID`` collapse to one number, so the full id
  string is kept, plus a running index (position in the file);
* the polarity the cluster system's charges imply (negative for the demo); a spectrum of
  the other polarity is an error. Spectra that state no polarity are accepted;
* the acquired m/z window of each spectrum (MS:1000501 / MS:1000500) is kept where the
  file states it.

A file with chromatograms only (SRM/MRM exports) has nothing to deconvolve and is an error.
Every problem raises :class:`~intercluster.errors.InputError` with one line naming the
file (and the spectrum) and what is expected. Every file opened here is closed again, on
the error paths too (pymzml's reader keeps its handle open until it is closed).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import SYNTHETIC_LABEL
from .observables import MIN_TMAX_TIMES

log = logging.getLogger(__name__)

#: The largest intensity accepted in a spectrum. Detectors count far fewer ions per point
#: (an Orbitrap's or a TOF's summed spectra stay below ~1e12); a larger value is a unit or
#: conversion error, and squares of values near 1e154 overflow the deconvolution's float64
#: least squares (to inf, then NaN in the tables).
MAX_INTENSITY = 1e20
#: minutes per unit, by unit name and UO accession
TIME_UNITS = {
    "minute": 1.0,
    "uo:0000031": 1.0,
    "second": 1.0 / 60.0,
    "uo:0000010": 1.0 / 60.0,
    "millisecond": 1.0 / 60000.0,
    "uo:0000028": 1.0 / 60000.0,
    "hour": 60.0,
    "uo:0000032": 60.0,
}
TIME_UNIT_NAMES = {"uo:0000031": "minute", "uo:0000010": "second", "uo:0000028": "millisecond",
                   "uo:0000032": "hour"}  # fmt: skip
NEGATIVE_SCAN = "MS:1000129"
CENTROID_CV = "MS:1000127"
PROFILE_CV = "MS:1000128"
POSITIVE_SCAN = "MS:1000130"
SCAN_START_TIME = "MS:1000016"
SCAN_WINDOW_LOWER = "MS:1000501"
SCAN_WINDOW_UPPER = "MS:1000500"

#: Profile/centroid detection (:func:`detect_mode`). An isotope peak the deconvolution can
#: fit is narrower than m/z / MIN_PROFILE_RESOLVING_POWER (the isotope peaks of a cluster
#: ion at m/z 5000-7500 are 1/z Th apart; at R below ~3000 they merge into one envelope).
MIN_PROFILE_RESOLVING_POWER = 3000.0
#: A profile spectrum samples a peak by at least this many points above its half height. A
#: width of 2 points or more (interpolated) means a neighbour of the apex lies above half
#: height; a centroid's stick between lower neighbours measures less.
MIN_POINTS_PER_PEAK = 2.0
#: Peaks measured per spectrum (the most prominent) and how far above the noise they must be.
N_MODE_PEAKS = 10
MODE_PEAK_SNR = 10.0
#: A spectrum whose strongest point is below this many times its median non-zero point has
#: no peak that stands out of the noise (a blank): its mode cannot be told from its arrays.
MODE_MIN_DYNAMIC_RANGE = 8.0


@dataclass
class SpectraRun:
    """Spectra of one ms level from one file, in file order."""

    path: str
    ms_level: int
    times_min: np.ndarray
    native_ids: list[str]
    index: np.ndarray  # running index of each spectrum in the file (all ms levels)
    mz: list[np.ndarray]
    intensity: list[np.ndarray]
    precursor_mz: list[float | None] = field(default_factory=list)
    synthetic: bool = False
    #: "profile" or "centroid": the spectra's cvParams MS:1000128 / MS:1000127, else
    #: :func:`detect_mode` on their arrays ("profile" when neither can tell)
    mode: str = "profile"
    #: acquired m/z window of each spectrum (MS:1000501 lower, MS:1000500 upper limit; the
    #: hull of its windows when it has several), None where the file does not state it
    scan_windows: list[tuple[float, float] | None] = field(default_factory=list)
    #: "stated" (every spectrum's cvParam), "detected" (from the arrays of at least one
    #: spectrum) or "default" (neither could tell)
    mode_source: str = "stated"
    #: "negative" / "positive" as the spectra state it ("mixed" when both appear and no
    #: polarity was required), None when no spectrum states it
    polarity: str | None = None
    #: the unit the file gives scan times in (``times_min`` is always in minutes)
    time_unit: str = "minute"
    #: per spectrum, the level below which its left-out points lie when the spectrum says
    #: more than its lowest written point: a time bin's sum of its members' lowest written
    #: points (:func:`bin_spectra`; a point none of them wrote may be up to that). Empty, or
    #: None for a spectrum: its lowest written point (deconvolution.prepare_spectrum)
    detection_levels: list[float | None] = field(default_factory=list)
    #: (lower, upper) m/z of each MS2 spectrum's isolation window, None where not stated
    isolation_windows: list[tuple[float, float] | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.native_ids)

    @property
    def mz_range(self) -> tuple[float, float]:
        lows = [m[0] for m in self.mz if m.size]
        highs = [m[-1] for m in self.mz if m.size]
        return (float(min(lows)), float(max(highs))) if lows else (np.nan, np.nan)

    @property
    def acquired_mz_range(self) -> tuple[float, float]:
        """The m/z range the file can speak for: a profile's data; a peak list's stated scan
        windows together with its peaks. A peak list holds only the peaks found, so a species
        absent from every spectrum (a fragment that never forms, a composition not reached)
        would otherwise make a file of the right range look too narrow. A profile samples its
        whole range, so there the data decide (a truncated export is refused)."""
        windows = self.scan_windows if self.mode == "centroid" else []
        lows = [m[0] for m in self.mz if m.size] + [w[0] for w in windows if w]
        highs = [m[-1] for m in self.mz if m.size] + [w[1] for w in windows if w]
        return (float(min(lows)), float(max(highs))) if lows else (np.nan, np.nan)


def _head(path: Path, gzipped: bool) -> bytes:
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as handle:
            return handle.read(4096)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"{path}: gzip file cannot be decompressed ({exc}); expected gzip-compressed mzML"
        ) from None


def _readable_copy(path: Path, gzipped: bool, tmpdir: str) -> Path:
    """pymzml reads ``*.gz`` itself; gzip content under another name is unpacked first."""
    if not gzipped or path.name.endswith(".gz"):
        return path
    target = Path(tmpdir) / (path.name + ".mzML")
    try:
        with gzip.open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"{path}: gzip file cannot be decompressed ({exc}); expected gzip-compressed mzML"
        ) from None
    return target


def _count_tag(path: Path, gzipped: bool, tag: bytes, chunk: int = 1 << 20) -> int:
    """Occurrences of ``tag`` in the (decompressed) file; only read on an error path."""
    count, tail = 0, b""
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as handle:
        while block := handle.read(chunk):
            data = tail + block
            count += data.count(tag)
            tail = data[-(len(tag) - 1) :]  # too short to hold a whole tag: none counted twice
    return count


def _scan_time(spectrum, where: str) -> tuple[float, str]:
    """(scan start time in minutes, the unit's name as the file gives it)."""
    element = spectrum.element.find(f".//*[@accession='{SCAN_START_TIME}']")
    if element is None:
        raise InputError(
            f"{where}: no scan start time (MS:1000016); expected a scan start time in minutes "
            "or seconds"
        )
    try:
        value = float(element.get("value"))
    except (TypeError, ValueError):
        raise InputError(
            f"{where}: scan start time {element.get('value')!r} is not a number"
        ) from None
    unit = element.get("unitName") or element.get("unitAccession")
    if not unit:
        raise InputError(
            f"{where}: scan start time has no unit (unitName/unitAccession); expected minute "
            "or second"
        )
    key = unit.strip().lower()
    factor = TIME_UNITS.get(key)
    if factor is None:
        raise InputError(
            f"{where}: scan start time unit {unit!r} is unknown; expected minute or second "
            "(or millisecond, hour)"
        )
    if not np.isfinite(value):
        raise InputError(f"{where}: scan start time is {value}; expected a finite number")
    return value * factor, TIME_UNIT_NAMES.get(key, key)


def _polarity(spectrum) -> str | None:
    if spectrum.element.find(f".//*[@accession='{NEGATIVE_SCAN}']") is not None:
        return "negative"
    if spectrum.element.find(f".//*[@accession='{POSITIVE_SCAN}']") is not None:
        return "positive"
    return None


def _spectrum_mode(spectrum) -> str | None:
    """The mode ("centroid" or "profile") the spectrum's cvParam states, None when it says none."""
    if spectrum.element.find(f".//*[@accession='{CENTROID_CV}']") is not None:
        return "centroid"
    if spectrum.element.find(f".//*[@accession='{PROFILE_CV}']") is not None:
        return "profile"
    return None


def _scan_window(spectrum) -> tuple[float, float] | None:
    """The acquired m/z window (hull of the spectrum's scan windows), None when not stated."""

    def values(accession):
        out = []
        for element in spectrum.element.iterfind(f".//*[@accession='{accession}']"):
            try:
                out.append(float(element.get("value")))
            except (TypeError, ValueError):
                return []
        return out

    lows, highs = values(SCAN_WINDOW_LOWER), values(SCAN_WINDOW_UPPER)
    if not lows or not highs:
        return None
    lo, hi = min(lows), max(highs)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        return None
    return lo, hi


ISOLATION_TARGET = "MS:1000827"
ISOLATION_LOWER_OFFSET = "MS:1000828"
ISOLATION_UPPER_OFFSET = "MS:1000829"


def _isolation_window(spectrum) -> tuple[float, float] | None:
    """(lower, upper) m/z of the precursor's isolation window where the file states its
    target and both offsets (None otherwise)."""
    values = []
    for accession in (ISOLATION_TARGET, ISOLATION_LOWER_OFFSET, ISOLATION_UPPER_OFFSET):
        element = spectrum.element.find(f".//*[@accession='{accession}']")
        try:
            values.append(float(element.get("value")))
        except (AttributeError, TypeError, ValueError):
            return None
    target, lower, upper = values
    if not all(np.isfinite(values)) or lower < 0 or upper < 0 or lower + upper <= 0:
        return None
    return target - lower, target + upper


def _precursor_mz(spectrum) -> float | None:
    element = spectrum.element.find(".//*[@accession='MS:1000744']")  # selected ion m/z
    try:
        return float(element.get("value")) if element is not None else None
    except (TypeError, ValueError):
        return None


# --- profile or centroid ----------------------------------------------------------------------
@dataclass(frozen=True)
class PeakShape:
    """Widths at half height of the strongest peaks of one spectrum."""

    mz: np.ndarray  # apex m/z of each peak
    points: np.ndarray  # width in points (interpolated between the points around half height)
    fwhm: np.ndarray  # width in m/z (Th)

    @property
    def resolving_power(self) -> float:
        """Median m/z / FWHM of the peaks (what the spectrum would resolve if profile)."""
        return float(np.median(self.mz / self.fwhm)) if self.mz.size else float("nan")


def _half_height_crossings(y: np.ndarray, apex: int, level: float) -> tuple[float, float]:
    """Fractional indices, left and right of ``apex``, where ``y`` falls to ``level``
    (linear between the points; the array's ends where it does not)."""
    below = np.flatnonzero(y[:apex] <= level)
    if below.size:
        j = int(below[-1])  # y[j] <= level < y[j + 1]
        left = j + (level - y[j]) / (y[j + 1] - y[j])
    else:
        left = 0.0
    below = np.flatnonzero(y[apex + 1 :] <= level)
    if below.size:
        j = apex + 1 + int(below[0])  # y[j - 1] > level >= y[j]
        right = j - (level - y[j]) / (y[j - 1] - y[j])
    else:
        right = float(y.size - 1)
    return float(left), float(right)


def peak_shapes(mz, intensity, n_peaks: int = N_MODE_PEAKS, snr: float = MODE_PEAK_SNR):
    """:class:`PeakShape` of the ``n_peaks`` strongest peaks at least ``snr`` noise above the
    baseline (None when fewer than 3 are, or when nothing stands out of the noise: see
    :data:`MODE_MIN_DYNAMIC_RANGE`).

    The baseline is the median point, the noise the median point-to-point change among the
    weaker half of the points (the baseline of a profile spectrum; the small sticks of a
    centroid list). A peak's width is taken at half its height above the baseline; a local
    maximum inside the half-height width of a stronger one (noise on its top, the jagged
    sticks of one envelope) is the same peak. Written with numpy rather than
    ``scipy.signal.find_peaks``/``peak_widths``, whose import alone takes seconds.
    """
    mz = np.asarray(mz, float)
    y = np.asarray(intensity, float)
    if y.size < 5 or not np.any(y > 0):
        return None
    if y.max() < MODE_MIN_DYNAMIC_RANGE * np.median(y[y > 0]):
        return None
    base = float(np.median(y))
    weak = y <= base
    steps = np.abs(np.diff(y))[weak[:-1] & weak[1:]]
    noise = float(np.median(steps)) if steps.size else 0.0
    inner = np.flatnonzero((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:])) + 1
    inner = inner[y[inner] - base > max(snr * noise, 0.0)]
    apexes, widths = [], []
    for apex in inner[np.argsort(y[inner], kind="stable")[::-1]]:
        if any(lo <= apex <= hi for lo, hi in widths):
            continue
        widths.append(_half_height_crossings(y, int(apex), base + 0.5 * (y[apex] - base)))
        apexes.append(int(apex))
        if len(apexes) == n_peaks:
            break
    if len(apexes) < 3:
        return None
    left, right = np.array(widths).T
    idx = np.arange(y.size, dtype=float)
    fwhm = np.interp(right, idx, mz) - np.interp(left, idx, mz)
    ok = fwhm > 0
    if ok.sum() < 3:
        return None
    return PeakShape(mz[apexes][ok], (right - left)[ok], fwhm[ok])


def detect_mode(mz, intensity) -> str | None:
    """The mode ("profile" or "centroid") of a spectrum that does not say, from its arrays;
    None when its peaks are too few or too weak to tell.

    A profile spectrum samples each peak by several points at its native spacing, and its
    peaks are isotope peaks: at least :data:`MIN_POINTS_PER_PEAK` points above half height
    and narrower than m/z / :data:`MIN_PROFILE_RESOLVING_POWER`. A centroid list has one
    point per peak, so its strongest peaks are either single points (the neighbours, other
    peaks, lie below half height) or, where the sticks of an isotope envelope follow each
    other 1/z Th apart, "peaks" as wide as the whole envelope. Both are judged on the
    medians over the strongest peaks (:func:`peak_shapes`).
    """
    shape = peak_shapes(mz, intensity)
    if shape is None:
        return None
    sampled = float(np.median(shape.points)) >= MIN_POINTS_PER_PEAK
    narrow = shape.resolving_power >= MIN_PROFILE_RESOLVING_POWER
    return "profile" if sampled and narrow else "centroid"


def _run_mode(path, ms_level, stated, mzs, intensities, ids, index) -> tuple[str, str]:
    """(mode, source) of one ms level's spectra; a mix of modes is an error."""
    modes, how = [], []
    for k, mode in enumerate(stated):
        if mode is None:
            mode = detect_mode(mzs[k], intensities[k])
            how.append("detected from its peaks")
        else:
            how.append(f"cvParam {CENTROID_CV if mode == 'centroid' else PROFILE_CV}")
        modes.append(mode)
    known = [k for k, mode in enumerate(modes) if mode is not None]
    if not known:
        return "profile", "default"
    first = known[0]
    for k in known:
        if modes[k] != modes[first]:
            raise InputError(
                f"{path}: spectrum {ids[k]!r} (index {index[k]}) is {modes[k]} ({how[k]}) but "
                f"spectrum {ids[first]!r} (index {index[first]}) is {modes[first]} "
                f"({how[first]}); expected every MS{ms_level} spectrum in one mode (profile or "
                "centroid): convert the file again with one peak-picking setting"
            )
    source = "stated" if all(mode is not None for mode in stated) else "detected"
    return modes[first], source


# --- reading ----------------------------------------------------------------------------------
def _close_reader(reader) -> None:
    info = getattr(reader, "info", None)
    handle = info.get("file_object") if info is not None else None
    if handle is not None:
        handle.close()


@contextlib.contextmanager
def _open_reader(path: Path, source: Path):
    """A pymzml reader that is closed on leaving, also when opening it fails half-way.

    ``pymzml.run.Reader(...)`` opens the file before it parses the header; an exception
    from the parsing would leave that handle to the garbage collector (a ResourceWarning,
    and on Windows a temporary copy that cannot be removed). So the reader object is made
    first and initialised in a ``try``, which keeps a reference to close.
    """
    import pymzml

    reader = pymzml.run.Reader.__new__(pymzml.run.Reader)
    try:
        reader.__init__(str(source))
    except Exception as exc:  # noqa: BLE001 - any parser failure is the file's
        _close_reader(reader)
        raise InputError(
            f"{path}: cannot be opened as mzML ({type(exc).__name__}: {exc})"
        ) from None
    try:
        yield reader
    finally:
        _close_reader(reader)


def _check_file(path: Path) -> tuple[bool, bool]:
    """(gzipped, synthetic) after the checks that need no XML parser."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; expected an mzML file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty; expected an mzML file")
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    head = _head(path, gzipped)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise InputError(f"{path}: is not XML; expected an mzML file")
    if b"mzML" not in head:
        raise InputError(f"{path}: is XML but not mzML (no <mzML> element at the start)")
    synthetic = SYNTHETIC_LABEL.encode() in head or b"SYNTHETIC" in head
    return gzipped, synthetic


def read_runs(path, polarity: str | None = None, ms_levels=None) -> tuple[dict, int]:
    """Every spectrum of the file, by ms level: ``({level: SpectraRun}, number of spectra)``.

    ``ms_levels``: the levels to read (None: all); the spectra of other levels are counted
    but not checked. The checks of :func:`read_spectra` apply to every level read.
    """
    path = Path(path)
    gzipped, synthetic = _check_file(path)
    with tempfile.TemporaryDirectory(prefix="intercluster-") as tmpdir:
        source = _readable_copy(path, gzipped, tmpdir)
        with _open_reader(path, source) as reader:
            runs, n_spectra = _read(path, reader, ms_levels, polarity, synthetic)
    if n_spectra == 0:
        n_chrom = _count_tag(path, gzipped, b"<chromatogram ")
        if n_chrom:
            raise InputError(
                f"{path}: no spectra, only {n_chrom} chromatogram(s); expected mzML with mass "
                "spectra (a chromatogram-only export, e.g. SRM/MRM, has nothing to deconvolve)"
            )
        raise InputError(f"{path}: no spectra found; expected mzML with a spectrumList")
    return runs, n_spectra


def read_spectra(
    path,
    ms_level: int = 1,
    polarity: str | None = "negative",
    mz_required: tuple[float, float] | None = None,
) -> SpectraRun:
    """Read every spectrum of ``ms_level`` from an mzML file, with the checks listed above.

    ``mz_required``: the m/z span the species occupy; the file's spectra must reach it.
    """
    path = Path(path)
    runs, n_spectra = read_runs(path, polarity, ms_levels={ms_level})
    if ms_level not in runs:
        raise InputError(
            f"{path}: no MS{ms_level} spectra among {n_spectra} spectra; expected ms level "
            f"{ms_level}"
        )
    run = runs[ms_level]
    if mz_required is not None:
        lo, hi = run.acquired_mz_range
        if not (lo <= mz_required[0] and hi >= mz_required[1]):
            raise InputError(
                f"{path}: the MS{ms_level} spectra cover m/z {lo:.1f}-{hi:.1f}, which misses the "
                f"species; expected at least m/z {mz_required[0]:.1f}-{mz_required[1]:.1f}"
            )
    log.info("%s: %d MS%d %s spectra, %.3g-%.3g min", path, len(run), ms_level, run.mode,
             run.times_min[0], run.times_min[-1])  # fmt: skip
    return run


@dataclass
class _Level:
    """What is collected per ms level while the file is read."""

    times: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    index: list = field(default_factory=list)
    mz: list = field(default_factory=list)
    intensity: list = field(default_factory=list)
    precursors: list = field(default_factory=list)
    modes: list = field(default_factory=list)
    windows: list = field(default_factory=list)
    polarities: set = field(default_factory=set)
    units: list = field(default_factory=list)
    isolation: list = field(default_factory=list)


def _read(path, reader, ms_levels, polarity, synthetic) -> tuple[dict, int]:
    levels: dict[int, _Level] = {}
    last = "the start of the spectrum list"
    n = -1
    try:
        for n, spectrum in enumerate(reader):
            native_id = spectrum.element.get("id") or f"index={n}"
            where = f"{path}: spectrum {native_id!r} (index {n})"
            last = f"spectrum {native_id!r} (index {n})"
            level = spectrum.ms_level
            if level is None:
                expected = min(ms_levels) if ms_levels else 1
                raise InputError(f"{where}: no ms level (MS:1000511); expected ms level {expected}")
            level = int(level)
            if ms_levels is not None and level not in ms_levels:
                continue
            found = _polarity(spectrum)
            if polarity and found and found != polarity:
                raise InputError(
                    f"{where}: {found} polarity; expected {polarity} ions (the cluster "
                    "system's charges)"
                )
            t, unit = _scan_time(spectrum, where)
            mz = np.asarray(spectrum.mz, dtype=float)
            y = np.asarray(spectrum.i, dtype=float)
            if mz.shape != y.shape:
                raise InputError(
                    f"{where}: m/z and intensity arrays differ in length ({mz.size} vs {y.size})"
                )
            if mz.size == 0:
                raise InputError(
                    f"{where}: has no data points; expected m/z and intensity arrays with data"
                )
            if not np.all(np.isfinite(mz)) or not np.all(np.isfinite(y)):
                raise InputError(
                    f"{where}: NaN or infinite values in the arrays; expected finite numbers"
                )
            if np.any(y < 0):
                raise InputError(
                    f"{where}: negative intensities (min {y.min():g}); expected counts >= 0"
                )
            if y.max() > MAX_INTENSITY:
                raise InputError(
                    f"{where}: intensity {y.max():.3g} at m/z {mz[np.argmax(y)]:.4f}; expected "
                    f"counts below {MAX_INTENSITY:.0e} (a value this large is a unit or "
                    "conversion error)"
                )
            if np.any(np.diff(mz) < 0):
                order = np.argsort(mz, kind="stable")
                mz, y = mz[order], y[order]
            got = levels.setdefault(level, _Level())
            got.times.append(t)
            got.units.append(unit)
            got.ids.append(native_id)
            got.index.append(n)
            got.mz.append(mz)
            got.intensity.append(y)
            got.precursors.append(_precursor_mz(spectrum) if level > 1 else None)
            got.isolation.append(_isolation_window(spectrum) if level > 1 else None)
            got.modes.append(_spectrum_mode(spectrum))
            got.windows.append(_scan_window(spectrum))
            if found:
                got.polarities.add(found)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt file
        raise InputError(
            f"{path}: unreadable after {last} ({type(exc).__name__}: {exc}); the file is "
            "truncated or not valid mzML"
        ) from None
    runs = {level: _assemble(path, level, got, synthetic) for level, got in sorted(levels.items())}
    return runs, n + 1


def _assemble(path, ms_level: int, got: _Level, synthetic: bool) -> SpectraRun:
    t = np.asarray(got.times)
    if t[0] < 0:
        raise InputError(
            f"{path}: spectrum {got.ids[0]!r} (index {got.index[0]}): scan time {t[0]:.6g} min; "
            "expected scan times >= 0 (minutes since the acquisition started), increasing"
        )
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        k = int(bad[0]) + 1
        what = "duplicate" if t[k] == t[k - 1] else "decreasing"
        raise InputError(
            f"{path}: spectrum {got.ids[k]!r} (index {got.index[k]}): {what} scan time "
            f"{t[k]:.6g} min after {t[k - 1]:.6g} min; expected strictly increasing scan times"
        )
    mode, source = _run_mode(path, ms_level, got.modes, got.mz, got.intensity, got.ids,
                             got.index)  # fmt: skip
    polarity = (None if not got.polarities else
                got.polarities.pop() if len(got.polarities) == 1 else "mixed")  # fmt: skip
    return SpectraRun(str(path), ms_level, t, got.ids, np.asarray(got.index), got.mz,
                      got.intensity, got.precursors, synthetic, mode, got.windows, source,
                      polarity, got.units[0], isolation_windows=got.isolation)  # fmt: skip


def rebin_sum(mz_list: list[np.ndarray], intensity_list: list[np.ndarray]):
    """Sum profile spectra on different m/z grids, keeping every count (area-preserving).

    Each point stands for the m/z interval halfway to its neighbours (half its native step
    at a gap edge or an end, :func:`intercluster.isotopes.point_grid`), its counts spread
    evenly over it. The common grid is the points of the spectrum with the most points,
    and, where it has no point but another spectrum has, that spectrum's points (their
    intervals clipped to what is not yet covered). Every member's counts are split onto the
    common intervals by overlap, so the sum's total is the members' total; m/z that no
    member covers stays a gap. Returns ``(mz, intensity)``.
    """
    from .isotopes import point_grid

    grids = [point_grid(mz) for mz in mz_list]
    edges = np.unique(np.concatenate([np.concatenate([g.lower, g.upper]) for g in grids]))
    left, right = edges[:-1], edges[1:]
    middle = 0.5 * (left + right)
    owner = np.full(middle.size, -1, np.int64)
    owner_point = np.full(middle.size, -1, np.int64)
    counts = np.zeros(middle.size)
    priority = sorted(range(len(mz_list)), key=lambda m: -mz_list[m].size)
    for rank, m in enumerate(priority):
        g, y = grids[m], np.asarray(intensity_list[m], float)
        j = np.searchsorted(g.lower, middle, side="right") - 1
        inside = (j >= 0) & (middle < g.upper[np.maximum(j, 0)])
        j = j[inside]
        share = (right[inside] - left[inside]) / (g.upper[j] - g.lower[j])
        counts[inside] += y[j] * share
        free = inside & (owner < 0)
        owner[free] = rank
        owner_point[free] = np.searchsorted(g.lower, middle[free], side="right") - 1
    covered = np.flatnonzero(owner >= 0)
    if covered.size == 0:
        return np.zeros(0), np.zeros(0)
    key_change = np.ones(covered.size, bool)
    key_change[1:] = (
        (owner[covered[1:]] != owner[covered[:-1]])
        | (owner_point[covered[1:]] != owner_point[covered[:-1]])
        | (covered[1:] != covered[:-1] + 1)
    )
    starts = np.flatnonzero(key_change)
    ends = np.append(starts[1:], covered.size) - 1
    intensity = np.add.reduceat(counts[covered], starts)
    lo, hi = left[covered[starts]], right[covered[ends]]
    mz = np.empty(starts.size)
    first = covered[starts]
    for rank, m in enumerate(priority):
        sel = owner[first] == rank
        mz[sel] = np.asarray(mz_list[m], float)[owner_point[first[sel]]]
    clipped = (mz < lo) | (mz > hi)
    mz[clipped] = 0.5 * (lo[clipped] + hi[clipped])
    return mz, intensity


def time_bins(times_min, bin_min: float) -> np.ndarray:
    """The time bin of each spectrum (:func:`bin_spectra`; 0: every spectrum its own bin)."""
    times = np.asarray(times_min, float)
    if not bin_min or bin_min <= 0 or times.size == 0:
        return np.arange(times.size)
    return np.floor((times - times[0]) / bin_min + 1e-9).astype(np.int64)


# --- runs the workflow cannot use -------------------------------------------------------------
#: A dead time above this many minutes is unusual (mixing to the first spectrum takes seconds
#: to a minute or two): a warning in the log and in run.json, not an error.
DEAD_TIME_WARN_MIN = 10.0


def degenerate_run_problem(run: SpectraRun, mz_span, time_bin_min: float = 0.0) -> str | None:
    """Why no t_max can be measured on ``run`` (its MS1 spectra), None when it can.

    The one rule the workflow applies before any job (:func:`check_sample_run`) and
    ``intercluster inspect`` reports: at least
    :data:`~intercluster.observables.MIN_TMAX_TIMES` time points (after
    ``deconvolution.time_bin_min``), not every spectrum zero, and signal at the species'
    m/z (``mz_span``) in at least that many time points. The intensities are normalised to
    the total of the observables, so in a time point with signal the largest of N
    observables is at least 1/N (1/77 for the demo): above ``fit.tmax.min_signal``'s default
    0.01. A run with no signal at the species' m/z is therefore the run in which no
    observable rises above the threshold (a ``min_signal`` above 1/N is judged at the t_max
    stage, after the deconvolution).
    """

    bins = time_bins(run.times_min, time_bin_min)
    n_points = int(np.unique(bins).size)
    level = f"MS{run.ms_level}"
    binned = (f" ({n_points} time points with deconvolution.time_bin_min = {time_bin_min:g})"
              if time_bin_min and n_points != len(run) else "")  # fmt: skip
    if n_points < MIN_TMAX_TIMES:
        return (
            f"{len(run)} {level} spectra{binned}; t_max needs at least {MIN_TMAX_TIMES} time "
            "points (a quadratic through the top of each curve); expected a time series"
        )
    totals = np.array([float(np.sum(y)) for y in run.intensity])
    if not np.any(totals > 0):
        return f"all {len(run)} {level} spectra are zero; expected measured intensities"
    lo, hi = float(mz_span[0]), float(mz_span[1])
    signal = np.array([float(np.sum(y[(mz >= lo) & (mz <= hi)]))
                       for mz, y in zip(run.mz, run.intensity, strict=True)])  # fmt: skip
    with_signal = int(np.unique(bins[signal > 0]).size)
    if with_signal < MIN_TMAX_TIMES:
        return (
            f"signal at the species' m/z {lo:.1f}-{hi:.1f} in {with_signal} of {n_points} time "
            f"points; t_max needs at least {MIN_TMAX_TIMES} (no observable can rise above "
            "fit.tmax.min_signal)"
        )
    return None


def dead_time_problem(run: SpectraRun, dead_time_s: float) -> tuple[str | None, str | None]:
    """``(refusal, warning)`` for a sample's dead time against its run (None: none).

    Refused: a dead time longer than the run (its last minus its first scan time): the
    sheet's seconds were most likely meant as something else. Warned: above
    :data:`DEAD_TIME_WARN_MIN` minutes.
    """
    length_min = float(run.times_min[-1] - run.times_min[0]) if len(run) else 0.0
    dead_min = float(dead_time_s) / 60.0
    said = f"dead_time_s = {dead_time_s:g} ({dead_min:.4g} min)"
    if dead_min > length_min:
        return (
            f"{said} is longer than the run ({length_min:.4g} min of spectra); expected the "
            "seconds from mixing to the first spectrum"
        ), None
    if dead_min > DEAD_TIME_WARN_MIN:
        return None, (
            f"{said} is unusually long (above {DEAD_TIME_WARN_MIN:g} min); check the sheet: it "
            "is the seconds from mixing to the first spectrum"
        )
    return None, None


def check_sample_run(path, sample: str, mz_span, time_bin_min: float, dead_time_s: float,
                     cache_dir=None, polarity: str | None = None) -> list[str]:  # fmt: skip
    """The checks of a sample's MS1 run the workflow makes before any job; returns warnings.

    Raises :class:`InputError` with one line naming the file and the sample for a degenerate
    run (:func:`degenerate_run_problem`) or a dead time longer than the run
    (:func:`dead_time_problem`). A file that cannot be read at all is left to the
    ``deconvolve`` job, whose reading names the spectrum (returns no warnings), and so is a
    run of the other ``polarity`` (the system's; its ions are not there to find, and the
    job's refusal says why). ``cache_dir``:
    where a passed check is remembered (by the file's path, size and modification time and
    the arguments), so that snakemake's repeated parsing (dry runs, cluster jobs) does not
    read the file again.
    """
    import hashlib
    import json

    path = Path(path)
    cache = None
    if cache_dir is not None and path.is_file():
        stat = path.stat()
        key = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, sample,
                          [float(x) for x in mz_span], float(time_bin_min),
                          float(dead_time_s), MAX_INTENSITY])  # fmt: skip
        cache = Path(cache_dir) / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
        if cache.is_file():
            with contextlib.suppress(OSError, ValueError):
                return list(json.loads(cache.read_text(encoding="utf-8")))
    try:
        runs, _ = read_runs(path, polarity=None, ms_levels={1})
    except InputError:
        return []  # the deconvolve job reports it, with the spectrum
    if 1 not in runs:
        return []
    run = runs[1]
    if polarity is not None and run.polarity not in (None, polarity):
        return []  # the deconvolve job refuses the polarity, naming it
    problem = degenerate_run_problem(run, mz_span, time_bin_min)
    if problem is None:
        problem, warning = dead_time_problem(run, dead_time_s)
    if problem is not None:
        raise InputError(f"{path}: sample {sample}: {problem}")
    warnings = [f"{path}: sample {sample}: {warning}"] if warning else []
    if cache is not None:
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(warnings), encoding="utf-8")
    return warnings


def bin_spectra(run: SpectraRun, bin_min: float) -> SpectraRun:
    """Sum consecutive spectra into time bins of ``bin_min`` minutes (0: unchanged).

    A bin's spectrum is the **sum** of its members (intensities are normalised per time point
    downstream), on a common grid by area-preserving rebinning (:func:`rebin_sum`) so that
    different, uneven or sparse grids keep every count and gaps stay gaps; centroided
    members' sticks are concatenated in m/z order. A bin's time is the mean of its scan
    times, its native id the ids joined by ';' and its scan window the members' union.
    """
    if not bin_min or bin_min <= 0 or len(run) == 0:
        return run
    key = time_bins(run.times_min, bin_min)
    windows = run.scan_windows or None
    times, ids, index, mzs, ys, precursors, bin_windows = [], [], [], [], [], [], []
    levels: list[float | None] = []
    isolation = []
    for b in np.unique(key):
        members = np.flatnonzero(key == b)
        levels.append(_summed_level(run, members))
        if members.size == 1:
            mz, y = run.mz[members[0]], run.intensity[members[0]]
        elif run.mode == "centroid":
            mz = np.concatenate([run.mz[m] for m in members])
            y = np.concatenate([run.intensity[m] for m in members])
            order = np.argsort(mz, kind="stable")
            mz, y = mz[order], y[order]
        else:
            mz, y = rebin_sum([run.mz[m] for m in members], [run.intensity[m] for m in members])
        times.append(float(run.times_min[members].mean()))
        ids.append(";".join(run.native_ids[m] for m in members))
        index.append(int(run.index[members[0]]))
        mzs.append(mz)
        ys.append(y)
        precursors.append(run.precursor_mz[members[0]] if run.precursor_mz else None)
        isolation.append(run.isolation_windows[members[0]] if run.isolation_windows else None)
        if windows is not None:
            known = [windows[m] for m in members if windows[m] is not None]
            union = (min(w[0] for w in known), max(w[1] for w in known)) if known else None
            bin_windows.append(union)
    extra = {"scan_windows": bin_windows} if windows is not None else {}
    return replace(run, times_min=np.asarray(times), native_ids=ids, index=np.asarray(index),
                   mz=mzs, intensity=ys, precursor_mz=precursors, detection_levels=levels,
                   isolation_windows=isolation, **extra)  # fmt: skip


def _summed_level(run: SpectraRun, members: np.ndarray) -> float | None:
    """A bin's detection level: the sum of its members' (a point none of them wrote holds up
    to each one's lowest written point); None for one member or a peak list."""
    if members.size == 1 or run.mode == "centroid":
        return None if not run.detection_levels else run.detection_levels[members[0]]
    total = 0.0
    for m in members:
        known = run.detection_levels[m] if run.detection_levels else None
        if known is None:
            y = np.asarray(run.intensity[m])
            positive = y[y > 0]
            known = float(positive.min()) if positive.size else 0.0
        total += known
    return total
