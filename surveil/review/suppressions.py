"""Suppressions, and what detection does to cases: every new alert opens a case, an alert a
suppression in force covers is closed as suppressed, and a case whose alert a re-run changed
follows it, each with an automatic event.

A suppression is scoped to a rule and an account and/or a symbol. It covers an alert of
that rule whose accounts are all the suppression's account (an alert of two accounts is
never hidden by a suppression of one) and whose symbol is the suppression's (an alert over
every symbol of its account, `*`, is in none of them). It is in force
once approved by a second person, for trading days up to its expiry and while today is not
past its expiry; a revoked or expired one stops applying. Only a case nobody has acted on
is closed by it: a person's decision is never overridden by detection.

A re-run (new data loaded, other parameters, a new rule version) can give an alert under
the same id another score, symbol or accounts. The case then takes them (the queue, the
score filters and four-eyes read the alert as it is now; the case's `alert` keeps what it
was opened on), with a `changed` event naming both. A close that no longer holds goes back:
one made by one person on a score under the four-eyes threshold, now at or over it, waits
for a second person's approval of that same close (`pending`, requested by who closed it);
a suppressed alert that no suppression in force covers any longer (its symbol became `*`,
say) is open again. A close approved by a second person stands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from surveil.errors import ReviewError
from surveil.review import APPROVAL_SCORE, SYSTEM_ACTOR, require_comment, session
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
# Cases of the day's alerts whose alert a re-run changed take its score, symbol and accounts;
# a close that no longer holds goes back (module docstring); one `changed` event each.
FOLLOW = """
WITH moved AS (
    SELECT c.alert_id, c.status, c.disposition, c.closed_by, c.suppression_id,
           c.score AS was_score, c.symbol AS was_symbol, c.account_ids AS was_accounts,
           a.score, a.symbol, a.account_ids,
           CASE WHEN c.status <> 'closed' THEN c.status
                WHEN c.disposition = 'suppressed' AND NOT EXISTS (
                     SELECT 1 FROM suppressions s WHERE review_covers(s, a)) THEN 'open'
                WHEN c.disposition <> 'suppressed' AND c.approved_by IS NULL
                     AND c.score < %(approval)s AND a.score >= %(approval)s THEN 'pending'
                ELSE 'closed' END AS to_status
    FROM review_cases c JOIN alerts a ON a.alert_id = c.alert_id
    WHERE a.trade_date = %(d)s AND a.rule = ANY(%(rules)s)
      AND (c.score, c.symbol, c.account_ids) IS DISTINCT FROM (a.score, a.symbol, a.account_ids)
), followed AS (
    UPDATE review_cases c SET score = m.score, symbol = m.symbol, account_ids = m.account_ids,
           status = m.to_status,
           pending_from = CASE WHEN m.to_status = 'pending' AND m.status = 'closed'
                               THEN 'open' ELSE c.pending_from END,
           pending_disposition = CASE WHEN m.to_status = 'pending' AND m.status = 'closed'
                                      THEN c.disposition ELSE c.pending_disposition END,
           pending_by = CASE WHEN m.to_status = 'pending' AND m.status = 'closed'
                             THEN c.closed_by ELSE c.pending_by END,
           pending_at = CASE WHEN m.to_status = 'pending' AND m.status = 'closed'
                             THEN clock_timestamp() ELSE c.pending_at END,
           disposition = CASE WHEN m.to_status = 'closed' THEN c.disposition END,
           closed_by = CASE WHEN m.to_status = 'closed' THEN c.closed_by END,
           closed_at = CASE WHEN m.to_status = 'closed' THEN c.closed_at END,
           suppression_id = CASE WHEN m.to_status = 'closed' THEN c.suppression_id END
    FROM moved m WHERE c.alert_id = m.alert_id
    RETURNING m.*
)
INSERT INTO review_events (actor, action, alert_id, suppression_id, from_status, to_status,
                           comment, detail, event_id, at, prev_hash, hash)
SELECT %(actor)s::text, 'changed', alert_id,
       CASE WHEN to_status = 'open' AND status = 'closed' THEN suppression_id END,
       status, to_status,
       'the alert changed on re-detection'
       || CASE WHEN to_status = 'pending' AND status = 'closed'
               THEN format(': the close by %%s now needs a second person (score %%s >= %%s)',
                           closed_by, score, %(approval)s::int)
               WHEN to_status = 'open' AND status = 'closed'
               THEN format(': suppression %%s no longer covers it', suppression_id)
               ELSE '' END,
       jsonb_build_object('by', %(by)s::text, 'score', jsonb_build_array(was_score, score),
                          'symbol', jsonb_build_array(was_symbol, symbol),
                          'account_ids', jsonb_build_array(was_accounts, account_ids)),
       0, now(), '', ''
FROM followed ORDER BY alert_id
"""
# What detection itself writes into a case's history; a case with nothing else is untouched.
SYSTEM_ACTIONS = ["opened", "suppressed", "changed"]
# Untouched open cases of the day's alerts that a suppression in force covers: closed as
# suppressed, each with an event naming the suppression.
APPLY = """
WITH covered AS (
    SELECT DISTINCT ON (c.alert_id) c.alert_id, s.suppression_id, s.reason
    FROM review_cases c
    JOIN alerts a ON a.alert_id = c.alert_id
    JOIN suppressions s ON review_covers(s, a)
    WHERE a.trade_date = %(d)s AND a.rule = ANY(%(rules)s) AND c.status = 'open'
      AND c.assignee IS NULL
      AND NOT EXISTS (SELECT 1 FROM review_events e
                      WHERE e.alert_id = c.alert_id AND e.action <> ALL(%(system)s))
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
    """Bring the cases of alerts a re-run changed up to date, open cases for the day's new
    alerts of `rules` and close the ones a suppression in force covers; returns how many of
    the day's alerts of these rules stand suppressed.
    Runs inside the caller's transaction (detect's, load-alerts'): the alerts and their
    cases are committed together."""
    conn.execute(SET_SYSTEM_ACTOR, (SYSTEM_ACTOR,))
    params = {"d": day, "rules": rules, "actor": SYSTEM_ACTOR, "by": by,
              "approval": APPROVAL_SCORE, "system": SYSTEM_ACTIONS}  # fmt: skip
    conn.execute(FOLLOW, params)
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
