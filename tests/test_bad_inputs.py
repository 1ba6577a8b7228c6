"""Bad inputs, each run THROUGH THE WORKFLOW (snakemake in a subprocess, temp directory).

Every case swaps one bad file, sample sheet or config value into the small test config
(.test/config/small.yaml) with a user-data sheet (mzML outside results/virtual_experiment,
so the virtual-experiment rule is not involved) and asks for the deconvolution outputs.

* mzML problems: a real run of the deconvolve rule; it must fail with ONE line naming the
  file (and spectrum) and what is expected, in snakemake's stderr and in the rule's log, no
  traceback, and none of the rule's outputs left behind.
* sample-sheet and config problems: caught by validation while the Snakefile is parsed,
  before any job starts (no job lines, no results/ directory).

The bad mzML files are a good small mzML written by the project's own writer (a short
virtual-experiment run) and then corrupted: bytes cut off, XML text edited, or arrays
rewritten with NaN / negative values / a narrow m/z range.
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from workflow_helpers import cluster_of, small_config

from intercluster.io import read_json
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, write_mzml

pytestmark = pytest.mark.slow

SAMPLE = "ag40_au40"
OUTPUTS = [f"results/deconvolution/{SAMPLE}/{name}.tsv" for name in ("intensities", "qc", "cid")]
RULE_LOG = f"logs/deconvolution/{SAMPLE}.log"
MZML = "data/s1.mzML"  # as the messages name it (the sheet's path, relative to the run dir)
SHEET_HEAD = "sample\tmzml\tag_nM\tau_nM\tdead_time_s\n"
GOOD_ROW = f"{SAMPLE}\ts1.mzML\t40\t40\t20\n"
SCAN_TIME = re.compile(r'(<cvParam [^>]*accession="MS:1000016"[^>]*value=")([^"]*)(")')


# --- the good file, once per module --------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """(path of a good mzML: 11 MS1 spectra 0-60 min, the spectra as dicts)."""
    config = small_config()
    ve = dict(config["virtual_experiment"], cid={})
    system = ClusterSystem.from_config(cluster_of(config))
    spectra = simulate_sample(system, ve, SAMPLE, times_min=np.arange(0.0, 60.1, 6.0)).ms1
    path = tmp_path_factory.mktemp("good") / "good.mzML"
    write_mzml(path, spectra, resolving_power=ve["resolving_power"])
    return path, spectra


def _text_edit(pattern: str, replacement: str, count: int = 0) -> Callable:
    def build(good, target: Path):
        text = good[0].read_text()
        new = re.sub(pattern, replacement, text, count=count)
        assert new != text, pattern
        target.write_text(new)

    return build


def _scan_times(times: dict[int, str]) -> Callable:
    """Set the scan start time value of the spectra at the given indices (XML text)."""

    def build(good, target: Path):
        matches = list(SCAN_TIME.finditer(good[0].read_text()))
        text = good[0].read_text()
        for k in sorted(times, reverse=True):
            m = matches[k]
            text = text[: m.start(2)] + times[k] + text[m.end(2) :]
        target.write_text(text)

    return build


def _arrays(change: Callable) -> Callable:
    """Rewrite the spectra with the project's writer after ``change(list of spectra)``."""

    def build(good, target: Path):
        spectra = [dict(s, mz=s["mz"].copy(), intensity=s["intensity"].copy()) for s in good[1]]
        change(spectra)
        write_mzml(target, spectra)

    return build


def _truncated(good, target: Path):
    data = good[0].read_bytes()
    target.write_bytes(data[: int(len(data) * 0.45)])


def _not_xml(good, target: Path):
    target.write_text("time_min\tintensity\n0.0\t1234\n1.0\t2345\n")  # a table saved as .mzML


def _empty(good, target: Path):
    target.write_bytes(b"")


