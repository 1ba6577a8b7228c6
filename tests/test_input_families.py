"""Bad input, second round (library level, fast): each family of issue 24 and the sheet typo
cases of issue 23, with the exact one-line message and a control that passes.

* non-finite and out-of-range numbers in the config, the sheet and the system file;
* spectra with absurd intensities or negative scan times;
* degenerate runs (too few spectra, all zero, no signal at the species' m/z) and dead times
  longer than the run: one rule (ingest.degenerate_run_problem) for the workflow's
  before-any-job check and for ``intercluster inspect``;
* sheets: duplicate and misspelt columns (both systems), '#' inside a field, what
  spreadsheets write (BOM, CRLF, trailing blanks and tabs, CSV saved as .tsv, latin-1);
* CID spectra whose precursor lies outside the isolation window of every dimer ion;
* files from elsewhere: encodings, YAML alias bombs and size, long values quoted short;
* outputs that cannot be written: one line naming the file, nothing partial.

The workflow-level counterparts (snakemake on the small config) are in test_bad_inputs.py.
"""

from __future__ import annotations

import copy
import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import CONCENTRATION_COLUMNS, read_sheet

from intercluster import io as icio
from intercluster.errors import InputError, WriteError
from intercluster.ingest import check_sample_run, read_spectra
from intercluster.observables import MIN_TMAX_TIMES
from intercluster.system import load_system
from intercluster.textfiles import MAX_YAML_NODES, load_yaml, quote
from intercluster.validation import load_sample_sheet, validate_config
from intercluster.virtual_experiment import write_mzml

REPO = Path(__file__).resolve().parents[1]
DEMO_SYSTEM = REPO / "resources" / "systems" / "ag25_au25.yaml"
AU44_SYSTEM = REPO / "resources" / "systems" / "au44_ag44.yaml"
HEAD = "sample\tmzml\tag_nM\tau_nM"
AU44_COLUMNS = ("au44_nM", "ag44_nM")
SPAN = (5166.7, 7394.2)  # the demo system's species (ion_form_basis(...).mz_span, rounded)


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- 1. every number finite and in range ------------------------------------------------------
@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("fit.grid.k_dim.max", float("nan"), "fit.grid.k_dim.max = nan"),
        ("fit.grid.k_ex.min", float("inf"), "fit.grid.k_ex.min = inf"),
        ("kinetics.table1_conditions.dead_time_s", float("nan"),
         "kinetics.table1_conditions.dead_time_s = nan"),
        ("fit.tmax.min_signal", float("-inf"), "fit.tmax.min_signal = -inf"),
    ],
)  # fmt: skip
def test_non_finite_config_numbers_are_refused(config, dotted, value, expected):
    validate_config(copy.deepcopy(config))  # the control: the shipped config passes
    changed = copy.deepcopy(config)
    *parents, leaf = dotted.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    assert _message(validate_config, changed) == f"config: {expected}: must be a finite number"


def test_yaml_nan_in_a_config_file_is_refused(tmp_path, config):
    """As a user writes it: `.nan` in YAML (a float NaN after loading)."""
    text = (REPO / "config" / "config.yaml").read_text(encoding="utf-8")
    assert "k_dim: {min: 1.0e-3, max: 1.0, n: 13}" in text
    path = tmp_path / "config.yaml"
    bad = text.replace("k_dim: {min: 1.0e-3, max: 1.0, n: 13}",
                       "k_dim: {min: 1.0e-3, max: .nan, n: 13}")  # fmt: skip
    path.write_text(bad, encoding="utf-8")
    assert "must be a finite number" in _message(validate_config, load_yaml(path))


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ("x\ta.mzML\tnan\t40", "line 2: ag_nM = nan: must be a finite number"),
        ("x\ta.mzML\t40\tinf", "line 2: au_nM = inf: must be a finite number"),
        ("x\ta.mzML\t40\t40\t-inf", "line 2: dead_time_s = -inf: must be a finite number"),
        ("x\ta.mzML\t40\t40\tNaN", "line 2: dead_time_s = nan: must be a finite number"),
    ],
)
def test_non_finite_sheet_numbers_are_refused(tmp_path, cells, expected):
    path = tmp_path / "samples.tsv"
    path.write_text(f"{HEAD}\tdead_time_s\n" + "x\ta.mzML\t40\t40\t20\n", encoding="utf-8")
    assert read_sheet(path).loc["x", "dead_time_s"] == 20  # the control
    path.write_text(f"{HEAD}\tdead_time_s\n{cells}\n", encoding="utf-8")
    assert _message(read_sheet, path) == f"sample sheet {path}, {expected}"


