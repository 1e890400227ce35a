"""Markdown reports of runs (docs/semantics.md#reports)."""
