"""The output layout declared once (workflow/rules/paths.smk) and the batched stages declared
once (stage(), common.smk; intercluster.rule_script.Stage), checked when snakemake reads the
rule files."""

import re
import shutil

from workflow_helpers import REPO, SnakemakeRunner, read_sheet, small_config

RULES = REPO / "workflow" / "rules"
# the files that may spell out where outputs go: the layout itself and the shared set-up
LAYOUT_FILES = {"paths.smk", "common.smk"}


def _code_lines(text: str) -> list[str]:
    """The lines of a rule file outside comments and docstrings (roughly: enough for a
    path literal)."""
    lines, in_doc = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.count('"""') == 1:
            in_doc = not in_doc
            continue
        if in_doc or stripped.startswith("#") or stripped.startswith('"""'):
            continue
        lines.append(line)
    return lines


def path_literals(text: str, name: str) -> list[str]:
    """Code lines of a rule file that contain ``name`` (a path part such as ``results/``)."""
    return [line for line in _code_lines(text) if name in line]


def test_the_check_finds_a_path_literal():
    # control: the check sees a literal in code, not in a comment or a docstring
    text = '# results/fit\ndef f():\n    """results/x"""\n    return "results/fit/best.json"\n'
    assert path_literals(text, "results/") == ['    return "results/fit/best.json"']


def test_only_the_layout_spells_out_output_paths():
    spelled = {
        f.name: path_literals(f.read_text(), "results/")
        for f in sorted(RULES.glob("*.smk"))
        if f.name not in LAYOUT_FILES
    }
    assert {name: lines for name, lines in spelled.items() if lines} == {}
    best = {f.name: path_literals(f.read_text(), "best.json") for f in RULES.glob("*.smk")}
    assert {name: len(lines) for name, lines in best.items() if lines} == {"paths.smk": 1}


def _parse(work, runner=None):
    (work / ".test").mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / ".test" / "config", work / ".test" / "config", dirs_exist_ok=True)
    runner = runner or SnakemakeRunner()
    return runner.run(work, "-n", "--quiet", "rules", check=False, config=small_config())


def _job_counts(stdout: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stdout, re.M)}


def test_the_shipped_workflow_parses_with_one_job_per_model_for_the_batched_stages(tmp_path):
    proc = _parse(tmp_path / "work")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    counts = _job_counts(proc.stdout + proc.stderr)
    models = len(small_config()["fit"]["models"])
    for rule in ("fit_chi2", "fit_zoom", "simulate_best", "plausibility"):
        assert counts[rule] == models, (rule, counts)
    # fit_best is not batched: one job per fit (each sample and the joint fit) and model
    fits = len(read_sheet(REPO / small_config()["samples"])) + 1
    assert counts["fit_best"] == fits * models, counts
    # the weighted chi2 comes from fit_chi2's one pass over the chunks, not a rule of its own
    assert "fit_chi2_weighted" not in counts, counts
    for rule in ("fit_tmax_experiment", "dimer_response", "model_comparison", "best_fit_sbml",
                 "figure_chi2_landscape", "figure_tmax_residuals", "export_sbml"):  # fmt: skip
        assert counts[rule] == 1, (rule, counts)


def test_a_rule_whose_output_is_not_its_stages_is_refused_when_read(tmp_path):
    # fit_chi2 drops an output of its stage (the parse test above is the control: the same
    # workflow unedited is read; tests/test_rule_script.py covers the other disagreements)
    edit = ('        residuals=CHI2.output("residuals"),\n', "")
    repo = tmp_path / "repo"
    for part in ("workflow", "config", "resources"):
        shutil.copytree(REPO / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    fit_rules = repo / "workflow" / "rules" / "fit.smk"
    text = fit_rules.read_text()
    assert edit[0] in text
    fit_rules.write_text(text.replace(edit[0], edit[1]))
    runner = SnakemakeRunner()
    runner.snakefile = repo / "workflow" / "Snakefile"
    proc = _parse(tmp_path / "work", runner)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "is not what its stage" in output, output[-3000:]
