"""The service end of one raw WebSocket, spoken as bytes over an in-memory stream.

Raw WebSocket libraries (``websockets``' asyncio client, ``websocket-client``) keep their own HTTP upgrade, framing,
masking, close handshake and exceptions; only the socket under them is replaced. :class:`WireServer` is what they
talk to: it reads the upgrade request from the bytes the client writes, asks the fake's :class:`~._gateway.Gateway`
(token check, subprotocol selection, ``webpubsub_mode``, recovery) and answers ``101 Switching Protocols`` or the
refusal status; then it parses the client's masked frames (RFC 6455) into the connection's session and renders what
the service writes as unmasked server frames. It is the session's :class:`~._session.Link`.

It never does I/O and never blocks: output is appended to a buffer under a short lock and the adapter's ``wake``
callback (which may be called from any thread) tells the reading side there is something to take. Nothing here
calls into the session while holding that lock, so a session writing back (an ack) from inside ``receive`` is safe.

Protocol errors get the close codes of RFC 6455: a frame breaking the framing rules closes with 1002, a text frame
that is not UTF-8 with 1007; a client close is echoed with its code, then the server ends the stream.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
from http import HTTPStatus
from typing import Callable, NamedTuple, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from ._gateway import ConnectionRefused, Gateway
from ._hosts import normalise_host
from ._protocol import ClientProtocol, Frame
from ._session import ClientSession, Outbound

CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
STOPPED_REASON = "pytest-webpubsub: the fake service was stopped."
MAX_REQUEST_HEAD = 64 * 1024
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame as a server sends it."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def close_payload(code: int, reason: Optional[str]) -> bytes:
    """The body of a close frame: the code and a UTF-8 reason cut to the 123 bytes a control frame allows."""
    encoded = (reason or "").encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack("!H", code) + encoded


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
        self._lock = threading.Lock()
        self._inbound = bytearray()
        self._out = bytearray()
        self._held: list[Union[Outbound, _Close]] = []  # written while the upgrade was being answered
        self._state = "upgrade"  # upgrade -> open -> closing (close sent) -> ended (stream closed)
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
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
            self._inbound += data
        if self._state == "upgrade":
            self._upgrade()
        while self._state in ("open", "closing"):
            with self._lock:
                frame = _next_frame(self._inbound)
            if frame is None:
                return
            self._handle(*frame)

    def lost(self) -> None:
        """The client's side of the stream went away without a close handshake (an abort, a dropped link)."""
        self._own_session(lambda session: session.drop())
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

    def write(self, item: Outbound) -> None:
        with self._lock:
            if self._state == "upgrade":  # rendered once the handshake says which protocol it is
                self._held.append(item)
                return
            if self._state != "open" or self.protocol is None:
                return
            self._out += _data_frame(item.render(self.protocol))
        self._wake()

    def end(self, code: int, reason: Optional[str]) -> None:
        with self._lock:
            if self._state == "upgrade":
                self._held.append(_Close(code, reason))
                return
            if self._state != "open":
                return
            self._state = "closing"
            self._out += server_frame(_CLOSE, close_payload(code, reason))
        self._wake()

    # -- internals ----------------------------------------------------------------------------------------

    def _upgrade(self) -> None:
        with self._lock:
            end = self._inbound.find(b"\r\n\r\n")
            too_large = end < 0 and len(self._inbound) > MAX_REQUEST_HEAD
        if end < 0:
            if too_large:
                self._respond(431, "Request header fields too large.")
            return
        with self._lock:
            head = bytes(self._inbound[:end]).decode("latin-1")
            del self._inbound[: end + 4]
        target, headers = _parse_request(head)
        key = headers.get("sec-websocket-key")
        if target is None or key is None or headers.get("upgrade", "").lower() != "websocket":
            self._respond(400, "Not a WebSocket upgrade request.")
            return
        offered = [name.strip() for name in headers.get("sec-websocket-protocol", "").split(",") if name.strip()]
        url = urlunsplit((*self._origin, *urlsplit(target)[2:4], ""))
        try:
            self.session, self.protocol = self._gateway.handshake(
                url, self, offered=offered, authorization=headers.get("authorization")
            )
        except ConnectionRefused as refused:
            self._respond(refused.status, refused.reason)
            return
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(key)}",
        ]
        if self.protocol.name is not None:
            lines.append(f"Sec-WebSocket-Protocol: {self.protocol.name}")
        response = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        with self._lock:
            self.status = 101
            self._out += response
            held, self._held = self._held, []
            self._state = "open"
            for item in held:
                if isinstance(item, _Close):  # nothing may follow a close frame
                    self._state = "closing"
                    self._out += server_frame(_CLOSE, close_payload(item.code, item.reason))
                    break
                self._out += _data_frame(item.render(self.protocol))
        self._wake()

    def _respond(self, status: int, reason: str) -> None:
        """Refuse the upgrade with ``status`` (the reason as a text body), then end the stream."""
        body = reason.encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {_phrase(status)}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with self._lock:
            self.status = status
            self._out += head.encode("latin-1") + body
        self._finish()

    def _handle(self, opcode: int, fin: bool, payload: bytes, error: int) -> None:
        if error:
            self._fail(error, "Invalid WebSocket frame.")
            return
        if opcode == _CLOSE:
            self._closed_by_client(payload)
        elif opcode == _PING:
            with self._lock:
                if self._state == "open":
                    self._out += server_frame(_PONG, payload)
            self._wake()
        elif opcode == _PONG:
            pass
        elif opcode == _CONTINUATION and not self._fragments:
            self._fail(CLOSE_PROTOCOL_ERROR, "Continuation frame without a message to continue.")
        elif opcode != _CONTINUATION and self._fragments:
            self._fail(CLOSE_PROTOCOL_ERROR, "New message before the fragmented one ended.")
        else:
            if opcode != _CONTINUATION:
                self._fragment_opcode = opcode
            self._fragments.append(payload)
            if fin:
                data, self._fragments = b"".join(self._fragments), []
                self._message(self._fragment_opcode, data)

    def _message(self, opcode: int, data: bytes) -> None:
        if self._state != "open":
            return  # after our close, data frames are discarded (RFC 6455 §5.5.1)
        frame: Frame
        if opcode == _TEXT:
            try:
                frame = data.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(CLOSE_INVALID_DATA, "Invalid UTF-8 in a text frame.")
                return
        else:
            frame = data
        session = self.session
        if session is not None:
            session.receive(frame)

    def _closed_by_client(self, payload: bytes) -> None:
        with self._lock:
            state = self._state
            if state == "open":  # the client starts the close: echo its code, as servers do
                self._out += server_frame(_CLOSE, payload[:2])
        if state == "open":
            self._own_session(lambda session: session.close_from_client())
        self._finish()

    def _fail(self, code: int, reason: str) -> None:
        """A protocol error from the client: the connection ends and the server closes with ``code``."""
        self._own_session(lambda session: session.close_from_client())
        with self._lock:
            if self._state == "open":
                self._out += server_frame(_CLOSE, close_payload(code, reason))
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            if self._state == "ended":
                return
            self._state = "ended"
            self._inbound.clear()
        on_end = self.on_end
        if on_end is not None:
            on_end(self)
        self._wake()

    def _own_session(self, action: Callable[[ClientSession], None]) -> None:
        """Run ``action`` only while this stream is the session's link (never on a recovered successor)."""
        session = self.session
        if session is None:
            return
        with session.lock:
            if session.link is self and session.is_open:
                action(session)


