"""Durations in settings: a number in the unit the variable's name ends with
(MALL_SWEEP_INTERVAL_SECONDS=10 is ten seconds), a `timedelta` in the code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


def _parse_in(unit: str) -> Callable[[Any], timedelta]:
    one = timedelta(**{unit: 1})

    def parse(value: Any) -> timedelta:
        if isinstance(value, timedelta):
            duration = value
        else:
            try:
                if isinstance(value, bool):  # a number to Python, never one to an operator
                    raise TypeError
                duration = float(value) * one
            except (TypeError, ValueError):
                raise ValueError(f"not a number of {unit}; write one, e.g. 10 or 0.5") from None
            except OverflowError:
                raise ValueError("too long a duration (at most 999999999 days)") from None
        if duration < timedelta(0):
            raise ValueError("a duration cannot be negative")
        return duration

    return parse


def _dump_in(unit: str) -> Callable[[timedelta], int | float]:
    """The duration as its variable gives it (a dump of the settings reads like the
    environment, and the wiring hands plain numbers to adapters that count in the unit)."""
    one = timedelta(**{unit: 1})

    def dump(duration: timedelta) -> int | float:
        number = duration / one
        return int(number) if number.is_integer() else number

    return dump


Milliseconds = Annotated[timedelta, BeforeValidator(_parse_in("milliseconds")),
                         PlainSerializer(_dump_in("milliseconds"))]
Seconds = Annotated[timedelta, BeforeValidator(_parse_in("seconds")),
                    PlainSerializer(_dump_in("seconds"))]
Minutes = Annotated[timedelta, BeforeValidator(_parse_in("minutes")),
                    PlainSerializer(_dump_in("minutes"))]
Hours = Annotated[timedelta, BeforeValidator(_parse_in("hours")),
                  PlainSerializer(_dump_in("hours"))]
Days = Annotated[timedelta, BeforeValidator(_parse_in("days")),
                 PlainSerializer(_dump_in("days"))]


