"""Options that many commands share, defined once so their names and help never drift apart."""

from __future__ import annotations

from typing import Annotated

from . import declare as cli

OutputOpt = Annotated[str, cli.Option("--output", "-o", metavar="FORMAT",
                                        help="table, wide, json, yaml, jsonl or csv.")]

#: Every command that changes state takes --yes, so a runbook can pass it everywhere; commands
#: that ask first (deletes) go ahead without asking, the others accept it and have nothing to ask.
YesOpt = Annotated[bool, cli.Option("--yes", "-y", help="Do not ask for confirmation.")]

#: `--execute` of the changes that preview themselves first (offset resets of groups, Streams apps
#: and connectors).
ApplyOpt = Annotated[bool, cli.Option("--execute", help="Apply it (the default is a dry run).")]

# Where offsets go: the strategies of kafka-consumer-groups.sh and kafka-streams-application-reset.sh.
ToEarliestOpt = Annotated[bool, cli.Option("--to-earliest", help="The oldest record still kept.")]
ToLatestOpt = Annotated[bool, cli.Option("--to-latest", help="The end: skip everything there is.")]
ToOffsetOpt = Annotated[int | None, cli.Option("--to-offset", help="This offset in every partition.")]
ShiftByOpt = Annotated[int | None, cli.Option("--shift-by", help="Move by N (negative: back).")]
ToDatetimeOpt = Annotated[str | None, cli.Option("--to-datetime", help="First record at or after this time.")]
ByDurationOpt = Annotated[str | None, cli.Option("--by-duration", help="This long ago (e.g. 1h, PT30M).")]
FromFileOpt = Annotated[str | None, cli.Option("--from-file", help="Kafka's CSV: TOPIC,PARTITION,OFFSET.")]

#: Health changes of groups posted to webhooks (`kctl exporter`, `kctl lag --watch`).
AlertOpt = Annotated[list[str] | None, cli.Option(
    "--alert", metavar="[KIND=]URL", help="Post group health changes here (repeatable): json=URL (the default), "
    "slack=URL (an incoming webhook) or alertmanager=URL (its API).")]
AlertForOpt = Annotated[str, cli.Option(
    "--alert-for", metavar="DURATION", help="How long a new verdict must hold before it is posted.")]