def test_non_finite_isotope_abundances_are_refused_with_the_line(tmp_path):
    text = DEMO_SYSTEM.read_text(encoding="utf-8")
    good = text + "isotopes:\n  Ag: {abundances: [0.5, 0.5]}\n"
    path = tmp_path / "system.yaml"
    path.write_text(good, encoding="utf-8")
    load_system(path)  # the control: a finite override loads
    line = good.count("\n")  # the line of the Ag entry's abundances
    path.write_text(good.replace("[0.5, 0.5]", "[0.5, .nan]"), encoding="utf-8")
    assert _message(load_system, path) == (
        f"{path}: isotopes.Ag.abundances.1 = nan: must be a finite number (line {line})"
    )


# --- 2. spectra: absurd intensities, negative scan times -------------------------------------
def _spectra(n: int = 6, scale: float = 1.0e4, t0: float = 0.0, step: float = 5.0,
             span: tuple[float, float] = SPAN) -> list[dict]:  # fmt: skip
    """Profile spectra with a few peaks inside ``span`` (and the m/z range around it)."""
    mz = np.arange(5000.0, 7600.0, 0.05)
    centres = np.linspace(span[0] + 50, span[1] - 50, 5)
    y = sum(np.exp(-0.5 * ((mz - c) / 0.1) ** 2) for c in centres) * scale
    return [{"id": f"scan={k + 1}", "time_min": t0 + step * k, "mz": mz, "intensity": y.copy()}
            for k in range(n)]  # fmt: skip


def test_absurd_intensity_names_the_spectrum(tmp_path):
    spectra = _spectra()
    path = write_mzml(tmp_path / "ok.mzML", spectra)
    assert len(read_spectra(path)) == 6  # the control
    spectra[3]["intensity"][20000] = 1e300
    path = write_mzml(tmp_path / "s.mzML", spectra)
    assert _message(read_spectra, path) == (
        f"{path}: spectrum 'scan=4' (index 3): intensity 1e+300 at m/z 6000.0000; expected "
        "counts below 1e+20 (a value this large is a unit or conversion error)"
    )


def test_negative_scan_time_is_refused(tmp_path):
    path = write_mzml(tmp_path / "s.mzML", _spectra(t0=-29.9))
    assert _message(read_spectra, path) == (
        f"{path}: spectrum 'scan=1' (index 0): scan time -29.9 min; expected scan times >= 0 "
        "(minutes since the acquisition started), increasing"
    )


# --- 3. degenerate runs, dead time: one rule for the workflow and inspect ---------------------
def _check(path, dead_time_s=20.0, **kwargs):
    return check_sample_run(path, "s1", SPAN, 0.0, dead_time_s, **kwargs)


