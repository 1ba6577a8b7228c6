"""Synthetic "experimental" intensity tables for the fit tests (no MS in the loop).

The table has the layout of results/deconvolution/{sample}/intensities.tsv (long format:
time_min, species, charge, n_first, intensity, intensity_norm), made from a simulation with
multiplicative and additive Gaussian noise, renormalised per time point.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from workflow_helpers import NUCLEARITY

from intercluster.io import write_json, write_tsv
from intercluster.network import ReactionNetwork
from intercluster.observables import normalise_rows
from intercluster.records import RateConstants, SampleConditions
from intercluster.simulate import simulate
from intercluster.system import DEFAULT_SYSTEM

TRUTH = {"k_dim": 1.0e-2, "k_diss": 5.6e-2, "k_ex": 3.2e-2}


def synthetic_intensities(
    model: int = 3,
    constants: dict | None = None,
    ag_nM: float = 40.0,
    au_nM: float = 40.0,
    dead_time_s: float = 20.0,
    times_min=None,
    noise_rel: float = 0.02,
    noise_abs: float = 5e-4,
    seed: int = 20210513,
    beta: float = 1.0,
) -> pd.DataFrame:
    """``beta``: model 4's exchange bias (1 for models 1-3)."""
    constants = constants or TRUTH
    times = np.arange(0.0, 60.0 + 1e-9, 0.5) if times_min is None else np.asarray(times_min)
    result = simulate(
        ReactionNetwork(model, beta=beta, nuclearity=NUCLEARITY),
        RateConstants.from_dict(constants),
        SampleConditions.from_dict({"ag_nM": ag_nM, "au_nM": au_nM, "dead_time_s": dead_time_s}),
        times * 60.0,
    )  # fmt: skip
    assert result.ok, result.message
    y = normalise_rows(result.observables)
    rng = np.random.default_rng(seed)
    # the noise's sd is known here: what the deconvolution's intensity_sd estimates
    sd = np.sqrt(np.square(noise_rel * y) + noise_abs**2)
    y = y * (1.0 + noise_rel * rng.standard_normal(y.shape)) + noise_abs * rng.standard_normal(
        y.shape
    )
    y = np.clip(y, 0.0, None)
    intensity = y * 1.0e6
    norm = normalise_rows(y)
    obs = DEFAULT_SYSTEM.observables()
    n_t, n_obs = y.shape
    return pd.DataFrame(
        {
            "time_min": np.repeat(times, n_obs),
            "species": np.tile(obs["species"].to_numpy(), n_t),
            "charge": np.tile(obs["charge"].to_numpy(), n_t),
            "n_first": np.tile(obs["n_first"].to_numpy(), n_t),
            "intensity": intensity.ravel(),
            "intensity_norm": norm.ravel(),
            "intensity_sd": sd.ravel() * 1.0e6,
        }
    )


def bypass_deconvolution(workdir: Path, sample: str = "ag40_au40", times_min=None) -> None:
    """A user sheet ``data/samples.tsv`` with a placeholder mzML and a ready intensities table.

    The placeholder is dated in the past so that the (newer) deconvolution outputs count as
    up to date: the fit rules run on :func:`synthetic_intensities` without MS in the loop.
    """
    data = Path(workdir) / "data"
    data.mkdir(parents=True)
    placeholder = data / f"{sample}.mzML"
    placeholder.write_text("placeholder: the deconvolution is bypassed in this test\n")
    os.utime(placeholder, (1.0e9, 1.0e9))
    (data / "samples.tsv").write_text(
        f"sample\tmzml\tag_nM\tau_nM\tdead_time_s\n{sample}\t{sample}.mzML\t40\t40\t20\n"
    )
    out = Path(workdir) / "results" / "deconvolution" / sample
    times = np.arange(0.0, 60.0 + 1e-9, 1.0) if times_min is None else times_min
    write_tsv(synthetic_intensities(times_min=times), out / "intensities.tsv")
    for name in ("qc.tsv", "cid.tsv", "ion_forms.tsv"):
        (out / name).write_text("placeholder\n")
    # the deconvolution's record, which figures and report read: these data are synthetic
    write_json({"sample": sample, "synthetic": True, "system": "bypassed"}, out / "run.json")
