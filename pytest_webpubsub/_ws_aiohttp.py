"""aiohttp WebSockets, offline: ``ClientSession.ws_connect`` to a fake's host gives an in-memory socket.

:class:`FakeClientWebSocket` is an in-memory ``aiohttp.ClientWebSocketResponse`` whose peer is the fake's session of
the connection (message-level: aiohttp's upgrade runs deep in its connector, so the socket object is replaced, not
the bytes under it). It serves two seams:

* :class:`AiohttpSeam` (here) patches ``aiohttp.ClientSession._ws_connect``, the coroutine that ``ws_connect`` wraps
  in aiohttp's own ``_WSRequestContextManager``, so the result stays awaitable and an async context manager and
  any keyword argument a newer aiohttp adds passes through. A host an active fake owns gets a fake socket (a
  refused token raises ``aiohttp.WSServerHandshakeError`` with ``status`` 401); a ``*.webpubsub.azure.com`` host no
  fake owns fails at once with ``aiohttp.ClientConnectorError``; any other host is untouched.
* the aio client SDK's seam (``_sdk_async``), whose module shim builds the same sockets.

Threading: the service may write from any thread (REST calls, a sync client's reader thread). Writes only append to
the socket's buffer and wake the event loop with ``call_soon_threadsafe``; nothing here waits for the loop while
holding the fake's lock.
"""

from __future__ import annotations

import asyncio
import errno
import json
import threading
from collections import deque
from typing import Any, Callable, NamedTuple
from urllib.parse import urlsplit

from . import _protocol
from ._gateway import ConnectionRefused, Gateway
from ._hosts import HOSTS, Seam, normalise_host
from ._session import ClientSession, Outbound
from ._ws_wire import STOPPED_REASON

CLOSE_GOING_AWAY = 1001
_ABNORMAL_CLOSURE = 1006


