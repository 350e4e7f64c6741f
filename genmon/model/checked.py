"""Reading a decoded JSON document that anyone may have written: each field is checked for the type
and the range genmon's code relies on, and anything else is a ``ValueError`` naming the field — the
record is refused whole (the wire and the control topic: docs/FLEET.md, "Hostile records")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ID_MAX = 2**32 - 1
"""The largest id a worker gives (ids are 32-bit per worker; a fleet lifts them to 64 bits)."""
COUNT_MAX = 2**53
"""Counts, offsets, pids and stamps: anything JSON numbers hold exactly."""


def text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: a string expected")
    return value


def maybe_text(value: Any, what: str) -> str | None:
    return None if value is None else text(value, what)


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what}: true or false expected")
    return value


def integer(value: Any, what: str, low: int = 0, high: int = COUNT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what}: an integer from {low} to {high} expected")
    return value


def number(value: Any, what: str, low: float = 0.0, high: float = float(COUNT_MAX)) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what}: a finite number expected")
    if not low <= value <= high:
        raise ValueError(f"{what}: a number from {low} to {high} expected")
    return float(value)


def items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what}: a list expected")
    return value


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what}: an object expected")
    return value


def texts(value: Any, what: str) -> tuple[str, ...]:
    return tuple(text(item, what) for item in items(value, what))
