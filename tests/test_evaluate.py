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


def test_a_range_totals_the_days_and_undefined_figures_are_null(settings: Settings) -> None:
    """Two generated days, one with no spoofing planted: totals are the days' sums, and a
    ratio with nothing to divide by is null (n/a), not 0."""
    first, second = DAYS[0], DAYS[1]
    generate_day(settings, first, orders=2000, seed=11)
    generate_day(settings, second, orders=2000, seed=12, scenarios={"spoofing": 0})
    for day in (first, second):
        upload_day(settings, day)
        load_day(settings, day)
        assert runner.invoke(app, ["detect", "--date", str(day)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", "--from", str(first), "--to", str(DAYS[2]), "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert [d["trade_date"] for d in out["days"]] == [str(first), str(second)]
    assert out["not_loaded"] == [str(DAYS[2])]
    per_day = [{r["rule"]: r for r in d["rules"]} for d in out["days"]]
    spoof_second = per_day[1]["spoofing"]
    assert spoof_second["planted"] == 0 and spoof_second["recall"] is None
    if spoof_second["alerted"] == 0:
        assert spoof_second["precision"] is None
    for total in out["rules"]:
        rule = total["rule"]
        for key in ("planted", "alerted", "true_positives", "false_positives", "lookalikes"):
            assert total[key] == sum(d[rule][key] for d in per_day), (rule, key)
        assert total["precision"] == pytest.approx(total["true_positives"] / total["alerted"])
        found = total["planted"] - total["false_negatives"]
        assert total["recall"] == pytest.approx(found / total["planted"])
    table = runner.invoke(app, ["evaluate", "--from", str(first), "--to", str(second)])
    assert table.exit_code == 0 and "(2 days)" in table.stderr
    assert all(rule in table.stderr for rule in RULES)


def test_a_day_without_planted_truth_says_so_instead_of_precision_0(settings: Settings) -> None:
    """A day loaded without scenarios.csv (as an imported drop copy is) has alerts but no
    ground truth: nothing is scored as false."""
    from pathlib import Path

    from tests.daybuilder import DAY, DayBuilder

    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:00")
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    assert runner.invoke(app, ["detect", "--date", str(DAY), "--rule", "wash_trade"]).exit_code == 0
    (wash,) = [s for s in evaluate_day(settings, DAY) if s.rule == "wash_trade"]
    assert wash.alerted == 1 and not wash.ground_truth
    assert wash.precision is None and wash.false_positives == 0
    out = json.loads(runner.invoke(app, ["evaluate", "--date", str(DAY), "--json"]).stdout)
    assert out["ground_truth"] is False
    assert out["alerts_without_truth"]["wash_trade"] == 1
    assert all(r["precision"] is None and r["recall"] is None for r in out["rules"])
    text = runner.invoke(app, ["evaluate", "--date", str(DAY)])
    assert text.exit_code == 0 and "no ground truth" in text.stderr


def test_evaluate_refuses_a_backwards_range_and_a_range_with_nothing_loaded(
    settings: Settings,
) -> None:
    backwards = runner.invoke(app, ["evaluate", "--from", "2026-11-06", "--to", "2026-11-02"])
    assert backwards.exit_code == 2 and "before" in backwards.stderr
    empty = runner.invoke(app, ["evaluate", "--from", "2026-11-02", "--to", "2026-11-06"])
    assert empty.exit_code == 3 and "loaded" in empty.stderr
    assert "Traceback" not in empty.stderr + empty.stdout


def test_generate_lookalikes_plants_that_many_near_misses_per_case(settings: Settings) -> None:
    day = DAYS[3]
    out = runner.invoke(
        app, ["generate", "--date", str(day), "--orders", "3000", "--seed", "14",
              "--lookalikes", "3", "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    upload_day(settings, day)
    load_day(settings, day)
    assert runner.invoke(app, ["detect", "--date", str(day)]).exit_code == 0
    for score in evaluate_day(settings, day):
        assert score.planted > 0 and score.lookalikes == 3 * score.planted, score
    manifest = json.loads((settings.data_path / f"trade_date={day}" / "_manifest.json").read_text())
    assert manifest["source"]["lookalikes"] == 3
    default = generate_day(settings, DAYS[4], orders=1000, seed=15)
    assert "lookalikes" not in json.loads((default.path / "_manifest.json").read_text())["source"]


def test_marking_the_close_is_exact_on_a_day_with_the_closing_auction(
    settings: Settings, conn
) -> None:
    """20,000 orders with the closing-auction population (about a tenth of the volume in
    MOC/LOC prints) and both planted variants, continuous push and auction marking: every
    planted case found, no alert on the benign close flow or the look-alikes; a day of the
    benign flow alone (no scenarios) raises no marking alert."""
    day, quiet = dt.date(2026, 11, 9), dt.date(2026, 11, 10)
    generate_day(settings, day, orders=20_000, seed=31)
    none = {"wash_trade": 0, "spoofing": 0, "marking_the_close": 0, "excessive_otr": 0}
    generate_day(settings, quiet, orders=20_000, seed=32, scenarios={**none, "front_running": 0})
    for d in (day, quiet):
        upload_day(settings, d)
        load_day(settings, d)
        done = runner.invoke(app, ["detect", "--date", str(d), "--rule", "marking_the_close"])
        assert done.exit_code == 0, done.stderr
    auction_planted = conn.execute(
        "SELECT count(DISTINCT s.scenario_id) FROM planted_scenarios s"
        " JOIN orders o ON o.trade_date = s.trade_date AND o.cl_ord_id = ANY(s.cl_ord_ids)"
        " WHERE s.trade_date = %s AND s.type = 'marking_the_close' AND s.label = 'abuse'"
        " AND o.time_in_force = '7'",
        (day,),
    ).fetchone()[0]
    benign_prints = conn.execute(
        "SELECT count(*) FROM executions e JOIN orders o USING (trade_date, cl_ord_id)"
        " WHERE e.trade_date = %s AND o.time_in_force = '7'",
        (quiet,),
    ).fetchone()[0]
    assert auction_planted >= 3 and benign_prints >= 300
    (score,) = [s for s in evaluate_day(settings, day) if s.rule == "marking_the_close"]
    assert score.planted >= 10 and score.alerted == score.true_positives == score.planted
    assert (score.precision, score.recall) == (1.0, 1.0)
    alerts = conn.execute(
        "SELECT count(*) FROM alerts WHERE trade_date = %s AND rule = 'marking_the_close'",
        (quiet,),
    ).fetchone()[0]
    assert alerts == 0
