"""`surveil report`: where the page goes, what it shows, and bad input (the page itself is
checked in Chromium in test_report_browser.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from surveil import db
from surveil.cli import app
from surveil.detect import detect_day
from surveil.errors import ExitCode
from surveil.evidence import MAX_EVENTS, alert_evidence
from surveil.load import load_day
from surveil.report import alert_rows, gather, lake_key, report_day, report_path, sections
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.daybuilder import DAY, DayBuilder
from tests.watchlog import count

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"
URL = re.compile(r"https?://", re.I)

INSERT_ALERT = """
INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                    cl_ord_ids, exec_ids, score, explanation)
VALUES (%s, %s, %s, 'test', '{}', %s, %s, %s, %s, %s, %s)
"""


def run_day(*extra: str) -> dict[str, Any]:
    """A synthetic day through run-day (300 orders, planted abuse): the real pipeline, without
    its report stage, so each test makes the report it looks at itself."""
    command = ["run-day", "--date", str(TRADING_DAY), "--no-report", "--json", *extra]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def make_report(*extra: str) -> dict[str, Any]:
    result = runner.invoke(app, ["report", "--date", str(TRADING_DAY), "--json", *extra])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def page_data(html: str) -> dict[str, Any]:
    """The JSON the page's script draws its charts from."""
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert found, "no chart data in the page"
    return json.loads(found.group(1))


def quiet_day() -> DayBuilder:
    """Two fills of unrelated accounts: nothing for any rule to flag."""
    day = DayBuilder()
    day.filled("A3", "XYZ", "buy", 100, "100.00", "15:00:00")
    day.filled("A4", "XYZ", "sell", 100, "100.01", "15:30:00")
    return day


def load_built(settings: Settings, day: DayBuilder) -> None:
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)


def test_a_day_not_loaded_is_one_line_and_exit_3_and_writes_nothing(settings: Settings) -> None:
    result = runner.invoke(app, ["report", "--date", str(TRADING_DAY)])
    assert result.exit_code == ExitCode.BAD_INPUT == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{TRADING_DAY}: not loaded in the warehouse" in lines[0]
    assert "Traceback" not in result.stderr
    assert not report_path(settings, TRADING_DAY).exists()


def test_bad_days_or_top_are_usage_errors(settings: Settings) -> None:
    for args in (["--days", "0"], ["--days", "999"], ["--top", "-1"], ["--top", "1000"]):
        result = runner.invoke(app, ["report", "--date", str(TRADING_DAY), *args])
        assert result.exit_code == ExitCode.USAGE, args
        assert "Traceback" not in result.stderr


def test_a_day_without_alerts_gets_a_report_that_says_so(
    settings: Settings, conn: psycopg.Connection
) -> None:
    load_built(settings, quiet_day())
    assert detect_day(settings, DAY).alerts == 0
    out = settings.home / "quiet.html"
    result = report_day(settings, DAY, out=out)
    html = out.read_text()
    assert result.alerts == 0 and result.sections == 0 and result.charts == 1
    assert f"No alerts on {DAY}" in html
    assert 'data-figure="orders">2<' in html
    data = page_data(html)
    assert [c["kind"] for c in data["charts"]] == ["history"]
    assert all(counts[-1] == 0 for counts in data["charts"][0]["data"]["rules"].values())
    assert html.rstrip().endswith("</html>")


