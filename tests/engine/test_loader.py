"""Loading a user's strategy module."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.core.errors import ConfigError
from engine.core.loader import load_module


def test_a_failing_module_leaves_nothing_registered(tmp_path: Path) -> None:
    module = tmp_path / "half.py"
    module.write_text(
        "from engine import add_strategy\n"
        "add_strategy(strategy_name='half_done', interval='1m', get_signal=lambda s, w: None)\n"
        "raise RuntimeError('late failure')\n"
    )
    with pytest.raises(ConfigError, match=r"half\.py:3: importing the module raised RuntimeError"):
        load_module(module)
    assert "half_done" not in [s.strategy_name for s in engine.list_strategies()]
    module.write_text(
        "from engine import add_strategy\n"
        "add_strategy(strategy_name='half_done', interval='1m', get_signal=lambda s, w: None)\n"
    )
    load_module(module)
    try:
        assert "half_done" in [s.strategy_name for s in engine.list_strategies()]
    finally:
        engine.core.registration.strategies.remove("half_done")


def test_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    module = tmp_path / "typo.py"
    module.write_text("x = 1\ndef broken(:\n")
    with pytest.raises(ConfigError, match=r"typo\.py:2: syntax error"):
        load_module(module)


def test_a_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; pass the path of a \.py file"):
        load_module(tmp_path / "nope.py")


def test_a_module_with_register_is_registered_when_loaded(tmp_path: Path) -> None:
    module = tmp_path / "generated.py"
    module.write_text(
        "from engine import add_strategy, list_strategies\n"
        "def register():\n"
        "    if 'from_register' not in [s.strategy_name for s in list_strategies()]:\n"
        "        add_strategy(strategy_name='from_register', interval='1m',\n"
        "                     get_signal=lambda s, w: None)\n"
    )
    load_module(module)
    try:
        assert "from_register" in [s.strategy_name for s in engine.list_strategies()]
    finally:
        engine.core.registration.strategies.remove("from_register")
