"""Follow a FIX engine's message log as it is written, like `tail -F`.

The file is known by its inode, not its name. At the end of what is written so far the
tail looks at the name again:

* the name now holds another file (the log was rotated: renamed, a new one created): the
  old file is read to its end first, its last incomplete message (if any) becomes a
  reject, then the new file is read from its start;
* the file is shorter than what was read (copytruncate, or an engine that truncates its
  log at a new session): the incomplete message is a reject and reading starts over at
  byte 0 of the same file;
* the name is missing: nothing to read until it comes back.

A position (inode, byte offset just after the last complete message, line number there)
is what the watcher commits. On restart the tail opens the file at the name when it is
the same inode, or finds the rotated file by its inode in the same folder and reads its
rest first. Truncation is seen by size: a file truncated and then written past the old
offset between two looks cannot be told from one that grew (tail -F has the same limit).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from surveil.watch.fixsource import BadMessage, FixMessage, Scanner
from surveil.watch.store import Position

CHUNK = 1 << 20  # bytes read per call

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


class FileTail:
    def __init__(
        self,
        path: Path,
        max_message: int,
        *,
        inode: int | None = None,
        offset: int = 0,
        line: int = 1,
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
        if inode is not None:
            self._resume(inode, offset, line)

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

    def _resume(self, inode: int, offset: int, line: int) -> None:
        if _inode(self.path) == inode:
            size = self.path.stat().st_size
            if size < offset:
                self.log(f"{self.path}: shorter than when it was last read; reading from byte 0")
                self._open(self.path, 0, 1)
            else:
                self._open(self.path, offset, line)
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
        """Where the next read starts, with `messages` journalled so far."""
        return Position(self.inode or 0, self.offset, self.line, self.name, messages)

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
        rest, switched = self._at_end()  # the end of what is written: rotated?
        return items + rest, switched, len(data)

    def _restart_truncated(self) -> list[Item]:
        self.log(f"{self.path}: truncated; reading it again from byte 0")
        items = self.scanner.finish()
        self._open(self.path, 0, 1)
        return items

    def _at_end(self) -> tuple[list[Item], bool]:
        """At the end of the open file: switch to the file at the name when it is another."""
        current = _inode(self.path)
        if current is None or current == self.inode:
            return [], False
        items = self.scanner.finish()
        if self._open(self.path, 0, 1):
            self.log(f"{self.path}: rotated; reading the new file from its start")
            self._draining = False
        return items, True


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
            log=log,
        )

    return SourceSpec(str(path.resolve()), str(path), open_at)
