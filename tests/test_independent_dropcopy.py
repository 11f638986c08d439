"""The independent drop copy (benchmarks/independent/): a small day imports cleanly with
`surveil import-fix`, its labels name ids the imported day holds, it is deterministic, and
the benchmark's scorer matches alerts to cases as documented."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveil.cli import app

ROOT = Path(__file__).resolve().parents[1]
DROPCOPY = ROOT / "benchmarks" / "independent" / "dropcopy.py"
DAY = "2026-10-14"


def _write_day(out: Path, seed: int = 7) -> Path:
    subprocess.run(
        [sys.executable, str(DROPCOPY), "--date", DAY, "--seed", str(seed), "--orders", "2000",
         "--out", str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_day(tmp_path_factory.mktemp("dropcopy"))


def _scorer():
    spec = importlib.util.spec_from_file_location(
        "independent_flow", ROOT / "benchmarks" / "independent_flow.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_day_imports_without_rejects_and_its_labels_name_imported_ids(
    day: Path, home: Path
) -> None:
    log = day / f"dropcopy-{DAY}.fix"
    result = CliRunner().invoke(
        app, ["import-fix", str(log), "--json"], env={"SURVEIL_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rejected"] == 0 and report["rejects"] == []
    assert {"D", "G", "F", "8"} <= set(report["messages"])
    folder = home / "data" / f"trade_date={DAY}"
    with (folder / "orders.csv").open(newline="") as fh:
        orders = {r["cl_ord_id"]: r for r in csv.DictReader(fh)}
    with (folder / "executions.csv").open(newline="") as fh:
        execs = {r["exec_id"]: r for r in csv.DictReader(fh)}
    with (folder / "accounts.csv").open(newline="") as fh:
        accounts = {r["account_id"] for r in csv.DictReader(fh)}
    labels = json.loads((day / "labels.json").read_text(encoding="utf-8"))
    kinds = {(c["type"], c["label"]) for c in labels}
    for rule in ("wash_trade", "spoofing", "marking_the_close", "excessive_otr", "front_running"):
        assert (rule, "abuse") in kinds and (rule, "lookalike") in kinds
    for case in labels:
        assert set(case["account_ids"]) <= accounts, case["case_id"]
        assert case["cl_ord_ids"] and set(case["cl_ord_ids"]) <= set(orders), case["case_id"]
        assert set(case["exec_ids"]) <= set(execs), case["case_id"]
        assert {orders[c]["account_id"] for c in case["cl_ord_ids"]} <= set(case["account_ids"])
        if case["symbol"] is not None:
            assert {orders[c]["symbol"] for c in case["cl_ord_ids"]} == {case["symbol"]}


def test_the_log_uses_the_drop_copy_message_kinds(day: Path) -> None:
    text = (day / f"dropcopy-{DAY}.fix").read_text(encoding="ascii")
    lines = text.splitlines()
    assert all(line.startswith("8=FIX.4.4\x019=") for line in lines)
    exec_types = {f.split("=")[1] for line in lines for f in line.split("\x01")
                  if f.startswith("150=")}  # fmt: skip
    assert {"0", "F", "4", "5", "8", "C", "H"} <= exec_types
    assert "\x0159=7\x01" in text and "\x01581=13\x01" in text and "\x01452=5\x01" in text


def test_same_date_and_seed_give_identical_bytes(day: Path, tmp_path: Path) -> None:
    again = _write_day(tmp_path / "again")
    for name in (f"dropcopy-{DAY}.fix", "labels.json"):
        assert (again / name).read_bytes() == (day / name).read_bytes()
    other = _write_day(tmp_path / "other", seed=8)
    assert (other / "labels.json").read_bytes() != (day / "labels.json").read_bytes()


def test_the_scorer_matches_on_rule_symbol_account_and_an_id() -> None:
    flow = _scorer()
    case = {"case_id": "w1", "type": "wash_trade", "label": "abuse", "symbol": "KODK",
            "account_ids": ["C1"], "cl_ord_ids": ["a", "b"], "exec_ids": ["x"]}  # fmt: skip
    otr = {"case_id": "o1", "type": "excessive_otr", "label": "abuse", "symbol": None,
           "symbols": ["AAPL", "MSFT"], "account_ids": ["C9"], "cl_ord_ids": ["q"],
           "exec_ids": []}  # fmt: skip
    look = {"case_id": "l1", "type": "wash_trade", "label": "lookalike", "symbol": "F",
            "account_ids": ["M1"], "cl_ord_ids": ["m"], "exec_ids": []}  # fmt: skip

    def alert(rule, symbol, accts, clids=(), execs=()):
        return {"rule": rule, "symbol": symbol, "account_ids": list(accts),
                "cl_ord_ids": list(clids), "exec_ids": list(execs)}  # fmt: skip

    alerts = [
        alert("wash_trade", "KODK", ["C1"], execs=["x"]),  # true
        alert("wash_trade", "KODK", ["C1"], clids=["zz"]),  # no id in common: false
        alert("spoofing", "KODK", ["C1"], clids=["a"]),  # another rule's case: false
        alert("excessive_otr", "TSLA", ["C9"]),  # a case spanning symbols: account suffices
        alert("wash_trade", "F", ["M1"], clids=["m"]),  # on a look-alike
    ]
    score = flow.score_day({"labels": [case, otr, look], "alerts": alerts})
    assert [v["kind"] for v in score["verdicts"]] == ["true", "false", "false", "true", "lookalike"]
    rows = {r["rule"]: r for r in flow.table([{"score": score}])}
    assert rows["wash_trade"]["precision"] == round(1 / 3, 3)
    assert rows["wash_trade"]["recall"] == 1.0
    assert rows["spoofing"]["precision"] == 0.0 and rows["spoofing"]["recall"] is None
    assert rows["front_running"]["precision"] is None
    assert rows["wash_trade"]["lookalikes_flagged"] == 1