def test_the_report_goes_beside_the_day_and_the_day_folder_still_verifies(
    settings: Settings,
) -> None:
    run_day()
    payload = make_report()
    path = settings.data_path / "reports" / f"trade_date={TRADING_DAY}" / "report.html"
    assert payload["path"] == str(path) and path.stat().st_size == payload["bytes"]
    assert payload["lake_uri"] is None  # the default lake was not named: no copy
    assert not (settings.home / "lake" / "reports").exists()
    # generate, upload and status still see the day as it was, and only the day.
    again = runner.invoke(app, ["generate", "--date", str(TRADING_DAY), "--json"])
    assert json.loads(again.stdout)["status"] == "skipped"
    upload = json.loads(runner.invoke(app, ["upload", "--date", str(TRADING_DAY), "--json"]).stdout)
    assert upload["uploaded"] == []
    status = json.loads(runner.invoke(app, ["status", "--date", str(TRADING_DAY), "--json"]).stdout)
    assert [d["trade_date"] for d in status["days"]] == [str(TRADING_DAY)]
    html = path.read_text()
    assert not URL.search(html)
    assert payload["sections"] == min(25, payload["alerts"]) and payload["alerts"] > 0


def test_a_lake_named_explicitly_gets_a_copy_under_reports(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = settings.home / "shared-lake"
    monkeypatch.setenv("SURVEIL_LAKE", str(lake))
    run_day()
    payload = make_report()
    copy = lake / lake_key(TRADING_DAY)
    assert payload["lake_uri"] == f"{lake}/reports/trade_date={TRADING_DAY}/report.html"
    assert copy.read_bytes() == Path(payload["path"]).read_bytes()


def test_an_s3_lake_gets_the_report_with_its_sha256(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("S3_BUCKET", "surveil-lake")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="surveil-lake")
        run_day()
        payload = make_report()
        key = f"reports/trade_date={TRADING_DAY}/report.html"
        stored = client.get_object(Bucket="surveil-lake", Key=key)
        body = stored["Body"].read()
    assert payload["lake_uri"] == f"s3://surveil-lake/{key}"
    assert body == Path(payload["path"]).read_bytes()
    assert stored["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_out_writes_that_file_only(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = settings.home / "shared-lake"
    monkeypatch.setenv("SURVEIL_LAKE", str(lake))
    run_day()
    out = settings.home / "desk" / "today.html"
    missing = runner.invoke(app, ["report", "--date", str(TRADING_DAY), "--out", str(out)])
    assert missing.exit_code == ExitCode.USAGE and "no folder" in missing.stderr
    out.parent.mkdir()
    payload = make_report("--out", str(out))
    assert payload["path"] == str(out) and payload["lake_uri"] is None and out.exists()
    assert not report_path(settings, TRADING_DAY).exists()
    assert not (lake / "reports").exists()


def test_a_failed_report_is_one_line_and_leaves_the_day_and_its_alerts(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day()
    before = conn.execute("SELECT count(*), max(created_at) FROM alerts").fetchone()
    report_path(settings, TRADING_DAY).mkdir(parents=True)  # a folder where the page goes
    result = runner.invoke(app, ["report", "--date", str(TRADING_DAY)])
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert (
        len(result.stderr.strip().splitlines()) == 1 and "cannot write the report" in result.stderr
    )
    assert conn.execute("SELECT count(*), max(created_at) FROM alerts").fetchone() == before


def insert_alerts(conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(INSERT_ALERT, rows)


def test_thousands_of_alerts_make_a_bounded_page_that_says_what_it_left_out(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day = quiet_day()
    order = day.filled("A3", "XYZ", "buy", 100, "100.02", "16:00:00")
    load_built(settings, day)
    execs = day.exec_ids(order)
    insert_alerts(
        conn,
        [
            (f"{n:032x}", DAY, "wash_trade", "XYZ", ["A3"], [order], execs, n % 100, f"alert {n}")
            for n in range(3_000)
        ],
    )
    out = settings.home / "many.html"
    result = report_day(settings, DAY, out=out)
    html = out.read_text()
    assert (result.alerts, result.sections, result.listed, result.left_out) == (3000, 25, 200, 2775)
    assert "2,775 more not shown" in html and "2,775 further alerts are not listed" in html
    assert html.count('class="page alert"') == 25
    assert result.bytes < 1_000_000
    history = page_data(html)["charts"][0]["data"]["rules"]
    assert history["wash_trade"][-1] == 3000


def test_data_from_the_warehouse_is_escaped_on_the_page(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day = quiet_day()
    hostile = day.filled("A3", "XYZ", "buy", 100, "100.02", "16:00:00")
    day.orders[-1]["cl_ord_id"] = day.executions[-1]["cl_ord_id"] = "</script><i>1"
    load_built(settings, day)
    explanation = '<img src=x onerror="alert(1)"> & </script>'
    insert_alerts(
        conn,
        [("e" * 32, DAY, "spoofing", "XYZ", ["A3"], ["</script><i>1"], [], 90, explanation)],
    )
    assert hostile  # the builder's own id was replaced by the hostile one
    html = report_day(settings, DAY, out=settings.home / "r.html").path.read_text()
    assert "<img src=x" not in html and "</script><i>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;/script&gt;" in html
    assert "&lt;/script&gt;&lt;i&gt;1" in html  # in the evidence table
    price = next(c for c in page_data(html)["charts"] if c["kind"] == "price")
    assert ["</script><i>1"] == sorted({m[4] for m in price["data"]["placed"]})


def test_a_busy_alert_section_stays_within_its_caps(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day = DayBuilder()
    named = []
    for i in range(1500):  # an order a second for 25 minutes, each cancelled, the market trading
        at = f"15:{i // 60:02d}:{i % 60:02d}"
        order = day.order("A3", "XYZ", "sell", 500, at, "100.10", cancel_at=f"{at}.5")
        day.filled("A4", "XYZ", "buy", 100, "100.00", at)
        if i % 15 == 0:
            named.append(order)
    load_built(settings, day)
    insert_alerts(conn, [("b" * 32, DAY, "spoofing", "XYZ", ["A3"], named, [], 95, "busy")])
    with db.connect(settings) as c:
        section = sections.alert_section(c, 1, alert_rows(c, DAY, 1, 0)[0])
        evidence = alert_evidence(c, "b" * 32)
    assert evidence is not None and len(evidence.events) == MAX_EVENTS
    price, resting = section.charts
    marks = [m for k in ("placed", "cancelled", "filled") for m in price.data[k]]
    assert len(section.rows) == sections.TABLE_ROWS and section.events_total == 3000
    assert len(marks) <= sections.CHART_EVENTS
    assert sum(m[5] for m in marks) == sum(e.named for e in evidence.events) > 0
    assert len(price.data["trades"]) <= sections.MARKET_POINTS + 2 < 1500
    assert any("of the 1,500 trades" in note for note in price.notes)
    assert len(resting.data["sell"]) <= sections.RESTING_POINTS + 2
    assert any("highest level of each" in note for note in resting.notes)
    assert len(json.dumps([price.data, resting.data])) < 80_000
    assert "the chart draws" in section_html(settings, section)


def test_an_at_the_close_order_is_not_drawn_as_resting_in_the_book(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """A limit-on-close order waits for the closing auction, not in the continuous book:
    the resting chart of a spoofing section leaves it out (it showed 5,000 shares resting
    on the buy side from 15:00 to the close)."""
    day = DayBuilder()
    loc = day.order("A3", "XYZ", "buy", 5000, "15:00:00", "100.50",
                    [(5000, "100.20", "21:00:00.400")], time_in_force="7")  # fmt: skip
    layer = day.order("A3", "XYZ", "sell", 800, "15:00:01", "100.10", cancel_at="15:00:06")
    day.filled("A4", "XYZ", "buy", 100, "100.00", "15:00:03")
    load_built(settings, day)
    insert_alerts(conn, [("c" * 32, DAY, "spoofing", "XYZ", ["A3"], [loc, layer], [], 80, "x")])
    with db.connect(settings) as c:
        section = sections.alert_section(c, 1, alert_rows(c, DAY, 1, 0)[0])
    _, resting = section.charts
    assert max(level for _, level in resting.data["sell"]) == 800
    assert all(level == 0 for _, level in resting.data["buy"])


def section_html(settings: Settings, section: sections.AlertSection) -> str:
    html = report_day(settings, DAY, out=settings.home / "busy.html").path.read_text()
    start = html.index(f'id="alert-{section.alert_id}"')
    return html[start : html.index("</section>", start)]


def test_the_review_backlog_shows_only_where_review_tables_exist(
    conn: psycopg.Connection,
) -> None:
    name = "report_test_review_cases"
    assert gather.review_backlog(conn, DAY, name) is None
    conn.execute(
        f"CREATE TABLE {name} (alert_id text, trade_date date, status text, opened_at timestamptz)"
    )
    earlier = DAY - dt.timedelta(days=2)
    conn.execute(
        f"INSERT INTO {name} VALUES ('a', %s, 'open', now() - interval '50 hours'),"
        " ('b', %s, 'open', now() - interval '1 hour'),"
        " ('c', %s, 'closed', now() - interval '9 days')",
        (earlier, DAY, DAY),
    )
    backlog = gather.review_backlog(conn, DAY, name)
    # the desk's backlog (every day's open cases) and, of them, the report's day's
    assert backlog is not None and (backlog.open_alerts, backlog.day_open) == (2, 1)
    assert backlog.oldest_age is not None and 49 < backlog.oldest_age.total_seconds() / 3600 < 51
    conn.execute(f"ALTER TABLE {name} RENAME COLUMN opened_at TO created")
    assert gather.review_backlog(conn, DAY, name) is None  # not the table guessed: no block


def test_evaluation_rows_read_the_scores_defensively() -> None:
    class Partial:
        rule, planted, alerted, precision = "spoofing", 3, 2, 0.5

    (row,) = gather.evaluation_rows([Partial()])
    assert row["rule"] == "spoofing" and row["precision"] == 0.5 and row["recall"] is None


def test_the_readme_documents_the_report_and_its_exit_code() -> None:
    readme = README.read_text()
    assert "| `report` |" in readme
    assert re.search(r"^\| 7 \| .*report", readme, re.M)
    assert "docs/report.png" in readme and (README.parent / "docs" / "report.png").exists()


def test_an_alert_over_every_symbol_counts_for_its_account_not_for_a_symbol(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """excessive_otr's account-level alert (symbol `*`) is not "the most alerted symbol"."""
    day = quiet_day()
    order = day.filled("A3", "XYZ", "buy", 100, "100.02", "16:00:00")
    load_built(settings, day)
    wide = ("a" * 32, DAY, "excessive_otr", "*", ["A4"], [], [], 70, "across 15 symbols")
    one = ("b" * 32, DAY, "wash_trade", "XYZ", ["A3"], [order], day.exec_ids(order), 60, "x")
    insert_alerts(conn, [wide, one])
    assert [r.name for r in gather.top_symbols(conn, DAY)] == ["XYZ"]
    assert {r.name for r in gather.top_accounts(conn, DAY)} == {"A3", "A4"}


def test_the_backlog_on_the_page_tells_the_day_s_open_cases_from_every_day_s(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """Under "The day", a figure of every day's open cases read as the day's own."""
    earlier = dt.date(2026, 11, 24)
    first = runner.invoke(app, ["run-day", "--date", str(earlier), "--no-report", "--json"])
    assert first.exit_code == 0, first.stderr
    run_day()
    day_open = count(conn, "SELECT count(*) FROM review_cases WHERE trade_date = %s", DAY)
    every = count(conn, "SELECT count(*) FROM review_cases WHERE status <> 'closed'")
    assert 0 < day_open < every
    html = Path(make_report()["path"]).read_text()
    assert f'data-figure="backlog-day">{day_open:,}</span>' in html
    assert f'data-figure="backlog">{every:,}</span> open over all days' in html
