"""Every day exact on its own, every gap loud (issue 17).

The ways a day could go missing or go wrong without a word, each tried for real through
the CLI: reference data shared across days, future and unfinished dates, a detection that
failed counting as done, detection over a day that failed validation, a lake file changed
after its load. docs/reliability.md lists the cases and the figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from surveil import calendar
from surveil.cli import app
from surveil.detect import RULES
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.manifest import MANIFEST_NAME, day_dir_name
from surveil.settings import Settings
from tests.conftest import TRADING_DAY, count_day
from tests.reliability import exists, lake_day, ledger, reissue_manifest

runner = CliRunner()
D = TRADING_DAY  # Wed 2026-11-25
EARLIER = dt.date(2026, 11, 24)
# Tue 24, Wed 25, (Thanksgiving 26), Fri 27 early close, (weekend), Mon 30
WEEK = [EARLIER, D, dt.date(2026, 11, 27), dt.date(2026, 11, 30)]


def cli(*args: str) -> tuple[int, dict | None, str]:
    """Run the CLI with --json: (exit code, the JSON object or None, stderr)."""
    result = runner.invoke(app, [*args, "--json"])
    out = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, out, result.stderr


def one_line(stderr: str) -> str:
    line = stderr.strip()
    assert len(line.splitlines()) == 1, stderr
    assert "Traceback" not in line
    return line


def run_day(day: dt.date, *extra: str) -> dict:
    code, out, err = cli("run-day", "--date", str(day), *extra)
    assert code == 0, err
    assert out is not None
    return out


def loads(conn: psycopg.Connection, day: dt.date | None = None) -> list[str]:
    """The load_runs ledger ([] when no command has migrated the database yet)."""
    return ledger(conn, day) if exists(conn, "load_runs") else []


def alert_ids(conn: psycopg.Connection, day: dt.date) -> set[str]:
    rows = conn.execute("SELECT alert_id FROM alerts WHERE trade_date = %s", (day,)).fetchall()
    return {r[0] for r in rows}


def status_of(day: dt.date) -> tuple[int, dict]:
    code, out, err = cli("status", "--date", str(day))
    assert out is not None, err
    (row,) = out["days"]
    return code, row


def set_clock(monkeypatch: pytest.MonkeyPatch, new_york: str) -> None:
    """Make surveil's clock read `new_york` (an ISO time in New York)."""
    at = dt.datetime.fromisoformat(new_york).replace(tzinfo=calendar.EXCHANGE_TZ)
    monkeypatch.setattr(calendar, "utc_now", lambda: at.astimezone(dt.UTC))


def edit_lake_file(settings: Settings, day: dt.date, name: str, old: bytes, new: bytes) -> None:
    """Change a lake file in place and leave its manifest alone (tampering, bit rot)."""
    path = lake_day(settings, day) / name
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


# --------------------------------------------------------------------------------------------
# 1. Reference data belongs to its day


