"""The ``intercluster`` console script: ``intercluster inspect FILE.mzML [--config ...]``.

The workflow itself runs with ``snakemake``; this command only holds helpers for users.
"""

from __future__ import annotations

import sys

COMMANDS = {"inspect": "describe an mzML file and the cluster ions seen in it"}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        from .inspect import version

        print(f"intercluster {version()}")
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        usage = "\n".join(f"  {name:<10} {text}" for name, text in COMMANDS.items())
        stream = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        print(f"usage: intercluster COMMAND ...\ncommands:\n{usage}", file=stream)
        return 0 if stream is sys.stdout else 2
    from .inspect import main as inspect_main

    return inspect_main(argv[1:], prog=f"intercluster {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
