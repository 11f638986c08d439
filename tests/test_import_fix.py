"""import-fix: real and crafted FIX logs become day folders that load and validate."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from surveil import fix as importfix
from surveil.errors import BadInputError, ConflictError, ExitCode
from surveil.fix import REJECT_COLUMNS, import_fix
from surveil.fix.parser import encode_message, read_log
from surveil.fixwriter import CAPACITY, write_fix_log
from surveil.manifest import COLUMNS, MANIFEST_NAME, Manifest, describe_file
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.test_fixlog import DATA, FIXHUB, LOG4FIX, dictionary

TARGET_LOG = LOG4FIX / "FIX42-CoyTrade-BCExchange-TargetMessagePerLine.log"
BOTH_WAYS_LOG = LOG4FIX / "FIX42-CoyTrade-BCExchange-SenderAndTargetInSameLogFile.log"
FXSPOT_LOG = LOG4FIX / "FIX44-FXSpot-WithSubparties.log"
DAY = dt.date(2026, 11, 25)


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    """Settings with their own data folder and no database (import touches none)."""
    return Settings(home=tmp_path / "home")


def day_dir(settings: Settings, day: dt.date) -> Path:
    return settings.data_path / f"trade_date={day}"


def table(settings: Settings, day: dt.date, name: str) -> list[dict[str, str]]:
    with (day_dir(settings, day) / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def fix(
    msg_type: str,
    fields: list[tuple[int, str]],
    *,
    sender: str = "CLIENT",
    target: str = "VENUE",
    seq: int = 1,
    at: str = "20261125-15:00:00.000",
    version: str = "FIX.4.4",
) -> bytes:
    header = [(35, msg_type), (49, sender), (56, target), (34, str(seq)), (52, at)]
    return encode_message(version, header + fields)


def new_order(
    cl: str,
    *,
    qty: str = "300",
    price: str | None = "10",
    ord_type: str | None = None,
    side: str = "1",
    at: str = "20261125-15:00:00.000",
    seq: int = 1,
) -> bytes:
    fields = [(11, cl), (1, "ACC1"), (55, "IBM"), (54, side), (38, qty)]
    fields.append((40, ord_type or ("2" if price is not None else "1")))
    if price is not None:
        fields.append((44, price))
    fields.append((60, at))
    return fix("D", fields, seq=seq, at=at)


def report(cl: str, exec_id: str, exec_type: str, status: str, *, at: str, seq: int, extra: list[tuple[int, str]] = (), version: str = "FIX.4.4") -> bytes:  # fmt: skip
    fields = [(37, "OID-" + cl), (11, cl), (17, exec_id), (150, exec_type), (39, status)]
    fields += [(1, "ACC1"), (55, "IBM"), (54, "1"), (38, "300"), (40, "2"), (44, "10")]
    fields += list(extra) + [(60, at)]
    return fix("8", fields, sender="VENUE", target="CLIENT", seq=seq, at=at, version=version)


def write_log(path: Path, *messages: bytes) -> Path:
    path.write_bytes(b"".join(m + b"\n" for m in messages))
    return path


def no_staging_left(settings: Settings) -> bool:
    return not settings.data_path.exists() or not any(settings.data_path.iterdir())


# --------------------------------------------------------------------------- real logs


def test_fix42_venue_reports_without_exectype_become_expired_orders(local: Settings) -> None:
    result = import_fix(local, [TARGET_LOG])
    day = dt.date(2006, 4, 10)
    assert result.messages == {"0": 1, "8": 5}
    assert (result.orders, result.executions, result.rejected) == (5, 0, 0)
    assert result.skipped_by_reason == {"session message": 1}
    [imported] = result.days
    assert (imported.trade_date, imported.status, imported.synthesized_orders) == (
        day,
        "imported",
        5,
    )
    orders = table(local, day, "orders")
    assert orders[0] == {
        "cl_ord_id": "103-107515", "trade_date": "2006-04-10", "account_id": "CoyTrade:noacct",
        "firm_id": "CoyTrade", "symbol": "LU", "side": "1", "order_type": "1", "time_in_force": "0",
        "quantity": "50000", "limit_price": "", "transact_time": "2006-04-10T20:20:39.000000Z",
        "ord_status": "C", "cum_qty": "0", "avg_px": "", "cancel_time": "",
    }  # fmt: skip
    assert [o["ord_status"] for o in orders] == ["C"] * 5  # OrdStatus 3 (done for day)
    assert table(local, day, "executions") == []
    assert table(local, day, "accounts") == [
        {"account_id": "CoyTrade:noacct", "firm_id": "CoyTrade", "account_type": "unknown",
         "beneficial_owner_id": "CoyTrade:noacct"}
    ]  # fmt: skip
    manifest = Manifest.from_bytes((day_dir(local, day) / MANIFEST_NAME).read_bytes(), "test")
    assert (
        manifest.source["kind"] == "fix" and manifest.source["files"][0]["name"] == TARGET_LOG.name
    )
    assert manifest.entry("orders").rows == 5 and "rejects.csv" not in manifest.files


def test_report_with_exectype_new_but_filled_cumqty_records_the_fill(local: Settings) -> None:
    """ExecType 0 with OrdStatus 2, CumQty 100, AvgPx 45 and no LastShares: the CumQty rule."""
    result = import_fix(local, [BOTH_WAYS_LOG])
    day = dt.date(2006, 5, 16)
    assert result.messages == {"5": 2, "8": 1, "A": 2, "D": 1}
    [order] = table(local, day, "orders")
    assert order["order_type"] == "1" and order["limit_price"] == ""  # market: Price(44) dropped
    assert (order["quantity"], order["ord_status"], order["cum_qty"], order["avg_px"]) == (
        "100",
        "2",
        "100",
        "45",
    )
    assert table(local, day, "executions") == [
        {"exec_id": "1500", "trade_date": "2006-05-16", "cl_ord_id": "1",
         "account_id": "CoyTrade:noacct", "symbol": "AAPL", "side": "1", "fill_qty": "100",
         "fill_price": "45", "venue": "BCE", "transact_time": "2006-05-16T22:35:41.504000Z"}
    ]  # fmt: skip


def test_trade_capture_reports_give_both_sides(local: Settings) -> None:
    result = import_fix(local, [FIXHUB])
    day = dt.date(2017, 10, 20)
    assert result.messages == {"0": 353, "3": 1, "A": 24, "AE": 22}
    # The hub refused the first report (Reject 45=2: "Tag appears more than once"): 21 trades.
    assert result.skipped_by_reason["refused by the counterparty (Reject 3 / j)"] == 1
    executions = table(local, day, "executions")
    assert len(executions) == 42 and result.executions == 42
    assert {
        (e["symbol"], e["fill_qty"], float(e["fill_price"]), e["venue"]) for e in executions
    } == {("GB00BH4HKS39", "41", 162.0, "XOFF")}
    assert {(e["side"], e["account_id"]) for e in executions} == {("1", "MISU"), ("2", "BROKER")}
    assert not any(e["exec_id"].startswith("1559421388") for e in executions)
    orders = table(local, day, "orders")
    assert all(o["ord_status"] == "2" and o["cum_qty"] == o["quantity"] == "41" for o in orders)
    assert {(a["account_id"], a["firm_id"]) for a in table(local, day, "accounts")} == {
        ("MISU", "MISU"),  # PartyRole 1, executing firm
        ("BROKER", "BROKER"),  # PartyRole 17, contra firm
    }


def test_fx_drop_copy_with_nested_parties_once_its_body_length_is_repaired(
    local: Settings, tmp_path: Path
) -> None:
    """The FXSpot drop copy re-encoded with the right BodyLength: one side, three parties with
    sub-parties; the firm is the executing firm (PartyRole 1), the account Account(1)."""
    raw = FXSPOT_LOG.read_bytes()
    body = raw[raw.index(b"35=AE") : raw.index(b"\x0110=143")].split(b"\x01")
    fields = [(int(f.split(b"=", 1)[0]), f.split(b"=", 1)[1]) for f in body]
    log = write_log(tmp_path / "fx.log", encode_message("FIX.4.4", fields))
    result = import_fix(local, [log])
    day = dt.date(2017, 1, 1)  # 09:00 UTC is 04:00 in New York
    assert [d.trade_date for d in result.days] == [day]
    assert table(local, day, "executions") == [
        {"exec_id": "1010101010-1", "trade_date": "2017-01-01", "cl_ord_id": "1010101010",
         "account_id": "TARGET ACCOUNT", "symbol": "EUR/USD", "side": "1", "fill_qty": "10000",
         "fill_price": "1.2020", "venue": "XOFF", "transact_time": "2017-01-01T09:00:00.000000Z"}
    ]  # fmt: skip
    assert table(local, day, "accounts") == [
        {"account_id": "TARGET ACCOUNT", "firm_id": "EXECUTING", "account_type": "unknown",
         "beneficial_owner_id": "TARGET ACCOUNT"}
    ]  # fmt: skip


def test_invalid_message_stops_the_import_and_writes_nothing(local: Settings) -> None:
    with pytest.raises(BadInputError) as caught:
        import_fix(local, [TARGET_LOG, FXSPOT_LOG])
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert str(caught.value).startswith(
        "FIX44-FXSpot-WithSubparties.log:2: BodyLength(9) is 404, the body is 375 bytes"
    )
    assert no_staging_left(local)


def test_skip_invalid_imports_the_rest_and_lists_rejects(local: Settings) -> None:
    result = import_fix(local, [TARGET_LOG, FXSPOT_LOG], skip_invalid=True)
    assert result.rejected == 1 and result.orders == 5
    assert [d.trade_date for d in result.days] == [dt.date(2006, 4, 10), dt.date(2017, 1, 1)]
    fx_day = day_dir(local, dt.date(2017, 1, 1))  # the reject's own date: TransactTime 09:00Z
    with (fx_day / "rejects.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(REJECT_COLUMNS)
    assert rows[1][:4] == [
        FXSPOT_LOG.name,
        "2",
        "AE",
        "BodyLength(9) is 404, the body is 375 bytes",
    ]
    assert rows[1][4].startswith("8=FIX.4.4|9=404|35=AE|")
    manifest = Manifest.from_bytes((fx_day / MANIFEST_NAME).read_bytes(), "test")
    assert manifest.files["rejects.csv"].rows == 1
    assert manifest.files["rejects.csv"].columns == REJECT_COLUMNS
    assert manifest.source["rejected"] == 1 and manifest.entry("orders").rows == 0
    other = Manifest.from_bytes(
        (day_dir(local, dt.date(2006, 4, 10)) / MANIFEST_NAME).read_bytes(), "t"
    )
    assert other.files["rejects.csv"].rows == 0 and other.source["skip_invalid"] is True


def test_many_invalid_messages_are_listed_in_one_line(local: Settings, tmp_path: Path) -> None:
    bad = [new_order(f"O{k}", seq=k).replace(b"IBM", b"IBN") for k in range(1, 8)]
    with pytest.raises(BadInputError) as caught:
        import_fix(local, [write_log(tmp_path / "bad.log", *bad)])
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("7 invalid messages: bad.log:1 CheckSum(10) is ")
    assert "; bad.log:5 CheckSum(10)" in text and "… and 2 more" in text


# --------------------------------------------------------------------------- dates, files


def test_a_log_spanning_dates_is_split_by_new_york_date(local: Settings, tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "two.log",
        new_order("A", at="20261125-15:00:00.000", seq=1),
        new_order("B", at="20261126-04:30:00.000", seq=2),  # 23:30 in New York: still the 25th
        new_order("C", at="20261126-05:30:00.000", seq=3),  # 00:30 on the 26th
    )
    result = import_fix(local, [log])
    assert [(d.trade_date, d.orders) for d in result.days] == [(DAY, 2), (dt.date(2026, 11, 26), 1)]
    picked = import_fix(Settings(home=tmp_path / "other"), [log], dt.date(2026, 11, 26))
    assert [(d.trade_date, d.orders) for d in picked.days] == [(dt.date(2026, 11, 26), 1)]
    assert picked.skipped_by_reason == {"on another date": 2}


def test_fix42_on_close_order_types_become_at_the_close_orders(
    local: Settings, tmp_path: Path
) -> None:
    """OrdType 5 (market on close) and B (limit on close) are kept as FIX 4.3 on writes
    them, OrdType 1 or 2 with TimeInForce 7, which the marking-the-close rule reads as the
    closing auction; a plain day order stays a day order."""
    log = write_log(
        tmp_path / "close.log",
        new_order("MOC", price=None, ord_type="5", at="20261125-20:40:00.000", seq=1),
        new_order("LOC", price="10", ord_type="B", at="20261125-20:41:00.000", seq=2),
        new_order("DAY", price="10", at="20261125-20:42:00.000", seq=3),
    )
    import_fix(local, [log])
    orders = {o["cl_ord_id"]: o for o in table(local, DAY, "orders")}
    kept = {k: (o["order_type"], o["time_in_force"], o["limit_price"]) for k, o in orders.items()}
    assert kept == {"MOC": ("1", "7", ""), "LOC": ("2", "7", "10"), "DAY": ("2", "0", "10")}


def test_gzip_logs_are_read_directly(local: Settings, tmp_path: Path) -> None:
    path = tmp_path / "hub.log.gz"
    path.write_bytes(gzip.compress(FIXHUB.read_bytes()))
    assert import_fix(local, [path]).executions == 42


def test_reimport_is_unchanged_other_content_conflicts(local: Settings, tmp_path: Path) -> None:
    first = import_fix(local, [TARGET_LOG])
    again = import_fix(local, [TARGET_LOG])
    assert again.days[0].status == "unchanged"
    assert again.days[0].manifest_sha256 == first.days[0].manifest_sha256
    other = tmp_path / "other.log"
    other.write_bytes(TARGET_LOG.read_bytes().replace(b"JUNK OUT HERE", b"other junk"))
    with pytest.raises(ConflictError, match="holds a different FIX import; use --force"):
        import_fix(local, [other])
    assert import_fix(local, [other], force=True).days[0].status == "imported"


def test_a_generated_day_is_not_overwritten_without_force(local: Settings, tmp_path: Path) -> None:
    folder = day_dir(local, DAY)
    folder.mkdir(parents=True)
    files = {}
    for name, columns in COLUMNS.items():
        (folder / f"{name}.csv").write_text(",".join(columns) + "\n")
        files[f"{name}.csv"] = describe_file(folder / f"{name}.csv", columns)
    (folder / MANIFEST_NAME).write_bytes(Manifest(DAY, files, {"kind": "generated"}).to_bytes())
    log = write_log(tmp_path / "d.log", new_order("A"))
    with pytest.raises(ConflictError, match="holds a day from generated"):
        import_fix(local, [log])
    import_fix(local, [log], force=True)
    assert json.loads((folder / MANIFEST_NAME).read_text())["source"]["kind"] == "fix"


def test_a_failure_while_writing_leaves_no_day(
    local: Settings, tmp_path: Path, monkeypatch
) -> None:
    real = importfix._write_csv

    def failing(path: Path, columns, rows) -> None:
        if path.name == "orders.csv":
            raise OSError("disk full")
        real(path, columns, rows)

    monkeypatch.setattr(importfix, "_write_csv", failing)
    with pytest.raises(OSError):
        import_fix(local, [write_log(tmp_path / "d.log", new_order("A"))])
    assert list(local.data_path.iterdir()) == []


def test_missing_file_is_bad_input(local: Settings, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        import_fix(local, [tmp_path / "absent.log"])


def test_a_cut_gzip_file_is_bad_input(local: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cut.log.gz"
    path.write_bytes(gzip.compress(FIXHUB.read_bytes())[:5000])
    with pytest.raises(BadInputError, match="cut.log.gz: cannot be read"):
        import_fix(local, [path])
    assert no_staging_left(local)


def test_a_log_without_messages_is_refused_and_writes_no_day(local: Settings) -> None:
    """Importing nothing is a mistake, not a success (issue 17 item 7)."""
    log = "FIX42-CoyTrade-BCExchange-NoMessagesInLog.log"
    with pytest.raises(BadInputError, match=f"{log}: no FIX messages found; nothing imported"):
        import_fix(local, [LOG4FIX / log])
    assert not list(local.data_path.glob("trade_date=*"))


# --------------------------------------------------------------------------- dialect rules


def test_fix42_fills_busts_and_corrections(local: Settings, tmp_path: Path) -> None:
    v42 = {"version": "FIX.4.2"}
    log = write_log(
        tmp_path / "42.log",
        new_order("O1", at="20261125-15:00:00.000"),
        report("O1", "E0", "0", "0", at="20261125-15:00:01", seq=1, extra=[(20, "0")], **v42),
        report("O1", "E1", "1", "1", at="20261125-15:00:02", seq=2, extra=[(20, "0"), (32, "100"), (31, "10")], **v42),
        report("O1", "E2", "1", "1", at="20261125-15:00:03", seq=3, extra=[(20, "0"), (32, "100"), (31, "9.9")], **v42),
        report("O1", "E3", "1", "1", at="20261125-15:00:04", seq=4, extra=[(20, "1"), (19, "E1")], **v42),
        report("O1", "E4", "1", "1", at="20261125-15:00:05", seq=5, extra=[(20, "2"), (19, "E2"), (32, "50"), (31, "9.95")], **v42),
        report("X1", "E5", "4", "4", at="20261125-15:00:06", seq=6, extra=[(20, "0"), (41, "O1"), (14, "50"), (6, "9.95")], **v42),
    )  # fmt: skip
    result = import_fix(local, [log])
    assert result.orders == 1 and result.days[0].synthesized_orders == 0
    [order] = table(local, DAY, "orders")
    assert (order["ord_status"], order["cum_qty"], order["avg_px"]) == ("4", "50", "9.95")
    assert order["cancel_time"] == "2026-11-25T15:00:06.000000Z"  # cancel found by OrigClOrdID
    assert [
        (e["exec_id"], e["fill_qty"], e["fill_price"]) for e in table(local, DAY, "executions")
    ] == [("E4", "50", "9.95")]


def test_fix44_replace_chain(local: Settings, tmp_path: Path) -> None:
    replace = [(11, "O2"), (41, "O1"), (1, "ACC1"), (55, "IBM"), (54, "1"), (38, "200")]
    replace += [(40, "2"), (44, "10.5"), (60, "20261125-15:00:03")]
    log = write_log(
        tmp_path / "44.log",
        new_order("O1", qty="200", at="20261125-15:00:00"),
        report("O1", "E1", "F", "1", at="20261125-15:00:02", seq=1, extra=[(32, "50"), (31, "10")]),
        fix("G", replace, seq=2, at="20261125-15:00:03"),
        report("O2", "E2", "5", "1", at="20261125-15:00:04", seq=2, extra=[(41, "O1")]),
        report(
            "O2", "E3", "F", "2", at="20261125-15:00:05", seq=3, extra=[(32, "150"), (31, "10.5")]
        ),
    )
    import_fix(local, [log])
    orders = {o["cl_ord_id"]: o for o in table(local, DAY, "orders")}
    # O1 is replaced (5), not cancelled (4): its cancel_time is when the replace was confirmed.
    assert (orders["O1"]["ord_status"], orders["O1"]["cum_qty"], orders["O1"]["quantity"]) == (
        "5",
        "50",
        "200",
    )
    assert orders["O1"]["cancel_time"] == "2026-11-25T15:00:04.000000Z"
    # OrderQty 200 counts the chain: O2 is the 150 still open, now filled.
    assert (orders["O2"]["ord_status"], orders["O2"]["cum_qty"], orders["O2"]["quantity"]) == (
        "2",
        "150",
        "150",
    )
    assert orders["O2"]["limit_price"] == "10.5"


def test_execution_of_an_order_not_in_the_log_gets_a_synthesised_order(
    local: Settings, tmp_path: Path
) -> None:
    log = write_log(
        tmp_path / "drop.log",
        report("X", "E1", "F", "1", at="20261125-15:00:02", seq=1, extra=[(32, "100"), (31, "10"), (30, "XNAS")]),
        fix("8", [(37, "OID-Y"), (17, "E2"), (150, "F"), (39, "1"), (55, "MSFT"), (54, "2"),
                  (32, "5"), (31, "400"), (14, "5"), (151, "20"), (60, "20261125-15:00:03")],
            sender="VENUE", target="CLIENT", seq=2),
    )  # fmt: skip
    result = import_fix(local, [log])
    assert result.days[0].synthesized_orders == 2
    orders = {o["cl_ord_id"]: o for o in table(local, DAY, "orders")}
    assert (orders["X"]["quantity"], orders["X"]["limit_price"], orders["X"]["ord_status"]) == (
        "300",
        "10",
        "1",
    )
    # No ClOrdID: keyed by OrderID; no OrderQty: CumQty + LeavesQty; no OrdType or Price: market.
    y = orders["OID-Y"]
    assert (y["quantity"], y["order_type"], y["account_id"], y["firm_id"]) == (
        "25",
        "1",
        "CLIENT:noacct",
        "CLIENT",
    )
    venues = {e["exec_id"]: e["venue"] for e in table(local, DAY, "executions")}
    assert venues == {"E1": "XNAS", "E2": "VENUE"}  # LastMkt, else the reporting CompID


def test_values_the_warehouse_cannot_hold_are_rejected_with_reasons(
    local: Settings, tmp_path: Path
) -> None:
    log = write_log(
        tmp_path / "odd.log",
        new_order("CROSS", side="8", seq=1),
        new_order("NOPRICE", price=None, ord_type="2", seq=2),
        new_order("HALF", qty="1.5", seq=3),
        new_order("OK", seq=4),
    )
    with pytest.raises(BadInputError, match="^3 invalid messages: odd.log:1 Side"):
        import_fix(local, [log])
    result = import_fix(local, [log], skip_invalid=True)
    assert result.orders == 1
    reasons = [r.reason for r in result.rejects]
    assert reasons == [
        "Side(54)=8 is not a side the warehouse takes (1, 2, 5, 6)",
        "limit order (OrdType 2) without Price(44)",
        "OrderQty(38) '1.5' is not a whole number of shares",
    ]


def test_message_refused_by_the_counterparty_is_skipped(local: Settings, tmp_path: Path) -> None:
    refusal = fix(
        "3", [(45, "2"), (58, "Value is incorrect")], sender="VENUE", target="CLIENT", seq=9
    )
    log = write_log(tmp_path / "r.log", new_order("A", seq=1), new_order("B", seq=2), refusal)
    result = import_fix(local, [log])
    assert [o["cl_ord_id"] for o in table(local, DAY, "orders")] == ["A"]
    assert result.skipped_by_reason["refused by the counterparty (Reject 3 / j)"] == 1


def test_every_enum_value_the_importer_maps_is_in_the_fix_dictionaries() -> None:
    def enums(field: str) -> set[str]:
        found: set[str] = set()
        for version in ("FIX42", "FIX44"):
            fields = dictionary(version).find("fields")
            assert fields is not None
            for f in fields:
                if f.get("name") == field:
                    found |= {v.get("enum", "") for v in f}
        assert found, field
        return found

    assert set(importfix.SIDES) <= enums("Side") and set(importfix.SIDES.values()) <= enums("Side")
    assert set(importfix.ORDER_TYPES) | {"P"} <= enums("OrdType")
    assert importfix.TIME_IN_FORCE <= enums("TimeInForce")
    roles = set(importfix.FIRM_ROLES) | set(importfix.ACCOUNT_ROLES) | {importfix.OWNER_ROLE}
    assert roles <= enums("PartyRole")
    assert importfix.CLIENT_CAPACITY | importfix.PROPRIETARY_CAPACITY <= enums("OrderCapacity")
    assert importfix.CLIENT_RULE80A | importfix.PROPRIETARY_RULE80A | {"S"} <= enums("Rule80A")
    assert "5" in enums("OrderRestrictions")
    exec_types = importfix.TRADE_EXEC_TYPES | importfix.STATUS_ONLY_EXEC_TYPES | {"G", "H"}
    assert exec_types | set(importfix.STATUS_OF_EXEC_TYPE) <= enums("ExecType")
    assert set(importfix.STATUS_OF_EXEC_TYPE.values()) <= enums("OrdStatus")
    # TradeReportTransType(487) is in the FIX 4.4 dictionary without values (INT); the values
    # used (0 new, 1 cancel, 2 replace, 4 reverse) are FIX 4.4's, volume 5.
    fields44 = dictionary("FIX44").find("fields")
    assert fields44 is not None
    [trans] = [f for f in fields44 if f.get("number") == "487"]
    assert (trans.get("name"), trans.get("type")) == ("TradeReportTransType", "INT")
    assert {v.decode() for pairs in CAPACITY.values() for _, v in pairs} <= (
        enums("OrderCapacity") | enums("OrderRestrictions")
    )


# --------------------------------------------------------------------------- round trip


def test_round_trip_generated_day_through_fix(tmp_path: Path) -> None:
    """generate → FIX 4.4 log → import into another data folder: orders and executions rows
    come back exactly; accounts exactly for the accounts that traded; firms by id (FIX carries
    no firm names or types)."""
    from surveil.generate import generate_day

    source, target = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    generated = generate_day(source, TRADING_DAY, orders=300)
    log = tmp_path / "day.fix.gz"
    written = write_fix_log(generated.path, log)
    assert written == sum(1 for _ in read_log(log))
    result = import_fix(target, [log])
    assert result.rejected == 0 and [d.trade_date for d in result.days] == [TRADING_DAY]

    def rows(settings: Settings, name: str) -> list[list[str]]:
        """The file's rows, sorted, without its header."""
        with (day_dir(settings, TRADING_DAY) / f"{name}.csv").open(newline="") as fh:
            reader = csv.reader(fh)
            assert tuple(next(reader)) == COLUMNS[name]
            return sorted(reader)

    for name in ("orders", "executions"):
        assert rows(target, name) == rows(source, name), name
    orders = rows(source, "orders")
    imported_accounts = rows(target, "accounts")
    assert {r[0] for r in imported_accounts} == {r[2] for r in orders}  # the accounts that traded
    # An account with no known owner is written with no investor party, and import-fix,
    # seeing investors named for the other accounts, gives it no owner either (docs).
    assert any(r[3] == "" for r in imported_accounts)
    assert set(map(tuple, imported_accounts)) <= set(map(tuple, rows(source, "accounts")))
    assert {r[0] for r in rows(target, "firms")} == {r[3] for r in orders}


