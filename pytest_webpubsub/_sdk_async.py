"""The official async client SDK (``azure.messaging.webpubsubclient.aio.WebPubSubClient``), offline.

The SDK's ``WebSocketAppAsync`` opens ``aiohttp.ClientSession()`` and ``session.ws_connect(url, ...)``, both
looked up through the module global ``aiohttp`` of ``azure.messaging.webpubsubclient.aio._client`` at call time.
While a fake is active that global is a module shim (reference-counted, routed by host, like the REST seam in
:mod:`.transport`): every attribute is real aiohttp except ``ClientSession``, whose ``ws_connect`` gives an
in-memory :class:`FakeClientWebSocket` for a host an active fake owns and a real WebSocket for any other host.
A ``*.webpubsub.azure.com`` host that no fake owns fails at once, like a network error, so ``open()`` never
reaches Azure. The SDK keeps its own receive loop, recovery and reconnect logic.

Threading: the service may write to a socket from any thread (REST calls from the test thread, a sync client's
reader thread). Writes only append to the socket's buffer and wake the event loop with
``call_soon_threadsafe``; no SDK code ever runs on the writer's thread, and nothing here waits for the loop
while holding the fake's lock. Calls from the loop into the fake (handshake, a client frame, close) are short.
"""

from __future__ import annotations

import asyncio
import errno
import json
import threading
import types
from collections import deque
from typing import Any, Callable, NamedTuple
from urllib.parse import urlsplit

from . import _protocol
from ._hosts import HostTable, is_azure_host, refuse_unowned_host
from ._session import CLOSE_POLICY_VIOLATION, ClientSession, Outbound

STOPPED_REASON = "pytest-webpubsub: the fake service was stopped."
_SDK_MODULE = "azure.messaging.webpubsubclient.aio._client"
_ABNORMAL_CLOSURE = 1006


def patch_async_client(host: str, fake: Any) -> Callable[[], None]:
    """Route ``WebPubSubClient`` connections for ``host`` to ``fake``; return the undo function.

    A no-op when aiohttp (the SDK's ``aio`` extra) is not installed.
    """
    try:
        import aiohttp  # noqa: F401
        import importlib

        importlib.import_module(_SDK_MODULE)
    except ImportError:
        return lambda: None
    route = _PATCH.register(host, fake)

    def undo() -> None:
        _PATCH.unregister(host)
        route.stop()

    return undo


# -- routing -------------------------------------------------------------------------------------------


class _Route:
    """One active fake's host and the in-memory sockets connected to it."""

    def __init__(self, host: str, fake: Any) -> None:
        self.host = host
        self.fake = fake
        self._lock = threading.Lock()
        self._sockets: set[FakeClientWebSocket] = set()

    def add(self, ws: FakeClientWebSocket) -> None:
        with self._lock:
            self._sockets.add(ws)

    def discard(self, ws: FakeClientWebSocket) -> None:
        with self._lock:
            self._sockets.discard(ws)

    def stop(self) -> None:
        """End every socket still open, as the service going away: the SDK's tasks then finish."""
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for ws in sockets:
            ws._service_stopped()


class _Patch:
    """Reference-counted replacement of the SDK module's ``aiohttp`` global, routing by host."""

    def __init__(self) -> None:
        self.table: HostTable[_Route] = HostTable(self._install, self._uninstall)
        self._original: Any = None
        self._shim: Any = None

    def register(self, host: str, fake: Any) -> _Route:
        route = _Route(host.lower(), fake)
        self.table.add(host, route)
        return route

    def unregister(self, host: str) -> None:
        self.table.remove(host)

    def route_for(self, url: str) -> _Route | None:
        """The route owning ``url``'s host; raise a connection error for an Azure host no fake owns."""
        parts = urlsplit(url)
        host = parts.netloc.lower()
        route = self.table.get(host)
        if route is None and is_azure_host(host):
            hint = "Build the client's URL from the fake (webpubsub.service_client(...).get_client_access_token())"
            raise _no_fake_error(parts, refuse_unowned_host(host, self.table.hosts(), hint=hint))
        return route

    def _install(self) -> None:
        import importlib

        import aiohttp

        sdk = importlib.import_module(_SDK_MODULE)
        self._original = sdk.aiohttp
        self._shim = _aiohttp_shim(aiohttp)
        sdk.aiohttp = self._shim

    def _uninstall(self) -> None:
        import importlib

        sdk = importlib.import_module(_SDK_MODULE)
        if self._shim is not None and sdk.aiohttp is self._shim:
            sdk.aiohttp = self._original
        self._original = self._shim = None


