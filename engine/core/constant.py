"""Take-profit and stop-loss levels for users' partial-exit logic (docs/semantics.md#constant)."""

from __future__ import annotations

from typing import Final


class ConstantUtils:
    """Levels in percent of the distance from entry to take profit (TP) or stop loss (SL).

    Nothing in the engine reads them: partial profit/loss events use fixed 10 … 100 % levels
    of price move (docs/semantics.md#partial). They are here for strategies that scale out in
    steps, e.g. take a third off at `TP_LEVEL1` (30 % of the way to the take profit).
    """

    TP_LEVEL1: Final = 30
    TP_LEVEL2: Final = 60
    TP_LEVEL3: Final = 90
    SL_LEVEL1: Final = 40
    SL_LEVEL2: Final = 80


Constant = ConstantUtils()
