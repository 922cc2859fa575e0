"""Fixtures of the upstream tests: a scripted event handler, an ``Upstream`` closed at teardown, a local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_webpubsub._upstream import Upstream

from .support import Script, make_upstream, serve


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    upstream = make_upstream()
    yield upstream
    upstream.close()


@pytest.fixture
def server(script: Script) -> Iterator[str]:
    """A real HTTP event handler on 127.0.0.1, answering as ``script`` says."""
    yield from serve(script)
