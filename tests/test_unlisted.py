"""qc.tsv names the plausible ion forms the system file does not list (intercluster.unlisted).

A SYNTHETIC Au44/Ag44 run is made with a system file whose (SR)27 framework reaches further
down (x = 12-24) than the shipped one (17-24), and deconvolved, as the rules do
(:func:`intercluster.frameworks.deconvolve_run_ion_forms`), with the shipped file: the
compositions below 17 must be reported in qc.tsv's new columns, not absorbed. The negative
control deconvolves the same file with the wider system file: nothing is unlisted there.
The same data also go through the workflow (snakemake on a user sheet, config/au44_ag44.yaml,
the deconvolution of that one sample only): its qc.tsv reports them, and with the wider
system file (``--config system=``) it does not.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from test_frameworks import AU44, INSTRUMENT, _evolution

from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.io import read_tsv
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system
from intercluster.unlisted import UNLISTED_COLUMNS, unlisted_forms
from intercluster.virtual_experiment import write_mzml

WIDE_MIN = 12  # the (SR)27 framework of the simulated data: x = 12-24


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unlisted")
    data = yaml.safe_load(AU44.read_text())
    data["families"]["mixed_framework"]["composition"]["min"] = WIDE_MIN
    wide_file = folder / "wide.yaml"
    wide_file.write_text(yaml.safe_dump(data))
    wide = load_system(wide_file)
    # much (SR)27 at 10-30 min, its Au count 12 + Binomial(12, 0.3): mostly x = 14-17
    evolution = _evolution(q_start={"ag44_framework": 0.02, "mixed_framework": 0.3,
                                    "au44_framework": 1.0},
                           q_end={"ag44_framework": 0.4, "mixed_framework": 0.3,
                                  "au44_framework": 0.6})  # fmt: skip
    ex = fw.simulate_framework_experiment(wide, evolution, [10.0, 20.0, 30.0], **INSTRUMENT,
                                         seed=3)  # three: the workflow refuses fewer
    window = (float(ex.mz[0]), float(ex.mz[-1]))
    spectra = [{"id": f"scan={k + 1}", "time_min": float(t), "mz": ex.mz, "intensity": y,
                "scan_window": window}
               for k, (t, y) in enumerate(zip(ex.times_min, ex.spectra, strict=True))]  # fmt: skip
    path = write_mzml(folder / "wide.mzML", spectra, polarity="negative scan",
                      resolving_power=INSTRUMENT["resolving_power"])  # fmt: skip
    truth = ex.truth
    outside = truth[(truth["family"] == "mixed_framework") & (truth["n_first"] < 17)]
    share = outside.groupby("time_min")["intensity"].sum() / truth.groupby("time_min")[
        "intensity"
    ].sum()
    return path, wide_file, share


def _qc(path, system):
    settings = DeconvolutionSettings.schema_default()  # the workflow's: robust pass on
    basis = fw.ion_form_basis(system)
    run = read_spectra(path, ms_level=1, polarity=system.polarity, mz_required=basis.mz_span)
    _, _, qc, _ = fw.deconvolve_run_ion_forms(run, system, settings)
    return qc


def test_compositions_outside_the_file_are_reported(wide_run):
    path, wide_file, share = wide_run
    assert (share > 0.1).all(), share  # the data hold them: a real test
    shipped = load_system(AU44)
    qc = _qc(path, shipped)
    assert list(qc.columns[-2:]) == UNLISTED_COLUMNS
    for row in qc.itertuples():
        named = re.findall(r"\[Au(\d+)Ag\d+\(SR\)27[^\]]*\]\d-[^;]*\(composition\)",
                           row.unlisted_forms)  # fmt: skip
        assert named, row.unlisted_forms
        assert all(WIDE_MIN <= int(x) < 17 for x in named), named
        # not absorbed: most of the true share outside the range is left over and named
        assert row.unlisted_fraction > 0.5 * share[row.time_min], (row, share)
    # negative control: the file that lists them explains them
    control = _qc(path, load_system(wide_file))
    assert "(SR)27" not in ";".join(control["unlisted_forms"])
    assert (control["unlisted_fraction"] < 0.2 * qc["unlisted_fraction"]).all(), control


def _named_outside(qc) -> list[list[int]]:
    """Per spectrum, the (SR)27 compositions (Au count) qc.tsv names as unlisted."""
    pattern = r"\[Au(\d+)Ag\d+\(SR\)27[^\]]*\]\d-[^;]*\(composition\)"
    return [[int(x) for x in re.findall(pattern, forms)]
            for forms in qc["unlisted_forms"].astype(object).fillna("")]  # fmt: skip


def _workflow_qc(workdir, mzml, system_file, snakemake_runner):
    """qc.tsv of the rule deconvolve on ``mzml`` as a user runs the second system: the
    overlay over config.yaml, a sheet with the system's reactant columns."""
    from workflow_helpers import REPO

    sheet = workdir / "samples.tsv"
    workdir.mkdir(parents=True, exist_ok=True)
    sheet.write_text(f"sample\tmzml\tau44_nM\tag44_nM\nwide\t{mzml}\t50\t50\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(yaml.safe_load((REPO / "config" / "au44_ag44.yaml").read_text()))
    config.update(samples=str(sheet), system=str(system_file))
    target = "results/au44_ag44/deconvolution/wide/qc.tsv"
    snakemake_runner.run(workdir, target, config=config, cores=1)
    return read_tsv(workdir / target)


@pytest.mark.slow
def test_a_workflow_run_reports_compositions_outside_the_ranges(wide_run, tmp_path,
                                                                snakemake_runner):  # fmt: skip
    path, wide_file, share = wide_run
    qc = _workflow_qc(tmp_path / "shipped", path, AU44, snakemake_runner)
    print(qc[["time_min", "unlisted_fraction", "unlisted_forms"]].to_string(), share, sep="\n")
    assert len(qc) == len(share)
    for named, row in zip(_named_outside(qc), qc.itertuples(), strict=True):
        assert named and all(WIDE_MIN <= x < 17 for x in named), row.unlisted_forms
        assert row.unlisted_fraction > 0.5 * share[row.time_min], (row, share)
    # negative control: the same run with the system file that lists them names none
    control = _workflow_qc(tmp_path / "wide", path, wide_file, snakemake_runner)
    assert not any(_named_outside(control)), control["unlisted_forms"].tolist()
    assert (control["unlisted_fraction"] < 0.2 * qc["unlisted_fraction"]).all(), control


def test_candidates_are_the_unlisted_neighbours():
    system = load_system(AU44)
    forms = unlisted_forms(system)
    listed = set(system.ion_form_table()["label"])
    labels = [f.label for f in forms]
    assert not listed & set(labels)
    kinds = {f.why for f in forms}
    assert kinds == {"composition", "charge-1", "charge+1", "Na+1", "Na-1"}
    # (SR)27 x = 14-16 and (SR)26 x = 32-34 below the ranges; nothing above x = 44
    assert "[Au16Ag28(SR)27]3-" in labels and "[Au14Ag30(SR)27]3-" in labels
    assert "[Au13Ag31(SR)27]3-" not in labels
    assert not any(re.match(r"\[Au4[5-9]", label) for label in labels)
    # the demo's ligand has no acidic proton and its compositions span 0-25: nothing
    from workflow_helpers import REPO

    assert unlisted_forms(load_system(REPO / "resources" / "systems" / "ag25_au25.yaml")) == []
    assert np.isfinite([f.mz_mean for f in forms]).all()
