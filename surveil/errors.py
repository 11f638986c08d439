"""Exceptions raised by the core, each carrying the exit code the CLI maps it to.

The core never prints and never exits; it raises one of these with a message that is
one readable line naming the file, line or setting at fault. Only `cli.py` turns them
into exit codes, so cron and systemd can tell a bad day from an outage.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    VALIDATION_FAILED = 1
    USAGE = 2
    BAD_INPUT = 3
    UNAVAILABLE = 4
    LOCKED = 75


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
