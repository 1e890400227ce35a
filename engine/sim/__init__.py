"""Running strategies: exchanges, the strategy client, backtests, live, portfolio, walker."""
