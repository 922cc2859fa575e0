"""The service end of one raw WebSocket, spoken as bytes over an in-memory stream.

Raw WebSocket libraries (``websockets``' asyncio client, ``websocket-client``) keep their own HTTP upgrade, framing,
masking, close handshake and exceptions; only the socket under them is replaced. :class:`WireServer` is what they
talk to. The server side of the protocol (RFC 6455: the upgrade, framing, masking, fragments, ping/pong, the close
handshake, UTF-8 checks) is wsproto's, a sans-I/O implementation; this module only connects it to the fake: the
upgrade asks the fake's :class:`~._gateway.Gateway` (token check, subprotocol selection, ``webpubsub_mode``,
recovery) and answers ``101 Switching Protocols`` or the refusal status with the reason as the body; complete
messages go to the connection's session, and what the service writes is sent as server frames. It is the session's
:class:`~._session.Link`.

It never does I/O and never blocks: output is appended to a buffer under a short lock and the adapter's ``wake``
callback (which may be called from any thread) tells the reading side there is something to take. Nothing here
calls into the session while holding that lock, so a session writing back (an ack) from inside ``receive`` is safe.

Protocol errors get the close codes of RFC 6455: a frame breaking the framing rules closes with 1002, a text frame
that is not UTF-8 with 1007; a client close is echoed with its code, then the server ends the stream.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from typing import Callable, NamedTuple, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from ._gateway import ConnectionRefused, Gateway
from ._hosts import normalise_host
from ._protocol import ClientProtocol, Frame
from ._session import ClientSession, Outbound

CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
STOPPED_REASON = "pytest-webpubsub: the fake service was stopped."
_FAILURE_REASONS = {CLOSE_INVALID_DATA: "Invalid UTF-8 in a text frame."}
"""Our words for the protocol errors wsproto reports (any other code: "Invalid WebSocket frame.")."""


class WireServer:
    """The service side of one in-memory WebSocket (see the module docstring).

    ``url`` is the URL the client opened (its scheme and host; the path and query are read from the request
    line). ``wake`` is called, from any thread, whenever :meth:`take` has something new or the stream ended.
    """

    def __init__(self, url: str, gateway: Gateway, wake: Callable[[], None]) -> None:
        parts = urlsplit(url)
        self.host = normalise_host(url)
        self._origin = (parts.scheme, parts.netloc)
        self._gateway = gateway
        self._wake = wake
        self._lock = threading.Lock()  # guards the wsproto connection, the output buffer and the state
        self._ws = WSConnection(ConnectionType.SERVER)
        self._out = bytearray()
        self._held: list[Union[Outbound, _Close]] = []  # written while the upgrade was being answered
        self._state = "upgrade"  # upgrade -> open -> closing (close sent) -> ended (stream closed)
        self._text: list[str] = []  # the frames of a fragmented text message so far
        self._binary: list[bytes] = []  # the frames of a fragmented binary message so far
        self.session: Optional[ClientSession] = None
        self.protocol: Optional[ClientProtocol] = None
        self.status: Optional[int] = None
        """The status the upgrade was answered with (101, or the refusal)."""
        self.on_end: Optional[Callable[[WireServer], None]] = None
        """Called once when the stream ends (for the seam's registry of open sockets)."""

    def __repr__(self) -> str:
        session = self.session
        connection = session.connection.connection_id if session is not None else None
        return f"<pytest_webpubsub WireServer {self.host} {connection} {self._state}>"

    @property
    def ended(self) -> bool:
        """The server closed the stream."""
        return self._state == "ended"

    # -- the client side: bytes in, bytes out -----------------------------------------------------------

    def take(self) -> tuple[bytes, bool]:
        """Everything the server wrote since the last call (may be empty), and whether the stream then ended."""
        with self._lock:
            data = bytes(self._out)
            self._out.clear()
            return data, self._state == "ended"

    def feed(self, data: bytes) -> None:
        """Bytes the client wrote. Requests and frames are handled as soon as they are complete."""
        with self._lock:
            if self._state == "ended":
                return
            try:
                self._ws.receive_data(data)
            except RemoteProtocolError as error:  # not a WebSocket upgrade request (h11 says why: 400, or 431)
                refusal = getattr(error.__context__, "error_status_hint", 400)
                bad_request = True
            else:
                bad_request = False
            events = list(self._ws.events()) if not bad_request else []
        if bad_request:
            self._respond(refusal, "Not a WebSocket upgrade request.")
            return
        for event in events:  # outside the lock: a session may write back while it handles a message
            self._handle(event)

    def lost(self) -> None:
        """The client's side of the stream went away without a close handshake (an abort, a dropped link)."""
        self._own_session(lambda session: session.drop(via=self))
        self._finish()

    def stop(self) -> None:
        """The fake is stopping: ``disconnected`` for PubSub clients, then a 1001 close."""
        protocol = self.protocol
        if protocol is not None and self._state in ("open", "upgrade"):
            disconnected = protocol.disconnected(STOPPED_REASON)
            if disconnected is not None:
                self.write(Outbound(frame=disconnected))
        self.end(CLOSE_GOING_AWAY, STOPPED_REASON)

    # -- Link: the service writes (any thread) ----------------------------------------------------------

    inbox = None
    """Link: no inbox, every item (data messages too) comes through :meth:`write`."""

    def write(self, item: Outbound) -> None:
        with self._lock:
            if self._state == "upgrade":  # rendered once the handshake says which protocol it is
                self._held.append(item)
                return
            if self._state != "open" or self.protocol is None:
                return
            self._out += self._ws.send(_message(item.render(self.protocol)))
        self._wake()

    def end(self, code: int, reason: Optional[str]) -> None:
        with self._lock:
            if self._state == "upgrade":
                self._held.append(_Close(code, reason))
                return
            if self._state != "open":
                return
            self._close(code, reason)
        self._wake()

    # -- internals ----------------------------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        if isinstance(event, Request):
            self._upgrade(event)
        elif isinstance(event, TextMessage):
            self._text.append(event.data)
            if event.message_finished:
                text, self._text = "".join(self._text), []
                self._message(text)
        elif isinstance(event, BytesMessage):
            self._binary.append(bytes(event.data))
            if event.message_finished:
                data, self._binary = b"".join(self._binary), []
                self._message(data)
        elif isinstance(event, Ping):
            with self._lock:
                if self._state == "open":
                    self._out += self._ws.send(event.response())
            self._wake()
        elif isinstance(event, CloseConnection):
            self._closed(event)

    def _upgrade(self, request: Request) -> None:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.extra_headers}
        url = urlunsplit((*self._origin, *urlsplit(request.target)[2:4], ""))
        try:
            self.session, self.protocol = self._gateway.handshake(
                url, self, offered=list(request.subprotocols), authorization=headers.get("authorization")
            )
        except ConnectionRefused as refused:
            self._respond(refused.status, refused.reason)
            return
        with self._lock:
            self.status = 101
            self._out += self._ws.send(AcceptConnection(subprotocol=self.protocol.name))
            held, self._held = self._held, []
            self._state = "open"
            for item in held:
                if isinstance(item, _Close):  # nothing may follow a close frame
                    self._close(item.code, item.reason)
                    break
                self._out += self._ws.send(_message(item.render(self.protocol)))
        self._wake()

    def _respond(self, status: int, reason: str) -> None:
        """Refuse the upgrade with ``status`` (the reason as a text body), then end the stream."""
        body = reason.encode("utf-8")
        headers = [
            (b"Content-Type", b"text/plain; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode("ascii")),
            (b"Connection", b"close"),
        ]
        with self._lock:
            self.status = status
            if self._ws.state is ConnectionState.CONNECTING:
                self._out += self._ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
                self._out += self._ws.send(RejectData(data=body))
            else:  # the request itself was unreadable: answer by hand, wsproto has nothing to reply to
                head = f"HTTP/1.1 {status} {_phrase(status)}\r\n" + "".join(
                    f"{name.decode()}: {value.decode()}\r\n" for name, value in headers
                )
                self._out += (head + "\r\n").encode("latin-1") + body
        self._finish()

    def _message(self, frame: Frame) -> None:
        if self._state != "open":
            return  # after our close, data frames are discarded (RFC 6455 §5.5.1)
        session = self.session
        if session is not None:
            session.receive(frame, via=self)

    def _closed(self, event: CloseConnection) -> None:
        """A close frame from the client, or wsproto reporting a protocol error as a close it wants sent."""
        with self._lock:
            state = self._state
            by_client = self._ws.state is ConnectionState.REMOTE_CLOSING
            if state == "open":
                if by_client:  # the client starts the close: echo its code, as servers do
                    self._out += self._ws.send(CloseConnection(code=event.code))
                else:
                    reason = _FAILURE_REASONS.get(event.code, "Invalid WebSocket frame.")
                    self._close(event.code, reason)
        if state == "open":
            self._own_session(lambda session: session.close_from_client(via=self))
        self._finish()

    def _close(self, code: int, reason: Optional[str]) -> None:
        """Send a close frame (with the lock held)."""
        self._state = "closing"
        self._out += self._ws.send(CloseConnection(code=code, reason=reason))

    def _finish(self) -> None:
        with self._lock:
            if self._state == "ended":
                return
            self._state = "ended"
        on_end = self.on_end
        if on_end is not None:
            on_end(self)
        self._wake()

    def _own_session(self, action: Callable[[ClientSession], None]) -> None:
        """Run ``action`` only while this stream is the session's link (never on a recovered successor)."""
        session = self.session
        if session is not None:
            action(session)  # the session checks the link under its lock, and calls the app with no lock held


class _Close(NamedTuple):
    """A close the service asked for while the upgrade was still being answered."""

    code: int
    reason: Optional[str]


def _message(frame: Frame) -> Union[TextMessage, BytesMessage]:
    return BytesMessage(data=frame) if isinstance(frame, bytes) else TextMessage(data=frame)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class WireRegistry:
    """The open in-memory sockets of one seam, by host, so that a stopping fake can close what is left open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, set[WireServer]] = {}

    def add(self, wire: WireServer) -> None:
        """Track ``wire`` until its stream ends."""
        wire.on_end = self._discard
        with self._lock:
            self._open.setdefault(wire.host, set()).add(wire)

    def stop(self, host: str) -> None:
        """End every socket of ``host`` still open, as the service going away (``disconnected``, then 1001)."""
        with self._lock:
            wires = self._open.pop(host, set())
        for wire in wires:
            wire.stop()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(wires) for wires in self._open.values())

    def _discard(self, wire: WireServer) -> None:
        with self._lock:
            self._open.get(wire.host, set()).discard(wire)
