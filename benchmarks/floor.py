"""The floor of every SDK benchmark: an azure-core transport that answers 202 and does nothing else.

It shares no code with pytest-webpubsub: a bare ``HttpTransport`` subclass whose ``send`` returns one minimal
``azure.core.rest.HttpResponse`` of our own (status, empty body, one ``Content-Length`` header). A client built
with ``transport=BareTransport()`` runs the SDK's whole pipeline (request building, headers, retry, JWT signing,
logging and decoding policies) and stops where a network transport would start; whatever a call through the fake
costs above this is what the fake adds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.utils import case_insensitive_dict


class BareResponse(HttpResponse):
    """A complete, empty ``azure.core.rest.HttpResponse`` with a fixed status."""

    def __init__(self, request: HttpRequest, status_code: int) -> None:
        self._request = request
        self._status_code = status_code
        self._headers = case_insensitive_dict({"Content-Length": "0"})
        self._encoding: str | None = None
        self._closed = False

    @property
    def request(self) -> HttpRequest:
        return self._request

    @property
    def status_code(self) -> int:
        return self._status_code

    @property
    def headers(self) -> Any:
        return self._headers

    @property
    def reason(self) -> str:
        return "Accepted"

    @property
    def content_type(self) -> str | None:
        return None

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
        return b""

    def text(self, encoding: str | None = None) -> str:
        return ""

    def json(self) -> Any:
        raise ValueError("empty body")

    def raise_for_status(self) -> None:
        if self._status_code >= 400:
            raise HttpResponseError(response=self)

    def read(self) -> bytes:
        return b""

    def iter_raw(self, **kwargs: Any) -> Iterator[bytes]:
        yield b""

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        yield b""

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> BareResponse:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


class BareTransport(HttpTransport):  # type: ignore[type-arg]
    """Answers every request with an empty 202 (pass it as ``transport=`` to an SDK client)."""

    def __init__(self, status_code: int = 202) -> None:
        self.status_code = status_code
        self.sent = 0

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> BareTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def send(self, request: HttpRequest, **kwargs: Any) -> BareResponse:
        self.sent += 1
        return BareResponse(request, self.status_code)
