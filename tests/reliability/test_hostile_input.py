"""Hostile and malformed input: every case of corpus/ mutates a small, valid day in the lake
(its CSVs or its manifest); the load must refuse it whole with exit 3 and one line naming
the file (and the line and column where there are such), or, where the data is well-formed
but wrong, load it and fail validation with exit 1.

A case is one JSON file: `mutate` lists operations (see `apply`), `expect` the outcome.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.manifest import MANIFEST_NAME, Manifest
from surveil.settings import Settings
from tests.conftest import count_day
from tests.daybuilder import DAY, DayBuilder
from tests.reliability import assert_day_absent, lake_day, ledger, reissue_manifest, table_count

runner = CliRunner()
CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.json"))
DATE = str(DAY)
MAX_ERROR_LINE = 1000  # an error is one readable line, whatever the input held


def base_day() -> DayBuilder:
    """Five orders and five fills; every validation check passes.

    orders.csv      line 2 O00001 A1 AAPL buy 100 @190.00, filled (E00001)
                    line 3 O00002 A3 MSFT sell 200 @410.00, filled 50 + 150 (E00002, E00003)
                    line 4 O00003 A4 AAPL buy 300 @189.50, cancelled unfilled
                    line 5 O00004 M1 IBM sell 10 @250.00, filled (E00004)
                    line 6 O00005 A5 MSFT buy 500 at market, filled @409.00 (E00005)
    executions.csv  lines 2-6: E00001 … E00005
    accounts.csv    lines 2-9: A1 A2 A3 A4 A5 P1 C1 M1;  firms.csv lines 2-3: F1 F2
    """
    day = DayBuilder()
    day.filled("A1", "AAPL", "buy", 100, "190.00", "15:00:00")
    day.order(
        "A3", "MSFT", "sell", 200, "15:01:00", "410.00",
        fills=[(50, "410.00", "15:01:05"), (150, "410.00", "15:01:06")],
    )  # fmt: skip
    day.order("A4", "AAPL", "buy", 300, "15:02:00", "189.50", cancel_at="15:03:00")
    day.filled("M1", "IBM", "sell", 10, "250.00", "16:00:00")
    day.order("A5", "MSFT", "buy", 500, "17:00:00", None, fills=[(500, "409.00", "17:00:01")])
    return day


# --------------------------------------------------------------------------------------------
# The mutations a case may list


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")  # the last element is b"" after a final newline


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines))


def _column_index(lines: list[bytes], column: str) -> int:
    return lines[0].decode().split(",").index(column)


def _set_field(path: Path, line: int, column: str, value: bytes) -> None:
    lines = _lines(path)
    fields = lines[line - 1].split(b",")
    fields[_column_index(lines, column)] = value
    lines[line - 1] = b",".join(fields)
    _write(path, lines)


def _map_rows(path: Path, edit) -> None:
    """Apply `edit(fields, is_header)` to every record of the file."""
    lines = _lines(path)
    out = []
    for i, line in enumerate(lines):
        out.append(b",".join(edit(line.split(b","), i == 0)) if line else line)
    _write(path, out)


def apply(folder: Path, op: dict[str, Any]) -> None:
    kind = op["op"]
    path = folder / op["file"] if "file" in op else folder / MANIFEST_NAME
    if kind == "set":
        _set_field(path, op["line"], op["column"], op["value"].encode())
    elif kind == "set_bytes":
        _set_field(path, op["line"], op["column"], bytes.fromhex(op["hex"]))
    elif kind == "big_field":  # made at test time: too big to keep in the repository
        _set_field(path, op["line"], op["column"], b"9" * (op["megabytes"] << 20))
    elif kind == "drop_column":
        lines = _lines(path)
        at = _column_index(lines, op["column"])
        _map_rows(path, lambda f, _: f[:at] + f[at + 1 :])
    elif kind == "add_column":
        value = op["value"].encode()
        _map_rows(path, lambda f, header: [*f, op["column"].encode() if header else value])
    elif kind == "swap_columns":
        lines = _lines(path)
        a, b = _column_index(lines, op["a"]), _column_index(lines, op["b"])

        def swap(f: list[bytes], _: bool) -> list[bytes]:
            f[a], f[b] = f[b], f[a]
            return f

        _map_rows(path, swap)
    elif kind == "content":
        path.write_text(op["text"])
    elif kind == "keep_lines":
        path.write_bytes(b"".join(l + b"\n" for l in _lines(path)[: op["count"]]))  # noqa: E741
    elif kind == "truncate":
        path.write_bytes(path.read_bytes()[: -op["bytes"]])
    elif kind == "duplicate_line":
        lines = _lines(path)
        lines.insert(len(lines) - 1, lines[op["line"] - 1])
        _write(path, lines)
    elif kind == "replace":
        path.write_bytes(path.read_bytes().replace(op["old"].encode(), op["new"].encode()))
    elif kind == "prefix_bytes":
        path.write_bytes(bytes.fromhex(op["hex"]) + path.read_bytes())
    elif kind == "append_to_line":
        lines = _lines(path)
        lines[op["line"] - 1] += op["text"].encode()
        _write(path, lines)
    elif kind == "drop_last_field":
        lines = _lines(path)
        lines[op["line"] - 1] = lines[op["line"] - 1].rsplit(b",", 1)[0]
        _write(path, lines)
    elif kind == "delete_file":
        path.unlink()
    elif kind == "manifest_set":
        doc = json.loads(path.read_bytes())
        *parents, last = op["path"]
        target = doc
        for key in parents:
            target = target[key]
        target[last] = op["value"]
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    elif kind == "manifest_delete":
        doc = json.loads(path.read_bytes())
        *parents, last = op["path"]
        target = doc
        for key in parents:
            target = target[key]
        del target[last]
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    elif kind == "manifest_raw":
        path.write_text(op["text"])
    else:
        raise AssertionError(f"unknown corpus operation {kind!r}")


def mutate(folder: Path, case: dict[str, Any]) -> None:
    """CSV operations first; then, unless the case says otherwise, an honest manifest for
    the mutated files (so that the defect reaches the parser, not just the checksum); then
    the manifest operations."""
    ops = case["mutate"]
    csv_ops = [op for op in ops if "file" in op]
    for op in csv_ops:
        apply(folder, op)
    if csv_ops and case.get("reissue_manifest", True):
        reissue_manifest(folder)
    for op in ops:
        if "file" not in op:
            apply(folder, op)


# --------------------------------------------------------------------------------------------


def test_the_corpus_is_complete_and_named_in_its_readme() -> None:
    assert len(CASES) >= 25
    readme = (CORPUS / "README.md").read_text()
    for path in CASES:
        case = json.loads(path.read_text())
        assert f"`{path.name}`" in readme, f"{path.name} is not in corpus/README.md"
        assert case["expect"]["exit"] in (1, 3), path.name
        assert case["description"], path.name
    named = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert named == {p.name for p in CASES}


def test_the_base_day_is_valid(settings: Settings, conn: psycopg.Connection) -> None:
    base_day().write(Path(settings.lake_uri))
    assert runner.invoke(app, ["load", "--date", DATE]).exit_code == 0
    checked = runner.invoke(app, ["validate", "--date", DATE, "--json"])
    assert checked.exit_code == 0, checked.stdout
    assert count_day(conn, "orders", DAY) == 5 and count_day(conn, "executions", DAY) == 5


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: p.stem)
def test_hostile_input(settings: Settings, conn: psycopg.Connection, case_path: Path) -> None:
    case = json.loads(case_path.read_text())
    expect = case["expect"]
    base_day().write(Path(settings.lake_uri))
    folder = lake_day(settings, DAY)
    mutate(folder, case)

    result = runner.invoke(app, ["load", "--date", DATE, "--json"])
    if expect["exit"] == 3:
        assert result.exit_code == 3, (result.exit_code, result.stderr[:2000])
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1, line[:2000]
        assert len(line) < MAX_ERROR_LINE, f"{len(line)} characters: {line[:300]}…"
        assert "Traceback" not in line
        for fragment in expect["message"]:
            assert fragment in line, (fragment, line)
        assert json.loads(result.stdout)["exit_code"] == 3
        assert_day_absent(conn, DAY)
        assert table_count(conn, "firms") == table_count(conn, "accounts") == 0
        return

    # Well-formed but wrong: the day loads as the manifest says, and validation refuses it.
    assert result.exit_code == 0, result.stderr
    manifest = Manifest.from_bytes((folder / MANIFEST_NAME).read_bytes(), "lake")
    assert count_day(conn, "orders", DAY) == manifest.entry("orders").rows
    assert count_day(conn, "executions", DAY) == manifest.entry("executions").rows
    assert ledger(conn, DAY) == ["loaded"]
    checked = runner.invoke(app, ["validate", "--date", DATE, "--json"])
    assert checked.exit_code == 1, checked.stdout
    failed = {c["name"]: c for c in json.loads(checked.stdout)["checks"] if not c["passed"]}
    assert expect["check"] in failed, sorted(failed)
    assert expect["sample"] in failed[expect["check"]]["sample"]
    passed = conn.execute(
        "SELECT passed FROM validation_runs WHERE trade_date = %s", (DAY,)
    ).fetchall()
    assert passed == [(False,)]
