"""Markdown reports of runs (SPEC §14, with upstream's formatting bugs fixed)."""
