"""Rule fit_model4 is wired (dry run): the opt-in target model4 schedules it with the t_max
of every sample, and the default target does not."""

from __future__ import annotations

from workflow_helpers import REPO


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
    assert "fit_model4" not in default.stdout