class _Close(NamedTuple):
    """A close the service asked for while the upgrade was still being answered."""

    code: int
    reason: Optional[str]


def _data_frame(frame: Frame) -> bytes:
    if isinstance(frame, bytes):
        return server_frame(_BINARY, frame)
    return server_frame(_TEXT, frame.encode("utf-8"))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _parse_request(head: str) -> tuple[Optional[str], dict[str, str]]:
    """The request target of ``GET <target> HTTP/1.1`` and the headers (lower-case names), or None for a bad line."""
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    target = parts[1] if len(parts) == 3 and parts[0] == "GET" and parts[2].startswith("HTTP/1.") else None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if target is not None and not target.startswith("/"):
        target = urlunsplit(("", "", *urlsplit(target)[2:4], "")) or "/"
    return target, headers


def _next_frame(buffer: bytearray) -> Optional[tuple[int, bool, bytes, int]]:
    """Take one complete client frame off ``buffer``: (opcode, fin, unmasked payload, close code of an error or 0).

    None while the frame is incomplete. A frame breaking RFC 6455's rules for a client is reported with 1002.
    """
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    fin, rsv, opcode = bool(first & 0x80), first & 0x70, first & 0x0F
    masked, size = bool(second & 0x80), second & 0x7F
    offset = 2
    if size == 126:
        if len(buffer) < 4:
            return None
        size, offset = struct.unpack_from("!H", buffer, 2)[0], 4
    elif size == 127:
        if len(buffer) < 10:
            return None
        size, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
    control = opcode >= 0x8
    if (
        rsv
        or not masked
        or opcode not in (_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG)
        or (control and (not fin or size > 125))
    ):
        buffer.clear()
        return opcode, fin, b"", CLOSE_PROTOCOL_ERROR
    if len(buffer) < offset + 4 + size:
        return None
    mask = bytes(buffer[offset : offset + 4])
    start = offset + 4
    payload = bytes(buffer[start : start + size])
    del buffer[: start + size]
    if size:
        repeated = (mask * (size // 4 + 1))[:size]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")
    if opcode == _CLOSE and size == 1:
        return opcode, fin, b"", CLOSE_PROTOCOL_ERROR
    return opcode, fin, payload, 0


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
