"""The generator: realistic statistics, lifecycle rules, determinism, planted scenarios that
satisfy their rule while their look-alikes and the background do not, and a day that loads
and validates in PostgreSQL.

The rule checks here implement the parameters documented in surveil/generate/scenarios.py
over the CSV files, in plain Python, as an executable spec for the detectors.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from surveil import calendar
from surveil.errors import BadInputError
from surveil.generate import GENERATOR_VERSION, POPULATIONS, generate_day
from surveil.generate import flow as flow_module
from surveil.generate.auction import PRINT_DELAY_US
from surveil.generate.market import VENUES, load_universe
from surveil.generate.scenarios import RULE_PARAMETERS, SCENARIO_TYPES, default_counts
from surveil.manifest import COLUMNS, MANIFEST_NAME, OPTIONAL_COLUMNS
from surveil.settings import Settings
from tests.conftest import EARLY_CLOSE_DAY, TRADING_DAY

UTC = dt.UTC
ORDERS = 3_000
PRINT_DELAY = dt.timedelta(microseconds=PRINT_DELAY_US)
_UNIVERSE = load_universe()
LISTING = dict(zip(_UNIVERSE.symbols, _UNIVERSE.listing, strict=True))


# -- reading a day ---------------------------------------------------------------------------
def _time(text: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _array(text: str) -> set[str]:
    return set(filter(None, text.strip("{}").split(",")))


@dataclass
class Day:
    path: Path
    manifest: dict[str, Any]
    orders: list[dict[str, Any]]
    executions: list[dict[str, Any]]
    accounts: dict[str, dict[str, str]]
    scenarios: list[dict[str, Any]]

    @property
    def trade_date(self) -> dt.date:
        return dt.date.fromisoformat(self.manifest["trade_date"])

    @property
    def session(self) -> calendar.Session:
        return calendar.session(self.trade_date)

    def planted_order_ids(self) -> set[str]:
        return {i for s in self.scenarios for i in s["cl_ord_ids"]}


def read_day(path: Path) -> Day:
    def rows(name: str) -> list[dict[str, str]]:
        with (path / name).open(newline="") as fh:
            return list(csv.DictReader(fh))

    orders = [
        {
            **r,
            "quantity": int(r["quantity"]),
            "cum_qty": int(r["cum_qty"]),
            "limit_price": Decimal(r["limit_price"]) if r["limit_price"] else None,
            "avg_px": Decimal(r["avg_px"]) if r["avg_px"] else None,
            "transact_time": _time(r["transact_time"]),
            "cancel_time": _time(r["cancel_time"]),
        }
        for r in rows("orders.csv")
    ]
    executions = [
        {
            **r,
            "fill_qty": int(r["fill_qty"]),
            "fill_price": Decimal(r["fill_price"]),
            "transact_time": _time(r["transact_time"]),
        }
        for r in rows("executions.csv")
    ]
    scenarios = [
        {**r, **{k: _array(r[k]) for k in ("account_ids", "cl_ord_ids", "exec_ids")}}
        for r in rows("scenarios.csv")
    ]
    accounts = {r["account_id"]: r for r in rows("accounts.csv")}
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    return Day(path, manifest, orders, executions, accounts, scenarios)


def make_day(root: Path, day: dt.date, orders: int, seed: int = 7, **options: Any) -> Path:
    settings = Settings(_env_file=None, home=root, data_dir=root / "data")
    return generate_day(settings, day, orders=orders, seed=seed, **options).path


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return read_day(make_day(tmp_path_factory.mktemp("day"), TRADING_DAY, ORDERS))


@pytest.fixture(scope="module")
def background_only(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """A bigger day with no planted scenarios: the background alone."""
    none = dict.fromkeys(SCENARIO_TYPES, 0)
    path = make_day(tmp_path_factory.mktemp("bg"), TRADING_DAY, 20_000, seed=11, scenarios=none)
    return read_day(path)


# -- the documented rules, as plain Python -----------------------------------------------------
Alert = dict[str, Any]
WASH = RULE_PARAMETERS["wash_trade"]
SPOOF = RULE_PARAMETERS["spoofing"]
MARK = RULE_PARAMETERS["marking_the_close"]
OTR = RULE_PARAMETERS["excessive_otr"]
AHEAD = RULE_PARAMETERS["front_running"]


def _is_buy(side: str) -> bool:
    return side == "1"


def _seconds(value: float | int | bool) -> dt.timedelta:
    return dt.timedelta(seconds=float(value))


def wash_trades(day: Day) -> list[Alert]:
    """Matched crosses: runs of fills of one known owner, symbol, venue and price, each at
    most window_s after the one before, that bought and sold the same quantity."""
    owner = {a: r["beneficial_owner_id"] for a, r in day.accounts.items()}
    width = dt.timedelta(seconds=float(WASH["window_s"]))
    groups: dict[tuple[str, str, str, Decimal], list[dict[str, Any]]] = defaultdict(list)
    for e in day.executions:
        if owner[e["account_id"]]:  # an unknown owner is never paired
            groups[e["symbol"], owner[e["account_id"]], e["venue"], e["fill_price"]].append(e)
    alerts = []
    for (symbol, *_), fills in groups.items():
        fills.sort(key=lambda f: (f["transact_time"], f["exec_id"]))
        runs = [[fills[0]]]
        for f in fills[1:]:
            if f["transact_time"] - runs[-1][-1]["transact_time"] > width:
                runs.append([])
            runs[-1].append(f)
        for run in runs:
            bought = sum(f["fill_qty"] for f in run if _is_buy(f["side"]))
            sold = sum(f["fill_qty"] for f in run if not _is_buy(f["side"]))
            if bought and bought == sold:
                alerts.append(_alert(symbol, run, run))
    return alerts


def _median_by(orders: list[dict[str, Any]], key: str) -> dict[str, float]:
    sizes: dict[str, list[int]] = defaultdict(list)
    for o in orders:
        sizes[o[key]].append(o["quantity"])
    return {k: statistics.median(q) for k, q in sizes.items()}


def _market_median(day: Day, genuine: dict[str, Any]) -> float:
    """The symbol's median order size of every account but the suspect's."""
    sizes = [
        o["quantity"]
        for o in day.orders
        if o["symbol"] == genuine["symbol"] and o["account_id"] != genuine["account_id"]
    ]
    return statistics.median(sizes) if sizes else 0


def spoofing(day: Day) -> list[Alert]:
    filled_median = _median_by([o for o in day.orders if o["ord_status"] == "2"], "account_id")
    layered: dict[tuple[str, str, bool], list[dict[str, Any]]] = defaultdict(list)
    for o in day.orders:
        if (
            o["ord_status"] == "4"
            and o["order_type"] == "2"
            and o["time_in_force"] not in ("3", "4", "7")
            and o["cum_qty"] <= SPOOF["max_filled_share"] * o["quantity"]
            and o["account_id"] in filled_median
            and o["quantity"] >= SPOOF["layer_multiple"] * filled_median[o["account_id"]]
        ):
            layered[o["account_id"], o["symbol"], _is_buy(o["side"])].append(o)
    fills_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in day.executions:
        fills_of[e["cl_ord_id"]].append(e)
    found: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for o in day.orders:
        fills = fills_of.get(o["cl_ord_id"])
        if not fills:
            continue
        first = min(f["transact_time"] for f in fills)
        deadline = max(f["transact_time"] for f in fills) + _seconds(SPOOF["cancel_window_s"])
        opposite = layered.get((o["account_id"], o["symbol"], not _is_buy(o["side"])), [])
        highest = max(f["fill_price"] for f in fills)
        lowest = min(f["fill_price"] for f in fills)
        hits = [
            x
            for x in opposite
            if x["transact_time"] <= first <= x["cancel_time"] <= deadline
            and (x["limit_price"] > highest if _is_buy(o["side"]) else x["limit_price"] < lowest)
        ]
        total = sum(x["quantity"] for x in hits)
        if (
            len(hits) >= SPOOF["min_orders"]
            and total >= SPOOF["size_multiple"] * o["quantity"]
            and total >= SPOOF["market_multiple"] * _market_median(day, o)
        ):
            found[o["account_id"], o["symbol"]].append(_alert(o["symbol"], [o, *hits], fills))
    # An account without a known owner is alerted only where the pattern repeats.
    return [
        alert
        for (account, _), alerts in found.items()
        if day.accounts[account]["beneficial_owner_id"]
        or len(alerts) >= SPOOF["min_repeats_no_owner"]
        for alert in alerts
    ]


def typical_moves(day: Day, start: dt.datetime) -> dict[str, float]:
    """Per symbol, the median absolute move (in %) between the last trade prices of
    consecutive window-length buckets (those with a trade) before the window, the buckets
    counted back from the window's start, a move over k windows scaled by 1/sqrt(k) (a
    random walk's); symbols with fewer than three such moves have none."""
    width = _seconds(60 * MARK["window_minutes"])
    last: dict[str, dict[int, tuple[dt.datetime, str, Decimal]]] = defaultdict(dict)
    for e in day.executions:
        if e["transact_time"] < start:
            bucket = (start - e["transact_time"]) // width
            seen = last[e["symbol"]].get(bucket)
            if seen is None or seen[:2] < (e["transact_time"], e["exec_id"]):
                last[e["symbol"]][bucket] = (e["transact_time"], e["exec_id"], e["fill_price"])
    typical = {}
    for symbol, buckets in last.items():
        ks = sorted(buckets, reverse=True)  # oldest first
        moves = [
            abs(float(buckets[k][2]) / float(buckets[j][2]) - 1) * 100 / math.sqrt(j - k)
            for j, k in zip(ks, ks[1:], strict=False)
        ]
        if len(moves) >= 3:  # fewer: no typical move, the fixed floor alone
            typical[symbol] = statistics.median(moves)
    return typical


