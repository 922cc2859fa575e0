"""Route a :class:`FakeRequest` to its handler and turn the outcome into the service's exact answer.

Order of checks, as a request meets them: route (404/405) → injected fault → authentication (401) →
api-version (400) → handler. Every call is recorded as a :class:`RestCall`, refused ones included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import parse_qs

from .. import _tokens
from .._core.clock import Clock, rest_token_time
from .._core.errors import (
    BadRequestError,
    NotFoundError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    WebPubSubError,
)
from .._core.service import WebPubSubService
from . import handlers
from .handlers import JSON_CONTENT_TYPE, RestContext
from .http import FakeRequest, FakeResponse
from .routes import LATEST_API_VERSION, ROUTES, SUPPORTED_API_VERSIONS, Route, resolve

_HANDLERS: dict[str, Callable[[RestContext], FakeResponse]] = {route.name: getattr(handlers, route.name) for route in ROUTES}
HUB_HEADERS = {
    "api-supported-versions": ", ".join(SUPPORTED_API_VERSIONS),
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
HEALTH_HEADERS = {"Strict-Transport-Security": HUB_HEADERS["Strict-Transport-Security"]}
_STATUS = {
    BadRequestError: 400,
    UnauthorizedError: 401,
    NotFoundError: 404,
    UnsupportedMediaTypeError: 415,
}


@dataclass(frozen=True)
class RestCall:
    """One REST call the fake answered: the operation (None when no route matched), request, response.

    ``error`` says why a call was refused (the reason of a 401 is not in the service's empty body).
    """

    operation: str | None
    request: FakeRequest
    response: FakeResponse
    error: str | None = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def __str__(self) -> str:
        reason = f" ({self.error})" if self.error else ""
        return f"{self.request.method} {self.request.url} -> {self.status_code}{reason}"


@dataclass
class Fault:
    """An injected failure: answer the next ``times`` calls of ``operation`` (any when None) with ``status``."""

    status: int
    times: int = 1
    operation: str | None = None
    retry_after: float | None = None

    def response(self) -> FakeResponse:
        headers = {"Content-Length": "0"}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return FakeResponse(self.status, headers)


class RestDispatcher:
    """The REST surface of one fake service."""

    def __init__(self, service: WebPubSubService, *, endpoint: str, keys: Sequence[str], clock: Clock) -> None:
        self._service = service
        self._endpoint = endpoint
        self._keys = tuple(keys)
        self._clock = clock
        self.calls: list[RestCall] = []
        self.faults: list[Fault] = []

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        resolution = resolve(request.method, request.parts.path)
        route = resolution.route
        error: str | None = None
        if route is None:
            response, error = self._no_route(request, resolution.allowed_methods)
        else:
            fault = self._take_fault(route.name)
            if fault is not None:
                response, error = fault.response(), f"injected fault {fault.status}"
            else:
                try:
                    response = self._handle(route, resolution.params, request)
                except UnauthorizedError as refused:
                    response, error = FakeResponse(401), refused.message
                except WebPubSubError as refused:
                    response, error = self._error(route, request, refused), refused.message
            # Every handler answers with a fresh headers dict, completed here before anyone sees it.
            response.headers.update(HUB_HEADERS if route.hub_scoped else HEALTH_HEADERS)  # type: ignore[attr-defined]
        self.calls.append(RestCall(route.name if route else None, request, response, error))
        return response

    def _handle(self, route: Route, params: dict[str, str], request: FakeRequest) -> FakeResponse:
        now = self._clock()
        if route.name != "get_service_status":
            _tokens.verify_rest_token(
                request.header("Authorization"), url=request.url, keys=self._keys, now=rest_token_time(self._clock)
            )
        query = parse_qs(request.parts.query, keep_blank_values=True)
        if route.hub_scoped:  # health answers 200 whatever the api-version (service-behaviour §1.3 row 1)
            _check_api_version(route, request, query.get("api-version", []))
        context = RestContext(
            service=self._service,
            request=request,
            params=params,
            query=query,
            endpoint=self._endpoint,
            signing_key=self._keys[0],
            now=now,
        )
        return _HANDLERS[route.name](context)

    def _take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.operation in (None, operation):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _error(route: Route, request: FakeRequest, error: WebPubSubError) -> FakeResponse:
        body = json.dumps(
            {"code": error.code, "message": error.message, "target": error.target, "details": None, "inner": None},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": JSON_CONTENT_TYPE, "x-ms-error-code": error.code, "Content-Length": str(len(body))}
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
        return FakeResponse(status, headers, b"" if request.method == "HEAD" else body)

    @staticmethod
    def _no_route(request: FakeRequest, allowed: tuple[str, ...]) -> tuple[FakeResponse, str]:
        if allowed:
            headers = {"Allow": ", ".join(allowed), "Content-Length": "0"}
            return FakeResponse(405, headers), f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        known = "\n".join(f"  - {route.method} {route.template}" for route in ROUTES)
        return FakeResponse(404, {"Content-Length": "0"}), f"no REST operation has this path; known operations:\n{known}"


def _check_api_version(route: Route, request: FakeRequest, values: list[str]) -> None:
    if len(values) > 1:
        raise BadRequestError("The query parameter 'api-version' must not be repeated", target="api-version")
    version = values[0] if values else LATEST_API_VERSION
    if version not in SUPPORTED_API_VERSIONS or version < route.since:
        raise BadRequestError(
            f"The HTTP resource that matches the request URI '{request.url}' does not support the API version "
            f"'{version}'.",
            code="UnsupportedApiVersion",
            target="api-version",
        )
