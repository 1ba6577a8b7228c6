"""The per-rule conda environments (envs/*.yaml) hold exactly what their rules' scripts import.

Conda itself is not run here (CI has no conda). Instead:

* which modules an env needs is read from the code: every rule in ``workflow/rules/*.smk``
  that names the env under ``conda:`` runs a ``script:``; the scripts' imports are followed
  through the ``intercluster`` modules they import (their AST, function-level imports
  included) down to the third-party modules;
* the env's packages are mapped to the modules they provide (the installed distributions'
  metadata, ``importlib.metadata.packages_distributions``): every needed module must come
  from a listed package (complete), and every listed package must provide a needed module
  (as small as it can be: removing any one package makes the check fail);
* each env's packages are pip-installed into a fresh virtual environment (the envs install
  PyPI wheels under ``pip:``; conda-level packages are mapped to their PyPI names) and
  every needed module is imported there, ``intercluster`` from ``workflow/src``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "workflow" / "rules"
LIBRARY_DIR = REPO / "workflow" / "src"
PACKAGE = "intercluster"
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))

# conda-forge names whose PyPI distribution is called differently (the rest match).
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "pytables": "tables"}
CONDA_ONLY = {"python", "pip"}  # the interpreter and the installer come with the venv

# Methods that import an optional dependency of their library when called: no import
# statement shows it (pandas reads and writes parquet with pyarrow).
IMPLICIT_IMPORTS = {"read_parquet": "pyarrow.parquet", "to_parquet": "pyarrow.parquet"}

RULE = re.compile(r"^(?:rule|checkpoint)\s+(\w+):\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.MULTILINE)
DIRECTIVE = r"^\s+{}:\s*\n?\s*\"([^\"]+)\""


def _normalise(distribution: str) -> str:
    """PEP 503 name: case and runs of - _ . do not matter."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


# --- what the rules need ---------------------------------------------------------------------
@cache
def rule_scripts() -> dict[str, tuple[Path | None, Path]]:
    """Rule name -> (its conda env file or None, its script), from the .smk files' text."""
    rules = {}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            script = re.search(DIRECTIVE.format("script"), body, re.MULTILINE)
            if script is None:
                continue
            conda = re.search(DIRECTIVE.format("conda"), body, re.MULTILINE)
            env = (smk.parent / conda.group(1)).resolve() if conda else None
            rules[name] = (env, (smk.parent / script.group(1)).resolve())
    return rules


def _module_file(module: str) -> Path | None:
    """The source file of an ``intercluster`` module (or package), None if there is none."""
    base = LIBRARY_DIR.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(path: Path, module: str | None) -> set[str]:
    """Dotted names every import statement of a file asks for (``from a import b``: ``a.b``
    when that is an intercluster module, else ``a``; relative imports resolved), and the
    optional dependencies of the library methods it calls (``IMPLICIT_IMPORTS``)."""
    package = (module or "").rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in IMPLICIT_IMPORTS:
            found.add(IMPLICIT_IMPORTS[node.attr])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            if base == "__future__":
                continue
            found.add(base)
            for alias in node.names:
                if _module_file(f"{base}.{alias.name}") is not None:
                    found.add(f"{base}.{alias.name}")
    return found


def needed_modules(scripts) -> tuple[set[str], set[str]]:
    """(intercluster modules, third-party dotted modules) the scripts import, transitively
    within intercluster."""
    first_party, third_party = set(), set()
    todo = [(script, None) for script in scripts]
    while todo:
        path, module = todo.pop()
        for name in _imports_of(path, module):
            top = name.split(".")[0]
            if top == PACKAGE:
                if name not in first_party and _module_file(name) is not None:
                    first_party.add(name)
                    todo.append((_module_file(name), name))
            elif top not in sys.stdlib_module_names:
                third_party.add(name)
    return first_party, third_party


@cache
def env_needs(env: Path) -> tuple[frozenset[str], frozenset[str]]:
    scripts = {s for e, s in rule_scripts().values() if e == env}
    first_party, third_party = needed_modules(sorted(scripts))
    return frozenset(first_party), frozenset(third_party)


# --- what an env provides --------------------------------------------------------------------
def pip_requirements(env: Path) -> list[str]:
    """The env's packages as pip requirements (conda ``name=1.2`` -> ``name==1.2``)."""
    spec = yaml.safe_load(env.read_text())
    requirements = []
    for dependency in spec.get("dependencies", []):
        if isinstance(dependency, dict):
            requirements.extend(dependency.get("pip", []))
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:=+\s*([^=\s]+))?.*", dependency.strip())
        name, version = match.group(1), match.group(2)
        if name in CONDA_ONLY:
            continue
        name = CONDA_TO_PYPI.get(name, name)
        requirements.append(f"{name}=={version}" if version else name)
    return requirements


def distribution_of(requirement: str) -> str:
    return _normalise(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])


