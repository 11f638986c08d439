"""The review queue and the decisions on one alert or many (the rules: sql/006_review.sql)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from surveil import evidence
from surveil.errors import ReviewError
from surveil.review import (
    BULK_DISPOSITIONS,
    STATUSES,
    actor_of,
    check_disposition,
    require_comment,
    resolve_alert,
    session,
)
from surveil.settings import Settings

QUEUE_STATUSES = ("open", "escalated", "pending")  # what is still someone's work

CASE_COLUMNS = (
    "alert_id", "trade_date", "rule", "symbol", "account_ids", "score", "status",
    "disposition", "assignee", "pending_disposition", "pending_by", "batch_id", "closed_by",
    "approved_by", "closed_at", "suppression_id", "opened_at", "updated_by", "updated_at",
    "version", "produced", "explanation",
)  # fmt: skip
QUEUE = """
SELECT c.alert_id, c.trade_date, c.rule, c.symbol, c.account_ids, c.score, c.status,
       c.disposition, c.assignee, c.pending_disposition, c.pending_by, c.batch_id,
       c.closed_by, c.approved_by, c.closed_at, c.suppression_id, c.opened_at, c.updated_by,
       c.updated_at, c.version, EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = c.alert_id),
       c.alert->>'explanation'
FROM review_cases c
WHERE c.status = ANY(%(statuses)s)
  AND (%(start)s::date IS NULL OR c.trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR c.trade_date <= %(end)s)
  AND (%(rule)s::text IS NULL OR c.rule = %(rule)s)
  AND (%(assignee)s::text IS NULL OR c.assignee = %(assignee)s
       OR (%(assignee)s = '-' AND c.assignee IS NULL))
  AND (%(min_score)s::numeric IS NULL OR c.score >= %(min_score)s)
  AND (%(max_score)s::numeric IS NULL OR c.score <= %(max_score)s)
ORDER BY c.trade_date, c.score DESC, c.alert_id
LIMIT %(limit)s
"""
QUEUE_COUNT = """
SELECT count(*) FROM review_cases c
WHERE c.status = ANY(%(statuses)s)
  AND (%(start)s::date IS NULL OR c.trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR c.trade_date <= %(end)s)
  AND (%(rule)s::text IS NULL OR c.rule = %(rule)s)
  AND (%(assignee)s::text IS NULL OR c.assignee = %(assignee)s
       OR (%(assignee)s = '-' AND c.assignee IS NULL))
  AND (%(min_score)s::numeric IS NULL OR c.score >= %(min_score)s)
  AND (%(max_score)s::numeric IS NULL OR c.score <= %(max_score)s)
"""
ONE_CASE = """
SELECT c.alert_id, c.trade_date, c.rule, c.symbol, c.account_ids, c.score, c.status,
       c.disposition, c.assignee, c.pending_disposition, c.pending_by, c.batch_id,
       c.closed_by, c.approved_by, c.closed_at, c.suppression_id, c.opened_at, c.updated_by,
       c.updated_at, c.version, EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = c.alert_id),
       c.alert->>'explanation'
FROM review_cases c
WHERE c.alert_id = %s
"""
CURRENT_ALERT = """
SELECT rule_version, params, score, explanation, cl_ord_ids, exec_ids
FROM alerts WHERE alert_id = %s
"""
SNAPSHOT = "SELECT alert FROM review_cases WHERE alert_id = %s"
HISTORY = """
SELECT event_id, at, actor, action, from_status, to_status, disposition, comment, detail,
       batch_id, draft_id, suppression_id
