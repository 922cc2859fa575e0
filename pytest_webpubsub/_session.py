"""The service side of one client WebSocket: the protocol engine between a link and the state machine.

A :class:`ClientSession` is the :class:`~._core.service.Endpoint` of one connection. It turns the frames a
client sends into service calls (with permission checks, acks and duplicate detection) and everything the
service writes into :class:`Outbound` items for the link (a data message to an unreliable connection goes as the
bare shared :class:`~._core.model.Send`): the simulated client records them, an SDK adapter renders and queues them
for its reader thread. It never does I/O and never blocks.

The subprotocol is an object chosen once at the handshake (:mod:`._protocol`): it parses the client's frames and
renders the service's writes. Simple WebSocket clients run in ``sendEvent`` or ``sendToGroup`` mode; the reliable
protocol adds sequence ids, a cumulative ``sequenceAck`` and a buffer of unacknowledged messages replayed on
recovery (docs/service-behaviour.md §5).

User events go to the app's event handler through the fake's :class:`~._upstream.Upstream`: the frame is parsed
and checked under the service lock, the app is called with no lock held (it may call the service back from any
thread), then its reply and the ack are written under the lock again. A per-session lock keeps one connection's
frames in order. ``sequenceAck`` and ``ping`` bypass it: a delivery (and so a reliable client's acknowledgement) may
happen on another thread while the session waits for the app.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from typing import Any, Callable, NamedTuple, Optional, Protocol

from . import _protocol
from ._core import names
from ._core.errors import BadRequestError, ForbiddenError
from ._core.model import Message, Send
from ._core.service import Connection, WebPubSubService
from ._protocol import ClientProtocol
from ._upstream import ConnectionInfo, Upstream, UserEventResult

CLOSE_NORMAL = 1000
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_INTERNAL_ERROR = 1011
RELIABLE_BUFFER_MESSAGES = 1000
RELIABLE_BUFFER_BYTES = 16 * 1024 * 1024
RECOVERY_WINDOW_SECONDS = 30.0
INVALID_MESSAGE = "The client message is not a valid JSON protocol message."


class Outbound(NamedTuple):
    """One thing the service writes to a client: a data message (with its sequence id) or a ready frame.

    A data message to a connection that does not number them (not reliable) reaches the link as the bare shared
    :class:`Send` in its :attr:`Link.inbox`, if it has one: fan-out then builds nothing per recipient.
    """

    send: Send | None = None
    sequence_id: int | None = None
    frame: _protocol.Frame = ""

    def render(self, protocol: ClientProtocol) -> _protocol.Frame:
        """The exact WebSocket frame for a client speaking ``protocol``."""
        if self.send is None:
            return self.frame
        return protocol.render(self.send, self.sequence_id)

    @property
    def size(self) -> int:
        return len(self.send.message.payload) if self.send is not None else len(self.frame)


def render(item: Outbound | Send, protocol: ClientProtocol) -> _protocol.Frame:
    """The frame of anything a link was given: an :class:`Outbound` item or a bare :class:`Send`."""
    if isinstance(item, Send):
        return protocol.render(item)
    return item.render(protocol)


class Link(Protocol):
    """The transport side of a session: a simulated client, or an SDK adapter's in-memory socket."""

    def write(self, item: Outbound) -> None:
        """Take one outbound item, in order. Must not block."""

    @property
    def inbox(self) -> list[Outbound | Send] | None:
        """The list of a link that only records what it gets (a simulated client): fan-out appends the bare
        :class:`Send` of each data message of an unreliable connection to it, in order with :meth:`write`'s items.
        None: every item comes through :meth:`write` (data messages as ``Outbound(send)``)."""

    def end(self, code: int, reason: str | None) -> None:
        """The service closed the socket with ``code`` (after any ``disconnected`` frame)."""


def _taken_unwritten(send: Send) -> None:
    """What an open, unreliable connection with no link does with a message: takes it, writes it nowhere."""


class SimpleMode(NamedTuple):
    """How a simple WebSocket client's frames are handled (``webpubsub_mode`` and ``group`` of its URL)."""

    send_to_group: str | None = None
    no_echo: bool = False


