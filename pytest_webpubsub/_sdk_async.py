"""The official async client SDK (``azure.messaging.webpubsubclient.aio.WebPubSubClient``), offline.

The SDK's ``WebSocketAppAsync`` opens ``aiohttp.ClientSession()`` and ``session.ws_connect(url, ...)``, both
looked up through the module global ``aiohttp`` of ``azure.messaging.webpubsubclient.aio._client`` at call time.
While the seams are installed that global is a module shim (:class:`AsyncClientSeam`): every attribute is real
aiohttp except, while some fake is active, ``ClientSession``, whose ``ws_connect`` gives an in-memory
:class:`FakeClientWebSocket` for a host an active fake owns and a real WebSocket for any other host.
A ``*.webpubsub.azure.com`` host that no fake owns fails at once, like a network error, so ``open()`` never
reaches Azure. The SDK keeps its own receive loop, recovery and reconnect logic.

Threading: the service may write to a socket from any thread (REST calls from the test thread, a sync client's
reader thread). Writes only append to the socket's buffer and wake the event loop with
``call_soon_threadsafe``; no SDK code ever runs on the writer's thread, and nothing here waits for the loop
while holding the fake's lock. Calls from the loop into the fake (handshake, a client frame, close) are short,
except that they wait for the app's event handler (``connect``, a user event) when one is configured, as the
service does; the app runs on a thread of its own or the fake's own event loop, never on this one.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

from ._gateway import Gateway
from ._hosts import HOSTS, Seam
from ._session import CLOSE_POLICY_VIOLATION
from ._ws_aiohttp import FakeClientWebSocket, SocketRegistry, gateway_for
from ._ws_wire import STOPPED_REASON

__all__ = ["STOPPED_REASON", "AsyncClientSeam", "FakeClientSession", "FakeClientWebSocket"]

_SDK_MODULE = "azure.messaging.webpubsubclient.aio._client"


# -- the seam ------------------------------------------------------------------------------------------


class AsyncClientSeam(Seam):
    """Replaces the aio client SDK module's ``aiohttp`` global while any fake is active, routing by host."""

    hint = "Build the client's URL from the fake (webpubsub.service_client(...).get_client_access_token())"

    def __init__(self) -> None:
        self._original: Any = None
        self._shim: Any = None
        self.sockets = SocketRegistry(CLOSE_POLICY_VIOLATION)
        """The SDK's open sockets: a stopping fake closes them with 1008, so the SDK does not try to recover."""

    def gateway_for(self, url: str) -> Gateway | None:
        """The gateway owning ``url``'s host; raise a connection error for an Azure host no fake owns."""
        return gateway_for(url, self.hint)

    def release(self, host: str) -> None:
        """End every socket of ``host`` still open, as the service going away: the SDK's tasks then finish."""
        self.sockets.stop(host)

    def install(self) -> None:
        import aiohttp

        sdk: Any = importlib.import_module(_SDK_MODULE)
        self._original = sdk.aiohttp
        self._shim = _aiohttp_shim(aiohttp)
        sdk.aiohttp = self._shim

    def uninstall(self) -> None:
        sdk: Any = importlib.import_module(_SDK_MODULE)
        if self._shim is not None and sdk.aiohttp is self._shim:
            sdk.aiohttp = self._original
        self._original = self._shim = None


SEAM = AsyncClientSeam()


def _aiohttp_shim(aiohttp: types.ModuleType) -> types.ModuleType:
    """A module that is real ``aiohttp`` except for ``ClientSession`` while some fake is active (looked up at each
    use, so with no fake active the SDK gets aiohttp's own session)."""

    class AiohttpShim(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            if name == "ClientSession" and HOSTS.active:
                return FakeClientSession
            return getattr(aiohttp, name)

    return AiohttpShim(aiohttp.__name__, aiohttp.__doc__)


# -- the session -------------------------------------------------------------------------------------


class FakeClientSession:
    """Stands in for ``aiohttp.ClientSession`` inside the client SDK.

    ``ws_connect`` to a fake's host gives a :class:`FakeClientWebSocket`; other hosts use a real session,
    created on first need. ``close()`` drops the link of every fake socket it opened (no close handshake), the
    way closing a real session cuts its connections: a reliable client then recovers, a JSON client reconnects.
    Frames the service wrote before the drop are still read first, then ``CLOSED``, as from a lost connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._real: Any = None
        self._sockets: list[FakeClientWebSocket] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"<pytest_webpubsub FakeClientSession {'closed' if self._closed else 'open'}>"

    @property
    def closed(self) -> bool:
        return self._closed

    async def ws_connect(self, url: Any, *, protocols: Any = (), headers: Any = None, **kwargs: Any) -> Any:
        if self._closed:
            raise RuntimeError("Session is closed")
        gateway = SEAM.gateway_for(str(url))
        if gateway is None:
            return await self._real_session().ws_connect(url, protocols=protocols, headers=headers, **kwargs)
        ws = FakeClientWebSocket._connect(gateway, str(url), list(protocols or ()), dict(headers or {}), SEAM.sockets)
        self._sockets.append(ws)
        return ws

    async def close(self) -> None:
        self._closed = True
        sockets, self._sockets = self._sockets, []
        for ws in sockets:
            ws._drop()
        if self._real is not None:
            await self._real.close()

    async def __aenter__(self) -> FakeClientSession:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def _real_session(self) -> Any:
        if self._real is None:
            import aiohttp

            self._real = aiohttp.ClientSession(*self._args, **self._kwargs)
        return self._real

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real_session(), name)
