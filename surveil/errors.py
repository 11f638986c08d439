"""Exceptions raised by the core, each carrying the exit code the CLI maps it to.

The core never prints and never exits; it raises one of these with a message that is
one readable line naming the file, line or setting at fault. Only `cli.py` turns them
into exit codes, so cron and systemd can tell a bad day from an outage.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every code `surveil` exits with. This is the one place they are written: MEANINGS
    says what each means, and the README's exit-code table is generated from it
    (`python -m tests.cli_reference`; tests/test_cli_reference.py fails when it differs)."""

    OK = 0
    VALIDATION_FAILED = 1
    USAGE = 2
    BAD_INPUT = 3
    UNAVAILABLE = 4
    GAP = 5
    CONFLICT = 6
    REPORT_FAILED = 7
    INTERNAL = 70  # EX_SOFTWARE
    LOCKED = 75  # EX_TEMPFAIL
    INTERRUPTED = 130  # 128 + SIGINT


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done, or skipped (weekend, holiday, nothing new to do)",
    ExitCode.VALIDATION_FAILED: (
        "validation failed (also: detect refused on a day that failed validation)"
    ),
    ExitCode.USAGE: (
        "usage or configuration error (a bad option or setting, a rules file that does not "
        "parse, a date after the last completed session without `--allow-future`)"
    ),
    ExitCode.BAD_INPUT: (
        "bad input data: malformed CSV, wrong header, checksum mismatch, missing manifest, a "
        "lake object that differs, a FIX import that finds nothing to import"
    ),
    ExitCode.UNAVAILABLE: "infrastructure unavailable: database, bucket, permissions",
    ExitCode.GAP: (
        "surveillance gap: `status` found a trading day missing, unvalidated, failed "
        "validation, undetected, or detected only with `--force` over a failed validation "
        "(`alerts`: the day's detection is not current)"
    ),
    ExitCode.CONFLICT: (
        "`review`: someone else changed the alert (or suppression, or STOR draft) between "
        "reading it and acting on it; the line names who and when, and nothing was changed"
    ),
    ExitCode.REPORT_FAILED: (
        "`run-day`: the day is done (loaded, validated, detected) but its report could not "
        "be made; `surveil report --date D` makes it again"
    ),
    ExitCode.INTERNAL: (
        "internal error (a bug in surveil: please report it with the `--debug` output)"
    ),
    ExitCode.LOCKED: (
        "try again later: the day is locked by another run and the wait timed out, or "
        "PostgreSQL rolled the transaction back to resolve a deadlock or serialization "
        "failure (nothing was changed)"
    ),
    ExitCode.INTERRUPTED: ("interrupted (Ctrl-C or SIGINT): the open transaction is rolled back"),
}


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
    """A different object is already where this would be written (a lake key, a day folder)."""


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


class ReportFailedError(SurveilError):
    """run-day did every stage but could not make the day's report; `result` holds what was
    done. The day and its alerts stand: the report is read-only over them."""

    exit_code = ExitCode.REPORT_FAILED

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class ReviewError(SurveilError):
    """A review action that cannot be done as asked: an unknown alert, a bad disposition, an
    empty comment, a transition the case's state does not allow, approving one's own
    decision. Nothing was changed."""

    exit_code = ExitCode.USAGE


class ReviewConflictError(SurveilError):
    """Another person changed the case between reading it and acting on it: the action was
    not applied (exactly one of two concurrent decisions wins)."""

    exit_code = ExitCode.CONFLICT