def marking_the_close(day: Day, reference: str = "first in window") -> list[Alert]:
    """Version 3: continuous fills of the last window_minutes and the closing auction print
    (fills of at-the-close orders, TimeInForce 7), their shares measured apart, the move to
    the closing print. The account needs min_executions continuous fills its way in the
    window, its continuous trading net its way, and the move must also be min_move_multiple
    times the symbol's typical move of the day (when it has one). With reference="last
    before window" the move is measured from the symbol's last trade before the window, a
    variant the generator also keeps clean at realistic sizes."""
    close = day.session.close_utc
    start = close - dt.timedelta(minutes=float(MARK["window_minutes"]))
    moc_loc = {o["cl_ord_id"] for o in day.orders if o["time_in_force"] == "7"}
    ordered = sorted(day.executions, key=lambda e: (e["transact_time"], e["exec_id"]))
    print_by = close + dt.timedelta(minutes=5)
    at_close = {
        e["cl_ord_id"]
        for e in ordered
        if e["cl_ord_id"] in moc_loc and close <= e["transact_time"] <= print_by
    }
    late = [
        e
        for e in ordered
        if start <= e["transact_time"] <= close
        or (e["cl_ord_id"] in at_close and e["transact_time"] <= print_by)
    ]
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in late:
        by_symbol[e["symbol"]].append(e)
    before = {e["symbol"]: e["fill_price"] for e in ordered if e["transact_time"] < start}
    typical = typical_moves(day, start)
    alerts = []
    for symbol, fills in by_symbol.items():
        opening = fills[0]["fill_price"] if reference == "first in window" else before.get(symbol)
        if opening is None:
            continue
        prints = [f for f in fills if f["cl_ord_id"] in at_close]
        closing = (prints or fills)[-1]["fill_price"]
        move = (closing - opening) / opening * 100
        per_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in fills:
            per_account[f["account_id"]].append(f)
        for mine in per_account.values():
            way_move = _marked(mine, fills, at_close, move)
            if way_move is not None and (
                symbol not in typical or way_move >= MARK["min_move_multiple"] * typical[symbol]
            ):
                alerts.append(_alert(symbol, mine, mine))
    return alerts


def _marked(
    mine: list[dict[str, Any]], fills: list[dict[str, Any]], at_close: set[str], move: Decimal
) -> float | None:
    """The account's fills meet version 3's conditions but the typical move: its closing
    move (its way, in %) if they do, else None."""

    def signed(part: list[dict[str, Any]]) -> int:
        return sum(f["fill_qty"] * (1 if _is_buy(f["side"]) else -1) for f in part)

    net = signed(mine)
    if net == 0:
        return None
    way = 1 if net > 0 else -1  # volume counts net, in the account's direction
    continuous = [f for f in fills if f["cl_ord_id"] not in at_close]
    auction = sum(f["fill_qty"] for f in fills if f["cl_ord_id"] in at_close)
    own_continuous = [f for f in mine if f["cl_ord_id"] not in at_close]
    in_continuous = way * signed(own_continuous)
    in_auction = max(way * signed([f for f in mine if f["cl_ord_id"] in at_close]), 0)
    its_way = [f for f in own_continuous if (1 if _is_buy(f["side"]) else -1) == way]
    share = in_continuous / sum(f["fill_qty"] for f in continuous) if continuous else 0
    auction_share = in_auction / auction if auction else 0
    way_move = move if way > 0 else -move
    if (
        in_continuous > 0  # an at-the-close order alone is not marking
        and len(its_way) >= MARK["min_executions"]
        and (share >= MARK["min_volume_share"] or auction_share >= MARK["min_auction_share"])
        and way_move >= Decimal(str(MARK["min_price_move_pct"]))
    ):
        return float(way_move)
    return None


