"""Read time-resolved spectra from mzML (pymzml) with checks that name the file and spectrum.

What is accepted (docs/science.md §1, §3):

* plain or gzip-compressed (indexed) mzML; profile or centroid arrays;
* scan start time (MS:1000016) in minutes, seconds, milliseconds or hours; everything is
  returned in minutes. A missing time or unit, or an unknown unit, is an error;
* any native id format. msconvert's Bruker ids (``merged=0 frame=N scanStart=0
  scanEnd=917``) make pymzml's ``spectrum.ID`` collapse to one number, so the full id
  string is kept, plus a running index (position in the file);
* the polarity the cluster system's charges imply (negative for the demo); a spectrum of
  the other polarity is an error. Spectra that state no polarity are accepted.

Every problem raises :class:`~intercluster.validation.InputError` with one line naming the
file (and the spectrum) and what is expected.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .io import SYNTHETIC_LABEL
from .validation import InputError

log = logging.getLogger(__name__)

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
NEGATIVE_SCAN = "MS:1000129"
CENTROID_SPECTRUM = "MS:1000127"
PROFILE_SPECTRUM = "MS:1000128"
POSITIVE_SCAN = "MS:1000130"
SCAN_START_TIME = "MS:1000016"


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
    #: "profile" or "centroid" (cvParams MS:1000128 / MS:1000127; "profile" when unstated)
    mode: str = "profile"

    def __len__(self) -> int:
        return len(self.native_ids)

    @property
    def mz_range(self) -> tuple[float, float]:
        lows = [m[0] for m in self.mz if m.size]
        highs = [m[-1] for m in self.mz if m.size]
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


def _scan_time_min(spectrum, where: str) -> float:
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
    factor = TIME_UNITS.get(unit.strip().lower())
    if factor is None:
        raise InputError(
            f"{where}: scan start time unit {unit!r} is unknown; expected minute or second "
            "(or millisecond, hour)"
        )
    if not np.isfinite(value):
        raise InputError(f"{where}: scan start time is {value}; expected a finite number")
    return value * factor


def _polarity(spectrum) -> str | None:
    if spectrum.element.find(f".//*[@accession='{NEGATIVE_SCAN}']") is not None:
        return "negative"
    if spectrum.element.find(f".//*[@accession='{POSITIVE_SCAN}']") is not None:
        return "positive"
    return None


def _spectrum_mode(spectrum) -> str | None:
    """"centroid" or "profile" as the spectrum's cvParam says, None when it says nothing."""
    if spectrum.element.find(f".//*[@accession='{CENTROID_SPECTRUM}']") is not None:
        return "centroid"
    if spectrum.element.find(f".//*[@accession='{PROFILE_SPECTRUM}']") is not None:
        return "profile"
    return None


def _precursor_mz(spectrum) -> float | None:
    element = spectrum.element.find(".//*[@accession='MS:1000744']")  # selected ion m/z
    try:
        return float(element.get("value")) if element is not None else None
    except (TypeError, ValueError):
        return None


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
    with tempfile.TemporaryDirectory(prefix="intercluster-") as tmpdir:
        source = _readable_copy(path, gzipped, tmpdir)
        return _read(path, source, ms_level, polarity, mz_required, synthetic)


