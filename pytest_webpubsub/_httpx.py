"""Route apps that call the REST API with httpx (sync and async) to the fake, through respx.

One respx router, started when the seams are installed and stopped when they are removed, answers for every host
in the host table. Other hosts are left alone: with no other respx router active they pass through to the network
(through respx's pass-through, which reads a request's body before sending it); with the user's own respx router
active, they are left for it to match. While some fake is active, ``*.webpubsub.azure.com`` hosts no fake owns
fail with ``httpx.ConnectError``. The router records no calls (it may stay started for a whole session). pytest-httpx replaces httpx's transport above respx: mark its fixture with
``should_mock=lambda request: request.url.host != webpubsub.host`` so requests to the fake reach it.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import httpx
import respx
from respx.mocks import HTTPCoreMocker
from respx.models import AllMockedAssertionError

from ._faults import InjectedFailure
from ._hosts import HOSTS, Seam
from ._rest.http import FakeRequest


class _Router(respx.MockRouter):
    """A respx router that keeps no record of the requests it saw (nobody reads them; a session is long)."""

    def record(self, request: httpx.Request, *, response: Optional[httpx.Response] = None, route: Any = None) -> None:
        pass


class HttpxSeam(Seam):
    """One respx router, started with the seams, that answers for every fake's host."""

    hint = "Send to webpubsub.endpoint"

    def __init__(self) -> None:
        self._router: Optional[respx.MockRouter] = None

    def install(self) -> None:
        router = _Router(assert_all_called=False, assert_all_mocked=True, using="httpcore")
        router.route(name="pytest-webpubsub fakes").mock(side_effect=self._answer)
        router.start()
        self._router = router

    def uninstall(self) -> None:
        if self._router is not None:
            self._router.stop()
            self._router = None

    def _answer(self, request: httpx.Request) -> Union[httpx.Response, httpx.Request]:
        url = str(request.url)
        owner = HOSTS.owner(url)
        if owner is not None:
            try:
                response = owner.handle(FakeRequest(request.method, url, dict(request.headers), request.read()))
            except InjectedFailure as failure:
                if failure.kind == "connection":
                    raise httpx.ConnectError(str(failure), request=request) from None
                raise httpx.ReadTimeout(str(failure), request=request) from None
            return httpx.Response(response.status_code, headers=dict(response.headers), content=response.body)
        refusal = HOSTS.refuse(url, self.hint)
        if refusal is not None:
            raise httpx.ConnectError(refusal, request=request)
        if any(router is not self._router for router in HTTPCoreMocker.routers):
            raise AllMockedAssertionError(f"pytest-webpubsub: {request!r} is not for a fake")
        return request


SEAM = HttpxSeam()