FROM review_events WHERE alert_id = %s ORDER BY event_id
"""
HISTORY_COLUMNS = (
    "event_id", "at", "actor", "action", "from_status", "to_status", "disposition", "comment",
    "detail", "batch_id", "draft_id", "suppression_id",
)  # fmt: skip
SUPPRESSION_OF = "SELECT suppression_id, reason, created_by, decided_by FROM suppressions WHERE suppression_id = %s"
DRAFTS_OF = "SELECT draft_id, status, created_by, decided_by FROM stor_drafts WHERE %s = ANY(alert_ids) ORDER BY draft_id"
ACT = "SELECT review_act(%s, %s, %s, %s, %s, %s)"
DECIDE = "SELECT review_decide(%s, %s, %s, %s)"
DECIDE_BATCH = "SELECT review_decide_batch(%s, %s, %s)"
BULK_CLOSE = "SELECT review_bulk_close(%s, %s, %s)"
BATCH_EXISTS = "SELECT count(*) FROM review_cases WHERE batch_id = %s"


@dataclass(frozen=True)
class QueueFilter:
    start: dt.date | None = None
    end: dt.date | None = None
    rule: str | None = None
    statuses: tuple[str, ...] = QUEUE_STATUSES
    assignee: str | None = None  # "-": nobody's
    min_score: Decimal | None = None
    max_score: Decimal | None = None

    def params(self, limit: int | None) -> dict[str, Any]:
        for status in self.statuses:
            if status not in STATUSES:
                raise ReviewError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
        if self.start and self.end and self.start > self.end:
            raise ReviewError(f"--from {self.start} is after --to {self.end}")
        return {
            "statuses": list(self.statuses), "start": self.start, "end": self.end,
            "rule": self.rule, "assignee": self.assignee, "min_score": self.min_score,
            "max_score": self.max_score, "limit": limit,
        }  # fmt: skip


@dataclass
class Queue:
    total: int
    cases: list[dict[str, Any]]


def queue(settings: Settings, where: QueueFilter, limit: int | None = 200) -> Queue:
    """The cases the filter selects, oldest trading day first and best score first within a
    day, at most `limit` of them (None: all), with how many there are in all."""
    params = where.params(limit)
    with session(settings) as conn:
        rows = conn.execute(QUEUE, params).fetchall()
        total = len(rows)
        if limit is not None and total >= limit:
            found = conn.execute(QUEUE_COUNT, params).fetchone()
            total = int(found[0]) if found else total
    return Queue(total, [dict(zip(CASE_COLUMNS, r, strict=True)) for r in rows])


@dataclass
class CaseView:
    case: dict[str, Any]
    alert: dict[str, Any]  # the alert now (when produced), else as the case opened on it
    history: list[dict[str, Any]]
    evidence: evidence.Evidence | None
    suppression: dict[str, Any] | None = None
    drafts: list[dict[str, Any]] = field(default_factory=list)


def load_case(conn: psycopg.Connection, alert_id: str) -> dict[str, Any]:
    row = conn.execute(ONE_CASE, (alert_id,)).fetchone()
    if row is None:
        raise ReviewError(f"alert {alert_id}: no such alert under review")
    return dict(zip(CASE_COLUMNS, row, strict=True))


def show(settings: Settings, given: str) -> CaseView:
    """One case: the alert (its explanation and parameters), its evidence, its history."""
    with session(settings) as conn:
        alert_id = resolve_alert(conn, given)
        case = load_case(conn, alert_id)
        snapshot = conn.execute(SNAPSHOT, (alert_id,)).fetchone()
        alert = dict(snapshot[0]) if snapshot else {}
        current = conn.execute(CURRENT_ALERT, (alert_id,)).fetchone()
        if current is not None:
            names = ("rule_version", "params", "score", "explanation", "cl_ord_ids", "exec_ids")
            alert.update(zip(names, current, strict=True))
        history = [
            dict(zip(HISTORY_COLUMNS, r, strict=True)) for r in conn.execute(HISTORY, (alert_id,))
        ]
        found = evidence.alert_evidence(conn, alert_id) if case["produced"] else None
        view = CaseView(case, alert, history, found)
        if case["suppression_id"] is not None:
            s = conn.execute(SUPPRESSION_OF, (case["suppression_id"],)).fetchone()
            if s:
                view.suppression = dict(
                    zip(("suppression_id", "reason", "created_by", "decided_by"), s, strict=True)
                )
        view.drafts = [
            dict(zip(("draft_id", "status", "created_by", "decided_by"), r, strict=True))
            for r in conn.execute(DRAFTS_OF, (alert_id,))
        ]
    return view


@dataclass
class Decision:
    alert_id: str
    action: str
    from_status: str
    to_status: str
    version: int
    actor: str
    advisory: bool  # the actor is declared (--as), not a login the database knows


NEEDS_COMMENT = {"close", "reopen", "escalate", "comment"}


def act(
    settings: Settings,
    given: str,
    action: str,
    *,
    comment: str | None = None,
    disposition: str | None = None,
    assignee: str | None = None,
    actor: str | None = None,
    expected_version: int | None = None,
) -> Decision:
    """One action on one alert. `expected_version` is the case's version the caller decided
    on (`show` gives it); by default the version read just before acting. When someone else
    changed the case in between, nothing is done and ReviewConflictError names them."""
    if action in NEEDS_COMMENT:
        comment = require_comment(comment, action)
    if action == "close":
        check_disposition(disposition or "")
    if action == "assign" and (assignee is None or not assignee.strip()):
        raise ReviewError("assign: name the assignee (or --nobody to unassign)")
    with session(settings, actor) as conn:
        alert_id = resolve_alert(conn, given)
        before = load_case(conn, alert_id)
        expected = before["version"] if expected_version is None else expected_version
        with conn.transaction():
            conn.execute(ACT, (alert_id, action, comment, disposition, assignee, expected))
        after = load_case(conn, alert_id)
        who, advisory = actor_of(conn)
    return Decision(
        alert_id, action, before["status"], after["status"], after["version"], who, advisory
    )


def decide(
    settings: Settings,
    given: list[str],
    approve: bool,
    *,
    comment: str | None = None,
    actor: str | None = None,
) -> list[Decision]:
    """Approve or reject pending closes, all in one transaction (all or none)."""
    if not approve:
        comment = require_comment(comment, "reject")
    if not given:
        raise ReviewError("name the alerts to decide (or --batch N for a bulk close)")
    decisions = []
    with session(settings, actor) as conn:
        ids = [resolve_alert(conn, g) for g in given]
        who, advisory = actor_of(conn)
        with conn.transaction():
            for alert_id in ids:
                before = load_case(conn, alert_id)
                row = conn.execute(
                    DECIDE, (alert_id, approve, comment, before["version"])
                ).fetchone()
                after = load_case(conn, alert_id)
                assert row is not None
                decisions.append(
                    Decision(alert_id, "approve" if approve else "reject", before["status"],
                             after["status"], int(row[0]), who, advisory)
                )  # fmt: skip
    return decisions


@dataclass
class BatchResult:
    batch_id: int | None
    alerts: int
    action: str
    actor: str
    advisory: bool
    alert_ids: list[str] = field(default_factory=list)


def bulk_close(
    settings: Settings,
    where: QueueFilter,
    disposition: str,
    comment: str | None,
    *,
    actor: str | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Every open or escalated case the filter selects, closed as one batch: each gets its
    own event, and the batch waits for a second person (`approve --batch`)."""
    comment = require_comment(comment, "bulk close")
    check_disposition(disposition, BULK_DISPOSITIONS)
    if where.start is None and where.end is None and where.rule is None:
        raise ReviewError(
            "bulk-close: give --from/--to (or --date) or --rule; it never closes everything"
        )
    statuses = tuple(s for s in where.statuses if s in ("open", "escalated"))
    if not statuses:
        raise ReviewError("bulk-close: only open or escalated alerts can be closed")
    selected = QueueFilter(where.start, where.end, where.rule, statuses, where.assignee,
                           where.min_score, where.max_score)  # fmt: skip
    with session(settings, actor) as conn:
        ids = [r[0] for r in conn.execute(QUEUE, selected.params(None)).fetchall()]
        who, advisory = actor_of(conn)
        if not ids:
            raise ReviewError("bulk-close: the filter selects no open or escalated alert")
        if dry_run:
            return BatchResult(None, len(ids), "bulk_close (dry run)", who, advisory, ids)
        with conn.transaction():
            row = conn.execute(BULK_CLOSE, (ids, disposition, comment)).fetchone()
    assert row is not None
    return BatchResult(int(row[0]), len(ids), "bulk_close", who, advisory, ids)


def decide_batch(
    settings: Settings, batch: int, approve: bool, *, comment: str | None = None,
    actor: str | None = None,
) -> BatchResult:  # fmt: skip
    if not approve:
        comment = require_comment(comment, "reject")
    with session(settings, actor) as conn:
        found = conn.execute(BATCH_EXISTS, (batch,)).fetchone()
        if not found or not found[0]:
            raise ReviewError(f"--batch {batch}: no such bulk close")
        who, advisory = actor_of(conn)
        with conn.transaction():
            row = conn.execute(DECIDE_BATCH, (batch, approve, comment)).fetchone()
    assert row is not None
    return BatchResult(batch, int(row[0]), "approve" if approve else "reject", who, advisory)