@pytest.mark.parametrize(
    ("spectra", "bin_min", "reason"),
    [
        (_spectra(n=1), 0.0, f"1 MS1 spectra; t_max needs at least {MIN_TMAX_TIMES} time points "
         "(a quadratic through the top of each curve); expected a time series"),
        (_spectra(n=6), 20.0, "6 MS1 spectra (2 time points with deconvolution.time_bin_min = 20); "
         f"t_max needs at least {MIN_TMAX_TIMES} time points"),
        (_spectra(scale=0.0), 0.0, "all 6 MS1 spectra are zero; expected measured intensities"),
        (_spectra(span=(5000.0, 5160.0)), 0.0,
         "signal at the species' m/z 5166.7-7394.2 in 0 of 6 time points; t_max needs at least "
         f"{MIN_TMAX_TIMES} (no observable can rise above fit.tmax.min_signal)"),
    ],
    ids=["one_spectrum", "binned_to_two", "all_zero", "no_signal_at_the_species"],
)  # fmt: skip
def test_degenerate_run_is_refused_naming_sample_and_file(tmp_path, spectra, bin_min, reason):
    good = write_mzml(tmp_path / "good.mzML", _spectra())
    assert check_sample_run(good, "s1", SPAN, bin_min and 5.0, 20.0) == []  # the control
    path = write_mzml(tmp_path / "s1.mzML", spectra)
    message = _message(check_sample_run, path, "s1", SPAN, bin_min, 20.0)
    assert message.startswith(f"{path}: sample s1: ")
    assert reason in message


def test_dead_time_longer_than_the_run_is_refused_and_a_long_one_warned(tmp_path):
    path = write_mzml(tmp_path / "s1.mzML", _spectra())  # 0-25 min
    assert _check(path, 20.0) == []
    assert _message(_check, path, 1.0e6) == (
        f"{path}: sample s1: dead_time_s = 1e+06 (1.667e+04 min) is longer than the run (25 min "
        "of spectra); expected the seconds from mixing to the first spectrum"
    )
    assert _check(path, 900.0) == [
        f"{path}: sample s1: dead_time_s = 900 (15 min) is unusually long (above 10 min); check "
        "the sheet: it is the seconds from mixing to the first spectrum"
    ]


def test_a_passed_check_is_remembered_until_the_file_changes(tmp_path):
    path = write_mzml(tmp_path / "s1.mzML", _spectra())
    cache = tmp_path / "cache"
    assert _check(path, 900.0, cache_dir=cache) != []
    assert len(list(cache.iterdir())) == 1
    assert _check(path, 900.0, cache_dir=cache) == _check(path, 900.0)  # from the cache
    write_mzml(path, _spectra(n=1))  # the file changes: checked again, and refused
    assert "1 MS1 spectra" in _message(_check, path, 900.0, cache_dir=cache)


def test_inspect_reports_the_same_rule(tmp_path):
    from intercluster.inspect import format_inspection, inspect_file
    from intercluster.system import default_system

    good = inspect_file(write_mzml(tmp_path / "good.mzML", _spectra()), default_system())
    assert not any("t_max needs" in p or "are zero" in p for p in good.problems)  # control
    one = inspect_file(write_mzml(tmp_path / "one.mzML", _spectra(n=1)), default_system())
    assert f"1 MS1 spectra; t_max needs at least {MIN_TMAX_TIMES} time points" in one.problems[0]
    assert "the workflow would refuse it: 1 MS1 spectra" in format_inspection(one)


