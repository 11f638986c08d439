"""The command line: help, version, JSON output, exit codes, and secrets kept out of output."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveil import __version__
from surveil.cli import app
from surveil.errors import ExitCode
from tests.conftest import TRADING_DAY

runner = CliRunner()
PASSWORD = "s3cr3t-Pa55word"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"surveil {__version__}"


COMMANDS = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]


def test_the_app_has_every_documented_command() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for command in COMMANDS:
        assert f"| `{command}` |" in readme, command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "--json" in result.stdout


def test_unreachable_database_exits_4_with_one_line_and_no_password(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv(
        "SURVEIL_DATABASE_URL", f"postgresql://surveil:{PASSWORD}@127.0.0.1:{closed_port()}/surveil"
    )
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    runner.invoke(app, ["generate", "--date", str(TRADING_DAY)])
    runner.invoke(app, ["upload", "--date", str(TRADING_DAY)])
    result = runner.invoke(app, ["load", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == ExitCode.UNAVAILABLE == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect to PostgreSQL at 127.0.0.1" in lines[0]
    assert json.loads(result.stdout)["exit_code"] == 4
    assert PASSWORD not in result.stdout + result.stderr


def test_bad_setting_exits_2_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SURVEIL_ORDERS", "many")
    result = runner.invoke(app, ["generate", "--date", str(TRADING_DAY)])
    assert result.exit_code == 2
    assert "SURVEIL_ORDERS" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_database_url_exits_2_without_echoing_it(monkeypatch) -> None:
    monkeypatch.setenv("SURVEIL_DATABASE_URL", f"postgresql://u:{PASSWORD}@host:notaport/db")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    assert "SURVEIL_DATABASE_URL" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_config_masks_the_password(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv(
        "SURVEIL_DATABASE_URL", f"postgresql://surveil:{PASSWORD}@db.example:5432/surveil"
    )
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["SURVEIL_DATABASE_URL"] == "postgresql://surveil:***@db.example:5432/surveil"
    assert shown["SURVEIL_DATA_DIR"] == str(home / "data")
    assert PASSWORD not in result.stdout + result.stderr
    human = runner.invoke(app, ["config"])
    assert PASSWORD not in human.stdout + human.stderr and "db.example" in human.stderr


def test_seed_aliases_data_dir_and_s3_bucket(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("S3_BUCKET", "seed-bucket")
    shown = json.loads(runner.invoke(app, ["config", "--json"]).stdout)
    assert shown["SURVEIL_DATA_DIR"] == str(tmp_path / "d")
    assert shown["SURVEIL_LAKE"] == "s3://seed-bucket"


def test_bad_date_exits_2(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    result = runner.invoke(app, ["generate", "--date", "2026-13-01"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr


def test_generate_is_byte_identical_and_skips_an_identical_day(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    args = ["generate", "--date", str(TRADING_DAY), "--orders", "500", "--seed", "7", "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    day_dir = home / "data" / f"trade_date={TRADING_DAY}"
    snapshot = {p.name: p.read_bytes() for p in day_dir.iterdir()}
    assert first["status"] == "generated"
    assert json.loads(runner.invoke(app, args).stdout)["status"] == "skipped"
    forced = json.loads(runner.invoke(app, [*args, "--force"]).stdout)
    assert forced["status"] == "generated"
    assert {p.name: p.read_bytes() for p in day_dir.iterdir()} == snapshot
    other = ["generate", "--date", str(TRADING_DAY), "--orders", "500", "--seed", "8"]
    refused = runner.invoke(app, other)  # a different day is never replaced silently
    assert refused.exit_code == ExitCode.BAD_INPUT
    assert "seed 7 (this run: 8)" in refused.stderr and "--force" in refused.stderr
    assert {p.name: p.read_bytes() for p in day_dir.iterdir()} == snapshot
    assert runner.invoke(app, [*other, "--force"]).exit_code == 0
    assert (day_dir / "orders.csv").read_bytes() != snapshot["orders.csv"]


def test_no_help_page_shows_a_type_for_a_flag() -> None:
    """Flags (--json, --force, --help itself) take no value: `<bool>` beside them misleads."""
    import typer.main

    group = typer.main.get_command(app)
    names = [[], *([name] for name in group.commands)]  # type: ignore[attr-defined]
    for args in names:
        result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, args
        assert "<bool>" not in result.stdout, args
