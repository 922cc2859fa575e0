"""Route apps that call the REST API with httpx (sync and async) to the fake, through respx.

One respx router, shared by every active fake and reference-counted, holds a route per fake host. Other
hosts are left alone: with no other respx router active they pass through to the network; with the user's
own respx router active, they are left for it to match. ``*.webpubsub.azure.com`` hosts no fake owns fail
with ``httpx.ConnectError``. pytest-httpx replaces httpx's transport above respx: mark its fixture with
``should_mock=lambda request: request.url.host != webpubsub.host`` so requests to the fake reach it.
"""

from __future__ import annotations

from typing import Callable

import httpx
import respx
from respx.mocks import HTTPCoreMocker
from respx.models import AllMockedAssertionError

from ._hosts import HostTable, is_azure_host, refuse_unowned_host
from ._rest.http import FakeRequest, FakeResponse

Handler = Callable[[FakeRequest], FakeResponse]


class _HttpxRoutes:
    def __init__(self) -> None:
        self.table: HostTable[Handler] = HostTable(self._start, self._stop)
        self._router: respx.MockRouter | None = None

    def _start(self) -> None:
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True, using="httpcore")
        router.route(name="pytest-webpubsub fakes").mock(side_effect=self._answer)
        router.start()
        self._router = router

    def _stop(self) -> None:
        if self._router is not None:
            self._router.stop()
            self._router = None

    def _answer(self, request: httpx.Request) -> httpx.Response | httpx.Request:
        host = request.url.netloc.decode("ascii").lower()
        handler = self.table.get(host)
        if handler is not None:
            response = handler(FakeRequest(request.method, str(request.url), dict(request.headers), request.read()))
            return httpx.Response(response.status_code, headers=dict(response.headers), content=response.body)
        if is_azure_host(host):
            hint = "Send to webpubsub.endpoint"
            raise httpx.ConnectError(refuse_unowned_host(host, self.table.hosts(), hint=hint), request=request)
        if any(router is not self._router for router in HTTPCoreMocker.routers):
            raise AllMockedAssertionError(f"pytest-webpubsub: {request!r} is not for a fake")
        return request


_ROUTES = _HttpxRoutes()


def route_httpx(host: str, handler: Handler) -> Callable[[], None]:
    """Send httpx requests for ``host`` to ``handler``; return the function that undoes it."""
    _ROUTES.table.add(host, handler)
    return lambda: _ROUTES.table.remove(host)
