"""The lake: local folder and S3 (moto in-process and moto's HTTP server)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from surveil.cli import app
from surveil.errors import ConflictError
from surveil.generate import generate_day
from surveil.lake import S3Lake, upload_day
from surveil.load import load_day
from surveil.settings import Settings
from surveil.validate import validate_day
from tests.conftest import TRADING_DAY, count_day

runner = CliRunner()
BUCKET = "surveil-lake"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setenv("SURVEIL_LAKE", f"s3://{BUCKET}/prod")
        yield client


@pytest.fixture
def moto_server(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def test_local_upload_skips_identical_files_and_writes_the_manifest_last(
    settings: Settings,
) -> None:
    generate_day(settings, TRADING_DAY)
    first = upload_day(settings, TRADING_DAY)
    assert first.uploaded[-1] == "_manifest.json"
    assert {"firms.csv", "accounts.csv", "orders.csv", "executions.csv"} <= set(first.uploaded)
    second = upload_day(settings, TRADING_DAY)
    assert second.uploaded == [] and second.status == "skipped"


def test_upload_refuses_a_different_file_unless_forced(settings: Settings) -> None:
    generate_day(settings, TRADING_DAY, orders=300)
    upload_day(settings, TRADING_DAY)
    generate_day(settings, TRADING_DAY, orders=301, force=True)
    result = runner.invoke(app, ["upload", "--date", str(TRADING_DAY)])
    assert result.exit_code == 3
    assert "--force" in result.stderr
    forced = upload_day(settings, TRADING_DAY, force=True)
    assert "orders.csv" in forced.uploaded and forced.uploaded[-1] == "_manifest.json"


def test_an_s3_upload_force_stopped_half_way_leaves_no_manifest_and_the_next_upload_completes(
    settings: Settings, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old manifest over half-replaced files would read as the old day, done."""
    from surveil.errors import UnavailableError
    from surveil.lake import S3Lake, open_lake

    settings = Settings()  # with the s3 fixture's lake
    assert settings.lake_uri.startswith("s3://")
    generate_day(settings, TRADING_DAY, orders=300)
    upload_day(settings, TRADING_DAY)
    generate_day(settings, TRADING_DAY, orders=301, force=True)
    real_put = S3Lake.put_file

    def failing_put(self: S3Lake, key: str, path: Path, sha256: str, *, overwrite: bool) -> None:
        if key.endswith("/orders.csv"):
            raise UnavailableError(f"{key}: the bucket is down")
        real_put(self, key, path, sha256, overwrite=overwrite)

    monkeypatch.setattr(S3Lake, "put_file", failing_put)
    with pytest.raises(UnavailableError):
        upload_day(settings, TRADING_DAY, force=True)
    monkeypatch.setattr(S3Lake, "put_file", real_put)
    assert open_lake(settings).days() == []  # not a day: an upload to finish
    done = upload_day(settings, TRADING_DAY)  # no --force: the leftovers are of no day
    assert done.uploaded[-1] == "_manifest.json" and open_lake(settings).days() == [TRADING_DAY]


def test_s3_lake_end_to_end_with_mock_aws(settings: Settings, s3, conn) -> None:
    result = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [s["status"] for s in summary["steps"]] == [
        "generated",
        "uploaded",
        "loaded",
        "passed",
        "detected",
        "written",  # the report, which run-day also puts into the configured lake
    ]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert f"prod/trade_date={TRADING_DAY}/_manifest.json" in keys
    assert f"prod/reports/trade_date={TRADING_DAY}/report.html" in keys
    head = s3.head_object(Bucket=BUCKET, Key=f"prod/trade_date={TRADING_DAY}/orders.csv")
    assert len(head["Metadata"]["sha256"]) == 64
    assert count_day(conn, "orders", TRADING_DAY) == 300

    again = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), "--json"])
    assert json.loads(again.stdout)["new_work"] is False


