"""Route apps that call the REST API with httpx (sync and async) to the fake, through respx.

The seam wraps httpcore's ``handle_request`` / ``handle_async_request`` (the methods respx patches) once, when the
seams are installed. While no fake is active the wrapper calls httpcore's own method at once: httpx behaves as
unpatched. While some fake is active it hands the request to respx's mock of the method, and one respx router,
registered with respx's httpcore mocker for as long as a fake is active, answers for every host in the host table.
Other hosts are left alone: with no other respx router active they pass through to the network; with the user's
own respx router active, they are left for it to match. ``*.webpubsub.azure.com`` hosts no fake owns fail with
``httpx.ConnectError``. The router records no calls (it may stay installed for a whole session).

A user's respx router patches the same methods over the wrapper (respx's own ``mock.patch``); the wrapper then
calls httpcore's method directly, since respx has already asked every router, this seam's router included. When the
seams are installed under a respx patch already in place, the wrapper goes beneath it: respx puts the wrapper back,
not httpcore's method, when it stops.

pytest-httpx replaces httpx's transport above respx: mark its fixture with
``should_mock=lambda request: request.url.host != webpubsub.host`` so requests to the fake reach it.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Optional, Union

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


class _Wrapped:
    """One httpcore method the seam wrapped: the class, the method name, httpcore's own and the wrapper."""

    __slots__ = ("cls", "name", "original", "wrapper")

    def __init__(self, cls: type, name: str, original: Callable[..., Any]) -> None:
        self.cls, self.name, self.original = cls, name, original
        self.wrapper = _wrapper(original, HTTPCoreMocker.mock(original))  # type: ignore[no-untyped-call]

    def put(self) -> None:
        """The wrapper in place of httpcore's method, or beneath respx's patch of it."""
        patch = _respx_patch(self.cls, self.name)
        if patch is not None:
            if patch.temp_original is self.original:
                patch.temp_original = self.wrapper
        elif self.cls.__dict__.get(self.name) is self.original:
            setattr(self.cls, self.name, self.wrapper)

    def take(self) -> None:
        """httpcore's method back, in place of the wrapper or beneath respx's patch."""
        patch = _respx_patch(self.cls, self.name)
        if patch is not None:
            if patch.temp_original is self.wrapper:
                patch.temp_original = self.original
        elif self.cls.__dict__.get(self.name) is self.wrapper:
            setattr(self.cls, self.name, self.original)


def _respx_patch(cls: type, name: str) -> Any:
    """respx's ``mock.patch`` of ``cls.name`` in place now (it restores its ``temp_original`` on stop), or None."""
    for patch in HTTPCoreMocker._patches:
        if getattr(patch, "attribute", None) == name and getattr(patch, "target", None) is cls:
            return patch
    return None


def _defines(cls: type, name: str) -> bool:
    """Whether httpcore's ``cls`` defines ``name`` itself (not inherited), respx's patch of it aside."""
    patch = _respx_patch(cls, name)
    return bool(patch.is_local) if patch is not None else name in cls.__dict__


def _original(cls: type, name: str) -> Callable[..., Any]:
    patch = _respx_patch(cls, name)
    method: Callable[..., Any] = patch.temp_original if patch is not None else cls.__dict__[name]
    return method


def _wrapper(original: Callable[..., Any], mocked: Callable[..., Any]) -> Callable[..., Any]:
    """httpcore's ``original`` while no fake is active (or a user's respx patch sits above), else respx's mock of it.

    Named and shaped like the method, as respx requires of what it patches over.
    """
    if original.__name__ == "handle_async_request":

        async def handle_async_request(self: Any, request: Any) -> Any:
            if HOSTS.active and not HTTPCoreMocker._patches:
                return await mocked(self, request)
            return await original(self, request)

        return handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        if HOSTS.active and not HTTPCoreMocker._patches:
            return mocked(self, request)
        return original(self, request)

    return handle_request


class HttpxSeam(Seam):
    """Wraps httpcore's request methods; one respx router answers for every fake's host while some fake is active."""

    hint = "Send to webpubsub.endpoint"

    def __init__(self) -> None:
        self._router: Optional[respx.MockRouter] = None
        self._wrapped: list[_Wrapped] = []

    def install(self) -> None:
        router = _Router(assert_all_called=False, assert_all_mocked=True, using="httpcore")
        router.route(name="pytest-webpubsub fakes").mock(side_effect=self._answer)
        self._router = router
        self._wrapped = []
        for target in HTTPCoreMocker.targets:
            module, _, name = target.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            for method in HTTPCoreMocker.target_methods:
                if _defines(cls, method):
                    self._wrapped.append(_Wrapped(cls, method, _original(cls, method)))
        for wrapped in self._wrapped:  # where a subclass inherits the method, it inherits the wrapper
            wrapped.put()

    def uninstall(self) -> None:
        self.deactivate()
        for wrapped in self._wrapped:
            wrapped.take()
        self._wrapped = []
        self._router = None

    def activate(self) -> None:
        """The first fake became active: register the router with respx's httpcore mocker (after any user's)."""
        if self._router is None:
            return
        HTTPCoreMocker.register(self._router)

    def deactivate(self) -> None:
        """The last fake stopped: unregister the router; respx's patches, if a user's router left them only for
        this router's sake, are removed as respx would (``Mocker.stop`` keeps them while a router remains)."""
        if self._router is not None and HTTPCoreMocker.unregister(self._router):
            HTTPCoreMocker.stop()

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