def test_imported_real_days_write_back_to_fix_and_import_the_same(tmp_path: Path) -> None:
    """import → write_fix_log → import: the fixwriter/importer pair is stable on real days too
    (synthesised, expired, new and trade-reported orders)."""
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    logs = [
        FIXHUB,
        BOTH_WAYS_LOG,
        TARGET_LOG,
        LOG4FIX / "FIX42-CoyTrade-BCExchange-SenderMessagePerLine.log",
    ]
    result = import_fix(first, logs)
    assert len(result.days) == 3
    for imported in result.days:
        log = tmp_path / f"{imported.trade_date}.fix"
        write_fix_log(imported.path, log, prefix=False)
        again = import_fix(second, [log])
        assert [d.trade_date for d in again.days] == [imported.trade_date]
        for name in ("orders", "executions", "accounts", "firms"):
            rows = [table(s, imported.trade_date, name) for s in (first, second)]
            assert sorted(rows[1], key=str) == sorted(rows[0], key=str), name  # time order now


# --------------------------------------------------------------------------- spilling


def spilling(monkeypatch, entries: int) -> None:
    """Keep only `entries` orders, fills, OrderIDs and trades in memory, checked after every
    message: everything older goes through the spill file."""
    monkeypatch.setattr(importfix, "HOT_ENTRIES", entries)
    monkeypatch.setattr(importfix, "MIN_HOT_ENTRIES", entries)
    monkeypatch.setattr(importfix, "SETTLE_EVERY", 1)


