"""Benchmark: ingestion (spectra/s) and deconvolution (ms per spectrum, including the
per-spectrum calibration-shift fit and the per-file resolving-power fit).

Runs on a SYNTHETIC virtual experiment with the config's settings (0-60 min, the config's
scan interval). Usage: python benchmarks/bench_deconvolution.py [n_repeats]
The last line printed is a JSON object with ``ms_per_spectrum`` and ``spectra_per_s``.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from intercluster.deconvolution import deconvolve_run, observable_basis
from intercluster.ingest import read_spectra
from intercluster.system import ClusterSystem
from intercluster.virtual_experiment import simulate_sample, write_mzml

ROOT = Path(__file__).resolve().parents[1]


def main(repeats: int = 3) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    system = ClusterSystem.from_config(config["cluster"])
    ve = config["virtual_experiment"]
    dec = config["deconvolution"]
    sample = next(iter(ve["samples"]))
    vs = simulate_sample(system, ve, sample, config["kinetics"]["convention"])
    basis = observable_basis(system)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{sample}.mzML"
        write_mzml(path, vs.ms1)
        read_spectra(path, mz_required=basis.mz_span)  # warm-up (imports, OBO)
        started = time.perf_counter()
        for _ in range(repeats):
            run = read_spectra(path, mz_required=basis.mz_span)
        ingest_s = (time.perf_counter() - started) / repeats
    n = len(run)
    args = (dec["resolving_power_guess"], dec["fit_resolving_power"], dec["max_shift_ppm"])
    deconvolve_run(run, system, *args)  # warm-up (numba compilation / cache load)
    started = time.perf_counter()
    for _ in range(repeats):
        _, qc, r = deconvolve_run(run, system, *args)
    deconv_s = (time.perf_counter() - started) / repeats
    truth = vs.scans["shift_ppm"].to_numpy()
    result = {
        "n_spectra": n,
        "points_per_spectrum": int(run.mz[0].size),
        "ms_per_spectrum": round(1e3 * deconv_s / n, 2),
        "spectra_per_s": round(n / ingest_s, 1),
        "resolving_power": round(r, 0),
        "max_shift_error_ppm": round(float(np.abs(qc["shift_ppm"].to_numpy() - truth).max()), 3),
    }
    print(f"ingestion: {n} spectra x {result['points_per_spectrum']} points in {ingest_s:.3f} s")
    print(f"deconvolution incl. shift + resolving-power fit: {deconv_s:.3f} s per file")
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
