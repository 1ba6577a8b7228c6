"""Real mzML files written by other tools and instruments (tests/data/pymzml, see its README).

Each file is read correctly or refused with one line: the spectra, times, native ids, mode,
polarity and scan windows are compared with what the XML says, decoded here with nothing
but ElementTree, base64 and zlib (not with pymzml, which the reader itself uses), and with
what pymzml yields. Refusals are :class:`InputError` with one line naming the file; any
other exception is a bug. Read-only access closes every file it opens (checked in a
subprocess with ``-W error::ResourceWarning -X dev``, with a negative control in which the
close is monkeypatched away).
"""

from __future__ import annotations

import base64
import gzip
import os
import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from intercluster.errors import InputError
from intercluster.ingest import detect_mode, read_runs, read_spectra
from intercluster.virtual_experiment import write_mzml

DATA = Path(__file__).parent / "data" / "pymzml"
REPO = Path(__file__).resolve().parents[1]
SPAN = (5166.7, 7394.2)  # average m/z of [Ag25]- and [Au25]- (the default cluster system)

#: the Thermo Q Exactive excerpt and its copies: 11 centroided positive-mode MS1 spectra
SCAN_FILES = [
    "example.mzML",
    "example.mzML.gz",
    "example.mzML.idx.gz",
    "Manuels_custom_ids.mzML",
    "example_no_obo_version.mzML",
    "example_invalid_obo_version.mzML",
]
#: chromatogram-only files: (name, number of chromatograms)
CHROMATOGRAM_FILES = [
    ("mini.chrom.mzML", 3),
    ("mini_numpress.chrom.mzML", 1),
    ("mini_numpress.chrom.mzML.gz", 1),
]
ALL_FILES = SCAN_FILES + [name for name, _ in CHROMATOGRAM_FILES]
NS = {"m": "http://psi.hupo.org/ms/mzml"}


# --- the truth, from the XML alone -------------------------------------------------------------
def _xml_root(path: Path):
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as handle:
        data = handle.read()  # pymzML's indexed gzip is a plain gzip stream too
    return ElementTree.fromstring(data)


def _array(binary_array) -> np.ndarray:
    accessions = {p.get("accession") for p in binary_array.findall("m:cvParam", NS)}
    raw = base64.b64decode(binary_array.find("m:binary", NS).text or "")
    if "MS:1000574" in accessions:  # zlib compression
        raw = zlib.decompress(raw)
    dtype = np.float64 if "MS:1000523" in accessions else np.float32
    return np.frombuffer(raw, dtype=dtype).astype(float)


def xml_spectra(path: Path) -> list[dict]:
    """Per spectrum: id, ms level, scan start time in minutes, mode, polarity, window, arrays."""
    out = []
    for spectrum in _xml_root(path).iter(f"{{{NS['m']}}}spectrum"):
        params = {p.get("accession"): p for p in spectrum.iter(f"{{{NS['m']}}}cvParam")}
        start = params["MS:1000016"]
        factor = {"minute": 1.0, "second": 1 / 60}[start.get("unitName")]
        arrays = {}
        for binary_array in spectrum.iter(f"{{{NS['m']}}}binaryDataArray"):
            accessions = {p.get("accession") for p in binary_array.findall("m:cvParam", NS)}
            for accession, key in (("MS:1000514", "mz"), ("MS:1000515", "i")):
                if accession in accessions:
                    arrays[key] = _array(binary_array)
        out.append({
            "id": spectrum.get("id"),
            "ms_level": int(params["MS:1000511"].get("value")),
            "time_min": float(start.get("value")) * factor,
            "mode": "centroid" if "MS:1000127" in params else "profile",
            "polarity": "positive" if "MS:1000130" in params else "negative",
            "window": (float(params["MS:1000501"].get("value")),
                       float(params["MS:1000500"].get("value"))),
            "mz": arrays["mz"],
            "intensity": arrays["i"],
        })  # fmt: skip
    return out


