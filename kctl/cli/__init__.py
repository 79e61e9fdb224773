"""The `kctl` command line.

Only the standard library is imported here, so that `kctl --version` and `kctl --help` start at
once; click and rich load when a command runs.
"""

from __future__ import annotations

import os
import sys


def collect_less_often() -> None:
    """Collect young objects less often than Python's default: a lag over hundreds of groups
    builds millions of short-lived objects without cycles, and the default thresholds spend
    about a quarter of its time in the cycle collector. For the CLI and the console alike."""
    import gc

    gc.set_threshold(50_000, 20, 100)


def answer_interrupts() -> None:
    """Ctrl-C and `kill -INT` stop kctl even when it was started from a script with `&`: a
    shell starts background jobs with SIGINT ignored, and Python then keeps it ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # the process's own command line, not a call from Python code
        answer_interrupts()
    if args in (["--version"], ["-V"]):
        from kctl import __version__

        print(f"kctl {__version__}")
        return 0
    if not args and sys.stdin.isatty() and sys.stdout.isatty() and "_KCTL_COMPLETE" not in os.environ:
        args = ["tui"]  # plain `kctl` in a terminal opens the console
    if args in ([], ["--help"]) and "_KCTL_COMPLETE" not in os.environ:
        # Generated from the command definitions by `python -m kctl.cli.docs` (a test keeps it fresh).
        from pathlib import Path

        sys.stdout.write(Path(__file__).with_name("help.txt").read_text())
        return 0
    collect_less_often()
    from kctl.cli.app import run

    return run(args)
