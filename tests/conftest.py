"""Shared test configuration: the hypothesis profile, and a summary of the steps the state machines ran.

The profile is chosen by ``WEBPUBSUB_HYPOTHESIS_PROFILE`` (or ``HYPOTHESIS_PROFILE``):

* ``default``: hypothesis' defaults (100 examples), 40 steps per state machine run; quick enough for every save.
* ``ci``: no deadline (shared CI machines stall), 160 examples, 50 steps per run: each of the two state machines
  runs about 7,000 steps (the session summary prints the count; 10,000 at least together).

The state machines in tests/stateful take ``max_examples`` and ``stateful_step_count`` from the profile; tests
that fix their own example counts keep them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("default", stateful_step_count=40)
settings.register_profile("ci", deadline=None, max_examples=160, stateful_step_count=50)
PROFILE = os.environ.get("WEBPUBSUB_HYPOTHESIS_PROFILE") or os.environ.get("HYPOTHESIS_PROFILE") or "default"
settings.load_profile(PROFILE)

if sys.version_info < (3, 10):
    # Python 3.9 only: some event loop that a library left current (3.9's asyncio creates one implicitly on
    # get_event_loop() in the main thread) is dropped unclosed by a later asyncio.run(), and its ResourceWarning lands
    # on whichever test runs then. Not the fake's (no loop of the fake is ever left unclosed; 3.10+ shows nothing);
    # ignored by its exact messages, on 3.9 only.
    def pytest_configure(config: pytest.Config) -> None:
        for message in (  # "." stands for the ":" the filter syntax cannot hold
            r"Exception ignored in. <function BaseEventLoop\.__del__",
            r"Exception ignored in. <socket\.socket fd=\d+, family=AddressFamily\.AF_UNIX",
        ):
            config.addinivalue_line("filterwarnings", f"ignore:{message}:pytest.PytestUnraisableExceptionWarning")


_WORKER_STEPS: Counter[str] = Counter()
"""Steps the state machines ran on xdist workers, summed on the controller."""


def _local_steps() -> Counter[str]:
    module = sys.modules.get("step_count")  # imported by tests/stateful only when they were collected here
    return Counter(module.STEPS) if module is not None else Counter()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["stateful_steps"] = dict(_local_steps())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _WORKER_STEPS.update(getattr(node, "workeroutput", {}).get("stateful_steps", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    steps = _local_steps() + _WORKER_STEPS
    if steps:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(steps.items()))
        terminalreporter.write_line(
            f"state machine steps (hypothesis profile {PROFILE!r}): {sum(steps.values())} ({counts})"
        )


@contextlib.contextmanager
def unpinned() -> Iterator[None]:
    """The seams' lifetime without the plugin's session hold: installed with the first fake, removed with the last
    (as for a fake used outside pytest). The hold is given back at the end."""
    from pytest_webpubsub._hosts import HOSTS

    holds = 0
    while HOSTS.pinned:
        HOSTS.unpin()
        holds += 1
    try:
        yield
    finally:
        for _ in range(holds):
            HOSTS.pin()


@pytest.fixture
def seams_unpinned() -> Iterator[None]:
    """:func:`unpinned` for one test."""
    with unpinned():
        yield
