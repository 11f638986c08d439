"""fixlog: finding and verifying FIX messages in real engine logs and in crafted ones."""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from surveil.fix.parser import (
    MSG_TYPES,
    TAGS,
    BadMessage,
    FixMessage,
    LogScanner,
    encode_message,
    parse_bytes,
    read_log,
)

DATA = Path(__file__).parent / "data" / "fix"
LOG4FIX = DATA / "log4fix-j"
FIXHUB = DATA / "quickfixn-fixhub" / "FIX.4.2-LSEHUB-INI101.messages.current.log"
SOH = b"\x01"


@cache
def dictionary(version: str) -> ET.Element:
    """The QuickFIX data dictionary FIX42 / FIX44 (stored gzip-compressed)."""
    return ET.fromstring(
        gzip.decompress((DATA / "quickfix-spec" / f"{version}.xml.gz").read_bytes())
    )


def field_names(version: str) -> dict[int, str]:
    fields = dictionary(version).find("fields")
    assert fields is not None
    return {int(f.get("number", "0")): f.get("name", "") for f in fields}


def split(items: list) -> tuple[list[FixMessage], list[BadMessage]]:
    good = [i for i in items if isinstance(i, FixMessage)]
    bad = [i for i in items if isinstance(i, BadMessage)]
    return good, bad


def order(seq: int = 2, cl: str = "ORD1", **extra: str) -> bytes:
    fields = [
        (35, "D"),
        (49, "CLIENT"),
        (56, "VENUE"),
        (34, str(seq)),
        (52, "20261125-15:00:00.000"),
    ]
    fields += [(11, cl), (55, "IBM"), (54, "1"), (38, "100"), (40, "2"), (44, "120.5")]
    fields += [(60, "20261125-15:00:00.000")]
    fields += [(int(k.removeprefix("t")), v) for k, v in extra.items()]
    return encode_message("FIX.4.4", fields)


# --------------------------------------------------------------------------- real logs


@pytest.mark.parametrize("path", sorted(LOG4FIX.glob("*.log")), ids=lambda p: p.stem)
def test_every_log4fix_log_gives_the_count_its_footer_expects(path: Path) -> None:
    expected = int(re.search(rb"ExpectedMessageCount=(\d+)", path.read_bytes()).group(1))  # type: ignore[union-attr]
    items = list(read_log(path))
    assert len(items) == expected
    good, bad = split(items)
    if path.name == "FIX44-FXSpot-WithSubparties.log":
        assert len(bad) == 1
    else:
        assert bad == [] and all(m.begin_string == "FIX.4.2" for m in good)


def test_target_log_holds_five_fix42_reports_without_exectype_and_a_heartbeat() -> None:
    good, bad = split(
        list(read_log(LOG4FIX / "FIX42-CoyTrade-BCExchange-TargetMessagePerLine.log"))
    )
    assert bad == []
    assert Counter(m.msg_type for m in good) == {"8": 5, "0": 1}
    reports = [m for m in good if m.msg_type == "8"]
    assert all(m.get(39) == b"3" and m.get(150) is None and m.get(151) is None for m in reports)
    assert [m.line for m in good] == [1, 2, 3, 4, 5, 6]  # junk after the checksum ignored
    assert reports[0].text(11) == "103-107515" and reports[0].text(55) == "LU"


def test_a_message_split_across_lines_is_rejoined() -> None:
    good, bad = split(
        list(read_log(LOG4FIX / "FIX42-CoyTrade-BCExchange-MessagesSplitBetweenMultipleLines.log"))
    )
    assert bad == []
    assert [(m.line, m.msg_type, m.text(49)) for m in good] == [
        (1, "A", "CoyTrade"),
        (2, "A", "BCE"),
        (4, "5", "CoyTrade"),  # "8=FIX." / "4.2|…|52=" / "2006…|1" / "0=206|"
        (10, "5", "BCE"),
    ]
    assert good[2].text(52) == "20060516-22:35:48.919"


def test_fxspot_drop_copy_has_the_right_checksum_but_a_wrong_body_length() -> None:
    good, bad = split(list(read_log(LOG4FIX / "FIX44-FXSpot-WithSubparties.log")))
    assert good == []
    assert bad[0].line == 2 and bad[0].msg_type == "AE"
    assert bad[0].reason == "BodyLength(9) is 404, the body is 375 bytes"  # no CheckSum complaint
    assert bad[0].time == "20170101-09:00:00.000"


