"""The CID rule lives once (intercluster.cid): the virtual experiment writes its MS2 spectra
with it and the deconvolution reads them with it, so both pick the same precursor.

The truth of the round trip is the simulated isomer distribution of the precursor's dimer
ion (``cid_truth``), which the reader never sees; the negative controls show that the rule
tells neighbouring dimer ions apart and that the recovery test would notice a reader that
picked another precursor.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import cluster_of

from intercluster import cid
from intercluster.deconvolution import deconvolve_cid_run
from intercluster.ingest import read_spectra
from intercluster.isotopes import system_patterns
from intercluster.network import build_network
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import cid_basis, monomer_mz_span
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, simulate_truth, write_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
SYSTEM = ClusterSystem.from_config(cluster_of(CONFIG))
OBS = SYSTEM.observables()
DIMERS = list(OBS.index[OBS["kind"] == "dimer"])
PATTERNS = system_patterns(SYSTEM)


def dimer_mz(s: int) -> float:
    """Average m/z of the dimer ion with s atoms of the first metal."""
    row = int(OBS.index[(OBS["kind"] == "dimer") & (OBS["n_first"] == s)][0])
    return float(PATTERNS[row].average_mz)


def test_every_dimer_ion_is_selected_across_its_isolation_window():
    half = cid.ISOLATION_HALF_WIDTH
    for row in DIMERS:
        mz = float(PATTERNS[row].average_mz)
        for offset in (-0.99 * half, 0.0, 0.99 * half):
            sel = cid.cid_selection(SYSTEM, mz + offset)
            assert sel.precursor == row and sel.precursor_mz == pytest.approx(mz)
            assert sel.isolation_window == pytest.approx((mz - half, mz + half))
        assert sel.fragments == tuple(OBS.index[OBS["kind"] == "monomer"])
        assert sel.basis_rows[-1] == row
    # negative control: past half the spacing to the neighbour, the neighbour is selected
    spacing = dimer_mz(24) - dimer_mz(25)
    assert abs(spacing) > 2 * half  # windows of neighbouring ions do not overlap
    assert cid.cid_selection(SYSTEM, dimer_mz(25) + 0.6 * spacing).dimer_sum == 24


@pytest.fixture(scope="module")
def written_and_read(tmp_path_factory):
    """A short virtual sample whose CID precursor is [Ag24Au26]2- (not the demo's), +6 Th off
    its average m/z, written to mzML and read back as the workflow does."""
    out = tmp_path_factory.mktemp("cid_round_trip")
    ve = copy.deepcopy(CONFIG["virtual_experiment"])
    ve["cid"]["times_min"] = [3.0, 10.0]
    ve["cid"]["precursor_mz"] = dimer_mz(24) + 6.0
    sample = next(iter(ve["samples"]))
    times = np.arange(0.0, 10.0 + 1e-9, 1.0)
    vs = simulate_sample(SYSTEM, ve, sample, CONFIG["kinetics"]["convention"], times_min=times)
    paths = {
        k: out / f"{k}.{'mzML' if 'mzml' in k else 'tsv'}"
        for k in ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")
    }
    write_sample(vs, **paths, resolving_power=ve["resolving_power"], sample=sample)
    run = read_spectra(paths["cid_mzml"], ms_level=2, mz_required=monomer_mz_span(SYSTEM))
    settings = DeconvolutionSettings.from_config(CONFIG["deconvolution"])
    estimate = deconvolve_cid_run(run, SYSTEM, float(ve["resolving_power"]), settings)
    return ve, sample, vs, run, estimate


def test_writer_and_reader_select_the_same_precursor(written_and_read):
    ve, _, vs, run, _ = written_and_read
    written = cid.cid_selection(SYSTEM, ve["cid"]["precursor_mz"])
    assert written.dimer_sum == 24
    assert {spec["precursor_mz"] for spec in vs.cid} == {written.precursor_mz}
    for mz in run.precursor_mz:  # what the reader finds in the file
        assert cid.cid_selection(SYSTEM, mz) == written
    basis, n_fragments = cid_basis(SYSTEM, run.precursor_mz[0])
    assert n_fragments == len(written.fragments)
    assert basis.labels["species"].tolist() == OBS.loc[written.basis_rows, "species"].tolist()


def test_read_fragments_are_the_written_precursors_and_not_a_neighbours(written_and_read):
    ve, sample, vs, _, estimate = written_and_read
    est = estimate.pivot(index="time_min", columns="n_first", values="fraction")
    truth = vs.cid_truth.pivot(index="time_min", columns="n_first", values="fraction")
    error = float(np.max(np.abs(est.to_numpy() - truth.loc[est.index].to_numpy())))
    tolerance = 0.01
    assert error < tolerance, f"CID fraction error {100 * error:.2f} pp"
    # negative control: the fragment truth of a neighbouring precursor ([Ag25Au25]2-, the
    # demo's) is far from what was read, so a reader that picked it would fail the above
    from intercluster.records import RateConstants, SampleConditions

    network = build_network(ve["model"], CONFIG["kinetics"]["convention"], SYSTEM)
    conditions = SampleConditions.from_dict({**ve["samples"][sample],
                                             "dead_time_s": ve["dead_time_s"]})  # fmt: skip
    _, isomers = simulate_truth(network, RateConstants.from_dict(ve["rate_constants"]),
                                conditions, est.index.to_numpy())  # fmt: skip
    other = cid.fragment_distribution(network, isomers, cid.cid_selection(SYSTEM, dimer_mz(25)))
    miss = float(np.max(np.abs(est.to_numpy() - other)))
    assert miss > 2 * tolerance, f"neighbour's fragments differ by only {100 * miss:.2f} pp"


def test_cid_fragments_under_a_broad_background_with_the_auto_baseline(tmp_path):
    """CID spectra written with the tests' broad background (2 % hump, slope): with the
    shipped ``baseline: auto`` each CID spectrum takes the spline where it lowers its residual
    (as the MS1 file does) and the fragment fractions stay within 1 pp of the truth;
    negative control: the constant baseline (what ``auto`` used to mean for CID spectra)
    misses by more."""
    from dataclasses import replace

    ve = copy.deepcopy(CONFIG["virtual_experiment"])
    ve["cid"]["times_min"] = [3.0, 10.0]
    ve["background"] = {"hump_rel": 0.02, "hump_mz": 5600.0, "hump_sd": 300.0,
                        "slope_rel": 0.005, "slope_mz": [5000.0, 7600.0]}  # fmt: skip
    sample = next(iter(ve["samples"]))
    vs = simulate_sample(SYSTEM, ve, sample, CONFIG["kinetics"]["convention"],
                         times_min=np.arange(0.0, 10.0 + 1e-9, 1.0))  # fmt: skip
    paths = {k: tmp_path / f"{k}.{'mzML' if 'mzml' in k else 'tsv'}"
             for k in ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")}
    write_sample(vs, **paths, resolving_power=ve["resolving_power"], sample=sample)
    run = read_spectra(paths["cid_mzml"], ms_level=2, mz_required=monomer_mz_span(SYSTEM))
    settings = DeconvolutionSettings.from_config(CONFIG["deconvolution"])
    assert settings.baseline == "auto"
    truth = vs.cid_truth.pivot(index="time_min", columns="n_first", values="fraction")

    def error(baseline):
        read = deconvolve_cid_run(run, SYSTEM, float(ve["resolving_power"]),
                                  replace(settings, baseline=baseline))  # fmt: skip
        est = read.pivot(index="time_min", columns="n_first", values="fraction")
        return float(np.max(np.abs(est.to_numpy() - truth.loc[est.index].to_numpy())))

    auto, constant = error("auto"), error("constant")
    assert auto < 0.01, f"CID fraction error {100 * auto:.2f} pp"
    print(f"CID error: auto {100 * auto:.2f} pp, constant {100 * constant:.2f} pp")
    assert constant > 1.5 * auto, (auto, constant)
