"""Assertions on delivered messages that read naturally and, when they fail, show what *was* delivered.

``webpubsub.assert_delivered(to=alice, data="hi")``, ``assert_delivered(group="room", data={"x": 1})``,
``assert_not_delivered(user="bob")``. Every criterion is optional; all given criteria must hold for one
delivery. A failure lists every delivery with its recipient, so the mismatch is visible at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ._core.model import Delivery

if TYPE_CHECKING:
    from .clients import FakeClientConnection

_MISSING: Any = object()
PREFIX = "pytest-webpubsub: "


@dataclass(frozen=True)
class DeliveryQuery:
    """The criteria of one assertion; ``describe()`` words them for failure messages."""

    to: str | None = None
    user: str | None = None
    group: str | None = None
    hub: str | None = None
    data: Any = _MISSING
    data_type: str | None = None

    def matches(self, delivery: Delivery) -> bool:
        return (
            (self.to is None or delivery.connection_id == self.to)
            and (self.user is None or delivery.user_id == self.user)
            and (self.group is None or delivery.group == self.group)
            and (self.hub is None or delivery.hub == self.hub.lower())
            and (self.data_type is None or delivery.data_type == self.data_type)
            and (self.data is _MISSING or delivery.data == self.data)
        )

    def select(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """The deliveries this query matches, in order."""
        return [delivery for delivery in deliveries if self.matches(delivery)]

    def describe(self) -> str:
        words = [
            f"{name}={value!r}"
            for name, value in (
                ("to", self.to),
                ("user", self.user),
                ("group", self.group),
                ("hub", self.hub),
                ("data_type", self.data_type),
            )
            if value is not None
        ]
        if self.data is not _MISSING:
            words.append(f"data={self.data!r}")
        return ", ".join(words) or "any message"


def describe_delivery(delivery: Delivery) -> str:
    """One line: recipient, where it came from, the data type and the data."""
    user = f" (user {delivery.user_id!r})" if delivery.user_id is not None else " (anonymous)"
    origin = f"group {delivery.group!r}" if delivery.group is not None else "server"
    sender = f" from user {delivery.from_user_id!r}" if delivery.from_user_id is not None else ""
    return (
        f"to {delivery.connection_id}{user} in hub {delivery.hub!r} via {origin}{sender}: "
        f"{delivery.data_type} {delivery.data!r}"
    )


def explain(deliveries: Sequence[Delivery], heading: str) -> str:
    if not deliveries:
        return f"{PREFIX}{heading}\nNothing was delivered."
    lines = "\n".join(f"  - {describe_delivery(delivery)}" for delivery in deliveries)
    return f"{PREFIX}{heading}\nDelivered ({len(deliveries)}):\n{lines}"


class DeliveryAssertions:
    """Assertion helpers mixed into ``FakeWebPubSub``; they read ``self.deliveries``."""

    deliveries: tuple[Delivery, ...]

    def find_deliveries(
        self,
        *,
        to: FakeClientConnection | str | None = None,
        user: str | None = None,
        group: str | None = None,
        hub: str | None = None,
        data: Any = _MISSING,
        data_type: str | None = None,
    ) -> list[Delivery]:
        """The deliveries that meet every given criterion, in delivery order."""
        return _query(to, user, group, hub, data, data_type).select(self.deliveries)

    def assert_delivered(
        self,
        *,
        to: FakeClientConnection | str | None = None,
        user: str | None = None,
        group: str | None = None,
        hub: str | None = None,
        data: Any = _MISSING,
        data_type: str | None = None,
        times: int | None = None,
    ) -> list[Delivery]:
        """Assert that a delivery meets every given criterion (exactly ``times`` of them, if given)."""
        __tracebackhide__ = True
        query = _query(to, user, group, hub, data, data_type)
        found = query.select(self.deliveries)
        if not found or (times is not None and len(found) != times):
            expected = "a delivery" if times is None else f"exactly {times} deliveries"
            raise AssertionError(
                explain(self.deliveries, f"expected {expected} matching {query.describe()}, found {len(found)}.")
            )
        return found

    def assert_not_delivered(
        self,
        *,
        to: FakeClientConnection | str | None = None,
        user: str | None = None,
        group: str | None = None,
        hub: str | None = None,
        data: Any = _MISSING,
        data_type: str | None = None,
    ) -> None:
        """Assert that no delivery meets every given criterion."""
        __tracebackhide__ = True
        query = _query(to, user, group, hub, data, data_type)
        found = query.select(self.deliveries)
        if found:
            raise AssertionError(
                explain(found, f"expected no delivery matching {query.describe()}, found {len(found)}.")
            )


def _query(
    to: FakeClientConnection | str | None,
    user: str | None,
    group: str | None,
    hub: str | None,
    data: Any,
    data_type: str | None,
) -> DeliveryQuery:
    connection_id = to if to is None or isinstance(to, str) else to.connection_id
    return DeliveryQuery(connection_id, user, group, hub, data, data_type)
