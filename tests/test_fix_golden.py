"""Golden import-fix output: the same logs give the same day files, byte for byte.

The logs: every real log in tests/data/fix/ (log4fix-j and quickfixn-fixhub, imported
together with --skip-invalid since one has a wrong BodyLength), a 2,000-order day written
by `surveil generate` + fixwriter, and a crafted log that walks an order's whole life
(replace chain, bust, cancel, resends, a refused message, the CumQty dialect, trade reports
with their replace and cancel, an invalid message, a second date). The expected files under
tests/data/fix-golden/expected/ were written by the importer before it was split into the
surveil.fix package (issue 18); the split must not change one byte. Regenerated since for
changes of behaviour only, each named here: stop 36, a cancelled or replaced trade's
synthesised orders with no fill left are forgotten (they were rejects, "cannot be sized");
stop 38, a replaced order is OrdStatus 5, not 4 (crafted: O1).

Regenerate (only for an intended change of behaviour): `python -m tests.test_fix_golden`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from surveil.fix import import_fix
from surveil.settings import Settings
from tests.test_fixlog import FIXHUB, LOG4FIX
from tests.test_import_fix import fix, new_order, report

GOLDEN = Path(__file__).parent / "data" / "fix-golden"
EXPECTED = GOLDEN / "expected"
TABLES = ("firms.csv", "accounts.csv", "orders.csv", "executions.csv", "rejects.csv")

CASES: dict[str, list[Path]] = {
    "real": sorted(LOG4FIX.glob("*.log")) + [FIXHUB],
    "generated": [GOLDEN / "generated-2026-11-25.fix.gz"],
    "crafted": [GOLDEN / "crafted.log"],
}


def day_files(data: Path) -> dict[str, bytes]:
    """Every table file of every day folder under `data`, by "trade_date=…/name"."""
    return {
        f"{path.parent.name}/{path.name}": path.read_bytes()
        for path in sorted(data.glob("trade_date=*/*.csv"))
    }


def imported(case: str, home: Path) -> dict[str, bytes]:
    settings = Settings(home=home)
    import_fix(settings, CASES[case], skip_invalid=True)
    return day_files(settings.data_path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_fix_output_is_unchanged_byte_for_byte(case: str, tmp_path: Path) -> None:
    expected = day_files(EXPECTED / case)
    assert expected, f"no golden files for {case}"
    got = imported(case, tmp_path / "home")
    assert sorted(got) == sorted(expected)
    for name, content in expected.items():
        assert got[name] == content, f"{case}: {name} differs"


def test_the_golden_cases_exercise_what_the_split_moves() -> None:
    """The expected files hold the rules' outcomes, so a change to any is seen."""
    crafted = day_files(EXPECTED / "crafted")
    orders = crafted["trade_date=2026-11-25/orders.csv"].decode()
    executions = crafted["trade_date=2026-11-25/executions.csv"].decode()
    # replaced: closed as '5' (until stop 38 '4'), at the confirmation's time
    assert "O1,2026-11-25,ACC1,CLIENT,IBM,1,2,0,300,10,2026-11-25T15:00:00.000000Z,5,100," in orders
    assert "T1-1" not in executions  # a trade report cancelled
    assert (
        "T2-1" not in executions and "T3-1,2026-11-25,T3-1,ACCB,IBM,1,45,10.75,XOFF" in executions
    )
    assert "E2," not in executions and "E3," in executions  # busted, then filled again
    assert "O4," not in orders  # refused by the venue
    assert "trade_date=2026-11-26/orders.csv" in crafted
    assert b"Side(54)=9 is not a side" in crafted["trade_date=2026-11-25/rejects.csv"]
    assert (
        "O3,2026-11-25,EXECFIRM:noacct,EXECFIRM,MSFT,2,1,0,100,,2026-11-25T15:09:00.000000Z,2,100,9.5,"
        in orders
    )
    real = day_files(EXPECTED / "real")
    assert len({name.split("/")[0] for name in real}) >= 3


# --------------------------------------------------------------------------- the inputs

AT = "20261125-15:{:02d}:00.000"


