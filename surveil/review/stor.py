"""STOR drafts: a suspicious transaction and order report, drafted from one or more alerts
in the sections of the template in the Annex of Commission Delegated Regulation (EU)
2016/957, as JSON (for a tool) and Markdown (for the people who sign it off).

surveil never submits anything: a draft is a file an officer completes, approves (a second
person, `surveil review approve --stor N`) and files with the competent authority through
the authority's own channel. The draft's JSON is stored with its sha256 so the file filed
can be shown to be the one approved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from surveil import evidence
from surveil.errors import ReviewError
from surveil.review import actor_of, resolve_alert, session
from surveil.review.cases import HISTORY, HISTORY_COLUMNS, load_case
from surveil.settings import Settings

SIDES = {"1": "buy", "2": "sell", "5": "sell short", "6": "sell short exempt"}
ORDER_TYPES = {"1": "market", "2": "limit", "3": "stop", "4": "stop limit"}
# The alert as it is now (the one the evidence and the case's score are of), or, when a
# re-run no longer produces it, as the case opened on it.
ALERT = """
SELECT coalesce((SELECT to_jsonb(a) - 'created_at' FROM alerts a WHERE a.alert_id = c.alert_id),
                c.alert)
FROM review_cases c WHERE c.alert_id = %s
"""
ACCOUNTS = """
SELECT a.account_id, a.account_type, a.beneficial_owner_id, a.firm_id, f.firm_name
FROM accounts a LEFT JOIN firms f ON f.trade_date = a.trade_date AND f.firm_id = a.firm_id
WHERE a.trade_date = %s AND a.account_id = ANY(%s) ORDER BY a.account_id
"""
SAVE = "SELECT review_stor_save(%s, %s, %s)"
DECIDE = "SELECT review_decide_stor(%s, %s, %s)"


def _rule_description(rule: str) -> str:
    from surveil.detect import RULES

    module = RULES.get(rule)
    doc = (module.__doc__ or "") if module else ""
    return " ".join(doc.strip().split("\n\n")[0].split()) or rule


def _reporting_entity(settings: Settings) -> dict[str, Any]:
    missing = [
        name
        for name, value in (
            ("SURVEIL_FIRM_NAME", settings.firm_name),
            ("SURVEIL_FIRM_LEI", settings.firm_lei),
            ("SURVEIL_FIRM_CONTACT", settings.firm_contact),
        )
        if not value
    ]
    if missing:
        raise ReviewError(f"{', '.join(missing)}: set the reporting entity before drafting a STOR")
    return {
        "name": settings.firm_name,
        "lei": settings.firm_lei,
        "contact": settings.firm_contact,
        "capacity": "person professionally arranging or executing transactions",
    }


def _orders(found: evidence.Evidence | None) -> list[dict[str, Any]]:
    """The orders and transactions the rule named, in time order."""
    if found is None:
        return []
    return [
        {
            "time_utc": e.at.astimezone(dt.UTC).isoformat(), "event": e.kind,
            "account_id": e.account_id, "instrument": e.symbol, "order_id": e.cl_ord_id,
            "execution_id": e.exec_id, "side": SIDES.get(e.side, e.side),
            "order_type": ORDER_TYPES.get(e.order_type, e.order_type), "quantity": e.quantity,
            "price": str(e.price) if isinstance(e.price, Decimal) else e.price,
            "venue": e.venue,
        }
        for e in found.events
        if e.named
    ]  # fmt: skip


def _instrument(symbol: str, orders: list[dict[str, Any]]) -> str:
    """The alert's instrument; for an alert over several (`*`), those its orders were in."""
    if symbol != "*":
        return symbol
    return ", ".join(sorted({o["instrument"] for o in orders})) or symbol


def _alert_part(conn: psycopg.Connection, alert_id: str) -> dict[str, Any]:
    case = load_case(conn, alert_id)
    row = conn.execute(ALERT, (alert_id,)).fetchone()
    snapshot = dict(row[0]) if row else {}
    history = [
        dict(zip(HISTORY_COLUMNS, r, strict=True)) for r in conn.execute(HISTORY, (alert_id,))
    ]
    found = evidence.alert_evidence(conn, alert_id) if case["produced"] else None
    orders = _orders(found)
    accounts = conn.execute(ACCOUNTS, (case["trade_date"], list(case["account_ids"]))).fetchall()
    comments = [
        f"{h['at'].astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, {h['actor']} ({h['action']}): {h['comment']}"
        for h in history
        if h["comment"]
    ]
    return {
        "alert_id": alert_id,
        "trade_date": str(case["trade_date"]),
        "rule": case["rule"],
        "instrument": _instrument(case["symbol"], orders),
        "score": float(case["score"]),
        "orders_and_transactions": orders,
        "suspicion": {
            "nature": _rule_description(case["rule"]),
            "reasons": snapshot.get("explanation", ""),
            "parameters": snapshot.get("params", {}),
            "analyst_comments": comments,
        },
        "suspected": [
            {
                "account_id": a,
                "account_type": t,
                "beneficial_owner_id": o,
                "firm_id": f,
                "firm_name": n,
            }
            for a, t, o, f, n in accounts
        ],
        "still_produced": case["produced"],
    }


