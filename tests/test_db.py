"""db: connections and how their failures reach the user."""

from __future__ import annotations

import threading

from surveil import db
from surveil.errors import ExitCode, RetryLaterError
from surveil.settings import Settings


def test_a_deadlock_is_a_retry_later_error_and_the_other_session_completes(
    settings: Settings,
) -> None:
    """PostgreSQL breaks a deadlock by rolling one transaction back: that run exits 75
    (nothing changed, try again), not 4 (database unavailable)."""
    with db.connect(settings) as setup:
        setup.execute("CREATE TABLE clash (id int PRIMARY KEY, n int)")
        setup.execute("INSERT INTO clash VALUES (1, 0), (2, 0)")
    both_hold_one_row = threading.Barrier(2)
    outcomes: dict[int, BaseException | None] = {}

    def session(first: int, second: int) -> None:
        try:
            with db.connect(settings) as conn, conn.transaction():
                conn.execute("UPDATE clash SET n = n + 1 WHERE id = %s", (first,))
                both_hold_one_row.wait()
                conn.execute("UPDATE clash SET n = n + 1 WHERE id = %s", (second,))
            outcomes[first] = None
        except BaseException as exc:
            outcomes[first] = exc

    threads = [threading.Thread(target=session, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    failed = [e for e in outcomes.values() if e is not None]
    assert len(failed) == 1, outcomes
    assert isinstance(failed[0], RetryLaterError)
    assert failed[0].exit_code == ExitCode.LOCKED == 75
    assert "deadlock" in str(failed[0]) and "run it again" in str(failed[0])
    with db.connect(settings) as check:
        assert check.execute("SELECT sum(n) FROM clash").fetchone()[0] == 2  # one session's
