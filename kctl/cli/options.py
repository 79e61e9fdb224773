"""Options that many commands share, defined once so their names and help never drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

OutputOpt = Annotated[str, typer.Option("--output", "-o", metavar="FORMAT",
                                        help="table, wide, json, yaml, jsonl or csv.")]

#: Every command that changes state takes --yes, so a runbook can pass it everywhere; commands
#: that ask first (deletes) go ahead without asking, the others accept it and have nothing to ask.
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
