"""Noise replicas of the virtual experiment through the MS front end (spectra, deconvolution,
t_max with σ): the coverage measurement of :mod:`intercluster.coverage` (rule
coverage_replica, ``benchmarks/bench_coverage.py``). Apart from the coverage module because
it needs the MS stack (mzML writing and reading).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .coverage import coverage_times, coverage_ve
from .ingest import SpectraRun, read_spectra
from .io import SYNTHETIC_LABEL
from .observables import TmaxSettings
from .settings import DeconvolutionSettings
from .tmax_sigma import tmax_uncertainty_table

__all__ = ["coverage_replica_table", "virtual_replica"]


def virtual_replica(
    system,
    ve: dict,
    sample: str,
    seed: int,
    times_min=None,
    convention: str | None = None,
    settings: TmaxSettings | None = None,
    deconvolution: DeconvolutionSettings | None = None,
    n_replicas: int | None = None,
    block_length: int | None = None,
    floor_fraction: float | None = None,
    mzml_path=None,
    spectra: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One noise replica of a SYNTHETIC virtual-experiment sample, through the MS front end.

    The virtual experiment (``ve``, the ``virtual_experiment`` config section) is simulated
    with noise seed ``seed`` (same truth), deconvolved
    (:func:`intercluster.deconvolution.deconvolve_run`) and reduced to t_max with σ
    (:func:`tmax_uncertainty_table`; the bootstrap uses ``seed`` too). With ``mzml_path``
    the spectra go through a real mzML file (write, read back); without, the in-memory
    spectra are deconvolved directly (the round trip is lossless). ``spectra``: how the file
    is written (config ``virtual_experiment.spectra``: sparse, zeroed, centroid, ...; needs
    ``mzml_path``, the reader states the scan window); None: dense. A keyword left at
    ``None`` is the schema's value (``kinetics.convention``, ``fit.uncertainty``).

    Returns
    -------
    (DataFrame, DataFrame)
        The intensity table of the deconvolution and the t_max table with σ, both with a
        ``source`` column saying SYNTHETIC.
    """
    from .deconvolution import deconvolve_run
    from .spectrum_basis import observable_basis
    from .virtual_experiment import exported_spectra, simulate_sample, write_mzml

    # None: the workflow's deconvolution (the schema's), so replicas see the rule's front end
    deconvolution = deconvolution or DeconvolutionSettings.schema_default()
    ve = {**ve, "seed": int(seed)}
    vs = simulate_sample(system, ve, sample, convention, times_min=times_min)
    if spectra is not None and mzml_path is None:
        raise ValueError("virtual_replica: an output mode (spectra) needs mzml_path")
    if mzml_path is not None:
        ms1 = exported_spectra(vs.ms1, dict(spectra or {}), ve.get("resolving_power"))
        write_mzml(mzml_path, ms1, resolving_power=ve.get("resolving_power"))
        run = read_spectra(mzml_path, mz_required=observable_basis(system).mz_span)
    else:
        run = SpectraRun(
            path=f"SYNTHETIC replica {seed}",
            ms_level=1,
            times_min=np.array([s["time_min"] for s in vs.ms1]),
            native_ids=[s["id"] for s in vs.ms1],
            index=np.arange(len(vs.ms1)),
            mz=[s["mz"] for s in vs.ms1],
            intensity=[s["intensity"] for s in vs.ms1],
            synthetic=True,
        )
    intensities, _, _ = deconvolve_run(run, system, deconvolution)
    table = tmax_uncertainty_table(
        intensities, system.observables(), settings, n_replicas, block_length, seed,
        floor_fraction,
    )  # fmt: skip
    for frame in (intensities, table):
        frame["source"] = SYNTHETIC_LABEL
    return intensities, table


def coverage_replica_table(system, ve: Mapping, kinetics: dict, deconvolution: dict,
                           sample: str, replica: int, settings, uncertainty,
                           tmax: TmaxSettings) -> pd.DataFrame:  # fmt: skip
    """t_max with σ of noise replica ``replica`` (noise seed ``settings.seed + replica``) of
    the virtual experiment's sample, through spectra and deconvolution (rule coverage_replica).
    ``settings``: CoverageSettings; ``uncertainty``: UncertaintySettings (block length, floor)."""
    ve = coverage_ve(ve, sample)
    times = coverage_times(ve["t_end_min"], settings.scan_interval_min)
    table = virtual_replica(
        system, ve, sample, settings.seed + int(replica), times,
        convention=str(kinetics["convention"]), settings=tmax,
        deconvolution=DeconvolutionSettings.from_config(deconvolution),
        n_replicas=settings.bootstrap_replicas, block_length=uncertainty.block_length,
        floor_fraction=uncertainty.sigma_floor_fraction,
    )[1]  # fmt: skip
    table.insert(0, "replica", int(replica))
    return table