def day_files(settings: Settings, day: dt.date) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(day_dir(settings, day).iterdir())}


def late_messages() -> list[bytes]:
    """Messages naming orders, fills and trades long after they were made: by then a small
    memory budget has spilled them, and they must be read back."""
    at = "20261125-20:00:00"

    def later(seq: int, *fields: tuple[int, str], msg_type: str = "8") -> bytes:
        sender = ("VENUE", "CLIENT") if msg_type == "8" else ("CLIENT", "VENUE")
        return fix(msg_type, [*fields, (60, at)], sender=sender[0], target=sender[1], seq=seq, at=at)  # fmt: skip

    return [
        # a trade report early, its two sides' orders synthesised; a report for an order whose
        # NewOrderSingle comes last
        fix("AE", [(571, "T1"), (32, "40"), (31, "10"), (55, "IBM"), (552, "2"), (54, "1"),
                   (11, "S1"), (54, "2"), (37, "OID-S2"), (60, "20261125-14:31:00")],
            seq=900, at="20261125-14:31:00"),
        report("LATE", "EL1", "F", "1", at="20261125-14:31:01", seq=901,
               extra=[(32, "100"), (31, "10")]),
        *[new_order(f"O{k}", at=f"20261125-15:{k // 60:02d}:{k % 60:02d}", seq=k)
          for k in range(1, 121)],
        *[report(f"O{k}", f"E{k}", "F", "1", at=f"20261125-16:{k // 60:02d}:{k % 60:02d}",
                 seq=k, extra=[(32, "100"), (31, "10"), (14, "100"), (6, "10")])
          for k in range(1, 121, 2)],
        later(501, (37, "OID-O3"), (17, "X3"), (150, "F"), (39, "1"), (32, "50"), (31, "11")),
        later(502, (11, "O5"), (17, "E5"), (150, "F"), (39, "1"), (32, "100"), (31, "10")),
        later(503, (11, "O7"), (17, "B7"), (150, "H"), (19, "E7")),
        later(504, (11, "O9"), (17, "C9"), (150, "G"), (19, "E9"), (32, "60"), (31, "9")),
        later(505, (11, "X11"), (41, "O11"), (17, "K11"), (150, "4"), (39, "4")),
        later(506, (11, "O13R"), (41, "O13"), (1, "ACC1"), (55, "IBM"), (54, "1"),
              (38, "300"), (40, "2"), (44, "10.5"), msg_type="G"),
        later(507, (11, "O13R"), (41, "O13"), (17, "R13"), (150, "5"), (39, "0")),
        later(508, (11, "O13R"), (17, "F13"), (150, "F"), (39, "2"), (32, "200"), (31, "10.5")),
        later(509, (11, "O15"), (17, "C15"), (150, "0"), (39, "2"), (14, "250"), (6, "10.2")),
        later(510, (571, "T2"), (487, "1"), (572, "T1"), msg_type="AE"),
        new_order("LATE", at=at, seq=511),
        new_order("O17", at=at, seq=512),  # a resend
    ]  # fmt: skip