@cache
def _providers() -> dict[str, frozenset[str]]:
    """Top-level module -> normalised distributions providing it (installed metadata)."""
    return {
        module: frozenset(_normalise(d) for d in dists)
        for module, dists in importlib.metadata.packages_distributions().items()
    }


def missing_modules(third_party, distributions) -> dict[str, set[str]]:
    """Needed top-level modules that none of ``distributions`` provides -> their providers."""
    listed = {_normalise(d) for d in distributions}
    missing = {}
    for top in sorted({name.split(".")[0] for name in third_party}):
        providers = _providers().get(top, frozenset())
        if not providers & listed:
            missing[top] = set(providers) or {"(not installed here: unknown)"}
    return missing


def unneeded_distributions(third_party, distributions) -> list[str]:
    """Listed distributions that provide none of the needed modules."""
    tops = {name.split(".")[0] for name in third_party}
    return [
        d
        for d in distributions
        if not any(_normalise(d) in _providers().get(top, ()) for top in tops)
    ]


ENV_IDS = [env.stem for env in ENV_FILES]


# --- the checks ------------------------------------------------------------------------------
def test_every_script_rule_names_an_env_that_exists():
    rules = rule_scripts()
    assert len(rules) >= 20, sorted(rules)  # the parser found the rules
    for name, (env, script) in rules.items():
        assert env is not None, f"rule {name} runs {script.name} without a conda: env"
        assert env in ENV_FILES, f"rule {name}: {env} is not one of envs/*.yaml"
        assert script.is_file(), f"rule {name}: {script} not found"
    assert {env for env, _ in rules.values()} == set(ENV_FILES), "an env no rule uses"


def test_import_walker_follows_the_library():
    """Known chains: the QC figure script -> system -> schemas -> jsonschema (a function-level
    import); relative function-level imports (fit -> simulate -> _kernels -> numba); pandas'
    parquet engine."""
    first, third = needed_modules([REPO / "workflow" / "scripts" / "fig_deconvolution_qc.py"])
    assert {"intercluster.ingest", "intercluster.schemas", "intercluster.errors"} <= first
    assert {"jsonschema", "pymzml", "IsoSpecPy", "numba", "matplotlib.pyplot"} <= third
    first, third = needed_modules([REPO / "workflow" / "scripts" / "fit_grid_chunk.py"])
    assert {"intercluster.simulate", "intercluster._kernels"} <= first
    assert "numba" in third and "pyarrow.parquet" in third
    assert not any(name.split(".")[0] in sys.stdlib_module_names for name in third)
    _, third = needed_modules([REPO / "workflow" / "scripts" / "fig_chi2.py"])
    assert "pyarrow.parquet" in third  # pd.read_parquet, no import statement


@pytest.mark.parametrize("env", ENV_FILES, ids=ENV_IDS)
def test_env_lists_what_its_scripts_import_and_nothing_else(env):
    _, third_party = env_needs(env)
    distributions = [distribution_of(r) for r in pip_requirements(env)]
    assert not missing_modules(third_party, distributions), (
        f"{env.name} lacks packages for {missing_modules(third_party, distributions)}"
    )
    assert not unneeded_distributions(third_party, distributions), (
        f"{env.name} lists packages no rule script imports: "
        f"{unneeded_distributions(third_party, distributions)}"
    )
    # The negative control: without any one of its packages the env is incomplete.
    for dropped in distributions:
        rest = [d for d in distributions if d != dropped]
        assert missing_modules(third_party, rest), f"{env.name} passes without {dropped}"


def test_conda_names_are_mapped_and_pins_kept(tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - numpy=2.4.6\n  - matplotlib-base\n"
        "  - pip:\n      - psims==1.4.0\n"
    )
    assert pip_requirements(env) == ["numpy==2.4.6", "matplotlib", "psims==1.4.0"]


def _python_pin(env: Path) -> str | None:
    for dependency in yaml.safe_load(env.read_text())["dependencies"]:
        if isinstance(dependency, str) and re.match(r"python\s*=", dependency):
            return dependency.split("=", 1)[1].strip()
    return None


IMPORT_ALL = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("env", ENV_FILES, ids=ENV_IDS)
def test_env_installs_and_imports_in_a_fresh_venv(env, tmp_path):
    """pip installs the env's pinned wheels into a new venv; every needed module imports."""
    pin = _python_pin(env)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if pin and pin != here:
        pytest.skip(f"{env.name} pins python {pin}; this interpreter is {here}")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary", ":all:",
         "--disable-pip-version-check", *pip_requirements(env)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    first_party, third_party = env_needs(env)
    modules = sorted(third_party) + sorted(first_party)
    # Only the venv's own site-packages and the library: nothing from the test's interpreter.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environ.update(PYTHONPATH=str(LIBRARY_DIR), PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    result = subprocess.run(
        [str(python), "-c", IMPORT_ALL, *modules],
        capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{env.name}: cannot import\n{result.stdout}{result.stderr}"