def test_a_day_another_tool_put_in_s3_without_our_metadata_is_known_and_done(
    settings: Settings, s3, conn
) -> None:
    """`aws s3 sync` of a day folder writes no sha256 metadata: the day is still in the
    lake for status and catch-up, hashed from its manifest's bytes."""
    made = generate_day(settings, TRADING_DAY, orders=250)
    folder = settings.data_path / f"trade_date={TRADING_DAY}"
    for path in sorted(folder.iterdir(), key=lambda p: p.name == "_manifest.json"):
        s3.put_object(Bucket=BUCKET, Key=f"prod/{folder.name}/{path.name}", Body=path.read_bytes())
    shutil.rmtree(folder)  # only the lake has it, as on another machine
    result = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == 0, result.stderr
    steps = {s["step"]: s["status"] for s in json.loads(result.stdout)["steps"]}
    assert steps["generate"] == steps["upload"] == "skipped" and steps["load"] == "loaded"
    assert count_day(conn, "orders", TRADING_DAY) == made.rows["orders"] == 250  # not a new day
    status = runner.invoke(app, ["status", "--date", str(TRADING_DAY), "--json"])
    assert status.exit_code == 0, status.stdout
    (row,) = json.loads(status.stdout)["days"]
    assert row["uploaded"] and row["lake_manifest"] == "same" and row["done"]


def test_status_sees_a_data_file_deleted_from_s3_under_its_manifest(
    settings: Settings, s3, conn
) -> None:
    """One listing of the prefix says which files each day's folder holds (alerts and
    reports beside the days are not days)."""
    result = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == 0, result.stderr
    lake = S3Lake(f"s3://{BUCKET}/prod")
    assert {"orders.csv", "executions.csv", "_manifest.json"} <= lake.day_files()[TRADING_DAY]
    s3.delete_object(Bucket=BUCKET, Key=f"prod/trade_date={TRADING_DAY}/executions.csv")
    status = runner.invoke(app, ["status", "--date", str(TRADING_DAY), "--json"])
    assert status.exit_code == 5
    (row,) = json.loads(status.stdout)["days"]
    assert (row["lake_manifest"], row["lake_files_missing"]) == ("incomplete", ["executions.csv"])
    again = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), "--json"])
    assert again.exit_code == 0, again.stderr
    assert "executions.csv" in lake.day_files()[TRADING_DAY]


def test_s3_conditional_write_refuses_to_overwrite(settings: Settings, s3, tmp_path) -> None:
    lake = S3Lake(f"s3://{BUCKET}/prod")
    path = tmp_path / "a.csv"
    path.write_text("x\n")
    lake.put_file("k/a.csv", path, "0" * 64, overwrite=False)
    with pytest.raises(ConflictError):
        lake.put_file("k/a.csv", path, "1" * 64, overwrite=False)
    assert lake.sha256_of("k/a.csv") == "0" * 64


def test_s3_lake_through_an_endpoint_url(
    settings: Settings, moto_server: str, monkeypatch, conn
) -> None:
    monkeypatch.setenv("SURVEIL_LAKE", f"s3://{BUCKET}")
    generate_day(settings, TRADING_DAY)
    s = Settings()
    result = upload_day(s, TRADING_DAY)
    assert result.lake == f"s3://{BUCKET}" and "_manifest.json" in result.uploaded
    assert s3_keys(moto_server) >= {f"trade_date={TRADING_DAY}/orders.csv"}
    load_day(s, TRADING_DAY)
    assert validate_day(s, TRADING_DAY).passed
    assert count_day(conn, "orders", TRADING_DAY) == 300


def s3_keys(endpoint: str) -> set[str]:
    client = boto3.client("s3", endpoint_url=endpoint)
    return {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}


def test_missing_bucket_exits_4_with_one_line(settings: Settings, s3, monkeypatch) -> None:
    monkeypatch.setenv("SURVEIL_LAKE", "s3://no-such-bucket/x")
    generate_day(settings, TRADING_DAY)
    result = runner.invoke(app, ["upload", "--date", str(TRADING_DAY)])
    assert result.exit_code == 4
    assert "no-such-bucket" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
