"""rule_script.items: one job's per-item views (several fits or models in one job)."""

from types import SimpleNamespace

import pytest

from intercluster.rule_script import Fields, items


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
