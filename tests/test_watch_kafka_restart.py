"""`surveil watch --kafka` while its broker goes away and comes back (issue 23 item 7).

The broker is Tansu again, but keeping its log in S3 (moto's server, on the loopback
address) rather than in memory, so a restarted broker still holds the topic, as a real
cluster's would after a restart. Every wait is bounded."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from surveil.settings import Settings
from surveil.watch.kafka import kafka_source
from tests.conftest import TRADING_DAY
from tests.reliability import wait_until
from tests.test_watch import app_messages, assert_journal_exact, assert_same_rows, batch_day
from tests.test_watch_kafka import (
    accepting,
    free_port,
    new_topic,
    produce,
    records,
    tansu_binary,
)
from tests.watchlog import count, day_rows, generated_log, watcher


class Broker:
    """A Tansu broker on 127.0.0.1 whose storage is an S3 bucket: stop() and start() again
    on the same port keep every topic and record."""

    def __init__(self, binary: Path, endpoint: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.servers = f"127.0.0.1:{self.port}"
        self.env = dict(
            os.environ, AWS_ENDPOINT=endpoint, AWS_ALLOW_HTTP="true", AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
        )  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        url = f"tcp://{self.servers}"
        self.process = subprocess.Popen(
            [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url",
             url, "--storage-engine", "s3://tansu/"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: accepting(self.port), "the broker to listen", timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    binary = tansu_binary(tmp_path_factory.mktemp("tansu-s3"))
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket="tansu")  # fmt: skip
    broker = Broker(binary, endpoint)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        s3.stop()


def test_a_broker_that_goes_away_and_comes_back_is_retried_and_loses_nothing(
    restartable: Broker, settings: Settings, conn: psycopg.Connection, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SURVEIL_KAFKA_BOOTSTRAP_SERVERS", restartable.servers)
    kafka_settings = Settings()
    log = generated_log(tmp_path, TRADING_DAY)
    values = records(log)
    topic = new_topic(restartable.servers)
    produce(restartable.servers, topic, values[: len(values) // 2])
    log_lines: list[str] = []
    w, _ = watcher(kafka_settings, None, source=kafka_source(kafka_settings, topic),
                   log_lines=log_lines)  # fmt: skip
    with w:
        w.poll_until_idle()
        half = count(conn, "SELECT messages FROM watch_positions")
        restartable.stop()

        def retrying() -> bool:
            w.poll_once()  # the broker is away: nothing read, nothing committed, no raise
            return any("retrying" in line for line in log_lines)

        wait_until(retrying, "a retry to be logged", timeout=60)
        assert count(conn, "SELECT messages FROM watch_positions") == half
        restartable.start()
        produce(restartable.servers, topic, values[len(values) // 2 :])
        everything = app_messages(log.read_bytes())

        def caught_up() -> bool:
            w.poll_once()
            return count(conn, "SELECT messages FROM watch_positions") == everything

        wait_until(caught_up, "the watcher to read the rest", timeout=90)
        w.detect()
    assert all("\n" not in line for line in log_lines)
    kinds = [line for line in log_lines if "retrying" in line]
    assert len(kinds) == len(set(kinds))  # each kind of broker error logged once
    assert_journal_exact(conn, everything)
    watched = day_rows(conn, TRADING_DAY)
    batch = batch_day(kafka_settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch)
