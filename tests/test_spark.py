"""The detection rules on Spark (local mode) give PostgreSQL's alerts, id for id and score for
score, and load-alerts brings them into the warehouse with the same precision and recall.

One SparkSession serves the whole module: the JVM start is the slow part.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.detect import RULES, detect_day, evaluate_day, lake_alerts, list_alerts, resolve_params
from surveil.errors import ConfigError
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.settings import Settings
from tests.daybuilder import DAY, DayBuilder

pytest.importorskip("pyspark", reason="needs the surveil[spark] extra")
pytest.importorskip("sqlglot", reason="needs the surveil[spark] extra")

from surveil import spark as engine  # noqa: E402
from surveil.spark.session import find_java, require_pyspark, start_session  # noqa: E402
from surveil.spark.translate import TranslationError, pg_text, to_spark_sql  # noqa: E402

runner = CliRunner()
COMPARED = ("rule", "symbol", "account_ids", "cl_ord_ids", "exec_ids", "score", "explanation")
# Days of a few thousand rows: start and plan fast rather than run fast (docs/scaling.md).
TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    started = start_session("local[2]", TEST_CONF)
    yield started.session
    started.session.stop()


def by_id(alerts: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {a["alert_id"]: tuple(a[c] for c in COMPARED) for a in alerts}


def scores(settings: Settings, day: dt.date) -> dict[str, tuple[Any, ...]]:
    return {
        s.rule: (s.planted, s.alerted, s.true_positives, s.precision, s.recall)
        for s in evaluate_day(settings, day)
    }


def test_rules_translate_without_postgresql_only_constructs() -> None:
    params = resolve_params()
    for name, module in RULES.items():
        spark_sql = to_spark_sql(module.SQL, engine.rule_values(name, DAY, params[name]))
        for construct in (
            "MATERIALIZED",
            "WITHIN GROUP",
            "PERCENTILE_APPROX",
            "MAKE_INTERVAL",
            "EPOCH",
            "%(",
            "COLLECT_LIST(DISTINCT",
        ):
            assert construct not in spark_sql.upper(), (name, construct)


def test_parameters_are_rendered_as_typed_literals_only() -> None:
    sql = "SELECT format('%%s in %%s min', x, %(w)s), %(w)s * 2, %(n)s, %(d)s, %(b)s FROM t"
    values = {"w": 10.0, "n": 3, "d": DAY, "b": True}
    out = to_spark_sql(sql, values)
    assert "FORMAT_STRING('%s in %s min', x, '10')" in out
    assert "CAST(10.0 AS DOUBLE) * 2" in out  # a DECIMAL literal would change the arithmetic
    assert "CAST('2026-11-25' AS DATE)" in out and ", 3," in out and "TRUE" in out
    with pytest.raises(TranslationError, match="only numbers"):
        to_spark_sql("SELECT %(s)s", {"s": "1; DROP TABLE alerts"})
    with pytest.raises(TranslationError, match="no value"):
        to_spark_sql("SELECT %(missing)s", {})
    assert [pg_text(v) for v in (10.0, 0.5, 1e-05, 1e20, 2.5e15)] == [
        "10",
        "0.5",
        "1e-05",
        "1e+20",
        "2.5e+15",
    ]


@pytest.mark.parametrize(("seed", "day"), [(11, dt.date(2026, 11, 2)), (12, dt.date(2026, 11, 3))])
def test_spark_and_postgresql_give_the_same_alerts_on_generated_days(
    settings: Settings, spark: Any, seed: int, day: dt.date
) -> None:
    generate_day(settings, day, orders=2000, seed=seed)
    upload_day(settings, day)
    load_day(settings, day)
    detect_day(settings, day)
    postgres = list_alerts(settings, day)
    postgres_scores = scores(settings, day)
    assert {a["rule"] for a in postgres} == set(RULES)

    result = engine.detect_day_spark(settings, day, spark=spark)
    assert result.rows["orders"] == 2000 and {r.rule for r in result.rules} == set(RULES)
    in_lake = lake_alerts.read_alerts(settings, day)
    assert in_lake is not None
    assert by_id(in_lake.rows) == by_id(postgres)

    loaded = lake_alerts.load_alerts(settings, day)
    assert loaded.alerts == len(postgres) and loaded.replaced == len(postgres)
    assert loaded.recorded_runs  # the warehouse holds the same input day
    assert by_id(list_alerts(settings, day)) == by_id(postgres)
    assert scores(settings, day) == postgres_scores


def edge_day() -> DayBuilder:
    """Every rule firing, at its boundaries, where the two engines could part ways."""
    day = DayBuilder()
    for account in ("A3", "A4", "A5", "M1"):  # peers for OTR, sizes for the medians
        for k in range(20):
            day.filled(account, "OTR", "buy", 100, "10.00", f"15:{k:02d}:00")
    # Wash trades: a cross within 0.25 s (kept), one a microsecond across the clock's half
    # second (kept: a run of prints, not an interval of the clock), one a microsecond more
    # than window_s apart (not), linked accounts given in descending order (the alert sorts
    # them), and unequal fills that add up.
    day.filled("A2", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A1", "XYZ", "sell", 500, "100.00", "15:00:00.25")
    day.filled("A1", "XYZ", "buy", 400, "100.00", "16:00:00.499999")
    day.filled("A2", "XYZ", "sell", 400, "100.00", "16:00:00.5")
    day.filled("A1", "XYZ", "buy", 300, "100.00", "16:30:00")
    day.filled("A2", "XYZ", "sell", 300, "100.00", "16:30:00.500001")
    day.order("A1", "XYZ", "buy", 3000, "17:00:00", "101.25",
              [(1000, "101.25", "17:00:01.1"), (2000, "101.25", "17:00:01.2")])  # fmt: skip
    day.filled("A2", "XYZ", "sell", 1000, "101.25", "17:00:01.1")
    day.filled("A2", "XYZ", "sell", 2000, "101.25", "17:00:01.2")
    # Spoofing: three layers of uneven size (the average is not a whole number).
    for k in range(5):
        day.filled("A3", "SPF", "buy", 100, "20.00", f"15:0{k}:00")
    for k, qty in enumerate((5000, 5001, 5003)):
        day.order("A3", "SPF", "sell", qty, f"15:10:0{k}", "20.10", cancel_at="15:10:12.5")
    day.order("A3", "SPF", "buy", 100, "15:10:05", "20.02", [(100, "20.02", "15:10:06.25")])
    # Marking the close; excessive OTR with no trade at all (empty exec_ids).
    day.filled("A4", "MTC", "buy", 100, "50.00", "20:40:00")
    for price, at in [("50.10", "20:52:00"), ("50.25", "20:55:00"), ("50.40", "20:58:00")]:
        day.filled("A1", "MTC", "buy", 1000, price, at)
    for k in range(25):
        day.order("A2", "OTR", "sell", 100, f"16:{k:02d}:00", "10.50", cancel_at=f"16:{k:02d}:01")
    # Marking through the closing auction: a continuous fill stamped at the close itself
    # (continuous), and the print 0.3 s after it (fills of at-the-close orders).
    day.filled("A4", "AUC", "buy", 100, "50.00", "20:52:00")
    day.filled("A4", "AUC", "sell", 100, "50.02", "21:00:00")
    day.at_close("A5", "AUC", "buy", 5000, "50.60", "20:30:00", "21:00:00.3")
    day.filled("A5", "AUC", "buy", 100, "50.02", "20:58:00")
    day.filled("A5", "AUC", "buy", 100, "50.03", "20:59:50")
    day.at_close("A3", "AUC", "sell", 1000, "50.60", "20:40:00", "21:00:00.3")
    # Marking against the symbol's own moves: earlier trades every ten minutes with an
    # hour's gap (a change across seven buckets counts / sqrt(7)), a push of 0.7% that is
    # several typical moves in TYP (fired) and about one in NOI (not).
    for symbol, prices in (("TYP", ("10.00", "10.01", "10.03")), ("NOI", ("10.00", "10.06"))):
        for k, minute in enumerate([*range(0, 60, 10), *range(120, 165, 10)]):
            at = f"{18 + minute // 60:02d}:{minute % 60:02d}:30"
            day.filled("A4" if k % 2 else "A5", symbol, "buy" if k % 2 else "sell", 100,
                       prices[k % len(prices)], at)  # fmt: skip
        day.filled("A3", symbol, "buy", 100, "10.00", "20:51:00")
        day.filled("A1", symbol, "sell", 500, "9.97", "20:56:00")
        day.filled("A1", symbol, "sell", 500, "9.93", "20:59:00")
    # Front running, with a fractional lead.
    for k in range(10):
        day.filled("A3", "FRN", "buy", 100, "40.00", f"15:0{k}:00")
    day.filled("P1", "FRN", "buy", 300, "40.00", "15:20:00.5")
    day.order("C1", "FRN", "buy", 20000, "15:22:00", "40.20", [(20000, "40.15", "15:23:00")])
    day.filled("P1", "FRN", "sell", 300, "40.15", "15:30:00")
    return day


def test_edge_cases_agree_through_the_command_line(
    settings: Settings, spark: Any, conn: Any
) -> None:
    edge_day().write(Path(settings.lake_uri))
    load_day(settings, DAY)
    detect_day(settings, DAY)
    postgres = list_alerts(settings, DAY)
    assert {a["rule"] for a in postgres} == set(RULES)
    assert any(a["exec_ids"] == [] for a in postgres)  # OTR without trades

    done = runner.invoke(app, ["detect", "--engine", "spark", "--date", str(DAY), "--json"])
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["alerts"] == len(postgres) and report["jvm_start_seconds"] == 0.0
    lake_file = Path(settings.lake_uri) / "alerts" / f"trade_date={DAY}" / "alerts.csv"
    first = lake_file.read_bytes()
    assert by_id(lake_alerts.read_alerts(settings, DAY).rows) == by_id(postgres)  # type: ignore[union-attr]

    # One rule again: the file keeps the other rules' alerts, and the same bytes.
    again = runner.invoke(
        app, ["detect", "--engine", "spark", "--date", str(DAY), "--rule", "spoofing"]
    )
    assert again.exit_code == 0, again.stderr
    assert lake_file.read_bytes() == first

    conn.execute("DELETE FROM alerts")
    loaded = runner.invoke(app, ["load-alerts", "--date", str(DAY), "--json"])
    assert loaded.exit_code == 0, loaded.stderr
    assert json.loads(loaded.stdout)["alerts"] == len(postgres)
    assert by_id(list_alerts(settings, DAY)) == by_id(postgres)
    wash = [a for a in postgres if a["rule"] == "wash_trade"]
    assert [a["account_ids"] for a in wash] == [["A1", "A2"]] * 3
    assert sorted(len(a["exec_ids"]) for a in wash) == [2, 2, 4]  # two crosses; unequal fills
    assert all(isinstance(a["score"], Decimal) for a in postgres)
    marked = {a["symbol"]: a["account_ids"] for a in postgres if a["rule"] == "marking_the_close"}
    assert marked == {"MTC": ["A1"], "AUC": ["A5"], "TYP": ["A1"]}
    typ = next(a for a in postgres if a["rule"] == "marking_the_close" and a["symbol"] == "TYP")
    assert "times its typical 10-minute move earlier that day (0." in typ["explanation"]


def test_backfill_on_spark_detects_loads_alerts_and_then_has_nothing_to_do(
    settings: Settings, spark: Any
) -> None:
    day = "2026-11-27"  # the day after Thanksgiving: the session closes at 13:00 ET
    args = ["backfill", "--engine", "spark", "--start", day, "--end", day, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    (outcome,) = json.loads(first.stdout)["days"]
    assert [s["step"] for s in outcome["steps"]] == ["generate", "upload", "detect", "load-alerts"]
    assert outcome["new_work"] and outcome["steps"][2]["status"] == "detected"
    loaded = list_alerts(settings, dt.date.fromisoformat(day))
    assert loaded and {a["rule"] for a in loaded} <= set(RULES)

    again = json.loads(runner.invoke(app, args).stdout)["days"][0]
    assert not again["new_work"] and again["steps"][2]["status"] == "skipped"
    assert by_id(list_alerts(settings, dt.date.fromisoformat(day))) == by_id(loaded)


def test_a_bad_day_in_the_lake_is_bad_input(settings: Settings, spark: Any) -> None:
    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.executions[0]["symbol"] = ""  # NOT NULL in the warehouse
    day.write(Path(settings.lake_uri))
    result = runner.invoke(app, ["detect", "--engine", "spark", "--date", str(DAY)])
    assert result.exit_code == 3
    assert "executions.csv: empty values in required columns ['symbol']" in result.stderr


def test_missing_pyspark_or_java_is_a_configuration_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"surveil\[spark\]"):
        require_pyspark()
    result = runner.invoke(app, ["detect", "--engine", "spark", "--date", str(DAY)])
    assert result.exit_code == 2 and "surveil[spark]" in result.stderr
    monkeypatch.undo()

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(Path(settings.home)))
    with pytest.raises(ConfigError, match="Java runtime"):
        find_java()
    result = runner.invoke(app, ["detect", "--engine", "spark", "--date", str(DAY)])
    assert result.exit_code == 2 and "Java runtime" in result.stderr

    old = Path(settings.home) / "jdk8"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text("#!/bin/sh\necho 'java version \"1.8.0_402\"' >&2\n")
    (old / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(old))
    with pytest.raises(ConfigError, match="is Java 8; Spark 4 needs Java 17"):
        find_java()


def test_alerts_file_round_trips_postgresql_array_literals() -> None:
    items = ["A1", "with,comma", 'quote"d', "back\\slash", "", "NULL", "sp ace", "{brace}"]
    assert lake_alerts.parse_pg_array(lake_alerts.pg_array(items)) == items
    assert lake_alerts.pg_array([]) == "{}" and lake_alerts.parse_pg_array("{}") == []
    assert engine.pg_score(62.494999999999997) == Decimal("62.50")  # 15 digits, as PostgreSQL
    assert engine.spark_uri("s3://bucket/some/prefix/") == "s3a://bucket/some/prefix"
