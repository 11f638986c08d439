"""The parser's fast path: every `8=FIX` of a chunk framed and verified at once with numpy.

For each candidate: BeginString, the BodyLength digits, the `<SOH>10=ddd<SOH>` trailer
exactly where BodyLength puts it and MsgType first; the checksums of the whole chunk come
from one `np.add.reduceat`. Whatever fails here goes the parser's careful way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# BeginString by the code _frame gives it: 0-4 for FIX.4.0-FIX.4.4, 5 for FIXT.1.1.
_BEGIN_BY_CODE = ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
_MT_MASKS = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF], dtype=np.uint32)


def _find_begins(data: np.ndarray) -> np.ndarray:
    """Positions of every b"8=FIX" in the chunk (numpy beats bytes.find here: digits are
    everywhere in FIX, and find's search restarts at each '8')."""
    at = np.flatnonzero(data[:-4] == 56)  # "8"
    at = at[data[at + 1] == 61]  # "="
    return at[(data[at + 2] == 70) & (data[at + 3] == 73) & (data[at + 4] == 88)]  # "FIX"


@dataclass
class _Framing:
    good: np.ndarray  # framed by BodyLength, MsgType first, CheckSum right: a valid message
    framed: np.ndarray  # framed, but the checksum is wrong
    incomplete: np.ndarray  # the stated end lies beyond the chunk
    inside: np.ndarray  # starts inside a message framed before it
    begin: np.ndarray  # BeginString code, see _BEGIN_BY_CODE
    body_at: np.ndarray  # first byte of "35="
    mt_code: np.ndarray  # MsgType bytes as a little-endian integer
    end: np.ndarray  # first byte of "10="


def _begin_strings(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, ...]:
    """(BeginString known, its code, where the BodyLength digits start): "8=FIX" is known;
    then ".4.d" SOH "9=" (FIX 4.x) or "T.1.1" SOH "9=" (FIXT.1.1)."""
    win = data[np.minimum(starts[:, None] + np.arange(5, 13), len(data) - 1)]
    fix4 = (
        (win[:, 0] == 46)  # "."
        & (win[:, 1] == 52)  # "4"
        & (win[:, 2] == 46)
        & (win[:, 3] >= 48)
        & (win[:, 3] <= 52)  # 0-4
        & (win[:, 4] == 1)
        & (win[:, 5] == 57)  # "9"
        & (win[:, 6] == 61)  # "="
    )
    fixt = (
        (win[:, 0] == 84)  # "T"
        & (win[:, 1] == 46)
        & (win[:, 2] == 49)
        & (win[:, 3] == 46)
        & (win[:, 4] == 49)
        & (win[:, 5] == 1)
        & (win[:, 6] == 57)
        & (win[:, 7] == 61)
    )
    begin = np.where(fixt, 5, win[:, 3].astype(np.int64) - 48)
    return fix4 | fixt, begin, starts + np.where(fixt, 13, 12)


def _body_lengths(data: np.ndarray, digits_at: np.ndarray) -> tuple[np.ndarray, ...]:
    """(1 to 5 digits then SOH, the BodyLength, where the body starts)."""
    dwin = data[np.minimum(digits_at[:, None] + np.arange(6), len(data) - 1)]
    is_soh = dwin == 1
    ndigits = np.argmax(is_soh, axis=1)
    is_digit = (dwin >= 48) & (dwin <= 57)
    used = np.arange(6) < ndigits[:, None]
    ok = (ndigits >= 1) & is_soh.any(axis=1) & (is_digit | ~used).all(axis=1)
    length = np.zeros(len(digits_at), dtype=np.int64)
    for p in range(5):
        length = np.where(p < ndigits, length * 10 + dwin[:, p] - 48, length)
    return ok, length, digits_at + ndigits + 1


def _trailers(data: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SOH "10=" ddd SOH where BodyLength puts it, the three CheckSum digits)."""
    e = np.minimum(end, len(data) - 7)
    tail = data[e[:, None] + np.arange(-1, 7)]
    cdig = tail[:, 4:7]
    ok = (
        (tail[:, 0] == 1)
        & (tail[:, 1] == 49)
        & (tail[:, 2] == 48)
        & (tail[:, 3] == 61)
        & (tail[:, 7] == 1)
        & ((cdig >= 48) & (cdig <= 57)).all(axis=1)
    )
    return ok, cdig


def _msg_types(data: np.ndarray, body_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the body starts with "35=" and 1 to 4 characters then SOH, those as an integer)."""
    b = np.minimum(body_at, len(data) - 8)
    mwin = data[b[:, None] + np.arange(8)]
    mt_soh = mwin[:, 3:8] == 1
    mt_len = np.argmax(mt_soh, axis=1)
    ok = (mwin[:, 0] == 51) & (mwin[:, 1] == 53) & (mwin[:, 2] == 61) & (mt_len >= 1)
    ok &= mt_soh.any(axis=1)
    code = np.ascontiguousarray(mwin[:, 3:7]).view("<u4").ravel() & _MT_MASKS[mt_len]
    return ok, code.astype(np.int64)


def _checksums_right(
    data: np.ndarray, starts: np.ndarray, end: np.ndarray, cdig: np.ndarray, framed: np.ndarray
) -> np.ndarray:
    """Whether each framed candidate's byte sum modulo 256 is its stated CheckSum."""
    good = np.zeros(len(starts), dtype=bool)
    picked = np.flatnonzero(framed)
    if len(picked):
        bounds = np.empty(2 * len(picked), dtype=np.intp)
        bounds[0::2] = starts[picked]
        bounds[1::2] = end[picked]
        sums = np.add.reduceat(data, bounds, dtype=np.uint32)[0::2] & 0xFF
        stated = cdig[picked].astype(np.uint32) @ np.array([100, 10, 1], dtype=np.uint32) - 5328
        good[picked] = sums == stated  # 5328 = 48 * 111, the ASCII zeros
    return good


def _frame(data: np.ndarray, starts: np.ndarray) -> _Framing:
    """Frame every candidate of a chunk at once by its BodyLength(9), and verify the
    CheckSum(10) of those whose framing holds."""
    n = len(data)
    count = len(starts)
    if n < 64:  # too short for the windows read; the careful path reads it
        no = np.zeros(count, dtype=bool)
        zero = np.zeros(count, dtype=np.int64)
        return _Framing(no, no, ~no, no, zero, zero, zero, zero)
    known, begin, digits_at = _begin_strings(data, starts)
    length_ok, length, body_at = _body_lengths(data, digits_at)
    header = known & length_ok
    end = body_at + length
    incomplete = header & (end + 7 > n)
    trailer, cdig = _trailers(data, end)
    mt_ok, mt_code = _msg_types(data, body_at)
    framed = header & ~incomplete & trailer & mt_ok & (length >= 5)
    good = _checksums_right(data, starts, end, cdig, framed)
    # A candidate inside a framed message (its Text quoting a message, say) is no message.
    covered = np.maximum.accumulate(np.where(framed, end + 7, 0))
    inside = np.zeros(count, dtype=bool)
    inside[1:] = starts[1:] < covered[:-1]
    return _Framing(good, framed, incomplete, inside, begin, body_at, mt_code, end)
