"""The simulated exchange: order matching, RMS checks, books, positions and funds."""

from optbot.sim.exchange.engine import SimExchange
from optbot.sim.exchange.instruments import InstrumentIndex, InstrumentSpec
from optbot.sim.exchange.orders import STATUS_CODES, OrderStatus, SimOrder
from optbot.sim.exchange.requests import OrderRequestError

__all__ = [
    "STATUS_CODES",
    "InstrumentIndex",
    "InstrumentSpec",
    "OrderRequestError",
    "OrderStatus",
    "SimExchange",
    "SimOrder",
]