class SocketRegistry:
    """The open fake sockets of one seam by host; a stopping fake ends them with ``stop_code``."""

    def __init__(self, stop_code: int) -> None:
        self.stop_code = stop_code
        self._lock = threading.Lock()
        self._sockets: dict[str, set[FakeClientWebSocket]] = {}

    def add(self, ws: FakeClientWebSocket) -> None:
        with self._lock:
            self._sockets.setdefault(ws.host, set()).add(ws)

    def discard(self, ws: FakeClientWebSocket) -> None:
        with self._lock:
            self._sockets.get(ws.host, set()).discard(ws)

    def stop(self, host: str) -> None:
        """End every socket of ``host`` still open, as the service going away."""
        with self._lock:
            sockets = self._sockets.pop(host, set())
        for ws in sockets:
            ws._service_stopped(self.stop_code)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(sockets) for sockets in self._sockets.values())


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

    def __init__(
        self, host: str, registry: SocketRegistry, *, decode_text: bool = True, receive_timeout: float | None = None
    ) -> None:
        self.host = host
        self._registry = registry
        self._decode_text = decode_text
        self._receive_timeout = receive_timeout
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._pending: deque[Outbound | _End] = deque()
        self._wakeup = asyncio.Event()
        self._waiting = False
        self._dead = False  # no more frames either way: ended by the service, dropped, or closed here
        self._closed = False
        self._close_code: int | None = None
        self._protocol: _protocol.ClientProtocol = _protocol.SIMPLE
        self.service_session: ClientSession | None = None

    @classmethod
    def _connect(
        cls,
        gateway: Gateway,
        url: str,
        offered: list[str],
        headers: dict[str, str],
        registry: SocketRegistry,
        **options: Any,
    ) -> FakeClientWebSocket:
        """Open a socket to ``gateway`` (the upgrade); a refusal raises ``aiohttp.WSServerHandshakeError``."""
        authorization = next((value for key, value in headers.items() if key.lower() == "authorization"), None)
        ws = cls(normalise_host(url), registry, **options)
        registry.add(ws)
        try:
            # A failed recovery is accepted, then closed with 1008 by the service: receive() reports it.
            ws.service_session, ws._protocol = gateway.handshake(url, ws, offered=offered, authorization=authorization)
        except ConnectionRefused as refused:
            registry.discard(ws)
            raise _handshake_error(url, headers, refused.status, str(refused)) from None
        return ws

    def __repr__(self) -> str:
        session = self.service_session
        connection = session.connection.connection_id if session is not None else None
        return f"<pytest_webpubsub FakeClientWebSocket {connection} {'closed' if self._closed else 'open'}>"

    # -- Link: called by the service, from any thread ---------------------------------------------------

    inbox = None
    """Link: no inbox, every item (data messages too) comes through :meth:`write`."""

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
        return self._protocol.name

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
                self._registry.discard(self)
                if item.code is None:
                    self._close_code = _ABNORMAL_CLOSURE
                    return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)
                self._close_code = item.code
                return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSE, item.code, item.reason)
            if item is not None:
                frame = item.render(self._protocol)
                if isinstance(frame, bytes):
                    return aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, frame, None)
                return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, frame if self._decode_text else frame.encode(), None)
            self._wakeup.clear()
            if self._pending:
                continue
            self._waiting = True
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout if timeout is not None else self._receive_timeout)
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
            raise TypeError(f"data argument must be str ({type(data)!r})")
        data.encode("utf-8")  # what aiohttp's writer does first: a lone surrogate raises UnicodeEncodeError here
        self._send(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
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
        self._registry.discard(self)
        if not was_dead:
            self._detach(lambda session: session.close_from_client(via=self))
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

    def _service_stopped(self, code: int) -> None:
        """The fake stopped: ``disconnected`` (PubSub protocols), then a close with ``code``."""
        disconnected = self._protocol.disconnected(STOPPED_REASON)
        if disconnected is not None:
            self.write(Outbound(frame=disconnected))
        self.end(code, STOPPED_REASON)

    def _drop(self) -> None:
        """The link died without a close handshake (its session was closed): a reliable connection waits."""
        if self._finish(_End(None, None)):
            self._detach(lambda session: session.drop(via=self))

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
        if session is not None:
            action(session)  # the session checks the link under its lock, and calls the app with no lock held

    def _check_writable(self) -> None:
        if self._dead or self._closed:
            import aiohttp

            error = getattr(aiohttp, "ClientConnectionResetError", ConnectionResetError)
            raise error("Cannot write to closing transport")

    def _send(self, frame: str | bytes) -> None:
        self._check_writable()
        if self.service_session is not None:
            self.service_session.receive(frame, via=self)

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


def gateway_for(url: str, hint: str) -> Gateway | None:
    """The gateway owning ``url``'s host; ``aiohttp.ClientConnectorError`` for an Azure host no fake owns (``hint``
    says what to do instead); None for any other host."""
    owner = HOSTS.owner(url)
    if owner is not None:
        return owner.gateway
    refusal = HOSTS.refuse(url, hint)
    if refusal is not None:
        raise _no_fake_error(urlsplit(url), refusal)
    return None


# -- the seam ------------------------------------------------------------------------------------------


class AiohttpSeam(Seam):
    """Patches ``aiohttp.ClientSession._ws_connect`` while any fake is active (see the module docstring)."""

    hint = "Open the URL from webpubsub.service_client(hub).get_client_access_token()"

    def __init__(self) -> None:
        self._original: Any = None
        self.sockets = SocketRegistry(CLOSE_GOING_AWAY)

    def gateway_for(self, url: str) -> Gateway | None:
        """The gateway owning ``url``'s host; raise a connection error for an Azure host no fake owns; else None."""
        return gateway_for(url, self.hint)

    async def ws_connect(self, session: Any, url: Any, **options: Any) -> Any:
        """``ClientSession._ws_connect`` while patched."""
        if not HOSTS.active:  # no fake: aiohttp's own, as if unpatched
            return await self._original(session, url, **options)
        from yarl import URL

        target = URL(url)
        if options.get("params") is not None:
            target = target.extend_query(options["params"])
        gateway = self.gateway_for(str(target))
        if gateway is None:
            return await self._original(session, url, **options)
        if session.closed:
            raise RuntimeError("Session is closed")
        headers = {**dict(session.headers), **dict(options.get("headers") or {})}
        return FakeClientWebSocket._connect(
            gateway,
            str(target),
            list(options.get("protocols") or ()),
            headers,
            self.sockets,
            decode_text=options.get("decode_text", True),
            receive_timeout=options.get("receive_timeout"),
        )

    def release(self, host: str) -> None:
        """The fake is stopping: its sockets still open get ``disconnected`` and a 1001 close."""
        self.sockets.stop(host)

    def install(self) -> None:
        import aiohttp

        self._original = aiohttp.ClientSession._ws_connect
        aiohttp.ClientSession._ws_connect = _patched_ws_connect  # type: ignore[method-assign]

    def uninstall(self) -> None:
        import aiohttp

        if self._original is not None:
            aiohttp.ClientSession._ws_connect = self._original  # type: ignore[method-assign]
        self._original = None


SEAM = AiohttpSeam()


async def _patched_ws_connect(self: Any, url: Any, **options: Any) -> Any:
    return await SEAM.ws_connect(self, url, **options)
