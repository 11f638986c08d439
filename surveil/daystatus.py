"""Which days are done, and which are not: `surveil status` and the days `run-day
--catch-up` runs. The warehouse's verdict is the ledger's (surveil/ledger.py); this adds the
data folder and the lake: the days they know, and whether the lake still holds the manifest
each loaded day was loaded from; watch's journal: the days it built, and whether a
day loaded from a record of it misses messages journalled since; and the corrections later
days loaded: whether a loaded day still holds a fill one busted or corrected."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from surveil import calendar, db, ledger
from surveil.corrections import CorrectedFill, corrected_later
from surveil.detect import resolve_params
from surveil.errors import BadInputError
from surveil.lake import Lake, open_lake, read_manifest
from surveil.manifest import COLUMNS, parse_day_dir_name, read_local_manifest
from surveil.settings import Settings
from surveil.watch.record import unrecorded_messages


def known_days(settings: Settings, lake: Lake) -> tuple[set[dt.date], dict[dt.date, str]]:
    """Days in the local data folder, and the days in the lake (those with a manifest)
    with their manifest's sha256."""
    local: set[dt.date] = set()
    data = settings.data_path
    if data.exists():
        for child in data.iterdir():
            day = parse_day_dir_name(child.name)
            if day and read_local_manifest(child) is not None:
                local.add(day)
    return local, lake.manifest_sha256s()


# Whether the lake still holds the manifest a loaded day was loaded from. `differs`: the
# lake holds another (the day replaced there, by `upload --force`, and not loaded since);
# `missing`: none (the day's batch record gone from the lake: validate cannot prove it);
# `incomplete`: the same, but a data file the load read is gone from beside it.
LakeCopy = Literal["same", "differs", "missing", "incomplete"]

# The files every load reads (the manifest may list more, which load does not need).
LOADED_FILES = tuple(f"{table}.csv" for table in COLUMNS)


def lake_copy(
    lake: Lake,
    state: ledger.DayState,
    lake_shas: dict[dt.date, str],
    lake_files: dict[dt.date, set[str]],
) -> LakeCopy | None:
    """LakeCopy of a loaded day (None when it is not loaded). The manifest object's sha256
    first; only when that differs is the manifest read, as load reads it. A data file
    changed in place under the same manifest is validate's to find (it re-hashes them)."""
    loaded = state.manifest_sha256
    if loaded is None:
        return None
    sha = lake_shas.get(state.trade_date)
    if sha is None:
        return "missing"
    if sha != loaded:
        try:
            manifest = read_manifest(lake, state.trade_date)
        except BadInputError:
            return "differs"
        if manifest.sha256 != loaded:
            return "differs"
    return "incomplete" if missing_files(state.trade_date, lake_files) else "same"


def missing_files(day: dt.date, lake_files: dict[dt.date, set[str]]) -> list[str]:
    """The files every load reads that the lake's folder of `day` lacks."""
    present = lake_files.get(day, set())
    return [name for name in LOADED_FILES if name not in present]


def next_stage(
    state: ledger.DayState, lake: LakeCopy | None, unrecorded: int = 0, corrected: int = 0
) -> str | None:
    """The first stage not done, with the lake's copy weighed: a day replaced in the lake
    is to be loaded again, a day gone from it uploaded again; a day whose load is a record
    of watch's journal that misses `unrecorded` of its messages recorded again; and a day
    still holding `corrected` fills a later day busted or corrected imported again."""
    if unrecorded:
        return "generate"
    if lake in ("missing", "incomplete"):
        return "upload"
    if lake == "differs":
        return "load"
    if corrected:
        return "import-fix"
    return state.next_stage


# The days `watch` journalled messages of, by a skip scan of watch_messages_day_idx (a
# plain DISTINCT would read every journalled message's index entry).
WATCHED_DAYS = """
WITH RECURSIVE d AS (
    SELECT min(trade_date) AS t FROM watch_messages
    UNION ALL
    SELECT (SELECT min(trade_date) FROM watch_messages WHERE trade_date > d.t) FROM d
    WHERE d.t IS NOT NULL
)
SELECT t FROM d WHERE t IS NOT NULL
"""


