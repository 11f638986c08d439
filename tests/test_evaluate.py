"""Detection quality against the generator's planted scenarios, look-alikes included."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.detect import RULES, evaluate_day
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.settings import Settings

runner = CliRunner()
DAYS = [dt.date(2026, 11, d) for d in (2, 3, 4, 5, 6)]  # five trading days, five seeds


@pytest.mark.parametrize(("seed", "day"), list(enumerate(DAYS, start=11)))
def test_every_rule_reaches_precision_and_recall_of_095(
    settings: Settings, seed: int, day: dt.date
) -> None:
    generate_day(settings, day, orders=2000, seed=seed)
    upload_day(settings, day)
    load_day(settings, day)
    result = runner.invoke(app, ["detect", "--date", str(day), "--json"])
    assert result.exit_code == 0, result.stderr
    scores = {s.rule: s for s in evaluate_day(settings, day)}
    assert set(scores) == set(RULES)
    for rule, score in scores.items():
        assert score.planted > 0, f"{rule}: nothing planted"
        assert score.precision is not None and score.precision >= 0.95, (rule, score)
        assert score.recall is not None and score.recall >= 0.95, (rule, score)


def test_evaluate_counts_false_positives_and_misses(settings: Settings, conn) -> None:
    day = DAYS[0]
    generate_day(settings, day, orders=2000, seed=11)
    upload_day(settings, day)
    load_day(settings, day)
    runner.invoke(app, ["detect", "--date", str(day)])
    # Drop one true wash alert and invent one that matches nothing.
    conn.execute(
        "DELETE FROM alerts WHERE alert_id = (SELECT min(alert_id) FROM alerts WHERE rule = 'wash_trade')"
    )
    conn.execute(
        """INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                               cl_ord_ids, exec_ids, score, explanation)
           VALUES (md5('fake'), %s, 'wash_trade', '1', '{}', 'ZZZZ', '{X}', '{Y}', '{Z}', 50, 'fake')""",
        (day,),
    )
    out = json.loads(runner.invoke(app, ["evaluate", "--date", str(day), "--json"]).stdout)
    wash = next(r for r in out["rules"] if r["rule"] == "wash_trade")
    assert wash["false_positives"] == 1
    assert wash["false_negatives"] == 1
    assert wash["precision"] == pytest.approx((wash["alerted"] - 1) / wash["alerted"])
    assert wash["recall"] == pytest.approx((wash["planted"] - 1) / wash["planted"])
