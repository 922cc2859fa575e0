"""Drivers that open raw WebSocket clients (websockets, websocket-client, aiohttp) the way apps do, behind one shape.

Every driver opens a client access URL with the library's own API and exposes ``send``, ``recv`` (bounded by a
timeout on a condition: it fails the test instead of hanging), ``close`` and how the connection ended. Async
libraries run on an event loop in a thread of their own, so the test thread can send REST messages while that
loop waits in ``recv()``: the case the seams must wake thread-safely.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, Optional, TypeVar, Union

import aiohttp
import pytest
import websocket
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync import client as sync_client
from websockets.typing import Subprotocol

HUB = "chat"
TIMEOUT = 5.0
JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"
PUBLISHER = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
Data = Union[str, bytes]
T = TypeVar("T")


class Closed(Exception):
    """The connection ended: ``code`` and ``reason`` of the service's close frame (None: no close frame)."""

    def __init__(self, code: Optional[int], reason: Optional[str]) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class LoopThread:
    """An event loop running in its own thread; ``run(coro)`` waits for the result (bounded by TIMEOUT)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(TIMEOUT)
        self.loop.close()


class Connection:
    """One open client connection, whatever the library."""

    subprotocol: Optional[str]

    def send(self, data: Data) -> None:
        raise NotImplementedError

    def recv(self) -> Data:
        """The next message; raises :class:`Closed` once the connection ended."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def recv_json(self) -> Any:
        data = self.recv()
        assert isinstance(data, str), data
        return json.loads(data)

    def send_json(self, value: Any) -> None:
        self.send(json.dumps(value))

    def closed(self) -> Closed:
        """Read until the end; return how it ended (messages still in flight are skipped)."""
        for _ in range(100):
            try:
                self.recv()
            except Closed as ended:
                return ended
        raise AssertionError("the connection did not end")


class Driver:
    """Opens connections with one library's API; ``refusal`` is the library's handshake error type."""

    name: str
    refusal: type[BaseException]
    network_error: type[BaseException]

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        raise NotImplementedError

    def status(self, error: BaseException) -> int:
        """The HTTP status of a refused handshake, read as the library exposes it."""
        raise NotImplementedError


# -- websockets (asyncio) ------------------------------------------------------------------------------------


class WebsocketsAsync(Driver):
    name = "websockets-asyncio"
    refusal = websockets.InvalidStatus
    network_error = OSError

    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        async def connect() -> Any:
            return await websockets.connect(url, subprotocols=_subprotocols(protocols), additional_headers=headers)

        return _WebsocketsAsyncConnection(self.loop, self.loop.run(connect()))

    def status(self, error: BaseException) -> int:
        assert isinstance(error, websockets.InvalidStatus)
        return error.response.status_code


class _WebsocketsAsyncConnection(Connection):
    def __init__(self, loop: LoopThread, ws: Any) -> None:
        self.loop, self.ws = loop, ws
        self.subprotocol = ws.subprotocol

    def send(self, data: Data) -> None:
        self.loop.run(self.ws.send(data))

    def recv(self) -> Data:
        try:
            data: Data = self.loop.run(self.ws.recv())
            return data
        except ConnectionClosed as closed:
            raise _closed(closed) from None

    def close(self) -> None:
        self.loop.run(self.ws.close())

    @property
    def close_code(self) -> Optional[int]:
        code: Optional[int] = self.ws.close_code
        return code


# -- websockets (threading) ----------------------------------------------------------------------------------


class WebsocketsSync(Driver):
    name = "websockets-sync"
    refusal = websockets.InvalidStatus
    network_error = OSError

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        ws = sync_client.connect(url, subprotocols=_subprotocols(protocols), additional_headers=headers, legacy=True)
        return _WebsocketsSyncConnection(ws)

    def status(self, error: BaseException) -> int:
        assert isinstance(error, websockets.InvalidStatus)
        return error.response.status_code


class _WebsocketsSyncConnection(Connection):
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.subprotocol = ws.subprotocol

    def send(self, data: Data) -> None:
        self.ws.send(data)

    def recv(self) -> Data:
        try:
            data: Data = self.ws.recv(timeout=TIMEOUT)
            return data
        except ConnectionClosed as closed:
            raise _closed(closed) from None

    def close(self) -> None:
        self.ws.close()

    @property
    def close_code(self) -> Optional[int]:
        code: Optional[int] = self.ws.close_code
        return code


def _subprotocols(protocols: Sequence[str]) -> Optional[list[Subprotocol]]:
    return [Subprotocol(name) for name in protocols] or None


def _closed(error: ConnectionClosed) -> Closed:
    return Closed(error.rcvd.code, error.rcvd.reason) if error.rcvd is not None else Closed(None, None)


# -- websocket-client ------------------------------------------------------------------------------------------


class WebsocketClient(Driver):
    name = "websocket-client"
    refusal = websocket.WebSocketBadStatusException
    network_error = websocket.WebSocketAddressException

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        ws = websocket.create_connection(url, subprotocols=list(protocols) or None, header=headers, timeout=TIMEOUT)
        return _WebsocketClientConnection(ws)

    def status(self, error: BaseException) -> int:
        assert isinstance(error, websocket.WebSocketBadStatusException)
        return int(error.status_code)


