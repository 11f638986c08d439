"""Follow a FIX engine's message log as it is written, like `tail -F`.

The file is known by its inode, not its name. At the end of what is written so far the
tail looks at the name again:

* the name now holds another file (the log was rotated: renamed, a new one created) that
  has been written to: the old file is read to its end first (while the new one is
  empty, the engine may still be writing the old one), its last incomplete message (if
  any) becomes a reject, then the new file is read from its start;
* the file is shorter than what was read (copytruncate, or an engine that truncates its
  log at a new session): the incomplete message is a reject and reading starts over at
  byte 0 of the same file;
* the name is missing: nothing to read until it comes back.

A position (inode, byte offset just after the last complete message, line number there)
is what the watcher commits. On restart the tail opens the file at the name when it is
the same inode, or finds the rotated file by its inode in the same folder and reads its
rest first. Truncation is seen by size, and on restart by content too: the position keeps
the file's last bytes before it (TAIL of them), and a file that no longer holds them there
was truncated and written past the old offset while the watcher was stopped
(copytruncate, an engine starting its log over at a new session): it is read again from
byte 0. A file truncated and written past the old offset between two looks of a running
watcher cannot be told from one that grew (tail -F has the same limit).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from surveil.watch.fixsource import BadMessage, FixMessage, Scanner
from surveil.watch.store import Position

CHUNK = 1 << 20  # bytes read per call
TAIL = 64  # bytes before a position that a restart finds again, or reads the file anew

Item = FixMessage | BadMessage


class Source(Protocol):
    """What the watcher reads: a log file (FileTail) or a Kafka topic (kafka.KafkaSource)."""

    def read(self, limit: int | None = None) -> tuple[list[Item], bool, int]: ...

    def position(self, messages: int) -> Position: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    """A source to watch: `key` names it in watch_positions and the journal, `label` in
    messages; open(position or None, log) opens it at a committed position."""

    key: str
    label: str
    open: Callable[[Position | None, Callable[[str], None]], Source]


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


# The names logrotate gives a rotated log: name.N (numbered, N=1 the newest) and
# name-YYYYMMDD[HH[MM[SS]]] (dateext); compressed ones (.gz, ...) cannot be tailed.
_ROTATED = re.compile(r"\.(\d{1,4})|-(\d{8,14})")


def rotations(path: Path) -> list[Path]:
    """The log's rotated files beside it, oldest first: the dated ones, then the numbered
    ones (newer_rotations() keeps to the scheme of the file it starts from)."""
    dated: list[tuple[str, Path]] = []
    numbered: list[tuple[int, Path]] = []
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not name.startswith(path.name) or name == path.name or not candidate.is_file():
            continue
        match = _ROTATED.fullmatch(name[len(path.name) :])
        if match and match[1]:
            numbered.append((-int(match[1]), candidate))
        elif match:
            dated.append((match[2], candidate))
    return [p for _, p in sorted(dated)] + [p for _, p in sorted(numbered)]


def _scheme(path: Path, rotated: Path) -> bool:
    """Whether `rotated` is a numbered rotation of `path` (name.N), not a dated one."""
    match = _ROTATED.fullmatch(rotated.name[len(path.name) :])
    return bool(match and match[1])


class FileTail:
    def __init__(
        self,
        path: Path,
        max_message: int,
        *,
        inode: int | None = None,
        offset: int = 0,
        line: int = 1,
        tail: bytes | None = None,
        log: Callable[[str], None] = lambda _: None,
        chunk: int = CHUNK,
    ) -> None:
        self.path = path
        self.name = path.name
        self.max_message = max_message
        self.log = log
        self.chunk = chunk
        self._fh: BinaryIO | None = None
        self.inode: int | None = None
        self.scanner = Scanner(self.name, max_message)
        self._draining = False  # reading a rotated file to its end
        self._rotations_seen: tuple[tuple[int, int, int], list[Path]] | None = None
        if inode is not None:
            self._resume(inode, offset, line, tail)

    # ---- position

    @property
    def offset(self) -> int:
        return self.scanner.consumed

    @property
    def line(self) -> int:
        return self.scanner.line

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    # ---- opening

    def _open(self, path: Path, offset: int, line: int) -> bool:
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            return False
        self.close()
        fh.seek(offset)
        self._fh = fh
        self.inode = os.fstat(fh.fileno()).st_ino
        self.scanner = Scanner(self.name, self.max_message, offset, line)
        return True

    def _resume(self, inode: int, offset: int, line: int, tail: bytes | None) -> None:
        if _inode(self.path) == inode:
            size = self.path.stat().st_size
            if size < offset:
                self.log(f"{self.path}: shorter than when it was last read; reading from byte 0")
                self._open(self.path, 0, 1)
            elif self._open(self.path, offset, line) and not self._holds(tail, offset):
                self.log(
                    f"{self.path}: rewritten since it was last read (other bytes before byte "
                    f"{offset:,}: truncated and written again); reading from byte 0"
                )
                self._open(self.path, 0, 1)
            return
        for candidate in sorted(self.path.parent.iterdir()):
            if candidate != self.path and _inode(candidate) == inode and candidate.is_file():
                self.log(f"{self.path}: rotated while stopped; reading the rest of {candidate}")
                self._open(candidate, offset, line)
                self._draining = True
                return
        self.log(
            f"{self.path}: the file read before (inode {inode}) is gone; reading the current "
            "file from its start"
        )
        self._open(self.path, 0, 1)

    # ---- reading

    def position(self, messages: int) -> Position:
        """Where the next read starts, with `messages` journalled so far, and the open
        file's TAIL bytes before it."""
        tail = None
        if self._fh is not None:
            start = max(0, self.offset - TAIL)
            tail = os.pread(self._fh.fileno(), self.offset - start, start)
        return Position(self.inode or 0, self.offset, self.line, self.name, messages, tail=tail)

    def _holds(self, tail: bytes | None, offset: int) -> bool:
        """Whether the open file holds `tail` just before `offset` (None: nothing to check,
        a position saved before positions kept their bytes)."""
        if tail is None or self._fh is None:
            return True
        return os.pread(self._fh.fileno(), len(tail), offset - len(tail)) == tail

    def read(self, limit: int | None = None) -> tuple[list[Item], bool, int]:
        """The messages completed by what was written since the last call (at most `limit`
        bytes, else a chunk, read), whether more may be there already (read again), and
        the bytes read."""
        if self._fh is None:
            if not self._open(self.path, 0, 1):
                return [], False, 0
        assert self._fh is not None
        fed = self.scanner._fed_to
        if not self._draining and os.fstat(self._fh.fileno()).st_size < fed:
            return self._restart_truncated(), True, 0
        size = min(limit, self.chunk) if limit else self.chunk
        data = self._fh.read(size)
        items = self.scanner.feed(data) if data else []
        if len(data) == size:
            return items, True, size
        rest, switched, drained = self._at_end()  # the end of what is written: rotated?
        return items + rest, switched, len(data) + drained

    def _restart_truncated(self) -> list[Item]:
        self.log(f"{self.path}: truncated; reading it again from byte 0")
        items = self.scanner.finish()
        self._open(self.path, 0, 1)
        return items

    def _at_end(self) -> tuple[list[Item], bool, int]:
        """At the end of the open file, when the name holds another file: switch to the
        next file of the log, a newer rotated one (rotated twice since the last look, or
        while stopped), else the one at the name once it has been written to. Until then
        the engine may still be writing to the old one (logrotate's `create`: the engine
        goes on with the renamed file until it reopens its log, perhaps at its next
        session); what the old file got meanwhile is read first (its bytes counted)."""
        try:
            current: os.stat_result | None = self.path.stat()
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino == self.inode:
            return [], False, 0
        newer = self._newer_rotations()
        if not newer and (current is None or current.st_size == 0):
            return [], False, 0
        assert self._fh is not None
        items, drained = [], 0
        while data := self._fh.read(self.chunk):  # its last writes, before the switch
            items += self.scanner.feed(data)
            drained += len(data)
        items += self.scanner.finish()
        if newer:
            self.log(f"{self.path}: rotated more than once; reading {newer[0]} next")
            self._open(newer[0], 0, 1)
            self._draining = True
        elif self._open(self.path, 0, 1):
            self.log(f"{self.path}: rotated; reading the new file from its start")
            self._draining = False
        return items, True, drained

    def _newer_rotations(self) -> list[Path]:
        """The rotated files of the log newer than the open one, oldest first, named as it
        is (numbered or dated: a stray file of the other scheme, an old copy, is never
        taken for a rotation); none when the open file is not among them."""
        # Looked up again only when the folder changed (a rename, a new file): a watcher
        # waiting for the engine to write its new log polls here for hours.
        key = (os.stat(self.path.parent).st_mtime_ns, self.inode or 0, _inode(self.path) or 0)
        if self._rotations_seen is not None and self._rotations_seen[0] == key:
            return self._rotations_seen[1]
        rotated = rotations(self.path)
        found = [i for i, p in enumerate(rotated) if _inode(p) == self.inode]
        newer: list[Path] = []
        if found:
            numbered = _scheme(self.path, rotated[found[0]])
            newer = [p for p in rotated[found[0] + 1 :] if _scheme(self.path, p) == numbered]
        self._rotations_seen = (key, newer)
        return newer


def file_source(path: Path, max_message: int) -> SourceSpec:
    """The SourceSpec of a log file: its resolved path is its key."""

    def open_at(position: Position | None, log: Callable[[str], None]) -> FileTail:
        if position is None:
            return FileTail(path, max_message, log=log)
        return FileTail(
            path,
            max_message,
            inode=position.inode,
            offset=position.offset,
            line=position.line,
            tail=position.tail,
            log=log,
        )

    return SourceSpec(str(path.resolve()), str(path), open_at)
