"""``websocket-client`` (``import websocket``), offline: raw sockets and ``WebSocketApp`` reach the fake in memory.

``websocket.create_connection``, ``WebSocket().connect`` and ``WebSocketApp.run_forever`` all open their socket
through one function, the module global ``connect`` of ``websocket._core`` (looked up at call time).
:class:`WebsocketClientSeam` replaces it while any fake is active:

* a host an active fake owns gets an in-memory :class:`FakeSocket` whose peer is a :class:`~._ws_wire.WireServer`:
  websocket-client keeps its own upgrade request, subprotocol check, framing, close handshake and exceptions (a
  refused token is its own ``WebSocketBadStatusException`` with status 401);
* a ``*.webpubsub.azure.com`` host no fake owns fails at once like a DNS failure (``WebSocketAddressException``);
* any other host gets the original function: a real socket.

``WebSocketApp`` waits for data with ``selectors`` on the socket, which an in-memory socket cannot serve, so
``WebSocketApp.create_dispatcher`` is patched too: an app reading a :class:`FakeSocket` waits on it instead (same
loop, same callbacks, ``run_forever`` returns as soon as ``close()`` is called); any other socket keeps the
library's dispatcher. The official sync client SDK has its own seam (``_sdk_sync``) and never reaches these.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any, Callable, Optional, Union

import websocket
from websocket import _app, _url
from websocket import _core as _core_module_typed

from ._gateway import Gateway
from ._hosts import HOSTS, Seam
from ._ws_wire import WireRegistry, WireServer

_core_module: Any = _core_module_typed


class HostNotFaked(websocket.WebSocketAddressException):
    """A ``*.webpubsub.azure.com`` host no active fake owns: the connection fails like a DNS failure."""


class FakeSocket:
    """An in-memory stream socket whose peer is the fake service (the socket websocket-client reads and writes).

    ``recv`` blocks like a blocking socket (bounded by ``settimeout``), woken from any thread when the service writes.
    """

    def __init__(self, url: str, gateway: Gateway) -> None:
        self._cond = threading.Condition()
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._timeout: Optional[float] = None
        self.wire = WireServer(url, gateway, self._wake)

    def __repr__(self) -> str:
        return f"<pytest_webpubsub FakeSocket {self.wire!r}{' closed' if self._closed else ''}>"

    # -- socket.socket -------------------------------------------------------------------------------------

    def send(self, data: Union[bytes, bytearray, memoryview]) -> int:
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self._eof:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        self.wire.feed(bytes(data))
        return len(data)

    def sendall(self, data: Union[bytes, bytearray, memoryview]) -> None:
        self.send(data)

    def recv(self, bufsize: int) -> bytes:
        with self._cond:
            if not self._wait(self._timeout):
                if self._timeout == 0:
                    raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
                raise socket.timeout("timed out")
            if self._closed:
                raise OSError(errno.EBADF, "Bad file descriptor")
            chunk = bytes(self._buffer[:bufsize])
            del self._buffer[:bufsize]
            return chunk  # b"" at the end of the stream

    def wait_readable(self, timeout: Optional[float]) -> bool:
        """Like ``select`` for reading: True when ``recv`` would not block (data, end of stream, or closed)."""
        with self._cond:
            return self._wait(timeout)

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def setsockopt(self, *args: Any) -> None:
        pass

    def getpeername(self) -> tuple[str, int]:
        host, _, port = self.wire.host.partition(":")
        return host, int(port or 443)

    def getsockname(self) -> tuple[str, int]:
        return "127.0.0.1", 0

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket; without a finished close handshake the service sees the link drop."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self.wire.lost()

    # -- internals ---------------------------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _wait(self, timeout: Optional[float]) -> bool:
        """With the condition held: wait until readable or ``timeout`` passes; whether readable."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            data, ended = self.wire.take()
            self._buffer += data
            self._eof = self._eof or ended
            if self._buffer or self._eof or self._closed:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._cond.wait(remaining)


class _FakeSocketDispatcher:
    """``WebSocketApp``'s read loop for a :class:`FakeSocket` (the library's ``Dispatcher`` for any other socket)."""

    def __init__(self, app: Any, ping_timeout: float, fallback: Any) -> None:
        self.app = app
        self.ping_timeout = ping_timeout
        self._fallback = fallback

    def read(self, sock: Any, read_callback: Callable[[], bool], check_callback: Callable[[], Any]) -> None:
        if not isinstance(sock, FakeSocket):
            self._fallback.read(sock, read_callback, check_callback)
            return
        while self.app.keep_running:
            if sock.wait_readable(self.ping_timeout) and not read_callback():
                break
            check_callback()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


class WebsocketClientSeam(Seam):
    """Replaces ``websocket._core_module.connect`` and ``WebSocketApp.create_dispatcher`` while any fake is active."""

    hint = "Open the URL from webpubsub.service_client(hub).get_client_access_token()"

    def __init__(self) -> None:
        self._originals: dict[str, Any] = {}
        self.sockets = WireRegistry()

    def open(self, url: str, options: Any, proxy: Any, sock: Any) -> Any:
        """``websocket._core_module.connect`` while patched: an in-memory socket for a fake's host."""
        owner = HOSTS.owner(url)
        if owner is None:
            refusal = HOSTS.refuse(url, self.hint)
            if refusal is not None:
                raise HostNotFaked(refusal)
            return self._originals["connect"](url, options, proxy, sock)
        hostname, port, resource, _ = _url.parse_url(url)
        fake = FakeSocket(url, owner.gateway)
        fake.settimeout(options.timeout)
        self.sockets.add(fake.wire)
        return fake, (hostname, port, resource)

    def dispatcher(self, app: Any, ping_timeout: Any, dispatcher: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``WebSocketApp.create_dispatcher`` while patched."""
        original = self._originals["create_dispatcher"](app, ping_timeout, dispatcher, *args, **kwargs)
        if dispatcher or not HOSTS.active:  # the application's own dispatcher (rel, asyncio): left alone
            return original
        return _FakeSocketDispatcher(app, ping_timeout or 10, original)

    def release(self, host: str) -> None:
        """The fake is stopping: its sockets still open get ``disconnected`` and a 1001 close."""
        self.sockets.stop(host)

    def install(self) -> None:
        self._originals = {"connect": _core_module.connect, "create_dispatcher": _app.WebSocketApp.create_dispatcher}
        _core_module.connect = _patched_connect
        _app.WebSocketApp.create_dispatcher = _patched_create_dispatcher  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if not self._originals:
            return
        _core_module.connect = self._originals["connect"]
        _app.WebSocketApp.create_dispatcher = self._originals["create_dispatcher"]  # type: ignore[method-assign]
        self._originals = {}


SEAM = WebsocketClientSeam()


def _patched_connect(url: str, options: Any, proxy: Any, socket: Any) -> Any:
    return SEAM.open(url, options, proxy, socket)


def _patched_create_dispatcher(self: Any, ping_timeout: Any, dispatcher: Any = None, *args: Any, **kwargs: Any) -> Any:
    return SEAM.dispatcher(self, ping_timeout, dispatcher, *args, **kwargs)
