"""Run dbt on surveil's warehouse, connected the way surveil itself connects.

    python dbt/run.py build                       # every day in the warehouse
    python dbt/run.py --date 2026-11-25 build     # a daily run: that day, which must be loaded
    python dbt/run.py -- dbt docs generate        # any dbt command line after --

The connection comes from surveil's settings: SURVEIL_DATABASE_URL, else the embedded
PostgreSQL under $SURVEIL_HOME/pg, which this process starts (or joins) and keeps running
until dbt exits: the embedded server stops when its last user does, so a URL printed by
one command would be dead before dbt could use it. The URL's parts are handed to dbt as
the SURVEIL_DBT_* variables dbt/profiles.yml reads, never on a command line.

Before dbt starts, the database is reached once through surveil (a down server is surveil's
one-line message and exit 4, not a dbt traceback) and, with --date, the day is checked:
a day without a session is skipped (exit 0, as `surveil run-day` does), a trading day that
is not loaded exits 5 (a surveillance gap) naming the command that loads it. Otherwise the
exit code is dbt's: 0 success, 1 a model or test failed, 2 dbt itself failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from surveil import calendar
from surveil.db import connect
from surveil.embedded import embedded_url
from surveil.errors import ExitCode, SurveilError
from surveil.settings import Settings, load_settings

PROJECT = Path(__file__).resolve().parent
DAY_LOADED = """
SELECT (SELECT count(*) FROM load_runs WHERE trade_date = %(day)s
          AND action IN ('loaded', 'replaced')),
       (SELECT count(*) FROM orders WHERE trade_date = %(day)s)
"""


class DayNotLoaded(SurveilError):
    exit_code = ExitCode.GAP


def dbt_environment(url: str) -> dict[str, str]:
    """SURVEIL_DBT_* (dbt/profiles.yml) from a PostgreSQL URL or conninfo string."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    env = {
        "SURVEIL_DBT_HOST": str(params.get("host") or "localhost"),
        "SURVEIL_DBT_PORT": str(params.get("port") or "5432"),
        "SURVEIL_DBT_USER": str(params.get("user") or os.environ.get("USER", "postgres")),
        "SURVEIL_DBT_PASSWORD": str(params.get("password") or ""),
        "SURVEIL_DBT_DBNAME": str(params.get("dbname") or "surveil"),
    }
    if params.get("sslmode"):
        env["SURVEIL_DBT_SSLMODE"] = str(params["sslmode"])
    return env


def warehouse_url(settings: Settings, day: dt.date | None) -> str:
    """The warehouse's URL, reached once through surveil and, with a day, checked. For the
    embedded server this process is now one of its users: it stays up until we exit."""
    url = (
        settings.database_url.get_secret_value()
        if settings.database_url is not None
        else embedded_url(settings)
    )
    with connect(settings) as conn:
        if day is not None:
            loads, orders = conn.execute(DAY_LOADED, {"day": day}).fetchone() or (0, 0)
            if not loads or not orders:
                what = "is not loaded" if not loads else "was loaded with no orders"
                raise DayNotLoaded(
                    f"{day} {what} in the warehouse: run `surveil run-day --date {day}` "
                    "(or load it) before dbt builds it"
                )
    return url


def dbt_command(args: argparse.Namespace) -> list[str]:
    command = list(args.dbt)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        command = ["build"]
    if command[0] == "dbt":
        command = command[1:]
    beside = Path(sys.executable).parent / "dbt"  # the dbt of this venv, else PATH's
    command = [str(beside) if beside.exists() else "dbt", *command]
    if args.date is not None:
        command += ["--vars", json.dumps({"trade_date": args.date.isoformat()})]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--date", type=dt.date.fromisoformat, help="The day a daily run builds.")
    parser.add_argument("dbt", nargs=argparse.REMAINDER, help="dbt's arguments (default: build)")
    args = parser.parse_args(argv)
    if args.date is not None and not calendar.is_trading_day(args.date):
        print(f"{args.date}: skipped, {calendar.non_trading_reason(args.date)}", file=sys.stderr)
        return int(ExitCode.OK)
    try:
        url = warehouse_url(load_settings(), args.date)
    except SurveilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    env = {**os.environ, **dbt_environment(url)}
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT))
    env.setdefault("DBT_PROJECT_DIR", str(PROJECT))
    return subprocess.run(dbt_command(args), env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