def test_loading_another_day_leaves_the_earlier_day_valid_and_its_detection_unchanged(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """The README's own sequence: a default run-day, then another day with seed 7 (another
    account master). The earlier day still validates, and re-running its detection gives
    the alerts it had, from its own account types and beneficial owners."""
    run_day(EARLIER)
    before = alert_ids(conn, EARLIER)
    assert before
    code, _, err = cli("generate", "--date", str(D), "--seed", "7")
    assert code == 0, err
    for command in ("upload", "load"):
        code, _, err = cli(command, "--date", str(D))
        assert code == 0, err

    code, out, err = cli("validate", "--date", str(EARLIER))
    assert code == 0, [c for c in out["checks"] if not c["passed"]] if out else err
    owners = dict(
        conn.execute(
            "SELECT trade_date, count(DISTINCT beneficial_owner_id) FROM accounts GROUP BY 1"
        ).fetchall()
    )
    assert set(owners) == {EARLIER, D}
    code, _, err = cli("detect", "--date", str(EARLIER))
    assert code == 0, err
    assert alert_ids(conn, EARLIER) == before
    assert status_of(EARLIER) == (0, status_of(EARLIER)[1]) and status_of(EARLIER)[1]["done"]


def test_load_json_counts_the_reference_rows_it_really_wrote(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(EARLIER)
    cli("generate", "--date", str(D))  # the same account master as the day before
    cli("upload", "--date", str(D))
    code, out, err = cli("load", "--date", str(D))
    assert code == 0, err
    assert out["rows_inserted"]["firms"] == count_day(conn, "firms", D) == 50
    assert out["rows_inserted"]["accounts"] == count_day(conn, "accounts", D) == 500
    assert out["total_inserted"] == sum(out["rows_inserted"].values())
    code, again, _ = cli("load", "--date", str(D), "--force")
    assert code == 0 and again["status"] == "replaced"
    assert again["rows_inserted"] == out["rows_inserted"]
    assert count_day(conn, "accounts", D) == 500  # replaced, not added to


def test_an_order_naming_an_account_only_another_day_has_is_refused(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """Day 25's accounts.csv lacks an account its orders use; day 24 had it. Each day
    references its own accounts, so day 25 is refused whole."""
    run_day(EARLIER)
    cli("generate", "--date", str(D))
    folder = lake_day(settings, D)
    cli("upload", "--date", str(D))
    orders = (folder / "orders.csv").read_text().splitlines()
    used = orders[1].split(",")[2]
    accounts = (folder / "accounts.csv").read_text().splitlines(keepends=True)
    (folder / "accounts.csv").write_text(
        "".join(line for line in accounts if not line.startswith(f"{used},"))
    )
    reissue_manifest(folder)
    code, out, err = cli("load", "--date", str(D))
    assert code == 3, err
    line = one_line(err)
    assert "orders.csv" in line and "unknown reference" in line and used in line
    assert count_day(conn, "orders", D) == count_day(conn, "accounts", D) == 0
    assert ledger(conn, D) == []


def test_an_account_with_no_beneficial_owner_loads_and_validates(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """An omnibus account's owner is unknown: an empty field, NULL in the warehouse, equal
    to the lake's empty field when validate compares them."""
    cli("generate", "--date", str(D))
    folder = settings.data_path / f"trade_date={D}"
    lines = (folder / "accounts.csv").read_text().splitlines(keepends=True)
    account, firm, kind, _ = lines[1].rstrip("\n").split(",")
    lines[1] = f"{account},{firm},{kind},\n"
    (folder / "accounts.csv").write_text("".join(lines))
    reissue_manifest(folder, source={"kind": "test"})
    cli("upload", "--date", str(D))
    code, _, err = cli("load", "--date", str(D))
    assert code == 0, err
    owner = conn.execute(
        "SELECT beneficial_owner_id FROM accounts WHERE trade_date = %s AND account_id = %s",
        (D, account),
    ).fetchone()[0]
    assert owner is None
    code, out, err = cli("validate", "--date", str(D))
    assert code == 0, [c for c in out["checks"] if not c["passed"]] if out else err


# --------------------------------------------------------------------------------------------
# 2. Only completed sessions


@pytest.mark.parametrize(
    ("args", "clock", "reason"),
    [
        (["run-day", "--date", "2099-01-05"], None, "2099-01-05 is in the future"),
        (["run-day", "--date", "2026-11-25"], "2026-11-25T10:00", "has not closed yet"),
        (["run-day", "--date", "2026-11-30"], "2026-11-27T18:00", "is in the future"),
        (["run-day", "--catch-up", "--date", "2099-01-05"], None, "is in the future"),
        (["backfill", "--start", "2026-11-24", "--end", "2099-01-05"], None, "in the future"),
        (["generate", "--date", "2099-01-05"], None, "is in the future"),
    ],
    ids=["far-future", "today-before-close", "next-monday", "catch-up", "backfill", "generate"],
)
def test_a_date_after_the_last_completed_session_is_refused_with_exit_2(
    settings: Settings,
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    clock: str | None,
    reason: str,
) -> None:
    if clock:
        set_clock(monkeypatch, clock)
    code, out, err = cli(*args)
    assert code == 2, err
    line = one_line(err)
    assert reason in line and "--allow-future" in line
    assert out["exit_code"] == 2
    assert not settings.data_path.exists() or not any(settings.data_path.iterdir())
    assert loads(conn) == []


def test_the_same_date_runs_once_its_session_has_closed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, "2026-11-27T13:05")  # the early close was 13:00
    assert calendar.last_completed_session() == dt.date(2026, 11, 27)
    assert calendar.unfinished_reason(dt.date(2026, 11, 27)) is None
    set_clock(monkeypatch, "2026-11-27T12:59")
    assert calendar.last_completed_session() == D
    assert "has not closed yet (closes 13:00" in calendar.unfinished_reason(dt.date(2026, 11, 27))


def test_allow_future_lets_a_future_date_through_and_catch_up_still_fills_the_gap(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """One run for a future date used to make catch-up skip every day before it."""
    run_day(EARLIER)
    future = run_day(dt.date(2099, 1, 5), "--allow-future")
    assert future["status"] == "done"
    code, out, err = cli("run-day", "--catch-up", "--date", "2026-11-30")
    assert code == 0, err
    assert [o["trade_date"] for o in out["days"]] == [str(d) for d in WEEK[1:]]


def test_status_without_a_range_reports_every_session_missed_up_to_the_last_completed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 06:00 job did not run on Friday nor Monday: status, asked on Monday evening with
    no options, shows both as missing and exits 5. A future day run with --allow-future is
    shown and is no gap: its session has not happened."""
    run_day(EARLIER)
    run_day(D)
    run_day(dt.date(2099, 1, 5), "--allow-future")
    set_clock(monkeypatch, "2026-11-30T18:00")
    code, out, err = cli("status")
    assert code == 5, err
    shown = [r["trade_date"] for r in out["days"]]
    assert shown == [*(str(d) for d in WEEK), "2099-01-05"]
    assert out["gaps"] == [str(WEEK[2]), str(WEEK[3])]
    set_clock(monkeypatch, "2026-11-27T12:00")  # before Friday's close: nothing missed
    code, out, _ = cli("status")
    assert code == 0 and out["gaps"] == []


def test_a_detect_of_a_day_never_loaded_leaves_no_day_for_catch_up_to_start_from(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """A mistyped date refused by detect (not loaded) is not a day the ledger knows: the
    next catch-up does not go back to it."""
    run_day(D)
    code, _, err = cli("detect", "--date", "2026-11-02")
    assert code == 3 and "not loaded" in one_line(err)
    assert conn.execute("SELECT count(*) FROM detect_failures").fetchone()[0] == 0
    code, out, err = cli("run-day", "--catch-up", "--date", str(D))
    assert code == 0, err
    assert out["days"] == []


def test_catch_up_runs_a_hole_between_known_days(settings: Settings) -> None:
    run_day(EARLIER)
    run_day(WEEK[-1])
    code, out, err = cli("run-day", "--catch-up", "--date", str(WEEK[-1]))
    assert code == 0, err
    assert [o["trade_date"] for o in out["days"]] == [str(D), str(WEEK[2])]
    code, again, _ = cli("run-day", "--catch-up", "--date", str(WEEK[-1]))
    assert code == 0 and again["days"] == []


# --------------------------------------------------------------------------------------------
# 3. A day is done only when every stage succeeded

# A rule of the right shape whose query fails once it reads the day.
FAILING_RULE = """
SELECT 'k' AS key, 'X' AS symbol, ARRAY['a'] AS account_ids, ARRAY['o'] AS cl_ord_ids,
       ARRAY['e'] AS exec_ids, 1 / (count(*) - count(*)) AS score, 'x' AS explanation
FROM orders WHERE trade_date = %(trade_date)s
"""


def test_a_broken_rules_file_fails_run_day_before_anything_is_committed(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[wash_trade]\nwindow_s = 'soon'\n")
    monkeypatch.setenv("SURVEIL_RULES_FILE", str(rules))
    for args in (["run-day", "--date", str(D)], ["run-day", "--catch-up", "--date", str(D)]):
        code, _, err = cli(*args)
        assert code == 2, err
        assert "rules.toml" in one_line(err) and "wash_trade.window_s" in err
    assert not (settings.data_path / f"trade_date={D}").exists()
    assert loads(conn, D) == []


def test_a_failed_detection_leaves_the_day_undone_and_catch_up_resumes_at_detect(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule fails at run time (its SQL breaks). Loaded and validated is not done: status
    says the detection failed and exits 5, alerts says the list is not the day's, and
    catch-up detects the day again without loading it again."""
    set_clock(monkeypatch, "2026-11-25T17:00")  # D's session is the last completed one
    run_day(EARLIER)
    spoofing = RULES["spoofing"]
    rule_sql = spoofing.SQL
    monkeypatch.setattr(spoofing, "SQL", FAILING_RULE)
    code, _, err = cli("run-day", "--date", str(D))
    assert code == 70, err
    assert ledger(conn, D) == ["loaded"]

    code, row = status_of(D)
    assert code == 5
    assert (row["validated"], row["detected"], row["done"]) == ("pass", "failed", False)
    assert "division by zero" in row["detect_error"]
    code, out, err = cli("alerts", "--date", str(D))
    assert code == 5 and "detection failed" in one_line(err)
    code, out, _ = cli("status")
    assert code == 5 and out["gaps"] == [str(D)]

    monkeypatch.setattr(spoofing, "SQL", rule_sql)  # the rule mended
    code, out, err = cli("run-day", "--catch-up", "--date", str(D))
    assert code == 0, err
    (day,) = out["days"]
    assert day["trade_date"] == str(D)
    steps = {s["step"]: s["status"] for s in day["steps"]}
    assert steps["load"] == steps["validate"] == "skipped" and steps["detect"] == "detected"
    assert ledger(conn, D) == ["loaded", "skipped"]
    assert status_of(D)[0] == 0
    code, out, _ = cli("alerts", "--date", str(D))
    assert code == 0 and out["count"] > 0


def test_status_shows_each_stage_and_exits_5_until_the_day_is_done(
    settings: Settings, conn: psycopg.Connection
) -> None:
    for command in ("generate", "upload", "load"):
        cli(command, "--date", str(D))
    code, row = status_of(D)
    assert code == 5
    assert row["load_run"] and row["validated"] == "missing" and row["next_stage"] == "validate"
    cli("validate", "--date", str(D))
    code, row = status_of(D)
    assert code == 5 and row["validated"] == "pass" and row["validation_run"]
    assert (row["detected"], row["next_stage"]) == ("missing", "detect")
    cli("detect", "--date", str(D))
    code, row = status_of(D)
    assert code == 0 and row["detected"] == "current" and row["done"] and row["detect_run"]
    # Replaced: the detection of the old copy is stale, the validation too.
    cli("load", "--date", str(D), "--force")
    code, row = status_of(D)
    assert code == 5 and (row["validated"], row["detected"]) == ("stale", "stale")
    run_day(D)
    assert status_of(D)[0] == 0


def test_status_over_a_range_shows_trading_days_without_a_trace_as_missing(
    settings: Settings,
) -> None:
    run_day(D)
    code, out, err = cli("status", "--start", "2026-11-23", "--end", "2026-11-27")
    assert code == 5, err
    shown = {r["trade_date"]: r for r in out["days"]}
    assert list(shown) == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27"]  # no 26th
    assert shown["2026-11-23"]["load_run"] is None and not shown["2026-11-23"]["done"]
    assert shown["2026-11-25"]["done"]
    assert out["gaps"] == ["2026-11-23", "2026-11-24", "2026-11-27"]
    code, out, _ = cli("status", "--start", str(D), "--end", str(D))
    assert code == 0 and out["gaps"] == []


def test_a_day_replaced_in_the_lake_and_not_loaded_is_a_gap_that_catch_up_loads(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """The README's way to replace a day, short of its last step (`load`): the warehouse
    still holds the old copy, so the day is not done until the lake's is loaded."""
    run_day(D)
    assert cli("generate", "--date", str(D), "--orders", "250", "--force")[0] == 0
    assert cli("upload", "--date", str(D), "--force")[0] == 0
    code, row = status_of(D)
    assert code == 5 and not row["done"]
    assert (row["lake_manifest"], row["next_stage"]) == ("differs", "load")
    out = run_day(D, "--catch-up")
    assert [d["trade_date"] for d in out["days"]] == [str(D)]
    assert count_day(conn, "orders", D) == 250 and ledger(conn, D) == ["loaded", "replaced"]
    code, row = status_of(D)
    assert code == 0 and row["done"] and row["lake_manifest"] == "same"


def test_a_day_replaced_in_the_lake_from_another_machine_is_loaded_not_pushed_back(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """This machine's data folder keeps the old copy; the lake's is newer (uploaded from
    elsewhere). Catch-up loads the lake's and leaves the local copy alone."""
    run_day(D)
    old_manifest = (settings.data_path / day_dir_name(D) / MANIFEST_NAME).read_bytes()
    elsewhere = Settings(home=tmp_path / "elsewhere", lake=settings.lake_uri)
    generate_day(elsewhere, D, orders=250)
    upload_day(elsewhere, D, force=True)
    out = run_day(D, "--catch-up")
    (day,) = out["days"]
    generate = next(s for s in day["steps"] if s["step"] == "generate")
    assert "copy in the data folder differs and is left alone" in generate["detail"]
    assert count_day(conn, "orders", D) == 250 and ledger(conn, D) == ["loaded", "replaced"]
    assert (settings.data_path / day_dir_name(D) / MANIFEST_NAME).read_bytes() == old_manifest
    assert status_of(D)[0] == 0


def test_a_loaded_day_gone_from_the_lake_is_a_gap_that_catch_up_uploads_again(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    for path in lake_day(settings, D).iterdir():
        path.unlink()
    code, row = status_of(D)
    assert code == 5 and (row["lake_manifest"], row["next_stage"]) == ("missing", "upload")
    run_day(D, "--catch-up")
    assert (lake_day(settings, D) / MANIFEST_NAME).exists()
    assert ledger(conn, D) == ["loaded", "skipped"]
    assert status_of(D)[0] == 0


def test_a_data_file_gone_from_beside_its_manifest_is_a_gap_that_catch_up_uploads_again(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """The lake lost orders.csv (a lifecycle rule, a hand's `rm`), its manifest still there:
    status compared manifests only and said done; validate alone would have found it."""
    run_day(D)
    (lake_day(settings, D) / "orders.csv").unlink()
    code, row = status_of(D)
    assert code == 5 and (row["lake_manifest"], row["next_stage"]) == ("incomplete", "upload")
    assert row["lake_files_missing"] == ["orders.csv"]
    run_day(D, "--catch-up")  # the data folder's copy is the same day: upload puts it back
    assert (lake_day(settings, D) / "orders.csv").exists()
    assert ledger(conn, D) == ["loaded", "skipped"] and status_of(D)[0] == 0


def test_run_day_refuses_a_lake_copy_missing_a_file_with_no_copy_to_upload_it_from(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    (lake_day(settings, D) / "executions.csv").unlink()
    shutil.rmtree(settings.data_path / day_dir_name(D))
    code, _, err = cli("run-day", "--date", str(D))
    assert code == 3 and "executions.csv is not" in one_line(err)
    assert status_of(D)[0] == 5


@pytest.mark.parametrize("fails_at", ["executions.csv", MANIFEST_NAME])
def test_an_upload_force_stopped_half_way_is_a_gap_that_run_day_completes(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch,
    fails_at: str,
) -> None:  # fmt: skip
    """The bucket fails part way through replacing a loaded day: the lake held the old
    manifest over the new files, status said done and run-day skipped everything."""
    from surveil.errors import UnavailableError
    from surveil.lake import LocalLake

    run_day(D)
    assert cli("generate", "--date", str(D), "--orders", "250", "--force")[0] == 0
    real_put = LocalLake.put_file

    def failing_put(self: LocalLake, key: str, path: Path, sha256: str, *, overwrite: bool) -> None:
        if key.endswith(fails_at):
            raise UnavailableError(f"{key}: the bucket is down")
        real_put(self, key, path, sha256, overwrite=overwrite)

    monkeypatch.setattr(LocalLake, "put_file", failing_put)
    assert cli("upload", "--date", str(D), "--force")[0] == 4
    monkeypatch.setattr(LocalLake, "put_file", real_put)
    code, row = status_of(D)
    assert code == 5 and (row["lake_manifest"], row["next_stage"]) == ("missing", "upload")
    run_day(D)  # the re-run the docs promise completes the day
    assert count_day(conn, "orders", D) == 250 and ledger(conn, D) == ["loaded", "replaced"]
    code, row = status_of(D)
    assert code == 0 and row["done"] and row["lake_manifest"] == "same"


def test_load_alerts_made_over_a_copy_since_replaced_is_refused_and_changes_nothing(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """Spark's alerts of copy A, then the day replaced by B and run: load-alerts put A's
    alerts in place of B's, under B's detection, which the ledger still counted current."""
    from surveil.detect import ALERT_COLUMNS, RuleRun, resolve_params
    from surveil.detect.lake_alerts import write_alerts

    run_day(D)
    manifest_a = lake_day(settings, D) / MANIFEST_NAME
    rows = conn.execute(
        "SELECT " + ", ".join(ALERT_COLUMNS) + " FROM alerts WHERE trade_date = %s", (D,)
    ).fetchall()
    alerts = [dict(zip(ALERT_COLUMNS, r, strict=True)) for r in rows]
    for a in alerts:
        a["params"] = json.dumps(a["params"])
    params = resolve_params(None)
    runs = [RuleRun(r, RULES[r].VERSION, params[r], 0, 0.1) for r in RULES]
    write_alerts(settings, D, alerts, runs, hashlib.sha256(manifest_a.read_bytes()).hexdigest())
    assert cli("generate", "--date", str(D), "--orders", "250", "--force")[0] == 0
    assert cli("upload", "--date", str(D), "--force")[0] == 0
    run_day(D)
    before = alert_ids(conn, D)
    code, _, err = cli("load-alerts", "--date", str(D))
    assert code == 3 and "computed over another copy" in one_line(err)
    assert alert_ids(conn, D) == before and status_of(D)[0] == 0


def test_run_day_never_generates_over_a_loaded_day_whose_files_are_lost(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """Neither the data folder nor the lake has the day any more: generating would load a
    synthetic day over the one the warehouse holds (an imported one, say)."""
    run_day(D)
    orders = count_day(conn, "orders", D)
    for folder in (settings.data_path / day_dir_name(D), lake_day(settings, D)):
        shutil.rmtree(folder)
    for options in ([], ["--orders", "123"]):
        code, _, err = cli("run-day", "--date", str(D), *options)
        assert code == 3 and "neither the data folder nor the lake" in one_line(err)
    assert ledger(conn, D) == ["loaded"] and count_day(conn, "orders", D) == orders
    assert not (settings.data_path / day_dir_name(D)).exists()


def test_a_day_another_run_made_and_loaded_while_this_one_looked_is_not_lost(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first runs at once: this one looked in the data folder and the lake before the
    other had written the day, and in the ledger after it had loaded it (it refused the
    day as lost, exit 3, in tests/reliability/test_faults.py's two-runs test)."""
    from surveil import pipeline
    from surveil.lake import LocalLake

    run_day(D)  # the other run, done meanwhile
    real_local, real_read = pipeline.local_day, LocalLake.read_bytes
    looked: list[str] = []

    def local_day(settings: Settings, day: dt.date):  # type: ignore[no-untyped-def]
        looked.append("local")
        return None if looked.count("local") == 1 else real_local(settings, day)

    def read_bytes(self: LocalLake, key: str) -> bytes | None:
        looked.append("lake")
        return None if looked.count("lake") == 1 else real_read(self, key)

    monkeypatch.setattr(pipeline, "local_day", local_day)
    monkeypatch.setattr(LocalLake, "read_bytes", read_bytes)
    out = run_day(D)
    assert out["steps"][0]["status"] == "skipped" and ledger(conn, D) == ["loaded", "skipped"]


def test_run_day_fails_when_the_day_is_loaded_again_between_its_validate_and_detect(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What run-day validated is not what it detected: it must not say the day is done."""
    from surveil import pipeline
    from surveil.load import load_day

    detect_day = pipeline.detect_day

    def reloaded_first(settings: Settings, day: dt.date):  # type: ignore[no-untyped-def]
        load_day(settings, day, force=True)  # another process's `load --force`
        return detect_day(settings, day)

    monkeypatch.setattr(pipeline, "detect_day", reloaded_first)
    code, _, err = cli("run-day", "--date", str(D))
    assert code == 3 and "changed by another run while this one ran" in one_line(err)
    monkeypatch.setattr(pipeline, "detect_day", detect_day)  # (undo() would reset the env)
    assert status_of(D)[0] == 5
    run_day(D)
    assert status_of(D)[0] == 0


def test_detection_with_other_parameters_than_configured_is_stale(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_day(D)
    rules = tmp_path / "rules.toml"
    rules.write_text("[wash_trade]\nwindow_s = 30\n")
    monkeypatch.setenv("SURVEIL_RULES_FILE", str(rules))
    code, row = status_of(D)
    assert code == 5 and row["detected"] == "stale"
    out = run_day(D)
    assert {s["step"]: s["status"] for s in out["steps"]}["detect"] == "detected"
    assert status_of(D)[0] == 0


# --------------------------------------------------------------------------------------------
# 4. No silent detection over invalid data


def break_validation(conn: psycopg.Connection, by: int = 1) -> None:
    """Change one order's cum_qty in the warehouse (by=-1 undoes by=1)."""
    conn.execute(
        "UPDATE orders SET cum_qty = cum_qty + %s WHERE cl_ord_id = (SELECT min(cl_ord_id) "
        "FROM orders)",
        (by,),
    )


def test_detect_refuses_a_day_that_failed_validation_unless_forced(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    before = alert_ids(conn, D)
    break_validation(conn)
    code, _, _ = cli("validate", "--date", str(D))
    assert code == 1
    code, out, err = cli("detect", "--date", str(D))
    assert code == 1
    line = one_line(err)
    assert "failed validation" in line and "--force" in line
    assert out["exit_code"] == 1
    assert alert_ids(conn, D) == before
    code, out, err = cli("detect", "--date", str(D), "--force")
    assert code == 0, err
    assert out["validation"] == "failed"
    recorded = conn.execute(
        "SELECT DISTINCT validation FROM detect_runs WHERE trade_date = %s AND run_id IN "
        "(SELECT max(run_id) FROM detect_runs GROUP BY rule)",
        (D,),
    ).fetchall()
    assert recorded == [("failed",)]
    code, row = status_of(D)
    assert code == 5
    assert (row["validated"], row["detected"], row["detected_over_validation"]) == (
        "fail",
        "forced",
        "failed",
    )
    table = runner.invoke(app, ["status", "--date", str(D)])
    assert "forced (over FAILED validation)" in table.stderr
    # Mended and validated again: the forced detection still rests on the failed data, so
    # run-day detects the day again before calling it done.
    break_validation(conn, by=-1)
    out = run_day(D)
    steps = {s["step"]: s["status"] for s in out["steps"]}
    assert (steps["validate"], steps["detect"]) == ("passed", "detected")
    assert status_of(D)[0] == 0


def test_detect_on_a_day_never_validated_runs_and_is_recorded_as_such(
    settings: Settings, conn: psycopg.Connection
) -> None:
    for command in ("generate", "upload", "load"):
        cli(command, "--date", str(D))
    code, out, err = cli("detect", "--date", str(D))
    assert code == 0, err
    assert out["validation"] == "missing"
    code, row = status_of(D)
    assert code == 5
    assert (row["detected"], row["detected_over_validation"], row["next_stage"]) == (
        "current",
        "missing",
        "validate",
    )
    cli("validate", "--date", str(D))
    assert status_of(D)[0] == 0  # the same load, now validated: done


# --------------------------------------------------------------------------------------------
# 5. The lake re-checked


def test_a_lake_file_changed_after_its_load_fails_validate(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    edit_lake_file(settings, D, "orders.csv", b",1,", b",2,")  # valid CSV, other bytes
    code, out, _ = cli("load", "--date", str(D))
    assert code == 0 and out["status"] == "skipped"  # the manifest did not change
    code, out, err = cli("validate", "--date", str(D))
    assert code == 1, err
    failed = {c["name"]: c for c in out["checks"] if not c["passed"]}
    assert set(failed) == {"lake_files_match_manifest"}
    assert failed["lake_files_match_manifest"]["sample"][0].startswith("orders.csv (sha256")
    code, row = status_of(D)
    assert code == 5 and row["validated"] == "fail"
    # The changed file cannot replace the day: load --force refuses it, the day stays.
    code, _, err = cli("load", "--date", str(D), "--force")
    assert code == 3 and "sha256" in one_line(err)
    assert ledger(conn, D) == ["loaded", "skipped"]


def test_a_reference_file_changed_after_its_load_fails_validate_naming_the_rows(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    path = lake_day(settings, D) / "accounts.csv"
    lines = path.read_text().splitlines(keepends=True)
    account = lines[1].split(",")[0]
    lines[1] = lines[1].replace(",B", ",X", 1)
    path.write_text("".join(lines))
    code, out, err = cli("validate", "--date", str(D))
    assert code == 1, err
    failed = {c["name"]: c for c in out["checks"] if not c["passed"]}
    assert set(failed) == {"lake_files_match_manifest", "accounts_match_lake"}
    assert failed["accounts_match_lake"]["sample"] == [account]
    assert failed["accounts_match_lake"]["observed"] == 499


def test_a_manifest_gone_from_the_lake_fails_validation_and_is_recorded(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    (lake_day(settings, D) / MANIFEST_NAME).unlink()
    code, out, err = cli("validate", "--date", str(D))
    assert code == 1, err
    (check,) = out["checks"]
    assert check["name"] == "loaded_manifest_is_latest" and not check["passed"]
    assert status_of(D)[1]["validated"] == "fail"


def test_another_day_s_folder_copied_over_a_day_fails_that_day_s_validation(
    settings: Settings, conn: psycopg.Connection
) -> None:
    """The manifest in D's folder names another date: nothing of D can be checked against
    it (validate used to check, and pass, the other day instead)."""
    run_day(EARLIER)
    run_day(D)
    for path in lake_day(settings, EARLIER).iterdir():
        (lake_day(settings, D) / path.name).write_bytes(path.read_bytes())
    code, out, err = cli("validate", "--date", str(D))
    assert code == 1, err
    assert out is not None and out["trade_date"] == str(D)
    (check,) = out["checks"]
    assert check["name"] == "loaded_manifest_is_latest" and not check["passed"]
    assert f"manifest is for {EARLIER}" in check["sample"][0]
    assert status_of(D)[1]["validated"] == "fail"
    assert status_of(EARLIER)[1]["validated"] == "pass"


def test_load_force_replaces_a_day_changed_behind_surveil_s_back_atomically(
    settings: Settings, conn: psycopg.Connection
) -> None:
    run_day(D)
    executions = count_day(conn, "executions", D)
    conn.execute(
        "DELETE FROM executions WHERE trade_date = %s AND exec_id = "
        "(SELECT min(exec_id) FROM executions WHERE trade_date = %s)",
        (D, D),
    )
    code, _, _ = cli("validate", "--date", str(D))
    assert code == 1
    code, out, err = cli("load", "--date", str(D), "--force")
    assert code == 0, err
    assert out["status"] == "replaced"
    assert count_day(conn, "executions", D) == executions
    assert alert_ids(conn, D) == set()  # the old copy's alerts went with it
    assert ledger(conn, D) == ["loaded", "replaced"]
    run_day(D)
    assert status_of(D)[0] == 0
