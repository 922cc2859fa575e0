"""Simulated client connections: what a WebSocket client of the fake service sees, in process.

A :class:`FakeClientConnection` is the endpoint of one core connection. It records each data message
(``received``) and the exact frames its protocol carries (``frames``), in the order the service wrote them.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

from . import _protocol
from ._core.model import DataType, Delivery
from ._core.service import Connection, WebPubSubService



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


def check_protocol(protocol: str | None) -> None:
    """Refuse subprotocols the fake does not speak, with the reason (the service would not select them)."""
    if protocol is None or _protocol.is_pubsub(protocol):
        return
    if protocol in _protocol.PROTOBUF:
        raise ValueError(f"protocol {protocol!r} is not supported by pytest-webpubsub (no Python SDK speaks it)")
    raise ValueError(
        f"unknown protocol {protocol!r}: use None for a simple WebSocket client, "
        f"{_protocol.JSON!r} or {_protocol.RELIABLE_JSON!r}"
    )


class FakeClientConnection:
    """A connected client of the fake service. Create it with ``FakeWebPubSub.connect()``."""

    def __init__(
        self,
        service: WebPubSubService,
        hub: str,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = _protocol.JSON,
    ) -> None:
        check_protocol(protocol)
        self._service = service
        self.protocol = protocol
        self._reliable = _protocol.is_reliable(protocol)
        self.hub = hub
        self.close_reason: str | None = None
        self._next_sequence_id = 1
        # What the service wrote, in order; frames and messages are rendered from it when read.
        self._log: list[_Written] = []
        self._frames: list[_protocol.Frame] = []
        self._received: list[ReceivedMessage] = []
        self._connection: Connection = service.open_connection(
            hub, self, user_id=user_id, groups=groups, roles=roles, protocol=protocol
        )
        if _protocol.is_pubsub(protocol):
            token = _reconnection_token(self.connection_id) if _protocol.is_reliable(protocol) else None
            self._log.append(_Written(frame=_protocol.connected_frame(self.connection_id, self.user_id, token)))

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<FakeClientConnection {self.connection_id} hub={self.hub!r} user={self.user_id!r} {state}>"

    @property
    def connection_id(self) -> str:
        return self._connection.connection_id

    @property
    def user_id(self) -> str | None:
        return self._connection.user_id

    @property
    def groups(self) -> frozenset[str]:
        """The groups this connection is in now."""
        return frozenset(self._connection.groups)

    @property
    def is_open(self) -> bool:
        return self._connection.is_open

    def close(self) -> None:
        """Close from the client side; takes effect at once."""
        self._service.client_closed(self._connection)

    @property
    def received(self) -> list[ReceivedMessage]:
        """The data messages received so far, in order (system frames and acks are not data)."""
        self._render()
        return list(self._received)

    @property
    def frames(self) -> list[_protocol.Frame]:
        """The exact frames the service wrote to this client, in order (``str`` text, ``bytes`` binary)."""
        self._render()
        return list(self._frames)

    def _render(self) -> None:
        for written in self._log[len(self._frames) :]:
            delivery = written.delivery
            if delivery is None:
                self._frames.append(written.frame)
                continue
            message = delivery.message
            if _protocol.is_pubsub(self.protocol):
                self._frames.append(_protocol.message_frame(delivery, written.sequence_id))
                data, data_type = message.value, message.data_type
            else:
                frame = _protocol.raw_frame(message)
                self._frames.append(frame)
                data, data_type = frame, ("binary" if isinstance(frame, bytes) else "text")
            self._received.append(
                ReceivedMessage(data, data_type, delivery.group, delivery.from_user_id, written.sequence_id)
            )

    # -- Endpoint: called by the service ----------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> None:
        if self._reliable:
            self._log.append(_Written(delivery, self._next_sequence_id))
            self._next_sequence_id += 1
        else:
            self._log.append(_Written(delivery))

    def closed(self, reason: str | None) -> None:
        self.close_reason = reason
        if _protocol.is_pubsub(self.protocol):
            self._log.append(_Written(frame=_protocol.disconnected_frame(reason)))


class _Written(NamedTuple):
    """One thing the service wrote: a data message (with its sequence id) or a ready system frame."""

    delivery: Delivery | None = None
    sequence_id: int | None = None
    frame: _protocol.Frame = ""


def _reconnection_token(connection_id: str) -> str:
    """An opaque reconnection token for a reliable connection (the recovery itself is not simulated yet)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"reconnect:{connection_id}".encode()).digest()).decode()[:43]
