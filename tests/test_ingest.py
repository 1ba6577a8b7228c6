"""Ingestion with pymzml: units, native ids, gzip, polarity and one-line errors."""

import gzip
import re
import shutil

import numpy as np
import pytest

from intercluster.errors import InputError
from intercluster.ingest import bin_spectra, detect_mode, peak_shapes, read_spectra
from intercluster.isotopes import system_patterns
from intercluster.virtual_experiment import write_mzml

SPAN = (5166.7, 7394.2)  # average m/z of [Ag25]- and [Au25]-


def _spectra(times, n=400, ids=None, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    mz = np.linspace(5000.0, 7600.0, n)
    return [
        {
            "id": ids[k] if ids else f"scan={k + 1}",
            "time_min": float(t),
            "mz": mz,
            "intensity": rng.poisson(50, n).astype(float),
        }
        for k, t in enumerate(times)
    ]


def _assert_one_line(error, *words):
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_roundtrip_minutes_and_seconds(tmp_path):
    spectra = _spectra([0.0, 0.5, 1.25, 2.0])
    write_mzml(tmp_path / "min.mzML", spectra, time_unit="minute")
    write_mzml(tmp_path / "sec.mzML", spectra, time_unit="second")
    a = read_spectra(tmp_path / "min.mzML", mz_required=SPAN)
    b = read_spectra(tmp_path / "sec.mzML", mz_required=SPAN)
    assert np.allclose(a.times_min, [0.0, 0.5, 1.25, 2.0])
    assert np.allclose(b.times_min, a.times_min)
    for s, x, y in zip(spectra, a.mz, a.intensity, strict=True):
        assert np.array_equal(x, s["mz"]) and np.array_equal(y, s["intensity"])
    assert a.synthetic and list(a.index) == [0, 1, 2, 3]


def test_bruker_native_ids_are_kept(tmp_path):
    ids = [f"merged=0 frame={k + 1} scanStart=0 scanEnd=917" for k in range(3)]
    write_mzml(tmp_path / "bruker.mzML", _spectra([0.0, 1.0, 2.0], ids=ids))
    run = read_spectra(tmp_path / "bruker.mzML")
    assert run.native_ids == ids
    assert list(run.index) == [0, 1, 2]


def test_gzip_with_and_without_suffix(tmp_path):
    write_mzml(tmp_path / "a.mzML", _spectra([0.0, 1.0]))
    with open(tmp_path / "a.mzML", "rb") as src, gzip.open(tmp_path / "a.mzML.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(tmp_path / "a.mzML.gz", tmp_path / "b.mzML")
    plain = read_spectra(tmp_path / "a.mzML")
    for name in ("a.mzML.gz", "b.mzML"):
        run = read_spectra(tmp_path / name)
        assert np.array_equal(run.times_min, plain.times_min)
        assert np.array_equal(run.intensity[1], plain.intensity[1])


def test_time_bins_sum_consecutive_spectra(tmp_path):
    write_mzml(tmp_path / "a.mzML", _spectra([0.0, 0.5, 1.0, 1.5, 2.0]))
    run = read_spectra(tmp_path / "a.mzML")
    binned = bin_spectra(run, 1.0)
    assert np.allclose(binned.times_min, [0.25, 1.25, 2.0])
    assert np.allclose(binned.intensity[0], run.intensity[0] + run.intensity[1])
    assert binned.native_ids[0] == "scan=1;scan=2"
    assert bin_spectra(run, 0) is run


def _edit(path, pattern, replacement, count=0):
    text = path.read_text()
    new = re.sub(pattern, replacement, text, count=count)
    assert new != text
    path.write_text(new)


def test_missing_or_unknown_time_unit(tmp_path):
    path = tmp_path / "a.mzML"
    write_mzml(path, _spectra([0.0, 1.0]))
    _edit(path, r'unitCvRef="[^"]*" unitAccession="UO:0000031" unitName="minute"', "")
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "scan=1", "no unit")
    write_mzml(path, _spectra([0.0, 1.0]))
    _edit(path, r'unitAccession="UO:0000031" unitName="minute"', 'unitName="fortnight"')
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "fortnight", "minute or second")
    write_mzml(path, _spectra([0.0, 1.0]))
    _edit(path, r"<cvParam [^>]*MS:1000016[^>]*/>", "")
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "no scan start time")


