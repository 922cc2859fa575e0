"""The client side, as a script or a bot writes it: the ``websockets`` library and the JSON subprotocol.

No Web PubSub client SDK here: frames are built and read by hand, as in the official "raw WebSocket" samples.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Callable, NamedTuple, Optional

import websockets

from .server import group_of

SUBPROTOCOL = "json.webpubsub.azure.v1"


class Quote(NamedTuple):
    symbol: str
    price: float


class SubscriptionRefused(Exception):
    """The service refused to join a quote group (its ack carried an error)."""


async def watch(
    url: str, symbols: Iterable[str], *, on_subscribed: Optional[Callable[[], None]] = None
) -> AsyncIterator[Quote]:
    """Connect, subscribe to ``symbols`` and yield quotes until the service closes the connection.

    ``on_subscribed`` is called once every group join was acknowledged (a UI shows "live" then).
    """
    async with websockets.connect(url, subprotocols=[SUBPROTOCOL]) as ws:
        await _subscribe(ws, list(symbols))
        if on_subscribed is not None:
            on_subscribed()
        async for frame in ws:
            message = json.loads(frame)
            if message["type"] == "system" and message["event"] == "disconnected":
                continue  # the close frame follows; the loop then ends
            if message["type"] == "message" and message.get("dataType") == "json":
                yield Quote(message["data"]["symbol"], message["data"]["price"])


async def _subscribe(ws: websockets.ClientConnection, symbols: list[str]) -> None:
    for ack_id, symbol in enumerate(symbols, start=1):
        await ws.send(json.dumps({"type": "joinGroup", "group": group_of(symbol), "ackId": ack_id}))
    pending = set(range(1, len(symbols) + 1))
    while pending:
        message = json.loads(await ws.recv())
        if message["type"] != "ack":
            continue  # system/connected
        pending.discard(message["ackId"])
        if not message["success"]:
            raise SubscriptionRefused(message["error"]["message"])
