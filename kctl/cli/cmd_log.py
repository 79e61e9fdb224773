"""kctl log dump | verify PATH: segment, index and time-index files read offline, with no broker
running, as kafka-dump-log.sh reads them (see `kctl.ops.logfiles`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import UNHEALTHY, CliError
from .options import OutputOpt
from .output import Output, Table, render
from .runtime import check_format, guard

log_app = cli.Group(help="Log segment files, offline: dump what is in them, verify them.", no_args_is_help=True)

BATCH_COLUMNS = [Column("position", "POSITION", numeric=True), Column("base_offset", "BASE", numeric=True),
                 Column("last_offset", "LAST", numeric=True), Column("count", "COUNT", numeric=True),
                 Column("size", "SIZE", numeric=True), Column("compression", "CODEC"),
                 Column("producer_id", "PRODUCER", numeric=True), Column("transactional", "TXN"),
                 Column("control", "CONTROL"), Column("crc_valid", "CRC OK"),
                 Column("max_timestamp", "MAX TIMESTAMP", numeric=True, wide=True)]
RECORD_COLUMNS = [Column("offset", "OFFSET", numeric=True), Column("timestamp", "TIMESTAMP", numeric=True),
                  Column("key", "KEY"), Column("value", "VALUE"), Column("headers", "HEADERS", wide=True)]
INDEX_COLUMNS = [Column("entry_position", "AT", numeric=True), Column("offset", "OFFSET", numeric=True),
                 Column("position", "POSITION", numeric=True)]
TIME_INDEX_COLUMNS = [Column("entry_position", "AT", numeric=True), Column("timestamp", "TIMESTAMP", numeric=True),
                      Column("offset", "OFFSET", numeric=True)]
SUMMARY_COLUMNS = [Column("segment", "SEGMENT"), Column("batches", "BATCHES", numeric=True),
                   Column("problems", "PROBLEMS", numeric=True)]
PROBLEM_COLUMNS = [Column("file", "FILE"), Column("position", "POSITION", numeric=True), Column("problem", "PROBLEM")]

PathArg = Annotated[Path, cli.Argument(help="A .log, .index or .timeindex file, or a partition directory.")]


@log_app.command("dump")
def log_dump(
    path: PathArg,
    records: Annotated[bool, cli.Option("--records/--batches-only", help="Each batch's records too.")] = True,
    decode: Annotated[str, cli.Option(
        "--decode", help="Decode internal records: auto (by the partition directory's topic), offsets "
                         "(__consumer_offsets), transactions (__transaction_state), metadata "
                         "(__cluster_metadata) or none.")] = "auto",
    output: OutputOpt = "table",
) -> None:
    """What a segment holds: each batch (offsets, producer, transaction and control flags, codec, CRC)
    and its records (key, value, headers, decoded internal records); an index's entries."""

    def action() -> None:
        from kctl.ops import logfiles

        check_format(output)
        if path.suffix in (".index", ".timeindex"):
            rows = list(logfiles.dump_index(path))
            columns = INDEX_COLUMNS if path.suffix == ".index" else TIME_INDEX_COLUMNS
            render(Output(rows, [Table(rows, columns, title=str(path))]), output)
            return
        batches = [row for log_path in logfiles.segment_files(path)
                   for row in ({"segment": str(log_path), **r} for r in logfiles.dump_log(log_path, records=records,
                                                                                         decode=decode))]
        tables = [Table([b for b in batches if "problem" not in b], BATCH_COLUMNS, title="batches")]
        if records:
            rows = [_record_cells(r) for b in batches for r in b.get("records", [])]
            tables.append(Table(rows, RECORD_COLUMNS, title="records"))
        torn = [b for b in batches if "problem" in b]
        if torn:
            tables.append(Table([{"file": b["segment"], "position": b["position"], "problem": b["problem"]}
                                 for b in torn], PROBLEM_COLUMNS, title="problems"))
        render(Output(batches, tables), output)

    guard(action)


def _record_cells(record: dict[str, Any]) -> dict[str, Any]:
    value = record["value"]
    if "decoded" in record:
        value = str(record["decoded"])
    return {**record, "value": value, "headers": ", ".join(f"{k}={v}" for k, v in record["headers"])}


@log_app.command("verify")
def log_verify(path: PathArg, output: OutputOpt = "table") -> None:
    """Check every batch (header, CRC, records, offsets) and the offset and time indexes against
    the log; each problem with its file and byte position. Exits 7 when there is one."""

    def action() -> None:
        from kctl.ops import logfiles

        check_format(output)
        summary, problems = logfiles.verify(path)
        rows = [p.row() for p in problems]
        render(Output({"segments": summary, "problems": rows},
                      [Table(summary, SUMMARY_COLUMNS), Table(rows, PROBLEM_COLUMNS, title="problems")]), output)
        if problems:
            raise CliError(f"{len(problems)} problem(s) in {path}", "see the problems above", UNHEALTHY)

    guard(action)


COMMANDS: dict[str, Any] = {"log": log_app}