@pytest.mark.parametrize(
    ("times", "word"), [([0.0, 1.0, 1.0], "duplicate"), ([0.0, 2.0, 1.0], "decreasing")]
)
def test_scan_times_must_increase(tmp_path, times, word):
    path = tmp_path / "a.mzML"
    write_mzml(path, _spectra(times))
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "scan=3", word)


@pytest.mark.parametrize(("value", "word"), [(np.nan, "NaN"), (-5.0, "negative")])
def test_bad_intensities(tmp_path, value, word):
    spectra = _spectra([0.0, 1.0])
    spectra[1]["intensity"] = spectra[1]["intensity"].copy()
    spectra[1]["intensity"][7] = value
    path = tmp_path / "a.mzML"
    write_mzml(path, spectra)
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "scan=2", word)


def test_positive_polarity_is_an_error(tmp_path):
    path = tmp_path / "pos.mzML"
    write_mzml(path, _spectra([0.0, 1.0]), polarity="positive scan")
    with pytest.raises(InputError) as error:
        read_spectra(path, polarity="negative")
    _assert_one_line(error, str(path), "positive polarity", "expected negative")


def test_mz_range_must_reach_the_species(tmp_path):
    spectra = _spectra([0.0, 1.0])
    for s in spectra:
        s["mz"] = np.linspace(5500.0, 7000.0, s["mz"].size)
    path = tmp_path / "narrow.mzML"
    write_mzml(path, spectra)
    with pytest.raises(InputError) as error:
        read_spectra(path, mz_required=SPAN)
    _assert_one_line(error, str(path), "misses the species", "5166.7")


@pytest.mark.parametrize("centroided", [True, False])
def test_peak_list_reaches_the_species_through_its_scan_window(tmp_path, centroided):
    """A peak list holds only the peaks found: with no peak below m/z 5500 (a species that
    never forms) its stated scan window still covers the species, so it is read. A profile
    with the same data and window is refused (a profile samples its whole range)."""
    spectra = _spectra([0.0, 1.0], n=60)
    for s in spectra:
        s["mz"] = np.linspace(5500.0, 7500.0, s["mz"].size)
        s["scan_window"] = (5000.0, 7600.0)
    path = tmp_path / "peaks.mzML"
    write_mzml(path, spectra, centroided=centroided)
    if centroided:
        run = read_spectra(path, mz_required=SPAN)
        assert run.acquired_mz_range == (5000.0, 7600.0)
        assert run.mz_range[0] == pytest.approx(5500.0)
    else:
        with pytest.raises(InputError) as error:
            read_spectra(path, mz_required=SPAN)
        _assert_one_line(error, str(path), "cover m/z 5500.0-7500.0", "misses the species")


def test_no_ms1_spectra(tmp_path):
    spectra = _spectra([0.0, 1.0])
    for s in spectra:
        s.update(precursor_mz=6280.4, precursor_charge=2)
    path = tmp_path / "ms2.mzML"
    write_mzml(path, spectra, ms_level=2)
    with pytest.raises(InputError) as error:
        read_spectra(path, ms_level=1)
    _assert_one_line(error, str(path), "no MS1 spectra")
    run = read_spectra(path, ms_level=2)
    assert run.precursor_mz == [pytest.approx(6280.4), pytest.approx(6280.4)]