_PATCH = _Patch()


def _aiohttp_shim(aiohttp: types.ModuleType) -> types.ModuleType:
    """A module that is real ``aiohttp`` except for ``ClientSession``."""

    class AiohttpShim(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(aiohttp, name)

    shim = AiohttpShim(aiohttp.__name__, aiohttp.__doc__)
    shim.ClientSession = FakeClientSession  # type: ignore[attr-defined]
    return shim


def _no_fake_error(parts: Any, message: str) -> Exception:
    """An ``aiohttp.ClientConnectorError`` (what a failed connect raises) that says why."""
    import aiohttp

    class NoFakeOwnsHost(aiohttp.ClientConnectorError):
        def __init__(self) -> None:
            os_error = ConnectionRefusedError(errno.ECONNREFUSED, message)
            aiohttp.ClientOSError.__init__(self, os_error.errno, os_error.strerror)
            self._os_error = os_error
            self._conn_key = None  # type: ignore[assignment]
            self.args = (parts.hostname, os_error)

        @property
        def host(self) -> str:
            return parts.hostname or ""

        @property
        def port(self) -> int | None:
            return parts.port or (443 if parts.scheme in ("wss", "https") else 80)

        @property
        def ssl(self) -> Any:
            return True

    return NoFakeOwnsHost()


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
        route = _PATCH.route_for(str(url))
        if route is None:
            return await self._real_session().ws_connect(url, protocols=protocols, headers=headers, **kwargs)
        ws = FakeClientWebSocket._connect(route, str(url), list(protocols or ()), dict(headers or {}))
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


# -- the socket --------------------------------------------------------------------------------------


class _End(NamedTuple):
    """The end of the stream: the service closed with ``code`` (None: the link was dropped)."""

    code: int | None
    reason: str | None


class FakeClientWebSocket:
    """An in-memory ``aiohttp.ClientWebSocketResponse`` whose peer is a fake's :class:`ClientSession`.

    It is the session's link: ``write`` and ``end`` may come from any thread; they append to a buffer and
    wake the event loop. ``receive()`` hands frames out in order as ``aiohttp.WSMessage``, then ``CLOSE``
    with the service's code and reason, or ``CLOSED`` (no data) when the link was dropped or closed here.
    """

    def __init__(self, route: _Route, protocol: str | None) -> None:
        self._route = route
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._pending: deque[Outbound | _End] = deque()
        self._wakeup = asyncio.Event()
        self._waiting = False
        self._dead = False  # no more frames either way: ended by the service, dropped, or closed here
        self._closed = False
        self._close_code: int | None = None
        self._protocol = protocol
        self.service_session: ClientSession | None = None

    @classmethod
    def _connect(cls, route: _Route, url: str, offered: list[str], headers: dict[str, str]) -> FakeClientWebSocket:
        from ._fake import ConnectionRefused, RecoveryFailed

        protocol = next((name for name in offered if name in _protocol.PUBSUB_PROTOCOLS), None)
        authorization = next((value for key, value in headers.items() if key.lower() == "authorization"), None)
        ws = cls(route, protocol)
        route.add(ws)
        try:
            ws.service_session = route.fake.handshake(url, ws, protocol=protocol, authorization=authorization)
        except ConnectionRefused as refused:
            route.discard(ws)
            raise _handshake_error(url, headers, refused.status, str(refused)) from None
        except RecoveryFailed:
            pass  # accepted, then closed with 1008 by the service: receive() reports it
        return ws

    def __repr__(self) -> str:
        session = self.service_session
        connection = session.connection.connection_id if session is not None else None
        return f"<pytest_webpubsub FakeClientWebSocket {connection} {'closed' if self._closed else 'open'}>"

    # -- Link: called by the service, from any thread ---------------------------------------------------

    def write(self, item: Outbound) -> None:
        with self._lock:
            if self._dead:
                return
            self._pending.append(item)
        self._wake()

    def end(self, code: int, reason: str | None) -> None:
        self._finish(_End(code, reason))

    # -- aiohttp.ClientWebSocketResponse ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def protocol(self) -> str | None:
        return self._protocol

    def exception(self) -> BaseException | None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    async def receive(self, timeout: float | None = None) -> Any:
        import aiohttp

        if self._waiting:
            raise RuntimeError("Concurrent call to receive() is not allowed")
        while True:
            if self._closed:
                return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)
            with self._lock:
                item = self._pending.popleft() if self._pending else None
            if isinstance(item, _End):
                self._closed = True
                self._route.discard(self)
                if item.code is None:
                    self._close_code = _ABNORMAL_CLOSURE
                    return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)
                self._close_code = item.code
                return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSE, item.code, item.reason)
            if item is not None:
                frame = item.render(self._protocol)
                if isinstance(frame, bytes):
                    return aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, frame, None)
                return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, frame, None)
            self._wakeup.clear()
            if self._pending:
                continue
            self._waiting = True
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                self._close_code = _ABNORMAL_CLOSURE
                raise
            finally:
                self._waiting = False

    async def receive_str(self, *, timeout: float | None = None) -> str:
        import aiohttp

        msg = await self.receive(timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise TypeError(f"Received message {msg.type}:{msg.data!r} is not WSMsgType.TEXT")
        return msg.data  # type: ignore[no-any-return]

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        import aiohttp

        msg = await self.receive(timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise TypeError(f"Received message {msg.type}:{msg.data!r} is not WSMsgType.BINARY")
        return msg.data  # type: ignore[no-any-return]

    async def receive_json(self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None) -> Any:
        return loads(await self.receive_str(timeout=timeout))

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if not isinstance(data, str):
            raise TypeError("data argument must be str (%r)" % type(data))
        self._send(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data argument must be byte-ish (%r)" % type(data))
        self._send(bytes(data))

    async def send_json(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], str] = json.dumps
    ) -> None:
        await self.send_str(dumps(data), compress=compress)

    async def ping(self, message: bytes = b"") -> None:
        self._check_writable()

    async def pong(self, message: bytes = b"") -> None:
        self._check_writable()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Close from the client side: the service ends the connection at once (no recovery)."""
        with self._lock:
            if self._closed:
                return False
            ended = next((item for item in self._pending if isinstance(item, _End)), None)
            was_dead, self._dead, self._closed = self._dead, True, True
            self._pending.clear()
        self._close_code = ended.code if ended is not None and ended.code is not None else code
        self._route.discard(self)
        if not was_dead:
            self._detach(lambda session: session.close_from_client())
        self._wake()
        return True

    def __aiter__(self) -> FakeClientWebSocket:
        return self

    async def __anext__(self) -> Any:
        import aiohttp

        msg = await self.receive()
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg

    async def __aenter__(self) -> FakeClientWebSocket:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # -- internals --------------------------------------------------------------------------------------

    def _service_stopped(self) -> None:
        """The fake stopped: ``disconnected`` (PubSub protocols) and a 1008 close, so the SDK does not recover."""
        if _protocol.is_pubsub(self._protocol):
            self.write(Outbound(frame=_protocol.disconnected_frame(STOPPED_REASON)))
        self.end(CLOSE_POLICY_VIOLATION, STOPPED_REASON)

    def _drop(self) -> None:
        """The link died without a close handshake (its session was closed): a reliable connection waits."""
        if self._finish(_End(None, None)):
            self._detach(lambda session: session.drop())

    def _finish(self, end: _End) -> bool:
        """Queue the end of the stream after what was written; False if the stream had already ended."""
        with self._lock:
            if self._dead:
                return False
            self._dead = True
            self._pending.append(end)
        self._wake()
        return True

    def _detach(self, action: Callable[[ClientSession], None]) -> None:
        session = self.service_session
        if session is None:
            return
        with session.lock:
            if session.link is self:
                action(session)

    def _check_writable(self) -> None:
        if self._dead or self._closed:
            import aiohttp

            error = getattr(aiohttp, "ClientConnectionResetError", ConnectionResetError)
            raise error("Cannot write to closing transport")

    def _send(self, frame: str | bytes) -> None:
        self._check_writable()
        if self.service_session is not None:
            self.service_session.receive(frame)

    def _wake(self) -> None:
        """Wake ``receive()``; from another thread through the loop, never running SDK code here."""
        try:
            if threading.get_ident() == self._thread:
                self._wakeup.set()
            else:
                self._loop.call_soon_threadsafe(self._wakeup.set)
        except RuntimeError:
            pass  # the event loop is closed: nobody is left to read


def _handshake_error(url: str, headers: dict[str, str], status: int, message: str) -> Exception:
    """``aiohttp.WSServerHandshakeError``, as a refused upgrade raises it."""
    import aiohttp
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    request_info = aiohttp.RequestInfo(URL(url), "GET", CIMultiDictProxy(CIMultiDict(headers)), URL(url))
    return aiohttp.WSServerHandshakeError(request_info, (), status=status, message=message)
