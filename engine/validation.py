"""Signal validation with upstream's exact messages (SPEC §5.2)."""

from __future__ import annotations

import math
from typing import Any

from engine.config import Settings
from engine.jsformat import js_string, js_typeof, to_fixed


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _gt(a: Any, b: Any) -> bool:
    return _finite(a) and _finite(b) and a > b


def _empty(v: Any) -> bool:
    return v is None or v == ""


def signal_errors(
    row: dict[str, Any], current_price: Any, is_scheduled: bool, settings: Settings
) -> list[str]:
    """Return every rule `row` breaks, in upstream order (empty when valid)."""
    s = js_string
    errors: list[str] = []
    if _empty(row.get("id")):
        errors.append("id is required and must be a non-empty string")
    if _empty(row.get("exchange_name")):
        errors.append("exchangeName is required")
    if _empty(row.get("strategy_name")):
        errors.append("strategyName is required")
    if _empty(row.get("symbol")):
        errors.append("symbol is required and must be a non-empty string")
    if row.get("is_scheduled") is None:
        errors.append("_isScheduled is required")
    position = row.get("position")
    if position is None:
        errors.append('position is required and must be "long" or "short"')
    if not _finite(current_price):
        kind = js_typeof(current_price)
        errors.append(f"currentPrice must be a finite number, got {s(current_price)} ({kind})")
    elif current_price <= 0:
        errors.append(f"currentPrice must be positive, got {s(current_price)}")
    prices: tuple[tuple[str, Any], ...] = (
        ("priceOpen", row.get("price_open")),
        ("priceTakeProfit", row.get("price_take_profit")),
        ("priceStopLoss", row.get("price_stop_loss")),
    )
    for name, v in prices:
        if not _finite(v):
            errors.append(f"{name} must be a finite number, got {s(v)} ({js_typeof(v)})")
    for name, v in prices:
        if _finite(v) and v <= 0:
            errors.append(f"{name} must be positive, got {s(v)}")
    open_: Any = row.get("price_open")
    tp: Any = row.get("price_take_profit")
    sl: Any = row.get("price_stop_loss")
    cur = current_price
    if position == "long":
        if _finite(tp) and _finite(open_) and tp <= open_:
            errors.append(f"Long: priceTakeProfit ({s(tp)}) must be > priceOpen ({s(open_)})")
        if _finite(sl) and _finite(open_) and sl >= open_:
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
        if _finite(tp) and _finite(open_) and tp >= open_:
            errors.append(f"Short: priceTakeProfit ({s(tp)}) must be < priceOpen ({s(open_)})")
        if _finite(sl) and _finite(open_) and sl <= open_:
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
    _lifetime_errors(row.get("minute_estimated_time"), settings, errors)
    for name, label in (("scheduled_at", "scheduledAt"), ("pending_at", "pendingAt")):
        v = row.get(name)
        if isinstance(v, int | float) and v <= 0:
            errors.append(f"{label} must be positive, got {s(v)}")
    return errors


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
    if min_tp and _finite(tp_pair[0]) and _finite(tp_pair[1]) and _finite(open_):
        d = (tp_pair[0] - tp_pair[1]) / open_ * 100
        if d < min_tp:
            errors.append(
                f"{side}: TakeProfit too close to priceOpen ({to_fixed(d, 3)}%). Minimum distance: "
                f"{s(min_tp)}% to cover trading fees. Current: TP={s(tp)}, Open={s(open_)}"
            )
    max_sl = settings.max_stop_loss_distance
    if max_sl and _finite(sl_pair[0]) and _finite(sl_pair[1]) and _finite(open_):
        d = (sl_pair[0] - sl_pair[1]) / open_ * 100
        if d > max_sl:
            errors.append(
                f"{side}: StopLoss too far from priceOpen ({to_fixed(d, 3)}%). Maximum distance: "
                f"{s(max_sl)}% to protect capital. Current: SL={s(sl)}, Open={s(open_)}"
            )


def _lifetime_errors(v: Any, settings: Settings, errors: list[str]) -> None:
    s = js_string
    if not isinstance(v, int | float) or isinstance(v, bool):
        errors.append(f"minuteEstimatedTime must be positive, got {s(v)}")
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
