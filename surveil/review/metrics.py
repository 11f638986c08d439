"""Figures for supervision over a range of trading days: where the cases stand, how they
were decided, how often each rule is a false positive, and how fast the queue moves.

Suppressed alerts are counted in the status and disposition figures but left out of the
false-positive rate and the time to close: nobody decided them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from surveil.errors import ReviewError
from surveil.review import session
from surveil.settings import Settings

BY_STATUS = """
SELECT status, count(*) FROM review_cases
WHERE trade_date BETWEEN %(start)s AND %(end)s GROUP BY 1 ORDER BY 1
"""
BY_DISPOSITION = """
SELECT disposition, count(*) FROM review_cases
WHERE trade_date BETWEEN %(start)s AND %(end)s AND status = 'closed' GROUP BY 1 ORDER BY 1
"""
BY_RULE = """
SELECT rule, count(*) AS alerts,
       count(*) FILTER (WHERE status <> 'closed') AS still_open,
       count(*) FILTER (WHERE status = 'closed' AND disposition <> 'suppressed') AS decided,
       count(*) FILTER (WHERE disposition = 'false_positive') AS false_positives,
       count(*) FILTER (WHERE disposition = 'suppressed') AS suppressed,
       count(*) FILTER (WHERE disposition = 'stor_filed') AS stor_filed
FROM review_cases WHERE trade_date BETWEEN %(start)s AND %(end)s GROUP BY rule ORDER BY rule
"""
TIMES = """
SELECT extract(epoch FROM now() - min(opened_at) FILTER (WHERE status <> 'closed')),
       (SELECT alert_id FROM review_cases
        WHERE trade_date BETWEEN %(start)s AND %(end)s AND status <> 'closed'
        ORDER BY opened_at, alert_id LIMIT 1),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - opened_at))
           FILTER (WHERE status = 'closed' AND disposition <> 'suppressed')
FROM review_cases WHERE trade_date BETWEEN %(start)s AND %(end)s
"""


@dataclass
class Metrics:
    start: dt.date
    end: dt.date
    by_status: dict[str, int] = field(default_factory=dict)
    by_disposition: dict[str, int] = field(default_factory=dict)
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    oldest_open_age_s: float | None = None
    oldest_open_alert: str | None = None
    median_time_to_close_s: float | None = None


def metrics(settings: Settings, start: dt.date, end: dt.date) -> Metrics:
    if start > end:
        raise ReviewError(f"--from {start} is after --to {end}")
    params = {"start": start, "end": end}
    result = Metrics(start, end)
    with session(settings) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one moment's figures
        result.by_status = {s: int(n) for s, n in conn.execute(BY_STATUS, params)}
        result.by_disposition = {d: int(n) for d, n in conn.execute(BY_DISPOSITION, params)}
        for rule, alerts, still_open, decided, fps, suppressed, stor in conn.execute(
            BY_RULE, params
        ):
            result.by_rule.append(
                {
                    "rule": rule, "alerts": alerts, "open": still_open, "decided": decided,
                    "false_positives": fps, "suppressed": suppressed, "stor_filed": stor,
                    "false_positive_rate": fps / decided if decided else None,
                }
            )  # fmt: skip
        row = conn.execute(TIMES, params).fetchone()
    if row is not None:
        result.oldest_open_age_s = float(row[0]) if row[0] is not None else None
        result.oldest_open_alert = row[1]
        result.median_time_to_close_s = float(row[2]) if row[2] is not None else None
    return result