def test_pipe_delimited_message_without_trailing_delimiter_verifies_as_soh() -> None:
    good, bad = split(list(read_log(LOG4FIX / "FIX42-CoyTrade-BCExchange-PipeDelimeter.log")))
    assert bad == [] and len(good) == 1
    assert good[0].line == 3 and good[0].text(55) == "AAPL" and good[0].get(10) is None


def test_prefixed_lines_with_nul_bytes_and_comments() -> None:
    name = "FIX42-CoyTrade-BCExchange-SenderMessagePerLineMixedWithOtherText.log"
    good, bad = split(list(read_log(LOG4FIX / name)))
    assert bad == []
    assert [(m.line, m.msg_type) for m in good] == [
        (4, "A"), (5, "D"), (6, "D"), (7, "0"), (18, "D"), (19, "0"),
    ]  # fmt: skip
    assert good[1].text(11) == "71-593" and good[1].text(38) == "4100.000000"


def test_quickfixn_log_counts_and_trade_reports() -> None:
    good, bad = split(list(read_log(FIXHUB)))
    assert bad == [] and len(good) == 400
    assert Counter(m.msg_type for m in good) == {"0": 353, "A": 24, "AE": 22, "3": 1}
    trades = [m for m in good if m.msg_type == "AE"]
    for m in trades:
        assert (m.get(32), m.get(48), float(m.get(31) or 0)) == (b"41", b"GB00BH4HKS39", 162.0)
        pairs = m.pairs()
        sides = [(v, pairs[i + 2][1]) for i, (t, v) in enumerate(pairs) if t == 54]
        assert sides == [(b"1", b"MISU"), (b"2", b"BROKER")]  # Side then Account, per side


# --------------------------------------------------------------------------- verification


def test_wrong_checksum_is_reported_with_file_and_line() -> None:
    good_msg = order()
    bad_msg = good_msg[:-4] + (b"%03d" % ((int(good_msg[-4:-1]) + 1) % 256)) + SOH
    items = parse_bytes(b"junk line\n" + good_msg + b"\n" + bad_msg + b"\n", "crafted.log")
    good, bad = split(items)
    assert len(good) == 1 and good[0].line == 2
    assert bad[0].where == "crafted.log:3"
    assert bad[0].reason.startswith("CheckSum(10) is ") and "sums to" in bad[0].reason
    assert bad[0].msg_type == "D"


def test_wrong_body_length_is_reported() -> None:
    msg = order()
    stated = int(re.search(rb"\x019=(\d+)", msg).group(1))  # type: ignore[union-attr]
    tampered = msg.replace(b"\x019=%d\x01" % stated, b"\x019=%d\x01" % (stated - 3), 1)
    good, bad = split(parse_bytes(tampered + b"\n"))
    assert good == []
    assert bad[0].reason.startswith(f"BodyLength(9) is {stated - 3}, the body is {stated} bytes")


def test_changed_byte_fails_the_checksum_in_the_careful_path_too() -> None:
    msg = order().replace(SOH, b"|").replace(b"IBM", b"IBN")
    good, bad = split(parse_bytes(msg + b"\n"))
    assert good == [] and "CheckSum(10)" in bad[0].reason


def test_truncated_message_is_bad_and_the_next_one_still_read() -> None:
    first, second = order(cl="A"), order(cl="B", seq=3)
    good, bad = split(parse_bytes(first[:60] + b"\n" + second + b"\n"))
    assert [m.text(11) for m in good] == ["B"]
    assert bad[0].line == 1 and "truncated" in bad[0].reason and bad[0].msg_type == "D"


def test_text_mentioning_8_equals_fix_is_junk_not_a_message() -> None:
    data = b"# logs from 8=FIX engines follow\n" + order() + b"\n8=FIX is great\n"
    good, bad = split(parse_bytes(data))
    assert len(good) == 1 and bad == []


def test_a_message_quoted_inside_another_is_not_read_twice() -> None:
    inner = order(cl="INNER").replace(SOH, b" ")
    outer = order(cl="OUTER", t58=inner.decode())
    good, bad = split(parse_bytes(outer + b"\n"))
    assert bad == [] and [m.text(11) for m in good] == ["OUTER"]


# --------------------------------------------------------------------------- layouts


def test_soh_pipe_and_caret_a_delimiters_read_alike() -> None:
    msg = order()
    layouts = [msg, msg.replace(SOH, b"|"), msg.replace(SOH, b"^A")]
    read = [split(parse_bytes(m + b"\n"))[0] for m in layouts]
    assert all(len(r) == 1 for r in read)
    assert read[0][0].body == read[1][0].body == read[2][0].body


