"""Candle sources: the columnar store, the embedded demo market and CSV/Binance files."""