def _broken_gzip(good, target: Path):
    data = gzip.compress(good[0].read_bytes(), compresslevel=1)
    target.write_bytes(data[: len(data) // 2])


def _set_value(k: int, index: int, value: float):
    def change(spectra):
        spectra[k]["intensity"][index] = value

    return change


def _narrow_mz(spectra):
    for s in spectra:
        keep = s["mz"] <= 7000.0
        s["mz"], s["intensity"] = s["mz"][keep], s["intensity"][keep]


# --- the matrix ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    build: Callable | None  # writes the bad data/s1.mzML (None: the good file)
    expected: tuple[str, ...]  # fragments of the one line
    sheet: str = SHEET_HEAD + GOOD_ROW
    config: dict | None = None  # dotted key -> value changed in the small config
    system_edit: tuple[str, str] | None = None  # (old, new) text of the demo's system file


SYSTEM_FILE = "data/system.yaml"  # where a case's edited system file goes
DEMO_SYSTEM = Path(__file__).resolve().parents[1] / "resources" / "systems" / "ag25_au25.yaml"


def _system_case(old: str, new: str, *expected: str) -> Case:
    """A system-file case: the demo's system file with one edit, named by the config."""
    return Case(None, tuple(f"{SYSTEM_FILE}: {e}" for e in expected),
                config={"system": SYSTEM_FILE}, system_edit=(old, new))  # fmt: skip


MZML_CASES = {
    "truncated": Case(_truncated, (f"{MZML}: unreadable after spectrum 'scan=",
                                   "the file is truncated or not valid mzML")),
    "not_xml": Case(_not_xml, (f"{MZML}: is not XML; expected an mzML file",)),
    "empty_file": Case(_empty, (f"{MZML}: file is empty; expected an mzML file",)),
    "broken_gzip": Case(_broken_gzip, (f"{MZML}: gzip file cannot be decompressed",
                                       "expected gzip-compressed mzML")),
    "no_ms1": Case(_text_edit(r'(accession="MS:1000511" name="ms level" value=)"1"', r'\1"2"'),
                   (f"{MZML}: no MS1 spectra among 11 spectra; expected ms level 1",)),
    "no_scan_start_time": Case(
        _text_edit(r'<cvParam [^>]*accession="MS:1000016"[^>]*/>', ""),
        (f"{MZML}: spectrum 'scan=1' (index 0): no scan start time (MS:1000016); expected a "
         "scan start time in minutes or seconds",)),
    "unknown_time_unit": Case(
        _text_edit(r'unitAccession="UO:0000031" unitName="minute"',
                   'unitAccession="UO:0000033" unitName="day"'),
        (f"{MZML}: spectrum 'scan=1' (index 0): scan start time unit 'day' is unknown; "
         "expected minute or second (or millisecond, hour)",)),
    "no_time_unit": Case(
        _text_edit(r' unitCvRef="[^"]*" unitAccession="UO:0000031" unitName="minute"', ""),
        (f"{MZML}: spectrum 'scan=1' (index 0): scan start time has no unit",)),
    "unsorted_scan_times": Case(
        _scan_times({2: "18.0", 3: "12.0"}),
        (f"{MZML}: spectrum 'scan=4' (index 3): decreasing scan time 12 min after 18 min; "
         "expected strictly increasing scan times",)),
    "duplicate_scan_times": Case(
        _scan_times({3: "12.0"}),
        (f"{MZML}: spectrum 'scan=4' (index 3): duplicate scan time 12 min after 12 min; "
         "expected strictly increasing scan times",)),
    "nan_intensity": Case(
        _arrays(_set_value(4, 1000, np.nan)),
        (f"{MZML}: spectrum 'scan=5' (index 4): NaN or infinite values in the arrays; "
         "expected finite numbers",)),
    "negative_intensity": Case(
        _arrays(_set_value(4, 1000, -5.0)),
        (f"{MZML}: spectrum 'scan=5' (index 4): negative intensities (min -5); expected "
         "counts >= 0",)),
    "positive_polarity": Case(
        _text_edit(r'accession="MS:1000129" name="negative scan"',
                   'accession="MS:1000130" name="positive scan"'),
        (f"{MZML}: spectrum 'scan=1' (index 0): positive polarity; expected negative ions "
         "(the cluster system's charges)",)),
    "mz_range_misses_species": Case(
        _arrays(_narrow_mz),
        (f"{MZML}: the MS1 spectra cover m/z 5000.0-7000.0, which misses the species; "
         "expected at least m/z 51",)),
    "xml_but_not_mzml": Case(
        lambda good, target: target.write_text("<?xml version='1.0'?>\n<run><scan/></run>\n"),
        (f"{MZML}: is XML but not mzML (no <mzML> element at the start)",)),
    "absurd_intensity": Case(
        _arrays(_set_value(4, 1000, 1e300)),
        (f"{MZML}: spectrum 'scan=5' (index 4): intensity 1e+300 at m/z ",
         "expected counts below 1e+20 (a value this large is a unit or conversion error)")),
    "negative_scan_time": Case(
        _scan_times({0: "-29.9"}),
        (f"{MZML}: spectrum 'scan=1' (index 0): scan time -29.9 min; expected scan times >= 0 "
         "(minutes since the acquisition started), increasing",)),
    "cid_file_without_ms2": Case(  # fails after intensities.tsv and qc.tsv were written
        None, ("data/s1.mzML: no MS2 spectra among 11 spectra; expected ms level 2",),
        sheet=SHEET_HEAD.replace("\n", "\tcid_mzml\n") + GOOD_ROW.replace("\n", "\ts1.mzML\n")),
}  # fmt: skip

SHEET = "sample sheet data/samples.tsv"
PARSE_CASES = {
    "missing_mzml_path": Case(
        None, (f"{SHEET}: sample {SAMPLE}: mzml file data/missing.mzML not found",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("s1.mzML", "missing.mzML")),
    "sheet_missing_column": Case(
        None, (f"{SHEET}: missing column(s) au_nM; expected tab-separated columns sample, "
               "mzml, ag_nM, au_nM[, dead_time_s, cid_mzml]",),
        sheet=f"sample\tmzml\tag_nM\n{SAMPLE}\ts1.mzML\t40\n"),
    "sheet_wrong_type": Case(
        None, (f"{SHEET}, line 2: ag_nM = 'forty': must be a number (nmol/L for "
               "concentrations, s for dead_time_s)",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t40\t40", "\tforty\t40")),
    "sheet_duplicate_samples": Case(
        None, (f"{SHEET}: duplicate sample name(s) {SAMPLE}",),
        sheet=SHEET_HEAD + GOOD_ROW + GOOD_ROW),
    "sheet_negative_concentration": Case(
        None, (f"{SHEET}, line 2: au_nM = -40.0: must be >= 0",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t40\t20", "\t-40\t20")),
    "sheet_negative_dead_time": Case(
        None, (f"{SHEET}, line 2: dead_time_s = -20.0: must be >= 0",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t20\n", "\t-20\n")),
    "sheet_reserved_name": Case(
        None, (f"{SHEET}: sample name 'all' is reserved for the joint fit",),
        sheet=SHEET_HEAD + GOOD_ROW.replace(SAMPLE, "all")),
    "sheet_reserved_name_other_case": Case(
        None, (f"{SHEET}: sample name 'All' is reserved for the joint fit over all samples "
               "(fit.joint_sample_name, in any letter case)",),
        sheet=SHEET_HEAD + GOOD_ROW.replace(SAMPLE, "All")),
    "sheet_name_escapes_its_folder": Case(  # results/deconvolution/../intensities.tsv
        None, (f"{SHEET}, line 2: sample = '..': must not start with '.'",),
        sheet=SHEET_HEAD + GOOD_ROW.replace(SAMPLE, "..")),
    "sheet_names_differ_only_in_case": Case(  # one folder on macOS's file system
        None, (f"{SHEET}: sample names {SAMPLE}, {SAMPLE.upper()} differ only in case",
               "case-insensitive file system"),
        sheet=SHEET_HEAD + GOOD_ROW + GOOD_ROW.replace(SAMPLE, SAMPLE.upper())),
    "sheet_not_found": Case(
        None, ("sample sheet data/nope.tsv: file not found",), config={"samples": "data/nope.tsv"}),
    "config_zero_rate_bound": Case(
        None, ("fit.grid.k_dim.min = 0: must be > 0",), config={"fit.grid.k_dim.min": 0}),
    "config_negative_rate_bound": Case(
        None, ("fit.grid.k_ex.max = -0.1: must be > 0",), config={"fit.grid.k_ex.max": -0.1}),
    "config_one_grid_point": Case(
        None, ("fit.grid.k_diss.n = 1: must be >= 2",), config={"fit.grid.k_diss.n": 1}),
    "config_more_chunks_than_points": Case(
        None, ("fit.chunks = 28: must be <= the number of grid points (27)",),
        config={"fit.chunks": 28}),
    "config_unknown_model": Case(
        None, ("fit.models.1 = 5: must be one of [1, 2, 3, 4]",), config={"fit.models": [2, 5]}),
    "config_negative_dead_time": Case(
        None, ("kinetics.table1_conditions.dead_time_s = -20: must be >= 0",),
        config={"kinetics.table1_conditions.dead_time_s": -20}),
    "config_unknown_convention": Case(
        None, ("kinetics.convention = 'X': must be one of ['S', 'U']",),
        config={"kinetics.convention": "X"}),
    "config_zero_max_steps": Case(
        None, ("kinetics.max_steps = 0: must be >= 1",), config={"kinetics.max_steps": 0}),
    "config_old_cluster_section": Case(
        None, ("cluster: replaced by system, the path of a cluster-system file",),
        config={"cluster": {"nuclearity": 25}}),
    "system_file_not_found": Case(
        None, ("data/nope.yaml: file not found",), config={"system": "data/nope.yaml"}),
    "system_unknown_element": _system_case(
        "metals: [Ag, Au]", "metals: [Ag, Qq]",
        "metals.1 = 'Qq': unknown element Qq (not in IsoSpecPy's periodic table)"),
    "system_composition_outside_nuclearity": _system_case(
        "    ligands: {SR: 18}\n", "    composition: {min: 0, max: 26}\n    ligands: {SR: 18}\n",
        "families.monomer.composition.max = 26: must lie in 0..25 (the nuclearity)"),
    "system_zero_charge": _system_case(
        "    core_charge: -2\n", "    core_charge: 0\n",
        "families.dimer.core_charge = 0: must not be 0"),
    "system_reactant_not_a_family": _system_case(
        "ag25: {family: monomer,", "ag25: {family: tetramer,",
        "reactants.ag25.family = 'tetramer': not among the families (monomer, dimer, trimer)"),
    "system_duplicate_ion_forms": _system_case(
        "      - charge: -1\n", "      - charge: -1\n      - charge: -1\n",
        "families.monomer.ion_forms.1: charge -1 with 0 Na: duplicate ion form "
        "(also in families.monomer.ion_forms.0)"),
    # --- second round: non-finite numbers, sheet ambiguities, degenerate runs -------------
    "sheet_nan_concentration": Case(
        None, (f"{SHEET}, line 2: ag_nM = nan: must be a finite number",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t40\t40", "\tnan\t40")),
    "sheet_infinite_dead_time": Case(
        None, (f"{SHEET}, line 2: dead_time_s = inf: must be a finite number",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t20\n", "\tinf\n")),
    "sheet_duplicate_column": Case(
        None, (f"{SHEET}, line 1: column 'ag_nM' is given twice (columns 3 and 6); expected "
               "each column once",),
        sheet=SHEET_HEAD.replace("\n", "\tag_nM\n") + GOOD_ROW.replace("\n", "\t400\n")),
    "sheet_misspelt_column": Case(
        None, (f"{SHEET}, line 1: `dead_time`: unknown column; did you mean `dead_time_s`?",),
        sheet=SHEET_HEAD.replace("dead_time_s", "dead_time") + GOOD_ROW),
    "sheet_hash_is_not_a_comment": Case(  # the whole path is named, not a cut-off one
        None, (f"{SHEET}: sample {SAMPLE}: mzml file data/run#1/s1.mzML not found",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("s1.mzML", "run#1/s1.mzML")),
    "config_nan_grid_bound": Case(
        None, ("fit.grid.k_dim.max = nan: must be a finite number",),
        config={"fit.grid.k_dim.max": float("nan")}),
    "run_of_one_spectrum": Case(
        _arrays(lambda spectra: spectra.__delitem__(slice(1, None))),
        (f"{MZML}: sample {SAMPLE}: 1 MS1 spectra; t_max needs at least 3 time points (a "
         "quadratic through the top of each curve); expected a time series",)),
    "run_of_zero_spectra": Case(
        _arrays(lambda spectra: [s["intensity"].fill(0.0) for s in spectra]),
        (f"{MZML}: sample {SAMPLE}: all 11 MS1 spectra are zero; expected measured "
         "intensities",)),
    "dead_time_longer_than_the_run": Case(
        None, (f"{MZML}: sample {SAMPLE}: dead_time_s = 1e+06 (1.667e+04 min) is longer than "
               "the run (60 min of spectra); expected the seconds from mixing to the first "
               "spectrum",),
        sheet=SHEET_HEAD + GOOD_ROW.replace("\t20\n", "\t1e6\n")),
    "system_sheet_lacks_reactant_column": Case(  # the sheet's columns come from the system
        None, (f"{SHEET}: missing column(s) gold_nM; expected tab-separated columns sample, "
               "mzml, ag_nM, gold_nM[, dead_time_s, cid_mzml]",),
        config={"system": SYSTEM_FILE},
        system_edit=("sheet_column: au_nM", "sheet_column: gold_nM")),
}  # fmt: skip

JOB_LINE = re.compile(r"^\s*(local)?rule \w+:", re.MULTILINE)


def _config(changes: dict | None) -> dict:
    config = small_config()
    config["samples"] = "data/samples.tsv"
    for dotted, value in (changes or {}).items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    return config


def _prepare(work: Path, good, case: Case) -> Path:
    data = work / "data"
    data.mkdir(parents=True)
    (data / "samples.tsv").write_text(case.sheet)
    if case.system_edit is not None:
        old, new = case.system_edit
        text = DEMO_SYSTEM.read_text()
        assert old in text, old  # the edit applies (else the case would test nothing)
        (work / SYSTEM_FILE).write_text(text.replace(old, new, 1))
    target = data / "s1.mzML"
    if case.build is None:
        shutil.copy(good[0], target)
    else:
        case.build(good, target)
    return target


def _the_line(stderr: str, expected: tuple[str, ...]) -> str:
    """The one line that carries the message (every line holding its start holds it all)."""
    lines = [line for line in stderr.splitlines() if expected[0] in line]
    assert lines, f"{expected[0]!r} not in stderr:\n{stderr[-4000:]}"
    for line in lines:
        for fragment in expected:
            assert fragment in line, f"{fragment!r} not in {line!r}"
    return lines[0]


def test_good_file_passes(tmp_path, good, snakemake_runner):
    """The control: the uncorrupted file deconvolves; the harness itself is sound."""
    _prepare(tmp_path, good, Case(None, ()))
    snakemake_runner.run(tmp_path, *OUTPUTS, config=_config(None))
    for output in OUTPUTS:
        assert (tmp_path / output).is_file()
    assert (tmp_path / OUTPUTS[0]).read_text().count("\n") == 1 + 11 * 77


@pytest.mark.parametrize("name", list(MZML_CASES))
def test_bad_mzml_stops_the_deconvolution(name, tmp_path, good, snakemake_runner):
    case = MZML_CASES[name]
    _prepare(tmp_path, good, case)
    proc = snakemake_runner.run(tmp_path, *OUTPUTS, config=_config(case.config), check=False)
    assert proc.returncode != 0
    line = _the_line(proc.stderr, case.expected)
    assert re.search(r" ERROR intercluster: data/s1\.mzML: ", line), line
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert "Error in rule deconvolve" in proc.stderr
    assert _the_line((tmp_path / RULE_LOG).read_text(), case.expected) == line
    for output in OUTPUTS:
        assert not (tmp_path / output).exists(), output


@pytest.mark.parametrize("name", list(PARSE_CASES))
def test_bad_sheet_or_config_stops_before_any_job(name, tmp_path, good, snakemake_runner):
    case = PARSE_CASES[name]
    _prepare(tmp_path, good, case)
    proc = snakemake_runner.run(tmp_path, *OUTPUTS, config=_config(case.config), check=False)
    assert proc.returncode != 0
    line = _the_line(proc.stderr, case.expected)
    if name.startswith("config"):
        assert line.startswith(f"config ({tmp_path / 'config.yaml'}): "), line
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert "WorkflowError" in proc.stderr
    assert not JOB_LINE.search(proc.stderr + proc.stdout), proc.stderr[-4000:]
    assert "Job stats" not in proc.stderr
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "logs").exists()


def test_matrix_size():
    assert len(MZML_CASES) + len(PARSE_CASES) >= 20


def test_long_dead_time_is_warned_before_the_run_and_in_run_json(tmp_path, good, snakemake_runner):
    """An unusual (not impossible) dead time: the run goes on, with one warning line when the
    workflow is read and the same line in the sample's run.json and deconvolution log."""
    sheet = SHEET_HEAD + GOOD_ROW.replace("\t20\n", "\t900\n")  # 15 min
    _prepare(tmp_path, good, Case(None, (), sheet=sheet))
    proc = snakemake_runner.run(tmp_path, *OUTPUTS, config=_config(None))
    warning = (
        f"{MZML}: sample {SAMPLE}: dead_time_s = 900 (15 min) is unusually long (above 10 min); "
        "check the sheet: it is the seconds from mixing to the first spectrum"
    )
    read = [line for line in proc.stderr.splitlines() if line == f"warning: {warning}"]
    assert len(read) == 1, proc.stderr[-3000:]  # while the workflow is read, before any job
    run = read_json(tmp_path / f"results/deconvolution/{SAMPLE}/run.json")
    assert run["warnings"] == [warning]
    assert warning in (tmp_path / RULE_LOG).read_text()
    # the control: the sheet's usual dead time gives no warning
    control = tmp_path / "control"
    _prepare(control, good, Case(None, ()))
    proc = snakemake_runner.run(control, *OUTPUTS, config=_config(None))
    assert "unusually long" not in proc.stderr
    assert read_json(control / f"results/deconvolution/{SAMPLE}/run.json")["warnings"] == []
