"""Fixtures for REST tests: a fake on a frozen clock and a caller that signs requests like the Python SDK.

The SDK (``azure-messaging-webpubsubservice`` ``JwtCredentialPolicy``) signs each request with HS256 and the
access key; ``aud`` is the full request URL as sent (query included) and ``exp`` is now + 60 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union
from urllib.parse import quote, urlencode

import jwt
import pytest

from pytest_webpubsub import FakeRequest, FakeResponse, FakeWebPubSub

NOW = 1_800_000_000.0
API_VERSION = "2024-12-01"
OTHER_KEY = "c29tZS1vdGhlci1rZXktdGhhdC1pcy1ub3QtdGhlLWZha2VzLWtleQ=="

Query = Union[str, Sequence["tuple[str, str]"], Mapping[str, str], None]


class RestCaller:
    """Builds, signs and sends :class:`FakeRequest` objects to one fake."""

    other_key = OTHER_KEY
    api_version = API_VERSION

    def __init__(self, fake: FakeWebPubSub, now: float = NOW) -> None:
        self.fake = fake
        self.now = now

    def url(self, path: str, query: Query = None, *, api_version: str | None = API_VERSION) -> str:
        """``endpoint + path + ?query``; ``api-version`` is appended unless None or already in ``query``."""
        if query is None:
            items: list[tuple[str, str]] = []
        elif isinstance(query, str):
            items = [tuple(part.split("=", 1)) for part in query.split("&") if part]  # type: ignore[misc]
            encoded = query
        elif isinstance(query, Mapping):
            items = list(query.items())
        else:
            items = list(query)
        if not isinstance(query, str):
            encoded = urlencode(items, quote_via=quote)
        if api_version is not None and not any(key == "api-version" for key, _ in items):
            encoded = "&".join(part for part in (encoded, f"api-version={api_version}") if part)
        return self.fake.endpoint + path + (f"?{encoded}" if encoded else "")

    def token(
        self,
        audience: str,
        *,
        key: str | None = None,
        lifetime: float = 60,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        claims: dict[str, Any] = {"aud": audience, "exp": int(self.now + lifetime)}
        claims.update(extra or {})
        return jwt.encode(claims, key or self.fake.access_key, algorithm="HS256", headers=dict(headers or {}))

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        authorization: str | None | bool = True,
        audience: str | None = None,
        key: str | None = None,
        lifetime: float = 60,
    ) -> FakeRequest:
        all_headers: dict[str, str] = {}
        if authorization is True:
            all_headers["Authorization"] = "Bearer " + self.token(audience or url, key=key, lifetime=lifetime)
        elif isinstance(authorization, str):
            all_headers["Authorization"] = authorization
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        return FakeRequest(method, url, all_headers, body)

    def call(
        self,
        method: str,
        path: str,
        query: Query = None,
        *,
        api_version: str | None = API_VERSION,
        **kwargs: Any,
    ) -> FakeResponse:
        """Sign and send ``method path?query`` (``path`` starts with ``/api``)."""
        return self.fake.handle(self.request(method, self.url(path, query, api_version=api_version), **kwargs))

    def call_url(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        return self.fake.handle(self.request(method, url, **kwargs))


@pytest.fixture
def fake() -> FakeWebPubSub:
    """A fake on a frozen clock; never started (requests go through ``handle()`` directly)."""
    return FakeWebPubSub(clock=lambda: NOW)


@pytest.fixture
def rest(fake: FakeWebPubSub) -> RestCaller:
    return RestCaller(fake)
