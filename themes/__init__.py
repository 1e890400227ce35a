"""Theme files of the desk (TOML), shipped as package data and read with importlib.resources."""