def excessive_otr(day: Day, peers_min_orders: int = 1) -> list[Alert]:
    """Version 2: account-symbol pairs against the pairs of the same account type that are
    not candidates themselves, then accounts spread over >= min_symbols symbols (none of
    which fired) against the accounts of their type. peers_min_orders=20 is a variant that
    only separates on days big enough for pairs of 20 orders to be common."""
    kind = {a: r["account_type"] for a, r in day.accounts.items()}
    orders: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    trades: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for o in day.orders:
        orders[o["account_id"], o["symbol"]].append(o)
    for e in day.executions:
        trades[e["account_id"], e["symbol"]].append(e)

    def flagged(groups: dict[Any, tuple[int, int, str]], min_peer_orders: int) -> set[Any]:
        def candidate(n: int, t: int) -> bool:
            return n >= OTR["min_orders"] and n / max(t, 1) >= OTR["min_ratio"]

        peers: dict[str, list[float]] = defaultdict(list)
        for n, t, k in groups.values():
            if not candidate(n, t) and n >= min_peer_orders:
                peers[k].append(n / max(t, 1))
        everyone = [r for rs in peers.values() for r in rs]
        median = {k: statistics.median(rs) for k, rs in peers.items()}
        fallback = statistics.median(everyone) if everyone else 1.0
        return {
            g for g, (n, t, k) in groups.items()
            if candidate(n, t) and n / max(t, 1) >= OTR["peer_multiple"] * median.get(k, fallback)
        }  # fmt: skip

    pairs = {p: (len(v), len(trades[p]), kind[p[0]]) for p, v in orders.items()}
    fired = flagged(pairs, peers_min_orders)
    alerts = [_alert(p[1], orders[p], trades[p]) for p in fired]
    per_account: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for p in orders:
        per_account[p[0]].append(p)
    totals = {
        a: (sum(len(orders[p]) for p in ps), sum(len(trades[p]) for p in ps), kind[a])
        for a, ps in per_account.items()
    }
    # The account-level peers leave out whole candidate accounts (as the rule does).
    spread = {a for a in flagged(totals, 1) if len(per_account[a]) >= OTR["min_symbols"]}
    for a in sorted(spread - {p[0] for p in fired}):
        busiest = min(per_account[a], key=lambda p: (-len(orders[p]), p[1]))
        mine = [o for p in per_account[a] for o in orders[p]]
        alerts.append(_alert(busiest[1], mine, [e for p in per_account[a] for e in trades[p]]))
    return alerts


def front_running(day: Day) -> list[Alert]:
    """Version 4: a proprietary account of the firm trades the parent's way within
    lead_minutes of its first child and before half of it has filled, one-way, and back
    later that day (between min_unwind_share and 1 / min_unwind_share of it)."""
    quantities: dict[str, list[int]] = defaultdict(list)
    for o in day.orders:
        quantities[o["symbol"]].append(o["quantity"])
    typical = {s: statistics.median(q) for s, q in quantities.items()}
    accounts = day.accounts
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    fills_of: dict[str, list[dict[str, Any]]] = defaultdict(list)  # symbol -> fills
    sizes: dict[str, list[tuple[str, int]]] = defaultdict(list)  # account -> (symbol, qty)
    for e in day.executions:
        by_order[e["cl_ord_id"]].append(e)
        fills_of[e["symbol"]].append(e)
        if e["transact_time"] < day.session.close_utc:  # not the closing prints
            sizes[e["account_id"]].append((e["symbol"], e["fill_qty"]))

    def can_trade_ahead(account: str, client: str) -> bool:
        a, c = accounts[account], accounts[client]
        same_firm = not AHEAD["same_firm"] or a["firm_id"] == c["firm_id"]
        return a["account_type"] == "proprietary" and same_firm

    def stands_out(account: str, qty: int) -> bool:
        """Versions 3-4: the fills ahead >= min_ahead_multiple x the account's median
        continuous fill in the symbols where it is no candidate, else in all its symbols
        (not measured with fewer than min_usual_fills of those)."""
        usual = [q for s, q in sizes[account] if (account, s) not in suspects]
        if len(usual) < AHEAD["min_usual_fills"]:
            usual = [q for _, q in sizes[account]]
            if len(usual) < AHEAD["min_usual_fills"]:
                return True
        return qty >= AHEAD["min_ahead_multiple"] * statistics.median(usual)

    lead = _seconds(60 * AHEAD["lead_minutes"])
    found = []
    for parent in _parents(day):
        first = parent[0]
        symbol, buy, client = first["symbol"], _is_buy(first["side"]), first["account_id"]
        quantity = sum(o["quantity"] for o in parent)
        if quantity < AHEAD["client_size_multiple"] * typical[symbol]:
            continue
        own = sorted((e for o in parent for e in by_order[o["cl_ord_id"]]),
                     key=lambda e: (e["transact_time"], e["exec_id"]))  # fmt: skip
        ahead_until, running = first["transact_time"] + lead, 0
        for e in own:
            running += e["fill_qty"]
            if 2 * running >= quantity:
                ahead_until = min(ahead_until, e["transact_time"])
                break
        start = first["transact_time"] - lead
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in fills_of[symbol]:
            if can_trade_ahead(p["account_id"], client):
                by_account[p["account_id"]].append(p)
        for fills in by_account.values():
            ahead = [p for p in fills if _is_buy(p["side"]) == buy
                     and start <= p["transact_time"] < ahead_until]  # fmt: skip
            if not ahead:
                continue
            last_ahead = max(p["transact_time"] for p in ahead)
            against = [p for p in fills if _is_buy(p["side"]) != buy
                       and start <= p["transact_time"] <= last_ahead]  # fmt: skip
            unwind = [p for p in fills
                      if _is_buy(p["side"]) != buy and last_ahead < p["transact_time"]]  # fmt: skip
            if unwind:
                found.append((symbol, parent, ahead, unwind, not against))
    suspects = {(ahead[0]["account_id"], symbol) for symbol, _, ahead, _, _ in found}
    alerts = []
    for symbol, parent, ahead, unwind, one_way in found:
        qty = sum(p["fill_qty"] for p in ahead)
        back = sum(p["fill_qty"] for p in unwind)
        if (
            one_way
            and stands_out(ahead[0]["account_id"], qty)
            and back >= (AHEAD["min_unwind_share"] * qty)
            and back * AHEAD["min_unwind_share"] <= qty
        ):
            alerts.append(_alert(symbol, [*ahead, *unwind, *parent], [*ahead, *unwind]))
    return alerts


