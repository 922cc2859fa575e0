"""Injected time and id sources, so that runs are reproducible under frozen clocks and hypothesis."""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import time
from typing import Callable, Protocol

Clock = Callable[[], float]
"""A function returning the current time as POSIX seconds."""


def wall_time() -> float:
    """``time.time()``, looked up at every call, so time-machine and freezegun both move it."""
    return time.time()


class FakeClock:
    """The one clock of a fake: a time source (default: the wall clock) plus an offset that ``advance()`` adds to.

    Calling it returns ``source() + offset``. The source is read at every call, so a clock frozen or moved by
    time-machine or freezegun moves this one too, and ``advance()`` moves it further without any real sleep.
    Token expiry, ``minutes_to_expire`` of minted tokens and the reliable recovery window are judged on it.
    """

    __slots__ = ("_initial", "_offset", "_source")

    def __init__(self, source: Clock | None = None, *, offset: float = 0.0) -> None:
        self._source: Clock = source if source is not None else wall_time
        self._offset = self._initial = _check_seconds("offset", offset, allow_negative=True)

    def __call__(self) -> float:
        return self._source() + self._offset

    @property
    def offset(self) -> float:
        """How far ``advance()`` has moved this clock ahead of its source, in seconds."""
        return self._offset

    @property
    def source(self) -> Clock:
        """The time source this clock adds its offset to."""
        return self._source

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` (finite, not negative) forward."""
        self._offset += _check_seconds("seconds", seconds, allow_negative=False)

    def reset(self) -> None:
        """Undo every ``advance()``: back to the offset the clock was made with."""
        self._offset = self._initial

    def __repr__(self) -> str:
        source = "wall time" if self._source is wall_time else repr(self._source)
        return f"FakeClock({source} + {self._offset:g} s)"


def rest_token_time(clock: Clock, now: float | None = None) -> float:
    """The time a REST call's bearer token is judged at: the fake's clock as it was before any ``advance()``.

    The service SDK signs each REST call with a token that expires 60 s after the wall time it reads
    (``datetime.now``), so after ``advance()`` every such token would look expired on the fake's clock. A REST
    token is therefore accepted while its ``exp`` is in the future on the fake's clock *or* on its source (the wall
    clock, or the callable given as ``clock``; time-machine and freezegun move both the source and the SDK's
    stamp). Client access tokens are judged on the fake's clock alone, so ``advance()`` expires them.

    ``now``: the clock's reading, when the caller has just read it.
    """
    if now is None:
        now = clock()
    if isinstance(clock, FakeClock):
        return min(now, now - clock.offset)  # the source's reading behind ``now``: one reading, one instant
    return now


def _check_seconds(name: str, value: float, *, allow_negative: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number of seconds")
    if value < 0 and not allow_negative:
        raise ValueError(f"{name}={value!r} must not be negative: the fake's clock only moves forward")
    return float(value)


class IdFactory(Protocol):
    """Makes the opaque connection ids of one service."""

    def __call__(self) -> str: ...


class CountingIds:
    """Deterministic connection ids shaped like the real service's.

    Real ids are 31 characters of ``[A-Za-z0-9_-]``: 22 that vary and a 9-character suffix ending in
    ``02``; they may start with ``-`` or ``_``. These are derived from a seed and a counter, so the
    same test always sees the same ids, and two services with different seeds never collide.
    """

    SUFFIX = "pytestK02"

    def __init__(self, seed: str = "pytest-webpubsub") -> None:
        self._seed = seed
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        digest = hashlib.sha256(f"{self._seed}:{next(self._counter)}".encode()).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii")[:22] + self.SUFFIX
