"""SBML of a best fit with its constants set, for COPASI or Tellurium (rule best_fit_sbml).

Initial concentrations: the fit's first sample (the joint fit covers several)."""

import logging
from pathlib import Path

from intercluster import fit
from intercluster.records import read_best_fit
from intercluster.rule_script import run
from intercluster.sbml import best_fit_sbml

log = logging.getLogger("intercluster")


def main(smk):
    best = read_best_fit(smk.input.best)
    network = fit.network_for(smk.wildcards.model, smk.params.cluster, smk.params.kinetics)
    sample = best.samples[0]
    conditions = fit.Conditions.from_dict(smk.params.conditions[sample])
    Path(smk.output.sbml).write_text(best_fit_sbml(best, network, conditions))
    log.info("wrote %s: model %s at %s, initial state of %s", smk.output.sbml,
             smk.wildcards.model, best.constants.to_dict(), sample)  # fmt: skip


run(main)