def _parents(day: Day) -> list[list[dict[str, Any]]]:
    """Client orders (of accounts with a known owner) in one symbol and direction, cut
    where more than max_child_gap_minutes pass between two of them."""
    by_group: dict[tuple[str, str, bool], list[dict[str, Any]]] = defaultdict(list)
    for o in day.orders:
        account = day.accounts[o["account_id"]]
        if account["account_type"] == "client" and account["beneficial_owner_id"]:
            by_group[o["account_id"], o["symbol"], _is_buy(o["side"])].append(o)
    gap = _seconds(60 * AHEAD["max_child_gap_minutes"])
    parents = []
    for orders in by_group.values():
        orders.sort(key=lambda o: (o["transact_time"], o["cl_ord_id"]))
        current = [orders[0]]
        for o in orders[1:]:
            if o["transact_time"] - current[-1]["transact_time"] > gap:
                parents.append(current)
                current = []
            current.append(o)
        parents.append(current)
    return parents


def _alert(symbol: str, orders: list[dict[str, Any]], fills: list[dict[str, Any]]) -> Alert:
    return {
        "symbol": symbol,
        "accounts": {o["account_id"] for o in orders},
        "orders": {o["cl_ord_id"] for o in orders},
        "execs": {f["exec_id"] for f in fills},
    }


RULES: dict[str, Callable[[Day], list[Alert]]] = {
    "wash_trade": wash_trades,
    "spoofing": spoofing,
    "marking_the_close": marking_the_close,
    "excessive_otr": excessive_otr,
    "front_running": front_running,
}


def matches(alert: Alert, scenario: dict[str, Any]) -> bool:
    """How surveil's evaluation pairs an alert with a scenario: same symbol, a shared
    account and a shared order or execution (account and symbol suffice for OTR)."""
    return (
        alert["symbol"] == scenario["symbol"]
        and bool(alert["accounts"] & scenario["account_ids"])
        and (
            scenario["type"] == "excessive_otr"
            or bool(alert["orders"] & scenario["cl_ord_ids"])
            or bool(alert["execs"] & scenario["exec_ids"])
        )
    )


