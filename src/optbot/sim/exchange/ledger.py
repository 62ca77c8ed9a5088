"""Positions, trades and funds of one simulated account; they move only with fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from optbot.core.netting import net_fill
from optbot.sim.exchange.holdings import HoldingsBook, is_cash_instrument
from optbot.sim.exchange.instruments import InstrumentSpec


@dataclass
class SimTrade:
    fill_id: str
    order_id: str
    spec: InstrumentSpec
    product_type: str
    transaction_type: str
    price: float
    quantity: int
    fill_time: str  # HH:MM:SS IST

    def row(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "exchange": spec.exchange,
            "producttype": self.product_type,
            "tradingsymbol": spec.symbol,
            "instrumenttype": spec.instrument_type,
            "symbolgroup": "EQ" if spec.instrument_type == "" else "XX",
            "strikeprice": f"{spec.strike:.2f}" if spec.is_option else "-1",
            "optiontype": spec.option_type,
            "expirydate": spec.expiry_text,
            "marketlot": str(max(spec.lot_size, 1)),
            "precision": "2",
            "multiplier": "-1",
            "tradevalue": f"{self.price * self.quantity:.2f}",
            "transactiontype": self.transaction_type,
            "fillprice": f"{self.price:.2f}",
            "fillsize": str(self.quantity),
            "orderid": self.order_id,
            "fillid": self.fill_id,
            "filltime": self.fill_time,
        }


def _signed_text(value: float) -> str:
    """Recorded position rows print negatives as "- 2235.80" (with a space)."""
    return f"- {abs(value):.2f}" if value < 0 else f"{value:.2f}"


@dataclass
class SimPosition:
    spec: InstrumentSpec
    product_type: str
    buy_quantity: int = 0
    sell_quantity: int = 0
    buy_amount: float = 0.0
    sell_amount: float = 0.0
    realised: float = 0.0
    open_quantity: int = 0  # signed
    open_average: float = 0.0
    cf_quantity: int = 0  # signed quantity carried from previous sessions
    cf_price: float = 0.0

    @property
    def net_quantity(self) -> int:
        return self.cf_quantity + self.buy_quantity - self.sell_quantity

    @property
    def active(self) -> bool:
        return bool(self.buy_quantity or self.sell_quantity or self.cf_quantity)

    def apply_fill(self, is_buy: bool, quantity: int, price: float) -> float:
        """Book a fill; returns the P&L it realised (average-cost netting)."""
        if is_buy:
            self.buy_quantity += quantity
            self.buy_amount += quantity * price
        else:
            self.sell_quantity += quantity
            self.sell_amount += quantity * price
        self.open_quantity, self.open_average, realised = net_fill(
            self.open_quantity, self.open_average, is_buy, quantity, price
        )
        self.realised += realised
        return realised

    def unrealised(self, ltp: float | None) -> float:
        if ltp is None or self.open_quantity == 0:
            return 0.0
        return self.open_quantity * (ltp - self.open_average)

    def row(self, ltp: float | None) -> dict[str, Any]:
        spec = self.spec
        buy_avg = self.buy_amount / self.buy_quantity if self.buy_quantity else 0.0
        sell_avg = self.sell_amount / self.sell_quantity if self.sell_quantity else 0.0
        cf_buy = max(self.cf_quantity, 0)
        cf_sell = max(-self.cf_quantity, 0)
        cf_buy_amount = cf_buy * self.cf_price
        cf_sell_amount = cf_sell * self.cf_price
        total_buy = self.buy_amount + cf_buy_amount
        total_sell = self.sell_amount + cf_sell_amount
        total_buy_quantity = self.buy_quantity + cf_buy
        total_sell_quantity = self.sell_quantity + cf_sell
        net_value = total_sell - total_buy
        lot = str(max(spec.lot_size, 1))
        return {
            "exchange": spec.exchange,
            "symboltoken": spec.token,
            "producttype": self.product_type,
            "tradingsymbol": spec.symbol,
            "symbolname": spec.name,
            "instrumenttype": spec.instrument_type,
            "priceden": "1.00",
            "pricenum": "1.00",
            "genden": "1.00",
            "gennum": "1.00",
            "precision": "2",
            "multiplier": "-1",
            "boardlotsize": "1",
            "buyqty": str(self.buy_quantity),
            "sellqty": str(self.sell_quantity),
            "buyamount": f"{self.buy_amount:.2f}",
            "sellamount": f"{self.sell_amount:.2f}",
            "symbolgroup": "EQ" if spec.instrument_type == "" else "XX",
            "strikeprice": f"{spec.strike:.2f}" if spec.is_option else "-1",
            "optiontype": spec.option_type,
            "expirydate": spec.expiry_text,
            "lotsize": lot,
            "cfbuyqty": str(cf_buy),
            "cfsellqty": str(cf_sell),
            "cfbuyamount": f"{cf_buy_amount:.2f}",
            "cfsellamount": f"{cf_sell_amount:.2f}",
            "buyavgprice": f"{buy_avg:.2f}",
            "sellavgprice": f"{sell_avg:.2f}",
            "avgnetprice": f"{self.open_average:.2f}",
            "netvalue": _signed_text(net_value),
            "netqty": str(self.net_quantity),
            "totalbuyvalue": f"{total_buy:.2f}",
            "totalsellvalue": f"{total_sell:.2f}",
            "cfbuyavgprice": f"{self.cf_price if cf_buy else 0.0:.2f}",
            "cfsellavgprice": f"{self.cf_price if cf_sell else 0.0:.2f}",
            "totalbuyavgprice": f"{total_buy / total_buy_quantity if total_buy_quantity else 0.0:.2f}",
            "totalsellavgprice": f"{total_sell / total_sell_quantity if total_sell_quantity else 0.0:.2f}",
            "netprice": f"{self.open_average:.2f}",
            "ltp": f"{ltp:.2f}" if ltp is not None else "0.00",
            "unrealised": f"{self.unrealised(ltp):.2f}",
            "realised": f"{self.realised:.2f}",
            "pnl": f"{self.realised + self.unrealised(ltp):.2f}",
        }


@dataclass
class AccountLedger:
    """Everything that moves with fills for one client code."""

    client_code: str
    opening_balance: float
    positions: dict[tuple[str, str, str], SimPosition] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    realised: float = 0.0
    holdings: HoldingsBook = field(default_factory=HoldingsBook)

    def position(self, spec: InstrumentSpec, product_type: str) -> SimPosition:
        key = (spec.exchange, spec.token, product_type)
        if key not in self.positions:
            self.positions[key] = SimPosition(spec, product_type)
        return self.positions[key]

    def net_open_quantity(self, spec: InstrumentSpec) -> int:
        """Signed open quantity across products (RMS nets products for margin)."""
        return sum(
            position.open_quantity
            for (exchange, token, _), position in self.positions.items()
            if (exchange, token) == (spec.exchange, spec.token)
        )

    def book_fill(self, trade: SimTrade) -> float:
        self.trades.append(trade)
        realised = self.position(trade.spec, trade.product_type).apply_fill(
            trade.transaction_type == "BUY", trade.quantity, trade.price
        )
        self.realised += realised
        return realised

    def roll_day(
        self,
        today: date,
        mark: Callable[[InstrumentSpec], float | None],
        underlying: Callable[[InstrumentSpec], float],
        settles_after: date,
    ) -> None:
        """Start a new session: yesterday's realised P&L becomes cash, expired contracts settle at
        intrinsic value, INTRADAY positions are squared off at the last price (the broker's auto
        square-off), DELIVERY equity moves into holdings (paid for, or sold, at its average; T1
        until the session after `settles_after`), everything else is carried forward; the trade
        book starts empty."""
        carried: dict[tuple[str, str, str], SimPosition] = {}
        cash = self.realised
        for key, position in self.positions.items():
            quantity = position.open_quantity
            if quantity == 0:
                continue
            spec = position.spec
            if position.product_type == "DELIVERY" and is_cash_instrument(spec):
                cash -= quantity * position.open_average
                self.holdings.book_delivery(spec, quantity, position.open_average, settles_after)
                continue
            if spec.expiry is not None and spec.expiry < today:
                if spec.is_option:
                    spot = underlying(spec)
                    settle = (
                        max(spot - spec.strike, 0.0)
                        if spec.option_type == "CE"
                        else max(spec.strike - spot, 0.0)
                    )
                else:
                    settle = mark(spec) or position.open_average
                cash += quantity * (settle - position.open_average)
                continue
            if position.product_type == "INTRADAY":
                price = mark(spec) or position.open_average
                cash += quantity * (price - position.open_average)
                continue
            carried[key] = SimPosition(
                spec,
                position.product_type,
                open_quantity=quantity,
                open_average=position.open_average,
                cf_quantity=quantity,
                cf_price=position.open_average,
            )
        self.holdings.roll(today)
        self.opening_balance += cash
        self.realised = 0.0
        self.positions = carried
        self.trades = []
