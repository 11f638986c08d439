"""run-day's last stage, the day's report: made after detection, skipped when nothing changed,
left out with --no-report, and a failure to make it (exit 7) never undoes the day."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from surveil.cli import app
from surveil.report import report_path
from surveil.settings import Settings
from tests.conftest import TRADING_DAY, count_day

runner = CliRunner()


def run_day(*args: str) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["run-day", "--date", str(TRADING_DAY), *args, "--json"])
    return result.exit_code, json.loads(result.stdout), result.stderr


def steps(summary: dict) -> dict[str, str]:
    return {s["step"]: s["status"] for s in summary["steps"]}


def test_run_day_writes_the_report_last_and_skips_it_when_nothing_changed(
    settings: Settings,
) -> None:
    code, first, _ = run_day()
    assert code == 0
    assert [s["step"] for s in first["steps"]][-2:] == ["detect", "report"]
    assert steps(first)["report"] == "written"
    page = report_path(settings, TRADING_DAY)
    assert page.read_bytes().startswith(b"<!DOCTYPE html>")
    assert str(page) in first["steps"][-1]["detail"]

    code, second, _ = run_day()
    assert code == 0 and second["new_work"] is False
    assert steps(second)["report"] == "skipped"

    page.unlink()  # a report gone missing is made again, though the day had nothing new
    code, third, _ = run_day()
    assert code == 0 and steps(third)["report"] == "written" and page.exists()


def test_no_report_leaves_the_report_out(settings: Settings) -> None:
    code, summary, _ = run_day("--no-report")
    assert code == 0
    assert "report" not in steps(summary) and steps(summary)["detect"] == "detected"
    assert not report_path(settings, TRADING_DAY).exists()


def test_a_report_that_cannot_be_made_exits_7_and_leaves_the_day_done(
    settings: Settings, conn
) -> None:
    blocker = settings.data_path / "reports"  # a file where the reports folder must go
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    code, summary, stderr = run_day()
    assert code == 7
    assert steps(summary) == {
        "generate": "generated",
        "upload": "uploaded",
        "load": "loaded",
        "validate": "passed",
        "detect": "detected",
        "report": "failed",
    }
    (line,) = stderr.strip().splitlines()
    assert line.startswith("warning:") and "report" in line
    assert f"surveil report --date {TRADING_DAY}" in line
    # The day stands: loaded, detected, and status counts it done.
    assert count_day(conn, "orders", TRADING_DAY) == 300
    status = runner.invoke(app, ["status", "--date", str(TRADING_DAY), "--json"])
    assert status.exit_code == 0, status.stderr
    (day,) = json.loads(status.stdout)["days"]
    assert day["done"] is True

    blocker.unlink()
    again = runner.invoke(app, ["report", "--date", str(TRADING_DAY), "--json"])
    assert again.exit_code == 0, again.stderr
    assert report_path(settings, TRADING_DAY).exists()


def test_catch_up_reports_exit_7_when_a_day_is_done_but_its_report_failed(
    settings: Settings,
) -> None:
    blocker = settings.data_path / "reports"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["run-day", "--catch-up", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == 7, result.stderr
    (day,) = json.loads(result.stdout)["days"]
    assert day["status"] == "done" and day["exit_code"] == 7


def test_a_report_made_over_an_earlier_detection_is_made_again(settings: Settings) -> None:
    """The day detected again since its report (a rules file changed, `surveil detect` run
    by hand): the page on disk shows alerts the warehouse no longer holds."""
    code, _, _ = run_day()
    assert code == 0
    page = report_path(settings, TRADING_DAY)
    before = page.read_text()
    detect = runner.invoke(app, ["detect", "--date", str(TRADING_DAY)])
    assert detect.exit_code == 0, detect.stderr
    code, again, _ = run_day()
    assert code == 0 and steps(again)["detect"] == "skipped"  # nothing for the stages to do
    assert steps(again)["report"] == "written"
    assert page.read_text() != before
    code, third, _ = run_day()
    assert steps(third)["report"] == "skipped"  # made over the current runs now


def test_a_report_of_a_day_whose_detection_is_not_current_says_so_and_exits_5(
    settings: Settings, tmp_path
) -> None:
    code, _, _ = run_day()
    assert code == 0
    out = tmp_path / "r.html"
    stale = runner.invoke(
        app, ["detect", "--date", str(TRADING_DAY), "--param", "spoofing.cancel_window_s=5"]
    )
    assert stale.exit_code == 0, stale.stderr
    result = runner.invoke(app, ["report", "--date", str(TRADING_DAY), "--out", str(out)])
    assert result.exit_code == 5
    assert "detection ran on another copy of the day or with other rules" in result.stderr
    assert "Not the day" in out.read_text()
    assert run_day()[0] == 0  # detected again with the configured rules
    result = runner.invoke(app, ["report", "--date", str(TRADING_DAY), "--out", str(out)])
    assert result.exit_code == 0 and "Not the day" not in out.read_text()