# -- files and manifest ------------------------------------------------------------------------
def test_day_has_its_files_listed_in_the_manifest(day: Day) -> None:
    files = day.manifest["files"]
    assert set(files) == {
        "firms.csv",
        "accounts.csv",
        "orders.csv",
        "executions.csv",
        "scenarios.csv",
    }
    for name, entry in files.items():
        data = (day.path / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data.count(b"\n") - 1 == entry["rows"]
        expected = COLUMNS.get(name.removesuffix(".csv")) or OPTIONAL_COLUMNS["scenarios"]
        assert tuple(entry["columns"]) == expected
        assert data.split(b"\n", 1)[0].decode() == ",".join(expected)
    assert files["orders.csv"]["rows"] == ORDERS
    source = day.manifest["source"]
    assert source["generator_version"] == GENERATOR_VERSION
    assert source["scenarios"] == default_counts(ORDERS)


def test_scenarios_csv_holds_array_literals_in_quoted_fields(day: Day) -> None:
    lines = (day.path / "scenarios.csv").read_text().splitlines()[1:]
    first = next(csv.reader(lines[:1]))
    assert first[4].startswith("{") and first[4].endswith("}")
    assert ',"{' in lines[0] and lines[0].rsplit(",", 1)[1] in ("abuse", "lookalike")
    labels = Counter((s["type"], s["label"]) for s in day.scenarios)
    for kind, count in default_counts(ORDERS).items():
        assert labels[kind, "abuse"] == labels[kind, "lookalike"] == count > 0
    assert len({s["scenario_id"] for s in day.scenarios}) == len(day.scenarios)


def test_both_sides_of_a_planted_cross_print_on_one_venue(day: Day) -> None:
    """The venue matched the two sides of a cross (wash_trade v4 pairs fills of one venue):
    every wash scenario's fills, planted or look-alike, share one venue; other fills are
    spread over the venues."""
    washes = [s for s in day.scenarios if s["type"] == "wash_trade"]
    assert washes
    for scenario in washes:
        fills = [e for e in day.executions if e["exec_id"] in scenario["exec_ids"]]
        assert len(fills) >= 2 and len({e["venue"] for e in fills}) == 1
    assert len({e["venue"] for e in day.executions}) > 3


# -- lifecycle rules -------------------------------------------------------------------------------
def test_orders_and_fills_obey_the_order_lifecycle(day: Day) -> None:
    session = day.session
    by_id = {o["cl_ord_id"]: o for o in day.orders}
    assert len(by_id) == len(day.orders)
    assert len({e["exec_id"] for e in day.executions}) == len(day.executions)
    filled: Counter[str] = Counter()
    notional: defaultdict[str, Decimal] = defaultdict(Decimal)
    for e in day.executions:
        o = by_id[e["cl_ord_id"]]
        assert (e["account_id"], e["symbol"], e["side"]) == (
            o["account_id"],
            o["symbol"],
            o["side"],
        )
        if o["time_in_force"] == "7":  # at the close: in the closing print
            assert session.close_utc <= e["transact_time"] < session.close_utc + PRINT_DELAY
            assert e["venue"] == LISTING[e["symbol"]]
        else:
            assert o["transact_time"] <= e["transact_time"] < session.close_utc
        assert e["venue"] in VENUES and e["fill_qty"] > 0
        if o["limit_price"] is not None:  # buys at or below the limit, sells at or above
            if _is_buy(o["side"]):
                assert e["fill_price"] <= o["limit_price"]
            else:
                assert e["fill_price"] >= o["limit_price"]
        filled[o["cl_ord_id"]] += e["fill_qty"]
        notional[o["cl_ord_id"]] += e["fill_qty"] * e["fill_price"]
    for o in day.orders:
        cum, quantity, status = o["cum_qty"], o["quantity"], o["ord_status"]
        assert filled[o["cl_ord_id"]] == cum <= quantity  # quantity = cum + leaves
        assert session.open_utc <= o["transact_time"] < session.close_utc
        assert (o["order_type"] == "1") == (o["limit_price"] is None)
        assert o["order_type"] in ("1", "2") and o["time_in_force"] in ("0", "3", "7")
        assert o["side"] in ("1", "2", "5")
        assert status in ("2", "4", "C", "8")
        assert (status == "2") == (cum == quantity)
        if status == "8":
            assert cum == 0
        assert (status == "4") == (o["cancel_time"] is not None)
        if o["cancel_time"] is not None:
            assert o["transact_time"] <= o["cancel_time"] < session.close_utc
        if cum:
            assert abs(o["avg_px"] - notional[o["cl_ord_id"]] / cum) <= Decimal("0.000001")
        else:
            assert o["avg_px"] is None


def test_order_ids_rise_with_time(day: Day) -> None:
    ids = [o["cl_ord_id"] for o in day.orders]
    assert ids == sorted(ids)
    times = [o["transact_time"] for o in day.orders]
    assert times == sorted(times)


# -- realism ---------------------------------------------------------------------------------------
def test_background_statistics_look_like_a_broker_day(day: Day) -> None:
    planted = day.planted_order_ids()
    orders = [o for o in day.orders if o["cl_ord_id"] not in planted]
    n = len(orders)
    status = Counter(o["ord_status"] for o in orders)
    assert 0.40 <= status["2"] / n <= 0.70  # filled
    assert 0.20 <= status["4"] / n <= 0.50  # cancelled
    assert 0.02 <= status["C"] / n <= 0.15  # expired at the close
    assert 0.002 <= status["8"] / n <= 0.04  # rejected
    assert 0.05 <= sum(o["cum_qty"] > 0 and o["ord_status"] != "2" for o in orders) / n <= 0.2

    sides = Counter(o["side"] for o in orders)
    assert 0.35 <= sides["1"] / n <= 0.65
    assert 0.04 <= sides["5"] / (sides["2"] + sides["5"]) <= 0.25
    assert 0.04 <= sum(o["order_type"] == "1" for o in orders) / n <= 0.15
    assert 0.03 <= sum(o["time_in_force"] == "3" for o in orders) / n <= 0.15

    quantities = [o["quantity"] for o in orders]
    assert sum(q % 100 == 0 for q in quantities) / n >= 0.85  # mostly round lots
    assert 0.02 <= sum(q < 100 for q in quantities) / n <= 0.12  # some odd lots
    assert statistics.median(quantities) in (100, 200)
    assert max(quantities) >= 30 * statistics.median(quantities)  # a heavy tail

    accounts_per_type = Counter(day.accounts[o["account_id"]]["account_type"] for o in orders)
    assert set(accounts_per_type) == {"client", "proprietary", "market_maker"}


def test_fills_go_to_real_venues_in_realistic_shares(day: Day) -> None:
    venues = Counter(e["venue"] for e in day.executions)
    total = sum(venues.values())
    assert set(venues) <= set(VENUES) and len(venues) >= 10
    assert 0.25 <= (venues["FINN"] + venues["FINY"]) / total <= 0.65  # off-exchange
    for mic in ("XNAS", "XNYS", "ARCX", "EDGX", "BATS"):
        assert 0.02 <= venues[mic] / total <= 0.25
    universe = load_universe()
    listing = dict(zip(universe.symbols, universe.listing, strict=True))
    on_nyse = Counter(listing[e["symbol"]] for e in day.executions if e["venue"] == "XNYS")
    assert on_nyse["XNYS"] > on_nyse["XNAS"]  # the listing exchange gets more of its symbols


def test_prices_follow_each_symbol_near_its_reference(day: Day) -> None:
    universe = load_universe()
    reference = {
        s: int(p) / 10_000 for s, p in zip(universe.symbols, universe.reference, strict=True)
    }
    for e in day.executions:
        assert abs(float(e["fill_price"]) / reference[e["symbol"]] - 1) < 0.15
        assert e["fill_price"] == e["fill_price"].quantize(Decimal("0.01"))  # on the tick
    by_symbol: dict[str, list[float]] = defaultdict(list)
    for e in sorted(day.executions, key=lambda e: e["transact_time"]):
        by_symbol[e["symbol"]].append(float(e["fill_price"]))
    moved = [abs(p[-1] / p[0] - 1) for p in by_symbol.values() if len(p) >= 20]
    assert 0.001 < statistics.median(moved) < 0.05  # a day's move, not frozen, not wild


def test_activity_is_u_shaped_over_the_session(day: Day) -> None:
    """The background's activity (the planted scenarios' bursts left out)."""
    open_at = day.session.open_utc
    planted = {i for s in day.scenarios for i in s["cl_ord_ids"]}
    minutes = Counter(
        int((o["transact_time"] - open_at).total_seconds() // 60)
        for o in day.orders
        if o["cl_ord_id"] not in planted
    )
    length = int((day.session.close_utc - open_at).total_seconds() // 60)
    rate = lambda lo, hi: sum(minutes[m] for m in range(lo, hi)) / (hi - lo)  # noqa: E731
    midday = rate(length // 2 - 60, length // 2 + 60)
    assert rate(0, 30) > 1.5 * midday
    assert rate(length - 30, length) > 1.5 * midday


def test_early_close_day_ends_at_1300_new_york(tmp_path: Path) -> None:
    day = read_day(make_day(tmp_path, EARLY_CLOSE_DAY, 1_500))
    close = day.session.close_utc
    assert close == dt.datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 EST
    assert day.manifest["source"]["early_close"] is True
    at_close = {o["cl_ord_id"] for o in day.orders if o["time_in_force"] == "7"}
    prints = [e["transact_time"] for e in day.executions if e["cl_ord_id"] in at_close]
    times = [o["transact_time"] for o in day.orders] + [o["cancel_time"] for o in day.orders]
    times += [e["transact_time"] for e in day.executions if e["cl_ord_id"] not in at_close]
    times = [t for t in times if t]
    assert max(times) < close and min(times) >= day.session.open_utc
    assert max(times) > close - dt.timedelta(minutes=5)  # trading right up to 13:00
    assert prints and all(close <= t < close + PRINT_DELAY for t in prints)  # 13:00's print
    found = {_key(a) for a in marking_the_close(day)}
    planted = [
        s for s in day.scenarios if s["type"] == "marking_the_close" and s["label"] == "abuse"
    ]
    assert planted and all(any(matches(a, s) for a in marking_the_close(day)) for s in planted)
    assert found


def test_a_client_filling_past_its_first_limit_gets_a_limit_that_covers_its_fills(
    tmp_path: Path,
) -> None:
    """On this day a planted front-running client order sells into its own impact and a
    falling walk, filling more than 1% below the touch its limit was first set from: generate
    stopped with a RuntimeError. Its limit now covers its fills, and the day obeys every
    lifecycle rule."""
    day = read_day(make_day(tmp_path, dt.date(2026, 9, 9), 60_000))
    test_orders_and_fills_obey_the_order_lifecycle(day)
    assert any(s["type"] == "front_running" for s in day.scenarios)


def _key(alert: Alert) -> tuple[str, ...]:
    return (alert["symbol"], *sorted(alert["accounts"]))


# -- determinism -------------------------------------------------------------------------------------
def _digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


def test_same_options_give_identical_bytes_and_other_dates_differ(tmp_path: Path) -> None:
    first = make_day(tmp_path / "a", TRADING_DAY, 1_200)
    again = make_day(tmp_path / "b", TRADING_DAY, 1_200)
    assert _digest(first) == _digest(again)
    other_day = make_day(tmp_path / "c", TRADING_DAY + dt.timedelta(days=1), 1_200)
    other_seed = make_day(tmp_path / "d", TRADING_DAY, 1_200, seed=8)
    for other in (other_day, other_seed):
        digest = _digest(other)
        for name in ("orders.csv", "executions.csv", "scenarios.csv"):
            assert digest[name] != _digest(first)[name]
    assert _digest(other_day)["accounts.csv"] == _digest(first)["accounts.csv"]  # same master


def test_market_makers_quote_both_sides_and_fill_less_than_clients(day: Day) -> None:
    planted = day.planted_order_ids()
    kind = {a: r["account_type"] for a, r in day.accounts.items()}
    orders = [o for o in day.orders if o["cl_ord_id"] not in planted]
    mm = [o for o in orders if kind[o["account_id"]] == "market_maker"]
    clients = [o for o in orders if kind[o["account_id"]] == "client"]
    assert 0.25 <= len(mm) / len(orders) <= 0.55  # MM_SHARE of the background
    sides: dict[tuple[str, str], set[bool]] = defaultdict(set)
    for o in mm:
        sides[o["account_id"], o["symbol"]].add(_is_buy(o["side"]))
    both = sum(len(s) == 2 for s in sides.values())
    assert both / len(sides) >= 0.5  # quoting both sides of a symbol

    def fill_rate(group: list[dict[str, Any]]) -> float:
        return sum(o["ord_status"] == "2" for o in group) / len(group)

    assert fill_rate(mm) < fill_rate(clients)


def test_omnibus_accounts_carry_no_owner_and_a_realistic_share(day: Day) -> None:
    omnibus = {a for a, r in day.accounts.items() if not r["beneficial_owner_id"]}
    assert omnibus and all(day.accounts[a]["account_type"] == "client" for a in omnibus)
    share = sum(o["account_id"] in omnibus for o in day.orders) / len(day.orders)
    assert 0.05 <= share <= 0.30


def test_without_leaves_a_population_out_and_records_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from surveil.cli import app

    env = {"SURVEIL_HOME": str(tmp_path), "SURVEIL_DATA_DIR": str(tmp_path / "data")}
    args = ["generate", "--date", str(TRADING_DAY), "--orders", "2000", "--json"]
    result = CliRunner().invoke(app, [*args, "--without", "omnibus"], env=env)
    assert result.exit_code == 0, result.output
    day = read_day(Path(json.loads(result.stdout)["path"]))
    assert day.manifest["source"]["without"] == ["omnibus"]
    assert all(r["beneficial_owner_id"] for r in day.accounts.values())

    helped = CliRunner().invoke(app, ["generate", "--help"], env=env, terminal_width=200)
    assert all(population in helped.output for population in POPULATIONS)
    result = CliRunner().invoke(app, [*args, "--without", "hedge_funds"], env=env)
    assert result.exit_code == 2
    assert "--without hedge_funds: no such population" in result.output
    assert "Traceback" not in result.output


def test_scenario_counts_are_options_recorded_in_the_manifest(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, home=tmp_path, data_dir=tmp_path / "data")
    asked = {"wash_trade": 3, "spoofing": 0}
    result = generate_day(settings, TRADING_DAY, orders=1_000, seed=3, scenarios=asked)
    day = read_day(result.path)
    expected = {**default_counts(1_000), **asked}
    assert day.manifest["source"]["scenarios"] == expected
    labels = Counter((s["type"], s["label"]) for s in day.scenarios)
    assert labels["wash_trade", "abuse"] == 3 and labels["spoofing", "abuse"] == 0
    assert result.rows["scenarios"] == 2 * sum(expected.values())
    again = generate_day(settings, TRADING_DAY, orders=1_000, seed=3, scenarios=asked)
    assert again.status == "skipped"
    explicit_defaults = generate_day(
        settings, TRADING_DAY, orders=1_000, seed=3, scenarios=default_counts(1_000), force=True
    )
    assert explicit_defaults.status == "generated"  # a different source: regenerated
    with pytest.raises(BadInputError, match="unknown scenario type"):
        generate_day(settings, TRADING_DAY, orders=1_000, scenarios={"insider": 1})
    with pytest.raises(BadInputError, match="fewer"):
        generate_day(
            settings, TRADING_DAY, orders=1_000, scenarios={"excessive_otr": 100}, force=True
        )


def test_default_counts_scale_mildly_with_the_day() -> None:
    assert set(default_counts(1_000).values()) == {5}
    assert set(default_counts(1_000_000).values()) == {20}
    assert 20 < default_counts(5_000_000)["wash_trade"] < 30
    assert 0 < default_counts(300)["spoofing"] < 5
    assert set(default_counts(50).values()) == {0}


def test_a_day_in_many_chunks_keeps_every_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flow_module, "CHUNK_ORDERS", 700)
    day = read_day(make_day(tmp_path, TRADING_DAY, 3_500, seed=5))
    test_orders_and_fills_obey_the_order_lifecycle(day)
    test_order_ids_rise_with_time(day)
    numbers = [int(o["cl_ord_id"][9:]) for o in day.orders]
    assert numbers == list(range(1, len(numbers) + 1))
    for kind, rule in RULES.items():
        _assert_separates(day, kind, rule(day))


# -- planted scenarios -------------------------------------------------------------------------------
def test_every_scenario_id_exists_and_belongs_to_the_scenario(day: Day) -> None:
    orders = {o["cl_ord_id"]: o for o in day.orders}
    executions = {e["exec_id"]: e for e in day.executions}
    for s in day.scenarios:
        assert s["trade_date"] == day.trade_date.isoformat()
        assert s["cl_ord_ids"] <= orders.keys() and s["exec_ids"] <= executions.keys()
        assert s["account_ids"] <= day.accounts.keys()
        mine = [orders[i] for i in s["cl_ord_ids"]]
        symbols = {o["symbol"] for o in mine}
        if s["type"] == "excessive_otr" and len(symbols) > 1:  # spread: named for its busiest
            count = Counter(o["symbol"] for o in mine)
            assert len(symbols) >= 10 and count[s["symbol"]] > max(
                n for sym, n in count.items() if sym != s["symbol"]
            )
        else:
            assert symbols == {s["symbol"]}
        assert {o["account_id"] for o in mine} == s["account_ids"]
        fills = {e["exec_id"] for e in day.executions if e["cl_ord_id"] in s["cl_ord_ids"]}
        assert fills == s["exec_ids"]


@pytest.mark.parametrize("kind", SCENARIO_TYPES)
def test_planted_scenarios_satisfy_their_rule_and_lookalikes_do_not(day: Day, kind: str) -> None:
    _assert_separates(day, kind, RULES[kind](day))


def _assert_separates(day: Day, kind: str, alerts: list[Alert]) -> None:
    planted = [s for s in day.scenarios if s["type"] == kind and s["label"] == "abuse"]
    lookalikes = [s for s in day.scenarios if s["type"] == kind and s["label"] == "lookalike"]
    assert planted and lookalikes
    missed = [s["scenario_id"] for s in planted if not any(matches(a, s) for a in alerts)]
    stray = [a for a in alerts if not any(matches(a, s) for s in planted)]
    hit = [s["scenario_id"] for s in lookalikes if any(matches(a, s) for a in alerts)]
    assert not missed, f"{kind}: planted scenarios the rule does not find: {missed}"
    assert not stray, f"{kind}: alerts on no planted scenario: {stray[:3]}"
    assert not hit, f"{kind}: look-alikes the rule fires on: {hit}"


def test_scenario_details_match_their_description(day: Day) -> None:
    orders = {o["cl_ord_id"]: o for o in day.orders}
    executions = {e["exec_id"]: e for e in day.executions}
    owner = {a: r["beneficial_owner_id"] for a, r in day.accounts.items()}
    kinds = {a: r["account_type"] for a, r in day.accounts.items()}
    planted = [s for s in day.scenarios if s["label"] == "abuse"]
    for s in planted:
        mine = [orders[i] for i in s["cl_ord_ids"]]
        fills = [executions[i] for i in s["exec_ids"]]
        if s["type"] == "wash_trade":
            assert len({owner[a] for a in s["account_ids"]}) == 1 and len(fills) in (2, 4)
            assert {_is_buy(f["side"]) for f in fills} == {True, False}
            assert len({f["transact_time"] for f in fills}) == len(fills) // 2  # crosses
        elif s["type"] == "spoofing":
            cancelled = [o for o in mine if o["ord_status"] == "4"]
            genuine = [o for o in mine if o["ord_status"] == "2"]
            assert 3 <= len(cancelled) <= 5 and len(genuine) == 1
            assert sum(o["quantity"] for o in cancelled) >= 5 * genuine[0]["quantity"]
        elif s["type"] == "excessive_otr":
            assert kinds[next(iter(s["account_ids"]))] == "proprietary"
            assert len(mine) >= 21 and len(fills) == 1
        elif s["type"] == "front_running":
            assert sorted(kinds[a] for a in s["account_ids"]) == ["client", "proprietary"]
            assert len({day.accounts[a]["firm_id"] for a in s["account_ids"]}) == 1
        elif s["type"] == "marking_the_close":
            start = day.session.close_utc - dt.timedelta(minutes=8, seconds=1)
            assert all(f["transact_time"] >= start for f in fills)
    wash_accounts = [s["account_ids"] for s in planted if s["type"] == "wash_trade"]
    assert any(len(a) == 1 for a in wash_accounts) and any(len(a) == 2 for a in wash_accounts)
    otr_symbols = [
        {orders[i]["symbol"] for i in s["cl_ord_ids"]}
        for s in planted
        if s["type"] == "excessive_otr"
    ]
    assert any(len(x) == 1 for x in otr_symbols) and any(len(x) >= 10 for x in otr_symbols)


def test_the_background_alone_holds_no_pattern(background_only: Day) -> None:
    assert background_only.scenarios == []
    for kind, rule in RULES.items():
        assert rule(background_only) == [], kind
    assert excessive_otr(background_only, peers_min_orders=20) == []


# -- loads and validates -----------------------------------------------------------------------------
def test_generated_day_loads_and_passes_validation(settings: Settings) -> None:
    from surveil.lake import upload_day
    from surveil.load import load_day
    from surveil.validate import validate_day

    generate_day(settings, EARLY_CLOSE_DAY, orders=1_500)
    upload_day(settings, EARLY_CLOSE_DAY)
    load_day(settings, EARLY_CLOSE_DAY)
    result = validate_day(settings, EARLY_CLOSE_DAY)
    assert result.passed, [(c.name, c.observed, c.sample) for c in result.failed]


# -- the closing auction -----------------------------------------------------------------------------
def _prints(day: Day) -> dict[str, list[dict[str, Any]]]:
    """Per symbol, the fills of at-the-close orders (TimeInForce 7)."""
    at_close = {o["cl_ord_id"] for o in day.orders if o["time_in_force"] == "7"}
    prints: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in day.executions:
        if e["cl_ord_id"] in at_close:
            prints[e["symbol"]].append(e)
    return prints


def test_the_closing_auction_prints_once_per_symbol_about_a_tenth_of_the_volume(
    background_only: Day,
) -> None:
    day = background_only
    close = day.session.close_utc
    prints = _prints(day)
    assert len(prints) >= 50
    for symbol, fills in prints.items():
        assert len({(f["transact_time"], f["fill_price"], f["venue"]) for f in fills}) == 1
        assert fills[0]["venue"] == LISTING[symbol]
        assert close <= fills[0]["transact_time"] < close + PRINT_DELAY
    volume = sum(e["fill_qty"] for e in day.executions)
    auction = sum(f["fill_qty"] for fills in prints.values() for f in fills)
    assert 0.06 <= auction / volume <= 0.15  # NYSE: 10.52% of volume (Q2 2024)

    at_close = [o for o in day.orders if o["time_in_force"] == "7"]
    assert {o["order_type"] for o in at_close} == {"1", "2"}  # MOC and LOC
    for o in at_close:
        nasdaq = LISTING[o["symbol"]] == "XNAS"
        minutes = (5 if o["order_type"] == "1" else 2) if nasdaq else 10
        cutoff = close - dt.timedelta(minutes=minutes)
        assert o["transact_time"] < cutoff
        assert o["cancel_time"] is None or o["cancel_time"] < cutoff  # no cancel after it
        assert o["ord_status"] in ("2", "4", "C")
        if o["ord_status"] == "C":  # a LOC whose limit the print did not reach
            assert o["order_type"] == "2" and o["cum_qty"] == 0
            fill = prints[o["symbol"]][0]["fill_price"] if prints[o["symbol"]] else None
            if fill is not None:
                assert (
                    (o["limit_price"] < fill) if _is_buy(o["side"]) else (o["limit_price"] > fill)
                )
        account = day.accounts[o["account_id"]]
        assert account["beneficial_owner_id"]
        assert account["account_type"] in ("client", "proprietary")


def test_benign_close_flow_holds_large_shares_of_prints_and_raises_no_alert(
    background_only: Day,
) -> None:
    """The look-alike the population provides by itself: institutions with a quarter or more
    of a symbol's print, and the marking rule quiet."""
    large = 0
    for fills in _prints(background_only).values():
        total = sum(f["fill_qty"] for f in fills)
        by_account = Counter()
        for f in fills:
            by_account[f["account_id"]] += f["fill_qty"]
        large += sum(qty >= MARK["min_auction_share"] * total for qty in by_account.values())
    assert large >= 20
    assert marking_the_close(background_only) == []


def test_planted_marking_through_the_auction_moves_the_print_and_its_twin_does_not(
    day: Day,
) -> None:
    orders = {o["cl_ord_id"]: o for o in day.orders}
    prints = _prints(day)
    close = day.session.close_utc
    found = Counter()
    for s in day.scenarios:
        mine = [orders[i] for i in s["cl_ord_ids"]]
        if s["type"] != "marking_the_close" or not any(o["time_in_force"] == "7" for o in mine):
            continue
        symbol, buys = s["symbol"], _is_buy(mine[0]["side"])
        fills = prints[symbol]
        total = sum(f["fill_qty"] for f in fills)
        held = sum(f["fill_qty"] for f in fills if f["cl_ord_id"] in s["cl_ord_ids"])
        assert held >= 0.5 * total  # the account makes most of the print
        assert all(
            _is_buy(f["side"]) != buys for f in fills if f["cl_ord_id"] not in s["cl_ord_ids"]
        )
        continuous = [
            e
            for e in day.executions
            if e["symbol"] == symbol
            and e["transact_time"] < close
            and orders[e["cl_ord_id"]]["time_in_force"] != "7"
        ]
        last = max(continuous, key=lambda e: (e["transact_time"], e["exec_id"]))["fill_price"]
        move = (fills[0]["fill_price"] - last) / last * (1 if buys else -1)
        if s["label"] == "abuse":
            assert move >= Decimal("0.009")  # 1-2% the account's way
        else:
            assert abs(move) < Decimal("0.002")
        found[s["label"]] += 1
    assert found["abuse"] >= 2 and found["lookalike"] >= 1


def test_without_the_closing_auction_only_planted_orders_trade_at_the_close(
    tmp_path: Path,
) -> None:
    day = read_day(make_day(tmp_path, TRADING_DAY, 2_000, without=("closing_auction",)))
    assert day.manifest["source"]["without"] == ["closing_auction"]
    at_close = {o["cl_ord_id"] for o in day.orders if o["time_in_force"] == "7"}
    assert at_close and at_close <= day.planted_order_ids()
    _assert_separates(day, "marking_the_close", marking_the_close(day))


def test_proprietary_desks_trade_both_ways_until_the_closing_minutes(
    background_only: Day, tmp_path: Path
) -> None:
    """prop_desks: a desk buys and sells the same symbol during the day, and only its day's
    direction in the last 20 minutes; --without prop_desks leaves every desk one-way."""

    def directions(day: Day, late: bool) -> dict[tuple[str, str], set[bool]]:
        cutoff = day.session.close_utc - dt.timedelta(minutes=20)
        seen: dict[tuple[str, str], set[bool]] = defaultdict(set)
        for o in day.orders:
            account = day.accounts[o["account_id"]]
            if account["account_type"] == "proprietary" and o["time_in_force"] != "7":
                if (o["transact_time"] >= cutoff) == late:
                    seen[o["account_id"], o["symbol"]].add(_is_buy(o["side"]))
        return seen

    two_way = [k for k, sides in directions(background_only, late=False).items() if len(sides) > 1]
    assert len(two_way) >= 20
    assert all(len(sides) == 1 for sides in directions(background_only, late=True).values())
    one_way = read_day(
        make_day(tmp_path, TRADING_DAY, 6_000, scenarios=dict.fromkeys(SCENARIO_TYPES, 0),
                 without=("prop_desks",))
    )  # fmt: skip
    assert all(len(sides) == 1 for sides in directions(one_way, late=False).values())
    assert one_way.manifest["source"]["without"] == ["prop_desks"]


def test_excessive_messaging_spread_falls_back_to_one_symbol_when_no_idle_account_is_left(
    tmp_path: Path,
) -> None:
    """Each spread needs a proprietary account with no other flow; with 40 cases and three
    look-alikes each there are not enough, and the rest are planted in one symbol instead
    of refusing the day (version 7 raised "too many scenarios")."""
    none = dict.fromkeys(SCENARIO_TYPES, 0)
    day = read_day(
        make_day(tmp_path, TRADING_DAY, 20_000, seed=3, scenarios={**none, "excessive_otr": 40},
                 lookalikes=3)
    )  # fmt: skip
    orders = {o["cl_ord_id"]: o for o in day.orders}
    spread = [s for s in day.scenarios if len({orders[i]["symbol"] for i in s["cl_ord_ids"]}) > 1]
    assert len(day.scenarios) == 160 and 0 < len(spread) < 160
