"""estimateCharges: the brokerage calculator's breakdown with a dated rate card.

The simulator keeps its own implementation (it imitates the broker, it does not share the bot's
charges model). Rates are statutory/exchange rates of each period; `effective_from` is inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from optbot.sim.exchange.instruments import InstrumentSpec


@dataclass(frozen=True, slots=True)
class RateCard:
    effective_from: date
    brokerage_per_order_fno: float  # rupees, flat per executed order
    brokerage_equity_pct_cap: float  # % of turnover, capped at the flat fee (intraday)
    stt_option_sell_pct: float  # % of premium, sell side
    stt_future_sell_pct: float
    stt_equity_delivery_pct: float  # both sides
    stt_equity_intraday_sell_pct: float
    txn_option_pct: dict[str, float]  # exchange -> % of premium turnover
    txn_future_pct: dict[str, float]
    txn_equity_pct: dict[str, float]
    sebi_per_crore: float
    ipft_pct: dict[str, float]  # NSE investor-protection fund levy, % of turnover (GST applies)
    stamp_option_buy_pct: float
    stamp_future_buy_pct: float
    stamp_equity_delivery_buy_pct: float
    stamp_equity_intraday_buy_pct: float
    gst_pct: float


RATE_CARDS: tuple[RateCard, ...] = (
    RateCard(
        effective_from=date(2023, 4, 1),
        brokerage_per_order_fno=20.0,
        brokerage_equity_pct_cap=0.03,
        stt_option_sell_pct=0.0625,
        stt_future_sell_pct=0.0125,
        stt_equity_delivery_pct=0.1,
        stt_equity_intraday_sell_pct=0.025,
        txn_option_pct={"NFO": 0.0495, "BFO": 0.05},
        txn_future_pct={"NFO": 0.0019, "BFO": 0.0},
        txn_equity_pct={"NSE": 0.00322, "BSE": 0.00375},
        sebi_per_crore=10.0,
        ipft_pct={"NFO": 0.0005, "NSE": 0.0001},
        stamp_option_buy_pct=0.003,
        stamp_future_buy_pct=0.002,
        stamp_equity_delivery_buy_pct=0.015,
        stamp_equity_intraday_buy_pct=0.003,
        gst_pct=18.0,
    ),
    # 1 Oct 2024: STT on F&O raised (Finance Act 2024); exchanges moved to flat transaction rates.
    RateCard(
        effective_from=date(2024, 10, 1),
        brokerage_per_order_fno=20.0,
        brokerage_equity_pct_cap=0.03,
        stt_option_sell_pct=0.1,
        stt_future_sell_pct=0.02,
        stt_equity_delivery_pct=0.1,
        stt_equity_intraday_sell_pct=0.025,
        txn_option_pct={"NFO": 0.03503, "BFO": 0.0325},
        txn_future_pct={"NFO": 0.00173, "BFO": 0.0},
        txn_equity_pct={"NSE": 0.00297, "BSE": 0.00375},
        sebi_per_crore=10.0,
        ipft_pct={"NFO": 0.0005, "NSE": 0.0001},
        stamp_option_buy_pct=0.003,
        stamp_future_buy_pct=0.002,
        stamp_equity_delivery_buy_pct=0.015,
        stamp_equity_intraday_buy_pct=0.003,
        gst_pct=18.0,
    ),
    # 1 Apr 2026: STT on options premium 0.1 % -> 0.15 %, futures 0.02 % -> 0.05 % (Union Budget 2026).
    RateCard(
        effective_from=date(2026, 4, 1),
        brokerage_per_order_fno=20.0,
        brokerage_equity_pct_cap=0.03,
        stt_option_sell_pct=0.15,
        stt_future_sell_pct=0.05,
        stt_equity_delivery_pct=0.1,
        stt_equity_intraday_sell_pct=0.025,
        txn_option_pct={"NFO": 0.03503, "BFO": 0.0325},
        txn_future_pct={"NFO": 0.00173, "BFO": 0.0},
        txn_equity_pct={"NSE": 0.00297, "BSE": 0.00375},
        sebi_per_crore=10.0,
        ipft_pct={"NFO": 0.0005, "NSE": 0.0001},
        stamp_option_buy_pct=0.003,
        stamp_future_buy_pct=0.002,
        stamp_equity_delivery_buy_pct=0.015,
        stamp_equity_intraday_buy_pct=0.003,
        gst_pct=18.0,
    ),
)


def rate_card_for(day: date) -> RateCard:
    chosen = RATE_CARDS[0]
    for card in RATE_CARDS:
        if card.effective_from <= day:
            chosen = card
    return chosen


@dataclass(frozen=True, slots=True)
class ChargeLine:
    brokerage: float
    exchange_transaction: float
    sebi: float
    stamp: float
    stt: float
    gst: float
    trade_value: float
    ipft: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.brokerage
            + self.exchange_transaction
            + self.sebi
            + self.stamp
            + self.stt
            + self.gst
            + self.ipft
        )

    def __add__(self, other: ChargeLine) -> ChargeLine:
        return ChargeLine(
            self.brokerage + other.brokerage,
            self.exchange_transaction + other.exchange_transaction,
            self.sebi + other.sebi,
            self.stamp + other.stamp,
            self.stt + other.stt,
            self.gst + other.gst,
            self.trade_value + other.trade_value,
            self.ipft + other.ipft,
        )

    def node(self) -> dict[str, Any]:
        """The calculator's nested breakup shape: {name, amount, msg, breakup[]}."""

        def leaf(name: str, amount: float) -> dict[str, Any]:
            return {"name": name, "amount": round(amount, 2), "msg": "", "breakup": []}

        external = self.exchange_transaction + self.sebi + self.stamp + self.ipft
        taxes = self.stt + self.gst
        return {
            "total_charges": round(self.total, 2),
            "trade_value": round(self.trade_value, 2),
            "breakup": [
                leaf("Angel One Brokerage", self.brokerage),
                {
                    "name": "External Charges",
                    "amount": round(external, 2),
                    "msg": "",
                    "breakup": [
                        leaf("Exchange Transaction Charges", self.exchange_transaction),
                        leaf("Stamp Duty", self.stamp),
                        leaf("SEBI Fees", self.sebi),
                        leaf("NSE IPFT", self.ipft),
                    ],
                },
                {
                    "name": "Taxes",
                    "amount": round(taxes, 2),
                    "msg": "",
                    "breakup": [
                        leaf("Security Transaction Tax", self.stt),
                        leaf("GST", self.gst),
                    ],
                },
            ],
        }


