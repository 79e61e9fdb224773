"""Lag at scale: `kctl lag` over 500 groups and 1,000 partitions, next to the same job done with
confluent-kafka's AdminClient.

The built-in broker gets 100 topics of 10 partitions, 3 records in each partition, and 500 groups
that each have an offset committed for every partition (so every group lags 3 records on each:
500,000 rows, total lag 1,500,000). Then, each as a fresh process:

- `kctl lag -o json`, `-o jsonl`, the table and csv, after one untimed look: wall time (median of
  three) and peak RSS, checked against the expected row count and total lag;
- confluent-kafka's AdminClient fetching every group's committed offsets (one group per call, as
  it takes them) and the log end offsets, computing the same lag;
- "groups apart": as many more groups, each committed on a different set of partitions at
  different offsets, so that no two groups share any work.

    python bench/lag.py            # 500 groups x 1,000 partitions
    python bench/lag.py --quick    # 50 groups x 200 partitions, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess  # noqa: E402

RECORDS_PER_PARTITION = 3
RUNS = 3  # of each kctl command: this machine's speed drifts from one second to the next

CONFLUENT_JOB = """
import sys, time, confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
bootstrap, groups = sys.argv[1], int(sys.argv[2])
admin = AdminClient({"bootstrap.servers": bootstrap})
listed = admin.list_consumer_groups().result(60)
names = sorted(g.group_id for g in listed.valid)
consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-lag-ends"})
ends = {}
total = rows = 0
for name in names:
    offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)])[name].result(60)
    for tp in offsets.topic_partitions:
        key = (tp.topic, tp.partition)
        if key not in ends:
            ends[key] = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
        total += ends[key] - tp.offset
        rows += 1
print(rows, total)
"""


async def seed(bootstrap: str, topics: int, partitions: int, groups: int) -> None:
    from kctl.client import Admin, Cluster, NewTopic, TopicPartition
    from kctl.client.producer import Producer

    async with Cluster(bootstrap) as cluster:
        admin = Admin(cluster)
        names = [f"lag-topic-{i:03d}" for i in range(topics)]
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        await cluster.refresh_metadata(names)
        async with Producer(cluster, linger_ms=5) as producer:
            for name in names:
                for p in range(partitions):
                    for i in range(RECORDS_PER_PARTITION):
                        await producer.send(name, b"x" * 100, partition=p, timestamp_ms=int(time.time() * 1000)
                                            - (RECORDS_PER_PARTITION - i) * 60_000)
            await producer.flush()
        everything = {TopicPartition(n, p): 0 for n in names for p in range(partitions)}
        for g in range(groups):
            await admin.alter_group_offsets(f"lag-group-{g:03d}", everything)


async def seed_apart(bootstrap: str, topics: int, partitions: int, groups: int) -> list[str]:
    """As many more groups, each on its own partitions (all but one, a different one each) at
    its own offsets: nothing to share between groups. Returns their names."""
    from kctl.client import Admin, Cluster, TopicPartition

    names = [f"lag-topic-{i:03d}" for i in range(topics)]
    apart = [f"apart-group-{g:03d}" for g in range(groups)]
    async with Cluster(bootstrap) as cluster:
        admin = Admin(cluster)
        for g, group in enumerate(apart):
            offsets = {TopicPartition(n, p): (g + p) % RECORDS_PER_PARTITION for n in names for p in range(partitions)}
            del offsets[TopicPartition(names[g % topics], g % partitions)]
            await admin.alter_group_offsets(group, offsets)
    return apart


def timed(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, the child's peak RSS in MB (from GNU time), and its stdout.

    The output goes to a file, as with `kctl lag -o jsonl > lag.jsonl`: read through a pipe,
    this process's reading and decoding of 85 MB would compete with the child for the CPU.
    """
    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        done = subprocess.run([gnu_time, "-f", "%M", *args], stdout=out, stderr=subprocess.PIPE, text=True,
                              timeout=900)
        elapsed = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])} failed: {done.stderr[-800:]}")
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return elapsed, peak, text


