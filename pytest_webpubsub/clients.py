"""Simulated client connections: what a WebSocket client of the fake service sees and does, in process.

A :class:`FakeClientConnection` is the link of one :class:`~._session.ClientSession`. It records what the
service wrote (``received`` data messages, exact ``frames``, ``acks``) and offers the client's actions:
join/leave a group, send to a group, send an event, acknowledge sequence ids, ping, close, and drop the
link without a close (to exercise reliable recovery).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import _protocol, _session
from ._core.model import DataType, Send
from ._session import ClientSession, Outbound, render


@dataclass(frozen=True)
class ReceivedMessage:
    """One data message as the client got it.

    ``data`` is ``str`` for text, the parsed value for JSON and ``bytes`` for binary. A simple WebSocket
    client has no JSON framing: it gets JSON as a text frame, so its ``data_type`` is the frame kind
    (``text`` or ``binary``) and its ``data`` the frame content. ``group`` is None for server messages.
    """

    data: Any
    data_type: DataType
    group: str | None
    from_user_id: str | None
    sequence_id: int | None = None


@dataclass(frozen=True)
class Ack:
    """The service's answer to a request that carried an ``ackId``.

    ``success`` is True, or False with ``error_name`` (``Forbidden``, ``Duplicate``, ``InternalServerError``...) and
    ``error_message`` as the service worded them.
    """

    ack_id: int
    success: bool
    error_name: str | None = None
    error_message: str | None = None


class FakeClientConnection:
    """A connected client of the fake service. Create it with ``FakeWebPubSub.connect()``.

    A reliable client acknowledges every message as it arrives (as the SDK does, sooner), unless made with
    ``auto_ack=False``.
    """

    def __init__(
        self,
        open_session: Callable[[FakeClientConnection], Optional[ClientSession]],
        recover: Callable[[ClientSession, FakeClientConnection], None],
        *,
        auto_ack: bool = True,
    ) -> None:
        self._lock = threading.Lock()  # what the service wrote may be read from any thread while it writes
        self._written: list[Outbound | Send] = []
        self.inbox: list[Outbound | Send] = self._written
        """Link: where fan-out appends the data messages of an unreliable connection (rendered when read)."""
        self._frames: list[_protocol.Frame] = []
        self._received: list[ReceivedMessage] = []
        self._acks: dict[int, Ack] = {}
        self._next_ack_id = 1
        self._auto_ack = auto_ack
        self._recover = recover
        self.close_code: int | None = None
        self._session: Optional[ClientSession] = None
        session = open_session(self)
        if session is None:
            raise RuntimeError("pytest-webpubsub: the connection was not opened")
        self._session = session

    def __repr__(self) -> str:
        if self._session is None:
            return "<FakeClientConnection (not connected)>"
        state = "open" if self.is_open else "closed"
        return f"<FakeClientConnection {self.connection_id} hub={self.hub!r} user={self.user_id!r} {state}>"

    @property
    def session(self) -> ClientSession:
        """The service side of this connection (internal: the protocol engine)."""
        if self._session is None:
            raise RuntimeError("pytest-webpubsub: this connection is still connecting")
        return self._session

    # -- identity and state ------------------------------------------------------------------------------

    @property
    def connection_id(self) -> str:
        return self.session.connection.connection_id

    @property
    def user_id(self) -> str | None:
        return self.session.connection.user_id

    @property
    def hub(self) -> str:
        return self.session.connection.hub

    @property
    def protocol(self) -> str | None:
        """The subprotocol the service selected (None: a simple WebSocket client)."""
        return self.session.protocol.name

    @property
    def groups(self) -> frozenset[str]:
        """The groups this connection is in now."""
        return frozenset(self.session.connection.groups)

    @property
    def is_open(self) -> bool:
        """Whether the service still has this connection (a dropped reliable one stays until it expires)."""
        return self.session.is_open

    @property
    def is_attached(self) -> bool:
        """Whether the link is up (False after ``drop()`` until ``recover()``, and after any close)."""
        return self.session.link is self

    @property
    def close_reason(self) -> str | None:
        return self.session.close_reason

    # -- what the service wrote ----------------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedMessage]:
        """The data messages received so far, in order (system frames and acks are not data)."""
        with self._lock:
            self._render()
            return list(self._received)

    @property
    def frames(self) -> list[_protocol.Frame]:
        """The exact frames the service wrote to this client, in order (``str`` text, ``bytes`` binary)."""
        with self._lock:
            self._render()
            return list(self._frames)

    @property
    def acks(self) -> dict[int, Ack]:
        """Every ack received, by ack id."""
        with self._lock:
            return dict(self._acks)

    def _render(self) -> None:
        """Render what was written since the last read (frames are built lazily: sends stay cheap)."""
        protocol = self.session.protocol
        for item in self._written[len(self._frames) :]:
            send: Send | None
            if isinstance(item, Send):  # a data message of an unreliable connection
                send, sequence_id = item, None
            else:
                send, sequence_id = item.send, item.sequence_id
            frame = render(item, protocol)
            self._frames.append(frame)
            if send is None:
                continue
            if protocol.framed:
                data, data_type = send.message.value, send.message.data_type
            else:
                data, data_type = frame, ("binary" if isinstance(frame, bytes) else "text")
            self._received.append(ReceivedMessage(data, data_type, send.group, send.from_user_id, sequence_id))

    # -- Link: called by the session -----------------------------------------------------------------------

    def write(self, item: Outbound) -> None:
        # No lock to append: list.append is atomic, and readers render a snapshot of the list under their lock.
        self._written.append(item)
        if item.send is not None:
            if item.sequence_id is not None and self._auto_ack and self._session is not None:
                self._session.receive(_protocol.sequence_ack_frame(item.sequence_id))
            return
        frame = json.loads(item.frame)  # system frames, acks and pongs: read them as a client would
        if frame["type"] == "ack":
            error = frame.get("error") or {}
            ack_id = frame["ackId"]
            with self._lock:
                self._acks[ack_id] = Ack(ack_id, frame["success"], error.get("name"), error.get("message"))

    def end(self, code: int, reason: str | None) -> None:
        self.close_code = code

    # -- client actions ------------------------------------------------------------------------------------

    def send_frame(self, frame: _protocol.Frame) -> None:
        """Send one raw WebSocket frame (``str`` text, ``bytes`` binary), as any client could."""
        if not self.is_attached:
            raise RuntimeError(f"{self!r} is not connected; it cannot send")
        self.session.receive(frame)

    def join_group(self, group: str, *, ack: bool = True, ack_id: int | None = None) -> Ack | None:
        """``joinGroup``; returns the ack (None with ``ack=False``)."""
        return self._request({"type": "joinGroup", "group": group}, ack, ack_id)

    def leave_group(self, group: str, *, ack: bool = True, ack_id: int | None = None) -> Ack | None:
        """``leaveGroup``; returns the ack (None with ``ack=False``)."""
        return self._request({"type": "leaveGroup", "group": group}, ack, ack_id)

    def send_to_group(
        self,
        group: str,
        data: Any,
        *,
        data_type: DataType | None = None,
        no_echo: bool = False,
        ack: bool = True,
        ack_id: int | None = None,
    ) -> Ack | None:
        """``sendToGroup``. ``data_type`` defaults to ``text`` for ``str``, ``binary`` for bytes, else ``json``."""
        request = {"type": "sendToGroup", "group": group, **_payload(data, data_type), "noEcho": no_echo}
        return self._request(request, ack, ack_id)

    def send_event(
        self,
        event: str,
        data: Any,
        *,
        data_type: DataType | None = None,
        ack: bool = True,
        ack_id: int | None = None,
    ) -> Ack | None:
        """``event``: a user event for the app's event handler."""
        return self._request({"type": "event", "event": event, **_payload(data, data_type)}, ack, ack_id)

    def sequence_ack(self, sequence_id: int | None = None) -> None:
        """``sequenceAck`` (reliable protocol): everything up to ``sequence_id`` (default: the last seen)."""
        if sequence_id is None:
            with self._lock:
                numbered = (item.sequence_id or 0 for item in self._written if isinstance(item, Outbound))
                sequence_id = max(numbered, default=0)
        self.send_frame(_protocol.sequence_ack_frame(sequence_id))

    def ping(self) -> None:
        self.send_frame('{"type":"ping"}')

    def close(self) -> None:
        """Close from the client side; the connection ends at once (no recovery)."""
        if self.is_open:
            self.close_code = _session.CLOSE_NORMAL
            self.session.close_from_client()

    def drop(self) -> None:
        """Lose the link without a close handshake: a reliable connection waits for ``recover()``."""
        if self.is_attached:
            self.session.drop()

    def recover(self) -> None:
        """Reconnect a dropped reliable connection with its connection id and reconnection token.

        Raises RuntimeError unless this is a dropped reliable connection, and ``RecoveryFailed`` (after a 1008
        close) when the service no longer has it.
        """
        session = self.session
        if not session.reliable or session.link is not None:
            raise RuntimeError(f"{self!r} is not a dropped reliable connection; nothing to recover")
        self._recover(session, self)

    def _request(self, request: dict[str, Any], ack: bool, ack_id: int | None) -> Ack | None:
        if ack and ack_id is None:
            ack_id = self._next_ack_id
            self._next_ack_id += 1
        if ack:
            request["ackId"] = ack_id
        self.send_frame(json.dumps(request, separators=(",", ":")))
        if ack_id is None:
            return None
        with self._lock:
            return self._acks.get(ack_id)


def _payload(data: Any, data_type: DataType | None) -> dict[str, Any]:
    if data_type is None:
        data_type = "binary" if isinstance(data, (bytes, bytearray)) else "text" if isinstance(data, str) else "json"
    if data_type == "binary":
        data = base64.b64encode(bytes(data)).decode("ascii")
    return {"dataType": data_type, "data": data}
