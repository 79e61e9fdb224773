"""kctl transactions: list, describe, producers, find-hanging and abort, as Kafka's
kafka-transactions.sh has them, on any cluster and on the built-in broker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .options import OutputOpt
from .output import Output, Table, diagnostic
from .runtime import execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

transactions_app = cli.Group(
    help="Transactions: list and describe them, the producers of partitions, find hanging ones and abort them.",
    no_args_is_help=True)

LIST_COLUMNS = [Column("transactional_id", "TRANSACTIONAL ID"), Column("coordinator", "COORDINATOR", numeric=True),
                Column("producer_id", "PRODUCER ID", numeric=True), Column("state", "STATE")]
DESCRIBE_COLUMNS = [Column("transactional_id", "TRANSACTIONAL ID"), Column("coordinator", "COORDINATOR", numeric=True),
                    Column("producer_id", "PRODUCER ID", numeric=True), Column("producer_epoch", "EPOCH", numeric=True),
                    Column("state", "STATE"), Column("timeout_ms", "TIMEOUT MS", numeric=True),
                    Column("duration_ms", "OPEN FOR MS", numeric=True), Column("partitions", "PARTITIONS")]
PRODUCER_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                    Column("producer_id", "PRODUCER ID", numeric=True), Column("producer_epoch", "EPOCH", numeric=True),
                    Column("coordinator_epoch", "COORD EPOCH", numeric=True, wide=True),
                    Column("last_sequence", "LAST SEQ", numeric=True, wide=True),
                    Column("last_timestamp", "LAST TIMESTAMP", numeric=True, wide=True),
                    Column("idle_ms", "IDLE MS", numeric=True), Column("txn_start_offset", "TXN START", numeric=True)]
HANGING_COLUMNS = [*PRODUCER_COLUMNS[:4], Column("txn_start_offset", "START OFFSET", numeric=True),
                   Column("duration_min", "OPEN MIN", numeric=True), Column("transactional_id", "TRANSACTIONAL ID"),
                   Column("why", "WHY", wide=True)]
ABORT_COLUMNS = [*PRODUCER_COLUMNS[:4], Column("txn_start_offset", "START OFFSET", numeric=True),
                 Column("last_stable_offset", "LAST STABLE", numeric=True),
                 Column("log_end_offset", "LOG END", numeric=True)]

StateOpt = Annotated[list[str] | None, cli.Option("--state", help="Only in this state (Ongoing, PrepareCommit, "
                                                                  "CompleteAbort, ...; repeatable).")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


def _now_ms() -> int:
    return int(time.time() * 1000)


def _topic_partition(value: str) -> tuple[str, int | None]:
    """TOPIC or TOPIC:PARTITION."""
    topic, sep, partition = value.rpartition(":")
    if sep and partition.isdigit():
        return topic, int(partition)
    return value, None


@transactions_app.command("list")
def transactions_list(ctx: cli.Context, state: StateOpt = None, output: OutputOpt = "table") -> None:
    """Every transactional id the cluster's coordinators know, with its producer id and state."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.transactions import TransactionAdmin
        from kctl.ops.transactions import transaction_rows

        rows = await transaction_rows(TransactionAdmin(cluster), state or [])
        return Output(rows, [Table(rows, LIST_COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@transactions_app.command("describe")
def transactions_describe(
    ctx: cli.Context,
    transactional_id: Annotated[str, cli.Argument(metavar="TXID", help="The transactional id.")],
    output: OutputOpt = "table",
) -> None:
    """A transactional id's state: producer id and epoch, how long its transaction is open, its partitions."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.transactions import TransactionAdmin
        from kctl.ops.transactions import describe_row

        row = await describe_row(TransactionAdmin(cluster), transactional_id, _now_ms())
        return Output(row, [Table([row], DESCRIBE_COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@transactions_app.command("producers")
def transactions_producers(
    ctx: cli.Context,
    where: Annotated[str, cli.Argument(metavar="TOPIC[:PARTITION]", help="A topic, or one of its partitions.")],
    output: OutputOpt = "table",
) -> None:
    """The producers each partition's leader tracks, and where each one's open transaction starts."""
    topic, partition = _topic_partition(where)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.transactions import TransactionAdmin
        from kctl.ops.transactions import producer_rows

        rows = await producer_rows(cluster, TransactionAdmin(cluster), topic, partition, _now_ms())
        return Output(rows, [Table(rows, PRODUCER_COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@transactions_app.command("find-hanging")
def transactions_find_hanging(
    ctx: cli.Context,
    broker: Annotated[int | None, cli.Option("--broker", metavar="ID",
                                               help="Look at every partition with a replica on this broker.")] = None,
    topic: Annotated[str | None, cli.Option("--topic", help="Look at this topic's partitions.")] = None,
    partition: Annotated[int | None, cli.Option("--partition", "-p", help="Only this partition of --topic.")] = None,
    max_transaction_timeout: Annotated[int, cli.Option(
        "--max-transaction-timeout", metavar="MINUTES",
        help="The cluster's transaction.max.timeout.ms, in minutes: only transactions open longer are "
             "looked at.")] = 15,
    output: OutputOpt = "table",
) -> None:
    """Transactions a partition holds open that their coordinator will never end there (KIP-664).

    Each pins its partition's last stable offset: read_committed consumers stall behind it.
    Abort one with `kctl transactions abort --topic T --partition P --start-offset O`."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.transactions import TransactionAdmin
        from kctl.ops.transactions import find_hanging, hanging_row

        now = _now_ms()
        found = await find_hanging(cluster, TransactionAdmin(cluster), broker=broker, topic=topic,
                                   partition=partition, max_transaction_timeout_min=max_transaction_timeout,
                                   now_ms=now)
        rows = [hanging_row(h, now) for h in found]
        if not rows:
            diagnostic("no hanging transactions")
        return Output(rows, [Table(rows, HANGING_COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@transactions_app.command("abort")
def transactions_abort(
    ctx: cli.Context,
    topic: Annotated[str, cli.Option("--topic", help="The partition's topic.")],
    partition: Annotated[int, cli.Option("--partition", "-p", help="The partition.")],
    start_offset: Annotated[int, cli.Option("--start-offset", metavar="OFFSET",
                                              help="Where the transaction to abort starts (find-hanging's "
                                                   "START OFFSET).")],
    execute_plan: Annotated[bool, cli.Option("--execute", help="Abort it (the default is a dry run).")] = False,
    output: OutputOpt = "table",
) -> None:
    """Abort a hanging transaction in one partition by writing its abort marker (needs ClusterAction).

    A dry run by default: it shows the producer and where read_committed readers stand. An abort
    cannot be undone; the transaction's records stay in the log, hidden from read_committed readers."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.transactions import TransactionAdmin
        from kctl.client.types import TopicPartition
        from kctl.ops.transactions import abort, plan_abort

        tadmin = TransactionAdmin(cluster)
        plan = await plan_abort(cluster, tadmin, TopicPartition(topic, partition), start_offset)
        if execute_plan:
            await abort(tadmin, plan)
            diagnostic(f"aborted producer {plan.producer.producer_id}'s transaction on {topic}-{partition} "
                       f"(started at offset {start_offset})")
        else:
            diagnostic("dry run: nothing changed; add --execute to abort it")
        row = plan.row(_now_ms())
        return Output({"executed": execute_plan, **row}, [Table([row], ABORT_COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=execute_plan)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"transactions": transactions_app}
