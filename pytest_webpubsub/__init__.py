"""pytest-webpubsub: an in-memory fake of Azure Web PubSub for offline, fast, faithful tests.

Names load on first use (PEP 562), so that importing the pytest plugin stays cheap: JWT, azure-core,
respx and httpx are only imported once a fake is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AbuseProtectionError": "._upstream",
    "Ack": ".clients",
    "AsyncFakeTransport": ".transport",
    "ConnectionRefused": "._gateway",
    "FakeTransport": ".transport",
    "HubSnapshot": "._core.snapshot",
    "Delivery": "._core.model",
    "FakeClientConnection": ".clients",
    "FakeRequest": "._rest.http",
    "FakeResponse": "._rest.http",
    "FakeWebPubSub": "._fake",
    "LifecycleEvent": "._core.log",
    "Message": "._core.model",
    "Options": "._options",
    "ReceivedMessage": ".clients",
    "RestCall": "._rest.dispatch",
    "UpstreamCall": "._upstream",
    "UpstreamRequest": "._upstream",
    "UpstreamResponse": "._upstream",
    "WebPubSubError": "._core.errors",
}

__all__ = [
    "AbuseProtectionError",
    "Ack",
    "AsyncFakeTransport",
    "ConnectionRefused",
    "Delivery",
    "FakeClientConnection",
    "FakeRequest",
    "FakeResponse",
    "FakeTransport",
    "FakeWebPubSub",
    "HubSnapshot",
    "LifecycleEvent",
    "Message",
    "Options",
    "ReceivedMessage",
    "RestCall",
    "UpstreamCall",
    "UpstreamRequest",
    "UpstreamResponse",
    "WebPubSubError",
    "__version__",
]
"""Static, so that type checkers see the re-exports; a test keeps it equal to ``_EXPORTS``."""

if TYPE_CHECKING:  # the `X as X` form marks an explicit re-export for mypy --strict users
    from ._core.errors import WebPubSubError as WebPubSubError
    from ._core.log import LifecycleEvent as LifecycleEvent
    from ._core.model import Delivery as Delivery
    from ._core.model import Message as Message
    from ._core.snapshot import HubSnapshot as HubSnapshot
    from ._fake import FakeWebPubSub as FakeWebPubSub
    from ._gateway import ConnectionRefused as ConnectionRefused
    from ._options import Options as Options
    from ._rest.dispatch import RestCall as RestCall
    from ._rest.http import FakeRequest as FakeRequest
    from ._rest.http import FakeResponse as FakeResponse
    from ._upstream import AbuseProtectionError as AbuseProtectionError
    from ._upstream import UpstreamCall as UpstreamCall
    from ._upstream import UpstreamRequest as UpstreamRequest
    from ._upstream import UpstreamResponse as UpstreamResponse
    from .clients import Ack as Ack
    from .clients import FakeClientConnection as FakeClientConnection
    from .clients import ReceivedMessage as ReceivedMessage
    from .transport import AsyncFakeTransport as AsyncFakeTransport
    from .transport import FakeTransport as FakeTransport

def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_webpubsub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