# --- 4. sheets ------------------------------------------------------------------------------
def _sheet(tmp_path, text: str | bytes) -> Path:
    path = tmp_path / "samples.tsv"
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("text", "columns", "expected"),
    [
        (f"{HEAD}\tdead_time\nx\ta.mzML\t40\t40\t30\n", None,
         "line 1: `dead_time`: unknown column; did you mean `dead_time_s`?"),
        (f"{HEAD}\tcid_mzML\nx\ta.mzML\t40\t40\tc.mzML\n", None,
         "line 1: `cid_mzML`: unknown column; did you mean `cid_mzml`?"),
        (f"{HEAD}\tconditon\nx\ta.mzML\t40\t40\tc40\n", None,
         "line 1: `conditon`: unknown column; did you mean `condition`?"),
        (f"{HEAD}\tcolour\nx\ta.mzML\t40\t40\tred\n", None,
         "line 1: `colour`: unknown column; expected one of sample, mzml, ag_nM, au_nM, "
         "dead_time_s, second_dimer_fraction, dimer_response, cid_mzml, condition"),
        ("sample\tmzml\tAg_nM\tau_nM\nx\ta.mzML\t40\t40\n", None,
         "missing column(s) ag_nM; expected tab-separated columns sample, mzml, ag_nM, au_nM"
         "[, dead_time_s, cid_mzml]; `Ag_nM`: unknown column; did you mean `ag_nM`?"),
        ("sample\tmzml\tau44_nM\tag44_nM\tdead_time\nx\ta.mzML\t50\t50\t20\n", AU44_COLUMNS,
         "line 1: `dead_time`: unknown column; did you mean `dead_time_s`?"),
        ("sample\tmzml\tau44_nm\tag44_nM\nx\ta.mzML\t50\t50\n", AU44_COLUMNS,
         "missing column(s) au44_nM; expected tab-separated columns sample, mzml, au44_nM, "
         "ag44_nM[, dead_time_s, cid_mzml]; `au44_nm`: unknown column; did you mean `au44_nM`?"),
        (f"{HEAD}\n{HEAD}\n", None,
         "line 2: ag_nM = 'ag_nM': must be a number"),
    ],
    ids=["dead_time", "cid_mzML", "conditon", "no_near_name", "Ag_nM_missing", "au44_dead_time",
         "au44_nm_missing", "header_twice"],
)  # fmt: skip
def test_sheet_typos_name_the_nearest_column(tmp_path, text, columns, expected):
    if columns is not None:  # the Au44/Ag44 sheet: its columns come from its system file
        assert load_system(AU44_SYSTEM).concentration_columns() == columns
    control = "\t".join(("sample", "mzml", *(columns or ("ag_nM", "au_nM"))))
    columns = columns or CONCENTRATION_COLUMNS  # the others: the shipped system's
    load_sample_sheet(_sheet(tmp_path, f"{control}\nx\ta.mzML\t50\t50\n"),
                      concentration_columns=columns)  # fmt: skip
    path = _sheet(tmp_path, text)
    message = _message(load_sample_sheet, path, concentration_columns=columns)
    assert message.startswith(f"sample sheet {path}")
    assert expected in message, message


def test_sheet_duplicate_column_is_refused(tmp_path):
    path = _sheet(tmp_path, f"{HEAD}\tag_nM\nx\ta.mzML\t40\t40\t400\n")
    assert _message(read_sheet, path) == (
        f"sample sheet {path}, line 1: column 'ag_nM' is given twice (columns 3 and 5); "
        "expected each column once"
    )


def test_hash_inside_a_field_is_data_and_comment_lines_keep_line_numbers(tmp_path):
    text = f"# run of 3 May\n{HEAD}\tcondition\n# 40:40\nrun#1\tdata#1/a.mzML\t40\t40\tc#2\n"
    sheet = read_sheet(_sheet(tmp_path, text.replace("run#1", "run1")))
    assert sheet.loc["run1", "mzml"] == str(tmp_path / "data#1" / "a.mzML")
    assert sheet.loc["run1", "condition"] == "c#2"
    # the line number counts the comment lines: the bad name is on line 4 of the file
    message = _message(read_sheet, _sheet(tmp_path, text))
    assert message == (f"sample sheet {tmp_path / 'samples.tsv'}, line 4: sample = 'run#1': "
                       "must match the pattern ^[A-Za-z0-9_.-]+$")  # fmt: skip


def test_a_utf16_sheet_is_read(tmp_path):
    """Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated, CRLF."""
    text = f"{HEAD}\tcondition\r\nx\ta.mzML\t40\t60\tRéf\r\n"
    assert read_sheet(_sheet(tmp_path, text.encode("utf-16"))).loc["x", "condition"] == "Réf"
    # the control: the same bytes without their byte-order mark are not UTF-8
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_sheet(_sheet(tmp_path, text.encode("utf-16-le")))


