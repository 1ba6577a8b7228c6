"""Benchmark: where each interference of real spectra starts to matter, with its correction
on and off (docs/front-end.md's table "What the data can carry").

For each item a strength sweep of the SYNTHETIC virtual experiment (40:40 sample, the
config's scan interval, 0-60 min, everything else as config.yaml), one interference at a time:

* trimers (share of all ions), corrected by the system file's trimer family;
* unassigned isotope-like clusters (8, share of all ions), corrected by the robust pass;
* dimer response (a dimer ion's signal per molecule / a monomer's), corrected by the fit's
  ``fit.tmax.dimer_response``;
* the second reactant's homodimer at mixing (fraction), corrected by the initial state the
  fit simulates (sample-sheet column ``second_dimer_fraction``);
* resolving power falling linearly with m/z (relative change per 1000 Th), corrected by
  ``deconvolution.resolving_power_model: linear``.

"on": the item's correction on (the workflow's defaults; for the dimer response and the
homodimer the fit knowing them); "off": off (for the front-end items the deconvolution
without trimer columns, robust pass and R(m/z); the two fit-side items keep the workflow's
front end in both arms, so only their own correction differs). A strength is tolerated when

* the 77 normalised intensities move by at most 1 % L1 (mean over spectra of the L1 to the
  truth, minus the same for the clean spectra),
* no t_max moves by more than one scan interval: neither that of the deconvolved data (the
  fit's rule, on every observable above 1 %; the largest error against the noise-free
  truth, minus the same for the clean spectra), nor the one the fit simulates at
  the true constants against the truth's,
* and the fit on a 3 x 3 x 3 quarter-decade grid around the truth keeps the true k_ex and
  k_dim:k_diss within one step (as the acceptance test asks; the grid point itself moves
  with the noise realisation of a single sample).
Prints one row per item and strength, then the table (markdown).
Usage: python benchmarks/bench_interferences.py [quick]
"""

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from intercluster import fit
from intercluster import frameworks as fw
from intercluster.ingest import read_spectra
from intercluster.observables import TmaxSettings, experiment_times, experimental_tmax
from intercluster.records import RateConstants
from intercluster.settings import DeconvolutionSettings
from intercluster.system import load_system, system_of_config
from intercluster.virtual_experiment import simulate_sample, write_mzml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "ag40_au40"
NONE = {"trimer_fraction": 0.0, "contaminants": {"n": 0, "fraction": 0.0},
        "dimer_response": 1.0, "resolving_power_slope_per_1000": 0.0}  # fmt: skip
SWEEPS = {
    "trimers (share of ions)": ("trimer_fraction", [0.02, 0.05, 0.1, 0.2, 0.3]),
    "unassigned clusters, 8 (share of ions)": ("contaminants", [0.01, 0.02, 0.05, 0.1]),
    "dimer response": ("dimer_response", [0.85, 0.7, 0.5, 0.3, 1.25, 1.5]),
    "homodimer of the second reactant at mixing": ("second_dimer", [0.1, 0.2, 0.3, 0.5]),
    "R slope (per 1000 Th)": ("resolving_power_slope_per_1000", [-0.05, -0.1, -0.2, -0.3]),
}
#: items whose correction is the fit's (the simulated observables), not the front end's
FIT_SIDE = ("dimer_response", "second_dimer")
QUICK = {name: (key, values[:2]) for name, (key, values) in SWEEPS.items()}
QUARTER = 10.0**0.25


def _grid(truth: dict) -> dict:
    return {k: {"min": v / QUARTER, "max": v * QUARTER, "n": 3} for k, v in truth.items()}


def _without_trimers(tmp: Path, path: Path) -> Path:
    data = yaml.safe_load(path.read_text())
    data["families"]["trimer"]["enabled"] = False
    out = tmp / "without_trimers.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


