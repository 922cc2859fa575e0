"""The official sync client SDK (``azure.messaging.webpubsubclient.WebPubSubClient``), offline.

``WebPubSubClient._connect`` builds one ``WebSocketAppSync`` per connection, looking the class up in
``azure.messaging.webpubsubclient._client`` at call time, and runs its ``run_forever`` on a reader thread
(sdk-internals §3.1, §3.5). :class:`SyncClientSeam` replaces that module global while any fake is active, with
a router by URL host:

* a host owned by an active fake gets a :class:`FakeWebSocketAppSync`: an in-memory socket whose reader
  thread handshakes with the fake and pumps what the service writes into the SDK's callbacks;
* a ``*.webpubsub.azure.com`` host that no fake owns fails to open like a network error, at once;
* any other host gets the original class.

While patched, ``SendMessageErrorOptions`` (the SDK's per-message ack condition) gets a latched condition,
so an ack can never be lost between the sender's ``send`` and its ``wait`` (sdk-internals §3.6).
"""

from __future__ import annotations

import queue
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, NamedTuple, Optional, Union

import websocket
from azure.messaging.webpubsubclient import _client as sdk

from . import _protocol
from ._gateway import ConnectionRefused, Gateway
from ._hosts import HOSTS, Seam, normalise_host
from ._session import CLOSE_NORMAL, ClientSession, Outbound

CLOSE_GOING_AWAY = 1001
STOP_JOIN_SECONDS = 2.0
"""How long stopping a fake waits, in total, for the reader threads of its SDK clients to finish."""

_SDK: Any = sdk  # the SDK module, patched by name (it does not export what the seam replaces)
_BASE_APP = sdk.WebSocketAppSync
_BASE_ACK_OPTIONS: type = _SDK.SendMessageErrorOptions


class LatchedCondition(threading.Condition):
    """A condition whose notification is never lost: once notified, every ``wait`` returns True at once.

    The SDK starts its reader thread and only then waits; an in-memory peer can notify before that wait.
    """

    def __init__(self) -> None:
        super().__init__()
        self.notified = False

    def notify(self, n: int = 1) -> None:
        self.notified = True
        super().notify(n)

    def notify_all(self) -> None:
        self.notified = True
        super().notify_all()

    def wait(self, timeout: Optional[float] = None) -> bool:
        if self.notified:
            return True
        return super().wait(timeout)


class LatchedSendMessageErrorOptions(_BASE_ACK_OPTIONS):  # type: ignore[misc]
    """The SDK's per-message ack state, with a :class:`LatchedCondition`."""

    def __init__(self, ack_id: Optional[int] = None, error_detail: Any = None) -> None:
        super().__init__(ack_id, error_detail)
        self.cv = LatchedCondition()


class HostNotFaked(websocket.WebSocketAddressException):
    """A ``*.webpubsub.azure.com`` host no active fake owns: the connection fails like a DNS failure."""


class _End(NamedTuple):
    """The last item of a fake socket's queue: why the reader thread stops."""

    cause: str  # "server" (a close frame), "client" (the SDK closed), "lost" (the link dropped)
    code: Optional[int] = None
    reason: Optional[str] = None


class _QueueLink:
    """The session's side of one fake socket: everything goes into the reader thread's queue, never blocks."""

    def __init__(self, inbox: queue.Queue[Union[Outbound, _End]]) -> None:
        self._inbox = inbox

    inbox = None
    """Link: no inbox, every item (data messages too) comes through :meth:`write`."""

    def write(self, item: Outbound) -> None:
        self._inbox.put(item)

    def end(self, code: int, reason: Optional[str]) -> None:
        self._inbox.put(_End("server", code, reason))


