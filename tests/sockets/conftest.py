"""Fixtures for the raw WebSocket client tests: one ``driver`` per library (see ``drivers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest

from pytest_webpubsub import FakeWebPubSub

from .drivers import (
    HUB,
    Aiohttp,
    Driver,
    LoopThread,
    WebsocketApp,
    WebsocketClient,
    WebsocketsAsync,
    WebsocketsSync,
    needs_app_close_frames,
    needs_websockets_16,
)

DRIVERS = [
    pytest.param("websockets-asyncio", marks=needs_websockets_16),
    pytest.param("websockets-sync", marks=needs_websockets_16),
    "websocket-client",
    pytest.param("websocket-app", marks=needs_app_close_frames),
    "aiohttp",
]


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest, loop_thread: LoopThread, webpubsub: FakeWebPubSub) -> Iterator[Driver]:
    """Each raw WebSocket library in turn (the fake is started first, so it stops after the clients close)."""
    name = request.param
    chosen: Driver
    if name == "websockets-asyncio":
        chosen = WebsocketsAsync(loop_thread)
    elif name == "websockets-sync":
        chosen = WebsocketsSync()
    elif name == "websocket-client":
        chosen = WebsocketClient()
    elif name == "websocket-app":
        chosen = WebsocketApp()
    else:
        chosen = Aiohttp(loop_thread)
    yield chosen
    if isinstance(chosen, Aiohttp):
        chosen.close_sessions()


@pytest.fixture
def client_url(webpubsub: FakeWebPubSub) -> Callable[..., str]:
    """``client_url(user_id=..., roles=[...], groups=[...])``: a client access URL minted by the service SDK."""

    def mint(*, hub: str = HUB, **token_options: Any) -> str:
        url: str = webpubsub.service_client(hub).get_client_access_token(**token_options)["url"]
        return url

    return mint
