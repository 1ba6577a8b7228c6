"""SBML of each best fit with its constants set, for COPASI or Tellurium (rule best_fit_sbml).

Initial concentrations: the fit's first sample (the joint fit covers several)."""

import logging
from functools import cache
from pathlib import Path

from intercluster import fit
from intercluster.records import read_best_fit
from intercluster.rule_script import items, run
from intercluster.sbml import best_fit_sbml
from intercluster.system import ClusterSystem

log = logging.getLogger("intercluster")


def write_one(smk, network, check):
    best = read_best_fit(smk.input.best)
    sample = best.samples[0]
    conditions = fit.Conditions.from_dict(smk.params.conditions[sample])
    system = ClusterSystem.from_config(smk.params.cluster)  # the species' names
    text = best_fit_sbml(best, network, conditions, system, check=check)
    Path(smk.output.sbml).write_text(text)
    log.info("wrote %s: model %s at %s, initial state of %s", smk.output.sbml,
             smk.wildcards.model, best.constants.to_dict(), sample)  # fmt: skip


def main(smk):
    # one network per model, shared by every fit of that model
    network = cache(lambda model: fit.network_for(model, smk.params.cluster, smk.params.kinetics))
    checked = set()  # libsbml's consistency check depends on the network only: once each
    for one in items(smk):  # every fit and model (params.per_item)
        model = one.wildcards.model
        write_one(one, network(model), check=model not in checked)
        checked.add(model)


run(main)