def pymzml_spectra(path: Path) -> list[dict]:
    import pymzml

    with pymzml.run.Reader(str(path)) as reader:
        return [
            {"id": s.element.get("id"), "time_min": s.scan_time_in_minutes(),
             "mz": np.asarray(s.mz, float), "intensity": np.asarray(s.i, float)}
            for s in reader
        ]  # fmt: skip


def _assert_one_line(error, path, *words):
    message = str(error.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    return message


# --- read correctly ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCAN_FILES)
def test_real_file_is_read_as_the_xml_says(name):
    path = DATA / name
    truth = xml_spectra(path)
    assert len(truth) == 11 and {s["ms_level"] for s in truth} == {1}
    run = read_spectra(path, ms_level=1, polarity=None, mz_required=None)
    assert len(run) == len(truth)
    assert run.native_ids == [s["id"] for s in truth]
    assert list(run.index) == list(range(len(truth)))
    assert np.allclose(run.times_min, [s["time_min"] for s in truth], rtol=1e-12, atol=0)
    for s, mz, y in zip(truth, run.mz, run.intensity, strict=True):
        order = np.argsort(s["mz"], kind="stable")
        assert np.array_equal(mz, s["mz"][order]) and np.array_equal(y, s["intensity"][order])
    assert run.mode == "centroid" and run.mode_source == "stated"
    assert {s["mode"] for s in truth} == {"centroid"}
    assert run.polarity == "positive" == truth[0]["polarity"]
    assert run.scan_windows == [s["window"] for s in truth] == [(70.0, 900.0)] * 11
    assert run.time_unit == "minute"
    assert not run.synthetic


@pytest.mark.parametrize("name", SCAN_FILES)
def test_real_file_matches_pymzml(name):
    path = DATA / name
    theirs = pymzml_spectra(path)
    run = read_spectra(path, ms_level=1, polarity=None)
    assert run.native_ids == [s["id"] for s in theirs]
    assert np.allclose(run.times_min, [s["time_min"] for s in theirs], rtol=1e-12, atol=0)
    for s, mz, y in zip(theirs, run.mz, run.intensity, strict=True):
        assert np.array_equal(mz, s["mz"]) and np.array_equal(y, s["intensity"])


def test_copies_hold_the_same_spectra():
    """gzip, indexed gzip, custom ids and odd CV versions change nothing but the ids."""
    reference = read_spectra(DATA / "example.mzML", polarity=None)
    for name in SCAN_FILES[1:]:
        run = read_spectra(DATA / name, polarity=None)
        assert np.array_equal(run.times_min, reference.times_min), name
        for a, b in zip(run.intensity, reference.intensity, strict=True):
            assert np.array_equal(a, b), name
    custom = read_spectra(DATA / "Manuels_custom_ids.mzML", polarity=None)
    assert custom.native_ids[0] == "ManuelsCustomID=5 diesdas1"
    assert custom.native_ids != reference.native_ids


# --- refused with one line ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "n_chrom"), CHROMATOGRAM_FILES)
def test_chromatogram_only_file_is_refused(name, n_chrom):
    path = DATA / name
    with pytest.raises(InputError) as error:
        read_spectra(path, ms_level=1, polarity=None)
    _assert_one_line(error, path, f"no spectra, only {n_chrom} chromatogram(s)",
                     "expected mzML with mass spectra")  # fmt: skip


def test_positive_file_with_the_clusters_negative_polarity_is_refused():
    path = DATA / "example.mzML.gz"
    with pytest.raises(InputError) as error:
        read_spectra(path, polarity="negative")
    _assert_one_line(error, path, "spectrum 'controllerType=0 controllerNumber=1 scan=1' "
                     "(index 0): positive polarity; expected negative ions")  # fmt: skip


def test_file_whose_mz_range_misses_the_species_is_refused():
    path = DATA / "example.mzML"
    with pytest.raises(InputError) as error:
        read_spectra(path, polarity="positive", mz_required=SPAN)
    _assert_one_line(error, path, "cover m/z 70.0-900.0, which misses the species",
                     "expected at least m/z 5166.7-7394.2")  # fmt: skip


def test_ms1_only_file_read_for_cid_is_refused():
    path = DATA / "Manuels_custom_ids.mzML"
    with pytest.raises(InputError) as error:
        read_spectra(path, ms_level=2, polarity=None)
    _assert_one_line(error, path, "no MS2 spectra among 11 spectra; expected ms level 2")


def _truncated_copies(tmp_path: Path):
    """Real files cut short at several points (plain, gzip and indexed gzip)."""
    for name in ("example.mzML", "example.mzML.gz", "example.mzML.idx.gz",
                 "mini_numpress.chrom.mzML"):  # fmt: skip
        data = (DATA / name).read_bytes()
        for fraction in (0.02, 0.3, 0.6, 0.97):
            target = tmp_path / f"cut{int(fraction * 100)}_{name}"
            target.write_bytes(data[: int(len(data) * fraction)])
            yield target


def test_any_reading_is_a_result_or_one_line(tmp_path):
    """Every real file and every cut-short copy, read every way the workflow reads: a run or
    an InputError of one line that names the file. Anything else raised is a bug (it
    propagates and fails the test)."""
    files = [DATA / name for name in ALL_FILES] + list(_truncated_copies(tmp_path))
    outcomes = {"read": 0, "refused": 0}
    for path in files:
        for ms_level in (1, 2):
            for polarity in (None, "negative", "positive"):
                for required in (None, SPAN):
                    try:
                        read_spectra(path, ms_level, polarity, required)
                        outcomes["read"] += 1
                    except InputError as exc:
                        message = str(exc)
                        assert "\n" not in message and str(path) in message, message
                        outcomes["refused"] += 1
    assert outcomes["read"] == 6 * 2  # the 6 spectra files, MS1, polarity None or positive
    truncated_refusals = 0
    for path in _truncated_copies(tmp_path):
        with pytest.raises(InputError) as error:
            read_spectra(path, 1, None)
        _assert_one_line(error, path)
        truncated_refusals += 1
    assert truncated_refusals == 16


# --- profile or centroid -----------------------------------------------------------------------
def test_real_centroid_arrays_are_detected_as_centroid():
    for s in xml_spectra(DATA / "example.mzML"):
        assert detect_mode(s["mz"], s["intensity"]) == "centroid", s["id"]


def test_unstated_mode_is_detected(tmp_path):
    text = (DATA / "example.mzML").read_text(encoding="iso-8859-1")
    stripped, n = re.subn(r'\s*<cvParam [^>]*accession="MS:1000127"[^>]*/>', "", text)
    assert n == 11
    path = tmp_path / "no_mode.mzML"
    path.write_text(stripped, encoding="iso-8859-1")
    run = read_spectra(path, polarity=None)
    assert run.mode == "centroid" and run.mode_source == "detected"


# --- files are closed ----------------------------------------------------------------------------
_READ_EVERYTHING = textwrap.dedent(
    """
    import gc, sys
    from pathlib import Path
    import intercluster.ingest as ingest
    from intercluster.errors import InputError

    if sys.argv[1] == "no-close":
        ingest._close_reader = lambda reader: None  # the negative control
    read, refused = 0, 0
    for path in sys.argv[2:]:
        for level in (1, 2):
            try:
                ingest.read_spectra(path, ms_level=level, polarity=None)
                read += 1
            except InputError:
                refused += 1
        gc.collect()
    print("read", read, "refused", refused)
    """
)


def _read_all_in_subprocess(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    """Read every real file, a virtual-experiment file and a cut-short copy of it at ms
    levels 1 and 2 in a fresh interpreter that turns ResourceWarnings into errors (the
    files are written here: psims, the writer, is not under test)."""
    mz = np.linspace(5000.0, 7600.0, 500)
    spectra = [{"id": f"scan={k + 1}", "time_min": float(k), "mz": mz,
                "intensity": np.random.default_rng(k).poisson(50, mz.size).astype(float)}
               for k in range(3)]  # fmt: skip
    virtual = write_mzml(tmp_path / "virtual.mzML", spectra)
    cut = tmp_path / "cut.mzML"
    cut.write_bytes(virtual.read_bytes()[: virtual.stat().st_size // 2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "workflow" / "src"),
                                         env.get("PYTHONPATH", "")])  # fmt: skip
    files = [str(DATA / name) for name in ALL_FILES] + [str(virtual), str(cut)]
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _READ_EVERYTHING,
         mode, *files],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_every_file_opened_is_closed(tmp_path):
    proc = _read_all_in_subprocess(tmp_path, "close")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 6 real spectra files + the virtual file read at MS1; the other 15 readings refused
    assert "read 7 refused 15" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "ResourceWarning" not in proc.stderr, proc.stderr[-3000:]


def test_negative_control_without_the_close_leaks(tmp_path):
    proc = _read_all_in_subprocess(tmp_path, "no-close")
    assert "read 7 refused 15" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "ResourceWarning: unclosed file" in proc.stderr, proc.stderr[-3000:]


def test_reader_is_closed_when_opening_fails(tmp_path, monkeypatch):
    """pymzml opens the file before it parses the header: a failure there still closes it."""
    import pymzml

    closed = []

    def failing_init_iter(self):
        original_close = self.info["file_object"].close

        def close():
            closed.append(True)
            original_close()

        self.info["file_object"].close = close
        raise RuntimeError("header parser failed")

    monkeypatch.setattr(pymzml.run.Reader, "_init_iter", failing_init_iter)
    path = DATA / "example.mzML"
    with pytest.raises(InputError) as error:
        read_runs(path)
    _assert_one_line(error, path, "cannot be opened as mzML (RuntimeError: header parser failed)")
    assert closed == [True]


# --- through the workflow, as a user's sample sheet ---------------------------------------------
WORKFLOW_CASES = {
    "thermo_positive_mode": (
        "example.mzML.idx.gz",
        "data/s1.mzML.gz: spectrum 'controllerType=0 controllerNumber=1 scan=1' (index 0): "
        "positive polarity; expected negative ions (the cluster system's charges)",
    ),
    "chromatograms_only": (
        "mini_numpress.chrom.mzML.gz",
        "data/s1.mzML.gz: no spectra, only 1 chromatogram(s); expected mzML with mass spectra",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(WORKFLOW_CASES))
def test_real_file_in_a_sample_sheet_stops_with_one_line(case, tmp_path, snakemake_runner):
    from workflow_helpers import small_config

    name, expected = WORKFLOW_CASES[case]
    data = tmp_path / "data"
    data.mkdir()
    (data / "s1.mzML.gz").write_bytes((DATA / name).read_bytes())
    (data / "samples.tsv").write_text(
        "sample\tmzml\tag_nM\tau_nM\tdead_time_s\nag40_au40\ts1.mzML.gz\t40\t40\t20\n"
    )
    config = small_config()
    config["samples"] = "data/samples.tsv"
    outputs = [f"results/deconvolution/ag40_au40/{n}.tsv" for n in ("intensities", "qc", "cid")]
    proc = snakemake_runner.run(tmp_path, *outputs, config=config, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if expected in line]
    assert lines, proc.stderr[-4000:]
    assert " ERROR intercluster: " + expected in lines[0]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert "Error in rule deconvolve" in proc.stderr
    log = (tmp_path / "logs" / "deconvolution" / "ag40_au40.log").read_text()
    assert expected in log and "Traceback" not in log
    for output in outputs:
        assert not (tmp_path / output).exists(), output
