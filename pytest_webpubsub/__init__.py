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

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from ._core.errors import WebPubSubError
    from ._core.log import LifecycleEvent
    from ._core.model import Delivery, Message
    from ._core.snapshot import HubSnapshot
    from ._fake import FakeWebPubSub
    from ._gateway import ConnectionRefused
    from ._options import Options
    from ._rest.dispatch import RestCall
    from ._rest.http import FakeRequest, FakeResponse
    from ._upstream import AbuseProtectionError, UpstreamCall, UpstreamRequest, UpstreamResponse
    from .clients import Ack, FakeClientConnection, ReceivedMessage
    from .transport import AsyncFakeTransport, FakeTransport


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_webpubsub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