def _read(path, source, ms_level, polarity, mz_required, synthetic) -> SpectraRun:
    import pymzml

    try:
        reader = pymzml.run.Reader(str(source))
    except Exception as exc:  # noqa: BLE001 - any parser failure is the file's
        raise InputError(
            f"{path}: cannot be opened as mzML ({type(exc).__name__}: {exc})"
        ) from None
    times, ids, index, mzs, intensities, precursors, modes = [], [], [], [], [], [], []
    last = "the start of the spectrum list"
    n = -1
    try:
        for n, spectrum in enumerate(reader):
            native_id = spectrum.element.get("id") or f"index={n}"
            where = f"{path}: spectrum {native_id!r} (index {n})"
            last = f"spectrum {native_id!r} (index {n})"
            level = spectrum.ms_level
            if level is None:
                raise InputError(f"{where}: no ms level (MS:1000511); expected ms level {ms_level}")
            if int(level) != ms_level:
                continue
            found = _polarity(spectrum)
            if polarity and found and found != polarity:
                raise InputError(
                    f"{where}: {found} polarity; expected {polarity} ions (the cluster "
                    "system's charges)"
                )
            t = _scan_time_min(spectrum, where)
            mz = np.asarray(spectrum.mz, dtype=float)
            y = np.asarray(spectrum.i, dtype=float)
            if mz.shape != y.shape:
                raise InputError(
                    f"{where}: m/z and intensity arrays differ in length ({mz.size} vs {y.size})"
                )
            if mz.size == 0:
                raise InputError(f"{where}: has no data points; expected a profile spectrum")
            if not np.all(np.isfinite(mz)) or not np.all(np.isfinite(y)):
                raise InputError(
                    f"{where}: NaN or infinite values in the arrays; expected finite numbers"
                )
            if np.any(y < 0):
                raise InputError(
                    f"{where}: negative intensities (min {y.min():g}); expected counts >= 0"
                )
            if np.any(np.diff(mz) < 0):
                order = np.argsort(mz, kind="stable")
                mz, y = mz[order], y[order]
            times.append(t)
            ids.append(native_id)
            index.append(n)
            mzs.append(mz)
            intensities.append(y)
            precursors.append(_precursor_mz(spectrum) if ms_level > 1 else None)
            modes.append(_spectrum_mode(spectrum))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt file
        raise InputError(
            f"{path}: unreadable after {last} ({type(exc).__name__}: {exc}); the file is "
            "truncated or not valid mzML"
        ) from None
    if n < 0:
        raise InputError(f"{path}: no spectra found; expected mzML with a spectrumList")
    if not times:
        raise InputError(
            f"{path}: no MS{ms_level} spectra among {n + 1} spectra; expected ms level {ms_level}"
        )
    t = np.asarray(times)
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        k = int(bad[0]) + 1
        what = "duplicate" if t[k] == t[k - 1] else "decreasing"
        raise InputError(
            f"{path}: spectrum {ids[k]!r} (index {index[k]}): {what} scan time {t[k]:.6g} min "
            f"after {t[k - 1]:.6g} min; expected strictly increasing scan times"
        )
    run = SpectraRun(str(path), ms_level, t, ids, np.asarray(index), mzs, intensities,
                     precursors, synthetic,
                     "centroid" if "centroid" in modes else "profile")  # fmt: skip
    if mz_required is not None:
        lo, hi = run.mz_range
        if not (lo <= mz_required[0] and hi >= mz_required[1]):
            raise InputError(
                f"{path}: the MS{ms_level} spectra cover m/z {lo:.1f}-{hi:.1f}, which misses the "
                f"species; expected at least m/z {mz_required[0]:.1f}-{mz_required[1]:.1f}"
            )
    log.info("%s: %d MS%d spectra, %.3g-%.3g min", path, len(run), ms_level, t[0], t[-1])
    return run


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
    key = np.floor((run.times_min - run.times_min[0]) / bin_min + 1e-9).astype(np.int64)
    windows = getattr(run, "scan_windows", None)
    times, ids, index, mzs, ys, precursors, bin_windows = [], [], [], [], [], [], []
    for b in np.unique(key):
        members = np.flatnonzero(key == b)
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
        if windows is not None:
            known = [windows[m] for m in members if windows[m] is not None]
            union = (min(w[0] for w in known), max(w[1] for w in known)) if known else None
            bin_windows.append(union)
    extra = {"scan_windows": bin_windows} if windows is not None else {}
    return replace(run, times_min=np.asarray(times), native_ids=ids, index=np.asarray(index),
                   mz=mzs, intensity=ys, precursor_mz=precursors, **extra)  # fmt: skip