def test_what_spreadsheets_write_is_read(tmp_path):
    """A BOM, Windows line endings, blanks around names and values, trailing tabs (empty
    unnamed columns) and blank lines: the same sheet as the clean one."""
    clean = read_sheet(_sheet(tmp_path, f"{HEAD}\tdead_time_s\nx\ta.mzML\t40\t60\t15\n"))
    messy = ("\ufeff sample \tmzml\t ag_nM\tau_nM \tdead_time_s\t\t\r\n"
             "x\ta.mzML\t 40\t60 \t15\t\t\r\n\t\t\t\t\t\t\r\n\r\n")  # fmt: skip
    got = read_sheet(_sheet(tmp_path, messy))
    pd.testing.assert_frame_equal(got, clean)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"sample,mzml,ag_nM,au_nM\nx,a.mzML,40,40\n",
         "line 1: header 'sample,mzml,ag_nM,au_nM' has no tab but ','; expected tab-separated "
         "columns (save the sheet as 'Text (Tab delimited)', not CSV)"),
        (b"sample;mzml;ag_nM;au_nM\nx;a.mzML;40;40\n", "has no tab but ';'"),
        (f"{HEAD}\tcondition\nx\ta.mzML\t40\t40\tR\u00e9f\n".encode("latin-1"),
         "line 2: not UTF-8 text (byte 0xe9 at byte offset 50); expected a UTF-8 file"),
        (f"{HEAD}\nx\ta.mzML\t40\t40\t7\n".encode(),
         "line 2: 5 fields for 4 columns (extra value '7'); expected one value per column"),
        (f"{HEAD}\t\nx\ta.mzML\t40\t40\t7\n".encode(),
         "line 1: column 5 has values but no name; expected a name for every column"),
        (b"# only a comment\n", "has no header line"),
        (f"{HEAD}\nx\ta.mzML\t40,5\t40\n".encode(),
         "line 2: ag_nM = '40,5': must be a number (nmol/L for concentrations, s for "
         "dead_time_s); write the decimal separator as '.'"),
    ],
    ids=["comma", "semicolon", "latin1", "extra_field", "unnamed_column", "no_header",
         "decimal_comma"],
)  # fmt: skip
def test_sheet_format_problems_name_the_line(tmp_path, data, expected):
    path = _sheet(tmp_path, data)
    message = _message(read_sheet, path)
    assert message.startswith(f"sample sheet {path}")
    assert expected in message, message


# --- 5. CID precursor within the isolation window ---------------------------------------------
@pytest.fixture(scope="module")
def cid_spectra():
    """MS2 spectra of the demo's dimer ion, as the virtual experiment writes them."""
    from workflow_helpers import cluster_of, small_config

    from intercluster.system import ClusterSystem
    from intercluster.virtual_experiment import simulate_sample

    config = small_config()
    ve = dict(config["virtual_experiment"], cid=dict(config["virtual_experiment"]["cid"],
                                                     times_min=[5.0, 10.0]))  # fmt: skip
    system = ClusterSystem.from_config(cluster_of(config))
    sample = next(iter(ve["samples"]))
    result = simulate_sample(system, ve, sample, times_min=np.array([0.0, 5.0, 10.0]))
    return system, result.cid, ve["resolving_power"]


@pytest.mark.parametrize("selected", [1000.0, 6302.0])  # far off; between two dimer ions
def test_cid_precursor_outside_the_isolation_window_is_refused(tmp_path, cid_spectra, selected):
    from intercluster.deconvolution import deconvolve_cid_run
    from intercluster.settings import DeconvolutionSettings

    system, spectra, resolving_power = cid_spectra
    settings = DeconvolutionSettings.schema_default()
    good = write_mzml(tmp_path / "good.mzML", spectra, ms_level=2)
    run = read_spectra(good, ms_level=2, mz_required=None)
    table = deconvolve_cid_run(run, system, resolving_power, settings)  # the control
    assert len(table) > 0
    moved = [dict(s, precursor_mz=selected) for s in spectra]
    path = write_mzml(tmp_path / "cid.mzML", moved, ms_level=2)
    run = read_spectra(path, ms_level=2, mz_required=None)
    message = _message(deconvolve_cid_run, run, system, resolving_power, settings)
    assert message.startswith(f"{path}: spectrum '{spectra[0]['id']}' (index 0): selected ion "
                              f"m/z {selected:.2f} (isolation window m/z ")  # fmt: skip
    assert "the file's isolation window) does not hold the nearest dimer ion" in message
    assert message.endswith("expected the CID of a dimer ion of the cluster system")


