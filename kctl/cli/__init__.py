"""The `kctl` command line.

Only the standard library is imported here, so that `kctl --version` and `kctl --help` start at
once; typer and rich load when a command runs.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from kctl import __version__

        print(f"kctl {__version__}")
        return 0
    from kctl.cli.app import run

    return run(args)
