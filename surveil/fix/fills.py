"""Fills, busts and corrections of ExecutionReports, and TradeCaptureReports (35=AE)
(docs/fix-import.md, "ExecutionReports", "TradeCaptureReport")."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from surveil.fix.fields import (
    ACCOUNT_ROLES,
    CLOSING_STATUSES,
    ENDED,
    FIRM_ROLES,
    FOUR_PLACES,
    MANY_CUSTOMERS,
    NO_ACCOUNT,
    OFF_EXCHANGE,
    OWNER_ROLE,
    RESTATING_EXEC_TYPES,
    SIDES,
    STATUS_OF_EXEC_TYPE,
    STATUS_ONLY_EXEC_TYPES,
    TRADE_EXEC_TYPES,
    WIDTH,
    Invalid,
    MessageFields,
    _account_type,
    _fits,
    _parties,
    _party,
    _plain,
    _price,
    _whole,
)
from surveil.fix.orders import (
    Fill,
    FillRef,
    _DayState,
    _Identity,
    _Order,
)

# What a correction of a fill names, as corrections.csv's `kind` gives it: an
# ExecutionReport's bust (ExecType H / ExecTransType 1) or correction (G / 2) of fill
# ExecRefID(19); a TradeCaptureReport's cancel or reversal (487 1, 4) or replace (2) of
# trade TradeReportRefID(572), whose fills are "<that id>-<side number>".
BUST, CORRECTION, TRADE_CANCEL, TRADE_REPLACE = (
    "bust",
    "correction",
    "trade cancel",
    "trade replace",
)
TRADE_KINDS = (TRADE_CANCEL, TRADE_REPLACE)


def correction_in(m: MessageFields) -> tuple[str, str] | None:
    """(kind, what it names) of a message that busts, corrects or cancels a fill or trade,
    else None: what a later date's message can take off the date being imported."""
    if m.msg_type == "8":
        exec_type, trans_type = m.values.get("150"), m.values.get("20")
        if exec_type == "H" or trans_type == "1":
            kind = BUST
        elif exec_type == "G" or trans_type == "2":
            kind = CORRECTION
        else:
            return None
        ref = m.text(19)
    elif m.msg_type == "AE":
        trans_type = m.text(487)
        if trans_type in ("1", "4"):
            kind = TRADE_CANCEL
        elif trans_type == "2":
            kind = TRADE_REPLACE
        else:
            return None
        ref = m.text(572) or m.text(571) or m.text(17)
    else:
        return None
    return (kind, ref) if ref else None


def _vwap(fills: list[FillRef]) -> Decimal:
    qty = sum(q for _, q, _ in fills)
    notional = sum((Decimal(price) * q for _, q, price in fills), Decimal(0))
    return notional / qty if qty else Decimal(0)