def build(
    conn: psycopg.Connection, settings: Settings, alert_ids: list[str], who: str
) -> dict[str, Any]:
    parts = [_alert_part(conn, a) for a in alert_ids]
    return {
        "template": "Commission Delegated Regulation (EU) 2016/957, Annex (STOR)",
        "status": "DRAFT - not submitted; surveil never submits a STOR",
        "drafted_by": who,
        "section_1_reporting_entity": _reporting_entity(settings),
        "section_2_transactions_and_orders": [
            {
                "alert_id": p["alert_id"],
                "trade_date": p["trade_date"],
                "instrument": p["instrument"],
                "orders_and_transactions": p["orders_and_transactions"],
            }
            for p in parts
        ],  # fmt: skip
        "section_3_nature_of_suspicion": [
            {"alert_id": p["alert_id"], "rule": p["rule"], "score": p["score"], **p["suspicion"]}
            for p in parts
        ],
        "section_4_suspected_persons": sorted(
            {json.dumps(s, sort_keys=True) for p in parts for s in p["suspected"]}
        ),
        "section_5_additional_information": {
            "alerts": [
                {"alert_id": p["alert_id"], "still_produced": p["still_produced"]} for p in parts
            ],
            "notes": "Evidence is the time-ordered orders and fills surveil holds for the "
            "trading day; complete with anything known outside surveil before filing.",
        },
        "section_6_documentation_attached": [],
    }


def markdown(draft_id: int, content: dict[str, Any]) -> str:
    """The draft for people, section by section."""
    entity = content["section_1_reporting_entity"]
    lines = [
        f"# STOR draft {draft_id}", "", f"**{content['status']}**", "",
        f"Template: {content['template']}. Drafted by {content['drafted_by']}.", "",
        "## Section 1 - Identity of the entity submitting the STOR", "",
        f"- Name: {entity['name']}", f"- LEI: {entity['lei']}",
        f"- Contact: {entity['contact']}", f"- Capacity: {entity['capacity']}", "",
        "## Section 2 - Transactions and orders", "",
    ]  # fmt: skip
    for part in content["section_2_transactions_and_orders"]:
        lines += [f"### Alert {part['alert_id']} ({part['instrument']}, {part['trade_date']})", ""]
        lines += ["| time (UTC) | event | account | side | quantity | price | venue | order type | order |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for o in part["orders_and_transactions"]:
            lines.append(
                f"| {o['time_utc']} | {o['event']} | {o['account_id']} | {o['side']} | "
                f"{o['quantity']} | {o['price'] or ''} | {o['venue'] or ''} | {o['order_type']} | "
                f"{o['order_id']} |"
            )
        lines.append("")
    lines += ["## Section 3 - Nature of and reasons for the suspicion", ""]
    for s in content["section_3_nature_of_suspicion"]:
        lines += [f"### Alert {s['alert_id']}: {s['rule']} (score {s['score']})", "",
                  f"Nature: {s['nature']}", "", f"Reasons: {s['reasons']}", "",
                  f"Rule parameters: `{json.dumps(s['parameters'], sort_keys=True)}`", ""]  # fmt: skip
        lines += [f"- {c}" for c in s["analyst_comments"]] + [""]
    lines += ["## Section 4 - Persons whose orders or transactions are suspicious", ""]
    lines += [f"- {p}" for p in content["section_4_suspected_persons"]] + [""]
    lines += ["## Section 5 - Additional information", "",
              content["section_5_additional_information"]["notes"], "",
              "## Section 6 - Documentation attached", "", "(none yet)", ""]  # fmt: skip
    return "\n".join(lines)


@dataclass
class Draft:
    draft_id: int
    json_path: Path
    markdown_path: Path
    sha256: str
    alert_ids: list[str]


def draft(
    settings: Settings, given: list[str], out_dir: Path | None = None, actor: str | None = None
) -> Draft:
    """Draft a STOR from the alerts; the draft's row and its files appear together or not."""
    if not given:
        raise ReviewError("stor: name at least one alert")
    _reporting_entity(settings)
    folder = out_dir if out_dir is not None else settings.home / "stor"
    if folder.exists() and not folder.is_dir():
        raise ReviewError(f"--out {folder}: not a folder")
    with session(settings, actor) as conn:
        ids = sorted({resolve_alert(conn, g) for g in given})
        who, _ = actor_of(conn)
        content = build(conn, settings, ids, who)
        text = json.dumps(content, indent=2, sort_keys=True) + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()
        with conn.transaction():
            row = conn.execute(SAVE, (ids, Jsonb(json.loads(text)), digest)).fetchone()
            assert row is not None
            draft_id = int(row[0])
            folder.mkdir(parents=True, exist_ok=True)
            paths = (folder / f"stor-{draft_id}.json", folder / f"stor-{draft_id}.md")
            for path, body in zip(paths, (text, markdown(draft_id, content)), strict=True):
                partial = path.with_name(path.name + ".partial")
                partial.write_text(body, encoding="utf-8")
                partial.replace(path)
    return Draft(draft_id, paths[0], paths[1], digest, ids)


def decide(
    settings: Settings, draft_id: int, approve: bool, comment: str | None, actor: str | None = None
) -> str:
    from surveil.review import require_comment

    if not approve:
        comment = require_comment(comment, "reject")
    with session(settings, actor) as conn, conn.transaction():
        conn.execute(DECIDE, (draft_id, approve, comment))
        who, _ = actor_of(conn)
    return who
