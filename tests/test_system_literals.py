"""No metal symbol, nuclearity or ligand formula of the shipped systems in workflow code.

The grep (README, "Development"):

    PYTHONPATH=workflow/src python tools/check_system_literals.py \
        --literals workflow/src workflow/scripts

is ``find_system_literals`` of tools/check_system_literals.py over the system files under
resources/systems/. The whole of workflow/src and workflow/scripts is free of them: code reads
metals, nuclearities and ligands from the system file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from check_system_literals import NOT_A_SYSTEM_LITERAL, find_system_literals  # tools/

from intercluster.system import load_system

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = [load_system(p) for p in sorted((REPO / "resources" / "systems").glob("*.yaml"))]
CLEAN = [
    "workflow/src/intercluster/frameworks.py",
    "workflow/src/intercluster/framework_figures.py",
    "workflow/src/intercluster/validation.py",
    "workflow/scripts/framework_deconvolve.py",
    "workflow/scripts/framework_virtual_experiment.py",
    "workflow/scripts/fig_frameworks.py",
    "workflow/scripts/deconvolve.py",
    "workflow/scripts/virtual_experiment.py",
]


def test_the_grep_finds_a_literal(tmp_path):
    """Negative control: a file that names a metal and a ligand formula is caught."""
    bad = tmp_path / "bad.py"
    metal = SYSTEMS[0].metals[0]
    formula = SYSTEMS[0].ligands[0].formula
    bad.write_text(f'n = "{metal}"\nf = "{formula}"\nok = "nothing here"\n')
    found = find_system_literals([bad], SYSTEMS)
    assert {(x.line, x.kind) for x in found} == {(1, "metal"), (2, "ligand formula")}


def test_system_driven_modules_name_no_system():
    found = find_system_literals([REPO / p for p in CLEAN], SYSTEMS)
    assert not found, "\n".join(f"{x.path}:{x.line}: {x.kind} {x.token}: {x.text}" for x in found)


def test_the_marker_skips_only_its_own_line(tmp_path):
    """A number that only looks like a nuclearity is skipped where the line says so."""
    n = SYSTEMS[0].families[0].nuclearity
    code = tmp_path / "grid.py"
    code.write_text(f"points = {n}  {NOT_A_SYSTEM_LITERAL} (a grid size)\natoms = {n}\n")
    found = find_system_literals([code], SYSTEMS)
    assert [(x.line, x.kind) for x in found] == [(2, "nuclearity")]


def test_workflow_code_names_no_system():
    roots = [REPO / "workflow" / "src", REPO / "workflow" / "scripts"]
    found = find_system_literals(roots, SYSTEMS)
    assert not found, "\n".join(f"{x.path}:{x.line}: {x.kind} {x.token}: {x.text}" for x in found)


def test_the_command_line_grep_finds_nothing():
    """The README's command, as a user runs it: exit status 0 and nothing listed."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow" / "src")}
    proc = subprocess.run(
        [sys.executable, "tools/check_system_literals.py", "--literals", "workflow/src",
         "workflow/scripts"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "0 system literal(s) in workflow/src, workflow/scripts"
