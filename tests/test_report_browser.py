"""The report in a real browser: Debian's Chromium, headless, with the network blocked.

Chromium comes from Debian's `chromium` package (`.ci/run` installs it); Playwright drives
it through /usr/bin/chromium and never downloads a browser of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pypdf import PdfReader

from surveil.detect import RULES, evaluate_day
from surveil.evidence import alert_evidence
from surveil.report import report_day
from surveil.report.render import money, ratio
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.daybuilder import DAY
from tests.test_report import (
    URL,
    insert_alerts,
    load_built,
    make_report,
    page_data,
    quiet_day,
    run_day,
)

CHROMIUM = Path("/usr/bin/chromium")
# Known to work here as root; the background-networking flags keep Chromium from calling
# home, and the resolver rule fails every name lookup: the page gets no network at all.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh, empty --user-data-dir.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def open_report(browser: Any, path: Path) -> Opened:
    """The page loaded offline, its scripts run: every request other than the file itself
    is refused and recorded, and so is every console error."""
    context = browser.new_context(viewport={"width": 1200, "height": 1500}, offline=True)
    page = context.new_page()
    opened = Opened(page)
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    page.on("request", lambda r: opened.requests.append(r.url))

    def refuse(route: Any) -> None:
        if route.request.url == path.as_uri():
            route.continue_()
            return
        opened.blocked.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    page.goto(path.as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsDrawn !== undefined")
    return opened


CHARTS = """els => els.map(e => ({id: e.dataset.chart, kind: e.dataset.kind,
    rendered: e.dataset.rendered || null, error: e.dataset.error || null}))"""
FIGURES = "els => Object.fromEntries(els.map(e => [e.dataset.figure, e.textContent.trim()]))"
LAST_BARS = """() => Object.fromEntries(Chart.getChart(document.querySelector(
    '[data-chart=history] canvas')).data.datasets.map(d => [d.label, d.data[d.data.length - 1]]))"""
MARKS = """id => Object.fromEntries(Chart.getChart(document.querySelector(
    '[data-chart="' + id + '"] canvas')).data.datasets.map(d => [d.kind, d.data.length]))"""


def assert_clean_and_drawn(opened: Opened, path: Path, html: str) -> list[dict[str, Any]]:
    assert not URL.search(html)  # no http(s) address anywhere in the file
    assert opened.errors == []
    assert opened.blocked == [] and set(opened.requests) == {path.as_uri()}
    charts = opened.page.eval_on_selector_all(".chart", CHARTS)
    assert [c["id"] for c in charts] == [c["id"] for c in page_data(html)["charts"]]
    assert all(c["rendered"] == "true" and c["error"] is None for c in charts), charts
    return charts


def test_the_report_renders_offline_with_every_chart_and_the_warehouse_figures(
    settings: Settings, conn: psycopg.Connection, browser: Any, tmp_path: Path
) -> None:
    run_day()
    path = Path(make_report()["path"])
    html = path.read_text()
    opened = open_report(browser, path)
    charts = assert_clean_and_drawn(opened, path, html)
    assert {"history", "price", "resting"} <= {c["kind"] for c in charts}
    page = opened.page

    figures = page.eval_on_selector_all("[data-figure]", FIGURES)
    assert figures == {**figures, **warehouse_figures(conn, settings)}
    alerts = dict(
        conn.execute(
            "SELECT rule, count(*) FROM alerts WHERE trade_date = %s GROUP BY rule",
            (TRADING_DAY,),
        ).fetchall()
    )
    assert page.evaluate(LAST_BARS) == {rule: alerts.get(rule, 0) for rule in RULES}

    for alert_id in page.eval_on_selector_all(
        "section[data-alert]", "s => s.map(e => e.dataset.alert)"
    ):
        evidence = alert_evidence(conn, alert_id)
        assert evidence is not None
        rank = page.eval_on_selector(f'[data-alert="{alert_id}"] .rank', "e => e.textContent")
        drawn = page.evaluate(MARKS, f"a{rank.lstrip('#')}-price")
        expected = Counter(e.kind for e in evidence.events)
        assert {k: drawn.get(k, 0) for k in expected} == dict(expected), alert_id

    check_hover_and_zoom(page)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def warehouse_figures(conn: psycopg.Connection, settings: Settings) -> dict[str, str]:
    """What the page must say, read here straight from the warehouse."""
    d = (TRADING_DAY,)
    orders, filled, cancels = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE cum_qty > 0),"
        " count(*) FILTER (WHERE cancel_time IS NOT NULL) FROM orders WHERE trade_date = %s",
        d,
    ).fetchone()
    executions, notional = conn.execute(
        "SELECT count(*), sum(fill_qty * fill_price) FROM executions WHERE trade_date = %s", d
    ).fetchone()
    run_id, sha = conn.execute(
        "SELECT run_id, manifest_sha256 FROM load_runs WHERE trade_date = %s"
        " AND action IN ('loaded', 'replaced') ORDER BY run_id DESC LIMIT 1",
        d,
    ).fetchone()
    counts = dict(
        conn.execute("SELECT rule, count(*) FROM alerts WHERE trade_date = %s GROUP BY rule", d)
    )
    figures = {
        "orders": f"{orders:,}",
        "rows_orders": f"{orders:,}",
        "executions": f"{executions:,}",
        "rows_executions": f"{executions:,}",
        "filled_orders": f"{filled:,}",
        "cancels": f"{cancels:,}",
        "notional": money(notional),
        "alerts": f"{sum(counts.values()):,}",
        "load_run": str(run_id),
        "manifest_sha256": sha,
        **{f"alerts_{rule}": f"{counts.get(rule, 0):,}" for rule in RULES},
    }
    for score in evaluate_day(settings, TRADING_DAY):
        figures[f"precision_{score.rule}"] = ratio(score.precision)
        figures[f"recall_{score.rule}"] = ratio(score.recall)
    return figures


FIRST_PRICE = "document.querySelector('[data-kind=price] canvas')"


def check_hover_and_zoom(page: Any) -> None:
    """Hovering an order shows its id, time, price and size; dragging zooms; reset undoes."""
    page.locator("[data-kind=price]").first.scroll_into_view_if_needed()
    point = page.evaluate(
        f"""() => {{ const c = Chart.getChart({FIRST_PRICE});
        const i = c.data.datasets.findIndex(d => d.kind === 'placed' && d.data.length);
        const el = c.getDatasetMeta(i).data[0], box = c.canvas.getBoundingClientRect();
        return {{x: box.left + el.x, y: box.top + el.y, id: c.data.datasets[i].data[0].id,
                 left: box.left + c.chartArea.left, right: box.left + c.chartArea.right,
                 top: box.top + c.chartArea.top}}; }}"""
    )
    page.mouse.move(point["x"], point["y"])
    tooltip = page.evaluate(
        f"() => {{ const t = Chart.getChart({FIRST_PRICE}).tooltip;"
        " return [t.opacity, t.body.flatMap(b => b.lines)]; }"
    )
    assert tooltip[0] == 1 and any(
        line.startswith("placed " + point["id"]) and " @ " in line for line in tooltip[1]
    ), tooltip
    scale = f"() => {{ const x = Chart.getChart({FIRST_PRICE}).scales.x; return [x.min, x.max]; }}"
    before = page.evaluate(scale)
    width = point["right"] - point["left"]
    page.mouse.move(point["left"] + width * 0.3, point["top"] + 10)
    page.mouse.down()
    page.mouse.move(point["left"] + width * 0.6, point["top"] + 30, steps=5)
    page.mouse.up()
    zoomed = page.evaluate(scale)
    assert before[0] < zoomed[0] < zoomed[1] < before[1]
    page.locator("[data-kind=price]").first.locator("xpath=..").locator("button.reset").click()
    assert page.evaluate(scale) == before


def test_the_report_prints_to_pdf_one_page_per_alert(
    settings: Settings, browser: Any, tmp_path: Path
) -> None:
    run_day()
    path = Path(make_report()["path"])
    opened = open_report(browser, path)
    page = opened.page
    alert_ids = page.eval_on_selector_all("section[data-alert]", "s => s.map(e => e.dataset.alert)")
    listed = page.locator("#others").count()
    page.emulate_media(media="print")
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    reader = PdfReader(pdf)
    texts = [p.extract_text() for p in reader.pages]
    # The summary, where the alerts are, one page per alert, and the list of the rest.
    assert len(reader.pages) == 2 + len(alert_ids) + listed and alert_ids
    assert "Provenance" in texts[0] and "Where the alerts are" in texts[1]
    for number, alert_id in enumerate(alert_ids, start=2):
        assert alert_id in texts[number], number
    assert round(float(reader.pages[0].mediabox.width)) == 612  # US Letter, as @page says
    assert opened.errors == []


def test_empty_and_crowded_days_render_and_say_so(
    settings: Settings, conn: psycopg.Connection, browser: Any
) -> None:
    day = quiet_day()
    order = day.filled("A3", "XYZ", "buy", 100, "100.02", "16:00:00")
    load_built(settings, day)
    empty = report_day(settings, DAY, out=settings.home / "empty.html").path
    opened = open_report(browser, empty)
    assert_clean_and_drawn(opened, empty, empty.read_text())
    assert f"No alerts on {DAY}" in opened.page.inner_text("#contents")

    execs = day.exec_ids(order)
    insert_alerts(
        conn,
        [
            (f"{n:032x}", DAY, "wash_trade", "XYZ", ["A3"], [order], execs, n % 100, f"alert {n}")
            for n in range(3_000)
        ],
    )
    crowded = report_day(settings, DAY, out=settings.home / "crowded.html").path
    opened = open_report(browser, crowded)
    charts = assert_clean_and_drawn(opened, crowded, crowded.read_text())
    assert len(charts) == 1 + 25
    assert "2,775 more not shown" in opened.page.inner_text("#contents")
    assert opened.page.locator("#others tbody tr").count() == 200
