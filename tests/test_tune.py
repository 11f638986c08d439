"""`surveil tune`: a rule run read-only at other parameter values, scored like evaluate."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.detect import RULES, evaluate_range, wash_trade
from surveil.detect.tune import sweep
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.settings import Settings

runner = CliRunner()
DAYS = [dt.date(2026, 11, 2), dt.date(2026, 11, 3)]
SNAPSHOT = (
    "SELECT (SELECT coalesce(json_agg(a ORDER BY alert_id)::text, '') FROM alerts a),"
    " (SELECT count(*) FROM detect_runs), (SELECT count(*) FROM review_cases),"
    " (SELECT last_value FROM detect_runs_run_id_seq)"
)


def loaded_and_detected(settings: Settings) -> None:
    for seed, day in enumerate(DAYS, start=11):
        generate_day(settings, day, orders=2000, seed=seed)
        upload_day(settings, day)
        load_day(settings, day)
        assert runner.invoke(app, ["detect", "--date", str(day)]).exit_code == 0


def tune_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["tune", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_tune_leaves_stored_alerts_alone_and_its_current_row_equals_evaluate(
    settings: Settings, conn: psycopg.Connection
) -> None:
    loaded_and_detected(settings)
    before = conn.execute(SNAPSHOT).fetchone()
    span = ["--from", str(DAYS[0]), "--to", str(DAYS[1])]
    out = tune_json("--rule", "spoofing", *span)
    assert conn.execute(SNAPSHOT).fetchone() == before
    evaluated = {s.rule: s for s in evaluate_range(settings, DAYS[0], DAYS[1]).totals}
    for rule in RULES:
        # Only the current setting: asking for its own value adds no other row.
        key, value = next(iter(RULES[rule].PARAMS.items()))
        only = ["-p", f"{key}={str(value).lower()}"]
        got = out if rule == "spoofing" else tune_json("--rule", rule, *span, *only)
        current = got["rows"][0]
        assert current["label"] == "current"
        score = evaluated[rule]
        assert current["alerts"] == score.alerted, rule
        assert current["alerts_per_day"] == pytest.approx(score.alerted / len(DAYS))
        assert current["true_positives"] == score.true_positives, rule
        assert current["false_positives"] == score.false_positives, rule
        assert current["false_negatives"] == score.false_negatives, rule
        assert current["precision"] == score.precision and current["recall"] == score.recall
    assert conn.execute(SNAPSHOT).fetchone() == before
    # The default sweep: every numeric parameter at ±10/25/50%, one at a time.
    labels = [r["label"] for r in out["rows"]]
    assert "layer_multiple=1.5" in labels and "layer_multiple=4.5" in labels
    assert "min_orders=1" in labels and "min_orders=3" in labels
    assert len(labels) == len(set(labels))


def test_a_grid_scores_every_combination_and_its_change_against_current(
    settings: Settings,
) -> None:
    loaded_and_detected(settings)
    out = tune_json(
        "--rule", "wash_trade", "--from", str(DAYS[0]), "--to", str(DAYS[1]),
        "-p", "window_s=0.25,30", "-p", "wash_trade.qty_tolerance_pct=0,50",
    )  # fmt: skip
    rows = {r["label"]: r for r in out["rows"]}
    assert set(rows) == {
        "current",
        "window_s=0.25, qty_tolerance_pct=0.0",
        "window_s=0.25, qty_tolerance_pct=50.0",
        "window_s=30.0, qty_tolerance_pct=0.0",
        "window_s=30.0, qty_tolerance_pct=50.0",
    }
    current = rows["current"]
    loose = rows["window_s=30.0, qty_tolerance_pct=50.0"]
    # A looser wash (any opposite fills of one owner within 30 s, sizes within half) fires
    # on at least what the matched-cross rule fires on.
    assert loose["alerts"] >= current["alerts"] > 0
    for row in rows.values():
        assert row["delta"]["alerts_per_day"] == pytest.approx(
            row["alerts_per_day"] - current["alerts_per_day"]
        )
        assert row["delta"]["precision"] == pytest.approx(row["precision"] - current["precision"])
        p, r = row["precision"], row["recall"]
        assert row["f1"] == pytest.approx(2 * p * r / (p + r))


def test_the_rule_runs_in_a_read_only_transaction(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a rule whose query writes cannot write through tune: the server refuses."""
    loaded_and_detected(settings)
    before = conn.execute(SNAPSHOT).fetchone()
    # nextval() is a write no rollback undoes; a read-only transaction refuses it.
    writing = (
        "SELECT alert_id AS key, symbol, account_ids, cl_ord_ids, exec_ids FROM alerts"
        " WHERE nextval('detect_runs_run_id_seq') > 0"
    )
    monkeypatch.setattr(wash_trade, "SQL", writing)
    result = runner.invoke(app, ["tune", "--rule", "wash_trade", "--from", str(DAYS[0])])
    assert result.exit_code != 0
    assert "read-only" in result.stderr
    assert conn.execute(SNAPSHOT).fetchone() == before


def test_days_without_ground_truth_give_alerts_but_no_scores(settings: Settings) -> None:
    from pathlib import Path

    from tests.daybuilder import DAY, DayBuilder

    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:00")
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    out = tune_json("--rule", "wash_trade", "--from", str(DAY), "-p", "window_s=0.1")
    assert out["days_with_truth"] == 0
    current = out["rows"][0]
    assert current["alerts"] == 1
    assert current["precision"] is None and current["true_positives"] is None
    assert current["delta"]["precision"] is None


def test_tune_refuses_bad_input_in_one_line(settings: Settings) -> None:
    cases = [
        (["--rule", "wash_trade", "--from", "2026-11-03", "--to", "2026-11-02"], 2, "before"),
        (["--rule", "wash_trade", "--from", "2026-11-02", "-p", "nope=1"], 2, "unknown"),
        (["--rule", "wash_trade", "--from", "2026-11-02", "-p", "window_s=x"], 2, "number"),
        (["--rule", "wash_trade", "--from", "2026-11-02", "-p", "window_s=1", "--sweep"], 2,
         "not both"),
        (["--rule", "wash_trade", "--from", "2026-11-02"], 3, "loaded"),
    ]  # fmt: skip
    for args, code, words in cases:
        result = runner.invoke(app, ["tune", *args])
        assert result.exit_code == code, (args, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr


def test_sweep_moves_numbers_only_and_keeps_whole_numbers_whole() -> None:
    settings = sweep({"ratio": 2.0, "count": 2, "flag": True, "zero": 0})
    assert {"ratio": 1.0} in settings and {"ratio": 3.0} in settings
    assert {"ratio": 2.2} in settings and {"ratio": 1.8} in settings
    counts = [s["count"] for s in settings if "count" in s]
    assert sorted(counts) == [1, 3] and all(isinstance(c, int) for c in counts)
    assert not any("flag" in s or "zero" in s for s in settings)