def crafted_messages() -> list[bytes]:
    """An order's life in most of its forms (see the module docstring)."""
    party = [(453, "1"), (448, "EXECFIRM"), (447, "D"), (452, "1"), (528, "A")]
    msgs = [
        new_order("O1", seq=1, at=AT.format(0)),
        new_order("O1", seq=2, at=AT.format(0)),  # a resend
        report("O1", "E0", "0", "0", at=AT.format(1), seq=1),
        report("O1", "E1", "F", "1", at=AT.format(2), seq=2, extra=[(32, "100"), (31, "10"), (14, "100"), (6, "10")]),
        report("O1", "E1", "F", "1", at=AT.format(2), seq=3, extra=[(32, "100"), (31, "10")]),  # resent ExecID
        fix("G", [(11, "O2"), (41, "O1"), (38, "500"), (40, "2"), (44, "11"), (54, "1"), (55, "IBM"), (60, AT.format(3))], seq=3, at=AT.format(3)),
        report("O2", "E5", "5", "0", at=AT.format(4), seq=4, extra=[(41, "O1")]),
        report("O2", "E2", "F", "1", at=AT.format(5), seq=5, extra=[(32, "200"), (31, "11"), (41, "O1")]),
        report("O2", "E2B", "H", "1", at=AT.format(6), seq=6, extra=[(19, "E2")]),
        report("O2", "E3", "F", "1", at=AT.format(7), seq=7, extra=[(32, "150"), (31, "11.25")]),
        report("C1", "E4", "4", "4", at=AT.format(8), seq=8, extra=[(41, "O2")]),
        # a report of an order never seen, in the CumQty dialect (no LastQty)
        fix("8", [(37, "V-9"), (11, "O3"), (17, "E6"), (150, "0"), (39, "2"), (14, "100"), (151, "0"), (6, "9.5"), (55, "MSFT"), (54, "2"), *party, (60, AT.format(9))], sender="VENUE", target="CLIENT", seq=9, at=AT.format(9)),
        # refused by the venue: not imported
        new_order("O4", seq=20, at=AT.format(10)),
        fix("3", [(45, "20"), (58, "bad")], sender="VENUE", target="CLIENT", seq=10, at=AT.format(10)),
        # trade reports: T1 cancelled, T2 replaced by T3
        fix("AE", [(571, "T1"), (487, "0"), (55, "IBM"), (32, "100"), (31, "10.5"), (60, AT.format(11)), (552, "2"), (54, "1"), (37, "OID-O1"), (453, "1"), (448, "BUYFIRM"), (452, "1"), (1, "ACCB"), (54, "2"), (453, "1"), (448, "SELLFIRM"), (452, "1"), (1, "ACCS")], seq=11, at=AT.format(11)),
        fix("AE", [(571, "T1C"), (487, "1"), (572, "T1"), (55, "IBM"), (60, AT.format(12))], seq=12, at=AT.format(12)),
        fix("AE", [(571, "T2"), (487, "0"), (55, "IBM"), (32, "40"), (31, "10.5"), (60, AT.format(13)), (552, "2"), (54, "1"), (1, "ACCB"), (54, "2"), (1, "ACCS")], seq=13, at=AT.format(13)),
        fix("AE", [(571, "T3"), (487, "2"), (572, "T2"), (55, "IBM"), (32, "45"), (31, "10.75"), (60, AT.format(14)), (552, "2"), (54, "1"), (1, "ACCB"), (54, "2"), (1, "ACCS")], seq=14, at=AT.format(14)),
        new_order("O5", seq=15, side="9", at=AT.format(15)),  # invalid: no such side
        new_order("O6", seq=16, at="20261126-15:00:00.000"),  # the next date
    ]  # fmt: skip
    return msgs


def write_inputs() -> None:
    """The generated and crafted logs (committed: the test reads the files, not this)."""
    import datetime as dt
    import tempfile

    from surveil.fixwriter import write_fix_log
    from surveil.generate import generate_day

    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        day = generate_day(Settings(home=Path(tmp)), dt.date(2026, 11, 25), orders=2000, seed=18)
        write_fix_log(day.path, GOLDEN / "generated-2026-11-25.fix.gz")
    (GOLDEN / "crafted.log").write_bytes(b"".join(m + b"\n" for m in crafted_messages()))


def write_expected() -> None:
    import tempfile

    for case in CASES:
        target = EXPECTED / case
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(home=Path(tmp))
            import_fix(settings, CASES[case], skip_invalid=True)
            for name, content in day_files(settings.data_path).items():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_bytes(content)


if __name__ == "__main__":
    if "--inputs" in sys.argv:
        write_inputs()
    write_expected()