class _WebsocketClientConnection(Connection):
    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.subprotocol = ws.getsubprotocol()
        self.close_code: Optional[int] = None

    def send(self, data: Data) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def recv(self) -> Data:
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            raise Closed(None, None) from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            self.close_code = code
            raise Closed(code, data[2:].decode() or None)
        payload = bytes(data)
        return payload.decode() if opcode == websocket.ABNF.OPCODE_TEXT else payload

    def close(self) -> None:
        self.ws.close()
        self.close_code = 1000


class WebsocketApp(Driver):
    """websocket-client's ``WebSocketApp``: callbacks on the thread that runs ``run_forever``."""

    name = "websocket-app"
    refusal = websocket.WebSocketBadStatusException
    network_error = websocket.WebSocketAddressException

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        inbox: queue.Queue[Any] = queue.Queue()
        opened = object()
        app = websocket.WebSocketApp(
            url,
            header=headers,
            subprotocols=list(protocols) or None,
            on_open=lambda app: inbox.put(opened),
            on_message=lambda app, message: inbox.put(message),
            on_error=lambda app, error: inbox.put(error),
            on_close=lambda app, code, reason: inbox.put(Closed(code, reason)),
        )
        thread = threading.Thread(target=app.run_forever, name="websocket-app", daemon=True)
        thread.start()
        self.threads.append(thread)
        item = inbox.get(timeout=TIMEOUT)
        if item is not opened:  # on_error (the handshake failed), then on_close
            thread.join(TIMEOUT)
            raise item
        return _WebsocketAppConnection(app, inbox, thread)

    def status(self, error: BaseException) -> int:
        assert isinstance(error, websocket.WebSocketBadStatusException)
        return int(error.status_code)


class _WebsocketAppConnection(Connection):
    def __init__(self, app: websocket.WebSocketApp, inbox: queue.Queue[Any], thread: threading.Thread) -> None:
        self.app, self.inbox, self.thread = app, inbox, thread
        sock = app.sock
        self.subprotocol = sock.getsubprotocol() if sock is not None else None
        self.close_code: Optional[int] = None

    def send(self, data: Data) -> None:
        self.app.send(data, websocket.ABNF.OPCODE_BINARY if isinstance(data, bytes) else websocket.ABNF.OPCODE_TEXT)

    def recv(self) -> Data:
        while True:
            item = self.inbox.get(timeout=TIMEOUT)
            if isinstance(item, Closed):
                self.close_code = item.code
                raise item
            if isinstance(item, (str, bytes)):
                return item
            # on_error before on_close (a close frame is reported as an error first): skip to on_close

    def close(self) -> None:
        self.app.close()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "run_forever did not return after close()"
        self.close_code = 1000


# -- aiohttp -------------------------------------------------------------------------------------------------


class Aiohttp(Driver):
    name = "aiohttp"
    refusal = aiohttp.WSServerHandshakeError
    network_error = aiohttp.ClientConnectorError

    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop
        self.sessions: list[aiohttp.ClientSession] = []

    def open(self, url: str, protocols: Sequence[str] = (), headers: Optional[dict[str, str]] = None) -> Connection:
        async def connect() -> Any:
            session = aiohttp.ClientSession()
            self.sessions.append(session)
            return await session.ws_connect(url, protocols=list(protocols), headers=headers)

        return _AiohttpConnection(self.loop, self.loop.run(connect()))

    def status(self, error: BaseException) -> int:
        assert isinstance(error, aiohttp.WSServerHandshakeError)
        return error.status

    def close_sessions(self) -> None:
        async def close_all() -> None:
            for session in self.sessions:
                await session.close()

        self.loop.run(close_all())


class _AiohttpConnection(Connection):
    def __init__(self, loop: LoopThread, ws: Any) -> None:
        self.loop, self.ws = loop, ws
        self.subprotocol = ws.protocol

    def send(self, data: Data) -> None:
        self.loop.run(self.ws.send_bytes(data) if isinstance(data, bytes) else self.ws.send_str(data))

    def recv(self) -> Data:
        message = self.loop.run(self.ws.receive())
        if message.type == aiohttp.WSMsgType.CLOSE:
            raise Closed(message.data, message.extra or None)
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            raise Closed(None, None)
        data: Data = message.data
        return data

    def close(self) -> None:
        self.loop.run(self.ws.close())

    @property
    def close_code(self) -> Optional[int]:
        code: Optional[int] = self.ws.close_code
        return code


WEBSOCKETS_MAJOR = int(websockets.__version__.split(".")[0])
needs_websockets_16 = pytest.mark.skipif(
    WEBSOCKETS_MAJOR < 16, reason="the in-memory websockets seam needs websockets >= 16 (Python >= 3.10)"
)
"""websockets < 16 has no patch point for the in-memory socket; there the seam only refuses (see test_ws_websockets_old)."""

WEBSOCKET_CLIENT_VERSION = tuple(int(part) for part in websocket.__version__.split(".")[:3] if part.isdigit())
needs_app_close_frames = pytest.mark.skipif(
    WEBSOCKET_CLIENT_VERSION < (1, 9, 2),
    reason="websocket-client hands WebSocketApp's on_close the peer's close frame from 1.9.2 on (None, None before)",
)
