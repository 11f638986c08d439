"""Issue 17 items 8, 11 and 12: usage errors exit 2 and name what to fix, `config` shows a
bad setting instead of failing on it, the help says what the commands do, and `alerts`
gives tools plain cells and people the alert's id and time."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveil.cli import RuleName, app
from surveil.detect import RULES
from surveil.errors import ExitCode
from tests.conftest import TRADING_DAY

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-Never-Shown-42"


def test_an_unknown_scenario_type_is_a_usage_error(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    result = runner.invoke(app, ["generate", "--date", str(TRADING_DAY), "--scenario", "bogus=3"])
    assert result.exit_code == ExitCode.USAGE
    assert "unknown type 'bogus'" in result.stderr and "wash_trade" in result.stderr
    assert not (home / "data").exists() or not any((home / "data").iterdir())


def test_an_invalid_sslmode_is_a_usage_error_not_an_outage(monkeypatch, home) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv(
        "SURVEIL_DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:1/db?sslmode=bogus"
    )
    result = runner.invoke(app, ["status", "--date", str(TRADING_DAY)])
    assert result.exit_code == ExitCode.USAGE
    (line,) = result.stderr.strip().splitlines()
    assert "SURVEIL_DATABASE_URL" in line and "sslmode='bogus'" in line
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"postgresql://u:{PASSWORD}@db host:xx/db", "not a valid PostgreSQL connection URL"),
        (f"postgresql://u:{PASSWORD}@db.example/db?sslmode=sometimes", "sslmode='sometimes'"),
    ],
)
def test_config_shows_a_bad_database_url_masked_with_its_problem(
    monkeypatch, home, url: str, problem: str
) -> None:
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv("SURVEIL_DATABASE_URL", url)
    monkeypatch.setenv("SURVEIL_ORDERS", "1234")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == ExitCode.USAGE
    shown = json.loads(result.stdout)
    assert shown["settings"]["SURVEIL_DATABASE_URL"].startswith("postgresql://u:***@")
    assert problem in shown["problems"]["SURVEIL_DATABASE_URL"]
    assert shown["settings"]["SURVEIL_ORDERS"] == 1234  # the valid settings still shown
    human = runner.invoke(app, ["config"], terminal_width=200)
    assert human.exit_code == ExitCode.USAGE
    assert "SURVEIL_ORDERS" in human.stderr and "u:***@" in human.stderr
    assert PASSWORD not in result.stdout + result.stderr + human.stdout + human.stderr


def test_help_names_every_stage_and_lists_the_rules() -> None:
    top = runner.invoke(app, ["--help"], terminal_width=200).stdout
    assert "detect market abuse" in top
    run_day = runner.invoke(app, ["run-day", "--help"], terminal_width=200).stdout
    assert "validate and detect" in run_day
    for command in ("detect", "alerts"):
        text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
        assert all(name in text for name in RULES), command
    assert set(RuleName) == set(RULES)


@pytest.mark.parametrize("command", ["generate", "run-day", "backfill", "detect", "alerts"])
def test_help_shows_flags_without_a_type_and_env_defaults(command: str) -> None:
    text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
    for line in text.splitlines():
        if re.search(r"--(json|debug|force|csv|catch-up)\b", line):
            assert "<bool>" not in line, line
    if command in ("generate", "run-day", "backfill"):
        assert "[default: $SURVEIL_ORDERS, else 1000]" in text
        assert "[default: $SURVEIL_SEED, else 42]" in text


def test_an_unknown_rule_is_refused_with_the_rules_named() -> None:
    result = runner.invoke(app, ["alerts", "--date", str(TRADING_DAY), "--rule", "wash"])
    assert result.exit_code == ExitCode.USAGE
    assert "front_running" in result.output


def test_pyproject_names_only_files_that_exist() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ruff = config["tool"]["ruff"]["lint"]
    for path in ruff["per-file-ignores"]:
        assert list(ROOT.glob(path)), path
    for message in ruff["flake8-tidy-imports"]["banned-api"].values():
        for named in re.findall(r"surveil/[\w/]+\.py", message["msg"]):
            assert (ROOT / named).exists(), named
