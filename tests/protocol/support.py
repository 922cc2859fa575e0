"""Helpers shared by the client-protocol tests: a mutable clock, frame builders and frame parsing."""

from __future__ import annotations

import json
import time
from typing import Any

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub.clients import FakeClientConnection

HUB = "hub"
INVALID_MESSAGE = "The client message is not a valid JSON protocol message."
START: float | None = None
"""None: the real time when the clock is made (SDK REST tokens are stamped with real time)."""


class MutableClock:
    """A clock for ``@pytest.mark.webpubsub(clock=MutableClock())``: tests move it with ``advance``."""

    def __init__(self, now: float | None = START) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def dump(frame: dict[str, Any]) -> str:
    """A frame as the service writes it: compact JSON, keys in the given order."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def connected(client: FakeClientConnection, *, token: str | None = None) -> str:
    frame: dict[str, Any] = {
        "type": "system", "event": "connected", "userId": client.user_id, "connectionId": client.connection_id
    }
    if token is not None:
        frame["reconnectionToken"] = token
    return dump(frame)


def ack(ack_id: int, name: str | None = None, message: str | None = None) -> str:
    if name is None:
        return dump({"type": "ack", "ackId": ack_id, "success": True})
    return dump({"type": "ack", "ackId": ack_id, "success": False, "error": {"name": name, "message": message}})


def group_message(group: str, data_type: str, data: Any, from_user_id: str | None = None,
                  sequence_id: int | None = None) -> str:
    frame: dict[str, Any] = {"type": "message", "from": "group", "group": group, "dataType": data_type, "data": data}
    if from_user_id is not None:
        frame["fromUserId"] = from_user_id
    if sequence_id is not None:
        frame["sequenceId"] = sequence_id
    return dump(frame)


def disconnected(message: str) -> str:
    return dump({"type": "system", "event": "disconnected", "message": message})


def request(**fields: Any) -> str:
    return dump(fields)


def parsed(client: FakeClientConnection) -> list[dict[str, Any]]:
    """The client's frames, parsed (PubSub clients only get JSON text frames)."""
    return [json.loads(frame) for frame in client.frames]


def sequence_ids(client: FakeClientConnection) -> list[int]:
    return [frame["sequenceId"] for frame in parsed(client) if frame["type"] == "message"]


def exists(fake: FakeWebPubSub, client: FakeClientConnection) -> bool:
    """The REST ``connection_exists`` answer, through the official SDK."""
    return fake.service_client(HUB).connection_exists(client.connection_id)