def test_truncated_not_xml_missing_empty(tmp_path):
    path = tmp_path / "a.mzML"
    write_mzml(path, _spectra([0.0, 1.0, 2.0, 3.0]))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.mzML"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(InputError) as error:
        read_spectra(truncated)
    _assert_one_line(error, str(truncated), "truncated")
    text = tmp_path / "notes.mzML"
    text.write_text("sample\tmzml\nthis is a sample sheet, not a spectrum\n")
    with pytest.raises(InputError) as error:
        read_spectra(text)
    _assert_one_line(error, str(text), "not XML")
    with pytest.raises(InputError) as error:
        read_spectra(tmp_path / "missing.mzML")
    _assert_one_line(error, "missing.mzML", "not found")
    empty = tmp_path / "empty.mzML"
    empty.write_bytes(b"")
    with pytest.raises(InputError) as error:
        read_spectra(empty)
    _assert_one_line(error, "empty.mzML", "empty")
    xml = tmp_path / "other.mzML"
    xml.write_text("<?xml version='1.0'?><root><a/></root>\n")
    with pytest.raises(InputError) as error:
        read_spectra(xml)
    _assert_one_line(error, str(xml))


# --- profile or centroid ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def virtual_profiles():
    """Profile spectra of the virtual experiment (small config, three reaction times)."""
    from workflow_helpers import cluster_of, small_config

    from intercluster.system import ClusterSystem
    from intercluster.virtual_experiment import simulate_sample

    config = small_config()
    ve = dict(config["virtual_experiment"], cid={})
    system = ClusterSystem.from_config(cluster_of(config))
    return simulate_sample(system, ve, "ag40_au40", times_min=np.array([0.0, 10.0, 40.0])).ms1


def _centroided_by_pymzml(tmp_path, spectra):
    """Centroids of profile spectra made by pymzml's own peak picker (not ours)."""
    import pymzml

    path = write_mzml(tmp_path / "profile.mzML", spectra)
    with pymzml.run.Reader(str(path)) as reader:
        return [np.asarray(s.peaks("centroided"), float) for s in reader]


def test_virtual_profiles_dense_and_sparse_are_profile(virtual_profiles):
    for s in virtual_profiles:
        mz, y = s["mz"], s["intensity"]
        assert detect_mode(mz, y) == "profile"
        for threshold in (0.01, 0.02):  # zero samples below 1 % / 2 % of the base peak removed
            keep = y >= threshold * y.max()
            assert keep.mean() < 0.5
            assert detect_mode(mz[keep], y[keep]) == "profile"


def test_centroids_of_the_virtual_profiles_are_centroid(tmp_path, virtual_profiles):
    for peaks in _centroided_by_pymzml(tmp_path, virtual_profiles):
        mz, y = peaks[:, 0], peaks[:, 1]
        assert detect_mode(mz, y) == "centroid"
        keep = y >= 0.01 * y.max()  # and without the noise sticks
        assert detect_mode(mz[keep], y[keep]) == "centroid"


def test_stick_envelope_is_centroid_by_its_width(monkeypatch):
    """Sticks of smooth isotope envelopes, 1/z Th apart, look like well-sampled peaks; only
    their width (an envelope, not an isotope peak) shows they are centroids."""
    from intercluster.system import DEFAULT_SYSTEM

    patterns = system_patterns(DEFAULT_SYSTEM)
    sticks = [patterns[k] for k in (0, 25, 26 + 12, 26 + 40)]  # Au25, Ag25, two dimers
    mz = np.concatenate([p.mz for p in sticks])
    y = np.concatenate([p.prob * a for a, p in zip((1, 3, 10, 30), sticks, strict=True)])
    order = np.argsort(mz)
    mz, y = mz[order], y[order]
    shape = peak_shapes(mz, y)
    assert np.median(shape.points) >= 3  # envelopes span several sticks above half height
    assert detect_mode(mz, y) == "centroid"
    monkeypatch.setattr("intercluster.ingest.MIN_PROFILE_RESOLVING_POWER", 0.0)
    assert detect_mode(mz, y) == "profile"  # the control: without the width rule it fails