@pytest.mark.parametrize(
    "prefix",
    [
        b"20060410-07:01:59 -> ",
        b"20231012-10:00:00.000 : ",
        b"\x00\x00",
        b"04/10/2006  15:20:27:   <== ",
    ],
)
def test_log_line_prefixes(prefix: bytes) -> None:
    good, bad = split(
        parse_bytes(prefix + order() + b"  trailing junk\r\n" + prefix + order(seq=3) + b"\n")
    )
    assert bad == [] and [m.line for m in good] == [1, 2]


def test_several_messages_per_line() -> None:
    line = order(cl="A") + order(cl="B", seq=3) + b" " + order(cl="C", seq=4).replace(SOH, b"|")
    good, bad = split(parse_bytes(line + b"\n" + order(cl="D", seq=5)))
    assert bad == [] and [(m.text(11), m.line) for m in good] == [
        ("A", 1),
        ("B", 1),
        ("C", 1),
        ("D", 2),
    ]


def test_message_split_at_any_point_across_lines() -> None:
    msg = order()
    for cut in (5, 6, 15, 40, len(msg) - 8, len(msg) - 5, len(msg) - 2):  # not inside "8=FIX"
        good, bad = split(parse_bytes(b"x\n" + msg[:cut] + b"\r\n" + msg[cut:] + b"\n"))
        assert bad == [] and len(good) == 1 and good[0].line == 2, cut
        assert good[0].body == split(parse_bytes(msg))[0][0].body


def test_fixt_begin_string() -> None:
    msg = encode_message(
        "FIXT.1.1", [(35, "0"), (49, "A"), (56, "B"), (34, "7"), (52, "20261125-15:00:00")]
    )
    good, bad = split(parse_bytes(msg + b"\n" + msg.replace(SOH, b"|") + b"\n"))
    assert bad == [] and [m.begin_string for m in good] == ["FIXT.1.1", "FIXT.1.1"]


def test_gzip_is_read_directly(tmp_path: Path) -> None:
    path = tmp_path / "hub.log.anything"
    path.write_bytes(gzip.compress(FIXHUB.read_bytes()))
    assert len(list(read_log(path))) == 400


def test_chunk_boundaries_change_nothing() -> None:
    """The scanner is fed in pieces of any size: every cut, even inside "8=FIX", is carried."""
    data = b"".join(
        [
            b"noise 8=FI\n",
            order(cl="A"),
            b"\n",
            order(cl="B").replace(SOH, b"|"),
            b"\n20231012-10:00:00.000 : ",
            order(cl="C")[:70],
            b"\n",
            order(cl="C")[70:],
            b"\n",
            order(cl="D")[:50],
            b"\n",
            order(cl="E"),
            b"junk",
        ]
    )
    whole = [(type(i).__name__, i.line, getattr(i, "body", None)) for i in parse_bytes(data)]
    assert len(whole) == 5
    for size in (1, 2, 7, 64, 333):
        scanner = LogScanner("s")
        items = []
        for at in range(0, len(data), size):
            items += scanner.feed(data[at : at + size])
        items += scanner.finish()
        assert [(type(i).__name__, i.line, getattr(i, "body", None)) for i in items] == whole, size


def test_big_input_through_read_log(tmp_path: Path) -> None:
    """Several 4 MiB chunks: fast and careful paths and line numbers agree across chunks."""
    lines = []
    for k in range(30_000):
        msg = order(seq=k, cl=f"C{k}")
        lines.append(msg.replace(SOH, b"|") if k % 997 == 0 else b"20261125-15:00:00.000 : " + msg)
    path = tmp_path / "big.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_log(path))
    assert len(items) == 30_000 and all(isinstance(i, FixMessage) for i in items)
    assert [i.line for i in items[::4999]] == [1 + k for k in range(0, 30_000, 4999)]
    assert items[-1].text(11) == "C29999"


# --------------------------------------------------------------------------- the dictionaries


def test_every_tag_the_parser_maps_is_that_field_in_the_fix_dictionaries() -> None:
    fix42, fix44 = field_names("FIX42"), field_names("FIX44")
    renamed_in_44 = {"LastQty": "LastShares", "SecurityIDSource": "IDSource"}
    for name, number in TAGS.items():
        assert fix44.get(number) == name or fix42.get(number) == renamed_in_44.get(name, name), (
            name,
            number,
            fix42.get(number),
            fix44.get(number),
        )


def test_every_msg_type_the_parser_names_is_that_message_in_fix44() -> None:
    messages = dictionary("FIX44").find("messages")
    assert messages is not None
    by_type = {m.get("msgtype"): m.get("name") for m in messages}
    for name, msg_type in MSG_TYPES.items():
        assert by_type[msg_type] == name
