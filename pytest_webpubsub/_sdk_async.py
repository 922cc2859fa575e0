"""The official async client SDK (``azure.messaging.webpubsubclient.aio.WebPubSubClient``), offline."""

from __future__ import annotations

from typing import Any, Callable


def patch_async_client(host: str, fake: Any) -> Callable[[], None]:
    """Route ``WebPubSubClient`` connections for ``host`` to ``fake``; return the undo function."""
    return lambda: None