# --- 6. files from elsewhere: encodings, YAML bounds, long values ------------------------------
def test_latin1_system_file_names_the_byte_offset(tmp_path):
    text = DEMO_SYSTEM.read_text(encoding="utf-8")
    path = tmp_path / "system.yaml"
    path.write_bytes(text.encode("utf-8"))
    load_system(path)  # the control
    data = text.replace("title: ", "title: Société ", 1).encode("latin-1")
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    line = data[:offset].count(b"\n") + 1
    assert _message(load_system, path) == (
        f"{path}, line {line}: not UTF-8 text (byte 0xe9 at byte offset {offset}); expected a "
        "UTF-8 file (save it with the encoding UTF-8)"
    )


def test_yaml_alias_bomb_is_refused_before_anything_walks_it(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 9):  # 9^9 (387 million) scalars once expanded
        prev, name = chr(96 + k), chr(97 + k)
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels[:3]) + "\n", encoding="utf-8")
    assert len(load_yaml(path)["c"]) == 9  # the control: a few aliases are fine
    path.write_text("\n".join(levels) + "\n", encoding="utf-8")
    assert _message(load_yaml, path) == (
        f"{path}: more than {MAX_YAML_NODES} YAML nodes once its aliases (*name) are expanded; "
        "refused, because every check would walk the expanded document (a file of repeated "
        "aliases can grow beyond any memory); write the values out instead"
    )
    assert _message(load_system, path).startswith(f"{path}: more than {MAX_YAML_NODES} YAML")


def test_oversized_yaml_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "# padding\n" * 200_000, encoding="utf-8")
    assert _message(load_yaml, path).startswith(f"{path}: 2000008 bytes; expected at most")


def test_long_values_are_quoted_short(tmp_path):
    assert quote("x" * 78) == repr("x" * 78)  # the control: short values whole
    text = DEMO_SYSTEM.read_text(encoding="utf-8")
    path = tmp_path / "system.yaml"
    path.write_text(text.replace("name: ag25_au25", "name: " + "a b" * 100_000, 1),
                    encoding="utf-8")  # fmt: skip
    message = _message(load_system, path)
    assert message == (
        f"{path}: name = '{('a b' * 27)[:79]}… (300002 characters): must match the pattern "
        "^[A-Za-z][A-Za-z0-9_-]*$ (line 4)"
    )
    sheet = _sheet(tmp_path, f"{HEAD}\n{'y' * 5000}!\ta.mzML\t40\t40\n")
    assert "… (5003 characters): must match the pattern" in _message(read_sheet, sheet)


# --- 7. outputs that cannot be written -------------------------------------------------------
@pytest.mark.parametrize("writer", ["tsv", "json", "text", "parquet"])
def test_failed_write_names_the_file_and_leaves_nothing(tmp_path, monkeypatch, writer):
    from intercluster import fit

    frame = pd.DataFrame({"a": np.arange(1000.0)})
    write = {"tsv": lambda p: icio.write_tsv(frame, p),
             "json": lambda p: icio.write_json({"a": list(range(1000))}, p),
             "text": lambda p: icio.write_text("x" * 100_000, p),
             "parquet": lambda p: fit.write_parquet(frame, p)}[writer]  # fmt: skip
    write(tmp_path / "ok.out")  # the control
    assert (tmp_path / "ok.out").stat().st_size > 0

    real_open = open

    class FullDisk:
        """A file object that takes a few bytes, then fails as a full disk does."""

        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 64:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    target = tmp_path / "out" / "table.out"

    def full_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return FullDisk(handle) if str(file) == str(target) and "w" in mode else handle

    if writer == "parquet":
        import pyarrow.parquet as pq

        real_write_table = pq.write_table

        def failing_write_table(table, where, **kwargs):
            Path(where).write_bytes(b"PAR1 partial")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(pq, "write_table", failing_write_table)
        assert real_write_table is not failing_write_table
    else:
        monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(WriteError) as caught:
        write(target)
    assert str(caught.value) == (
        f"{target}: cannot be written (No space left on device); nothing of it was kept; free "
        "disk space or fix the folder's permissions and run the same command again"
    )
    assert not target.exists()


