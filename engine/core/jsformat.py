"""JavaScript number formatting, for texts that must match upstream to the character."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def js_string(value: Any) -> str:
    """Format like JavaScript's `String(value)` (shortest round-trip number, JS exponents)."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = "" if frac == "0" else frac
    digits = (whole + frac).lstrip("0")
    leading_zeros = len(frac) - len(frac.lstrip("0")) if whole == "0" else 0
    point = (0 if whole == "0" else len(whole)) - leading_zeros
    point += int(exp_text) if exp_text else 0  # the decimal point stands after `point` digits
    digits = digits.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        exponent = n - 1
        sign_e = "+" if exponent >= 0 else "-"
        body = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{body}e{sign_e}{abs(exponent)}"
    return sign + text


def js_typeof(value: Any) -> str:
    """Return JavaScript's `typeof` name for a Python value seen through the API."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def to_fixed(value: float, digits: int) -> str:
    """Format like JavaScript's `Number.prototype.toFixed`: exact value, ties away from zero."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    quantum = Decimal(1).scaleb(-digits)
    return str(Decimal(value or 0.0).quantize(quantum, rounding=ROUND_HALF_UP))


def js_round(value: float) -> int:
    """Round like JavaScript's `Math.round` (halves toward +infinity)."""
    return math.floor(value + 0.5)
