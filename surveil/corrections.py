"""Fills of a loaded day that a later day's bust, correction or trade cancel names.

A venue busts or corrects a fill, or cancels a trade report, on a later day than the fill's
more often than not (a clearly erroneous trade reviewed overnight). import-fix takes the
fill off its day when it builds both days at once; a day imported and loaded before the
correction came keeps it, and the later day's corrections.csv (the warehouse's
fill_corrections) names it. While a loaded day holds such a fill, that day is not done:
status shows it and run-day refuses it until the day is imported again with the log that
holds the correction (docs/fix-import.md, "Corrections").

ExecIDs are unique within a day only (FIX), so a correction names the fill of the latest
loaded day before its own that holds that ExecID: busts come days, not months, later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

# Each correction's fills (an ExecutionReport's: the ExecID it names; a trade's: its sides,
# "<trade id>-<n>") in each loaded day before the correction's, by a primary-key probe of
# that day's partition; kept for the latest such day only. Days before `start` cannot be
# the latest day of a correction whose fills show from `start` on, so they are not probed.
CORRECTED_LATER = """
WITH loaded AS (
    SELECT DISTINCT trade_date FROM load_runs
    WHERE %(start)s::date IS NULL OR trade_date >= %(start)s::date
), hits AS (
    SELECT d.trade_date AS fill_day, e.exec_id, c.kind, c.trade_date AS corrected_on,
           c.file, c.line,
           max(d.trade_date) OVER (PARTITION BY c.trade_date, c.file, c.line, c.ref) AS latest
    FROM fill_corrections c
    JOIN loaded d ON d.trade_date < c.trade_date
    JOIN LATERAL (
        SELECT e.exec_id FROM executions e
        WHERE e.trade_date = d.trade_date
          AND e.exec_id >= CASE WHEN c.kind IN ('trade cancel', 'trade replace')
                                THEN c.ref || '-' ELSE c.ref END
          AND e.exec_id < CASE WHEN c.kind IN ('trade cancel', 'trade replace')
                               THEN c.ref || '.' ELSE c.ref || chr(1) END
          AND (c.kind NOT IN ('trade cancel', 'trade replace')
               OR substr(e.exec_id, length(c.ref) + 2) ~ '^[0-9]+$')
    ) e ON true
)
SELECT fill_day, exec_id, kind, corrected_on, file, line FROM hits
WHERE fill_day = latest AND (%(end)s::date IS NULL OR fill_day <= %(end)s::date)
ORDER BY fill_day, exec_id, corrected_on
"""


@dataclass(frozen=True)
class CorrectedFill:
    """A fill of `fill_day` that a correction of a later day names."""

    fill_day: dt.date
    exec_id: str
    kind: str  # bust, correction, trade cancel, trade replace
    corrected_on: dt.date
    file: str  # the log and line of the correction
    line: int

    def describe(self) -> str:
        return f"{self.exec_id} ({self.kind} on {self.corrected_on}, {self.file}:{self.line})"


def corrected_later(
    conn: psycopg.Connection, start: dt.date | None, end: dt.date | None
) -> dict[dt.date, list[CorrectedFill]]:
    """The fills of each loaded day from `start` to `end` (either None: unbounded) that a
    later day's correction names."""
    found: dict[dt.date, list[CorrectedFill]] = {}
    for row in conn.execute(CORRECTED_LATER, {"start": start, "end": end}):
        fill = CorrectedFill(*row)
        found.setdefault(fill.fill_day, []).append(fill)
    return found


def describe_corrected(day: dt.date, fills: list[CorrectedFill], shown: int = 3) -> str:
    """One line: how many of the day's fills later days corrected, the first few named."""
    names = "; ".join(f.describe() for f in fills[:shown])
    more = f"; and {len(fills) - shown} more" if len(fills) > shown else ""
    logs = sorted({f.file for f in fills})
    return (
        f"{day}: {len(fills)} of its fills {'was' if len(fills) == 1 else 'were'} busted or "
        f"corrected on a later day: {names}{more}. Import the day again with the log that "
        f"holds the correction (`surveil import-fix --date {day} --force <the day's logs> "
        f"{' '.join(logs)}`), `surveil upload --date {day} --force`, then run-day"
    )