@dataclass
class Survey:
    """What the data folder, the lake and the warehouse know of the days in a range."""

    lake: Lake
    local: set[dt.date]  # days in the data folder
    lake_shas: dict[dt.date, str]  # days in the lake, their manifest's sha256
    lake_files: dict[dt.date, set[str]]  # the objects in each day's folder of the lake
    states: dict[dt.date, ledger.DayState]  # days the warehouse has a trace of
    # days `watch` built (journalled) that may have no other trace: nobody ran run-day
    watched: set[dt.date] = field(default_factory=set)
    # loaded records of watch's journal, and how many of the day's messages they miss
    unrecorded: dict[dt.date, int] = field(default_factory=dict)
    # loaded days' fills that a later day's correction names
    corrected: dict[dt.date, list[CorrectedFill]] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings, start: dt.date | None, end: dt.date | None) -> Survey:
        params = resolve_params(settings.rules_file)
        lake = open_lake(settings)
        local, lake_shas = known_days(settings, lake)
        lake_files = lake.day_files()
        with db.connect(settings) as conn:
            db.migrate(conn)
            states = ledger.day_states(conn, start, end, params)
            watched = {row[0] for row in conn.execute(WATCHED_DAYS)}
            unrecorded = unrecorded_messages(conn, start, end)
            corrected = corrected_later(conn, start, end)
        return cls(lake, local, lake_shas, lake_files, states, watched, unrecorded, corrected)

    def known(self, start: dt.date | None, end: dt.date | None) -> set[dt.date]:
        """Every day any of them knows, between `start` and `end` (either may be None)."""
        return {
            d
            for d in self.local | set(self.lake_shas) | set(self.states) | self.watched
            if (start is None or d >= start) and (end is None or d <= end)
        }

    def state(self, day: dt.date) -> tuple[ledger.DayState, LakeCopy | None, int, int]:
        """The day's ledger state, its LakeCopy, the journal's messages of it that its
        load (a record of the journal) misses, and its fills later days corrected."""
        state = self.states.get(day, ledger.DayState(day))
        copy = lake_copy(self.lake, state, self.lake_shas, self.lake_files)
        return state, copy, self.unrecorded.get(day, 0), len(self.corrected.get(day, ()))


@dataclass
class StatusResult:
    days: list[dict[str, Any]]
    gaps: list[dt.date]  # completed sessions shown that are not done: surveillance gaps


def day_status(
    settings: Settings, start: dt.date | None = None, end: dt.date | None = None
) -> StatusResult:
    """One row per day, every stage of it: every trading day from `start` (default: the
    earliest day the data folder, the lake or the warehouse knows) to `end` (default: the
    last completed session), traces or not, and every day known in that range (a future
    day run with --allow-future, say). A trading day up to the last completed session that
    is not done is a gap; nothing known and no range: no rows, no gap."""
    survey = Survey.of(settings, start, end)
    known = survey.known(start, end)
    last_session = calendar.last_completed_session()
    first = start or (min(known) if known else None)
    shown = set(known)
    if first is not None:
        shown |= set(calendar.trading_days(first, end or last_session))
    rows, gaps = [], []
    for day in sorted(shown):
        state, copy, unrecorded, corrected = survey.state(day)
        row = _status_row(
            state, day in survey.local, day in survey.lake_shas, copy, unrecorded, corrected
        )
        if copy == "incomplete":
            row["lake_files_missing"] = missing_files(day, survey.lake_files)
        if corrected:
            row["fills_corrected_later"] = [f.describe() for f in survey.corrected[day]]
        rows.append(row)
        if not row["done"] and calendar.is_trading_day(day) and day <= last_session:
            gaps.append(day)
    return StatusResult(rows, gaps)


def _status_row(
    state: ledger.DayState,
    generated: bool,
    uploaded: bool,
    lake: LakeCopy | None,
    unrecorded: int,
    corrected: int,
) -> dict[str, Any]:
    stage = next_stage(state, lake, unrecorded, corrected)
    return {
        "trade_date": state.trade_date.isoformat(),
        "trading_day": calendar.is_trading_day(state.trade_date),
        "generated": generated,
        "unrecorded_messages": unrecorded,
        "uploaded": uploaded,
        "lake_manifest": lake,
        "loaded_rows": state.loaded_rows,
        "load_run": state.load_run_id,
        "validated": state.validation,
        "validation_run": state.validation_id,
        "detected": state.detection,
        "detect_run": state.detect_run_id,
        "detected_over_validation": state.detected_over,
        "detect_error": state.detect_error,
        "next_stage": stage,
        "done": stage is None,
    }


def catch_up_days(settings: Settings, until: dt.date) -> list[dt.date]:
    """Every trading day up to `until` that is not done, oldest first, from the earliest
    day the warehouse, the lake or the data folder knows; with nothing known yet, just
    `until` (backfill covers history). Each such day, run through run_day, resumes at its
    first unfinished stage: a day loaded and validated but undetected is detected, not
    loaded again. A day known after `until` moves nothing."""
    survey = Survey.of(settings, None, until)
    known = survey.known(None, until)
    if not known:
        return [until] if calendar.is_trading_day(until) else []
    days = calendar.trading_days(min(known), until)
    return [day for day in days if next_stage(*survey.state(day)) is not None]
