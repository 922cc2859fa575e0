"""Apps that call the REST API with httpx instead of the SDK reach the fake too, and the user's own respx
routes for other hosts keep working beside it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
import respx

from pytest_webpubsub import FakeWebPubSub

from .support import HUB


def _send_url(webpubsub: FakeWebPubSub) -> str:
    return f"{webpubsub.endpoint}/api/hubs/{HUB}/:send?api-version=2024-12-01"


def _bearer(webpubsub: FakeWebPubSub, url: str) -> dict[str, str]:
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, webpubsub.access_key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


async def _post(flavour: str, url: str, **kwargs: Any) -> httpx.Response:
    if flavour == "sync":
        with httpx.Client() as client:
            return client.post(url, **kwargs)
    async with httpx.AsyncClient() as client:
        return await client.post(url, **kwargs)


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_signed_post_is_accepted_and_delivered(webpubsub: FakeWebPubSub, flavour: str) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    url = _send_url(webpubsub)
    headers = {**_bearer(webpubsub, url), "Content-Type": "application/json"}

    response = await _post(flavour, url, headers=headers, content=b'{"hello":"httpx"}')

    assert (response.status_code, response.headers["Content-Length"], response.content) == (202, "0", b"")
    assert [(m.data, m.data_type) for m in alice.received] == [({"hello": "httpx"}, "json")]
    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [("send_to_all", 202)]


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_unsigned_post_is_unauthorized(webpubsub: FakeWebPubSub, flavour: str) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")

    response = await _post(flavour, _send_url(webpubsub), headers={"Content-Type": "text/plain"}, content=b"hi")

    assert (response.status_code, response.content) == (401, b"")
    assert alice.received == []


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_users_respx_mock_for_another_host_keeps_working(webpubsub: FakeWebPubSub, flavour: str) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    url = _send_url(webpubsub)

    with respx.mock(assert_all_called=False) as mock:
        other = mock.get("https://example.org/x").respond(204)
        if flavour == "sync":
            with httpx.Client() as client:
                elsewhere = client.get("https://example.org/x")
                fake = client.post(url, headers=_bearer(webpubsub, url) | {"Content-Type": "text/plain"}, content=b"hi")
        else:
            async with httpx.AsyncClient() as client:
                elsewhere = await client.get("https://example.org/x")
                fake = await client.post(
                    url, headers=_bearer(webpubsub, url) | {"Content-Type": "text/plain"}, content=b"hi"
                )

    assert elsewhere.status_code == 204
    assert other.call_count == 1
    assert fake.status_code == 202
    assert [m.data for m in alice.received] == ["hi"]
