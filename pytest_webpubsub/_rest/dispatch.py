"""Route a :class:`FakeRequest` to its handler and turn the outcome into the service's exact answer.

Order of checks, as a request meets them: route (404/405) → injected fault → authentication (401) →
api-version (400) → handler. Every call is recorded as a :class:`RestCall`, refused ones included.

No exception escapes :meth:`RestDispatcher.dispatch`: a refusal the core raises becomes the service's status and
error body; anything else (a bug in the fake) becomes a 500 with the same body shape, recorded with its traceback
in :attr:`RestCall.error`.
"""

from __future__ import annotations

import json
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
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
from .handlers import JSON_CONTENT_TYPE, RestContext
from .http import FakeRequest, FakeResponse
from .routes import LATEST_API_VERSION, ROUTES, SUPPORTED_API_VERSIONS, Route, resolve

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

    ``error`` says why a call was refused (the reason of a 401 is not in the service's empty body); for a 500
    (a bug in the fake) it holds the traceback.
    """

    operation: str | None
    request: FakeRequest
    response: FakeResponse
    error: str | None = None

    @property
    def status_code(self) -> int:
        """The status of the answer."""
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
        """The answer of the faulted call: empty, with ``Retry-After`` when set."""
        headers = {"Content-Length": "0"}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return FakeResponse(self.status, headers)


class RestDispatcher:
    """The REST surface of one fake service.

    Every call is kept in :attr:`calls` (about 1.5 KB each, the request's headers and body included); a long test
    can keep only the most recent ``max_calls`` or :meth:`clear_calls`, while :attr:`call_count` counts them all.
    """

    def __init__(
        self,
        service: WebPubSubService,
        *,
        endpoint: str,
        keys: Sequence[str],
        clock: Clock,
        max_calls: int | None = None,
    ) -> None:
        if max_calls is not None and max_calls < 0:
            raise ValueError(f"max_calls must be None or at least 0, not {max_calls}")
        self._service = service
        self._endpoint = endpoint
        self._keys = tuple(keys)
        self._clock = clock
        self.calls: deque[RestCall] = deque(maxlen=max_calls)
        """The calls answered so far, oldest first (the most recent ``max_calls`` when bounded)."""
        self.call_count = 0
        """Every call answered since the start, the forgotten ones included."""
        self.faults: list[Fault] = []

    def clear_calls(self) -> None:
        """Forget the recorded calls (``call_count`` keeps counting)."""
        self.calls.clear()

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        """Answer one request as the service would, and record it in :attr:`calls`; never raises."""
        route: Route | None = None
        error: str | None = None
        try:
            resolution = resolve(request.method, request.parts.path)
            route = resolution.route
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
                        response, error = self._error(request, refused), refused.message
                response = _with_headers(response, HUB_HEADERS if route.hub_scoped else HEALTH_HEADERS)
        except Exception:  # a bug in the fake: the caller gets the service's 500, the test the traceback
            response, error = self._internal_error(request), traceback.format_exc()
        self.calls.append(RestCall(route.name if route else None, request, response, error))
        self.call_count += 1
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
        assert route.handler is not None  # every route in the table is declared by its handler
        return route.handler(context)

    def _take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.operation in (None, operation):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _error(request: FakeRequest, error: WebPubSubError) -> FakeResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
        return _error_response(request, status, error.code, error.message, error.target)

    @staticmethod
    def _internal_error(request: FakeRequest) -> FakeResponse:
        response = _error_response(request, 500, INTERNAL_ERROR_CODE, "An internal server error occurred.", None)
        return _with_headers(response, HEALTH_HEADERS)

    @staticmethod
    def _no_route(request: FakeRequest, allowed: tuple[str, ...]) -> tuple[FakeResponse, str]:
        if allowed:
            headers = {"Allow": ", ".join(allowed), "Content-Length": "0"}
            return FakeResponse(405, headers), f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        known = "\n".join(f"  - {route.method} {route.template}" for route in ROUTES)
        reason = f"no REST operation has this path; known operations:\n{known}"
        return FakeResponse(404, {"Content-Length": "0"}), reason


INTERNAL_ERROR_CODE = "Error.InternalServerError"
"""The code of the fake's 500 answer (the service's own 500 body is not recorded; its error bodies have this shape)."""


def _error_response(request: FakeRequest, status: int, code: str, message: str, target: str | None) -> FakeResponse:
    """The service's error answer: ``{"code","message","target","details","inner"}`` and ``x-ms-error-code``."""
    body = json.dumps(
        {"code": code, "message": message, "target": target, "details": None, "inner": None},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8", "backslashreplace")
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-ms-error-code": code, "Content-Length": str(len(body))}
    return FakeResponse(status, headers, b"" if request.method == "HEAD" else body)


def _with_headers(response: FakeResponse, headers: dict[str, str]) -> FakeResponse:
    """``response`` with ``headers`` added (handlers answer with fresh dicts, so this completes them in place)."""
    if isinstance(response.headers, dict):
        response.headers.update(headers)
        return response
    return FakeResponse(response.status_code, {**response.headers, **headers}, response.body)


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
