"""Assertions on delivered messages that read naturally and, when they fail, show what *was* delivered.

``webpubsub.assert_delivered(to=alice, data="hi")``, ``assert_delivered(group="room", data={"x": 1})``,
``assert_not_delivered(user="bob")``. Every criterion is optional; all given criteria must hold for one
delivery. A failure lists every delivery with its recipient, so the mismatch is visible at once; when nothing
matched, it also lists the REST sends of the test and how many connections each reached.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ._core.model import Delivery

if TYPE_CHECKING:
    from ._rest.dispatch import RestCall
    from .clients import FakeClientConnection

_MISSING: Any = object()
PREFIX = "pytest-webpubsub: "
SEND_OPERATIONS = ("send_to_all", "send_to_user", "send_to_group", "send_to_connection")
"""The REST operations that deliver messages."""
_TARGETS = (("userId", "user"), ("group", "group"), ("connectionId", "connection"))


@dataclass(frozen=True)
class DeliveryQuery:
    """The criteria of one assertion; ``describe()`` words them for failure messages.

    ``recipient`` words the connection given as ``to`` (its user), for the message only.
    """

    to: str | None = None
    user: str | None = None
    group: str | None = None
    hub: str | None = None
    data: Any = _MISSING
    data_type: str | None = None
    recipient: str | None = field(default=None, compare=False)

    def matches(self, delivery: Delivery) -> bool:
        """Whether ``delivery`` meets every given criterion (hubs compare case-insensitively)."""
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
        """The criteria as keyword arguments, e.g. ``to='...' (user 'alice'), data='hi'``."""
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
        if self.to is not None and self.recipient is not None:
            words[0] += f" ({self.recipient})"
        if self.data is not _MISSING:
            words.append(f"data={self.data!r}")
        return ", ".join(words) or "any message"


def describe_delivery(delivery: Delivery) -> str:
    """One line: recipient, where it came from, the data type and the data."""
    origin = f"group {delivery.group!r}" if delivery.group is not None else "server"
    sender = f" from user {delivery.from_user_id!r}" if delivery.from_user_id is not None else ""
    return (
        f"to {delivery.connection_id} ({_user(delivery.user_id)}) in hub {delivery.hub!r} via {origin}{sender}: "
        f"{delivery.data_type} {delivery.data!r}"
    )


def explain(deliveries: Sequence[Delivery], heading: str, *, marked: Sequence[Delivery] = ()) -> str:
    """The failure message: ``heading``, then every delivery, those in ``marked`` flagged ``<-- matches``."""
    if not deliveries:
        return f"{PREFIX}{heading}\nNothing was delivered."
    flagged = {id(delivery) for delivery in marked}
    lines = "\n".join(
        f"  - {describe_delivery(delivery)}{'  <-- matches' if id(delivery) in flagged else ''}"
        for delivery in deliveries
    )
    count = f"{len(deliveries)}, {len(marked)} matching" if marked else f"{len(deliveries)}"
    return f"{PREFIX}{heading}\nDelivered ({count}):\n{lines}"


def explain_rest_sends(calls: Sequence[RestCall], deliveries: Sequence[Delivery]) -> str:
    """Where the REST sends went: each one's operation, hub, target, status and the connections it reached.

    Unrouted calls (operation None) are listed too: they are often a send to a wrong path.
    """
    sends = [call for call in calls if call.operation in SEND_OPERATIONS or call.operation is None]
    if not sends:
        return "No REST send was made."
    # The fake keeps a send's request body as the payload of each delivery it makes, so the deliveries of a
    # call are those whose payload *is* its body. Where that object may be shared (CPython caches b"" and the
    # one-byte bytes; an app may send one bytes object twice), the link is ambiguous and the count left out.
    shared = Counter(id(call.request.body) for call in sends)
    reached = Counter(id(delivery.message.payload) for delivery in deliveries)
    lines = []
    for call in sends:
        body = call.request.body
        ambiguous = len(body) <= 1 or shared[id(body)] > 1
        lines.append(_describe_send(call, None if ambiguous else reached[id(body)]))
    return f"REST sends ({len(sends)}):\n" + "\n".join(f"  - {line}" for line in lines)


def _describe_send(call: RestCall, reached: int | None) -> str:
    from ._rest.routes import resolve

    request = call.request
    answer = "-> no answer" if call.status_code is None else f"-> {call.status_code}"
    if call.error:
        answer += f" ({call.error.splitlines()[0]})"
    elif call.status_code is not None and 200 <= call.status_code < 300 and reached is not None:
        answer += f", reached {reached} connection{'' if reached == 1 else 's'}"
    if call.operation is None:
        return f"{request.method} {request.url} {answer}"
    params = resolve(request.method, request.parts.path).params
    words = [call.operation, f"hub {params.get('hub')!r}"]
    words += [f"{label} {params[key]!r}" for key, label in _TARGETS if key in params]
    query = parse_qs(request.parts.query)
    words += [f"filter {value!r}" for value in query.get("filter", [])]
    if query.get("excluded"):
        words.append(f"excluding {', '.join(query['excluded'])}")
    return f"{' '.join(words)} {answer}"


class DeliveryAssertions:
    """Assertion helpers mixed into ``FakeWebPubSub``; they read ``self.deliveries`` and ``self.rest_calls``."""

    if TYPE_CHECKING:  # provided by the class that mixes this in

        @property
        def deliveries(self) -> tuple[Delivery, ...]: ...

        @property
        def rest_calls(self) -> list[RestCall]: ...

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
        """Assert that a delivery meets every given criterion (exactly ``times`` of them, if given).

        Returns the matching deliveries. ``times=0`` means none, like ``assert_not_delivered``.
        """
        __tracebackhide__ = True
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
            raise ValueError(f"times={times!r} must be a whole number >= 0 (0: no delivery) or None (at least one)")
        query = _query(to, user, group, hub, data, data_type)
        if times == 0:
            self._refute(query)
            return []
        found = query.select(self.deliveries)
        if found and (times is None or len(found) == times):
            return found
        expected = "a delivery" if times is None else f"exactly {times} deliver{'y' if times == 1 else 'ies'}"
        message = explain(self.deliveries, f"expected {expected} matching {query.describe()}, found {len(found)}.")
        if not found:
            message += "\n" + explain_rest_sends(self.rest_calls, self.deliveries)
        raise AssertionError(message)

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
        self._refute(_query(to, user, group, hub, data, data_type))

    def _refute(self, query: DeliveryQuery) -> None:
        __tracebackhide__ = True
        found = query.select(self.deliveries)
        if found:
            heading = f"expected no delivery matching {query.describe()}, found {len(found)}."
            raise AssertionError(explain(self.deliveries, heading, marked=found))


def _user(user_id: str | None) -> str:
    return "anonymous" if user_id is None else f"user {user_id!r}"


def _query(
    to: FakeClientConnection | str | None,
    user: str | None,
    group: str | None,
    hub: str | None,
    data: Any,
    data_type: str | None,
) -> DeliveryQuery:
    if to is None or isinstance(to, str):
        return DeliveryQuery(to, user, group, hub, data, data_type)
    return DeliveryQuery(to.connection_id, user, group, hub, data, data_type, recipient=_user(to.user_id))
