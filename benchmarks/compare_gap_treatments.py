"""The measurement behind the choice of ``deconvolution.gaps``.

(docs/front-end.md, "Sparse profile spectra".)

The 40:40 sample of the SYNTHETIC virtual experiment (one spectrum per minute) is written
dense and sparse (points below 1 % and 2 % of each spectrum's base peak left out), read back
and deconvolved with every gap treatment, with the file's scan window (5000-7600) and with
the data's range. Printed per case: mean and max L1 of the normalised intensities against
the dense file's, and the largest intensity of an ion absent from the truth (< 1e-4).
Usage: python benchmarks/compare_gap_treatments.py. The last line is a JSON object.
"""

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from intercluster.deconvolution import GAP_TREATMENTS, deconvolve_run
from intercluster.ingest import read_spectra
from intercluster.settings import DeconvolutionSettings
from intercluster.spectrum_basis import observable_basis
from intercluster.system import system_of_config
from intercluster.virtual_experiment import simulate_sample, write_sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "ag40_au40"
THRESHOLDS = (0.01, 0.02)


def _wide(table):
    return table.pivot(index="time_min", columns="species", values="intensity_norm")


def main() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    system = system_of_config(config, search_dirs=[ROOT]).cluster_system()
    ve = config["virtual_experiment"]
    times = np.arange(0.0, 60.0 + 1e-9, 1.0)
    vs = simulate_sample(system, ve, SAMPLE, config["kinetics"]["convention"], times_min=times)
    basis = observable_basis(system)
    truth = _wide(vs.observables)
    # the model this comparison was measured with: one R per file, no robust pass
    dec = replace(DeconvolutionSettings.from_config(config["deconvolution"]),
                  resolving_power_model="constant", robust=False)  # fmt: skip

    def run_of(tmp, tag, spectra):
        keys = ("mzml", "cid_mzml", "observables", "tmax", "cid_truth", "scans")
        paths = {k: Path(tmp) / f"{tag}_{k}.{'mzML' if 'mzml' in k else 'tsv'}" for k in keys}
        write_sample(vs, **paths, resolving_power=ve["resolving_power"], sample=SAMPLE,
                     spectra=spectra)  # fmt: skip
        return read_spectra(paths["mzml"], mz_required=basis.mz_span)

    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        dense = _wide(deconvolve_run(run_of(tmp, "dense", None), system, dec)[0])
        truth = truth[dense.columns]
        l1_truth = float((dense - truth).abs().sum(axis=1).mean())
        print(f"dense file vs truth: mean L1 {l1_truth:.4f}")
        result["dense_vs_truth"] = round(l1_truth, 4)
        for threshold in THRESHOLDS:
            spectra = {"mode": "sparse", "threshold_rel": threshold}
            run = run_of(tmp, f"sparse{threshold:g}", spectra)
            for window in (True, False):
                run.scan_windows = [tuple(ve["mz_range"])] * len(run) if window else None
                for gaps in GAP_TREATMENTS:
                    fitted = deconvolve_run(run, system, replace(dec, gaps=gaps))[0]
                    est = _wide(fitted)[dense.columns]
                    l1 = (est - dense).abs().sum(axis=1)
                    absent = float(np.nan_to_num(est.where(truth < 1e-4).max().max()))
                    key = f"{100 * threshold:g}%_{'window' if window else 'data_range'}_{gaps}"
                    result[key] = {"l1_mean": round(float(l1.mean()), 4),
                                   "l1_max": round(float(l1.max()), 4),
                                   "absent_max": round(absent, 4)}  # fmt: skip
                    where = "scan window" if window else "data range"
                    print(f"sparse {100 * threshold:g} %, {where}, gaps={gaps}: mean L1 vs "
                          f"dense {l1.mean():.4f} (max {l1.max():.4f}), largest absent ion "
                          f"{absent:.4f}")  # fmt: skip
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
