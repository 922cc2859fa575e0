"""What happened, in order: every delivery and every connection opened or closed, for assertions.

A long test (a soak test, a benchmark) may send millions of messages. Each retained delivery costs memory (one
pointer in the send's list of recipients until the log is read, a record of about 100 bytes once read), so the
log can be bounded (``max_deliveries``: only the most recent deliveries are kept, a ring) or emptied (``clear()``).
Either way :attr:`DeliveryLog.delivery_count` keeps counting every delivery the service made.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .model import Delivery, Send

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

    A send is kept as it happened, one shared :class:`Send` with the list of connections that took it; the
    per-recipient :class:`Delivery` records are made when :attr:`deliveries` is read (and kept from then on), so
    a send to 10,000 members costs the log one entry, not 10,000 records.

    ``max_deliveries`` (None: unbounded) keeps only the most recent deliveries; older ones are forgotten, oldest
    first, and sends whose every delivery is forgotten are dropped as they are logged, read or not. Lifecycle
    events are few (two per connection) and always kept until :meth:`clear`.

    Not thread-safe on its own: the service calls it under the fake's lock, and readers take that lock too.
    """

    def __init__(self, *, max_deliveries: int | None = None) -> None:
        if max_deliveries is not None and max_deliveries < 0:
            raise ValueError(f"max_deliveries must be None or at least 0, not {max_deliveries}")
        self._max = max_deliveries
        self._deliveries: deque[Delivery] = deque(maxlen=max_deliveries)
        """The deliveries already made into records, oldest first."""
        self._sends: deque[tuple[Send, Sequence[Connection]]] = deque()
        """Sends logged since the last read, not yet made into records, oldest first."""
        self._unread = 0  # deliveries in ``_sends``
        self._events: list[LifecycleEvent] = []
        self._count = 0

    @property
    def max_deliveries(self) -> int | None:
        """How many deliveries are kept at most (None: all of them)."""
        return self._max

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """The retained deliveries, oldest first."""
        self._make_records()
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
        self._make_records()
        return self._count - len(self._deliveries)

    def clear(self) -> None:
        """Forget the retained deliveries and events (``delivery_count`` keeps counting)."""
        self._deliveries.clear()
        self._sends.clear()
        self._unread = 0
        self._events.clear()

    def on_open(self, connection: Connection) -> None:
        self._events.append(LifecycleEvent("open", connection.hub, connection.connection_id, connection.user_id))

    def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
        self._count += len(recipients)
        if self._max == 0:
            return
        self._sends.append((send, recipients))
        self._unread += len(recipients)
        if self._max is not None and self._unread - len(self._sends[0][1]) >= self._max:
            self._forget_old_sends(self._max)

    def on_close(self, connection: Connection, reason: str | None) -> None:
        self._events.append(
            LifecycleEvent("close", connection.hub, connection.connection_id, connection.user_id, reason)
        )

    def _forget_old_sends(self, limit: int) -> None:
        """Drop the oldest unread sends whose deliveries all fall outside the ``limit`` most recent ones."""
        while self._unread - len(self._sends[0][1]) >= limit:
            self._unread -= len(self._sends.popleft()[1])
        if self._unread >= limit:
            self._deliveries.clear()  # every record made before is older than the ``limit`` most recent

    def _make_records(self) -> None:
        """Turn the unread sends into per-recipient records, oldest first (the deque drops what overflows)."""
        sends = self._sends
        while sends:
            send, recipients = sends.popleft()
            self._unread -= len(recipients)
            self._deliveries.extend(send.to(connection.connection_id, connection.user_id) for connection in recipients)