class Sweep:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        self.system_file = system_of_config(self.config, search_dirs=[ROOT])
        self.system = self.system_file.cluster_system()
        self.files = {"on": Path(self.system_file.source),
                      "off": _without_trimers(tmp, Path(self.system_file.source))}  # fmt: skip
        self.scan = float(self.config["virtual_experiment"]["scan_interval_min"])
        self.times = np.arange(0.0, 60.0 + 1e-9, self.scan)
        self.tmax_settings = TmaxSettings.from_config(self.config["fit"]["tmax"])
        self.network = fit.network_for(3, self.system.to_config(), self.config["kinetics"])
        self.truth = self.config["virtual_experiment"]["rate_constants"]
        self.clean = {}

    def spectra(self, interferences: dict, second_dimer: float, tag: str):
        ve = dict(self.config["virtual_experiment"], cid={}, interferences=interferences)
        cond = {**ve["samples"][SAMPLE], "second_dimer_fraction": second_dimer}
        ve["samples"] = {SAMPLE: cond}
        vs = simulate_sample(self.system, ve, SAMPLE, times_min=self.times)
        path = self.tmp / f"{tag}.mzML"
        write_mzml(path, vs.ms1, resolving_power=ve["resolving_power"])
        return vs, read_spectra(path)

    def deconvolve(self, run, mode: str):
        settings = DeconvolutionSettings.from_config(self.config["deconvolution"])
        options = ({"resolving_power_model": "linear", "robust": True} if mode == "on"
                   else {"resolving_power_model": "constant", "robust": False})  # fmt: skip
        return fw.deconvolve_run_ion_forms(
            run, load_system(self.files[mode]), replace(settings, **options)
        )[1]

    def conditions(self, second: float):
        """The sample's conditions as the fit has them (sheet column second_dimer_fraction)."""
        sample = self.config["virtual_experiment"]["samples"][SAMPLE]
        return fit.Conditions.from_dict(
            {**sample, "dead_time_s": 20.0, "second_dimer_fraction": second}
        )

    def best_at_truth(self, intensities, response: float, second: float) -> bool:
        settings = TmaxSettings(**{**self.tmax_settings.__dict__, "dimer_response": response})
        cond = self.conditions(second)
        species = self.system.observables()["species"].tolist()
        options = fit.simulator_options(self.config["kinetics"])
        chunk = fit.run_chunk(self.network, fit.grid_points(_grid(self.truth)), cond,
                              experiment_times(intensities), species, settings,
                              options=options, log_every_s=1e9)  # fmt: skip
        exp = experimental_tmax(intensities, self.system.observables(), settings)
        best = fit.ranked(fit.chi2_table({SAMPLE: (chunk, exp)})).iloc[0]
        truth = self.truth["k_dim"] / self.truth["k_diss"]
        ratio = np.log10(best["k_dim"] / best["k_diss"] / truth)
        return bool(np.isclose(best["k_ex"], self.truth["k_ex"], rtol=1e-6)
                    and abs(ratio) / 0.25 < 1.5)  # fmt: skip

    @staticmethod
    def _l1(intensities, vs) -> float:
        truth = vs.observables.pivot(index="time_min", columns="species", values="intensity_norm")
        est = intensities.pivot(index="time_min", columns="species", values="intensity_norm")
        return float((est[truth.columns] - truth).abs().sum(axis=1).mean())

    def _tmax_error(self, intensities, vs, settings):
        """Largest |t_max error| against the noise-free truth (same rule), on every
        observable above 1 % (the rule's centre of the top is determined on plateaus too)."""
        obs = self.system.observables()
        truth = experimental_tmax(vs.observables, obs, settings)
        exp = experimental_tmax(intensities, obs, settings)
        above = (truth["peak_norm"] > 0.01).to_numpy()
        error = np.abs(exp["t_max_min"] - truth["t_max_min"]).to_numpy()[above]
        return float(error.max()), truth

    def measure(self, interferences, second, mode, vs, run, deconvolution=None):
        """One arm: ``mode`` switches the fit's corrections (dimer response, initial
        homodimer); ``deconvolution`` the front end's (trimer columns, robust pass, R(m/z);
        default: as ``mode``)."""
        deconvolution = deconvolution or mode
        intensities = self.deconvolve(run, deconvolution)
        if deconvolution not in self.clean:
            clean_vs, clean_run = self.spectra(NONE, 0.0, "clean")
            clean = self.deconvolve(clean_run, deconvolution)
            clean_error = self._tmax_error(clean, clean_vs, self.tmax_settings)[0]
            self.clean[deconvolution] = (self._l1(clean, clean_vs), clean_error)
        l1 = self._l1(intensities, vs) - self.clean[deconvolution][0]
        response = interferences["dimer_response"] if mode == "on" else 1.0
        fit_second = second if mode == "on" else 0.0
        settings = TmaxSettings(**{**self.tmax_settings.__dict__, "dimer_response": response})
        error, truth = self._tmax_error(intensities, vs, settings)
        dt_data = error - self.clean[deconvolution][1]
        _, _, simulated = fit.simulate_tmax(
            self.network, RateConstants.from_dict(self.truth), self.conditions(fit_second),
            self.times, settings,
        )  # fmt: skip
        above = (truth["peak_norm"] > 0.01).to_numpy()
        dt_fit = float(np.abs(simulated - truth["t_max_min"].to_numpy())[above].max())
        at_truth = self.best_at_truth(intensities, response, fit_second)
        dt = max(dt_data, dt_fit)
        ok = l1 <= 0.01 and dt <= self.scan and at_truth
        return {"l1": l1, "dt": dt, "dt_data": dt_data, "dt_fit": dt_fit, "at_truth": at_truth,
                "ok": ok}  # fmt: skip


