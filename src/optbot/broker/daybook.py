"""One position-book row as Angel One keeps it across trading days, and the overnight roll.

The position book is per trading day: the day's buys and sells (`buyqty`/`buyamount`, ...) plus the
quantity carried in from earlier sessions (`cfbuyqty`/`cfbuyamount`, ...) at its carry price. Open
quantity nets at average cost (the simulator's `SimPosition` and the reference's `avgnetprice`).
Overnight a flat row leaves the book and an open one starts the next day as carry-forward quantity at
its open average, with the day's figures (and so the day's realised M2M) back at zero.

The paper broker keeps its books in these rows; reconciliation replays the bot's own fills through
the same rows to know what the broker's position book should show today.
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.core.netting import net_fill


@dataclass(slots=True)
class BookPosition:
    """Day figures, carry-forward figures and the average-cost open position of one contract."""

    buy_quantity: int = 0
    sell_quantity: int = 0
    buy_amount: float = 0.0
    sell_amount: float = 0.0
    cf_quantity: int = 0  # signed quantity carried in from earlier sessions
    cf_price: float = 0.0
    open_quantity: int = 0  # signed
    open_average: float = 0.0
    realised: float = 0.0  # today's realised gross P&L (average-cost netting)

    @property
    def net(self) -> int:
        return self.cf_quantity + self.buy_quantity - self.sell_quantity

    @property
    def total_buy_quantity(self) -> int:
        return self.buy_quantity + max(self.cf_quantity, 0)

    @property
    def total_sell_quantity(self) -> int:
        return self.sell_quantity + max(-self.cf_quantity, 0)

    @property
    def total_buy_amount(self) -> float:
        """`totalbuyvalue`: the day's buys plus carried-in long quantity at its carry price."""
        return self.buy_amount + max(self.cf_quantity, 0) * self.cf_price

    @property
    def total_sell_amount(self) -> float:
        return self.sell_amount + max(-self.cf_quantity, 0) * self.cf_price

    def apply_fill(self, is_buy: bool, quantity: int, price: float) -> float:
        """Book a fill; returns the P&L it realised against the open average."""
        amount = quantity * price
        if is_buy:
            self.buy_quantity += quantity
            self.buy_amount += amount
        else:
            self.sell_quantity += quantity
            self.sell_amount += amount
        self.open_quantity, self.open_average, realised = net_fill(
            self.open_quantity, self.open_average, is_buy, quantity, price
        )
        self.realised += realised
        return realised

    def unrealised(self, ltp: float | None) -> float:
        if ltp is None or self.open_quantity == 0:
            return 0.0
        return self.open_quantity * (ltp - self.open_average)

    def rolled(self) -> BookPosition | None:
        """The row the next trading day starts with: None when flat, else the open quantity carried
        forward at its open average (day quantities, amounts and realised P&L back at zero)."""
        if self.open_quantity == 0:
            return None
        return BookPosition(
            cf_quantity=self.open_quantity,
            cf_price=self.open_average,
            open_quantity=self.open_quantity,
            open_average=self.open_average,
        )
