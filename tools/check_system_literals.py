"""The "no system in code" check: a grep for what a system file should own.

Metal symbols, nuclearities and ligand formulas of every system file under
``resources/systems/`` must not be written in the workflow's code: they come from the system
file (:mod:`intercluster.system`). :func:`find_system_literals` finds them;

    PYTHONPATH=workflow/src python tools/check_system_literals.py --literals DIR...

prints them (exit status 1 when any). A development tool over the repository's source, not
part of the ``intercluster`` package (tests/test_system_literals.py runs it).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from intercluster.system import SystemDefinition, load_system

#: the repository's system files (this file is tools/check_system_literals.py)
SYSTEMS_DIR = Path(__file__).resolve().parents[1] / "resources" / "systems"


@dataclass(frozen=True)
class SystemLiteral:
    """One place where source code names something a system file should own."""

    path: str
    line: int
    kind: str  # "metal", "nuclearity" or "ligand formula"
    token: str
    text: str


def _literal_patterns(systems: Sequence[SystemDefinition]) -> list[tuple[str, str, re.Pattern]]:
    patterns = []
    for metal in sorted({m for s in systems for m in s.metals}):
        # the symbol as in "[X25" or in lower case in an identifier ("n_x", "x_nM"), but not
        # inside a word
        spelled = f"(?:{metal}|{metal.lower()})"
        patterns.append(("metal", metal, re.compile(rf"(?<![A-Za-z]){spelled}(?![a-z])")))
    for n in sorted({f.nuclearity for s in systems for f in s.families}):
        patterns.append(("nuclearity", str(n), re.compile(rf"(?<![\w.]){n}(?![\w.]|,\d)")))
    for formula in sorted({lig.formula for s in systems for lig in s.ligands}):
        patterns.append(
            ("ligand formula", formula, re.compile(rf"(?<![A-Za-z0-9]){formula}(?![0-9a-z])"))
        )
    return patterns


# A line that ends in this comment holds a number that only looks like a nuclearity (a grid
# size, say): the grep skips it. Say what the number is after the marker.
NOT_A_SYSTEM_LITERAL = "# not a system literal"


def find_system_literals(
    roots: Iterable[str | os.PathLike],
    systems: Iterable[SystemDefinition],
    suffixes: Sequence[str] = (".py", ".smk"),
) -> list[SystemLiteral]:
    """Metal symbols, nuclearities and ligand formulas of ``systems`` written in source files.

    A grep over ``roots`` (files or directories, searched recursively for ``suffixes``):
    what a system file should own and code should not name. Returns one
    :class:`SystemLiteral` per match, sorted by file and line. A line carrying the comment
    :data:`NOT_A_SYSTEM_LITERAL` is skipped.
    """
    patterns = _literal_patterns(list(systems))
    files: list[Path] = []
    for root in map(Path, roots):
        if root.is_file():
            files.append(root)
        else:
            files += [p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes]
    found = []
    for file in sorted(set(files)):
        source = file.read_text(encoding="utf-8", errors="replace")
        for line_no, text in enumerate(source.splitlines(), start=1):
            if NOT_A_SYSTEM_LITERAL in text:
                continue
            for kind, token, pattern in patterns:
                if pattern.search(text):
                    found.append(SystemLiteral(str(file), line_no, kind, token, text.strip()))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``check_system_literals.py --literals DIR...``: print the system literals found.

    The systems are every file under ``resources/systems/``; exit status 1 when any is found.
    """
    parser = argparse.ArgumentParser(prog="check_system_literals.py")
    parser.add_argument("--literals", nargs="+", required=True, metavar="PATH")
    parser.add_argument("--systems", default=str(SYSTEMS_DIR))
    args = parser.parse_args(argv)
    systems = [load_system(p) for p in sorted(Path(args.systems).glob("*.yaml"))]
    found = find_system_literals(args.literals, systems)
    for x in found:
        print(f"{x.path}:{x.line}: {x.kind} {x.token}: {x.text}")
    print(f"{len(found)} system literal(s) in {', '.join(args.literals)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