class FakeSocket:
    """``ws.sock`` of a fake connection. ``close()`` simulates a dropped link, as ``ws.sock.close(1001)`` does.

    After ``close()`` sends fail at once; a reliable connection waits on the fake for recovery, a JSON one
    is gone; the reader thread then reports the close and the SDK recovers or reconnects.
    """

    close_frame = None

    def __init__(self, app: FakeWebSocketAppSync) -> None:
        self._app = app
        self.connected = True

    def send(self, payload: Union[str, bytes], opcode: int = websocket.ABNF.OPCODE_TEXT) -> int:
        if not self.connected:
            raise websocket.WebSocketConnectionClosedException("socket is already closed.")
        self._app._from_client(payload, opcode)
        return len(payload)

    def close(self, status: int = CLOSE_NORMAL, reason: bytes = b"", timeout: Optional[float] = 3) -> None:
        self._app._lose_link()

    def shutdown(self) -> None:
        self._app._lose_link()

    def ping(self, payload: Union[str, bytes] = "") -> None:
        if not self.connected:
            raise websocket.WebSocketConnectionClosedException("socket is already closed.")

    def pong(self, payload: Union[str, bytes] = "") -> None:
        self.ping(payload)


class FakeWebSocketAppSync(_BASE_APP):
    """An in-memory ``WebSocketAppSync``: ``run_forever`` (the SDK's reader thread) talks to a fake.

    Every SDK callback runs on the reader thread, in the order the service wrote, through websocket-client's
    ``_callback`` (so an exception in a callback becomes ``on_error``, as with a real socket).
    """

    def __init__(
        self,
        url: str,
        *args: Any,
        gateway: Optional[Gateway] = None,
        refusal: Optional[str] = None,
        registry: Optional[SyncClientSeam] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, *args, **kwargs)
        self.cv = LatchedCondition()
        self.gateway = gateway
        self._protocol: _protocol.ClientProtocol = _protocol.SIMPLE
        self.session: Optional[ClientSession] = None
        self.reader: Optional[threading.Thread] = None
        self._refusal = refusal
        self._registry = registry
        self._inbox: queue.Queue[Union[Outbound, _End]] = queue.Queue()
        self._link = _QueueLink(self._inbox)
        self._state_lock = threading.Lock()
        self._closing = False
        self._lost = False
        if registry is not None:
            registry.opened(self)

    def __repr__(self) -> str:
        state = "open" if self.sock else "closed"
        return f"<FakeWebSocketAppSync {self.host} {self.protocol} {state}>"

    @property
    def protocol(self) -> Optional[str]:
        """The subprotocol the service selected (None: none)."""
        return self._protocol.name

    @property
    def host(self) -> str:
        return normalise_host(self.url)

    # -- the reader thread -----------------------------------------------------------------------------

    def run_forever(self, *args: Any, **kwargs: Any) -> bool:
        self.reader = threading.current_thread()
        self.keep_running = True
        self.has_errored = False
        try:
            return self._run()
        finally:
            self.keep_running = False
            if self._registry is not None:
                self._registry.finished(self)

    def _run(self) -> bool:
        try:
            self._handshake()
        except Exception as failure:
            self.has_errored = True
            self._callback(self.on_error, failure)
            self._callback(self.on_close, None, None)
            return True
        with self._state_lock:
            closed_early = self._closing
            if not closed_early:
                self.sock = FakeSocket(self)  # type: ignore[assignment]
        if closed_early:
            # Closed while connecting: the handshake is abandoned, like a real socket closed mid-connect.
            self._with_own_session(lambda session: session.close_from_client(via=self._link))
            self.has_errored = True
            self._callback(self.on_error, _closed("Connection is already closed."))
            self._callback(self.on_close, None, None)
            return True
        self._callback(self.on_open)
        end = self._pump()
        with self._state_lock:
            sock, self.sock = self.sock, None
            if sock is not None:
                sock.connected = False
        if end.cause == "lost":
            self.has_errored = True
            self._callback(self.on_error, _closed("Connection to remote host was lost."))
            self._callback(self.on_close, None, None)
        elif end.cause == "server":
            self._callback(self.on_error, _closed_by_server(end.code, end.reason))
            self._callback(self.on_close, end.code, end.reason)
        else:
            self._callback(self.on_close, end.code, end.reason)
        return self.has_errored

    def _handshake(self) -> None:
        if self._refusal is not None or self.gateway is None:
            raise HostNotFaked(self._refusal or "no fake")
        offered = list(self.subprotocols or [])
        if offered and _protocol.select(offered).name is None:
            # The service selects none of them; websocket-client refuses a handshake without the header.
            raise websocket.WebSocketException("Invalid WebSocket Header")
        try:
            # A failed recovery is accepted, then closed with 1008: the end is already queued.
            self.session, self._protocol = self.gateway.handshake(self.url, self._link, offered=offered)
        except ConnectionRefused as refused:
            phrase = _phrase(refused.status)
            raise websocket.WebSocketBadStatusException(
                f"Handshake status {refused.status} {phrase} -+-+- {refused.reason}", refused.status, phrase
            ) from None

    def _pump(self) -> _End:
        while True:
            item = self._inbox.get()
            if isinstance(item, _End):
                return item
            if self._lost:
                continue  # frames still in flight when the link dropped never arrive
            frame = item.render(self._protocol)
            opcode = websocket.ABNF.OPCODE_BINARY if isinstance(frame, bytes) else websocket.ABNF.OPCODE_TEXT
            self._callback(self.on_data, frame, opcode, True)
            self._callback(self.on_message, frame)

    # -- what the SDK (or a test) does -------------------------------------------------------------------

    def send(self, data: Union[str, bytes], opcode: int = websocket.ABNF.OPCODE_TEXT) -> None:
        sock = self.sock
        if not sock:
            raise websocket.WebSocketConnectionClosedException("Connection is already closed.")
        sock.send(data, opcode)

    def close(self, **kwargs: Any) -> None:
        """The client closes: the connection ends at once (no recovery) and the reader reports code 1000."""
        self.keep_running = False
        if not self._take_sock():
            return
        self._with_own_session(lambda session: session.close_from_client(via=self._link))
        self._inbox.put(_End("client", CLOSE_NORMAL))

    def end_by_service(self, code: int, reason: str) -> None:
        """The fake service went away under this socket: the reader reports a close frame."""
        if not self._take_sock():
            return
        self._with_own_session(lambda session: session.drop(via=self._link))
        self._inbox.put(_End("server", code, reason))

    def _take_sock(self) -> bool:
        """Mark the socket closing and dead; False when it was already gone (nothing more to do)."""
        with self._state_lock:
            self._closing = True
            sock, self.sock = self.sock, None
            if sock is None:
                return False
            sock.connected = False
            return True

    def _from_client(self, payload: Union[str, bytes], opcode: int) -> None:
        if opcode == websocket.ABNF.OPCODE_BINARY and isinstance(payload, str):
            payload = payload.encode("utf-8")
        elif opcode == websocket.ABNF.OPCODE_TEXT and isinstance(payload, (bytes, bytearray)):
            payload = bytes(payload).decode("utf-8")
        self._with_own_session(lambda session: session.receive(payload, via=self._link))

    def _lose_link(self) -> None:
        with self._state_lock:
            if self._lost or self.sock is None:
                return
            self._lost = True
            sock, self.sock = self.sock, None
            sock.connected = False
        self._with_own_session(lambda session: session.drop(via=self._link))
        self._inbox.put(_End("lost"))

    def _with_own_session(self, action: Callable[[ClientSession], None]) -> None:
        """Run ``action`` only while this socket is the session's link (never on a recovered successor)."""
        session = self.session
        if session is not None:
            action(session)  # the session checks the link under its lock, and calls the app with no lock held


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _closed(message: str) -> websocket.WebSocketConnectionClosedException:
    return websocket.WebSocketConnectionClosedException(message)