class ClientSession:
    """The protocol state of one connection: acks seen, sequence ids, the reliable buffer, the link."""

    def __init__(
        self,
        service: WebPubSubService,
        hub: str,
        link: Link,
        *,
        user_id: str | None = None,
        groups: tuple[str, ...] | list[str] = (),
        roles: tuple[str, ...] | list[str] = (),
        protocol: ClientProtocol = _protocol.JSON_V1,
        simple_mode: SimpleMode = SimpleMode(),
        clock: Callable[[], float],
        reconnection_token: Callable[[str], str],
        on_detach: Callable[[ClientSession], None] | None = None,
        lock: threading.RLock | None = None,
        upstream: Upstream | None = None,
        connection_id: str | None = None,
        subprotocol: str | None = None,
    ) -> None:
        self._on_detach = on_detach
        self.lock = lock if lock is not None else threading.RLock()
        self._order = threading.RLock()  # one connection's frames, in order; never taken under ``lock``
        self._upstream = upstream
        self.subprotocol = subprotocol if subprotocol is not None else protocol.name
        self._service = service
        self._clock = clock
        self.protocol = protocol
        self.simple_mode = simple_mode
        self.reliable = protocol.reliable
        self._link: Link | None = link
        self.deliver: Callable[[Send], object]
        """The :class:`~._core.service.Endpoint` side: :meth:`_deliver_reliable`, :meth:`_write_message`, or (no
        link) taking a message nowhere; with :attr:`inbox`, rerouted whenever the link changes."""
        self.inbox: list[Outbound | Send] | None
        """The link's inbox, for an unreliable connection whose link has one."""
        self.deliver, self.inbox = self._route(link)
        self.processed_ack_ids: set[int] = set()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.detached_at: float | None = None
        self._next_sequence_id = 1
        self._unacked: list[Outbound] = []
        self._unacked_bytes = 0
        self.connection: Connection = service.open_connection(
            hub, self, user_id=user_id, groups=groups, roles=roles, protocol=protocol.name, connection_id=connection_id
        )
        self.reconnection_token = reconnection_token(self.connection.connection_id) if self.reliable else None
        connected = protocol.connected(self.connection.connection_id, self.connection.user_id, self.reconnection_token)
        if connected is not None:
            link.write(Outbound(frame=connected))

    @property
    def is_open(self) -> bool:
        return self.connection.is_open

    @property
    def info(self) -> ConnectionInfo:
        """Who this connection is in the events of the app's event handler."""
        connection = self.connection
        return ConnectionInfo(connection.hub, connection.connection_id, connection.user_id, self.subprotocol)

    # -- Endpoint: what the service writes -----------------------------------------------------------

    @property
    def link(self) -> Link | None:
        """The socket this connection is attached to (None: dropped, or closed)."""
        return self._link

    @link.setter
    def link(self, link: Link | None) -> None:
        self._link = link
        self.deliver, self.inbox = self._route(link)
        self.connection.route(self.deliver, self.inbox)

    def _route(self, link: Link | None) -> tuple[Callable[[Send], object], list[Outbound | Send] | None]:
        """How messages reach ``link``: numbered and buffered (reliable), appended to its inbox, or written."""
        if self.reliable:
            return self._deliver_reliable, None
        if link is None:
            return _taken_unwritten, None
        inbox = link.inbox
        return (inbox.append if inbox is not None else self._write_message), inbox

    def _write_message(self, send: Send) -> None:
        """One message of an unreliable connection to a link with no inbox."""
        link = self._link
        if link is not None:
            link.write(Outbound(send))

    def _deliver_reliable(self, send: Send) -> bool:
        """Number, buffer and write one message; False when the buffer overflows (the connection is closed)."""
        size = len(send.message.payload)
        if len(self._unacked) >= RELIABLE_BUFFER_MESSAGES or self._unacked_bytes + size > RELIABLE_BUFFER_BYTES:
            self._unacked.clear()
            self._unacked_bytes = 0
            self._service.close_connection(
                self.connection.hub,
                self.connection.connection_id,
                reason="The reliable message buffer of the connection is full.",
            )
            return False
        item = Outbound(send, self._next_sequence_id, "")
        self._next_sequence_id += 1
        self._unacked.append(item)
        self._unacked_bytes += size
        if self._link is not None:
            self._link.write(item)
        return True

    def closed(self, reason: str | None) -> None:
        """The service closed the connection (REST close, overflow): ``disconnected`` first, then close."""
        self._end(CLOSE_NORMAL, reason)

    # -- what the client does ------------------------------------------------------------------------

    def receive(self, frame: _protocol.Frame, *, via: Link | None = None) -> None:
        """Handle one frame the client sent (thread-safe; ``via``: only while that link is the session's).

        A user event calls the app's event handler with no lock held, so links must call this without holding the
        service lock (the app may call the service back from another thread); queued ``connected`` /
        ``disconnected`` events are sent before this returns.
        """
        with self.lock:
            if not self._attached(via):
                return
            request = self.protocol.parse(frame)
            if request is None:
                self._service.client_closed(self.connection, INVALID_MESSAGE)
                self._end(CLOSE_INVALID_DATA, INVALID_MESSAGE)
            elif request["type"] == "sequenceAck":
                self._acknowledge(request["sequenceId"])
                return
            elif request["type"] == "ping":
                if self.link is not None:
                    self.link.write(Outbound(frame=_protocol.pong_frame()))
                return
        if request is not None:
            with self._order:
                self._receive_in_order(request, via)
        self.drain()

    def _receive_in_order(self, request: dict[str, Any], via: Link | None) -> None:
        with self.lock:
            if not self._attached(via):
                return
            if request["type"] == "message":
                event = self._receive_simple(request["message"])
            else:
                event = self._run_acked(request)
        upstream = self._upstream
        if event is None or upstream is None:  # an event is only pending when a handler subscribes to it
            return
        result = upstream.user_event(self.info, event.name, event.message)
        with self.lock:
            self._answer(event, result)

    def drain(self) -> None:
        """Send the queued ``connected`` / ``disconnected`` events, unless this thread holds the service lock
        (then the outermost call that released it sends them: an app must never run under the lock)."""
        if self._upstream is not None and not holds_lock(self.lock):
            self._upstream.drain()

    def _attached(self, via: Link | None) -> bool:
        return self.is_open and self.link is not None and (via is None or self.link is via)

    def drop(self, *, via: Link | None = None) -> None:
        """The link died without a close handshake. Reliable connections wait for recovery.

        ``via``: only while that link is the session's (not on a successor that recovered the connection).
        """
        with self.lock:
            if via is not None and self.link is not via:
                return
            self._drop()
        self.drain()

    def _drop(self) -> None:
        if not self.is_open:
            return
        self.link = None
        if self.reliable:
            self.connection.dropped = True
            self.detached_at = self._clock()
            if self._on_detach is not None:
                self._on_detach(self)
        else:
            self._service.client_closed(self.connection, "The connection was dropped.")

    def close_from_client(self, *, via: Link | None = None) -> None:
        """The client closed the socket (any protocol): the connection ends at once, no recovery.

        ``via``: only while that link is the session's (not on a successor that recovered the connection).
        """
        with self.lock:
            if via is not None and self.link is not via:
                return
            self.link = None
            self._service.client_closed(self.connection, None)
        self.drain()

    def recover(self, link: Link) -> None:
        """Re-attach after a drop: same id, groups and permissions; unacknowledged messages replayed.

        A recovery while the old link is still up takes the connection over; the old socket is closed.
        """
        previous, self.link = self.link, link
        if previous is not None and previous is not link:
            previous.end(CLOSE_POLICY_VIOLATION, "The connection was recovered on another socket.")
        self.detached_at = None
        self.connection.dropped = False
        connected = self.protocol.connected(
            self.connection.connection_id, self.connection.user_id, self.reconnection_token
        )
        if connected is not None:
            link.write(Outbound(frame=connected))
        for item in list(self._unacked):  # a link may acknowledge (and so pop) while we replay
            link.write(item)

    def expire(self) -> None:
        """The recovery window passed: the connection is gone for good."""
        self.detached_at = None
        self._service.client_closed(self.connection, "The connection was not recovered in time.")

    # -- internals -----------------------------------------------------------------------------------

    def _end(self, code: int, reason: str | None) -> None:
        link, self.link = self.link, None
        self.close_code, self.close_reason = code, reason
        self.connection.dropped = False
        self._unacked.clear()
        self._unacked_bytes = 0
        if link is None:
            return
        disconnected = self.protocol.disconnected(reason)
        if disconnected is not None:
            link.write(Outbound(frame=disconnected))
        link.end(code, reason)

    def _acknowledge(self, sequence_id: int) -> None:
        while self._unacked and (self._unacked[0].sequence_id or 0) <= sequence_id:
            self._unacked_bytes -= self._unacked.pop(0).size

    def _run_acked(self, request: dict[str, Any]) -> _UserEvent | None:
        """Run a JSON request; for a user event some handler subscribes to, the event to send (acked later)."""
        ack_id = request.get("ackId")
        try:  # a malformed request closes the connection even when its ackId was used before
            _validate(request)
        except BadRequestError as invalid:
            self._service.client_closed(self.connection, invalid.message)
            self._end(CLOSE_INVALID_DATA, invalid.message)
            return None
        if ack_id is not None and ack_id in self.processed_ack_ids:
            self._ack(ack_id, "Duplicate", f"Message with ack-id: {ack_id} has been processed")
            return None
        if request["type"] == "event" and self._handled(request["event"]):
            return _UserEvent(request["event"], _message(request), ack_id)
        error: tuple[str, str] | None = None
        try:
            self._run(request)
        except ForbiddenError as denied:
            error = ("Forbidden", denied.message)
        except BadRequestError as invalid:
            self._service.client_closed(self.connection, invalid.message)
            self._end(CLOSE_INVALID_DATA, invalid.message)
            return None
        except _NoEventHandler as missing:
            error = ("InternalServerError", str(missing))
        if ack_id is not None:
            self.processed_ack_ids.add(ack_id)
            self._ack(ack_id, *(error or (None, None)))
        return None

    def _handled(self, event: str) -> bool:
        return self._upstream is not None and self._upstream.handles(self.connection.hub, event)

    def _answer(self, event: _UserEvent, result: UserEventResult) -> None:
        """Write the app's answer to a user event: its reply (through the service) before the ack; a failure
        is an ``InternalServerError`` ack for a JSON client and a 1011 close for a simple one."""
        if not self.is_open or self.link is None:
            return
        if result.ok and result.reply is not None:
            connection = self.connection
            self._service.send_to_connection(connection.hub, connection.connection_id, result.reply)
        if not self.protocol.framed:
            if not result.ok:
                reason = f"The event handler failed: {result.error}."
                self._service.client_closed(self.connection, reason)
                self._end(CLOSE_INTERNAL_ERROR, reason)
            return
        if event.ack_id is not None and self.is_open:
            self.processed_ack_ids.add(event.ack_id)
            if result.ok:
                self._ack(event.ack_id, None, None)
            else:
                self._ack(event.ack_id, "InternalServerError", f"The event handler failed: {result.error}.")

    def _ack(self, ack_id: int, name: str | None, message: str | None) -> None:
        if self.link is not None:
            self.link.write(Outbound(frame=_protocol.ack_frame(ack_id, name, message)))

    def _run(self, request: dict[str, Any]) -> None:
        kind = request["type"]
        if kind == "joinGroup":
            self._service.join_group_as_client(self.connection, request["group"])
        elif kind == "leaveGroup":
            self._service.leave_group_as_client(self.connection, request["group"])
        elif kind == "sendToGroup":
            message = _message(request)
            self._service.send_to_group_as_client(
                self.connection, request["group"], message, no_echo=bool(request.get("noEcho", False))
            )
        elif kind == "event":
            raise _NoEventHandler(f"No event handler is registered for the event '{request['event']}'.")

    def _receive_simple(self, message: Message) -> _UserEvent | None:
        """A simple client's frame: published to its group, or (sendEvent mode) the user event ``message``."""
        group = self.simple_mode.send_to_group
        if group is None:
            if self._handled("message"):
                return _UserEvent("message", message, None)
            reason = "No event handler is registered for the 'message' event."
            self._service.client_closed(self.connection, reason)
            self._end(CLOSE_INTERNAL_ERROR, reason)
            return None
        try:
            self._service.send_to_group_as_client(self.connection, group, message, no_echo=self.simple_mode.no_echo)
        except (ForbiddenError, BadRequestError) as refused:
            self._service.client_closed(self.connection, refused.message)
            self._end(CLOSE_POLICY_VIOLATION, refused.message)
        return None


