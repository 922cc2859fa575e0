"""Records of the upstream side: the HTTP requests the service sends to an event handler, the answers, the calls.

Also the narrow interface the connection gateway and the sessions use (``ConnectionInfo``, ``ConnectEvent``,
``ConnectDecision``, ``UserEventResult``). Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from .._core.model import Message

HeadersInput = Union[Mapping[str, str], Iterable["tuple[str, str]"], None]


class Headers(Mapping[str, str]):
    """Immutable HTTP headers: looked up case-insensitively, iterated with the sender's spelling.

    ``dict(headers)`` copies them as sent. A name sent twice keeps the first spelling and joins the values
    with ``", "``, as HTTP allows.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, headers: HeadersInput = None) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
        items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"header {name!r}: {value!r}: names and values must be str")
            key = name.lower()
            if key in items:
                items[key] = (items[key][0], f"{items[key][1]}, {value}")
            else:
                items[key] = (name, value)
        self._index = items
        self._items = tuple(items.values())

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self._items)!r})"

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        mine = {name.lower(): value for name, value in self._items}
        return mine == {str(name).lower(): value for name, value in other.items()}


def _json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


@dataclass(frozen=True, init=False)
class UpstreamRequest:
    """One HTTP request the service sends to an event handler (``method``, ``url``, ``headers``, ``body``)."""

    method: str
    url: str
    headers: Headers
    body: bytes

    def __init__(self, method: str, url: str, headers: HeadersInput = None, body: bytes = b"") -> None:
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        object.__setattr__(self, "body", bytes(body))

    def json(self) -> Any:
        """The body parsed as JSON (system events' bodies, JSON user events)."""
        return _json(self.body)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@dataclass(frozen=True, init=False)
class UpstreamResponse:
    """An event handler's answer. ``UpstreamResponse(204)`` accepts; a plain callable may return it.

    ``body`` may be given as ``str`` (stored UTF-8 encoded).
    """

    status: int
    headers: Headers
    body: bytes

    def __init__(self, status: int, headers: HeadersInput = None, body: bytes | str = b"") -> None:
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status={status!r} must be an HTTP status code (100-599)")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        object.__setattr__(self, "body", body.encode("utf-8") if isinstance(body, str) else bytes(body))

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json(self.body)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class UpstreamCall:
    """One call of an event handler, in the order the service made them (the validation included).

    ``event`` is ``validate``, ``connect``, ``connected``, ``disconnected`` or the user event's name;
    ``connection_id`` and ``user_id`` are None for ``validate``. ``response`` is None when no answer came
    (the app raised, the call timed out, the host was unreachable); then ``error`` says why, with the traceback.
    """

    hub: str
    event: str
    connection_id: str | None
    user_id: str | None
    request: UpstreamRequest
    response: UpstreamResponse | None
    error: str | None = None

    @property
    def status(self) -> int:
        """The status the service acted on: the answer's, or 500 when no answer came."""
        return self.response.status if self.response is not None else 500


class AbuseProtectionError(Exception):
    """An event handler failed the abuse-protection handshake (``OPTIONS``), so it was not added."""

    def __init__(self, message: str, *, call: UpstreamCall) -> None:
        super().__init__(f"pytest-webpubsub: {message}")
        self.call = call


# -- the interface the connection gateway and the sessions call -------------------------------------------


@dataclass(frozen=True)
class ConnectionInfo:
    """Who an event is about: what the service puts in ``ce-hub``, ``ce-connectionId``, ``ce-userId``,
    ``ce-subprotocol``."""

    hub: str
    connection_id: str
    user_id: str | None = None
    subprotocol: str | None = None


@dataclass(frozen=True)
class ConnectEvent:
    """What the service knows at the upgrade, sent with the blocking ``connect`` event.

    ``claims``, ``query`` and ``headers`` map a name to its values (``access_token`` and ``Authorization`` are
    left out of the event, as the service does); ``subprotocols`` are the ones the client offered.
    """

    connection: ConnectionInfo
    claims: Mapping[str, Sequence[str]] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    subprotocols: Sequence[str] = ()
    client_certificates: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True)
class ConnectDecision:
    """The outcome of ``connect``. Refused: ``status`` is the handler's 4xx (any other failure: 500).

    Accepted: the fields that are not None replace the token's values (``groups`` are joined, ``roles`` set
    the permissions, ``subprotocol`` is the one to echo).
    """

    accepted: bool
    status: int
    reason: str | None = None
    user_id: str | None = None
    groups: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    subprotocol: str | None = None


@dataclass(frozen=True)
class UserEventResult:
    """The outcome of a user event.

    ``ok`` with a ``reply``: send it to the client as a ``server`` message before the ack; ``ok`` without one:
    nothing. Not ``ok``: a JSON client gets an ``InternalServerError`` ack, a simple client is closed; ``error``
    says why.
    """

    ok: bool
    reply: Message | None = None
    error: str | None = None
