"""Rule fit_model4 is wired (dry run): the opt-in target model4 schedules it with the t_max
of every sample, and the default target does only when fit.models lists 4 (then once: the
grid rules do not fit model 4)."""

from __future__ import annotations

from workflow_helpers import REPO, small_config


def _workdir(path):
    """A work directory with the small config's sample sheet where the config names it."""
    (path / ".test" / "config").mkdir(parents=True)
    for name in ("small.yaml", "small_samples.tsv"):
        source = REPO / ".test" / "config" / name
        (path / ".test" / "config" / name).write_bytes(source.read_bytes())
    return path


def test_model4_target_schedules_fit_model4_and_the_default_does_not(tmp_path, snakemake_runner):
    opt_in = snakemake_runner.run(_workdir(tmp_path / "a"), "model4", "-n")
    assert "fit_model4" in opt_in.stdout and "fit_tmax_experiment" in opt_in.stdout
    default = snakemake_runner.run(_workdir(tmp_path / "b"), "-n")
    assert "fit_chi2" in default.stdout  # the default run does fit (models 1-3)
    assert "fit_model4" not in default.stdout + default.stderr
    assert "simulate_model4" not in default.stdout and "plausibility_model4" not in default.stdout


def test_model4_in_fit_models_joins_the_default_target_once(tmp_path, snakemake_runner):
    config = small_config()
    config["fit"]["models"] = [3, 4]
    run = snakemake_runner.run(_workdir(tmp_path), "-n", config=config)
    jobs = [line.split() for line in run.stdout.splitlines()]
    counts = {row[0]: int(row[1]) for row in jobs if len(row) == 2 and row[1].isdigit()}
    assert counts.get("fit_model4") == 1
    # said when the workflow is read (the control: the default run below says nothing)
    assert "model 4 is fitted by the rule fit_model4 only" in run.stdout + run.stderr
    # its simulation per sample and plausibility record join too (S6, Figure 3, the tables)
    assert counts.get("simulate_model4") == 1 and counts.get("plausibility_model4") == 1
    # the grid rules fit model 3 only: no grid job writes under model4/
    assert "model4/chi2" not in run.stdout and "model4/best.json" not in run.stdout


def _jobs(stdout: str) -> dict[str, int]:
    rows = [line.split() for line in stdout.splitlines()]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_joint_model_comparison_needs_model4_record_only_when_listed(tmp_path, snakemake_runner):
    """The joint fit's comparison table takes model 4's row from beta.json: asking for that
    table schedules fit_model4 when fit.models lists 4, and not otherwise (the control). (One
    job writes every fit's table, so a per-sample table's job needs it too.)"""
    config = small_config()
    config["fit"]["models"] = [3, 4]
    joint = "results/fit/all/model_comparison.tsv"
    listed = snakemake_runner.run(_workdir(tmp_path / "a"), joint, "-n", config=config)
    assert _jobs(listed.stdout).get("fit_model4") == 1
    config["fit"]["models"] = [3]
    unlisted = snakemake_runner.run(_workdir(tmp_path / "b"), joint, "-n", config=config)
    assert "model_comparison" in _jobs(unlisted.stdout)
    assert "fit_model4" not in _jobs(unlisted.stdout)


def test_report_holds_s6_with_model4_and_the_beta_profile(tmp_path, snakemake_runner):
    """The HTML report (snakemake --report) of Figure S6: with 4 in fit.models, S6 takes
    model 4's joint fit (its simulations, from rule fit_model4), so the β profile that rule
    writes is in the report beside S6, with its caption; without 4 (the control) the same
    files give a report without it. The figures are stand-ins (what they draw:
    tests/test_model4_figures.py, S6's model-4 lines and the β profile panel)."""
    import matplotlib.pyplot as plt

    for listed in (True, False):
        work = _workdir(tmp_path / ("listed" if listed else "unlisted"))
        config = small_config()
        config["fit"]["models"] = [3, 4] if listed else [3]
        figures = work / "results" / "figures"
        figures.mkdir(parents=True)
        for name in ("figS6", f"beta_profile_{config['fit']['joint_sample_name']}"):
            plt.imsave(figures / f"{name}.png", [[0.0, 1.0], [1.0, 0.0]])
        run = snakemake_runner.run(work, "--report", "report.html", "results/figures/figS6.png",
                                   config=config)  # fmt: skip
        html = (work / "report.html").read_text(errors="replace")
        assert "figS6.png" in html and "green squares: model 4" in html  # S6 and its caption
        added = [line for line in (run.stdout + run.stderr).splitlines()
                 if line.startswith("Adding ")]  # fmt: skip
        if listed:
            assert any("beta_profile_all.png" in line for line in added), added
            assert "beta_profile_all.png" in html
            assert "Model 4: the exchange bias \\u03b2 and the free energy of mixing" in html
        else:
            assert not any("beta_profile" in line for line in added), added
            assert "beta_profile_all.png" not in html