class _UserEvent(NamedTuple):
    """A user event waiting for the app's answer: its name, payload and the ack id to answer (if any)."""

    name: str
    message: Message
    ack_id: Optional[int]


def holds_lock(lock: threading.RLock) -> bool:
    """Whether the current thread holds ``lock`` (CPython's RLock, C or Python, has ``_is_owned``)."""
    is_owned: Callable[[], bool] | None = getattr(lock, "_is_owned", None)
    return bool(is_owned()) if is_owned is not None else False


class _NoEventHandler(Exception):
    """A user event nobody handles (upstream handlers are not configured): an InternalServerError ack."""


def _message(request: dict[str, Any]) -> Message:
    """The payload of a ``sendToGroup`` or ``event`` request, typed by its ``dataType`` (default json)."""
    data_type = request.get("dataType", "json")
    data = request.get("data")
    if data_type == "text" and isinstance(data, str):
        return Message(data.encode("utf-8"), "text")
    if data_type == "binary" and isinstance(data, str):
        try:
            return Message(base64.b64decode(data, validate=True), "binary")
        except (binascii.Error, ValueError):
            raise BadRequestError("The 'data' of a binary message is not valid base64.") from None
    if data_type == "json" and "data" in request:
        return Message(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), "json")
    raise BadRequestError(f"The 'data' does not match the dataType '{data_type}'.")


def _validate(request: dict[str, Any]) -> None:
    """Raise BadRequestError for an invalid group name or a payload that does not match its dataType."""
    if request["type"] in ("joinGroup", "leaveGroup", "sendToGroup"):
        names.check_group(request["group"])
    if request["type"] in ("sendToGroup", "event"):
        _message(request)