def test_noise_only_spectrum_cannot_tell(virtual_profiles):
    """A blank (noise only) says nothing about the mode: neither is returned."""
    rng = np.random.default_rng(3)
    mz = np.linspace(5000.0, 7600.0, 40000)
    blanks = [
        rng.normal(100.0, 5.0, mz.size).clip(0),
        rng.normal(0.0, 5.0, mz.size).clip(0),
        rng.poisson(5.0, mz.size),
        rng.poisson(0.5, mz.size),
        rng.poisson(0.05, mz.size),
    ]
    for y in blanks:
        assert detect_mode(mz, np.asarray(y, float)) is None
    assert detect_mode(mz[:3], np.array([1.0, 2.0, 1.0])) is None
    s = virtual_profiles[0]  # the control: the same noise under real peaks is decided
    assert detect_mode(s["mz"], s["intensity"] + rng.poisson(0.5, s["mz"].size)) == "profile"


def test_mixed_modes_are_refused(tmp_path, virtual_profiles):
    path = tmp_path / "mixed.mzML"
    write_mzml(path, virtual_profiles)
    assert read_spectra(path).mode == "profile"
    text = path.read_text()
    spectra = text.split("<spectrum ")
    spectra[3] = spectra[3].replace('accession="MS:1000128" name="profile spectrum"',
                                    'accession="MS:1000127" name="centroid spectrum"')  # fmt: skip
    path.write_text("<spectrum ".join(spectra))
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "spectrum 'scan=3' (index 2) is centroid (cvParam "
                     "MS:1000127) but spectrum 'scan=1' (index 0) is profile (cvParam MS:1000128)",
                     "expected every MS1 spectrum in one mode")  # fmt: skip


def test_mixed_modes_without_cvparams_are_refused(tmp_path, virtual_profiles):
    peaks = _centroided_by_pymzml(tmp_path, virtual_profiles)
    spectra = [dict(s) for s in virtual_profiles]
    spectra[1].update(mz=peaks[1][:, 0], intensity=peaks[1][:, 1])
    path = tmp_path / "mixed.mzML"
    write_mzml(path, spectra)
    _edit(path, r'\s*<cvParam [^>]*accession="MS:1000128"[^>]*/>', "")
    with pytest.raises(InputError) as error:
        read_spectra(path)
    _assert_one_line(error, str(path), "spectrum 'scan=2' (index 1) is centroid (detected from "
                     "its peaks) but spectrum 'scan=1' (index 0) is profile (detected")  # fmt: skip
    spectra[1] = dict(virtual_profiles[1])  # the control: all profile, no cvParam, accepted
    write_mzml(path, spectra)
    _edit(path, r'\s*<cvParam [^>]*accession="MS:1000128"[^>]*/>', "")
    run = read_spectra(path)
    assert (run.mode, run.mode_source) == ("profile", "detected")


# --- scan windows --------------------------------------------------------------------------------
def _window(lower: float, upper: float) -> str:
    return (
        '<scanWindow><cvParam cvRef="MS" accession="MS:1000501" name="scan window lower limit" '
        f'value="{lower}" unitCvRef="MS" unitAccession="MS:1000040" unitName="m/z"/>'
        '<cvParam cvRef="MS" accession="MS:1000500" name="scan window upper limit" '
        f'value="{upper}" unitCvRef="MS" unitAccession="MS:1000040" unitName="m/z"/></scanWindow>'
    )


def test_scan_windows_are_read(tmp_path):
    path = tmp_path / "a.mzML"
    write_mzml(path, _spectra([0.0, 1.0, 2.0]))
    assert read_spectra(path).scan_windows == [None, None, None]
    text = path.read_text()
    parts = text.split("</scan>")
    assert len(parts) == 4
    parts[0] += f'<scanWindowList count="1">{_window(5000.0, 7600.0)}</scanWindowList>'
    parts[2] += (f'<scanWindowList count="2">{_window(5100.5, 6000.0)}'
                 f"{_window(6500.0, 7500.25)}</scanWindowList>")  # fmt: skip
    path.write_text("</scan>".join(parts))
    run = read_spectra(path)
    assert run.scan_windows == [(5000.0, 7600.0), None, (5100.5, 7500.25)]
