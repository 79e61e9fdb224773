"""kctl offsets, produce, tail (consume) and records delete."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kctl.ops.cells import Column
from kctl.ops.times import iso, parse_timestamp_ms

from .completion import complete_topics

if TYPE_CHECKING:
    from kctl.ops.records import OutgoingRecord
from .errors import USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, colour_enabled, diagnostic, to_json
from .runtime import check_format, confirm, execute, fail

records_app = typer.Typer(help="Records: delete the ones before an offset or a time.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Any:
    return ctx.obj


# ---- offsets -----------------------------------------------------------------------------------------
def offsets(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="The topic.", autocompletion=complete_topics)],
    at: Annotated[str | None, typer.Option("--at", help="earliest, latest, or a time (ISO 8601, epoch ms, -1h).")
                  ] = None,
    output: OutputOpt = "table",
) -> None:
    """Per partition: the earliest and latest offsets, or the offset at a time."""

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import EARLIEST, LATEST, Admin, TopicPartition

        admin = Admin(cluster)
        info = await cluster.topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        if at is None:
            earliest = await admin.list_offsets(dict.fromkeys(tps, EARLIEST))
            latest = await admin.list_offsets(dict.fromkeys(tps, LATEST))
            rows = [{"topic": topic, "partition": tp.partition, "earliest": earliest[tp].offset,
                     "latest": latest[tp].offset, "records": latest[tp].offset - earliest[tp].offset} for tp in tps]
            columns = [Column("partition", "PARTITION", numeric=True), Column("earliest", "EARLIEST", numeric=True),
                       Column("latest", "LATEST", numeric=True), Column("records", "RECORDS", numeric=True)]
            return Output(rows, [Table(rows, columns)])
        spec = {"earliest": EARLIEST, "latest": LATEST}.get(at)
        when = spec if spec is not None else parse_timestamp_ms(at.lstrip("@"))
        found = await admin.list_offsets(dict.fromkeys(tps, when))
        rows = [{"topic": topic, "partition": tp.partition, "offset": found[tp].offset,
                 "timestamp": found[tp].timestamp if found[tp].timestamp >= 0 else None} for tp in tps]
        columns = [Column("partition", "PARTITION", numeric=True), Column("offset", "OFFSET", numeric=True),
                   Column("timestamp", "TIMESTAMP", numeric=True)]
        return Output(rows, [Table(rows, columns)])

    execute(_settings(ctx), body, fmt=output)


# ---- produce -----------------------------------------------------------------------------------------
def produce(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="The topic.", autocompletion=complete_topics)],
    values: Annotated[list[str] | None, typer.Argument(help="Values to send (default: one per stdin line).")] = None,
    key_separator: Annotated[str | None, typer.Option("--key-separator", "-K",
                                                      help="Split each line into KEY<sep>VALUE.")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="The key of every record.")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="NAME=VALUE, repeatable.")] = None,
    partition: Annotated[int | None, typer.Option("--partition", "-p", help="Send to this partition.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Input lines are JSON objects: key, value, headers, "
                                                        "partition, timestamp (*_encoding: base64).")] = False,
    compression: Annotated[str, typer.Option("--compression", "-z", help="none, gzip, snappy, lz4 or zstd.")
                           ] = "none",
    acks: Annotated[str, typer.Option("--acks", help="0, 1 or all.")] = "all",
    rate: Annotated[float | None, typer.Option("--rate", help="At most this many records per second.")] = None,
    yes: YesOpt = False,
) -> None:
    """Send records from arguments or stdin lines."""
    headers = []
    for h in header or []:
        name, sep, value = h.partition("=")
        if not sep:
            fail(CliError(f"header {h!r} is not NAME=VALUE", "e.g. -H source=billing", USAGE))
        headers.append((name, value.encode()))

    def records() -> Iterator[OutgoingRecord]:
        from kctl.ops.records import record_from_json, record_from_text

        numbered = enumerate(values, 1) if values else ((n, line.rstrip("\n")) for n, line in enumerate(sys.stdin, 1))
        for number, text in numbered:
            if not text and not jsonl and not values:
                continue  # an empty line of input is not an empty record
            yield (record_from_json(text, number) if jsonl else
                   record_from_text(text, number, key=key, key_separator=key_separator, headers=headers))

    async def body(cluster: Any, context: Any) -> None:
        from kctl.ops.produce import produce_records

        done = await produce_records(cluster, topic, records(), partition=partition, acks=acks,
                                     compression=compression, rate=rate)
        diagnostic(f"produced {done.delivered} record(s) to {topic}")
        if done.failures:
            raise done.failures[0]

    execute(_settings(ctx), body, changes=True, streaming=True)


# ---- tail ---------------------------------------------------------------------------------------------
TAIL_FORMATS = ("human", "jsonl", "json", "raw")


def _human(r: Any, colour: bool) -> str:
    key = r.key.decode(errors="replace") if r.key is not None else "null"
    value = r.value.decode(errors="replace") if r.value is not None else "null"
    if value[:1] in "{[":
        with contextlib.suppress(ValueError):
            value = json.dumps(json.loads(value), indent=2)
    when = iso(r.timestamp) or "-"
    head = f"{r.topic}[{r.partition}]@{r.offset} {when} key={key}"
    if r.headers:
        head += " " + " ".join(f"{h}={(v or b'').decode(errors='replace')}" for h, v in r.headers)
    if colour:
        head = f"\x1b[36m{head}\x1b[0m"
    return f"{head}\n{value}\n"


def tail(
    ctx: typer.Context,
    topics: Annotated[list[str], typer.Argument(help="Topics, or regexes with --pattern.",
                                                autocompletion=complete_topics)],
    from_: Annotated[str, typer.Option("--from", metavar="POSITION",
                                       help="beginning, end, OFFSET, -N (last N per partition), @TIME or @-1h. "
                                            "With --group: where partitions without a committed offset start "
                                            "(as auto.offset.reset).")] = "end",
    partition: Annotated[list[int] | None, typer.Option("--partition", "-p", help="Only these partitions.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep waiting for new records.")] = False,
    max_records: Annotated[int | None, typer.Option("--max", "-n", metavar="N",
                                                    help="Stop after N records (read, and with --group "
                                                         "committed; records --filter drops count as read).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop at records after this time.")] = None,
    group: Annotated[str | None, typer.Option("--group", "-g", metavar="GROUP",
                                              help="Consume as a member of this group, committing exactly what "
                                                   "was read; leaves the group on exit and on SIGTERM/SIGHUP.")] = None,
    filter_: Annotated[str | None, typer.Option("--filter", help="Only records matching this expression "
                                                                  "(e.g. 'value.status == \"failed\"').")] = None,
    pattern: Annotated[bool, typer.Option("--pattern", help="Treat TOPICS as regexes.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="A template: {topic} {partition} {offset} "
                                                            "{timestamp} {key} {value}.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="human, jsonl, json or raw.")] = "human",
) -> None:
    """Read records: from a position to the end (or forever with --follow), filtered, in several formats."""
    settings = _settings(ctx)
    check_format(output, TAIL_FORMATS)
    from kctl.ops.tail import TailSpec, record_matcher

    spec = TailSpec(topics, start=from_, partitions=partition, follow=follow, max_records=max_records,
                    until_ms=parse_timestamp_ms(until.lstrip("@")) if until else None, group=group,
                    pattern=pattern, matcher=record_matcher(filter_) if filter_ else None)
    write_record = _record_writer(output, fmt)

    async def body(cluster: Any, context: Any) -> None:
        from kctl.ops.records import record_json
        from kctl.ops.tail import TailSession

        everything: list[dict[str, Any]] = []
        async with TailSession(cluster, spec) as session:
            async for batch in session:
                if output == "json":
                    everything.extend(record_json(r) for r in batch)
                    continue
                for r in batch:
                    write_record(r)
                sys.stdout.flush()
        if output == "json":
            sys.stdout.write(to_json(everything, indent=True) + "\n")
        diagnostic(f"{session.handed_out} record(s)")

    execute(settings, body, streaming=True)


def _record_writer(output: str, fmt: str | None) -> Callable[[Any], object]:
    """How `tail` prints one record: a --format template, jsonl, raw value bytes, or for people."""
    from kctl.ops.records import record_json

    write = sys.stdout.write
    if fmt is not None:
        return lambda r: write(_template(fmt, r) + "\n")
    if output == "jsonl":
        return lambda r: write(json.dumps(record_json(r)) + "\n")
    if output == "raw":
        def raw(r: Any) -> None:
            sys.stdout.flush()
            sys.stdout.buffer.write((r.value or b"") + b"\n")
        return raw
    colour = colour_enabled(sys.stdout)
    return lambda r: write(_human(r, colour))


def _template(fmt: str, r: Any) -> str:
    fields = {"topic": r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
              "time": iso(r.timestamp) or "", "key": (r.key or b"").decode(errors="replace"),
              "value": (r.value or b"").decode(errors="replace"),
              "headers": ",".join(f"{h}={(v or b'').decode(errors='replace')}" for h, v in r.headers)}
    try:
        return fmt.replace("\\n", "\n").replace("\\t", "\t").format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise CliError(f"bad --format: {exc}", "fields: " + ", ".join(fields), USAGE) from None


# ---- records delete -----------------------------------------------------------------------------------
@records_app.command("delete")
def records_delete(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="The topic.", autocompletion=complete_topics)],
    before: Annotated[str, typer.Option("--before", help="OFFSET, or a time (ISO 8601, epoch ms with @, -1h).")],
    partition: Annotated[list[int] | None, typer.Option("--partition", "-p", help="Only these partitions.")] = None,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Delete every record before an offset or a time (moves the log start offset)."""

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import LATEST, Admin, TopicPartition

        admin = Admin(cluster)
        info = await cluster.topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(info.partitions) if partition is None or p in partition]
        if before.isdigit():
            targets = dict.fromkeys(tps, int(before))
        else:
            when = parse_timestamp_ms(before.lstrip("@"))
            found = await admin.list_offsets(dict.fromkeys(tps, when))
            latest = await admin.list_offsets(dict.fromkeys(tps, LATEST))
            targets = {tp: (o.offset if o.offset >= 0 else latest[tp].offset) for tp, o in found.items()}
        confirm(f"deleting records of {topic} before {before} on {context.name} cannot be undone", topic, yes)
        low = await admin.delete_records(targets)
        rows = [{"topic": topic, "partition": tp.partition, "log_start_offset": low[tp]} for tp in tps]
        return Output(rows, [Table(rows, [Column("partition", "PARTITION", numeric=True),
                                          Column("log_start_offset", "NEW LOG START", numeric=True)])])

    execute(_settings(ctx), body, fmt=output, changes=True)


__all__ = ["offsets", "produce", "records_app", "tail"]
