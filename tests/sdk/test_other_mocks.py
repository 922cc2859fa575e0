"""Users' own HTTP mocks keep working beside the fake: ``responses``, pytest-httpx and respx (the latter in
test_httpx_apps.py). The fake patches only azure-core's transports and adds one respx route for its host."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
import requests
import responses
from pytest_httpx import HTTPXMock

from pytest_webpubsub import FakeWebPubSub


def _signed(webpubsub: FakeWebPubSub, url: str) -> dict[str, str]:
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, webpubsub.access_key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}


def test_responses_mocks_and_the_fake_answer_side_by_side(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    with responses.RequestsMock() as mocked:
        mocked.get("https://example.org/profile", json={"name": "alice"})

        webpubsub.service_client("chat").send_to_user("alice", "hi", content_type="text/plain")
        profile = requests.get("https://example.org/profile", timeout=5).json()

        assert [call.request.url for call in mocked.calls] == ["https://example.org/profile"]
    assert profile == {"name": "alice"}
    assert [message.data for message in alice.received] == ["hi"]


@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "fake.webpubsub.azure.com")
def test_pytest_httpx_mocks_and_the_fake_answer_side_by_side(webpubsub: FakeWebPubSub, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://example.org/profile", json={"name": "alice"})
    alice = webpubsub.connect("chat", user_id="alice")
    url = f"{webpubsub.endpoint}/api/hubs/chat/users/alice/:send?api-version=2024-12-01"

    with httpx.Client() as client:
        sent = client.post(url, content=b"hi", headers=_signed(webpubsub, url))
        profile = client.get("https://example.org/profile").json()

    assert sent.status_code == 202
    assert profile == {"name": "alice"}
    assert [message.data for message in alice.received] == ["hi"]
