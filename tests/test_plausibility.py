"""Plausibility numbers of docs/science.md §4 (eqs 4-7) and the checks."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from intercluster.plausibility import (
    assess,
    debye_factor,
    diffusion_limit,
    poisson_probabilities,
    summary_markdown,
)
from intercluster.records import PlausibilityResult
from intercluster.settings import PlausibilitySettings

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
SETTINGS = PlausibilitySettings.from_config(
    yaml.safe_load(SHIPPED_CONFIG.read_text())["plausibility"]
)


def test_diffusion_limit_dmf():
    assert round(diffusion_limit(298.0, 0.799e-3), 1) == 8.3


def test_debye_factor_and_reduced_limit():
    f = debye_factor(12.7, 298.0, 38.4, (-1, -1))
    assert round(f, 2) == 0.53
    assert round(diffusion_limit(298.0, 0.799e-3) * f, 1) == 4.4


def test_debye_factor_array_and_limits():
    r = np.array([1.0, 12.7, 1e6])
    f = debye_factor(r)
    assert f.shape == (3,)
    assert np.all(np.diff(f) > 0)  # repulsion matters less at larger distance
    assert f[-1] == pytest.approx(1.0, abs=1e-4)
    assert debye_factor(12.7, charges=(1, -1)) > 1.0  # attraction speeds up
    assert debye_factor(12.7, charges=(0, -1)) == 1.0


def test_poisson_means_of_the_paper():
    a = assess(1e-2, 0.056, 3.2e-2, SETTINGS, concentration_nM=40.0)
    assert round(a["dimer_lifetime"]["poisson_mean"], 2) == 0.57
    assert round(a["dimer_lifetime"]["poisson_mean_at_tau_max"], 1) == 3.2
    p = a["dimer_lifetime"]["poisson_p"]
    assert len(p) == 6 and p[0] == pytest.approx(np.exp(-0.032 / 0.056))
    assert sum(poisson_probabilities(0.57, 60)) == pytest.approx(1.0)


def test_checks_table1_model3_pass_and_bad_values_fail():
    a = assess(1e-2, 5.6e-2, 3.2e-2, SETTINGS, concentration_nM=40.0)
    assert a["n_passed"] == a["n_checks"] == 4
    assert 400 < a["diffusion_limit"]["ratio_k_D_f_to_k_dim"] < 500  # "~500x"
    # grid values 10^-2 / 10^-1 = 0.0999.. count as the range's lower bound 0.1
    assert assess(10**-2.0, 10**-1.0, 3.2e-2, SETTINGS, 40.0)["checks"]["k_dim_to_k_diss_range"][
        "pass"
    ]
    bad = assess(1e-4, 1e-3, 3.2e-2, SETTINGS, concentration_nM=40.0)["checks"]
    assert not bad["dimerization_not_rate_limiting"]["pass"]
    assert not bad["k_diss_min"]["pass"]
    assert bad["k_dim_to_k_diss_range"]["pass"]  # 0.1
    assert not assess(10.0, 50.0, 3.2e-2, SETTINGS, 40.0)["checks"]["below_diffusion_limit"]["pass"]


def test_summary_markdown_table():
    entries = []
    for sample in ("b", "a"):
        for model in (1, 3):
            e = assess(1e-2, 5.6e-2, 3.2e-2, SETTINGS, 40.0)
            e.update({"fit_sample": sample, "model": model, "chi2": 12.5, "source": "test"})
            entries.append(PlausibilityResult.from_dict(e))
    text = summary_markdown(entries)
    rows = [line for line in text.splitlines() if line.startswith("| a") or line.startswith("| b")]
    assert len(rows) == 4 and rows[0].startswith("| a | 1 |")
    assert "FAIL" not in text


def test_model4_record_lists_delta_g_mix_beside_the_kinetic_checks(tmp_path, monkeypatch):
    """Rule plausibility_model4's script on a small beta.json: model 4's constants through
    the same checks, ΔG_mix and its interval beside them, in the record and the summary;
    the records of models 1-3 stay without it (control)."""
    import runpy
    from types import SimpleNamespace

    from test_model4_figures import small_model4_record
    from workflow_helpers import REPO

    from intercluster.io import read_json, write_json
    from intercluster.records import read_plausibility
    from intercluster.rule_script import Fields

    record = small_model4_record(3.0)
    write_json(record, tmp_path / "beta.json")
    smk = SimpleNamespace(
        input=Fields(record=str(tmp_path / "beta.json")),
        output=Fields(json=str(tmp_path / "model4.json")), log=[],
        params=Fields(fit_sample="all", settings=yaml.safe_load(SHIPPED_CONFIG.read_text())[
            "plausibility"], conditions={"a": {"ag_nM": 40.0, "au_nM": 40.0,
                                              "dead_time_s": 20.0}}),
    )  # fmt: skip
    runpy.run_path(str(REPO / "workflow" / "scripts" / "plausibility_model4.py"),
                   init_globals={"snakemake": smk})  # fmt: skip
    model4 = read_plausibility(tmp_path / "model4.json")
    assert model4.model == 4 and model4.fit_sample == "all"
    k = record["model4"]
    assert model4.checks == assess(k["k_dim"], k["k_diss"], k["k_ex"], SETTINGS, 40.0)["checks"]
    entry = model4.exchange_bias
    assert entry["delta_g_mix_kJ_per_mol"] == pytest.approx(record["delta_g_mix_kJ_per_mol"])
    assert entry["delta_g_mix_low"] < entry["delta_g_mix_kJ_per_mol"] < entry["delta_g_mix_high"]
    # -RT ln 3 at 298 K
    assert entry["delta_g_mix_kJ_per_mol"] == pytest.approx(-8.314462618e-3 * 298 * np.log(3))
    model3 = assess(1e-2, 5.6e-2, 3.2e-2, SETTINGS, 40.0)
    model3.update({"fit_sample": "all", "model": 3, "chi2": 12.5, "source": "test"})
    model3 = PlausibilityResult.from_dict(model3)
    assert "exchange_bias" not in model3.to_dict()
    assert "exchange_bias" in read_json(tmp_path / "model4.json")
    text = summary_markdown([model3, model4])
    assert "all, model 4: Model 4 (all samples jointly) gives a free energy of mixing" in text
    assert text.count("ΔG_mix =") == 1  # model 3 has none
