"""What happened, in order: every delivery and every connection opened or closed, for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .model import Delivery

if TYPE_CHECKING:
    from .service import Connection


@dataclass(frozen=True)
class LifecycleEvent:
    """A connection opened or closed (``reason`` is the close reason, if any)."""

    kind: Literal["open", "close"]
    hub: str
    connection_id: str
    user_id: str | None
    reason: str | None = None


class DeliveryLog:
    """Records every delivery and lifecycle event of one service. Read-only views for users."""

    def __init__(self) -> None:
        self._deliveries: list[Delivery] = []
        self._events: list[LifecycleEvent] = []

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        return tuple(self._deliveries)

    @property
    def events(self) -> tuple[LifecycleEvent, ...]:
        return tuple(self._events)

    def on_open(self, connection: Connection) -> None:
        self._events.append(LifecycleEvent("open", connection.hub, connection.connection_id, connection.user_id))

    def on_deliveries(self, deliveries: list[Delivery]) -> None:
        self._deliveries.extend(deliveries)

    def on_close(self, connection: Connection, reason: str | None) -> None:
        self._events.append(
            LifecycleEvent("close", connection.hub, connection.connection_id, connection.user_id, reason)
        )
