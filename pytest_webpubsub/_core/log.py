"""What happened, in order: every delivery and every connection opened or closed, for assertions.

A long test (a soak test, a benchmark) may send millions of messages. Each retained delivery costs memory, so the
log can be bounded (``max_deliveries``: only the most recent deliveries are kept, a ring) or emptied (``clear()``).
Either way :attr:`DeliveryLog.delivery_count` keeps counting every delivery the service made.
"""

from __future__ import annotations

from collections import deque
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
    """Records every delivery and lifecycle event of one service. Read-only views for users.

    ``max_deliveries`` (None: unbounded) keeps only the most recent deliveries; older ones are forgotten, oldest
    first. Lifecycle events are few (two per connection) and always kept until :meth:`clear`.
    """

    def __init__(self, *, max_deliveries: int | None = None) -> None:
        if max_deliveries is not None and max_deliveries < 0:
            raise ValueError(f"max_deliveries must be None or at least 0, not {max_deliveries}")
        self._deliveries: deque[Delivery] = deque(maxlen=max_deliveries)
        self._events: list[LifecycleEvent] = []
        self._count = 0

    @property
    def max_deliveries(self) -> int | None:
        """How many deliveries are kept at most (None: all of them)."""
        return self._deliveries.maxlen

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """The retained deliveries, oldest first."""
        return tuple(self._deliveries)

    @property
    def events(self) -> tuple[LifecycleEvent, ...]:
        """Every connection opened or closed since the start (or the last :meth:`clear`), in order."""
        return tuple(self._events)

    @property
    def delivery_count(self) -> int:
        """Every delivery since the log was created, the forgotten and cleared ones included."""
        return self._count

    @property
    def forgotten(self) -> int:
        """How many deliveries were counted but are no longer retained (bounded out or cleared)."""
        return self._count - len(self._deliveries)

    def clear(self) -> None:
        """Forget the retained deliveries and events (``delivery_count`` keeps counting)."""
        self._deliveries.clear()
        self._events.clear()

    def on_open(self, connection: Connection) -> None:
        self._events.append(LifecycleEvent("open", connection.hub, connection.connection_id, connection.user_id))

    def on_deliveries(self, deliveries: list[Delivery]) -> None:
        self._count += len(deliveries)
        self._deliveries.extend(deliveries)

    def on_close(self, connection: Connection, reason: str | None) -> None:
        self._events.append(
            LifecycleEvent("close", connection.hub, connection.connection_id, connection.user_id, reason)
        )
