"""The upstream side of the fake: the service calling the app's event handler with CloudEvents over HTTP.

``Upstream`` is what the connection gateway and the sessions call (``connect``, ``connected``, ``disconnected``,
``user_event``, ``drain``); the records are public through ``pytest_webpubsub``.
"""

from .records import (
    AbuseProtectionError,
    ConnectDecision,
    ConnectEvent,
    ConnectionInfo,
    Headers,
    UpstreamCall,
    UpstreamRequest,
    UpstreamResponse,
    UserEventResult,
)
from .upstream import EventHandler, Upstream, build_event

__all__ = [
    "AbuseProtectionError",
    "ConnectDecision",
    "ConnectEvent",
    "ConnectionInfo",
    "EventHandler",
    "Headers",
    "Upstream",
    "UpstreamCall",
    "UpstreamRequest",
    "UpstreamResponse",
    "UserEventResult",
    "build_event",
]