def test_a_day_larger_than_memory_imports_as_if_held_whole(
    local: Settings, tmp_path: Path, monkeypatch
) -> None:
    """With room in memory for a handful of entries, every order, fill and trade goes to the
    spill file and back; the files are byte for byte those of an import held in memory."""
    log = write_log(tmp_path / "late.log", *late_messages())
    whole = import_fix(local, [log], skip_invalid=True)
    assert whole.skipped_by_reason["duplicate NewOrderSingle (resend)"] == 1
    # the cancelled trade's sides lose their only fill: the orders made for them go too
    # (stop 36; they were rejects, orders that cannot be sized)
    assert whole.rejects == []
    spilling(monkeypatch, 3)
    spilled_home = Settings(home=tmp_path / "spilled")
    spilled = import_fix(spilled_home, [log], skip_invalid=True)
    assert spilled == dataclasses.replace(
        whole, days=[dataclasses.replace(d, path=day_dir(spilled_home, DAY)) for d in whole.days]
    )
    assert day_files(spilled_home, DAY) == day_files(local, DAY)
    orders = {o["cl_ord_id"]: o for o in table(spilled_home, DAY, "orders")}
    assert (orders["O3"]["cum_qty"], orders["O7"]["cum_qty"], orders["O9"]["cum_qty"]) == (
        "150", "0", "60",
    )  # fmt: skip
    # O11 cancelled (4); O13 replaced by O13R (5, not a cancel: its life goes on as O13R).
    assert (orders["O11"]["ord_status"], orders["O13"]["ord_status"]) == ("4", "5")
    assert (orders["O13R"]["quantity"], orders["O15"]["cum_qty"]) == ("200", "250")  # 300 - 100
    assert orders["LATE"]["order_type"] == "2" and list(orders)[:2] == ["LATE", "O1"]
    assert not {"T1-1", "T1-2"} & {e["exec_id"] for e in table(spilled_home, DAY, "executions")}
    assert not {"S1", "OID-S2"} & set(orders)


