"""The seam between azure-core and the fake: SDK requests to a fake's host are answered in process.

Two ways in:

* two seams (:class:`RequestsTransportSeam`, :class:`AioHttpTransportSeam`) wrap ``send`` and ``sleep`` of
  azure-core's default transports at class level while any fake is active. Clients that application code builds
  itself, even before the test started, reach the fake when their host is a fake's; every other host goes to the
  original method. A ``*.webpubsub.azure.com`` host that no fake owns fails like a network error
  (``ServiceRequestError``), so a test never reaches Azure. Retry back-off after a fake's answer is instant. The
  aiohttp seam applies only where aiohttp is installed (the ``aio`` extra).
* :class:`FakeTransport` / :class:`AsyncFakeTransport` for ``transport=``, with no global patch at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import AsyncHttpTransport, HttpTransport
from azure.core.rest import AsyncHttpResponse, HttpResponse
from azure.core.rest import HttpRequest as RestHttpRequest
from azure.core.utils import case_insensitive_dict

from ._faults import InjectedFailure
from ._hosts import HOSTS, Seam
from ._rest.http import FakeRequest, FakeResponse

Handler = Callable[[FakeRequest], FakeResponse]
_SKIPPED_KWARGS = frozenset(
    {"stream", "connection_timeout", "read_timeout", "connection_verify", "connection_cert", "proxies",
     "connection_data_block_size", "session", "headers", "timeout"}
)


# -- requests and responses ----------------------------------------------------------------------------


def _body(request: Any) -> bytes:
    content = request.content if isinstance(request, RestHttpRequest) else request.body
    if content is None:
        return b""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, dict):
        return urlencode(content, doseq=True).encode("ascii")
    if hasattr(content, "read"):
        position = content.tell()
        data = content.read()
        content.seek(position)
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    return b"".join(content)


def answer(handler: Handler, request: Any) -> FakeResponse:
    """The fake's answer to an azure-core request; an injected failure raised as azure-core raises it."""
    try:
        return handler(to_fake_request(request))
    except InjectedFailure as failure:
        error = ServiceRequestError if failure.kind == "connection" else ServiceResponseError
        raise error(str(failure)) from None


def _store_layout() -> Any:
    """azure-core's case-insensitive dict type, if it keeps ``{lower-cased name: (name, value)}`` in ``_store``
    (probed once: a private layout, so the fast path below is taken only where it is known to hold)."""
    probe = case_insensitive_dict({"Name": "value"})
    return type(probe) if getattr(probe, "_store", None) == {"name": ("Name", "value")} else None


_CASE_INSENSITIVE_DICT = _store_layout()


def _headers(headers: Any) -> dict[str, str]:
    """A request's headers as a plain dict, names as sent.

    azure-core's case-insensitive dict iterates in Python, one generator step per name; its store already holds the
    ``(name, value)`` pairs, read here in one C call.
    """
    if type(headers) is _CASE_INSENSITIVE_DICT:
        return dict(headers._store.values())
    return dict(headers.items())


def to_fake_request(request: Any) -> FakeRequest:
    """Convert an azure-core request (rest or legacy) to the neutral record the fake dispatches."""
    return FakeRequest(request.method.upper(), request.url, _headers(request.headers), _body(request))


