"""Average-cost netting of one position, as Angel One's position book computes it.

Shared by the paper broker's day book and the simulator's ledger (both model the broker's books),
so the two cannot drift apart.
"""

from __future__ import annotations


def net_fill(
    open_quantity: int, open_average: float, is_buy: bool, quantity: int, price: float
) -> tuple[int, float, float]:
    """Apply a fill to a signed open quantity at its average price.

    Returns (open quantity, open average, realised P&L): adding to the position re-averages it;
    reducing it realises P&L against the average; flipping through zero opens the remainder at
    the fill price; flat is average 0."""
    signed = quantity if is_buy else -quantity
    if open_quantity == 0 or (open_quantity > 0) == (signed > 0):
        size = abs(open_quantity) + quantity
        average = (abs(open_quantity) * open_average + quantity * price) / size
        return open_quantity + signed, average, 0.0
    closing = min(abs(open_quantity), quantity)
    direction = 1 if open_quantity > 0 else -1
    realised = closing * (price - open_average) * direction
    remaining = open_quantity + signed
    if remaining == 0:
        return 0, 0.0, realised
    return remaining, (price if quantity > closing else open_average), realised
