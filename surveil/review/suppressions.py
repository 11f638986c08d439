"""Suppressions, and what detection does with them: every new alert opens a case, and an
alert a suppression in force covers is closed as suppressed, with an automatic event.

A suppression is scoped to a rule and an account and/or a symbol. It covers an alert of
that rule whose accounts are all the suppression's account (an alert of two accounts is
never hidden by a suppression of one) and whose symbol is the suppression's (an alert over
every symbol of its account, `*`, is in none of them). It is in force
once approved by a second person, for trading days up to its expiry and while today is not
past its expiry; a revoked or expired one stops applying. Only a case nobody has acted on
is closed by it: a person's decision is never overridden by detection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from surveil.errors import ReviewError
from surveil.review import SYSTEM_ACTOR, require_comment, session
from surveil.settings import Settings

# The day's alerts of the rules just run that have no case yet open one, each with its
# event; the case keeps the alert as it is now.
OPEN_CASES = """
WITH opened AS (
    INSERT INTO review_cases (alert_id, trade_date, rule, symbol, account_ids, score, alert)
    SELECT a.alert_id, a.trade_date, a.rule, a.symbol, a.account_ids, a.score,
           to_jsonb(a) - 'created_at'
    FROM alerts a
    WHERE a.trade_date = %(d)s AND a.rule = ANY(%(rules)s)
    ON CONFLICT (alert_id) DO NOTHING
    RETURNING alert_id, rule
)
INSERT INTO review_events (actor, action, alert_id, to_status, detail, event_id, at,
                           prev_hash, hash)
SELECT %(actor)s::text, 'opened', alert_id, 'open', jsonb_build_object('by', %(by)s::text), 0, now(), '', ''
FROM opened ORDER BY alert_id
"""
SET_SYSTEM_ACTOR = "SELECT set_config('surveil.actor', %s, true)"
# Untouched open cases of the day's alerts that a suppression in force covers: closed as
# suppressed, each with an event naming the suppression.
APPLY = """
WITH covered AS (
    SELECT DISTINCT ON (c.alert_id) c.alert_id, s.suppression_id, s.reason
    FROM review_cases c
    JOIN alerts a ON a.alert_id = c.alert_id
    JOIN suppressions s ON s.rule = a.rule AND s.status = 'active'
     AND s.expires_on >= a.trade_date AND s.expires_on >= current_date
     AND (s.account_id IS NULL OR a.account_ids <@ ARRAY[s.account_id::text])
     AND (s.symbol IS NULL OR s.symbol = a.symbol)
    WHERE a.trade_date = %(d)s AND a.rule = ANY(%(rules)s) AND c.status = 'open'
      AND c.assignee IS NULL
      AND NOT EXISTS (SELECT 1 FROM review_events e
                      WHERE e.alert_id = c.alert_id AND e.action <> 'opened')
    ORDER BY c.alert_id, s.suppression_id
), closed AS (
    UPDATE review_cases c SET status = 'closed', disposition = 'suppressed',
           suppression_id = v.suppression_id, closed_by = %(actor)s,
           closed_at = clock_timestamp()
    FROM covered v WHERE c.alert_id = v.alert_id
    RETURNING c.alert_id, v.suppression_id, v.reason
)
INSERT INTO review_events (actor, action, alert_id, suppression_id, from_status, to_status,
                           disposition, comment, event_id, at, prev_hash, hash)
SELECT %(actor)s::text, 'suppressed', alert_id, suppression_id, 'open', 'closed', 'suppressed',
       'suppression ' || suppression_id || ': ' || reason, 0, now(), '', ''
FROM closed ORDER BY alert_id
"""
SUPPRESSED_COUNT = """
SELECT count(*) FROM review_cases
WHERE trade_date = %(d)s AND rule = ANY(%(rules)s) AND disposition = 'suppressed'
  AND EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = review_cases.alert_id)
"""


def apply_to_day(
    conn: psycopg.Connection, day: dt.date, rules: list[str], by: str = "detect"
) -> int:
    """Open cases for the day's new alerts of `rules` and close the ones a suppression in
    force covers; returns how many of the day's alerts of these rules stand suppressed.
    Runs inside the caller's transaction (detect's, load-alerts'): the alerts and their
    cases are committed together."""
    conn.execute(SET_SYSTEM_ACTOR, (SYSTEM_ACTOR,))
    params = {"d": day, "rules": rules, "actor": SYSTEM_ACTOR, "by": by}
    conn.execute(OPEN_CASES, params)
    conn.execute(APPLY, params)
    row = conn.execute(SUPPRESSED_COUNT, params).fetchone()
    return int(row[0]) if row else 0


SUPPRESS = "SELECT review_suppress(%s, %s, %s, %s, %s)"
DECIDE = "SELECT review_decide_suppression(%s, %s, %s)"
LIST = """
SELECT suppression_id, rule, account_id, symbol, reason, expires_on, status, created_by,
       created_at, decided_by, decided_at,
       status = 'active' AND expires_on >= current_date AS in_force,
       (SELECT count(*) FROM review_cases c WHERE c.suppression_id = s.suppression_id) AS alerts
FROM suppressions s
WHERE %(all)s OR (status IN ('pending', 'active') AND expires_on >= current_date)
ORDER BY suppression_id
"""
LIST_COLUMNS = (
    "suppression_id", "rule", "account_id", "symbol", "reason", "expires_on", "status",
    "created_by", "created_at", "decided_by", "decided_at", "in_force", "alerts",
)  # fmt: skip


@dataclass
class Suppression:
    suppression_id: int
    status: str
    actor: str


def propose(
    settings: Settings,
    rule: str,
    *,
    account: str | None,
    symbol: str | None,
    reason: str | None,
    expires: dt.date | None,
    actor: str | None = None,
) -> Suppression:
    """A suppression, pending until someone else approves it."""
    from surveil.detect import RULES

    if rule not in RULES:
        raise ReviewError(f"--rule {rule!r}: rules are {', '.join(RULES)}")
    if not (account and account.strip()) and not (symbol and symbol.strip()):
        raise ReviewError("suppress: a suppression needs a scope, --account and/or --symbol")
    reason = require_comment(reason, "suppress (--reason)")
    if expires is None:
        raise ReviewError("--expires: a suppression must have an expiry date (YYYY-MM-DD)")
    if expires < dt.date.today():
        raise ReviewError(f"--expires {expires}: in the past")
    with session(settings, actor) as conn, conn.transaction():
        row = conn.execute(SUPPRESS, (rule, account, symbol, reason, expires)).fetchone()
        who = conn.execute("SELECT review_actor()").fetchone()
    assert row is not None and who is not None
    return Suppression(int(row[0]), "pending", str(who[0]))


def decide(
    settings: Settings, suppression_id: int, decision: str, comment: str | None = None,
    actor: str | None = None,
) -> Suppression:  # fmt: skip
    """approve, reject (comment required) or revoke (comment required)."""
    if decision in ("reject", "revoke"):
        comment = require_comment(comment, decision)
    with session(settings, actor) as conn, conn.transaction():
        conn.execute(DECIDE, (suppression_id, decision, comment))
        row = conn.execute(
            "SELECT status, review_actor() FROM suppressions WHERE suppression_id = %s",
            (suppression_id,),
        ).fetchone()
    assert row is not None
    return Suppression(suppression_id, str(row[0]), str(row[1]))


def listing(settings: Settings, everything: bool = False) -> list[dict[str, Any]]:
    with session(settings) as conn:
        rows = conn.execute(LIST, {"all": everything}).fetchall()
    return [dict(zip(LIST_COLUMNS, r, strict=True)) for r in rows]
