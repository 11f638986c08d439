"""`surveil import-fix`: FIX engine logs → trading days in the data folder.

The day folders written are exactly what `generate` writes (firms, accounts, orders,
executions CSVs and `_manifest.json`, source kind "fix"), so upload, load, validate and
detect work unchanged. Each day is built in a hidden folder beside its final place and
renamed into place whole; nothing is written at all while any input is invalid (unless
`skip_invalid`), so a failed import leaves no trace. The rules: docs/fix-import.md."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from surveil import dayfolder
from surveil import fix as package
from surveil.errors import BadInputError
from surveil.fix.daybuilder import (
    DayBuilder,
    _write_csv,
)
from surveil.fix.fields import (
    APP_TYPES,
    Invalid,
    MessageFields,
    Reject,
    _first,
    _header,
    exchange_date,
    message_time,
)
from surveil.fix.fills import correction_in
from surveil.fix.parser import SESSION_TYPES, BadMessage, FixMessage, LogStats, read_log
from surveil.fix.spill import (
    Spill,
)
from surveil.manifest import (
    COLUMNS,
    CORRECTIONS_FILE,
    FileEntry,
    Manifest,
    day_dir_name,
    read_local_manifest,
    sha256_file,
)
from surveil.settings import Settings

IMPORTER_VERSION = "1"
REJECTS_FILE = "rejects.csv"
REJECT_COLUMNS: tuple[str, ...] = ("file", "line", "msg_type", "reason", "message")
SHOWN_IN_ERROR = 5  # invalid messages named in the error line
REFUSALS = frozenset({"3", "j"})
_SESSION_RESETS_AND_REFUSALS = frozenset({"A", *REFUSALS})  # Logon may reset MsgSeqNum


ImportStatus = Literal["imported", "unchanged"]


@dataclass
class DayImport:
    trade_date: dt.date
    path: Path
    status: ImportStatus
    orders: int
    executions: int
    rejected: int
    synthesized_orders: int
    messages: dict[str, int]
    manifest_sha256: str


@dataclass
class ImportResult:
    days: list[DayImport] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=dict)  # valid messages read, by MsgType
    orders: int = 0
    executions: int = 0
    skipped: int = 0
    rejected: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    # per log file: bytes outside any message (line ends, engine prefixes, comments, junk)
    bytes_outside_messages: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- the import


def _sha256(path: Path, *, probe: bool = False) -> str:
    """The log's sha256 (only its first block read when `probe`); unreadable is bad input."""
    try:
        return sha256_file(path, probe=probe)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read(
    path: Path, name: str, max_message: int, stats: LogStats
) -> Iterator[FixMessage | BadMessage]:
    """read_log, with an unreadable file (a corrupt or cut gzip, say) as bad input."""
    try:
        yield from read_log(path, name, max_message, stats)
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: cannot be read ({exc})") from None


class Refusals:
    """Which application messages the counterparty refused (session Reject 3 or
    BusinessMessageReject j, by RefSeqNum against the other direction's MsgSeqNum).

    Only refusals of imported messages (routed to a day being built) are collected."""

    KEEP = 100_000  # messages remembered per direction; a refusal comes within seconds
    TRIM_AT = 2 * KEEP  # ... forgetting the older ones when twice that many

    def __init__(self) -> None:
        # (SenderCompID, TargetCompID) -> MsgSeqNum -> message number, or its bitwise
        # complement (~number, always negative) for a message not imported, so that number 0
        # (watch's first journalled message) is told apart; header values as Latin-1 text
        self.by_direction: dict[tuple[str, str], dict[str, int]] = {}
        self.refused: set[int] = set()

    def see(
        self, number: int, m: FixMessage, imported: bool, fields: MessageFields | None = None
    ) -> None:
        """Note message `number` (`fields` its MessageFields when read already)."""
        sender, target, seq = fields.header() if fields is not None else _header(m.body)
        direction = (sender, target)
        msg_type = m.msg_type
        if msg_type in _SESSION_RESETS_AND_REFUSALS:
            if msg_type == "A" and (seq == "1" or _first(m.body, b"\x01141=") == "Y"):
                self.by_direction.pop(direction, None)
            elif msg_type in REFUSALS:
                ref = _first(m.body, b"\x0145=")
                other = self.by_direction.get((target, sender), {})
                if ref is not None and other.get(ref, -1) >= 0:
                    self.refused.add(other[ref])
                return
        seen = self.by_direction.get(direction)
        if seen is None:
            seen = self.by_direction[direction] = {}
        elif seq in seen:
            del seen[seq]  # a repeated MsgSeqNum: now the latest
        seen[seq] = number if imported else ~number
        if len(seen) > self.TRIM_AT:
            recent = itertools.islice(seen.items(), len(seen) - self.KEEP, None)
            self.by_direction[direction] = dict(recent)


