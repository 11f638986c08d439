"""Detection while the day trades: detect's rules over the day so far, every few seconds.

Each pass runs every rule's SQL (surveil/detect, the same INSERT_ALERTS) over the rows the
watcher has written for the day, replacing that rule's alerts of the day as `detect`
does: so an alert has the alert_id, score and explanation `detect` would give it over the
same rows, and at the end of the day the watched day's alerts are detect's. Alerts not
sent before are returned (and remembered in watch_alerts_sent in the same transaction)
for the caller to write as JSON lines: one line per new alert_id, however many passes see
it; and so are the alerts sent before that the rules no longer find over more of the day
(withdrawn: a line of their own, so the desk's pager and the record never disagree
silently). The window is the day so far: every rule is defined over a trading day (spoofing's
layers, excessive_otr's peer medians, marking_the_close's closing window), so a shorter
window would give alerts detect never gives.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql

from surveil import calendar, db
from surveil.detect import DETECT_SESSION_SETTINGS, replace_rule_alerts
from surveil.load import partition_name
from surveil.review import suppressions

NEW_ALERTS = """
SELECT a.alert_id, a.trade_date, a.rule, a.rule_version, a.symbol, a.account_ids,
       a.cl_ord_ids, a.exec_ids, a.score, a.explanation, a.created_at
FROM alerts a
WHERE a.trade_date = %s AND a.rule = ANY(%s)
  AND NOT EXISTS (
      SELECT 1 FROM watch_alerts_sent s WHERE s.alert_id = a.alert_id AND s.withdrawn_at IS NULL
  )
ORDER BY a.rule, a.alert_id
"""
# Sent, or sent again after it was withdrawn (the pattern holds again over more of the day).
MARK_SENT = """
INSERT INTO watch_alerts_sent (alert_id, trade_date, rule) VALUES (%s, %s, %s)
ON CONFLICT (alert_id) DO UPDATE SET rule = excluded.rule, withdrawn_at = NULL,
    sent_at = clock_timestamp()
"""
# Sent alerts of these rules that the pass no longer finds (sql/009_watch_withdrawn_alerts.sql).
WITHDRAW = """
UPDATE watch_alerts_sent s SET withdrawn_at = clock_timestamp()
WHERE s.trade_date = %s AND s.rule = ANY(%s) AND s.withdrawn_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.trade_date = s.trade_date AND a.alert_id = s.alert_id)
RETURNING s.alert_id, s.trade_date, s.rule, s.withdrawn_at
"""
# A pass runs beside the day's ingestion, which needs a core of its own to keep up: the
# rules' parallel workers would take it (a pass is the same plan on one core, a little
# longer; the ingestion is what the alerts wait for).
ONE_CORE = "SET LOCAL max_parallel_workers_per_gather = 0"


ANALYZE_DAY = "ANALYZE {}, {}, {}, {}"


def analyze_day(conn: psycopg.Connection, day: dt.date) -> None:
    """Fresh statistics of the day's partitions: the rules' plans depend on them (load
    analyzes a day it loads; unanalysed, a join of the day with its accounts is planned
    from guesses and front_running takes ten times as long)."""
    tables = ("firms", "accounts", "orders", "executions")
    conn.execute(
        sql.SQL(ANALYZE_DAY).format(*(sql.Identifier(partition_name(t, day)) for t in tables))
    )


def detect_pass(
    conn: psycopg.Connection,
    day: dt.date,
    params: dict[str, dict[str, Any]],
    names: list[str],
    lock_s: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the rules over the day in the caller's transaction: the alerts new to watch,
    and the alerts it sent that the rules no longer find (withdrawn), each as a JSON line's
    object (as_json, withdrawal_json)."""
    db.lock_day(conn, day, lock_s, shared=True)
    db.lock_day(conn, day, lock_s, namespace=db.DETECT_LOCK_NAMESPACE)
    conn.execute(DETECT_SESSION_SETTINGS)
    conn.execute(ONE_CORE)
    close_utc = calendar.session(day).close_utc
    for name in names:
        replace_rule_alerts(conn, day, name, params[name], close_utc)
    suppressions.apply_to_day(conn, day, names, by="watch")
    new = []
    with conn.cursor() as cur:
        cur.execute(NEW_ALERTS, (day, names))
        columns = [c.name for c in cur.description or ()]
        for row in cur.fetchall():
            new.append(dict(zip(columns, row, strict=True)))
        cur.executemany(MARK_SENT, [(a["alert_id"], a["trade_date"], a["rule"]) for a in new])
        cur.execute(WITHDRAW, (day, names))
        withdrawn = [withdrawal_json(*row) for row in cur.fetchall()]
    return [as_json(a) for a in new], withdrawn


def as_json(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON line of an alert: what the desk's pager needs, with the alert_id to
    de-duplicate (a line may be written again if the process dies before its commit)."""
    return {
        "alert_id": alert["alert_id"],
        "trade_date": alert["trade_date"].isoformat(),
        "rule": alert["rule"],
        "rule_version": alert["rule_version"],
        "symbol": alert["symbol"],
        "account_ids": list(alert["account_ids"]),
        "cl_ord_ids": list(alert["cl_ord_ids"]),
        "exec_ids": list(alert["exec_ids"]),
        "score": float(alert["score"]),
        "explanation": alert["explanation"],
        "detected_at": alert["created_at"].isoformat(),
        "status": "new",
    }


def withdrawal_json(
    alert_id: str, day: dt.date, rule: str, withdrawn_at: dt.datetime
) -> dict[str, Any]:
    """The JSON line telling the desk that an alert it was sent no longer holds: a later
    pass, over more of the day, does not find it (nor will the next morning's record)."""
    return {
        "alert_id": alert_id,
        "trade_date": day.isoformat(),
        "rule": rule,
        "status": "withdrawn",
        "withdrawn_at": withdrawn_at.isoformat(),
    }
