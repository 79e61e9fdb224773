"""kctl offsets, produce, tail (consume) and records delete."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import time
from typing import Annotated, Any

import typer

from .completion import complete_topics
from .errors import NOT_FOUND, USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Column, Output, Table, colour_enabled, diagnostic, to_json
from .runtime import check_format, confirm, execute, fail
from .timeparse import iso, parse_timestamp_ms

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
def _decode_field(obj: dict[str, Any], name: str, line: int) -> bytes | None:
    value = obj.get(name)
    if value is None:
        return None
    if obj.get(f"{name}_encoding") == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise CliError(f"line {line}: {name} is not valid base64", None, USAGE) from None
    if not isinstance(value, str):
        return json.dumps(value).encode()
    return value.encode()


def _parse_json_line(text: str, line: int) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise CliError(f"line {line} is not JSON: {exc}", "one object per line: {\"key\": ..., \"value\": ...}",
                       USAGE) from None
    if not isinstance(obj, dict):
        raise CliError(f"line {line} is not a JSON object", None, USAGE)
    headers = obj.get("headers") or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else [tuple(h) for h in headers]
    timestamp = obj.get("timestamp")
    if isinstance(timestamp, str):
        timestamp = parse_timestamp_ms(timestamp)
    return {"key": _decode_field(obj, "key", line), "value": _decode_field(obj, "value", line),
            "headers": [(str(h), None if v is None else str(v).encode()) for h, v in pairs],
            "partition": obj.get("partition"), "timestamp": timestamp}


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

    def lines() -> Any:
        if values:
            yield from enumerate(values, 1)
        else:
            for number, line in enumerate(sys.stdin, 1):
                yield number, line.rstrip("\n")

    async def body(cluster: Any, context: Any) -> None:
        import asyncio

        from kctl.client.producer import Producer

        sent = 0
        started = time.monotonic()
        async with Producer(cluster, acks=acks, compression=compression) as producer:
            futures = []
            for number, text in lines():
                if not text and not jsonl and not values:
                    continue
                if jsonl:
                    record = _parse_json_line(text, number)
                else:
                    k: bytes | None = key.encode() if key is not None else None
                    v = text
                    if key_separator is not None:
                        if key_separator not in text:
                            raise CliError(f"line {number} has no key separator {key_separator!r}", None, USAGE)
                        k_text, v = text.split(key_separator, 1)
                        k = k_text.encode()
                    record = {"key": k, "value": v.encode(), "headers": headers, "partition": None, "timestamp": None}
                target = record["partition"] if record["partition"] is not None else partition
                futures.append(await producer.send(topic, record["value"], record["key"], partition=target,
                                                   timestamp_ms=record["timestamp"], headers=record["headers"]))
                sent += 1
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        diagnostic(f"produced {sent - len(failed)} record(s) to {topic}")
        if failed:
            raise failed[0]

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
    from .filters import compile_filter, record_view

    matcher = compile_filter(filter_) if filter_ else None
    stop_at = parse_timestamp_ms(until.lstrip("@")) if until else None

    async def body(cluster: Any, context: Any) -> None:
        from kctl.client import LATEST, Admin, TopicPartition
        from kctl.client.consumer import Consumer
        from kctl.ops.records import record_json, start_offsets

        names = topics
        if pattern:
            await cluster.refresh_metadata(None)
            regexes = [re.compile(t) for t in topics]
            names = sorted(t for t, info in cluster.topics.items()
                           if not info.internal and any(rx.fullmatch(t) for rx in regexes))
            if not names:
                raise CliError("no topic matches", "list them with `kctl topics list`", NOT_FOUND)
        admin = Admin(cluster)
        wanted: list[Any] = []
        for name in names:
            info = await cluster.topic(name)
            for p in sorted(info.partitions):
                if partition is None or p in partition:
                    wanted.append(TopicPartition(name, p))
        if not wanted:
            raise CliError("no partitions to read", None, NOT_FOUND)
        ends = {tp: o.offset for tp, o in (await admin.list_offsets(dict.fromkeys(wanted, LATEST))).items()}

        async def uncommitted_start(partitions: list[Any]) -> dict[Any, int]:
            # --from with --group: applies only where the group has no committed offset.
            known = {tp: ends[tp] for tp in partitions if tp in ends}
            unknown = [tp for tp in partitions if tp not in ends]
            if unknown:
                latest = await admin.list_offsets(dict.fromkeys(unknown, LATEST))
                known.update((tp, o.offset) for tp, o in latest.items())
            return await start_offsets(admin, partitions, from_, known)

        if group:
            await start_offsets(admin, wanted[:1], from_, ends)  # a bad --from is refused before joining
        consumer = Consumer(cluster, group_id=group, auto_offset_reset="latest" if from_ == "end" else "earliest",
                            reset_positions=uncommitted_start if group else None)
        if group:
            consumer.subscribe(names)  # before start, so membership begins with it
        async with consumer:
            if not group:
                consumer.assign(wanted)
                starts = await start_offsets(admin, wanted, from_, ends)
                for tp, offset in starts.items():
                    consumer.seek(tp, offset)
            keep_following = follow or bool(group)
            remaining = {} if keep_following else {tp: end for tp, end in ends.items()
                                                   if (consumer.position(tp) or 0) < end}
            printed = 0
            colour = colour_enabled(sys.stdout)
            write = sys.stdout.write
            everything: list[dict[str, Any]] = []
            while keep_following or remaining:
                # Never take more than --max still allows: what is taken counts as consumed, and
                # with --group it is what gets committed.
                budget = None if max_records is None else max_records - printed
                batches = await consumer.getmany(timeout_ms=500, max_records=budget)
                for tp, records in batches.items():
                    for r in records:
                        if stop_at is not None and r.timestamp > stop_at:
                            remaining.pop(tp, None)
                            consumer.seek(tp, r.offset)  # not read: not committed
                            consumer.pause(tp)
                            break
                        if tp in remaining and r.offset + 1 >= remaining[tp]:
                            remaining.pop(tp)
                        if matcher is not None and not matcher(record_view(r.topic, r.partition, r.offset,
                                                                           r.timestamp, r.key, r.value, r.headers)):
                            continue
                        if output == "json":
                            everything.append(record_json(r))
                        elif fmt is not None:
                            write(_template(fmt, r) + "\n")
                        elif output == "jsonl":
                            write(json.dumps(record_json(r)) + "\n")
                        elif output == "raw":
                            sys.stdout.flush()
                            sys.stdout.buffer.write((r.value or b"") + b"\n")
                        else:
                            write(_human(r, colour))
                        printed += 1
                        if max_records is not None and printed >= max_records:
                            remaining.clear()
                            keep_following = False
                            break
                    if max_records is not None and printed >= max_records:
                        break
                if max_records is not None and printed >= max_records:
                    break
                for tp in [tp for tp in remaining if (consumer.position(tp) or 0) >= remaining[tp]]:
                    remaining.pop(tp)
                sys.stdout.flush()
            if output == "json":
                write(to_json(everything, indent=True) + "\n")
        diagnostic(f"{printed} record(s)")

    execute(settings, body, streaming=True)


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
