"""The client subprotocols as objects: one per protocol, chosen once at the handshake (service-behaviour §5).

A :class:`ClientProtocol` knows its name, whether it is reliable, how it is selected from what a client offers,
how a client's frame is parsed into a request, and how the service's writes are rendered as frames:

* :data:`SIMPLE`: a simple WebSocket client (no subprotocol selected): every frame is a message, data comes raw;
* :data:`JSON_V1`: ``json.webpubsub.azure.v1``: JSON requests with acks, JSON ``message`` / ``system`` frames;
* :data:`RELIABLE_JSON_V1`: ``json.reliable.webpubsub.azure.v1``: the same plus sequence ids and recovery.

Frame builders are pure functions from core records to the exact text or bytes a WebSocket carries; shared by
the simulated clients, every socket adapter and the live server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Optional, Union

from ._core.jsontext import InvalidJson, loads
from ._core.model import Message, Send

JSON = "json.webpubsub.azure.v1"
"""The name of the JSON subprotocol, as clients offer it."""
RELIABLE_JSON = "json.reliable.webpubsub.azure.v1"
"""The name of the reliable JSON subprotocol, as clients offer it."""
PROTOBUF = ("protobuf.webpubsub.azure.v1", "protobuf.reliable.webpubsub.azure.v1")

Frame = Union[str, bytes]
"""A WebSocket frame: ``str`` for a text frame, ``bytes`` for a binary frame."""
Request = dict[str, Any]
"""A client request: a JSON-protocol request object, or ``{"type": "message", "message": Message}`` for a frame of a
simple client."""

_DATA_TYPES = ("text", "json", "binary")
_REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "joinGroup": (("group", str),),
    "leaveGroup": (("group", str),),
    "sendToGroup": (("group", str),),
    "event": (("event", str),),
    "sequenceAck": (("sequenceId", int),),
    "ping": (),
}


class ClientProtocol:
    """How one subprotocol frames what goes each way. Instances are the module constants; compare with ``is``."""

    __slots__ = ("name", "framed", "reliable")

    def __init__(self, name: Optional[str], *, framed: bool, reliable: bool) -> None:
        self.name = name
        """The subprotocol name the service selects (None: a simple client, no subprotocol header)."""
        self.framed = framed
        """Whether messages travel in JSON frames (a "PubSub WebSocket client")."""
        self.reliable = reliable
        """Whether messages carry sequence ids, are buffered until acknowledged and the connection can recover."""

    def __repr__(self) -> str:
        return f"<ClientProtocol {self.name or 'simple'}>"

    # -- service -> client ---------------------------------------------------------------------------------

    def render(self, send: Send, sequence_id: Optional[int] = None) -> Frame:
        """The frame that carries one sent message (to one connection: ``sequence_id`` is that connection's)."""
        if self.framed:
            return message_frame(send, sequence_id)
        return raw_frame(send.message)

    def connected(self, connection_id: str, user_id: Optional[str], reconnection_token: Optional[str]) -> Optional[str]:
        """The ``system/connected`` frame (None for a simple client, which gets no system frames)."""
        if not self.framed:
            return None
        return connected_frame(connection_id, user_id, reconnection_token if self.reliable else None)

    def disconnected(self, reason: Optional[str]) -> Optional[str]:
        """The ``system/disconnected`` frame sent before the service closes (None for a simple client)."""
        return disconnected_frame(reason) if self.framed else None

    # -- client -> service ---------------------------------------------------------------------------------

    def parse(self, frame: Frame) -> Optional[Request]:
        """A client frame as a request, or None when it is not a valid message of this protocol (close 1007).

        A simple client's frame is always a message: text or binary as it came.
        """
        if not self.framed:
            if isinstance(frame, bytes):
                return {"type": "message", "message": Message(frame, "binary")}
            try:
                return {"type": "message", "message": Message(frame.encode("utf-8"), "text")}
            except UnicodeEncodeError:
                return None
        return _parse_request(frame)


SIMPLE = ClientProtocol(None, framed=False, reliable=False)
JSON_V1 = ClientProtocol(JSON, framed=True, reliable=False)
RELIABLE_JSON_V1 = ClientProtocol(RELIABLE_JSON, framed=True, reliable=True)
_BY_NAME = {JSON: JSON_V1, RELIABLE_JSON: RELIABLE_JSON_V1}


def select(offered: Sequence[str]) -> ClientProtocol:
    """The protocol the service selects from the subprotocols a client offers, in the client's order.

    The first supported JSON protocol wins. Protobuf protocols are not selected (no Python SDK speaks them), and a
    client offering only unknown subprotocols is a simple client with none selected (service-behaviour §5).
    """
    for name in offered:
        protocol = _BY_NAME.get(name) if isinstance(name, str) else None
        if protocol is not None:
            return protocol
    return SIMPLE


def by_name(name: Optional[str]) -> ClientProtocol:
    """The protocol a simulated client asks for by name (None: a simple client); ValueError says what is valid."""
    if name is None:
        return SIMPLE
    protocol = _BY_NAME.get(name) if isinstance(name, str) else None
    if protocol is not None:
        return protocol
    if name in PROTOBUF:
        raise ValueError(f"protocol {name!r} is not supported by pytest-webpubsub (no Python SDK speaks it)")
    raise ValueError(
        f"unknown protocol {name!r}: use None for a simple WebSocket client, {JSON!r} or {RELIABLE_JSON!r}"
    )


# -- frames ----------------------------------------------------------------------------------------------


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def connected_frame(connection_id: str, user_id: Optional[str], reconnection_token: Optional[str] = None) -> str:
    """``system/connected``: the first frame a PubSub client gets."""
    frame: dict[str, Any] = {"type": "system", "event": "connected", "userId": user_id, "connectionId": connection_id}
    if reconnection_token is not None:
        frame["reconnectionToken"] = reconnection_token
    return _dump(frame)


def disconnected_frame(reason: Optional[str]) -> str:
    """``system/disconnected``: sent just before the service closes a PubSub client."""
    frame: dict[str, Any] = {"type": "system", "event": "disconnected"}
    if reason is not None:
        frame["message"] = reason
    return _dump(frame)


def ack_frame(ack_id: int, error_name: Optional[str] = None, error_message: Optional[str] = None) -> str:
    """``ack``: success, or failure with both ``name`` and ``message`` (``Forbidden``, ``Duplicate``, ...)."""
    if error_name is None:
        return _dump({"type": "ack", "ackId": ack_id, "success": True})
    error = {"name": error_name, "message": error_message or ""}
    return _dump({"type": "ack", "ackId": ack_id, "success": False, "error": error})


def sequence_ack_frame(sequence_id: int) -> str:
    """A reliable client's cumulative ``sequenceAck``."""
    return _dump({"type": "sequenceAck", "sequenceId": sequence_id})


def pong_frame() -> str:
    """The answer to a client's ``ping``."""
    return _dump({"type": "pong"})


def json_data(message: Message) -> Any:
    """The ``data`` field of a JSON-protocol frame: the string, the parsed JSON, or base64 of the bytes."""
    if message.data_type == "binary":
        return base64.b64encode(message.payload).decode("ascii")
    return message.value


def message_frame(send: Send, sequence_id: Optional[int] = None) -> str:
    """A ``message`` frame from the server or a group (``fromUserId`` only for client publishes)."""
    frame: dict[str, Any] = {"type": "message", "from": send.source}
    if send.group is not None:
        frame["group"] = send.group
    frame["dataType"] = send.message.data_type
    frame["data"] = json_data(send.message)
    if send.from_user_id is not None:
        frame["fromUserId"] = send.from_user_id
    if sequence_id is not None:
        frame["sequenceId"] = sequence_id
    return _dump(frame)


def raw_frame(message: Message) -> Frame:
    """What a simple WebSocket client gets: a binary frame for binary data, else a text frame."""
    if message.data_type == "binary":
        return message.payload
    return message.payload.decode("utf-8")


def _parse_request(frame: Frame) -> Optional[Request]:
    """A JSON-protocol request, or None when the frame is not one (invalid JSON or UTF-8, wrong shape or types)."""
    try:
        request = loads(frame)
    except InvalidJson:
        return None
    if not isinstance(request, dict):
        return None
    kind = request.get("type")
    if not isinstance(kind, str) or kind not in _REQUIRED:
        return None
    for field, expected in _REQUIRED[kind]:
        value = request.get(field)
        if not isinstance(value, expected) or isinstance(value, bool):
            return None
    ack_id = request.get("ackId")
    if ack_id is not None and (not isinstance(ack_id, int) or isinstance(ack_id, bool) or ack_id < 0):
        return None
    if kind in ("sendToGroup", "event"):
        data_type = request.get("dataType", "json")
        if not isinstance(data_type, str) or data_type not in _DATA_TYPES:
            return None
    if "noEcho" in request and not isinstance(request["noEcho"], bool):
        return None
    return request