def test_a_generated_day_through_the_spill_file_round_trips(tmp_path: Path, monkeypatch) -> None:
    """generate → FIX → import with a tiny memory budget: orders.csv is generate's, byte for
    byte, and every file is the in-memory import's."""
    from surveil.generate import generate_day

    source = Settings(home=tmp_path / "a")
    generated = generate_day(source, TRADING_DAY, orders=400)
    log = tmp_path / "day.fix"
    write_fix_log(generated.path, log)
    whole = Settings(home=tmp_path / "whole")
    import_fix(whole, [log])
    spilling(monkeypatch, 5)
    spilled = Settings(home=tmp_path / "spilled")
    result = import_fix(spilled, [log])
    assert result.orders == 400 and result.rejected == 0
    assert day_files(spilled, TRADING_DAY) == day_files(whole, TRADING_DAY)
    assert (day_dir(spilled, TRADING_DAY) / "orders.csv").read_bytes() == (
        generated.path / "orders.csv"
    ).read_bytes()
    assert sorted(p.name for p in spilled.data_path.iterdir()) == [f"trade_date={TRADING_DAY}"]


# --------------------------------------------------------------------------- the warehouse


def test_real_logs_load_and_validate_in_postgres(settings: Settings) -> None:
    from surveil.lake import upload_day
    from surveil.load import load_day
    from surveil.validate import validate_day

    logs = [FIXHUB, BOTH_WAYS_LOG, TARGET_LOG]
    result = import_fix(settings, logs)
    assert [d.trade_date for d in result.days] == [
        dt.date(2006, 4, 10), dt.date(2006, 5, 16), dt.date(2017, 10, 20),
    ]  # fmt: skip
    for imported in result.days:
        upload_day(settings, imported.trade_date)
        loaded = load_day(settings, imported.trade_date)
        assert loaded.rows_inserted["orders"] == imported.orders
        checked = validate_day(settings, imported.trade_date)
        assert checked.failed == [], (imported.trade_date, checked.failed)


