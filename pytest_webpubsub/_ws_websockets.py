"""``websockets`` (asyncio and threading clients), offline: connections to a fake's host stay in memory.

* asyncio (``websockets.connect`` / ``websockets.asyncio.client.connect``, awaited, ``async with`` or ``async for``):
  ``connect`` is a class that apps import before any fake starts, so the seam patches the method where it does its
  I/O, ``connect.open_tcp_connection``. For a host an active fake owns it returns the library's own
  ``ClientConnection`` on a :class:`MemoryTransport` (an ``asyncio.Transport`` whose peer is a
  :class:`~._ws_wire.WireServer`): websockets keeps its upgrade, framing, close handshake, keepalive and exceptions
  (a refused token is its own ``InvalidStatus`` with status 401).
* threading (``websockets.sync.client.connect``): its connection waits on a real socket with ``selectors``, so the
  seam replaces the connection object instead (``reconnect.open_connection``, which ``connect`` calls): a
  :class:`FakeSyncConnection` drives websockets' own sans-I/O ``ClientProtocol`` against the same wire, so state,
  close codes and ``ConnectionClosedOK`` / ``ConnectionClosedError`` are the library's.

A ``*.webpubsub.azure.com`` host no fake owns fails at once like a DNS failure (``socket.gaierror``, an ``OSError``);
any other host gets the original method. The deprecated ``websockets.legacy`` client is not intercepted.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import types
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, Union

from websockets.asyncio import client as asyncio_client
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import CLOSED, OPEN, State
from websockets.sync import client as sync_client

from ._gateway import Gateway
from ._hosts import HOSTS, Seam
from ._ws_wire import WireRegistry, WireServer

Data = Union[str, bytes]


class HostNotFaked(socket.gaierror):
    """A ``*.webpubsub.azure.com`` host no active fake owns: the connection fails like a DNS failure."""


# -- asyncio --------------------------------------------------------------------------------------------------


class MemoryTransport(asyncio.Transport):
    """An ``asyncio.Transport`` whose peer is a fake service (see the module docstring).

    Everything the protocol receives is handed over on the event loop (``call_soon_threadsafe`` from other threads),
    never from inside ``write``, so the service may write from any thread while the loop waits in ``recv()``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, gateway: Gateway) -> None:
        super().__init__()
        self._loop = loop
        self._thread = threading.get_ident()
        self._protocol: Optional[asyncio.Protocol] = None
        self._lock = threading.Lock()
        self._scheduled = False
        self._paused = False
        self._closing = False
        self._lost = False
        self.wire = WireServer(url, gateway, self._wake)

    def __repr__(self) -> str:
        return f"<pytest_webpubsub MemoryTransport {self.wire!r}>"

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            host, _, port = self.wire.host.partition(":")
            return host, int(port or 443)
        if name == "sockname":
            return "127.0.0.1", 0
        return default

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        if not self._closing:
            self.wire.feed(bytes(data))

    def writelines(self, list_of_data: Iterable[Union[bytes, bytearray, memoryview]]) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass  # the half-close after a close handshake: the service closes its side anyway

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return 0, 0

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        pass

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return not self._paused

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._wake()

    def close(self) -> None:
        """The client closes its socket: without a finished close handshake the service sees the link drop."""
        if self._closing:
            return
        self._closing = True
        self.wire.lost()
        self._loop.call_soon(self._connection_lost)

    def abort(self) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        try:
            if threading.get_ident() == self._thread:
                self._loop.call_soon(self._deliver)
            else:
                self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:
            pass  # the event loop is closed: nobody is left to read

    def _deliver(self) -> None:
        with self._lock:
            self._scheduled = False
        if self._lost or self._paused or self._protocol is None:
            return
        data, ended = self.wire.take()
        if data:
            self._protocol.data_received(data)
        if ended:
            self._closing = True
            self._protocol.eof_received()
            self._connection_lost()

    def _connection_lost(self) -> None:
        if self._lost or self._protocol is None:
            return
        self._lost = True
        self._protocol.connection_lost(None)


# -- threading ------------------------------------------------------------------------------------------------