def test_a_write_error_is_logged_as_one_line(tmp_path):
    import subprocess
    import sys

    code = (
        "from intercluster.io import configure_logging\n"
        "from intercluster.errors import WriteError\n"
        f"configure_logging({str(tmp_path / 'x.log')!r})\n"
        "raise WriteError('results/x.tsv: cannot be written (File too large); nothing')\n"
    )
    env = {"PYTHONPATH": str(REPO / "workflow" / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = (tmp_path / "x.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "ERROR intercluster: results/x.tsv: cannot be written (File too large); nothing"
    )


# --- 8. resume: a lock left by a killed run is explained --------------------------------------
def test_lock_owner_is_explained(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from intercluster.runlock import explain_lock, record_lock_owner

    smk = tmp_path / ".snakemake"
    assert explain_lock(smk) is None  # the control: no lock, nothing to say
    (smk / "locks").mkdir(parents=True)
    (smk / "locks" / "0.output.lock").write_text("results/x.tsv\n")
    assert "locked by an earlier snakemake run that did not record itself" in explain_lock(smk)
    record_lock_owner(smk)  # this process holds the lock
    assert json.loads((smk / "locks" / "owner.json").read_text())["pid"] == os.getpid()
    host = socket.gethostname()
    assert explain_lock(smk).startswith(
        f"{smk / 'locks'}: locked by snakemake process {os.getpid()} on {host} (still running)"
    )
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)
    (smk / "locks" / "owner.json").write_text(json.dumps({"host": host, "pid": pid}))
    assert explain_lock(smk) == (
        f"{smk / 'locks'}: stale lock of snakemake process {pid} on {host}, which no longer "
        "runs (the run was killed): snakemake --unlock with the same --configfile/--config/"
        "--workflow-profile options, then the same command again (the default profile's "
        "rerun-incomplete redoes the jobs that were cut off)"
    )


def test_a_config_error_names_the_line_of_the_file_that_set_it(tmp_path):
    from workflow_helpers import merged

    base = tmp_path / "config.yaml"
    base.write_text((REPO / "config" / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("# my run\nfit:\n  grid:\n    k_dim: {min: 1.0e-3, max: .nan, n: 5}\n",
                       encoding="utf-8")  # fmt: skip
    files = [base, overlay]
    validate_config(load_yaml(base), files=files)  # the control: the base alone is valid
    config_ = merged(load_yaml(base), load_yaml(overlay))
    assert _message(validate_config, config_, files=files) == (
        f"config: fit.grid.k_dim.max = nan: must be a finite number ({overlay}, line 4)"
    )
    config_["fit"]["grid"]["k_dim"]["max"] = float("inf")  # as from --config: no file set it
    assert _message(validate_config, config_, files=files) == (
        "config: fit.grid.k_dim.max = inf: must be a finite number"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "results/f.png"),
         "results/f.png: cannot be written (No space left on device)"),
        (OSError(errno.EFBIG, "File too large"),  # a library's writer that names no file
         "results/a.tsv, results/b.png: cannot be written (File too large)"),
    ],
)  # fmt: skip
def test_a_write_error_of_any_writer_names_the_file(error, expected):
    from types import SimpleNamespace

    from intercluster.rule_script import call_writing

    smk = SimpleNamespace(output=["results/a.tsv", "results/b.png"])
    call_writing(lambda smk: None, smk)  # the control

    def main(smk):
        raise error

    with pytest.raises(WriteError) as caught:
        call_writing(main, smk)
    assert str(caught.value).startswith(expected)

    def reads(smk):  # not a write error: left as it is (with its traceback)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "results/in.tsv")

    with pytest.raises(FileNotFoundError):
        call_writing(reads, smk)
