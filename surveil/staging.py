"""Hidden staging folders in the data folder, and sweeping those killed runs left behind.

generate and import-fix build a day in a hidden folder beside its final place and publish
it with one rename, so a reader never sees half a day. A run killed before the rename
leaves its staging folder behind; each such folder carries the pid of the run that made
it, and the next writer removes the folders whose run is gone. A folder whose pid is alive
is kept (it may be a run in progress, or, rarely, a reused pid: kept is the safe side).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

# .<what>.<pid>.<random>, as staging_dir names them.
_STAGING = re.compile(r"^\.(?P<what>[A-Za-z0-9=_-]+)\.(?P<pid>[0-9]+)\.[^.]+$")


def staging_dir(data_path: Path, what: str) -> Path:
    """A new hidden folder in `data_path` for building `what` (a day folder's name, or
    'import-fix'), named with this process's pid so that a later sweep can tell whether
    its run is alive."""
    data_path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{what}.{os.getpid()}.", dir=data_path))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_stale(data_path: Path) -> list[Path]:
    """Remove the staging folders of runs that are no longer running; the ones removed."""
    if not data_path.is_dir():
        return []
    removed = []
    for entry in data_path.iterdir():
        match = _STAGING.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
