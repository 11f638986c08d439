"""Secrets stay secret, and SQL is never built from values.

A distinctive database password and distinctive AWS credentials are set; a set of commands
runs (succeeding and failing ones, with --json and with --debug, in-process and as real
subprocesses); every captured stream, and every file surveil wrote, is searched for them.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from typer.testing import CliRunner

import surveil
from surveil.cli import app
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.reliability import surveil_command

runner = CliRunner()
DATE = str(TRADING_DAY)
PASSWORD = "Pw-Distinct!ve@#9z"  # characters that need escaping in a URL
AWS = {
    "AWS_ACCESS_KEY_ID": "AKIADISTINCTIVE7Q2X",
    "AWS_SECRET_ACCESS_KEY": "wJalrDistinctiveSecretKey/K7MDENG+bPxRfiCY",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEDistinctiveSessionToken0123",
}
SECRETS = {
    "database password": PASSWORD,
    "database password, URL-encoded": urllib.parse.quote(PASSWORD, safe=""),
    **AWS,
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def url_with_password(database_url: str, password_in_query: bool = False, **changes) -> str:
    """The test database as a postgresql:// URL carrying PASSWORD (the embedded server
    trusts local connections, so the password is sent but not needed)."""
    params = {**psycopg.conninfo.conninfo_to_dict(database_url), **changes}
    host = params.get("host", "")
    secret = urllib.parse.quote(PASSWORD, safe="")
    query = {"host": host} if host.startswith("/") else {}
    if password_in_query:
        query["password"] = PASSWORD
        auth = f"{params.get('user', 'postgres')}@"
    else:
        auth = f"{params.get('user', 'postgres')}:{secret}@"
    netloc = "" if host.startswith("/") else f"{host}:{params.get('port', 5432)}"
    return f"postgresql://{auth}{netloc}/{params['dbname']}?" + urllib.parse.urlencode(query)


class Transcript:
    """Everything surveil said: each command's stdout and stderr."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, str]] = []

    def cli(self, *args: str, expect: int | None = 0) -> None:
        result = runner.invoke(app, list(args))
        if expect is not None:
            assert result.exit_code == expect, (args, result.stderr[-2000:])
        self.outputs.append((" ".join(args), result.stdout + result.stderr))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            text = "".join(traceback.format_exception(result.exception))
            self.outputs.append((" ".join(args) + " (traceback)", text))

    def subprocess(self, *args: str, expect: int | None = 0, **env: str) -> None:
        done = subprocess.run(
            surveil_command(*args),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if expect is not None:
            assert done.returncode == expect, (args, done.stderr[-2000:])
        self.outputs.append((" ".join(args) + " [subprocess]", done.stdout + done.stderr))

    def files(self, root: Path) -> None:
        for path in root.rglob("*"):
            if path.is_file() and "pg" not in path.relative_to(root).parts[:1]:
                text = path.read_bytes().decode("utf-8", "replace")
                self.outputs.append((f"file {path.relative_to(root)}", text))

    def leaks(self) -> list[str]:
        return [
            f"{what} in the output of `{command}`"
            for command, text in self.outputs
            for what, secret in SECRETS.items()
            if secret in text
        ]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`--debug` in-process turns the root logger to DEBUG; later tests should not pay."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def secrets_env(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    url = url_with_password(database_url)
    monkeypatch.setenv("SURVEIL_DATABASE_URL", url)
    yield url


def test_the_database_password_never_appears(
    secrets_env: str,
    database_url: str,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = Transcript()
    for args in (
        ["config"],
        ["config", "--json"],
        ["generate", "--date", DATE],
        ["upload", "--date", DATE, "--json"],
        ["load", "--date", DATE],
        ["load", "--date", DATE, "--json"],
        ["validate", "--date", DATE, "--json"],
        ["detect", "--date", DATE, "--json"],
        ["alerts", "--date", DATE, "--json"],
        ["alerts", "--date", DATE, "--csv"],
        ["evaluate", "--date", DATE, "--json"],
        ["status", "--date", DATE, "--json"],  # the day run, not the sessions since
        ["run-day", "--date", DATE, "--json"],
    ):
        t.cli(*args)
    # Failing commands: no day in the lake, a bad option, a database that is not there,
    # a server that does not answer.
    t.cli("load", "--date", "2026-11-24", expect=3)
    t.cli("detect", "--date", DATE, "--rule", "nope", "--json", expect=2)
    elsewhere = url_with_password(database_url, dbname="no_such_database")
    nobody = url_with_password(database_url, host="127.0.0.1", port=str(closed_port()))
    for url in (elsewhere, nobody):
        monkeypatch.setenv("SURVEIL_DATABASE_URL", url)
        t.cli("load", "--date", DATE, expect=4)
        t.cli("status", "--json", expect=4)
        t.cli("config", "--json")
    monkeypatch.setenv("SURVEIL_DATABASE_URL", secrets_env)
    # The same through real processes, with --debug: logs, tracebacks, library output.
    t.subprocess("load", "--date", DATE, "--debug")
    t.subprocess("run-day", "--date", DATE, "--debug", "--json")
    t.subprocess("load", "--date", DATE, "--debug", expect=4, SURVEIL_DATABASE_URL=nobody)
    t.subprocess("status", "--debug", expect=4, SURVEIL_DATABASE_URL=elsewhere)
    a_folder = tmp_path / "a-folder"
    a_folder.mkdir()
    t.subprocess("detect", "--date", DATE, "--rules", str(a_folder), "--debug", expect=None)
    t.files(home)
    leaks = t.leaks()
    assert not leaks, "\n".join(leaks)
    # and the password was really in use all along
    assert PASSWORD in psycopg.conninfo.conninfo_to_dict(secrets_env)["password"]


def test_a_password_given_as_a_url_parameter_is_masked_too(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = url_with_password(database_url, password_in_query=True)
    monkeypatch.setenv("SURVEIL_DATABASE_URL", url)
    t = Transcript()
    t.cli("config")
    t.cli("config", "--json")
    t.cli("status", "--json")
    monkeypatch.setenv(
        "SURVEIL_DATABASE_URL",
        url_with_password(
            database_url, password_in_query=True, host="127.0.0.1", port=str(closed_port())
        ),
    )
    t.cli("status", "--json", expect=4)
    t.subprocess("status", "--debug", expect=4)
    leaks = t.leaks()
    assert not leaks, "\n".join(leaks)
    shown = json.loads(runner.invoke(app, ["config", "--json"]).stdout)
    assert ":***@" in shown["SURVEIL_DATABASE_URL"]


def test_aws_credentials_never_appear(
    secrets_env: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1"
    ).create_bucket(Bucket=bucket)  # fmt: skip
    monkeypatch.setenv("SURVEIL_LAKE", f"s3://{bucket}/prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    t = Transcript()
    t.cli("config", "--json")
    t.cli("generate", "--date", DATE)
    t.cli("upload", "--date", DATE, "--json")
    t.cli("load", "--date", DATE, "--json")
    t.cli("status", "--json", expect=5)  # loaded, not yet validated: a gap
    t.cli("load", "--date", "2026-11-24", expect=3)
    t.subprocess("run-day", "--date", DATE, "--debug", "--json")
    # A bucket that is not there, and an endpoint that does not answer.
    monkeypatch.setenv("SURVEIL_LAKE", "s3://no-such-bucket")
    t.cli("upload", "--date", DATE, "--debug", expect=4)
    monkeypatch.setenv("SURVEIL_LAKE", f"s3://{bucket}/prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed_port()}")
    t.subprocess("load", "--date", DATE, "--debug", "--json", expect=4)
    t.files(home)
    leaks = t.leaks()
    assert not leaks, "\n".join(leaks)


# --------------------------------------------------------------------------------------------
# SQL is built from constants and psycopg.sql only; values always travel as parameters.

SQL_CALLS = {"execute", "executemany", "copy", "stream"}


def _unsafe(node: ast.AST | None) -> str | None:
    """Why an expression used as SQL text is built from values, or None when it is not."""
    if isinstance(node, ast.JoinedStr) and any(
        isinstance(v, ast.FormattedValue) for v in node.values
    ):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "% formatting"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if not all(isinstance(side, ast.Constant) for side in (node.left, node.right)):
            return "string concatenation"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    ):
        return "str.format"
    return None


def sql_built_from_values(source: str) -> list[tuple[int, str]]:
    """(line, why) for each .execute()/.copy()/sql.SQL() whose SQL text is an f-string, %
    formatting, str.format or concatenation, directly or through a variable assigned so in
    the same function or module."""
    tree = ast.parse(source)
    findings = []
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]
    for scope in scopes:
        assigned: dict[str, list[ast.AST]] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                assigned.setdefault(node.target.id, []).append(node.value)
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            is_sql_call = isinstance(func, ast.Attribute) and func.attr in SQL_CALLS
            is_sql_ctor = (isinstance(func, ast.Attribute) and func.attr == "SQL") or (
                isinstance(func, ast.Name) and func.id == "SQL"
            )
            if not (is_sql_call or is_sql_ctor):
                continue
            first = node.args[0]
            candidates = [first]
            if isinstance(first, ast.Name):
                candidates += assigned.get(first.id, [])
            for candidate in candidates:
                why = _unsafe(candidate)
                if why:
                    findings.append((node.lineno, why))
    return sorted(set(findings))


@pytest.mark.parametrize(
    ("snippet", "flagged"),
    [
        ("cur.execute(f'SELECT * FROM t WHERE id = {x}')", True),
        ("conn.execute('SELECT %s' % x)", True),
        ("conn.execute('SELECT {}'.format(x))", True),
        ("q = 'DELETE FROM ' + table\nconn.execute(q)", True),
        ("def f():\n    q = f'DROP TABLE {t}'\n    cur.execute(q, ())", True),
        ("sql.SQL(f'SELECT {x}')", True),
        ("conn.execute('SELECT %s', (x,))", False),
        ("conn.execute(sql.SQL('SELECT {}').format(sql.Identifier(t)))", False),
        ("conn.execute(QUERY, {'d': d})", False),
        ("cur.copy(sql.SQL('COPY {} FROM STDIN').format(sql.Identifier(t)))", False),
    ],
)
def test_the_sql_scanner_itself(snippet: str, flagged: bool) -> None:
    assert bool(sql_built_from_values(snippet)) is flagged


def test_sql_is_built_only_from_constants_and_identifiers() -> None:
    root = Path(surveil.__file__).parent
    findings = [
        f"{path.relative_to(root.parent)}:{line}: SQL built with {why}"
        for path in sorted(root.rglob("*.py"))
        for line, why in sql_built_from_values(path.read_text())
    ]
    assert findings == []
