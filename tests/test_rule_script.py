"""rule_script: one job's per-item views (several fits or models in one job), and the
declaration of such a batched stage (Stage), checked when it is declared."""

from types import SimpleNamespace

import pytest

from intercluster.rule_script import Fields, Stage, StageError, check_rule_outputs, items


class _Named(list):
    """Stands in for Snakemake's named lists: a list of the values with .items()."""

    def __init__(self, mapping):
        flat = []
        for value in mapping.values():
            flat += value if isinstance(value, list) else [value]
        super().__init__(flat)
        self._mapping = mapping

    def items(self):
        return self._mapping.items()

    def __getitem__(self, key):
        return self._mapping[key] if isinstance(key, str) else list.__getitem__(self, key)


def _job(per_item, outputs, inputs):
    return SimpleNamespace(
        wildcards=_Named({"model": "3"}),
        input=_Named(inputs),
        output=_Named(outputs),
        params=_Named({"per_item": per_item, "grid": {"n": 13}}),
        log=["job.log"],
        threads=1,
    )


PER_ITEM = {
    "a": {"wildcards": {"fit_sample": "a"}, "input": {"chi2": "a/chi2"},
          "output": {"best": "a/best"}, "params": {"samples": ["a"]}},
    "all": {"wildcards": {"fit_sample": "all"}, "input": {"chi2": "all/chi2"},
            "output": {"best": "all/best"}, "params": {"samples": ["a", "b"]}},
}  # fmt: skip


def test_views_look_like_one_item_jobs():
    job = _job(PER_ITEM, {"best": ["a/best", "all/best"]}, {"x": ["a/chi2", "all/chi2"]})
    views = items(job)
    assert [v.wildcards.fit_sample for v in views] == ["a", "all"]
    assert all(v.wildcards.model == "3" for v in views)  # the job's wildcards too
    assert views[1].input.chi2 == "all/chi2" and views[1].output.best == "all/best"
    assert views[1].params.samples == ["a", "b"] and views[0].params.grid == {"n": 13}
    assert "zoom" not in views[0].input.keys()
    with pytest.raises(AttributeError):
        _ = views[0].input.zoom


def test_items_that_disagree_with_the_rule_are_refused():
    missing_output = _job(PER_ITEM, {"best": ["a/best", "all/best", "b/best"]},
                          {"x": ["a/chi2", "all/chi2"]})  # fmt: skip
    with pytest.raises(ValueError, match="not the job's outputs"):
        items(missing_output)
    undeclared_input = _job(PER_ITEM, {"best": ["a/best", "all/best"]}, {"x": ["a/chi2"]})
    with pytest.raises(ValueError, match="not among the job's inputs"):
        items(undeclared_input)


def test_fields_reads_like_a_named_list():
    f = Fields({"png": "x.png"})
    assert f.png == f["png"] == "x.png" and list(f.keys()) == ["png"]


# --- Stage: a batched stage declared once (pattern + items), checked when it is declared -----


FITS = {"a": {"fit_sample": "a"}, "all": {"fit_sample": "all"}}
BEST = "results/fit/{fit_sample}/model{model}/best.json"


def _per_model(**kwargs):
    return Stage("fit_best", FITS, {"best": BEST}, jobs={"model": [2, 3]}, **kwargs)


def test_a_stage_derives_the_rules_output_targets_and_items():
    stage = _per_model(
        inputs={"chi2": "results/fit/{fit_sample}/model{model}/chi2.parquet"},
        params={"samples": lambda w: ["a", "b"] if w.fit_sample == "all" else ["a"]},
    )
    assert stage.output("best") == ["results/fit/a/model{model}/best.json",
                                    "results/fit/all/model{model}/best.json"]  # fmt: skip
    assert sorted(stage.targets()) == sorted(
        BEST.format(fit_sample=f, model=m) for f in ("a", "all") for m in (2, 3)
    )
    job_wildcards = _Named({"model": "3"})
    per_item = stage.per_item(job_wildcards)
    assert per_item["all"]["output"] == {"best": "results/fit/all/model3/best.json"}
    assert per_item["all"]["input"] == {"chi2": "results/fit/all/model3/chi2.parquet"}
    assert per_item["all"]["params"] == {"samples": ["a", "b"]}
    # round trip: a job built from the derived output and input passes the run-time check
    job = SimpleNamespace(
        wildcards=job_wildcards,
        input=_Named({"x": stage.input(job_wildcards)}),
        output=_Named({"best": [p.format(model=3) for p in stage.output("best")]}),
        params=_Named({"per_item": per_item}),
        log=[],
        threads=1,
    )
    assert [v.output.best for v in items(job)] == [BEST.format(fit_sample=f, model=3)
                                                   for f in ("a", "all")]  # fmt: skip


def test_a_list_output_per_item_from_within_wildcards():
    stage = Stage("simulate_best", FITS, {"sim": "fit/{fit_sample}/m{model}/{sample}.tsv"},
                  jobs={"model": [3]}, within={"sample": ["s1", "s2"]})  # fmt: skip
    assert stage.per_item(_Named({"model": "3"}))["a"]["output"]["sim"] == [
        "fit/a/m3/s1.tsv", "fit/a/m3/s2.tsv"]  # fmt: skip
    assert len(stage.output("sim")) == 4


def test_a_declaration_whose_output_and_items_disagree_is_refused():
    # the pattern names a wildcard no item gives (the items are fits, not samples)
    with pytest.raises(StageError, match="names \\['sample'\\], which no item gives"):
        Stage("fit_best", FITS, {"best": "results/fit/{sample}/model{model}/best.json"},
              jobs={"model": [2]})  # fmt: skip
    # the pattern leaves out the items' wildcard: every fit would write one file
    with pytest.raises(StageError, match="leaves out \\['fit_sample'\\]"):
        Stage("fit_best", FITS, {"best": "results/fit/model{model}/best.json"},
              jobs={"model": [2]})  # fmt: skip
    # the job's wildcard left out: the jobs of two models would write one file
    with pytest.raises(StageError, match="leaves out \\['model'\\]"):
        Stage("fit_best", FITS, {"best": "results/fit/{fit_sample}/best.json"},
              jobs={"model": [2, 3]})  # fmt: skip
    with pytest.raises(StageError, match="items name different wildcards"):
        Stage("fit_best", {"a": {"fit_sample": "a"}, "b": {"sample": "b"}}, {"best": BEST},
              jobs={"model": [2]})  # fmt: skip
    # control: the same declaration with agreeing output and items is accepted
    assert _per_model().output("best")


def test_a_rule_whose_output_is_not_its_stages_is_refused():
    stage = _per_model()
    check_rule_outputs("fit_best", {"best": stage.output("best")}, stage)  # control: accepted
    with pytest.raises(StageError, match="is not what its stage fit_best declares"):
        check_rule_outputs("fit_best", {"best": stage.output("best")[:1]}, stage)
    with pytest.raises(StageError, match="is not what its stage"):
        check_rule_outputs("fit_best", {"best": stage.output("best"), "x": ["x"]}, stage)
