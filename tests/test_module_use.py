"""The workflow used as a Snakemake ``module`` from an otherwise empty directory.

What ``snakedeploy deploy-workflow`` writes: a ``workflow/Snakefile`` that declares the
repository's workflow as a module and uses all its rules, and a copied ``config/config.yaml``
(here the small test configuration) whose sample sheet lives in the deployment. The
repository's own files (system file, schemas, scripts, library) must be found from the
module's location, not from the using workflow's; the run writes its results under the
deployment.
"""

import shutil
import subprocess
import sys

import yaml
from workflow_helpers import REPO, SnakemakeRunner, small_config

SAMPLE = "ag40_au40"
QC_FIGURE = f"results/figures/deconvolution_qc_{SAMPLE}.png"

USING_SNAKEFILE = """\
configfile: "config/config.yaml"


module intercluster:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from intercluster as intercluster_*
"""


def _deploy(where):
    (where / "workflow").mkdir(parents=True)
    (where / "config").mkdir()
    snakefile = REPO / "workflow" / "Snakefile"
    (where / "workflow" / "Snakefile").write_text(USING_SNAKEFILE.format(snakefile=snakefile))
    config = small_config()
    config["samples"] = "config/samples.tsv"  # the user's sheet, in the deployment
    (where / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    sheet = (REPO / ".test" / "config" / "small_samples.tsv").read_text()
    # sheet paths are relative to the sheet: config/../results is the deployment's results/
    (where / "config" / "samples.tsv").write_text(sheet.replace("../../results", "../results"))


def _snakemake(where, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "none", "--cores", "2",
         "--nolock", *args],
        cwd=where, capture_output=True, text=True, timeout=900, env=SnakemakeRunner().env,
        **kwargs,
    )  # fmt: skip


def test_the_workflow_runs_as_a_module_from_an_empty_directory(tmp_path):
    deploy = tmp_path / "deployment"
    _deploy(deploy)
    plan = _snakemake(deploy, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "intercluster_fit_grid_chunk" in plan.stdout + plan.stderr
    run = _snakemake(deploy, QC_FIGURE)
    assert run.returncode == 0, run.stderr[-3000:]
    figure = deploy / QC_FIGURE
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (deploy / "results" / "virtual_experiment" / f"{SAMPLE}.mzML").is_file()
    assert not (REPO / "config" / "samples.tsv").exists()  # nothing written in the module


def test_a_module_whose_own_files_are_looked_up_from_the_user_directory_fails(tmp_path):
    """Negative control: the former lookup (the using workflow's directory,
    ``workflow.basedir``) does not find the repository's system file from a deployment."""
    deploy = tmp_path / "deployment"
    _deploy(deploy)
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert "WORKFLOW_DIR = Path(str(workflow.current_basedir)).parent" in common
    broken_repo = tmp_path / "repo"
    for part in ("workflow", "resources"):
        shutil.copytree(REPO / part, broken_repo / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    broken = broken_repo / "workflow" / "rules" / "common.smk"
    broken.write_text(common.replace("Path(str(workflow.current_basedir)).parent",
                                     "Path(workflow.basedir)"))  # fmt: skip
    (deploy / "workflow" / "Snakefile").write_text(
        USING_SNAKEFILE.format(snakefile=broken_repo / "workflow" / "Snakefile"))
    plan = _snakemake(deploy, "-n")
    assert plan.returncode != 0
    said = plan.stdout + plan.stderr
    assert "resources/systems/ag25_au25.yaml: file not found" in said, said[-3000:]
