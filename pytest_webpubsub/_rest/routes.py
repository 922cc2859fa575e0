"""The route table of the 25 REST operations of api-version 2024-12-01 (service-behaviour §1.3).

Each handler in :mod:`handlers` declares its own route with the :func:`route` decorator: the SDK method it serves
(its name), the HTTP method, the path template and the first api-version that has it. The one table, :data:`ROUTES`,
drives dispatch, the 405/404 answers and the coverage test against the SDK's operation list. Registering a name,
or a method and path, twice raises at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, TypeVar, overload
from urllib.parse import unquote

if TYPE_CHECKING:
    from .handlers import RestContext
    from .http import FakeResponse

    Handler = Callable[[RestContext], FakeResponse]

SUPPORTED_API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")
LATEST_API_VERSION = SUPPORTED_API_VERSIONS[-1]
HUB = "/api/hubs/{hub}"
"""The prefix of every hub-scoped template."""
HUB_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "api-supported-versions": ", ".join(SUPPORTED_API_VERSIONS),
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    }
)
"""The headers of every answer to a hub-scoped operation (read-only)."""
HEALTH_HEADERS: Mapping[str, str] = MappingProxyType(
    {"Strict-Transport-Security": HUB_HEADERS["Strict-Transport-Security"]}
)
"""The headers of every answer of the health check (read-only)."""

_H = TypeVar("_H", bound="Handler")


@dataclass(frozen=True)
class Route:
    """One REST operation: ``name`` is the SDK method it serves, ``handler`` the function that answers it."""

    name: str
    method: str
    template: str
    since: str = SUPPORTED_API_VERSIONS[0]
    handler: Handler | None = field(default=None, compare=False, repr=False)

    @cached_property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))

    @property
    def hub_scoped(self) -> bool:
        return "{hub}" in self.template

    def match(self, raw_segments: Sequence[str]) -> dict[str, str] | None:
        """Match percent-encoded path segments; return the decoded parameters or None."""
        if len(raw_segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, raw in zip(self.segments, raw_segments):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = unquote(raw)
            elif pattern != raw:
                return None
        return params


@dataclass(frozen=True)
class Resolution:
    """The outcome of routing: a route and its parameters, or the methods the path allows."""

    route: Route | None
    params: dict[str, str]
    allowed_methods: tuple[str, ...] = ()


class RouteTable(Sequence[Route]):
    """The registered routes in declaration order, indexed by (segment count, last literal segment)."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._index: dict[tuple[int, str], tuple[Route, ...]] = {}

    def route(
        self, name: str, method: str, template: str, since: str = SUPPORTED_API_VERSIONS[0]
    ) -> Callable[[_H], _H]:
        """Decorate the handler of the operation ``name`` (the SDK method), answering ``method template``."""

        def register(handler: _H) -> _H:
            self.add(Route(name, method.upper(), template, since, handler))
            return handler

        return register

    def add(self, route: Route) -> None:
        """Register one route; a name or a method and template registered before raise :class:`ValueError`."""
        if route.name in self._routes:
            raise ValueError(f"the REST operation {route.name!r} is declared twice")
        same_place = (route.method, route.template)
        clash = next((r for r in self._routes.values() if (r.method, r.template) == same_place), None)
        if clash is not None:
            raise ValueError(f"{route.method} {route.template} is declared by both {clash.name!r} and {route.name!r}")
        if route.since not in SUPPORTED_API_VERSIONS:
            raise ValueError(f"{route.name!r}: unknown api-version {route.since!r}")
        self._routes[route.name] = route
        last = route.segments[-1]
        key = (len(route.segments), "*" if last.startswith("{") else last)
        self._index[key] = (*self._index.get(key, ()), route)

    def resolve(self, method: str, raw_path: str) -> Resolution:
        """Find the route for a method and a percent-encoded path."""
        raw_segments = raw_path.strip("/").split("/")
        count = len(raw_segments)
        candidates = self._index.get((count, raw_segments[-1]), ()) + self._index.get((count, "*"), ())
        allowed: list[str] = []
        for route in candidates:
            params = route.match(raw_segments)
            if params is None:
                continue
            if route.method == method.upper():
                return Resolution(route, params)
            allowed.append(route.method)
        return Resolution(None, {}, tuple(allowed))

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes.values())

    @overload
    def __getitem__(self, index: int) -> Route: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Route]: ...

    def __getitem__(self, index: int | slice) -> Route | Sequence[Route]:
        return list(self._routes.values())[index]


ROUTES = RouteTable()
"""Every REST operation, filled by the :func:`route` decorators of :mod:`handlers` as it is imported."""
route = ROUTES.route
resolve = ROUTES.resolve
