"""Wire frames of the client protocols, service to client (contract §5): simple, JSON and reliable JSON.

Pure functions from core records to the exact text or bytes a WebSocket would carry; shared by the
simulated clients and the live server.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Union

from ._core.model import Delivery, Message

JSON = "json.webpubsub.azure.v1"
RELIABLE_JSON = "json.reliable.webpubsub.azure.v1"
PROTOBUF = ("protobuf.webpubsub.azure.v1", "protobuf.reliable.webpubsub.azure.v1")
PUBSUB_PROTOCOLS = (JSON, RELIABLE_JSON)

Frame = Union[str, bytes]
"""A WebSocket frame: ``str`` for a text frame, ``bytes`` for a binary frame."""


def is_pubsub(protocol: str | None) -> bool:
    """Whether the protocol frames messages as JSON (a "PubSub WebSocket client")."""
    return protocol in PUBSUB_PROTOCOLS


def is_reliable(protocol: str | None) -> bool:
    return protocol == RELIABLE_JSON


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def connected_frame(connection_id: str, user_id: str | None, reconnection_token: str | None = None) -> str:
    """``system/connected``: the first frame a PubSub client gets."""
    frame: dict[str, Any] = {"type": "system", "event": "connected", "userId": user_id, "connectionId": connection_id}
    if reconnection_token is not None:
        frame["reconnectionToken"] = reconnection_token
    return _dump(frame)


def disconnected_frame(reason: str | None) -> str:
    """``system/disconnected``: sent just before the service closes a PubSub client."""
    frame: dict[str, Any] = {"type": "system", "event": "disconnected"}
    if reason is not None:
        frame["message"] = reason
    return _dump(frame)


def ack_frame(ack_id: int, error_name: str | None = None, error_message: str | None = None) -> str:
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


def message_frame(delivery: Delivery, sequence_id: int | None = None) -> str:
    """A ``message`` frame from the server or a group (``fromUserId`` only for client publishes)."""
    frame: dict[str, Any] = {"type": "message", "from": delivery.source}
    if delivery.group is not None:
        frame["group"] = delivery.group
    frame["dataType"] = delivery.message.data_type
    frame["data"] = json_data(delivery.message)
    if delivery.from_user_id is not None:
        frame["fromUserId"] = delivery.from_user_id
    if sequence_id is not None:
        frame["sequenceId"] = sequence_id
    return _dump(frame)


def raw_frame(message: Message) -> Frame:
    """What a simple WebSocket client gets: a binary frame for binary data, else a text frame."""
    if message.data_type == "binary":
        return message.payload
    return message.payload.decode("utf-8")