@dataclass
class _Reading:
    """One pass over the logs: the days built and what was counted on the way."""

    spill: Spill
    builders: dict[dt.date, DayBuilder] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)
    per_day_messages: dict[dt.date, Counter[str]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    refusals: Refusals = field(default_factory=Refusals)
    stats: dict[str, LogStats] = field(default_factory=dict)  # by source name

    def bad(self, item: BadMessage, day: dt.date | None) -> None:
        """A message that failed verification: a reject, unless dated off the day imported."""
        when = exchange_date(item.time) if item.time else None
        if day is not None and when is not None and when != day:
            self.skipped["invalid, on another date"] += 1
            return
        self.rejects.append(
            Reject(item.source, item.line, item.msg_type or "", item.reason, item.display(), when)
        )

    def not_imported(self, number: int, item: FixMessage) -> None:
        """A session message, or one of a type not imported: counted by its SendingTime."""
        mt = item.msg_type
        self.refusals.see(number, item, False)
        sent = item.first(52)
        when = exchange_date(sent.decode("latin-1")) if sent else None
        self.skipped[
            "session message" if mt in SESSION_TYPES else f"not imported (MsgType {mt})"
        ] += 1
        if when is not None:
            _count(self.per_day_messages, when, mt)

    def builder(self, day: dt.date) -> DayBuilder:
        builder = self.builders.get(day)
        if builder is None:
            cap = max(package.HOT_ENTRIES // (len(self.builders) + 1), package.MIN_HOT_ENTRIES)
            for other in self.builders.values():
                other.limit(cap)
            builder = self.builders[day] = DayBuilder(day, self.spill, cap)
            builder.earlier = lambda kind, ref: self.take_off_before(day, kind, ref)
        return builder

    def take_off_before(self, day: dt.date, kind: str, ref: str) -> bool:
        """Apply a correction dated `day` to the latest earlier date being built that holds
        the fill (or trade) it names."""
        for other in sorted((d for d in self.builders if d < day), reverse=True):
            if self.builders[other].take_off(kind, ref):
                return True
        return False


def _count(per_day: dict[dt.date, Counter[str]], day: dt.date, msg_type: str) -> None:
    counts = per_day.get(day)
    if counts is None:
        counts = per_day[day] = Counter()
    counts[msg_type] += 1


def _read_logs(
    sources: list[tuple[str, Path]],
    day: dt.date | None,
    refused: set[int],
    spill: Spill,
    max_message: int,
) -> _Reading:
    """Read every log once, applying each message to its date's builder as it comes;
    messages numbered in `refused` are skipped."""
    r = _Reading(spill)
    messages, per_day, skipped = r.messages, r.per_day_messages, r.skipped
    see = r.refusals.see
    number = 0
    last_day, counts, builder = None, Counter[str](), None  # the date of the last message
    for name, path in sources:
        stats = r.stats[name] = LogStats()
        for item in _read(path, name, max_message, stats):
            number += 1
            if isinstance(item, BadMessage):
                r.bad(item, day)
                continue
            mt = item.msg_type
            messages[mt] += 1
            if mt not in APP_TYPES:
                r.not_imported(number, item)
                continue
            message = MessageFields(item)
            try:
                iso, when = message_time(message.values)
            except Invalid as exc:
                see(number, item, False)
                r.rejects.append(Reject(item.source, item.line, mt, str(exc), item.display(), None))
                continue
            if when != last_day:
                last_day, builder = when, None
                counts = per_day.get(when) or per_day.setdefault(when, Counter())
            counts[mt] += 1
            imported = day is None or when == day
            see(number, item, imported, message)
            if not imported:
                assert day is not None
                if when > day and day in r.builders and number not in refused:
                    if (correction := correction_in(message)) and r.builders[day].take_off(
                        *correction
                    ):
                        skipped["on a later date, taking off a fill of the date"] += 1
                        continue
                skipped["on another date"] += 1
            elif number in refused:
                skipped["refused by the counterparty (Reject 3 / j)"] += 1
            else:
                if builder is None:
                    builder = r.builder(when)
                builder.add(message, iso)
    for builder in r.builders.values():
        skipped.update(builder.skipped)
    return r


def import_fix(
    settings: Settings,
    paths: list[Path],
    day: dt.date | None = None,
    *,
    skip_invalid: bool = False,
    force: bool = False,
) -> ImportResult:
    """Import FIX logs into day folders of the data folder; the rules: docs/fix-import.md."""
    if not paths:
        raise BadInputError("import-fix: no FIX log files given")
    for path in paths:
        if not path.is_file():
            raise BadInputError(f"{path}: no such file")
    names = _source_names(paths)
    for path in paths:
        _sha256(path, probe=True)  # an unreadable file fails here, as the digests would
    with dayfolder.staging(settings.data_path, "import-fix") as work:
        return _import_in(settings, names, paths, day, work, skip_invalid, force)


def _import_in(
    settings: Settings,
    names: list[str],
    paths: list[Path],
    day: dt.date | None,
    work: Path,
    skip_invalid: bool,
    force: bool,
) -> ImportResult:
    """import_fix, with `work` its staging folder in the data folder."""
    # The import makes no reference cycles: the collector would only walk the day's state
    # over and over while it is built.
    collecting = gc.isenabled()
    gc.disable()
    # The files' digests (for the manifest) are computed while they are read: hashlib
    # leaves the interpreter free, so that costs the import no time on a second core.
    with ThreadPoolExecutor(1) as hashing:
        digests = [hashing.submit(_sha256, path) for path in paths]
        try:
            sources = list(zip(names, paths, strict=True))

            def files_meta(outside: dict[str, int]) -> list[dict[str, Any]]:
                return [
                    {
                        "name": name,
                        "sha256": digest.result(),
                        "bytes": path.stat().st_size,
                        "bytes_outside_messages": outside[name],
                    }
                    for name, path, digest in zip(names, paths, digests, strict=True)
                ]

            return _import(
                settings, sources, files_meta, day, work, skip_invalid=skip_invalid, force=force
            )
        finally:
            if collecting:
                gc.enable()


Staged = dict[dt.date, tuple[Path, dict[str, FileEntry]]]  # each day's folder and files
# (date, final folder, manifest source, status, staged folder, files, the date's rejects)
Plan = tuple[dt.date, Path, dict[str, Any], ImportStatus, Path, dict[str, FileEntry], list[Reject]]


def _import(
    settings: Settings,
    sources: list[tuple[str, Path]],
    files_meta: Callable[[dict[str, int]], list[dict[str, Any]]],
    day: dt.date | None,
    work: Path,
    *,
    skip_invalid: bool,
    force: bool,
) -> ImportResult:
    """import_fix, with `work` a scratch folder in the data folder (removed by the caller);
    `files_meta(bytes outside messages by log)` describes the logs once they are read."""
    reading, staged = _read_and_stage(settings, sources, day, work)
    outside = {name: stats.outside_messages for name, stats in reading.stats.items()}
    meta = files_meta(outside)
    rejects = reading.rejects
    for when in sorted(reading.builders):
        rejects.extend(reading.builders[when].rejects)
    if day is not None:
        rejects = [r for r in rejects if r.day in (None, day)]
    if rejects and not skip_invalid:
        raise BadInputError(_describe(rejects))

    # Days to write: with orders, executions, corrections of other days' fills, or dated
    # rejects.
    dated = {r.day for r in rejects if r.day is not None}
    days = sorted(
        {d for d, (_, files) in staged.items() if _holds_rows(files)}
        | (dated if day is None else dated & {day})
    )
    if not days:
        raise BadInputError(_nothing_imported([name for name, _ in sources], day, reading))
    plans = [
        _plan(settings, when, work, staged, reading, meta, rejects, skip_invalid, force)
        for when in days
    ]
    result = _publish(plans, skip_invalid)
    result.messages = dict(sorted(reading.messages.items()))
    result.bytes_outside_messages = outside
    result.rejects = rejects
    result.rejected = len(rejects)
    result.skipped_by_reason = dict(sorted(reading.skipped.items()))
    result.skipped = sum(reading.skipped.values())
    return result


def _holds_rows(files: dict[str, FileEntry]) -> bool:
    tables = ("orders.csv", "executions.csv", CORRECTIONS_FILE)
    return any(files[name].rows for name in tables if name in files)


def _read_and_stage(
    settings: Settings, sources: list[tuple[str, Path]], day: dt.date | None, work: Path
) -> tuple[_Reading, Staged]:
    """Read the logs until no imported message turns out refused, and stage each date's
    tables in `work` (the data folder's file system)."""
    refused: set[int] = set()
    for attempt in itertools.count(1):
        with Spill(work / f"spill-{attempt}.sqlite") as spill:
            reading = _read_logs(sources, day, refused, spill, settings.fix_max_message_bytes)
            if reading.refusals.refused <= refused:
                staged: Staged = {}
                for when in sorted(reading.builders):
                    folder = work / f"day-{when}"
                    folder.mkdir()
                    staged[when] = (folder, reading.builders[when].write(folder))
                return reading, staged
        # Imported messages were refused after they were applied: read again, skipping them
        # as they pass.
        refused = reading.refusals.refused
        (work / f"spill-{attempt}.sqlite").unlink()
    raise AssertionError("unreachable")


def _plan(
    settings: Settings,
    when: dt.date,
    work: Path,
    staged: Staged,
    reading: _Reading,
    meta: list[dict[str, Any]],
    rejects: list[Reject],
    skip_invalid: bool,
    force: bool,
) -> Plan:
    """What to do with date `when`: its manifest's source and whether it is written (a
    date with rejects only gets empty tables)."""
    final = settings.data_path / day_dir_name(when)
    day_rejects = [r for r in rejects if r.day in (None, when)]
    if when not in staged:
        folder = work / f"day-{when}"
        folder.mkdir()
        files = {}
        for table in ("firms", "accounts", "orders", "executions"):
            path = folder / f"{table}.csv"
            files[path.name] = _write_csv(path, COLUMNS[table], [])
        staged[when] = (folder, files)
    folder, files = staged[when]
    builder = reading.builders.get(when)
    source = {
        "kind": "fix",
        "importer_version": IMPORTER_VERSION,
        "files": meta,
        "skip_invalid": skip_invalid,
        "messages": dict(sorted(reading.per_day_messages.get(when, Counter()).items())),
        "orders": files["orders.csv"].rows,
        "executions": files["executions.csv"].rows,
        "synthesized_orders": builder.synthesized if builder else 0,
        "rejected": len(day_rejects),
    }
    status = _check_target(final, source, force)
    return when, final, source, status, folder, files, day_rejects


def _publish(plans: list[Plan], skip_invalid: bool) -> ImportResult:
    """Write the planned days (only once every one is known to be writable)."""
    result = ImportResult()
    for when, final, source, status, folder, files, day_rejects in plans:
        if status == "unchanged":
            manifest = read_local_manifest(final)
            assert manifest is not None
        else:
            manifest = _write_day(
                when, final, folder, files, day_rejects if skip_invalid else None, source
            )
        result.days.append(
            DayImport(
                when, final, status, source["orders"], source["executions"], len(day_rejects),
                int(source["synthesized_orders"]), dict(source["messages"]), manifest.sha256,
            )
        )  # fmt: skip
        result.orders += source["orders"]
        result.executions += source["executions"]
    return result


def _nothing_imported(names: list[str], day: dt.date | None, reading: _Reading) -> str:
    """Why an import found no order or execution to write: importing nothing is never a
    success (an empty or foreign file, or a --date the logs do not hold, is a mistake)."""
    logs = ", ".join(names)
    total = sum(reading.messages.values())
    if total == 0:
        return f"{logs}: no FIX messages found; nothing imported"
    if day is not None:
        dates = sorted(reading.per_day_messages)
        held = f"{dates[0]}..{dates[-1]}" if dates else "no date"
        return (
            f"{logs}: no orders or executions dated {day} (the logs' messages are dated "
            f"{held}); nothing imported"
        )
    kinds = ", ".join(f"{mt}×{n}" for mt, n in sorted(reading.messages.items()))
    return (
        f"{logs}: {total:,} FIX messages (MsgType {kinds}), none an order or an execution; "
        "nothing imported"
    )


def _source_names(paths: list[Path]) -> list[str]:
    """File names as they appear in errors and rejects: the base name, unless two share it."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


def _describe(rejects: list[Reject]) -> str:
    if len(rejects) == 1:
        r = rejects[0]
        return f"{r.where}: {r.reason} (nothing imported; --skip-invalid imports the rest)"
    shown = "; ".join(f"{r.where} {r.reason}" for r in rejects[:SHOWN_IN_ERROR])
    more = f"; … and {len(rejects) - SHOWN_IN_ERROR} more" if len(rejects) > SHOWN_IN_ERROR else ""
    return (
        f"{len(rejects)} invalid messages: {shown}{more} "
        "(nothing imported; --skip-invalid imports the rest)"
    )


def _check_target(final: Path, source: dict[str, Any], force: bool) -> ImportStatus:
    """'imported' (to be written), or 'unchanged' when the folder already holds this very
    import; raises ConflictError when it holds something else and not `force`."""

    def holds(existing: Manifest) -> str:
        kind = existing.source.get("kind", "elsewhere")
        what = "a different FIX import" if kind == "fix" else f"a day from {kind}"
        return f"holds {what}; use --force to replace it"

    kept = dayfolder.decide(final, source, force=force, holds=holds)
    return "imported" if kept is None else "unchanged"


def _write_day(
    day: dt.date,
    final: Path,
    staging: Path,
    files: dict[str, FileEntry],
    rejects: list[Reject] | None,
    source: dict[str, Any],
) -> Manifest:
    """Complete the day staged in `staging` (rejects, manifest last) and rename it into
    place. The caller removes what is left of the staging on failure."""
    files = dict(files)
    if rejects is not None:
        path = staging / REJECTS_FILE
        files[path.name] = _write_csv(path, REJECT_COLUMNS, (_one_line(r.row()) for r in rejects))
    manifest = Manifest(day, files, source)
    dayfolder.write_manifest(staging, manifest)
    # The plan found `final` writable; a day another run published there meanwhile is kept
    # when identical (this import's files are then left in the staging folder).
    return dayfolder.publish(staging, final, source, keep_identical=False) or manifest


def _one_line(row: tuple[str, ...]) -> tuple[str, ...]:
    """The row with line breaks in its values made spaces (a reject quotes the message)."""
    line = "".join(row)
    if "\n" in line or "\r" in line:
        return tuple(v.replace("\r", " ").replace("\n", " ") for v in row)
    return row
