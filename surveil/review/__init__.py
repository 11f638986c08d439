"""Alert review: cases on the deterministic alert_id, decisions, four-eyes, suppressions,
a hash-chained audit trail and STOR drafts (docs/review.md).

The rules live in PostgreSQL (sql/006_review.sql): every action is a call of one of its
SECURITY DEFINER functions, which check the transition, who is acting and the version the
caller last saw, and write the case and its event together. This package reads, checks the
input for a readable message before anything is sent, and maps the database's answers
(SQLSTATE SV400/SV404/SV409) to ReviewError (exit 2) and ReviewConflictError (exit 6).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from surveil import db
from surveil.errors import ReviewConflictError, ReviewError
from surveil.settings import Settings

STATUSES = ("open", "escalated", "pending", "closed")
DISPOSITIONS = ("false_positive", "no_further_action", "informal_action", "stor_filed", "duplicate")
BULK_DISPOSITIONS = tuple(d for d in DISPOSITIONS if d != "stor_filed")
APPROVAL_SCORE = 70  # a close of an alert scoring this or more waits for a second person
SYSTEM_ACTOR = "surveil"  # who the automatic events (opened, suppressed) name

SET_ACTOR = "SELECT set_config('surveil.actor', %s, false)"
WHO = "SELECT review_actor(), review_owner_session()"
RESOLVE_ID = """
SELECT alert_id FROM review_cases WHERE alert_id LIKE %s || '%%' ORDER BY alert_id LIMIT 2
"""
MIN_PREFIX = 6


def sqlstate_error(exc: psycopg.Error) -> Exception | None:
    """The review error a database error stands for, or None when it is not one of ours."""
    state = exc.sqlstate or ""
    message = (exc.diag.message_primary or str(exc)).strip()
    if state == "SV409":
        return ReviewConflictError(message)
    if state in ("SV400", "SV404", "SV403"):
        return ReviewError(message)
    return None


@contextmanager
def session(settings: Settings, actor: str | None = None) -> Iterator[psycopg.Connection]:
    """A migrated connection whose review actions name `actor` (else SURVEIL_USER). On a
    server where the login is a person's own role, the database names that role instead."""
    who = (actor if actor is not None else settings.user).strip()
    if not who:
        raise ReviewError("--as: the name of who acts must not be empty")
    with db.connect(settings) as conn:
        db.migrate(conn)
        conn.execute(SET_ACTOR, (who,))
        try:
            yield conn
        except psycopg.Error as exc:
            mapped = sqlstate_error(exc)
            if mapped is None:
                raise
            raise mapped from None


def actor_of(conn: psycopg.Connection) -> tuple[str, bool]:
    """Who the database says is acting, and whether that is only declared (advisory)."""
    row = conn.execute(WHO).fetchone()
    assert row is not None
    return str(row[0]), bool(row[1])


def resolve_alert(conn: psycopg.Connection, given: str) -> str:
    """A whole alert id from an id or a unique prefix of one (lists show 12 characters)."""
    text = given.strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{MIN_PREFIX},32}}", text):
        raise ReviewError(
            f"alert {given!r}: expected an alert id (32 hex characters, or its first "
            f"{MIN_PREFIX} or more)"
        )
    found = [r[0] for r in conn.execute(RESOLVE_ID, (text,)).fetchall()]
    if not found:
        raise ReviewError(f"alert {given}: no such alert under review")
    if len(found) > 1:
        raise ReviewError(f"alert {given}: more than one alert starts so; give more of the id")
    return str(found[0])


def require_comment(comment: str | None, what: str) -> str:
    if comment is None or not comment.strip():
        raise ReviewError(f"--comment: a comment is required to {what}")
    return comment.strip()


def check_disposition(value: str, allowed: tuple[str, ...] = DISPOSITIONS) -> str:
    if value not in allowed:
        raise ReviewError(f"--disposition {value!r}: expected one of {', '.join(allowed)}")
    return value
