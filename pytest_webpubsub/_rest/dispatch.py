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
from collections.abc import Mapping, Sequence
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
from .._faults import FailureKind, InjectedFailure
from .handlers import JSON_CONTENT_TYPE, RestContext
from .http import FakeRequest, FakeResponse
from .routes import HEALTH_HEADERS, HUB_HEADERS, LATEST_API_VERSION, ROUTES, SUPPORTED_API_VERSIONS, Route, resolve

MAX_PLANS = 256
"""How many request plans (see :class:`_Plan`) one dispatcher keeps; the oldest is forgotten first."""

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
    response: FakeResponse | None
    """The answer; None when an injected connection failure or timeout left the call without one."""
    error: str | None = None

    def __init__(
        self, operation: str | None, request: FakeRequest, response: FakeResponse | None, error: str | None = None
    ) -> None:
        # The generated __init__ of a frozen dataclass, without its object.__setattr__ call per field.
        fields = self.__dict__
        fields["operation"] = operation
        fields["request"] = request
        fields["response"] = response
        fields["error"] = error

    @property
    def status_code(self) -> int | None:
        """The status of the answer (None: no answer, see ``error``)."""
        return None if self.response is None else self.response.status_code

    def __str__(self) -> str:
        reason = f" ({self.error})" if self.error else ""
        answer = "no answer" if self.status_code is None else str(self.status_code)
        return f"{self.request.method} {self.request.url} -> {answer}{reason}"


@dataclass
class Fault:
    """An injected failure of the next ``times`` calls of ``operation`` (any when None) about ``target`` (a group,
    user or connection id the call names; any when None): answered with ``status``, or, with ``failure``, not
    answered at all (a connection failure or a timeout, raised by the seam in its library's terms). ``delay``
    seconds pass on the fake's clock before the call fails (nothing waits)."""

    status: int | None
    times: int = 1
    operation: str | None = None
    retry_after: float | None = None
    failure: FailureKind | None = None
    target: str | None = None
    delay: float = 0.0

    def matches(self, operation: str, params: dict[str, str]) -> bool:
        """Whether this fault applies to a call of ``operation`` with these path parameters."""
        if self.operation not in (None, operation):
            return False
        return self.target is None or self.target in (
            params.get("group"), params.get("userId"), params.get("connectionId")
        )

    def describe(self) -> str:
        """``503 x2 on send_to_group about 'room'``: for failure messages."""
        kind = f"{self.failure} failure" if self.failure else str(self.status)
        where = f" on {self.operation}" if self.operation else ""
        about = f" about {self.target!r}" if self.target else ""
        return f"{kind} x{self.times}{where}{about}"

    def response(self) -> FakeResponse:
        """The answer of the faulted call: empty, with ``Retry-After`` when set."""
        headers = {"Content-Length": "0"}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return FakeResponse(self.status or 500, headers)


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
        self._verify_token = _tokens.RestTokenVerifier(self._keys)
        self._plans: dict[tuple[str, str], _Plan] = {}

    def clear_calls(self) -> None:
        """Forget the recorded calls (``call_count`` keeps counting)."""
        self.calls.clear()

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        """Answer one request as the service would, and record it in :attr:`calls`.

        Raises only :class:`InjectedFailure`, for a call an injected connection failure or timeout leaves without
        an answer (recorded first); the seam turns it into its library's exception.
        """
        route: Route | None = None
        error: str | None = None
        failure: InjectedFailure | None = None
        response: FakeResponse | None
        try:
            plan = self._plans.get((request.method, request.url)) or self._plan(request)
            route = plan.route
            if route is None:
                response, error = self._no_route(request, plan.allowed_methods)
            else:
                fault = self._take_fault(route.name, plan.params) if self.faults else None
                if fault is not None and fault.failure is not None:
                    failure = InjectedFailure(fault.failure, route.name)
                    response, error = None, f"injected fault: {fault.failure} failure"
                elif fault is not None:
                    response, error = _with_headers(fault.response(), plan.headers), f"injected fault {fault.status}"
                else:
                    try:
                        response = self._handle(route, plan, request)  # complete: handlers add the hub headers
                    except UnauthorizedError as refused:
                        response, error = _with_headers(FakeResponse(401), plan.headers), refused.message
                    except WebPubSubError as refused:
                        response, error = _with_headers(self._error(request, refused), plan.headers), refused.message
        except Exception:  # a bug in the fake: the caller gets the service's 500, the test the traceback
            failure = None
            response, error = self._internal_error(request), traceback.format_exc()
        self.calls.append(RestCall(route.name if route else None, request, response, error))
        self.call_count += 1
        if failure is not None:
            raise failure
        assert response is not None  # only an injected failure leaves a call without an answer
        return response

    def _plan(self, request: FakeRequest) -> _Plan:
        """Resolve a request's method and URL (see :class:`_Plan`) and remember it."""
        resolution = resolve(request.method, request.parts.path)
        plan = _Plan(resolution.route, resolution.params, resolution.allowed_methods, request)
        plans = self._plans
        if len(plans) >= MAX_PLANS:
            del plans[next(iter(plans))]
        plans[(request.method, request.url)] = plan
        return plan

    def _handle(self, route: Route, plan: _Plan, request: FakeRequest) -> FakeResponse:
        now = self._clock()
        if plan.authenticated:
            token_now = rest_token_time(self._clock, now)
            self._verify_token(request.header("Authorization"), url=request.url, now=token_now)
        if not plan.version_supported:  # refused here, after authentication, as the service does
            _check_api_version(route, request, plan.query.get("api-version", []))
        context = RestContext(self._service, request, plan.params, plan.query, self._endpoint, self._keys[0], now)
        assert route.handler is not None  # every route in the table is declared by its handler
        return route.handler(context)

    def _take_fault(self, operation: str, params: dict[str, str]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(operation, params):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.delay:
                    advance = getattr(self._clock, "advance", None)
                    if advance is not None:
                        advance(fault.delay)
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


def _with_headers(response: FakeResponse, headers: Mapping[str, str]) -> FakeResponse:
    """``response`` with ``headers`` added (a fresh dict of headers is completed in place)."""
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


class _Plan:
    """What a request's method and URL alone decide, kept per dispatcher so that a repeated call skips it: the route
    and its path parameters (or the methods the path allows), the parsed query, whether the call is authenticated,
    whether its api-version is supported, and the headers every answer of the route carries.

    Nothing here refuses a call: dispatch still takes its checks in their order (route, fault, authentication,
    api-version), and an unsupported api-version is refused where its check stands. ``params`` and ``query`` are
    shared by every call with this URL: read-only.
    """

    __slots__ = ("allowed_methods", "authenticated", "headers", "params", "query", "route", "version_supported")

    def __init__(
        self, route: Route | None, params: dict[str, str], allowed_methods: tuple[str, ...], request: FakeRequest
    ) -> None:
        self.route = route
        self.params = params
        self.allowed_methods = allowed_methods
        self.query: dict[str, list[str]] = {}
        self.authenticated = self.version_supported = True
        self.headers: Mapping[str, str] = HEALTH_HEADERS
        if route is None:
            return
        self.query = parse_qs(request.parts.query, keep_blank_values=True)
        self.authenticated = route.name != "get_service_status"
        if route.hub_scoped:  # health answers 200 whatever the api-version (service-behaviour §1.3 row 1)
            self.headers = HUB_HEADERS
            try:
                _check_api_version(route, request, self.query.get("api-version", []))
            except BadRequestError:
                self.version_supported = False
