"""The 25 REST operations of api-version 2024-12-01 as one table (service-behaviour §1.3).

Each route names its method, its path template, the first api-version that has it and its handler. The
table drives dispatch, the 405/404 answers and the coverage test against the SDK's operation list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence
from urllib.parse import unquote

SUPPORTED_API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")
LATEST_API_VERSION = SUPPORTED_API_VERSIONS[-1]


@dataclass(frozen=True)
class Route:
    """One REST operation: ``name`` is the SDK method it serves."""

    name: str
    method: str
    template: str
    since: str = SUPPORTED_API_VERSIONS[0]

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


_HUB = "/api/hubs/{hub}"
ROUTES: tuple[Route, ...] = (
    Route("get_service_status", "HEAD", "/api/health"),
    Route("send_to_all", "POST", _HUB + "/:send"),
    Route("send_to_user", "POST", _HUB + "/users/{userId}/:send"),
    Route("send_to_group", "POST", _HUB + "/groups/{group}/:send"),
    Route("send_to_connection", "POST", _HUB + "/connections/{connectionId}/:send"),
    Route("close_all_connections", "POST", _HUB + "/:closeConnections"),
    Route("close_group_connections", "POST", _HUB + "/groups/{group}/:closeConnections"),
    Route("close_user_connections", "POST", _HUB + "/users/{userId}/:closeConnections"),
    Route("close_connection", "DELETE", _HUB + "/connections/{connectionId}"),
    Route("connection_exists", "HEAD", _HUB + "/connections/{connectionId}"),
    Route("user_exists", "HEAD", _HUB + "/users/{userId}"),
    Route("group_exists", "HEAD", _HUB + "/groups/{group}"),
    Route("add_connection_to_group", "PUT", _HUB + "/groups/{group}/connections/{connectionId}"),
    Route("remove_connection_from_group", "DELETE", _HUB + "/groups/{group}/connections/{connectionId}"),
    Route("remove_connection_from_all_groups", "DELETE", _HUB + "/connections/{connectionId}/groups", "2022-11-01"),
    Route("add_user_to_group", "PUT", _HUB + "/users/{userId}/groups/{group}"),
    Route("remove_user_from_group", "DELETE", _HUB + "/users/{userId}/groups/{group}"),
    Route("remove_user_from_all_groups", "DELETE", _HUB + "/users/{userId}/groups"),
    Route("add_connections_to_groups", "POST", _HUB + "/:addToGroups", "2023-07-01"),
    Route("remove_connections_from_groups", "POST", _HUB + "/:removeFromGroups", "2023-07-01"),
    Route("list_connections", "GET", _HUB + "/groups/{group}/connections", "2024-12-01"),
    Route("grant_permission", "PUT", _HUB + "/permissions/{permission}/connections/{connectionId}"),
    Route("revoke_permission", "DELETE", _HUB + "/permissions/{permission}/connections/{connectionId}"),
    Route("has_permission", "HEAD", _HUB + "/permissions/{permission}/connections/{connectionId}"),
    Route("get_client_access_token", "POST", _HUB + "/:generateToken"),
)


@dataclass(frozen=True)
class Resolution:
    """The outcome of routing: a route and its parameters, or the methods the path allows."""

    route: Route | None
    params: dict[str, str]
    allowed_methods: tuple[str, ...] = ()


def _index(routes: Sequence[Route]) -> dict[tuple[int, str], tuple[Route, ...]]:
    """Routes by (segment count, last segment), the last segment being ``*`` where it is a parameter."""
    index: dict[tuple[int, str], list[Route]] = {}
    for route in routes:
        last = route.segments[-1]
        index.setdefault((len(route.segments), "*" if last.startswith("{") else last), []).append(route)
    return {key: tuple(candidates) for key, candidates in index.items()}


_ROUTE_INDEX = _index(ROUTES)


def resolve(method: str, raw_path: str) -> Resolution:
    """Find the route for a method and a percent-encoded path."""
    raw_segments = raw_path.strip("/").split("/")
    count = len(raw_segments)
    candidates = _ROUTE_INDEX.get((count, raw_segments[-1]), ()) + _ROUTE_INDEX.get((count, "*"), ())
    allowed: list[str] = []
    for route in candidates:
        params = route.match(raw_segments)
        if params is None:
            continue
        if route.method == method.upper():
            return Resolution(route, params)
        allowed.append(route.method)
    return Resolution(None, {}, tuple(allowed))

