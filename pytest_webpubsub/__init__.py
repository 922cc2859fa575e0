"""pytest-webpubsub: an in-memory fake of Azure Web PubSub for offline, fast, faithful tests."""

from __future__ import annotations

from ._core.errors import WebPubSubError
from ._core.log import LifecycleEvent
from ._core.model import Delivery, Message
from ._fake import ConnectionRefused, FakeWebPubSub
from ._options import Options
from ._rest.dispatch import RestCall
from ._rest.http import FakeRequest, FakeResponse
from .clients import FakeClientConnection, ReceivedMessage

__version__ = "0.1.0"

__all__ = [
    "ConnectionRefused",
    "Delivery",
    "FakeClientConnection",
    "FakeRequest",
    "FakeResponse",
    "FakeWebPubSub",
    "LifecycleEvent",
    "Message",
    "Options",
    "ReceivedMessage",
    "RestCall",
    "WebPubSubError",
    "__version__",
]
