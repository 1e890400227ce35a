"""Candle sources a process registers as exchanges: candle files and the local ccxt cache.

A source is a small picklable description (`FileSource`, `CacheSource`). Registering one
adds an exchange backed by a `CandleStore`, so runs take the array fast path, and records
it, so that worker processes (the desk's run process, a walker's pool) register the same
exchanges before they run (`engine.parallel.WorkerSetup`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.errors import ConfigError

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/:_.-]*$")


def symbol_of_file(path: str | os.PathLike[str]) -> str:
    """Return the symbol a candle file's name gives: its name up to the first `-` or `.`.

    `BTCUSDT-1m-2024-01.zip` (Binance's file names) and `btcusdt.csv` both give `BTCUSDT`.
    """
    name = Path(path).name
    return re.split(r"[-.]", name, maxsplit=1)[0].upper()


def parse_candle_arg(text: str) -> tuple[str, str]:
    """Return `(symbol, path)` of a `--candles` argument: `FILE` or `SYMBOL=FILE`.

    Raises:
        ConfigError: the symbol part is empty or not a symbol, or the file name gives none.
    """
    symbol, sep, path = text.partition("=")
    if not sep:
        symbol, path = symbol_of_file(text), text
        if not _SYMBOL.match(symbol):
            raise ConfigError(
                f"--candles {text!r}: the file name gives no symbol; write SYMBOL=FILE, "
                "e.g. --candles BTCUSDT=btc.csv"
            )
        return symbol, path
    symbol = symbol.strip()
    if not symbol or not _SYMBOL.match(symbol) or not path:
        raise ConfigError(
            f"--candles {text!r}: expected FILE or SYMBOL=FILE, e.g. --candles BTCUSDT=btc.csv"
        )
    return symbol, path
