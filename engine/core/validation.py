"""Signal validation with upstream's exact messages (docs/semantics.md#validation)."""

from __future__ import annotations

import math
from typing import Any

from engine.core.config import Settings
from engine.core.jsformat import js_string, js_typeof, to_fixed
from engine.core.models import SignalRow


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any) -> bool:
    """Tell a JS number (NaN and infinities included) from anything else."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _gt(a: Any, b: Any) -> bool:
    return _num(a) and _num(b) and a > b


def _empty(v: Any) -> bool:
    return v is None or v == ""


_NUMBER = (float, int)
_INF = math.inf


def quick_valid(row: SignalRow, cur: Any, is_scheduled: bool, settings: Settings) -> bool:
    """Return True when `row` certainly passes every rule (the hot path of a backtest)."""
    signal_id, o, position, _, tp, sl, m, symbol, exchange, strategy, scheduled, pending, _ = row
    number = _NUMBER
    if not (
        type(o) in number
        and type(tp) in number
        and type(sl) in number
        and type(cur) in number
        and type(m) in number
    ):
        return False
    if not (0 < cur < _INF and 0 < m < _INF):
        return False
    if not (signal_id and exchange and strategy and symbol and scheduled > 0 and pending > 0):
        return False
    # The prices in their order, from above zero to below infinity, are all positive and
    # finite (NaN fails every comparison).
    if position == "long":
        if not 0 < sl < o < tp < _INF or (not is_scheduled and (cur < sl or cur > tp)):
            return False
        gain, loss = tp - o, o - sl
    elif position == "short":
        if not 0 < tp < o < sl < _INF or (not is_scheduled and (cur > sl or cur < tp)):
            return False
        gain, loss = o - tp, sl - o
    else:
        return False
    min_tp = settings.min_take_profit_distance
    max_sl = settings.max_stop_loss_distance
    if (min_tp and gain / o * 100 < min_tp) or (max_sl and loss / o * 100 > max_sl):
        return False
    max_life = settings.max_signal_lifetime_minutes
    return (type(m) is int or m == int(m)) and not (max_life and m > max_life)


def signal_errors(
    row: SignalRow, current_price: Any, is_scheduled: bool, settings: Settings
) -> list[str]:
    """Return every rule `row` breaks, in upstream order (empty when valid)."""
    if quick_valid(row, current_price, is_scheduled, settings):
        return []
    s = js_string
    errors: list[str] = []
    if _empty(row.id):
        errors.append("id is required and must be a non-empty string")
    if _empty(row.exchange_name):
        errors.append("exchangeName is required")
    if _empty(row.strategy_name):
        errors.append("strategyName is required")
    if _empty(row.symbol):
        errors.append("symbol is required and must be a non-empty string")
    position = row.position
    if position is None:
        errors.append('position is required and must be "long" or "short"')
    if not _finite(current_price):
        kind = js_typeof(current_price)
        errors.append(f"currentPrice must be a finite number, got {s(current_price)} ({kind})")
    elif current_price <= 0:
        errors.append(f"currentPrice must be positive, got {s(current_price)}")
    prices: tuple[tuple[str, Any], ...] = (
        ("priceOpen", row.price_open),
        ("priceTakeProfit", row.price_take_profit),
        ("priceStopLoss", row.price_stop_loss),
    )
    for name, v in prices:
        if not _finite(v):
            errors.append(f"{name} must be a finite number, got {s(v)} ({js_typeof(v)})")
    for name, v in prices:
        if _finite(v) and v <= 0:
            errors.append(f"{name} must be positive, got {s(v)}")
    open_: Any = row.price_open
    tp: Any = row.price_take_profit
    sl: Any = row.price_stop_loss
    cur = current_price
    if position == "long":
        if _num(tp) and _num(open_) and tp <= open_:
            errors.append(f"Long: priceTakeProfit ({s(tp)}) must be > priceOpen ({s(open_)})")
        if _num(sl) and _num(open_) and sl >= open_:
            errors.append(f"Long: priceStopLoss ({s(sl)}) must be < priceOpen ({s(open_)})")
        if not is_scheduled:
            if _gt(sl, cur):
                errors.append(
                    f"Long: currentPrice ({s(cur)}) < priceStopLoss ({s(sl)}). "
                    "Signal would be immediately cancelled. This signal is invalid."
                )
            if _gt(cur, tp):
                errors.append(
                    f"Long: currentPrice ({s(cur)}) > priceTakeProfit ({s(tp)}). "
                    "Signal is invalid - the profit opportunity has already passed."
                )
        _distance_errors("Long", tp, sl, open_, (tp, open_), (open_, sl), settings, errors)
    elif position == "short":
        if _num(tp) and _num(open_) and tp >= open_:
            errors.append(f"Short: priceTakeProfit ({s(tp)}) must be < priceOpen ({s(open_)})")
        if _num(sl) and _num(open_) and sl <= open_:
            errors.append(f"Short: priceStopLoss ({s(sl)}) must be > priceOpen ({s(open_)})")
        if not is_scheduled:
            if _gt(cur, sl):
                errors.append(
                    f"Short: currentPrice ({s(cur)}) > priceStopLoss ({s(sl)}). "
                    "Signal would be immediately cancelled. This signal is invalid."
                )
            if _gt(tp, cur):
                errors.append(
                    f"Short: currentPrice ({s(cur)}) < priceTakeProfit ({s(tp)}). "
                    "Signal is invalid - the profit opportunity has already passed."
                )
        _distance_errors("Short", tp, sl, open_, (open_, tp), (sl, open_), settings, errors)
    _lifetime_errors(row.minute_estimated_time, settings, errors)
    for label, v in (("scheduledAt", row.scheduled_at), ("pendingAt", row.pending_at)):
        if v <= 0:
            errors.append(f"{label} must be positive, got {s(v)}")
    if position not in ("long", "short", None):
        errors.append(f'position must be "long" or "short", was {position!r}')
    return errors


def _js_div(a: float, b: float) -> float:
    """Divide like JavaScript: by zero gives ±Infinity (or NaN for 0/0), never an error."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _distance_errors(
    side: str,
    tp: Any,
    sl: Any,
    open_: Any,
    tp_pair: tuple[Any, Any],
    sl_pair: tuple[Any, Any],
    settings: Settings,
    errors: list[str],
) -> None:
    s = js_string
    min_tp = settings.min_take_profit_distance
    if min_tp and _num(tp_pair[0]) and _num(tp_pair[1]) and _num(open_):
        d = _js_div(tp_pair[0] - tp_pair[1], open_) * 100
        if d < min_tp:
            errors.append(
                f"{side}: TakeProfit too close to priceOpen ({to_fixed(d, 3)}%). Minimum distance: "
                f"{s(min_tp)}% to cover trading fees. Current: TP={s(tp)}, Open={s(open_)}"
            )
    max_sl = settings.max_stop_loss_distance
    if max_sl and _num(sl_pair[0]) and _num(sl_pair[1]) and _num(open_):
        d = _js_div(sl_pair[0] - sl_pair[1], open_) * 100
        if d > max_sl:
            errors.append(
                f"{side}: StopLoss too far from priceOpen ({to_fixed(d, 3)}%). Maximum distance: "
                f"{s(max_sl)}% to protect capital. Current: SL={s(sl)}, Open={s(open_)}"
            )


def _lifetime_errors(v: Any, settings: Settings, errors: list[str]) -> None:
    s = js_string
    if not isinstance(v, int | float) or isinstance(v, bool):
        # JS: `undefined <= 0` and `undefined > max` are false; it is just not an integer.
        errors.append(f"minuteEstimatedTime must be an integer (whole number), got {s(v)}")
        return
    if v <= 0:
        errors.append(f"minuteEstimatedTime must be positive, got {s(v)}")
    if (math.isfinite(v) and v != int(v)) or not math.isfinite(v):
        errors.append(f"minuteEstimatedTime must be an integer (whole number), got {s(v)}")
    max_life = settings.max_signal_lifetime_minutes
    if max_life and v > max_life:
        errors.append(
            f"minuteEstimatedTime too large ({s(v)} minutes = {to_fixed(v / 60 / 24, 1)} days). "
            f"Maximum: {s(max_life)} minutes ({to_fixed(max_life / 60 / 24, 0)} days) to prevent "
            "strategy deadlock. Eternal signals block risk limits and prevent new trades."
        )