def _closed_by_server(code: Optional[int], reason: Optional[str]) -> websocket.WebSocketConnectionClosedException:
    """What websocket-client passes to ``on_error`` when a close frame arrives."""
    message = "Connection closed normally (code 1000)" if code == CLOSE_NORMAL else f"Connection closed (code {code})"
    if reason:
        message = f"{message}: {reason}"
    error = websocket.WebSocketConnectionClosedException(message)
    error.status_code = code  # type: ignore[attr-defined]
    error.reason = reason  # type: ignore[attr-defined]
    return error


# -- the seam ------------------------------------------------------------------------------------------


class _RoutedWebSocketAppSync(_BASE_APP):
    """What ``_client.WebSocketAppSync`` is while patched: builds a fake socket or the original, by host."""

    def __new__(cls, url: str, *args: Any, **kwargs: Any) -> Any:
        return SEAM.build(url, *args, **kwargs)


class _RoutedSendMessageErrorOptions(LatchedSendMessageErrorOptions):
    """What ``_client.SendMessageErrorOptions`` is while patched: latched while a fake is active, else the SDK's own."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if not HOSTS.active:
            return _BASE_ACK_OPTIONS(*args, **kwargs)
        return super().__new__(cls)


class SyncClientSeam(Seam):
    """Replaces the sync client SDK's socket class and ack options while any fake is active."""

    hint = "Get the client URL from webpubsub.service_client(hub).get_client_access_token()"

    def __init__(self) -> None:
        self._stopping: set[str] = set()
        self._open: set[FakeWebSocketAppSync] = set()
        self._originals: dict[str, Any] = {}

    def build(self, url: str, *args: Any, **kwargs: Any) -> Any:
        if not HOSTS.active:  # no fake: the SDK's own socket, as if unpatched
            return self._originals.get("WebSocketAppSync", _BASE_APP)(url, *args, **kwargs)
        host = normalise_host(url)
        with HOSTS.lock:
            owner = HOSTS.owner(url)
            stopping = host in self._stopping
            original = self._originals.get("WebSocketAppSync", _BASE_APP)
            refusal = None if owner is not None else HOSTS.refuse(url, self.hint)
        if owner is not None and not stopping:
            return FakeWebSocketAppSync(url, *args, gateway=owner.gateway, registry=self, **kwargs)
        if owner is not None:
            refusal = f"pytest-webpubsub: the fake for {host!r} is stopping; it accepts no new connections."
        if refusal is None:
            return original(url, *args, **kwargs)
        return FakeWebSocketAppSync(url, *args, refusal=refusal, **kwargs)

    def opened(self, app: FakeWebSocketAppSync) -> None:
        with HOSTS.lock:
            self._open.add(app)

    def finished(self, app: FakeWebSocketAppSync) -> None:
        with HOSTS.lock:
            self._open.discard(app)

    def release(self, host: str) -> None:
        """Close the fake's SDK clients that are still open and wait for their reader threads."""
        with HOSTS.lock:
            self._stopping.add(host)
            sockets = [app for app in self._open if app.host == host]
        try:
            _shut_down(sockets)
        finally:
            with HOSTS.lock:
                self._stopping.discard(host)

    def install(self) -> None:
        self._originals = {
            "WebSocketAppSync": _SDK.WebSocketAppSync,
            "SendMessageErrorOptions": _SDK.SendMessageErrorOptions,
        }
        _SDK.WebSocketAppSync = _RoutedWebSocketAppSync
        _SDK.SendMessageErrorOptions = _RoutedSendMessageErrorOptions

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(_SDK, name, original)
        self._originals = {}


SEAM = SyncClientSeam()


def _shut_down(sockets: list[FakeWebSocketAppSync]) -> None:
    """Close the SDK clients of these sockets as the test should have, and let their reader threads finish."""
    clients = {id(client): client for client in map(_client_of, sockets) if client is not None}
    for client in clients.values():
        try:
            client.close()
        except Exception:
            pass
    for app in sockets:
        app.end_by_service(CLOSE_GOING_AWAY, "pytest-webpubsub: the fake service stopped.")
    deadline = time.monotonic() + STOP_JOIN_SECONDS
    for app in sockets:
        reader = app.reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(max(0.0, deadline - time.monotonic()))


def _client_of(app: FakeWebSocketAppSync) -> Any:
    """The ``WebPubSubClient`` whose ``_connect`` built ``app`` (its callbacks close over it), if any."""
    for callback in (app.on_open, app.on_close, app.on_message):
        for cell in getattr(callback, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, sdk.WebPubSubClient):
                return value
    return None
