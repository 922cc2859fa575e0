"""Route apps that call the REST API with httpx (sync and async) to the fake, through respx.

One respx router, shared by every active fake and reference-counted, holds a route per fake host. Other
hosts are left alone: with no other respx router active they pass through to the network; with the user's
own respx router active, they are left for it to match. ``*.webpubsub.azure.com`` hosts no fake owns fail
with ``httpx.ConnectError``. pytest-httpx replaces httpx's transport above respx: mark its fixture with
``should_mock=lambda request: request.url.host != webpubsub.host`` so requests to the fake reach it.
"""

from __future__ import annotations

import threading
from typing import Callable

import httpx
import respx
from respx.mocks import HTTPCoreMocker
from respx.models import AllMockedAssertionError

from ._rest.http import FakeRequest, FakeResponse

Handler = Callable[[FakeRequest], FakeResponse]


class _HttpxRoutes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._router: respx.MockRouter | None = None
        self._handlers: dict[str, Handler] = {}

    def register(self, host: str, handler: Handler) -> None:
        with self._lock:
            self._handlers[host.lower()] = handler
            if self._router is None:
                self._router = self._start()

    def unregister(self, host: str) -> None:
        with self._lock:
            self._handlers.pop(host.lower(), None)
            if not self._handlers and self._router is not None:
                self._router.stop()
                self._router = None

    def _start(self) -> respx.MockRouter:
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True, using="httpcore")
        router.route(name="pytest-webpubsub fakes").mock(side_effect=self._answer)
        router.start()
        return router

    def _answer(self, request: httpx.Request) -> httpx.Response | httpx.Request:
        host = request.url.netloc.decode("ascii").lower()
        handler = self._handlers.get(host)
        if handler is not None:
            response = handler(FakeRequest(request.method, str(request.url), dict(request.headers), request.read()))
            return httpx.Response(response.status_code, headers=dict(response.headers), content=response.body)
        if request.url.host.lower().endswith(".webpubsub.azure.com"):
            raise httpx.ConnectError(
                f"pytest-webpubsub: no fake owns {host!r}, and tests must not reach Azure; "
                f"hosts owned by active fakes: {', '.join(sorted(self._handlers))}",
                request=request,
            )
        if any(router is not self._router for router in HTTPCoreMocker.routers):
            raise AllMockedAssertionError(f"pytest-webpubsub: {request!r} is not for a fake")
        return request


_ROUTES = _HttpxRoutes()


def route_httpx(host: str, handler: Handler) -> Callable[[], None]:
    """Send httpx requests for ``host`` to ``handler``; return the function that undoes it."""
    _ROUTES.register(host, handler)
    return lambda: _ROUTES.unregister(host)
