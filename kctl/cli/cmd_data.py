"""kctl offsets, produce, tail (consume) and records delete."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column
from kctl.ops.times import iso, parse_timestamp_ms

from . import declare as cli
from .completion import complete_topics

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.cluster import Settings
    from kctl.connect.contexts import Context
    from kctl.ops.records import OutgoingRecord
from .errors import USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, colour_enabled, diagnostic, to_json
from .runtime import check_format, command_line, confirm, execute, fail

records_app = cli.Group(help="Records: delete the ones before an offset or a time.", no_args_is_help=True)


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


# ---- offsets -----------------------------------------------------------------------------------------
def offsets(
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The topic.", autocompletion=complete_topics)],
    at: Annotated[str | None, cli.Option("--at", help="earliest, latest, or a time (ISO 8601, epoch ms, -1h).")
                  ] = None,
    output: OutputOpt = "table",
) -> None:
    """Per partition: the earliest and latest offsets, or the offset at a time."""

    async def body(cluster: Cluster, context: Context) -> Output:
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
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The topic.", autocompletion=complete_topics)],
    values: Annotated[list[str] | None, cli.Argument(help="Values to send (default: one per stdin line).")] = None,
    key_separator: Annotated[str | None, cli.Option("--key-separator", "-K",
                                                      help="Split each line into KEY<sep>VALUE.")] = None,
    key: Annotated[str | None, cli.Option("--key", "-k", help="The key of every record.")] = None,
    header: Annotated[list[str] | None, cli.Option("--header", "-H", help="NAME=VALUE, repeatable.")] = None,
    partition: Annotated[int | None, cli.Option("--partition", "-p", help="Send to this partition.")] = None,
    jsonl: Annotated[bool, cli.Option("--jsonl", help="Input lines are JSON objects: key, value, headers, "
                                                        "partition, timestamp (*_encoding: base64).")] = False,
    compression: Annotated[str, cli.Option("--compression", "-z", help="none, gzip, snappy, lz4 or zstd.")
                           ] = "none",
    acks: Annotated[str, cli.Option("--acks", help="0, 1 or all.")] = "all",
    rate: Annotated[float | None, cli.Option("--rate", help="At most this many records per second.")] = None,
    value_schema: Annotated[str | None, cli.Option(
        "--value-schema", metavar="SUBJECT|ID|FILE",
        help="Encode each value (a JSON line) with this registry schema in Confluent's format; a FILE is "
             "registered under TOPIC-value first. Every line is checked before anything is sent.")] = None,
    key_schema: Annotated[str | None, cli.Option(
        "--key-schema", metavar="SUBJECT|ID|FILE", help="The same for keys (TOPIC-key).")] = None,
    message: Annotated[str | None, cli.Option(
        "--message", help="With a Protobuf schema: the message to write (default: the file's first).")] = None,
    transactional_id: Annotated[str | None, cli.Option(
        "--transactional-id", metavar="ID",
        help="Send all of the input in one transaction with this transactional id: committed at the end of "
             "input, aborted on any error or Ctrl-C (read_committed consumers then see none of it).")] = None,
    create: Annotated[bool, cli.Option(
        "--create", help="Create the topic with the broker's defaults if it does not exist (kctl never lets "
                         "a broker auto-create one).")] = False,
    yes: YesOpt = False,
) -> None:
    """Send records from arguments or stdin lines to an existing topic (or with --create, a new one)."""
    headers = []
    for h in header or []:
        name, sep, value = h.partition("=")
        if not sep:
            fail(CliError(f"header {h!r} is not NAME=VALUE", "e.g. -H source=billing", USAGE))
        headers.append((name, value.encode()))

    async def records() -> AsyncIterator[OutgoingRecord]:
        from kctl.ops.records import record_from_json, record_from_text

        from .stdin import stdin_lines

        def record(number: int, text: str) -> OutgoingRecord:
            return (record_from_json(text, number) if jsonl else
                    record_from_text(text, number, key=key, key_separator=key_separator, headers=headers))

        if values:
            for number, text in enumerate(values, 1):
                yield record(number, text)
            return
        number = 0
        async for line in stdin_lines():
            number += 1
            if line.rstrip("\n"):  # an empty line of input is not an empty record
                yield record(number, line.rstrip("\n"))

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.ops.produce import ensure_topic, produce_records

        if await ensure_topic(cluster, topic, create=create):
            diagnostic(f"created topic {topic} (the broker's default partitions and replicas)")
        outgoing: AsyncIterator[OutgoingRecord] | list[OutgoingRecord]
        if value_schema or key_schema:  # every line is read and checked before anything is sent
            read = [r async for r in records()]
            outgoing = await _encoded(_settings(ctx), context, topic, read, value_schema, key_schema, message)
        else:
            outgoing = records()
        done = await produce_records(cluster, topic, outgoing, partition=partition, acks=acks,
                                     compression=compression, rate=rate, transactional_id=transactional_id)
        if done.failures:
            if transactional_id is not None:
                diagnostic(f"transaction {transactional_id} aborted: none of its {done.sent} record(s) is committed")
            raise done.failures[0]
        in_transaction = f" in transaction {transactional_id} (committed)" if transactional_id is not None else ""
        diagnostic(f"produced {done.delivered} record(s) to {topic}{in_transaction}")

    execute(_settings(ctx), body, changes=True, streaming=True)


async def _encoded(settings: Settings, context: Context, topic: str, records: list[OutgoingRecord],
                   value_schema: str | None, key_schema: str | None, message: str | None) -> list[OutgoingRecord]:
    """Every record's key and value, JSON in, encoded with their registry schemas: all of them
    before anything is sent, so one bad line sends nothing."""
    from kctl.connect.cluster import registry_for
    from kctl.ops.errors import BadUsage
    from kctl.ops.schemas import encode_or_fail, encoder_for, no_registry

    registry = registry_for(context, settings)
    if registry is None:
        raise no_registry()
    async with registry:
        value_encoder = await encoder_for(registry, value_schema, f"{topic}-value", message) if value_schema else None
        key_encoder = await encoder_for(registry, key_schema, f"{topic}-key") if key_schema else None
    for number, record in enumerate(records, 1):
        for part, encoder in (("value", value_encoder), ("key", key_encoder)):
            raw = record.value if part == "value" else record.key
            if encoder is None or raw is None:
                continue
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                raise BadUsage(f"line {number}: the {part} is not JSON: {exc}", "nothing was sent") from None
            encoded = encode_or_fail(encoder, parsed, f"the {part}", number)
            if part == "value":
                record.value = encoded
            else:
                record.key = encoded
    return records


# ---- tail ---------------------------------------------------------------------------------------------
TAIL_FORMATS = ("human", "jsonl", "json", "raw")
ISOLATION_LEVELS = ("read_uncommitted", "read_committed")


def _shown(raw: bytes | None, decoded: Any) -> str:
    """A key or value as text: its registry-decoded JSON, or its bytes as UTF-8."""
    if decoded is not None and decoded.error is None:
        return json.dumps(decoded.value, ensure_ascii=False)
    return raw.decode(errors="replace") if raw is not None else "null"


def _human(r: Any, colour: bool, key_schema: Any = None, value_schema: Any = None) -> str:
    if r.origin.control is not None:
        line = (f"{r.topic}[{r.partition}]@{r.offset} {iso(r.timestamp) or '-'} {r.origin.control} marker of "
                f"producer {r.origin.producer_id}'s transaction")
        return f"\x1b[35m{line}\x1b[0m\n" if colour else line + "\n"
    key = _shown(r.key, key_schema)
    value = _shown(r.value, value_schema)
    if value[:1] in "{[":
        with contextlib.suppress(ValueError):
            value = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    when = iso(r.timestamp) or "-"
    head = f"{r.topic}[{r.partition}]@{r.offset} {when} key={key}"
    for part, decoded in (("key", key_schema), ("value", value_schema)):
        if decoded is not None:
            head += f" {part}-schema={decoded.schema_id}"
            if decoded.error is not None:
                head += f" ({decoded.error})"
    if r.headers:
        head += " " + " ".join(f"{h}={(v or b'').decode(errors='replace')}" for h, v in r.headers)
    if colour:
        head = f"\x1b[36m{head}\x1b[0m"
    return f"{head}\n{value}\n"


def tail(
    ctx: cli.Context,
    topics: Annotated[list[str], cli.Argument(help="Topics, or regexes with --pattern.",
                                                autocompletion=complete_topics)],
    from_: Annotated[str | None, cli.Option("--from", metavar="POSITION",
                                              help="beginning, end, OFFSET, -N (last N per partition), @TIME or "
                                                   "@-1h. With --group: where partitions without a committed "
                                                   "offset start (as auto.offset.reset; the default is end).")
                     ] = None,
    partition: Annotated[list[int] | None, cli.Option("--partition", "-p", help="Only these partitions.")] = None,
    lines: Annotated[int | None, cli.Option("--lines", "-n", metavar="N",
                                              help="As Unix tail: the last N records (10 unless given), newest "
                                                   "last. With --from or --group: stop after N, as --max.")] = None,
    follow: Annotated[bool, cli.Option("--follow", "-f", help="Keep waiting for new records.")] = False,
    max_records: Annotated[int | None, cli.Option("--max", metavar="N",
                                                    help="Stop after N records (read, and with --group "
                                                         "committed; records --filter drops count as read).")] = None,
    until: Annotated[str | None, cli.Option("--until", help="Stop at records after this time.")] = None,
    group: Annotated[str | None, cli.Option("--group", "-g", metavar="GROUP",
                                              help="Consume as a member of this group, committing exactly what "
                                                   "was read; leaves the group on exit and on SIGTERM/SIGHUP.")] = None,
    filter_: Annotated[str | None, cli.Option("--filter", help="Only records matching this expression "
                                                                  "(e.g. 'value.status == \"failed\"').")] = None,
    pattern: Annotated[bool, cli.Option("--pattern", help="Treat TOPICS as regexes.")] = False,
    fmt: Annotated[str | None, cli.Option("--format", help="A template: {topic} {partition} {offset} "
                                                            "{timestamp} {key} {value}.")] = None,
    output: Annotated[str, cli.Option("--output", "-o", help="human, jsonl, json or raw.")] = "human",
    no_decode: Annotated[bool, cli.Option(
        "--no-decode", help="Show keys and values in Confluent's schema format as bytes, not decoded with the "
                            "registry's schemas.")] = False,
    isolation: Annotated[str, cli.Option(
        "--isolation", help="read_uncommitted (the default, as Kafka's console consumer): every record, those of "
                            "aborted and open transactions too; read_committed: committed transactions only, up "
                            "to the last stable offset (an open transaction stops it there).")] = "read_uncommitted",
    show_control: Annotated[bool, cli.Option(
        "--show-control", help="Show transaction markers (COMMIT, ABORT) as rows too. In jsonl, markers and "
                               "records written in transactions carry their producer id: which records a "
                               "marker ended shows from it.")] = False,
) -> None:
    """Read records: the last 10 (as Unix tail), or from a position to the end; forever with --follow.

    `kctl tail T` prints the last 10 records of T (of all its partitions, by time) and exits;
    -n 50 the last 50; -f then waits for more. --from reads from a position to the end instead.
    With --group, kctl reads as a member of the group from its committed offsets to the end (or
    for ever with --follow), and commits what it printed; where it waits, it says so on stderr.

    With a Schema Registry (--schema-registry, the context's, or the built-in broker's), keys and
    values in Confluent's format (magic byte 0 and a schema id) are decoded to JSON: Avro bytes and
    fixed as base64, decimals as strings, timestamps and dates as ISO 8601, unions as their value;
    Protobuf in its JSON mapping (64-bit integers as strings); JSON Schema as the JSON itself.
    jsonl adds key_schema_id / value_schema_id; raw always prints the bytes."""
    settings = _settings(ctx)
    check_format(output, TAIL_FORMATS)
    if isolation not in ISOLATION_LEVELS:
        raise CliError(f"--isolation must be {' or '.join(ISOLATION_LEVELS)}, not {isolation!r}", None, USAGE)
    if lines is not None and lines < 0:
        raise CliError(f"-n must be 0 or more, not {lines}", "-n 5: the last 5 records", USAGE)
    from kctl.ops.tail import TailSpec, record_matcher

    last = None
    if from_ is None and group is None:  # Unix tail: the newest records, then (-f) what comes
        last = 10 if lines is None else lines
        if max_records is not None:
            last = min(last, max_records)
        start = f"-{last}"
    else:
        start = from_ or "end"
        if lines is not None:
            max_records = lines if max_records is None else min(lines, max_records)
    spec = TailSpec(topics, start=start, partitions=partition, follow=follow, max_records=max_records,
                    until_ms=parse_timestamp_ms(until.lstrip("@")) if until else None, group=group,
                    pattern=pattern, matcher=record_matcher(filter_) if filter_ else None, isolation=isolation,
                    show_control=show_control, last=last,
                    waiting=lambda where: diagnostic(f"{where}: " + ("waiting for new records (Ctrl-C stops)"
                                                                     if follow else "nothing new to read "
                                                                     "(-f waits for more)")))
    write_record = _record_writer(output, fmt)

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.ops.records import record_json
        from kctl.ops.tail import TailSession

        everything: list[dict[str, Any]] = []
        async with contextlib.AsyncExitStack() as stack:
            decoder = None
            if not no_decode and output != "raw":
                from kctl.connect.cluster import registry_for

                registry = registry_for(context, settings)
                if registry is not None:
                    from kctl.ops.schemas import decoder_for

                    decoder = decoder_for(await stack.enter_async_context(registry))
            session = await stack.enter_async_context(TailSession(cluster, spec))
            async for batch in session:
                if decoder is not None:
                    await decoder.prepare(p for r in batch for p in (r.key, r.value))
                    decode = decoder.decode
                    decoded = [(r, decode(r.key), decode(r.value)) for r in batch]
                else:
                    decoded = [(r, None, None) for r in batch]
                if output == "json":
                    everything.extend(record_json(*d) for d in decoded)
                    continue
                for d in decoded:
                    write_record(*d)
                sys.stdout.flush()
        if output == "json":
            sys.stdout.write(to_json(everything, indent=True) + "\n")
        diagnostic(f"{session.handed_out} record(s)")

    execute(settings, body, streaming=True)


def _record_writer(output: str, fmt: str | None) -> Callable[[Any, Any, Any], object]:
    """How `tail` prints one record (with its decoded key and value, if any): a --format template,
    jsonl, raw value bytes, or for people."""
    from kctl.ops.records import record_json

    write = sys.stdout.write
    if fmt is not None:
        return lambda r, k, v: write(_template(fmt, r, k, v) + "\n")
    if output == "jsonl":
        return lambda r, k, v: write(json.dumps(record_json(r, k, v), ensure_ascii=False) + "\n")
    if output == "raw":
        def raw(r: Any, k: Any, v: Any) -> None:
            sys.stdout.flush()
            sys.stdout.buffer.write((r.value or b"") + b"\n")
        return raw
    colour = colour_enabled(sys.stdout)
    return lambda r, k, v: write(_human(r, colour, k, v))


def _template(fmt: str, r: Any, key_schema: Any = None, value_schema: Any = None) -> str:
    fields = {"topic": r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
              "time": iso(r.timestamp) or "", "key": _shown(r.key, key_schema) if r.key is not None else "",
              "value": _shown(r.value, value_schema) if r.value is not None else "",
              "headers": ",".join(f"{h}={(v or b'').decode(errors='replace')}" for h, v in r.headers)}
    try:
        return fmt.replace("\\n", "\n").replace("\\t", "\t").format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise CliError(f"bad --format: {exc}", "fields: " + ", ".join(fields), USAGE) from None


# ---- records delete -----------------------------------------------------------------------------------
@records_app.command("delete")
def records_delete(
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The topic.", autocompletion=complete_topics)],
    before: Annotated[str, cli.Option("--before", help="OFFSET, or a time (ISO 8601, epoch ms with @, -1h).")],
    partition: Annotated[list[int] | None, cli.Option("--partition", "-p", help="Only these partitions.")] = None,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Delete every record before an offset or a time (moves the log start offset)."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import EARLIEST, LATEST, Admin, TopicPartition

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
        from kctl.ops.journal import recorded

        starts = await admin.list_offsets(dict.fromkeys(tps, EARLIEST))
        low = await recorded(admin, context.name, command_line(), "records-deleted", {"topic": topic},
                             [[tp.partition, starts[tp].offset] for tp in tps],
                             [[tp.partition, targets[tp]] for tp in tps], lambda: admin.delete_records(targets))
        rows = [{"topic": topic, "partition": tp.partition, "log_start_offset": low[tp]} for tp in tps]
        return Output(rows, [Table(rows, [Column("partition", "PARTITION", numeric=True),
                                          Column("log_start_offset", "NEW LOG START", numeric=True)])])

    execute(_settings(ctx), body, fmt=output, changes=True)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {
    "offsets": offsets,
    "produce": produce,
    "tail": tail,
    "consume": (tail, "The same as tail."),
    "records": records_app,
}

__all__ = ["offsets", "produce", "records_app", "tail"]