def _sides(pairs: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The NoSides(552) entries of a TradeCaptureReport, each from its Side(54) on."""
    sides: list[list[tuple[int, str]]] = []
    in_group = False
    for tag, value in pairs:
        if tag == 552:
            in_group = True
            continue
        if not in_group:
            continue
        if tag == 54:
            sides.append([])
        if sides:
            sides[-1].append((tag, value))
    return sides


class Executions(_DayState):
    """DayBuilder's ExecutionReports, fills, busts and trade reports (35=AE)."""

    if TYPE_CHECKING:  # OrderState's, which DayBuilder also inherits

        def _resolve(self, m: MessageFields) -> tuple[str, str | None]: ...
        def _synthesise(self, m: MessageFields, key: str, base: _Order | None) -> _Order: ...
        def _register(self, ident: _Identity) -> None: ...
        def _put(self, key: str, order: _Order, known: _Order | None) -> None: ...
        def _chain_fills(self, order: _Order) -> list[FillRef]: ...

    def _report(self, m: MessageFields) -> None:
        get = m.values.get
        # Everything that can make the report invalid is read before anything is recorded.
        key, replaced = self._resolve(m)
        when = self._now
        exec_type, trans_type = get("150"), get("20")
        status = get("39") or STATUS_OF_EXEC_TYPE.get(exec_type or "")
        last_qty = _whole(get("32"), "LastQty(32)")
        last_px = _price(get("31"), "LastPx(31)")
        cum = _whole(get("14"), "CumQty(14)")
        avg = _price(get("6"), "AvgPx(6)", 12)
        exec_id = get("17")
        if exec_id is not None:
            exec_id = _fits(exec_id, "ExecID(17)", "exec_id")
        bust = trans_type == "1" or exec_type == "H"
        correct = trans_type == "2" or exec_type == "G"
        status_only = trans_type == "3" or exec_type in STATUS_ONLY_EXEC_TYPES
        trade = correct or (
            not bust and not status_only and (exec_type is None or exec_type in TRADE_EXEC_TYPES)
        )
        fill_qty = last_qty if trade and last_qty is not None and last_qty > 0 else None
        if fill_qty is not None:
            if last_px is None:
                raise Invalid("a fill without LastPx(31)")
            if exec_id is None:
                raise Invalid("a fill without ExecID(17)")
        order = self.orders.get(key)
        base = self.orders.get(replaced) if replaced else None
        if order is not None:
            destination = order.destination
        else:
            destination = get("100") or (base.destination if base is not None else None)
        venue = _fits(get("30") or destination or get("49") or "UNKNOWN", "venue", "venue")
        # Nothing below raises Invalid: the report is accepted from here on.
        if order is None and bust:
            # A bust of an order this date does not hold (most often an earlier date's
            # fill): no order of this date comes of it.
            self._bust(m, BUST)
            return
        if order is None:
            order = self._synthesise(m, key, base)
        order_id = get("37")
        if order_id:
            self.order_ids.set(order_id, key)
        if replaced is not None:
            if base is not None and base.closed_at is None:
                base.closed_at = when
                base.status = "5"
            order.predecessor = order.predecessor or replaced
            if status == "5":
                status = None  # 4.2: "replaced" describes the old order, not this one
        if bust or correct:
            self._bust(m, BUST if bust else CORRECTION)
        if fill_qty is not None:
            assert exec_id is not None and last_px is not None
            self._new_fill(exec_id, order, fill_qty, last_px, venue, when)
        elif cum is not None and cum > 0 and not bust and not status_only:
            # A report that ends or changes the order's life restates its fills, unless it
            # states one (LastQty, 4.2's fill-and-cancel in one) or corrects one.
            restates = exec_type in RESTATING_EXEC_TYPES and not correct and not last_qty
            self._fill_from_cum(order, cum, avg, exec_id, venue, when, restates)
        if status is not None and (order.status not in ENDED or status in CLOSING_STATUSES):
            # A report saying the order is live after one cancelled or replaced it (a
            # resend, a confirmation logged late) is stale: it never reopens the order.
            order.status = status
            if status in CLOSING_STATUSES and order.closed_at is None:
                order.closed_at = when
        if cum is not None:
            order.reported_cum = cum
            order.reported_avg = avg

    def _new_fill(
        self, exec_id: str, order: _Order, qty: int, price: str, venue: str, when: str
    ) -> bool:
        if self.fills.get(exec_id) is not None:
            self.skipped["duplicate ExecID (resend)"] += 1
            return False
        seq, ident = next(self._fill_seq), (order.account_id, order.symbol, order.side)
        self.fills.set(exec_id, (seq, order.cl_ord_id, *ident, qty, price, venue, when))
        order.fills.append((exec_id, qty, price))
        return True

    def _fill_from_cum(
        self,
        order: _Order,
        cum: int,
        avg: str | None,
        exec_id: str | None,
        venue: str,
        when: str,
        restates: bool,
    ) -> None:
        """The CumQty dialect: a rise in CumQty with no LastQty is a fill of the difference.
        CumQty counts the whole replace chain (FIX), so the predecessors' fills count as
        done; a report that `restates` (see _report) never fills."""
        fills = order.fills
        done = sum(q for _, q, _ in fills)
        if cum <= done:
            return
        if order.predecessor:
            fills = self._chain_fills(order) + fills
            done = sum(q for _, q, _ in fills)
            if cum <= done:
                return
        if restates:
            self.skipped[
                "CumQty above the order's fills in the log on a cancel, replace or expiry "
                "(fills of an earlier day, or not in the log): no fill made"
            ] += 1
            return
        if avg is None or exec_id is None:
            self.skipped["CumQty rise without LastQty, AvgPx or ExecID"] += 1
            return
        notional = sum(Decimal(price) * q for _, q, price in fills)
        price = ((Decimal(avg) * cum - notional) / (cum - done)).quantize(
            FOUR_PLACES, ROUND_HALF_EVEN
        )
        if price <= 0:
            self.skipped["CumQty rise at no positive price"] += 1
            return
        self._new_fill(exec_id, order, cum - done, _plain(price), venue, when)

    def _unfill(self, exec_id: str) -> Fill | None:
        """Remove a fill, from its order too."""
        fill = self.fills.pop(exec_id)
        order = self.orders.get(fill[1]) if fill is not None else None
        if order is not None:
            order.fills[:] = [f for f in order.fills if f[0] != exec_id]
        return fill

    def _bust(self, m: MessageFields, kind: str) -> None:
        ref = m.text(19)
        if not ref:
            self.skipped["bust or correction without ExecRefID(19)"] += 1
        elif self._unfill(ref) is None:
            self._correction_elsewhere(m, kind, ref)

    def _correction_elsewhere(self, m: MessageFields, kind: str, ref: str) -> None:
        """A bust, correction or trade cancel/replace naming a fill (or trade) this date
        does not hold: most often one of an earlier date. It goes to corrections.csv, for
        status to weigh against the days loaded, and to an earlier date this import
        builds (`earlier`), whose fill it takes off (docs/fix-import.md, "Corrections")."""
        if len(ref) > WIDTH["exec_id"] or not ref.isprintable():
            self.skipped["correction naming no possible fill"] += 1  # no exec_id is that
            return
        self.corrections.append((self.day.isoformat(), kind, ref, self._now, m.source, str(m.line)))
        if self.earlier is not None:
            self.earlier(kind, ref)

    def take_off(self, kind: str, ref: str) -> bool:
        """A later date's correction of fill (or, for a trade kind, trade) `ref`, applied
        to this date: the fill is no longer this date's (what corrected it, if anything,
        is a fill of the later date). False when this date has no such fill."""
        if kind not in TRADE_KINDS:
            return self._unfill(ref) is not None
        keys = self._pop_trade(ref)
        if keys is None:
            return False
        self._forget_trade_orders(keys)
        return True

    def _trade_report(self, m: MessageFields) -> None:
        # Everything that can make the report invalid is read before anything is recorded.
        pairs = m.pairs()
        trade_id = m.text(571) or m.text(17)
        if trade_id is None:
            raise Invalid("TradeCaptureReport without TradeReportID(571) or ExecID(17)")
        trans_type = m.text(487) or "0"
        # The trade a cancel, reversal or replace names: TradeReportRefID(572), else (the
        # venues that reuse the trade's id for its replace) its own TradeReportID.
        ref = m.text(572) or trade_id
        if trans_type in ("1", "4"):
            self._forget_trade_orders(self._drop_trade(m, ref, TRADE_CANCEL))
            return
        when = self._now
        qty = _whole(m.text(32), "LastQty(32)")
        if not qty or qty <= 0:
            raise Invalid("TradeCaptureReport without a positive LastQty(32)")
        price = _price(m.text(31), "LastPx(31)")
        if price is None:
            raise Invalid("TradeCaptureReport without LastPx(31)")
        symbol = m.text(55)
        if symbol in (None, "[N/A]"):
            symbol = m.text(48)
        if symbol is None:
            raise Invalid("no Symbol(55) or SecurityID(48)")
        symbol = _fits(symbol, "Symbol(55)", "symbol")
        venue = _fits(m.text(30) or OFF_EXCHANGE, "LastMkt(30)", "venue")
        sides = _sides(pairs)
        if not sides:
            raise Invalid("TradeCaptureReport without sides (NoSides 552)")
        planned = [self._trade_side(m, trade_id, n, side) for n, side in enumerate(sides, 1)]
        replaced = self._drop_trade(m, ref, TRADE_REPLACE) if trans_type == "2" else []
        exec_ids = []
        for exec_id, key, side, ident in planned:
            order = self.orders.get(key) or self._trade_order(m, key, symbol, side, ident)
            if self._new_fill(exec_id, order, qty, price, venue, when):
                exec_ids.append(exec_id)
        self._forget_trade_orders(replaced)
        known = self.trades.get(trade_id)
        if known:  # a resend (its sides duplicates): the trade keeps its executions
            exec_ids = known + [e for e in exec_ids if e not in known]
        self.trades.set(trade_id, exec_ids)

    def _trade_side(
        self, m: MessageFields, trade_id: str, number: int, side_pairs: list[tuple[int, str]]
    ) -> tuple[str, str, str, _Identity]:
        """(exec id, order key, side, identity) of side `number` of a trade report."""
        values = {t: v for t, v in side_pairs if v}
        side_raw = values.get(54, "")
        side = SIDES.get(side_raw)
        if side is None:
            raise Invalid(f"Side(54)={side_raw} is not a side the warehouse takes (1, 2, 5, 6)")
        parties = _parties(side_pairs)
        firm = _party(parties, FIRM_ROLES) or m.text(115) or m.text(49) or "UNKNOWN"
        firm = _fits(firm, "firm", "firm_id")
        account = values.get(1) or _party(parties, ACCOUNT_ROLES) or NO_ACCOUNT.format(firm=firm)
        account = _fits(account, "Account(1)", "account_id")
        investor = _fits(_party(parties, (OWNER_ROLE,)) or "", "investor", "account_id")
        shared = values.get(581) in MANY_CUSTOMERS
        kind = _account_type(values.get(528), values.get(529), values.get(47))
        exec_id = _fits(f"{trade_id}-{number}", "TradeReportID(571)", "exec_id")
        order_id = values.get(37)
        key = values.get(11) or (self.order_ids.get(order_id) if order_id else None)
        key = _fits(key or order_id or exec_id, "ClOrdID(11)", "cl_ord_id")
        return exec_id, key, side, _Identity(account, firm, kind, investor, shared)

    def _trade_order(
        self, m: MessageFields, key: str, symbol: str, side: str, ident: _Identity
    ) -> _Order:
        """The order a trade report's side names when no order of that key is known: a
        filled market day order, synthesised."""
        self._register(ident)
        order = _Order(
            cl_ord_id=key,
            account_id=ident.account_id,
            firm_id=ident.firm_id,
            symbol=symbol,
            side=side,
            order_type="1",
            tif="0",
            quantity=None,
            limit_price=None,
            transact_time=self._now,
            origin="AE",
            source=m.source,
            line=m.line,
            status="2",
        )
        self._put(key, order, None)
        self.synthesized += 1
        return order

    def _drop_trade(self, m: MessageFields, ref: str, kind: str) -> list[str]:
        """Remove the executions of trade `ref`, a correction of another date's trade
        when this date has none; the keys of their orders."""
        keys = self._pop_trade(ref)
        if keys is None:
            self._correction_elsewhere(m, kind, ref)
            return []
        return keys

    def _pop_trade(self, ref: str) -> list[str] | None:
        """Remove trade `ref` and its executions: the keys of their orders, None when this
        date has no such trade."""
        removed = self.trades.pop(ref)
        if removed is None:
            return None
        return [fill[1] for exec_id in removed if (fill := self._unfill(exec_id)) is not None]

    def _forget_trade_orders(self, keys: list[str]) -> None:
        """After a trade's cancel, reversal or replace: the orders synthesised for its
        sides (origin AE) that no fill is left to: they have no quantity of their own, so
        kept they could not be sized (a reject that failed the import)."""
        for key in keys:
            order = self.orders.get(key)
            if order is not None and order.origin == "AE" and not order.fills:
                self.orders.pop(key)
                self.synthesized -= 1
