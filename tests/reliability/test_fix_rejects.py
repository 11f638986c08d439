"""Issue 17 item 6: a message rejected under `import-fix --skip-invalid` changes nothing.

Reference data (firms, accounts) and order state are derived only from accepted messages:
a log with invalid messages, imported with --skip-invalid, gives exactly the firms, accounts,
orders and executions of the same log without them. Before the fix an ExecutionReport that
was rejected late (its LastMkt too long for the warehouse) had already registered its
account under the firm its Parties named, so the account was attributed to that phantom
firm and an order row was written for the rejected report, and a rejected replace had
already closed the order it replaced.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from surveil.fix import import_fix
from surveil.settings import Settings
from tests.test_import_fix import fix, new_order, report, write_log

DAY = dt.date(2026, 11, 25)
AT = "20261125-15:00:00.000"
PHANTOM_PARTY = [(453, "1"), (448, "PHANTOM"), (447, "D"), (452, "1")]
TOO_LONG_VENUE = (30, "V" * 40)  # wider than the 20 characters of executions.venue


def late_invalid_report_of_an_unknown_order() -> bytes:
    """A report of an order not in the log whose only fault is found last: its venue."""
    fields = [(37, "OID-X1"), (11, "X1"), (17, "E-X1"), (150, "0"), (39, "0"), (1, "ACC1")]
    fields += [(55, "IBM"), (54, "1"), (38, "100"), (40, "1"), *PHANTOM_PARTY, TOO_LONG_VENUE]
    return fix("8", [*fields, (60, AT)], sender="VENUE", target="CLIENT", seq=7, at=AT)


def late_invalid_replace_confirmation() -> bytes:
    """A replace confirmation of O1 by O2 (O2 unknown) rejected for its venue."""
    extra = [(41, "O1"), *PHANTOM_PARTY, TOO_LONG_VENUE]
    return report("O2", "E-R", "5", "5", at=AT, seq=8, extra=extra)


def replace_request_without_a_quantity() -> bytes:
    """A replace of an order sized by nothing (a report without quantities made it)."""
    fields = [(11, "O3"), (41, "S1"), (1, "ACC2"), *PHANTOM_PARTY, (60, AT)]
    return fix("G", fields, seq=9, at=AT)


def fill_of_an_unsized_order() -> bytes:
    """A fill of S1 without OrderQty: a synthesised order sized only by its fill."""
    fields = [(37, "OID-S1"), (11, "S1"), (17, "E-S1"), (150, "F"), (39, "1"), (1, "ACC2")]
    fields += [(55, "IBM"), (54, "1"), (40, "1"), (32, "50"), (31, "10")]
    return fix("8", [*fields, (60, AT)], sender="VENUE", target="CLIENT", seq=3, at=AT)


def day_tables(settings: Settings) -> dict[str, bytes]:
    folder = settings.data_path / f"trade_date={DAY}"
    return {t: (folder / f"{t}.csv").read_bytes() for t in ("firms", "accounts", "orders", "executions")}  # fmt: skip


@pytest.mark.parametrize("place", [0, 2], ids=["first", "after-O1"])
@pytest.mark.parametrize(
    "invalid",
    [
        late_invalid_report_of_an_unknown_order,
        late_invalid_replace_confirmation,
        replace_request_without_a_quantity,
    ],
)
def test_a_rejected_message_changes_no_firm_account_or_order(
    tmp_path: Path, invalid, place: int
) -> None:
    valid = [
        fill_of_an_unsized_order(),
        new_order("O1", seq=2),
        report("O1", "E-O1", "2", "2", at=AT, seq=4, extra=[(32, "300"), (31, "10"), (14, "300")]),
    ]
    clean = Settings(home=tmp_path / "clean")
    import_fix(clean, [write_log(tmp_path / "clean.log", *valid)])

    dirty = Settings(home=tmp_path / "dirty")
    log = write_log(tmp_path / "dirty.log", *valid[:place], invalid(), *valid[place:])
    result = import_fix(dirty, [log], skip_invalid=True)

    assert result.rejected == 1, result.rejects
    assert day_tables(dirty) == day_tables(clean)
    assert b"PHANTOM" not in b"".join(day_tables(dirty).values())
