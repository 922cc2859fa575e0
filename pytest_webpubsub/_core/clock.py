"""Injected time and id sources, so that runs are reproducible under frozen clocks and hypothesis."""

from __future__ import annotations

import base64
import hashlib
import itertools
from typing import Callable, Protocol

Clock = Callable[[], float]
"""A function returning the current time as POSIX seconds."""


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