class _ResponseBase:
    def __init__(self, request: Any, response: FakeResponse) -> None:
        self._request = request
        self._response = response
        self._headers: MutableMapping[str, str] | None = None  # built when first read
        self._encoding: str | None = None
        self._closed = False

    @property
    def request(self) -> Any:
        return self._request

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> MutableMapping[str, str]:
        if self._headers is None:
            self._headers = case_insensitive_dict(dict(self._response.headers))
        return self._headers

    @property
    def reason(self) -> str:
        return self._response.reason

    @property
    def content_type(self) -> str | None:
        if self._headers is not None:
            return self._headers.get("Content-Type")
        found = None  # the last of any spellings, as the case-insensitive dict would keep it
        for name, value in self._response.headers.items():
            if len(name) == 12 and name.lower() == "content-type":
                found = value
        return found

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_stream_consumed(self) -> bool:
        return True

    @property
    def encoding(self) -> str | None:
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    @property
    def url(self) -> str:
        return str(self._request.url)

    @property
    def content(self) -> bytes:
        return self._response.body

    def text(self, encoding: str | None = None) -> str:
        return self._response.body.decode(encoding or self._encoding or "utf-8")

    def json(self) -> Any:
        return json.loads(self._response.body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise HttpResponseError(response=self)

    def body(self) -> bytes:
        return self._response.body

    def __repr__(self) -> str:
        return f"<FakeHttpResponse: {self.status_code} {self.reason}>"


class FakeHttpResponse(_ResponseBase, HttpResponse):
    """A complete, in-memory ``azure.core.rest.HttpResponse``."""

    def __enter__(self) -> FakeHttpResponse:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True

    def read(self) -> bytes:
        return self._response.body

    def iter_raw(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._response.body

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._response.body


class AsyncFakeHttpResponse(_ResponseBase, AsyncHttpResponse):
    """A complete, in-memory ``azure.core.rest.AsyncHttpResponse`` (sync ``text()`` works unread)."""

    async def __aenter__(self) -> AsyncFakeHttpResponse:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True

    async def read(self) -> bytes:
        return self._response.body

    async def iter_raw(self, **kwargs: Any) -> AsyncIterator[bytes]:
        yield self._response.body

    async def iter_bytes(self, **kwargs: Any) -> AsyncIterator[bytes]:
        yield self._response.body


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    """Fail like ``requests.Session.request`` on keyword arguments the SDK leaks (``message_ttl_seconds``)."""
    if kwargs.keys() <= _SKIPPED_KWARGS:
        return
    unexpected = sorted(set(kwargs) - _SKIPPED_KWARGS)
    if unexpected:
        raise TypeError(f"Session.request() got an unexpected keyword argument '{unexpected[0]}'")


# -- explicit transports -------------------------------------------------------------------------------


class FakeTransport(HttpTransport):  # type: ignore[type-arg]
    """A sync azure-core transport that answers every request from one fake (pass as ``transport=``)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.sleeps: list[float] = []

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)

    def send(self, request: Any, **kwargs: Any) -> FakeHttpResponse:
        _check_kwargs(kwargs)
        return FakeHttpResponse(request, answer(self._handler, request))


class AsyncFakeTransport(AsyncHttpTransport):  # type: ignore[type-arg]
    """The ``aio`` twin of :class:`FakeTransport`."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.sleeps: list[float] = []

    async def __aenter__(self) -> AsyncFakeTransport:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)

    async def send(self, request: Any, **kwargs: Any) -> AsyncFakeHttpResponse:
        _check_kwargs(kwargs)
        return AsyncFakeHttpResponse(request, answer(self._handler, request))


# -- the seams ------------------------------------------------------------------------------------------


def _route(transport: Any, url: str) -> Optional[Handler]:
    """The handler of the fake owning ``url``; ``ServiceRequestError`` for an Azure host no fake owns.

    Marks the transport so that its back-off ``sleep`` after a fake's answer (or a refusal) is skipped.
    """
    transport._webpubsub_fake_answered = True
    owner = HOSTS.owner(url)
    if owner is None:
        refusal = HOSTS.refuse(url, _AzureCoreSeam.hint)
        if refusal is not None:
            raise ServiceRequestError(refusal)
    transport._webpubsub_fake_answered = owner is not None
    return owner.handle if owner is not None else None


class _AzureCoreSeam(Seam):
    """Wraps ``send`` and ``sleep`` of one azure-core transport class (see the module docstring)."""

    hint = "Build the client from webpubsub.connection_string"

    def __init__(self) -> None:
        self._originals: dict[str, Any] = {}

    def transport_class(self) -> Any:
        raise NotImplementedError

    def replacements(self, send: Any, sleep: Any) -> dict[str, Any]:
        raise NotImplementedError

    def install(self) -> None:
        cls = self.transport_class()
        self._originals = {name: cls.__dict__.get(name) for name in ("send", "sleep")}
        for name, replacement in self.replacements(cls.send, cls.sleep).items():
            setattr(cls, name, replacement)

    def uninstall(self) -> None:
        cls = self.transport_class()
        for name, original in self._originals.items():
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._originals = {}


class RequestsTransportSeam(_AzureCoreSeam):
    """azure-core's default sync transport (``RequestsTransport``)."""

    def transport_class(self) -> Any:
        from azure.core.pipeline.transport._requests_basic import RequestsTransport

        return RequestsTransport

    def replacements(self, send: Any, sleep: Any) -> dict[str, Any]:
        def fake_send(transport: Any, request: Any, **kwargs: Any) -> Any:
            handler = _route(transport, request.url)
            if handler is None:
                return send(transport, request, **kwargs)
            transport.open()
            _check_kwargs(kwargs)
            return FakeHttpResponse(request, answer(handler, request))

        def fake_sleep(transport: Any, duration: float) -> None:
            if not getattr(transport, "_webpubsub_fake_answered", False):
                sleep(transport, duration)

        return {"send": fake_send, "sleep": fake_sleep}


class AioHttpTransportSeam(_AzureCoreSeam):
    """azure-core's default async transport (``AioHttpTransport``), where aiohttp is installed."""

    def transport_class(self) -> Any:
        from azure.core.pipeline.transport._aiohttp import AioHttpTransport

        return AioHttpTransport

    def replacements(self, send: Any, sleep: Any) -> dict[str, Any]:
        async def fake_send(transport: Any, request: Any, **kwargs: Any) -> Any:
            handler = _route(transport, request.url)
            if handler is None:
                return await send(transport, request, **kwargs)
            await transport.open()
            _check_kwargs(kwargs)
            return AsyncFakeHttpResponse(request, answer(handler, request))

        async def fake_sleep(transport: Any, duration: float) -> None:
            if not getattr(transport, "_webpubsub_fake_answered", False):
                await sleep(transport, duration)

        return {"send": fake_send, "sleep": fake_sleep}


REQUESTS_SEAM = RequestsTransportSeam()
AIOHTTP_SEAM = AioHttpTransportSeam()
