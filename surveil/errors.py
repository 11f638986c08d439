"""Exceptions raised by the core, each carrying the exit code the CLI maps it to.

The core never prints and never exits; it raises one of these with a message that is
one readable line naming the file, line or setting at fault. Only `cli.py` turns them
into exit codes, so cron and systemd can tell a bad day from an outage.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every code `surveil` exits with; the README's exit-code table is written from this."""

    OK = 0  # done, or skipped (weekend, holiday, nothing new to do)
    VALIDATION_FAILED = 1  # a check failed (validation, an audit chain, a refused detect)
    USAGE = 2  # a bad option or setting
    BAD_INPUT = 3  # malformed or conflicting input data
    UNAVAILABLE = 4  # database, bucket or another service unreachable or refusing us
    GAP = 5  # surveillance gap: a trading day missing, unvalidated or undetected
    CONFLICT = 6  # somebody else changed what this command was about to change
    REPORT_FAILED = 7  # the day is done, but its report could not be made
    INTERNAL = 70  # EX_SOFTWARE: a bug in surveil, not in the data or the environment
    LOCKED = 75  # EX_TEMPFAIL: try again later (a lock held, a deadlock rolled back)
    INTERRUPTED = 130  # SIGINT: the open transaction was rolled back


class SurveilError(Exception):
    """Base class: a failure surveil expected and can explain in one line."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigError(SurveilError):
    """A setting is missing or malformed."""

    exit_code = ExitCode.USAGE


class BadInputError(SurveilError):
    """Input data is malformed: bad CSV, wrong header, checksum mismatch, missing manifest."""

    exit_code = ExitCode.BAD_INPUT


class ConflictError(BadInputError):
    """The lake already holds a different object under the same key."""


class UnavailableError(SurveilError):
    """The database, bucket or another service cannot be reached or refuses us."""

    exit_code = ExitCode.UNAVAILABLE


class DayLockedError(SurveilError):
    """Another run holds the lock on this trading day."""

    exit_code = ExitCode.LOCKED


class RetryLaterError(SurveilError):
    """PostgreSQL rolled our transaction back to resolve a clash with another session (a
    deadlock or a serialization failure): nothing was changed, and a re-run will do."""

    exit_code = ExitCode.LOCKED


class ValidationFailedError(SurveilError):
    """The loaded day breaks at least one validation check; `result` holds what was done."""

    exit_code = ExitCode.VALIDATION_FAILED

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