class FakeSyncConnection:
    """Stands in for ``websockets.sync.client.ClientConnection`` for a fake's host (see the module docstring).

    ``recv`` waits, bounded by its ``timeout``, for the service to write (from any thread); the protocol is only
    driven by the calling thread, under one lock that is never taken by the service's writes.
    """

    def __init__(self, url: str, gateway: Gateway, protocol: ClientProtocol, close_timeout: Optional[float]) -> None:
        self.protocol = protocol
        self.id = protocol.id
        self.logger = protocol.logger
        self.debug = protocol.debug
        self.request: Any = None
        self.response: Optional[Response] = None
        self.latency = 0.0
        self.close_timeout = close_timeout
        self.pending_legacy_warning = True
        self._mutex = threading.RLock()
        self._signal = threading.Condition()
        self._woken = False
        self._messages: deque[Data] = deque()
        self._fragments: list[bytes] = []
        self._fragment_opcode = Opcode.TEXT
        self._pings: dict[bytes, threading.Event] = {}
        self.wire = WireServer(url, gateway, self._wake)

    def __repr__(self) -> str:
        return f"<pytest_webpubsub FakeSyncConnection {self.wire!r}>"

    # -- the opening handshake -------------------------------------------------------------------------------

    def handshake(self, additional_headers: Any = None, user_agent_header: Optional[str] = USER_AGENT) -> None:
        """Send the upgrade request and read the response; raise websockets' handshake error if refused."""
        self.request = self.protocol.connect()
        if additional_headers is not None:
            self.request.headers.update(additional_headers)
        if user_agent_header is not None:
            self.request.headers.setdefault("User-Agent", user_agent_header)
        with self._mutex:
            self.protocol.send_request(self.request)
            self._settle()
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc

    def start_keepalive(self) -> None:
        """No keepalive: an in-memory peer never goes silent."""

    # -- ClientConnection --------------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.protocol.state

    @property
    def subprotocol(self) -> Any:
        return self.protocol.subprotocol

    @property
    def close_code(self) -> Optional[int]:
        return self.protocol.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self.protocol.close_reason

    @property
    def local_address(self) -> Any:
        return "127.0.0.1", 0

    @property
    def remote_address(self) -> Any:
        host, _, port = self.wire.host.partition(":")
        return host, int(port or 443)

    def __enter__(self) -> FakeSyncConnection:
        self.pending_legacy_warning = False
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __iter__(self) -> Any:
        from websockets.exceptions import ConnectionClosedOK

        self._maybe_warn()
        try:
            while True:
                yield self.recv()
        except ConnectionClosedOK:
            return

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message; ``ConnectionClosed`` once the connection is closed; ``TimeoutError`` after ``timeout``."""
        self._maybe_warn()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._mutex:
                self._settle()
                if self._messages:
                    return _decoded(self._messages.popleft(), decode)
                if self.protocol.state is CLOSED:
                    raise self.protocol.close_exc
            with self._signal:
                while not self._woken:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(f"timed out after {timeout} seconds")
                    self._signal.wait(remaining)
                self._woken = False

    def recv_streaming(self, decode: Optional[bool] = None) -> Any:
        """The next message, as one fragment (messages from the fake are never streamed in pieces)."""
        yield self.recv(decode=decode)

    def send(self, message: Any, text: Optional[bool] = None) -> None:
        """Send a text (``str``) or binary (bytes-like) message, or a fragmented one from an iterable."""
        self._maybe_warn()
        if isinstance(message, Mapping):
            raise TypeError("data is a dict-like object")
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            chunks: list[Any] = [message]
        elif isinstance(message, Iterable):
            chunks = list(message)
            if not chunks:
                return
        else:
            raise TypeError("data must be str, bytes, iterable, or iterator")
        encode = isinstance(chunks[0], str)
        if not all(isinstance(chunk, str) == encode for chunk in chunks) or not all(
            isinstance(chunk, (str, bytes, bytearray, memoryview)) for chunk in chunks
        ):
            raise TypeError("iterable must contain uniform types")
        payloads = [chunk.encode() if encode else bytes(chunk) for chunk in chunks]
        as_text = encode if text is None else text
        with self._mutex:
            self._settle()
            if self.protocol.state is not OPEN:
                self._raise_closed()
            for index, payload in enumerate(payloads):
                fin = index == len(payloads) - 1
                if index:
                    self.protocol.send_continuation(payload, fin=fin)
                elif as_text:
                    self.protocol.send_text(payload, fin=fin)
                else:
                    self.protocol.send_binary(payload, fin=fin)
            self._settle()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """The closing handshake; the service ends the connection at once (no recovery)."""
        with self._mutex:
            self._settle()
            if self.protocol.state is OPEN:
                self.protocol.send_close(code, reason)
                self._settle()
            if self.protocol.state is not CLOSED:  # the peer never answered: drop the link
                self.wire.lost()
                self.protocol.receive_eof()
                self._settle()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self.protocol.state is CLOSED

    def ping(self, data: Any = None, ack_on_close: bool = False) -> threading.Event:
        """Send a ping; the returned event is set when the pong arrives (at once, from an in-memory peer)."""
        self._maybe_warn()
        payload = data.encode() if isinstance(data, str) else bytes(data) if data is not None else _ping_id(self._pings)
        event = threading.Event()
        with self._mutex:
            if self.protocol.state is not OPEN:
                self._raise_closed()
            self._pings[payload] = event
            self.protocol.send_ping(payload)
            self._settle()
        return event

    def pong(self, data: Any = b"") -> None:
        self._maybe_warn()
        with self._mutex:
            if self.protocol.state is not OPEN:
                self._raise_closed()
            self.protocol.send_pong(data.encode() if isinstance(data, str) else bytes(data))
            self._settle()

    # -- internals ---------------------------------------------------------------------------------------------

    def _maybe_warn(self) -> None:
        """websockets ≥ 17.1 warns when a connection from ``connect()`` is used outside ``with`` (legacy use)."""
        maybe_warn = getattr(sync_client.ClientConnection, "maybe_raise_legacy_warning", None)
        if maybe_warn is not None and self.pending_legacy_warning:
            maybe_warn(self)

    def _raise_closed(self) -> None:
        self._settle()
        if self.protocol.state is not CLOSED:
            self.wire.lost()
            self.protocol.receive_eof()
        raise self.protocol.close_exc

    def _wake(self) -> None:
        with self._signal:
            self._woken = True
            self._signal.notify_all()

    def _settle(self) -> None:
        """With the mutex held: exchange bytes with the wire until neither side has anything more to say."""
        while True:
            for data in self.protocol.data_to_send():
                if data:
                    self.wire.feed(data)
            data, ended = self.wire.take()
            if not data and not (ended and self.protocol.state is not CLOSED):
                return
            if data:
                self.protocol.receive_data(data)
            if ended:
                self.protocol.receive_eof()
            for event in self.protocol.events_received():
                self._event(event)

    def _event(self, event: Any) -> None:
        if isinstance(event, Response):
            self.response = event
            return
        frame: Frame = event
        if frame.opcode is Opcode.PONG:
            waiter = self._pings.pop(bytes(frame.data), None)
            if waiter is not None:
                waiter.set()
        elif frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if frame.opcode is not Opcode.CONT:
                self._fragment_opcode = frame.opcode
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                payload, self._fragments = b"".join(self._fragments), []
                self._messages.append(payload.decode() if self._fragment_opcode is Opcode.TEXT else payload)


def _decoded(message: Data, decode: Optional[bool]) -> Data:
    if decode is True and isinstance(message, bytes):
        return message.decode()
    if decode is False and isinstance(message, str):
        return message.encode()
    return message


def _ping_id(pending: Mapping[bytes, Any]) -> bytes:
    while True:
        candidate = os.urandom(4)
        if candidate not in pending:
            return candidate


# -- the seam -------------------------------------------------------------------------------------------------


class WebsocketsSeam(Seam):
    """Patches ``connect.open_tcp_connection`` (asyncio) and ``reconnect.open_connection`` (threading)."""

    hint = "Open the URL from webpubsub.service_client(hub).get_client_access_token()"

    def __init__(self) -> None:
        self._originals: dict[str, Callable[..., Any]] = {}
        self.sockets = WireRegistry()

    def gateway_for(self, url: str) -> Optional[Gateway]:
        """The gateway owning ``url``'s host; raise a DNS-like error for an Azure host no fake owns; else None."""
        owner = HOSTS.owner(url)
        if owner is not None:
            return owner.gateway
        refusal = HOSTS.refuse(url, self.hint)
        if refusal is not None:
            raise HostNotFaked(socket.EAI_NONAME, refusal)
        return None

    async def open_tcp_connection(self, connecter: Any) -> Any:
        """``websockets.asyncio.client.connect.open_tcp_connection`` while patched."""
        gateway = None if connecter.create_connection_kwargs.get("unix") else self.gateway_for(connecter.uri)
        if gateway is None:
            return await self._originals["asyncio"](connecter)
        connection = connecter.factory(connecter.ws_uri)
        transport = MemoryTransport(asyncio.get_running_loop(), connecter.uri, gateway)
        self.sockets.add(transport.wire)
        transport.set_protocol(connection)
        connection.connection_made(transport)
        return connection

    def open_connection(self, connecter: Any, deadline: Any) -> Any:
        """``websockets.sync.client.reconnect.open_connection`` while patched."""
        gateway = None if connecter.open_socket_kwargs.get("unix") else self.gateway_for(connecter.uri)
        if gateway is None:
            return self._originals["sync"](connecter, deadline)
        protocol = ClientProtocol(connecter.ws_uri, **connecter.protocol_kwargs)
        close_timeout = connecter.connection_kwargs.get("close_timeout")
        connection = FakeSyncConnection(connecter.uri, gateway, protocol, close_timeout)
        self.sockets.add(connection.wire)
        connection.handshake(connecter.additional_headers, connecter.user_agent_header)
        return connection

    def release(self, host: str) -> None:
        """The fake is stopping: its connections still open get ``disconnected`` and a 1001 close."""
        self.sockets.stop(host)

    def refuse_unsupported(self, url: str) -> None:
        """On websockets < 16 (no in-memory seam): fail at once for a fake's or an Azure host, never the network."""
        if HOSTS.owner(url) is not None:
            raise HostNotFaked(
                socket.EAI_NONAME,
                f"pytest-webpubsub routes websockets >= 16 to the fake in memory; websockets {_VERSION} is installed "
                "(Python 3.9 cannot install 16): upgrade it, or connect with websocket-client or aiohttp",
            )
        refusal = HOSTS.refuse(url, self.hint)
        if refusal is not None:
            raise HostNotFaked(socket.EAI_NONAME, refusal)

    def install(self) -> None:
        self._originals = {}
        connect_class: Any = asyncio_client.connect
        if hasattr(connect_class, "open_tcp_connection"):
            self._originals["asyncio"] = connect_class.open_tcp_connection
            connect_class.open_tcp_connection = _patched_open_tcp_connection
        elif hasattr(connect_class, "create_connection"):  # websockets 14-15: guard only
            self._originals["asyncio-guard"] = connect_class.create_connection
            connect_class.create_connection = _guarded_create_connection
        reconnect_class = getattr(sync_client, "reconnect", None)
        if reconnect_class is not None and hasattr(reconnect_class, "open_connection"):
            self._originals["sync"] = reconnect_class.open_connection
            reconnect_class.open_connection = _patched_open_connection
        else:  # websockets 14-15: the sync client opens its socket through its module's `socket`
            self._originals["sync-guard"] = _SYNC_CLIENT.socket
            _SYNC_CLIENT.socket = _GuardedSocketModule(socket)

    def uninstall(self) -> None:
        connect_class: Any = asyncio_client.connect
        if "asyncio" in self._originals:
            connect_class.open_tcp_connection = self._originals["asyncio"]
        if "asyncio-guard" in self._originals:
            connect_class.create_connection = self._originals["asyncio-guard"]
        if "sync" in self._originals:
            _SYNC_CLIENT.reconnect.open_connection = self._originals["sync"]
        if "sync-guard" in self._originals:
            _SYNC_CLIENT.socket = self._originals["sync-guard"]
        self._originals = {}


SEAM = WebsocketsSeam()
_SYNC_CLIENT: Any = sync_client  # patched by name: its attributes differ between websockets versions
_VERSION = getattr(__import__("websockets"), "__version__", "?")


async def _guarded_create_connection(self: Any) -> Any:
    SEAM.refuse_unsupported(self.uri)
    return await SEAM._originals["asyncio-guard"](self)


class _GuardedSocketModule(types.ModuleType):
    """``socket`` for websockets < 16's sync client: ``create_connection`` refuses a fake's or an Azure host."""

    def __init__(self, real: types.ModuleType) -> None:
        super().__init__(real.__name__, real.__doc__)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        host, port = address[0], address[1]
        SEAM.refuse_unsupported(f"{'wss' if port == 443 else 'ws'}://{host}:{port}")
        return self._real.create_connection(address, *args, **kwargs)


async def _patched_open_tcp_connection(self: Any) -> Any:
    return await SEAM.open_tcp_connection(self)


def _patched_open_connection(self: Any, deadline: Any) -> Any:
    return SEAM.open_connection(self, deadline)
