"""Rule framework_virtual_experiment: SYNTHETIC spectra (mzML) of a framework system, truth."""

import logging

import numpy as np

from intercluster import frameworks as fw
from intercluster.io import SYNTHETIC_LABEL, write_tsv
from intercluster.rule_script import run
from intercluster.system import load_system
from intercluster.virtual_experiment import write_mzml

log = logging.getLogger("intercluster")


def main(smk):
    system = load_system(smk.params.system)
    cfg = smk.params.experiment
    # The reactants' initial shares from the sample sheet's concentrations.
    initial = {r.family: float(smk.params.concentrations[r.sheet_column]) for r in system.reactants}
    total = sum(initial.values())
    evolution = fw.FrameworkEvolution.from_config(
        {**cfg["evolution"], "initial": {k: v / total for k, v in initial.items()}}
    )
    times = np.arange(0.0, float(cfg["t_end_min"]) + 1e-9, float(cfg["scan_interval_min"]))
    ex = fw.simulate_framework_experiment(
        system, evolution, times, resolving_power=float(cfg["resolving_power"]),
        ions_per_spectrum=float(cfg["ions_per_spectrum"]), baseline_rel=float(cfg["baseline_rel"]),
        seed=int(cfg["seed"]),
    )  # fmt: skip
    window = (float(ex.mz[0]), float(ex.mz[-1]))
    spectra = [
        {"id": f"scan={k + 1}", "time_min": float(t), "mz": ex.mz, "intensity": y,
         "scan_window": window}
        for k, (t, y) in enumerate(zip(ex.times_min, ex.spectra, strict=True))
    ]  # fmt: skip
    write_mzml(smk.output.mzml, spectra, polarity=f"{system.polarity} scan",
               run_id=f"SYNTHETIC_{system.name}_{smk.wildcards.sample}",
               resolving_power=ex.resolving_power)  # fmt: skip
    write_tsv(ex.truth_forms.assign(data=SYNTHETIC_LABEL), smk.output.truth_forms)
    write_tsv(ex.truth.assign(data=SYNTHETIC_LABEL), smk.output.truth)
    log.info("%s: %d SYNTHETIC spectra, m/z %.1f-%.1f, %d ion forms", smk.wildcards.sample,
             len(spectra), *window, ex.truth_forms["label"].nunique())  # fmt: skip


run(main)
