"""Checks of the numbers users give (config fields, settings, arguments), written once so
every part of the library refuses a bad value with the same words: the name, what was
expected and what was given."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable


def is_integer(value: object) -> bool:
    """A whole number that is not a bool (True is an int to Python, never a count to us)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_integer(
    value: object, name: str, minimum: int = 0, maximum: int | None = None, note: str = ""
) -> int:
    """`value` as an int in [minimum, maximum] (no upper end when None), or a ValueError
    naming `name`, the expected range (and `note`, e.g. "(0: none)") and the value."""
    expected = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    expected += f" {note}" if note else ""
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {expected}, got {value!r}")
    return int(value)


def check_number(value: object, name: str, expected: str, ok: Callable[[float], bool]) -> float:
    """`value` as a float when it is a finite real number for which `ok` holds, else a
    ValueError saying it must be `expected` (e.g. "> 0", "in (0, 1)")."""
    if not (is_number(value) and math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be a finite number {expected}, got {value!r}")
    return float(value)