def test_data_folder_copies_are_the_documented_files() -> None:
    readme = (DATA / "README.md").read_text()
    for folder in ("log4fix-j", "quickfixn-fixhub", "quickfix-spec"):
        assert (DATA / folder / "LICENSE").exists() and f"| {folder}/ |" in readme


def test_import_fix_command_and_generate_format_fix_round_trip(settings, tmp_path) -> None:
    """The CLI path: generate --format fix, import-fix into another data folder, --json."""
    from typer.testing import CliRunner

    from surveil.cli import app

    runner = CliRunner()
    day = "2026-11-25"
    made = runner.invoke(
        app, ["generate", "--date", day, "--orders", "300", "--format", "fix", "--json"]
    )
    assert made.exit_code == 0, made.stderr
    log = Path(json.loads(made.stdout)["fix_log"])
    assert log.exists() and json.loads(made.stdout)["fix_messages"] > 300
    other = tmp_path / "imported"
    result = runner.invoke(
        app, ["import-fix", str(log), "--json"], env={"SURVEIL_DATA_DIR": str(other)}
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert [d["trade_date"] for d in out["days"]] == [day]
    assert out["days"][0]["orders"] == 300
    original = settings.data_path / f"trade_date={day}" / "orders.csv"
    assert (other / f"trade_date={day}" / "orders.csv").read_bytes() == original.read_bytes()


def _order_of(cl: str, account: str, investor: str | None = None, *, seq: int,
              extra: list[tuple[int, str]] = ()) -> bytes:  # fmt: skip
    parties = [(448, "FIRM1"), (447, "D"), (452, "13")]
    if investor:
        parties += [(448, investor), (447, "D"), (452, "5")]
    fields = [(11, cl), (1, account), (453, str(len(parties) // 3)), *parties, *extra]
    fields += [(55, "IBM"), (54, "1"), (38, "100"), (40, "2"), (44, "10")]
    at = f"20261125-15:00:{seq:02d}.000"
    return fix("D", [*fields, (60, at)], seq=seq, at=at)


def test_an_account_of_several_customers_has_no_known_owner(
    local: Settings, tmp_path: Path
) -> None:
    """Omnibus accounts: AccountType(581) 13 (orders from multiple customers), two investors
    named for one account, or no investor where the log names them for others: the owner is
    unknown (NULL), so the wash rule never pairs two of its clients. In a log that names no
    investor at all, every account is its own owner."""
    log = write_log(
        tmp_path / "owners.log",
        _order_of("C1", "PLAIN", "INV1", seq=1),
        _order_of("C2", "PLAIN", "INV1", seq=2),
        _order_of("C3", "OMNI581", "INV2", seq=3, extra=[(581, "13")]),
        _order_of("C4", "TWOCLIENTS", "INV3", seq=4),
        _order_of("C5", "TWOCLIENTS", "INV4", seq=5),
        _order_of("C6", "UNNAMED", seq=6),
    )
    import_fix(local, [log])
    owners = {
        r["account_id"]: r["beneficial_owner_id"] for r in table(local, TRADING_DAY, "accounts")
    }
    assert owners == {"PLAIN": "INV1", "OMNI581": "", "TWOCLIENTS": "", "UNNAMED": ""}

    alone = Settings(home=tmp_path / "alone")
    nobody = write_log(tmp_path / "nobody.log", _order_of("C7", "SOLO", seq=1))
    import_fix(alone, [nobody])
    assert [r["beneficial_owner_id"] for r in table(alone, TRADING_DAY, "accounts")] == ["SOLO"]


def test_a_day_folder_s_times_with_an_offset_are_written_as_utc_fix_timestamps() -> None:
    """write_fix_log takes any ISO time load accepts, not only the generator's form."""
    from surveil.fixwriter import fix_time

    assert fix_time("2026-11-27T14:30:00.000001Z") == b"20261127-14:30:00.000001"
    assert fix_time("2026-11-27T09:30:00-05:00") == b"20261127-14:30:00.000000"
    assert fix_time("2026-11-27 14:30:00.500+00:00") == b"20261127-14:30:00.500000"
