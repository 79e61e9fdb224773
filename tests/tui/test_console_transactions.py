"""The console's transactions view: transactional ids and every transaction open in a partition,
live on the built-in broker, and a hanging one (as `kctl transactions find-hanging` finds them on
Apache Kafka) in the error colour."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from rich.text import Text

from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from kctl.tui.views import TransactionsScreen
from tests.broker.conftest import BrokerProcess

from .conftest import console, table_keys, wait_for, wait_rows
from .recorded import RecordedBackend
from .test_console import text_of

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")

#: What the view is given when a partition holds a transaction its coordinator forgot.
HANGING: dict[str, list[dict[str, Any]]] = {
    "transactions": [{"transactional_id": "billing-tx", "coordinator": 0, "producer_id": 7, "state": "Ongoing"},
                     {"transactional_id": "ledger-tx", "coordinator": 0, "producer_id": 9,
                      "state": "CompleteCommit"}],
    "open": [
        {"key": "orders-0/7", "topic": "orders", "partition": 0, "producer_id": 7, "producer_epoch": 0,
         "coordinator_epoch": 0, "last_sequence": 4, "last_timestamp": 1, "txn_start_offset": 40, "idle_ms": 2_000,
         "hanging": False, "why": None},
        {"key": "orders-2/4", "topic": "orders", "partition": 2, "producer_id": 4, "producer_epoch": 3,
         "coordinator_epoch": -1, "last_sequence": 0, "last_timestamp": 1, "txn_start_offset": 12,
         "idle_ms": 5_400_000, "hanging": True, "why": "no transactional id has this producer id"},
    ],
}


def hanging_app() -> KctlTui:
    data = copy.deepcopy(RecordedBackend().data)
    data["transactions"] = HANGING
    return KctlTui(Settings(bootstrap="127.0.0.1:39417", timeout=10), cursor_blink=False, refresh_s=3600,
                   start="transactions", backend=lambda context, settings: RecordedBackend(data))


async def test_a_hanging_transaction_stands_out() -> None:
    app = hanging_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionsScreen) and app.screen.loaded,
                       "the transactions view")
        table = app.screen.query_one("#open")
        hanging = table.get_row("orders-2/4")  # type: ignore[attr-defined]
        flag = hanging[5]
        assert isinstance(flag, Text) and str(flag) == "yes"
        assert flag.style.color.name.lower() == app.current_theme.error.lower()
        assert not table.get_row("orders-0/7")[5].style  # type: ignore[attr-defined]
        assert text_of(app, "#hint").endswith(" transactions list")


async def test_the_view_shows_an_open_transaction_live(broker: BrokerProcess) -> None:
    topic, txid = f"open-{time.time_ns()}", f"open-tx-{time.time_ns()}"
    admin = ck_admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([ck_admin.NewTopic(topic, 1, 1)])[topic].result(20)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": txid})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"open")
    producer.flush(30)
    app = console(broker.bootstrap)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("colon", *"transactions", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionsScreen), "the transactions view")
        await wait_rows(pilot, app, 1)
        data = app.screen.data  # type: ignore[attr-defined]
        assert [(r["txn_start_offset"], r["hanging"]) for r in data["open"] if r["topic"] == topic] == [(0, False)]
        assert [t["state"] for t in data["transactions"] if t["transactional_id"] == txid] == ["Ongoing"]
        assert f"{topic}-0/" in " ".join(table_keys(app, "open"))
    producer.abort_transaction(30)
