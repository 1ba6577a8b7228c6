"""Model 4 in the Table 1 path (kinetics.models lists 4): simulated by the rule script
simulate_table1 at model 3's Table 1 constants and kinetics.beta, and drawn in Figure 3
(Table 1 constants). β = 1 gives model 3's table (a round trip through the script); β = 2
does not."""

from __future__ import annotations

import copy
import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from test_model4_figures import SAMPLE, model4_files, run_figure_script  # noqa: F401
from workflow_helpers import BASE_CONFIG, REPO, small_config

from intercluster.io import read_tsv
from intercluster.rule_script import Fields, Stage
from intercluster.settings import table1_constants
from intercluster.system import DEFAULT_SYSTEM
from intercluster.validation import validate_config


def kinetics_config(beta: float) -> dict:
    """The shipped kinetics section with models 3 and 4 and ``beta``, validated (a short
    span: the comparison needs no hour of reaction)."""
    with open(BASE_CONFIG) as handle:
        config = yaml.safe_load(handle)
    config["kinetics"].update(models=[3, 4], beta=beta, t_end_min=20, output_step_min=0.5)
    return validate_config(config)["kinetics"]


def simulate_table1(kinetics: dict, root) -> dict[int, object]:
    """Rule simulate_table1's script for every model of ``kinetics`` (its stage declared as
    network.smk declares it); model -> its observables table."""
    stage = Stage(
        "simulate_table1",
        {f"model{m}": {"model": str(m)} for m in kinetics["models"]},
        outputs={"observables": f"{root}/model{{model}}/observables.tsv",
                 "isomers": f"{root}/model{{model}}/isomers.parquet"},  # fmt: skip
        params={"constants": lambda w: table1_constants(kinetics, w.model)},
    )
    for m in kinetics["models"]:
        (root / f"model{m}").mkdir(parents=True, exist_ok=True)
    smk = SimpleNamespace(
        wildcards=Fields(), input=[], log=[], threads=1,
        output=stage.output("observables") + stage.output("isomers"),
        params=Fields(per_item=stage.per_item(Fields()), kinetics=kinetics,
                      cluster=DEFAULT_SYSTEM.to_config()),
    )  # fmt: skip
    runpy.run_path(str(REPO / "workflow" / "scripts" / "simulate_table1.py"),
                   init_globals={"snakemake": smk})  # fmt: skip
    return {m: read_tsv(root / f"model{m}" / "observables.tsv") for m in kinetics["models"]}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("table1")
    return {beta: simulate_table1(kinetics_config(beta), root / f"beta{beta:g}")
            for beta in (1.0, 2.0)}  # fmt: skip


def test_model4_at_beta_one_is_model3s_table1_simulation(tables):
    model3, model4 = tables[1.0][3], tables[1.0][4]
    assert list(model4.columns) == list(model3.columns) and len(model4) == len(model3)
    scale = model3["concentration_nM"].abs().max()
    np.testing.assert_allclose(model4["concentration_nM"], model3["concentration_nM"],
                               rtol=1e-6, atol=1e-9 * scale)  # fmt: skip


def test_model4_at_beta_two_differs_from_model3(tables):
    """Negative control: the bias moves the trajectories far beyond solver tolerance (and
    model 3 itself does not depend on kinetics.beta)."""
    model3, model4 = tables[2.0][3], tables[2.0][4]
    scale = model3["concentration_nM"].abs().max()
    assert np.abs(model4["concentration_nM"] - model3["concentration_nM"]).max() > 1e-2 * scale
    np.testing.assert_allclose(model3["concentration_nM"], tables[1.0][3]["concentration_nM"],
                               rtol=1e-12, atol=0)  # fmt: skip


@pytest.mark.parametrize("listed", [True, False])
def test_figure3_table1_draws_model4_when_kinetics_lists_it(model4_files, monkeypatch,  # noqa: F811
                                                            listed):  # fmt: skip
    """Figure 3 (Table 1 constants) gains model 4's panel, at model 3's constants and its β,
    when kinetics.models lists 4; not otherwise."""
    files = model4_files
    kinetics = kinetics_config(3.0) if listed else {**kinetics_config(1.0), "models": [3]}
    models = kinetics["models"]
    simulation = {3: files["model3"], 4: files["model4"]}
    smk = SimpleNamespace(
        input=Fields(experiment=files["experiment"], simulations=[simulation[m] for m in models],
                     run=files["run"]),
        output=Fields(png="f3.png", pdf="f3.pdf", params="f3.json"), log=[],
        params=Fields(sample=SAMPLE, files={m: {"simulation": simulation[m]} for m in models},
                      constants={f"model{m}": table1_constants(kinetics, m) for m in models},
                      cluster=DEFAULT_SYSTEM.to_config(), figures=small_config()["figures"]),
    )  # fmt: skip
    fig = run_figure_script("fig_figure3.py", smk, monkeypatch)
    titles = [ax.get_title(loc="left") for ax in fig.contour_axes]
    assert len(titles) == len(models) + 1
    if listed:
        assert titles[2].startswith("(c) model 4, model 3's Table 1 constants")
        assert "β = 3" in titles[2]
    else:
        assert not any("model 4" in t for t in titles)


def test_table1_constants_of_model4_are_model3s_with_beta():
    kinetics = copy.deepcopy(kinetics_config(2.0))
    assert table1_constants(kinetics, 4) == {**table1_constants(kinetics, 3), "beta": 2.0}
    assert "beta" not in table1_constants(kinetics, 3)
    del kinetics["table1"]["model3"]
    with pytest.raises(ValueError, match="no model3"):
        table1_constants(kinetics, 4)
