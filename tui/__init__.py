"""The Textual desk over the engine; `tui.cli` imports this package without loading Textual."""