def main(quick: bool = False) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Sweep(Path(tmp))
        for name, (key, values) in (QUICK if quick else SWEEPS).items():
            for value in values:
                interferences = {**NONE}
                second = 0.0
                if key == "contaminants":
                    interferences["contaminants"] = {"n": 8, "fraction": value}
                elif key == "second_dimer":
                    second = value
                else:
                    interferences[key] = value
                started = time.perf_counter()
                vs, run = sweep.spectra(interferences, second, "sweep")
                for mode in ("off", "on"):
                    # an item the fit corrects is judged on the workflow's front end in
                    # both arms, so that only its own correction differs
                    front = "on" if key in FIT_SIDE else mode
                    r = sweep.measure(interferences, second, mode, vs, run, front)
                    rows.append({"item": name, "strength": value, "mode": mode, **r})
                    print(f"{name:<44} {value:>6g} {mode:<4} L1 added {r['l1']:+.4f} "
                          f"t_max moved: data {r['dt_data']:.2f}, fit {r['dt_fit']:.2f} min  "
                          f"grid at truth {r['at_truth']}  "
                          f"{'ok' if r['ok'] else 'MOVED'}  "
                          f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    print()
    print("| interference | strengths swept | tolerated, correction off | tolerated, on |")
    print("|---|---|---|---|")
    for name, (_, values) in (QUICK if quick else SWEEPS).items():
        cells = []
        for mode in ("off", "on"):
            mine = [r for r in rows if r["item"] == name and r["mode"] == mode]
            ok = [r["strength"] for r in mine if r["ok"]]
            bad = [r["strength"] for r in mine if not r["ok"]]
            if name == "dimer response":
                low = [v for v in ok if v < 1] + [1.0]
                high = [v for v in ok if v > 1] + [1.0]
                # the tolerated range: contiguous around 1
                lo = min([v for v in low if not any(v <= b < 1 for b in bad)] or [1.0])
                hi = max([v for v in high if not any(1 < b <= v for b in bad)] or [1.0])
                cells.append(f"{lo:g}-{hi:g}")
            else:
                sign = -1 if values[0] < 0 else 1
                tol = [v for v in ok if not any(sign * b <= sign * v for b in bad)]
                cells.append(f"{max(tol, key=abs):g}" if tol else f"< {min(values, key=abs):g}")
        span = f"{min(values):g} to {max(values):g}"
        print(f"| {name} | {span} | {cells[0]} | {cells[1]} |")
    return rows


if __name__ == "__main__":
    main(len(sys.argv) > 1 and sys.argv[1] == "quick")