def watch_refresh(kctl: list[str], rows_per_look: int, looks: int = 3) -> list[float]:
    """Seconds between the ends of consecutive looks of `kctl lag --watch --interval 0 -o jsonl`:
    what one refresh costs, with nothing waited for between looks. The output is read in large
    chunks and only its newlines counted, so that reading it takes little of the CPU kctl needs."""
    proc = subprocess.Popen([*kctl, "lag", "--watch", "--interval", "0", "-o", "jsonl"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    ends: list[float] = []
    lines = 0
    try:
        while len(ends) <= looks:
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("kctl lag --watch stopped")
            lines += chunk.count(b"\n")
            if lines >= rows_per_look * (len(ends) + 1):
                ends.append(time.perf_counter())
    finally:
        proc.kill()
        proc.wait()
    return [b - a for a, b in itertools.pairwise(ends)]


CONSOLE_JOB = """
import asyncio, sys, time
from kctl.cli import collect_less_often
from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from kctl.tui.views import GroupsScreen

async def main() -> None:
    collect_less_often()  # as `kctl tui` does
    app = KctlTui(Settings(bootstrap=sys.argv[1], timeout=30), start="groups")
    async with app.run_test(size=(160, 40)) as pilot:
        while not (isinstance(app.screen, GroupsScreen) and app.screen.loaded):
            await pilot.pause(0.05)
        screen = app.screen
        for _ in range(3):
            started = time.perf_counter()
            data = await screen.fetch()
            screen.data = data
            await pilot.pause()
            print(time.perf_counter() - started, len(data["groups"]), flush=True)

asyncio.run(main())
"""


def refresh_seconds(text: str) -> float:
    """The exporter's kafka_exporter_refresh_seconds (0 before its first look is done)."""
    return float(next((line.split()[1] for line in text.splitlines()
                       if line.startswith("kafka_exporter_refresh_seconds ")), "0"))


def exporter_scrapes(bootstrap: str, groups: int) -> tuple[list[float], float, int, float]:
    """`kctl exporter` on this cluster: seconds per scrape once its first look is served, the
    seconds that look took (in the background), the bytes served, and the exporter's peak RSS in
    MB."""
    import urllib.request

    from tests.broker.conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kctl", "-b", bootstrap, "exporter", "--listen",
                             f"127.0.0.1:{port}", "--interval", "30s"], cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 600
        text = ""
        # A look's own time is served from the look after it: wait for the second (a look of 50
        # groups takes less than 0.1 s, so the figure is read, not matched as text).
        while "kafka_exporter_up 1.0" not in text or refresh_seconds(text) == 0.0:
            assert time.monotonic() < deadline, "the exporter never served a look"
            time.sleep(0.5)
            try:
                text = urllib.request.urlopen(url, timeout=60).read().decode()
            except OSError:
                continue
        served = sum(line.startswith("kafka_consumergroup_lag_sum{") for line in text.splitlines())
        assert served == groups, f"the exporter served {served} groups' lag, not {groups}"
        look = refresh_seconds(text)
        scrapes = []
        for _ in range(5):
            started = time.perf_counter()
            body = urllib.request.urlopen(url, timeout=60).read()
            scrapes.append(time.perf_counter() - started)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
        return scrapes, look, len(body), peak
    finally:
        proc.terminate()
        proc.wait(30)


async def broker_answers(bootstrap: str) -> tuple[float, float]:
    """The built-in broker's time for one OffsetFetch naming every group (v8+, all offsets) and
    one ListOffsets for every partition, seen from a client: best of three, decode excluded."""
    from kctl.client import Admin, Cluster, TopicPartition
    from kctl.protocol.framing import ClientConnection
    from kctl.protocol.messages.list_offsets import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
    from kctl.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestGroup

    host, port = bootstrap.rsplit(":", 1)
    async with Cluster(bootstrap) as cluster:
        names = sorted(g.group_id for g in await Admin(cluster).list_groups())
        topics = await Admin(cluster).list_topics()
        partitions = [TopicPartition(name, p) for name, info in topics.items() for p in info.partitions]
    offset_fetch = OffsetFetchRequest(groups=[OffsetFetchRequestGroup(g, topics=None) for g in names])
    by_topic: dict[str, list[ListOffsetsPartition]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(ListOffsetsPartition(tp.partition, -1, -1, 1))
    list_offsets = ListOffsetsRequest(replica_id=-1, topics=[ListOffsetsTopic(t, ps) for t, ps in by_topic.items()])

    async def answer_time(request: object, version: int) -> float:
        # Raw frames: the clock stops when the whole response is in, before anything decodes it.
        reader, writer = await asyncio.open_connection(host, int(port))
        conn = ClientConnection(client_id="bench-lag")
        best = float("inf")
        try:
            for _ in range(3):
                _, frame = conn.send_request(request, version)
                started = time.perf_counter()
                writer.write(frame)
                prefix = await reader.readexactly(4)
                body = await reader.readexactly(int.from_bytes(prefix, "big"))
                best = min(best, time.perf_counter() - started)
                conn.receive_data(prefix + body)
                conn.next_event()
        finally:
            writer.close()
        return best

    return await answer_time(offset_fetch, 8), await answer_time(list_offsets, 7)


def c_loops() -> str:
    """Whether kctl lag's row writer runs in C here (without a C compiler, it runs in Python)."""
    from kctl.protocol.native import extension

    return "row writer: " + ("C" if extension("kctl.cli._rowtext") else "Python (kctl.cli._rowtext not built)")


def report(groups: int, partitions: int, rows_expected: int, lag_expected: int,
           results: list[tuple[str, float, float]], exporter_look: float, exporter_peak: float,
           offset_fetch_s: float, list_offsets_s: float) -> None:
    print(f"\n{groups} groups x {partitions} partitions = {rows_expected:,} rows, total lag {lag_expected:,}")
    print(f"{'':46}{'seconds':>10}{'peak RSS MB':>14}")
    for label, elapsed, peak in results:
        print(f"{label:46}{elapsed:10.2f}{peak:14.0f}" if peak else f"{label:46}{elapsed:10.2f}{'-':>14}")
    print(f"{'kctl exporter: one look, in the background':46}{exporter_look:10.2f}{exporter_peak:14.0f}")
    print(f"{'broker: OffsetFetch, every group, all offsets':46}{offset_fetch_s:10.3f}")
    print(f"{'broker: ListOffsets, every partition':46}{list_offsets_s:10.3f}")

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    ours = [r for r in results if r[0].startswith(("kctl", "console")) and "exporter" not in r[0]]
    scrape = next(r[1] for r in results if "exporter" in r[0])
    print(f"targets: an exporter scrape <= 1 s: {scrape:.2f}s {verdict(scrape <= 1)}; its look in the background "
          f"<= 2 s: {exporter_look:.2f}s {verdict(exporter_look <= 2)}; its peak RSS <= 200 MB (as kctl lag's): "
          f"{exporter_peak:.0f} MB {verdict(exporter_peak <= 200)}")
    worst = max(ours, key=lambda r: r[1])
    heaviest = max(r[2] for r in ours)
    print(f"targets: every kctl row <= 1 s: worst {worst[1]:.2f}s ({worst[0]}) {verdict(worst[1] <= 1)}; "
          f"peak RSS <= 200 MB: {heaviest:.0f} MB {verdict(heaviest <= 200)}; "
          f"broker answers <= 0.1 s: {max(offset_fetch_s, list_offsets_s):.3f}s "
          f"{verdict(max(offset_fetch_s, list_offsets_s) <= 0.1)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 groups over 200 partitions (CI)")
    args = parser.parse_args()
    topics, partitions, groups = (20, 10, 50) if args.quick else (100, 10, 500)
    # Bytecode as an installed kctl has it (pip compiles it at install; an editable install
    # writes it on its first run, unless PYTHONDONTWRITEBYTECODE is set, as it can be in CI). Forced: compileall
    # judges a .pyc by the source's mtime alone, so one written in the second of an edit stays stale.
    compileall.compile_dir(ROOT / "kctl", quiet=1, force=True)
    print(c_loops())
    rows_expected = topics * partitions * groups
    lag_expected = rows_expected * RECORDS_PER_PARTITION
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-lag-bench-")) / "data",
                           {"offsets.topic.num.partitions": 10}).start()
    kctl = [sys.executable, "-m", "kctl", "-b", broker.bootstrap]
    results: list[tuple[str, float, float]] = []
    try:
        started = time.perf_counter()
        asyncio.run(seed(broker.bootstrap, topics, partitions, groups))
        print(f"seeded {groups} groups over {topics * partitions} partitions in {time.perf_counter() - started:.1f}s")
        timed([*kctl, "lag", "-o", "jsonl"])  # a first look warms the broker's and the system's caches
        for fmt in ("json", "jsonl", "table", "csv"):
            runs = [timed([*kctl, "lag", "-o", fmt]) for _ in range(RUNS)]
            elapsed, peak, out = sorted(r[0] for r in runs)[len(runs) // 2], max(r[1] for r in runs), runs[0][2]
            if fmt == "json":
                rows = json.loads(out)
                assert len(rows) == rows_expected and sum(r["lag"] for r in rows) == lag_expected, "wrong figures"
            elif fmt in ("jsonl", "csv"):
                assert sum(1 for _ in out.splitlines()) == rows_expected + (fmt == "csv"), f"{fmt}: wrong row count"
            results.append((f"kctl lag -o {fmt} (median of {RUNS})", elapsed, peak))
        refreshes = watch_refresh(kctl, rows_expected)
        results.append(("kctl lag --watch: one refresh (median)", sorted(refreshes)[len(refreshes) // 2], 0.0))
        console = subprocess.run([sys.executable, "-c", CONSOLE_JOB, broker.bootstrap], capture_output=True,
                                 text=True, timeout=600, cwd=ROOT)
        if console.returncode != 0:
            raise RuntimeError(f"console job failed: {console.stderr[-800:]}")
        looks = [line.split() for line in console.stdout.splitlines()]
        assert all(int(n) == groups for _, n in looks), f"the groups view showed {looks}"
        results.append(("console groups view: one refresh (median)", sorted(float(t) for t, _ in looks)[1], 0.0))
        scrapes, look, size, exporter_peak = exporter_scrapes(broker.bootstrap, groups)
        results.append((f"kctl exporter: one scrape, {size / 1e6:.0f} MB (median)", sorted(scrapes)[2], 0.0))
        exporter_look = look
        offset_fetch_s, list_offsets_s = asyncio.run(broker_answers(broker.bootstrap))
        elapsed, peak, out = timed([sys.executable, "-c", CONFLUENT_JOB, broker.bootstrap, str(groups)])
        rows, total = (int(x) for x in out.split())
        assert rows == rows_expected and total == lag_expected, f"confluent-kafka saw {rows} rows, lag {total}"
        results.append(("confluent-kafka AdminClient, group by group", elapsed, peak))
        # Last, as these groups would be in every look above.
        apart = asyncio.run(seed_apart(broker.bootstrap, topics, partitions, groups))
        timed([*kctl, "lag", *apart, "-o", "jsonl"])
        runs = [timed([*kctl, "lag", *apart, "-o", "jsonl"]) for _ in range(RUNS)]
        lines = sum(1 for _ in runs[0][2].splitlines())
        assert lines == rows_expected - groups, f"groups apart: {lines} rows"
        results.append((f"kctl lag -o jsonl, groups apart (median of {RUNS})", sorted(r[0] for r in runs)[1],
                         max(r[1] for r in runs)))
    finally:
        broker.stop()
    report(groups, topics * partitions, rows_expected, lag_expected, results, exporter_look, exporter_peak,
           offset_fetch_s, list_offsets_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
