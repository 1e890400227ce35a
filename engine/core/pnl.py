"""Profit and loss with fee and slippage, in upstream's operation order (docs/semantics.md#pnl)."""

from __future__ import annotations

from engine.core.models import PnL

PERCENT_SLIPPAGE = 0.1
PERCENT_FEE = 0.1


def profit_loss(position: str, price_open: float, price_close: float) -> PnL:
    """Return the net PnL percent of a position opened and closed at the raw prices."""
    if position == "long":
        entry = price_open * (1 + PERCENT_SLIPPAGE / 100)
        exit_ = price_close * (1 - PERCENT_SLIPPAGE / 100)
        pnl = (exit_ - entry) / entry * 100
    else:
        entry = price_open * (1 - PERCENT_SLIPPAGE / 100)
        exit_ = price_close * (1 + PERCENT_SLIPPAGE / 100)
        pnl = (entry - exit_) / entry * 100
    pnl -= PERCENT_FEE * 2
    return tuple.__new__(PnL, (pnl, price_open, price_close))  # PnL(…) without its __new__ call