def charges_for(
    card: RateCard, spec: InstrumentSpec, product_type: str, is_buy: bool, quantity: int, price: float
) -> ChargeLine:
    value = quantity * price
    exchange = spec.exchange
    if spec.is_option:
        brokerage = card.brokerage_per_order_fno
        stt = 0.0 if is_buy else value * card.stt_option_sell_pct / 100
        txn = value * card.txn_option_pct.get(exchange, 0.0) / 100
        stamp = value * card.stamp_option_buy_pct / 100 if is_buy else 0.0
    elif spec.is_future:
        brokerage = card.brokerage_per_order_fno
        stt = 0.0 if is_buy else value * card.stt_future_sell_pct / 100
        txn = value * card.txn_future_pct.get(exchange, 0.0) / 100
        stamp = value * card.stamp_future_buy_pct / 100 if is_buy else 0.0
    else:
        delivery = product_type == "DELIVERY"
        brokerage = min(card.brokerage_per_order_fno, value * card.brokerage_equity_pct_cap / 100)
        if delivery:
            stt = value * card.stt_equity_delivery_pct / 100
            stamp = value * card.stamp_equity_delivery_buy_pct / 100 if is_buy else 0.0
        else:
            stt = 0.0 if is_buy else value * card.stt_equity_intraday_sell_pct / 100
            stamp = value * card.stamp_equity_intraday_buy_pct / 100 if is_buy else 0.0
        txn = value * card.txn_equity_pct.get(exchange, 0.0) / 100
    sebi = value * card.sebi_per_crore / 1e7
    ipft = value * card.ipft_pct.get(exchange, 0.0) / 100
    gst = (brokerage + txn + sebi + ipft) * card.gst_pct / 100
    return ChargeLine(brokerage, txn, sebi, stamp, stt, gst, value, ipft)
