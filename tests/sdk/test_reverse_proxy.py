"""Clients built with the SDK's ``reverse_proxy_endpoint`` (an API gateway in front of the resource) reach the fake
when the fake is told about the gateway: requests go to the gateway's host, tokens name the origin endpoint."""

from __future__ import annotations

import httpx
import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

from pytest_webpubsub import FakeWebPubSub

PROXY = "https://apim.contoso.com/wps"
pytestmark = pytest.mark.webpubsub(reverse_proxy_endpoint=PROXY)


def test_sync_client_through_the_gateway(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    with WebPubSubServiceClient.from_connection_string(
        webpubsub.connection_string, hub="chat", reverse_proxy_endpoint=PROXY
    ) as client:
        client.send_to_user("alice", "hi", content_type="text/plain")
        assert client.user_exists("alice") is True
        url = client.get_client_access_token(user_id="bob")["url"]

    assert [message.data for message in alice.received] == ["hi"]
    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("send_to_user", 202),
        ("user_exists", 200),
    ]
    assert url.startswith("wss://fake.webpubsub.azure.com/client/hubs/chat?access_token=")
    assert webpubsub.connect_url(url).user_id == "bob"


async def test_async_client_through_the_gateway(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["room"])
    async with AsyncWebPubSubServiceClient.from_connection_string(
        webpubsub.connection_string, hub="chat", reverse_proxy_endpoint=PROXY
    ) as client:
        await client.send_to_group("room", {"n": 1})

    assert [message.data for message in alice.received] == [{"n": 1}]


def test_gateway_paths_outside_its_prefix_are_not_found(webpubsub: FakeWebPubSub) -> None:
    with httpx.Client() as client:
        outside = client.head("https://apim.contoso.com/other/api/health")
        inside = client.head(f"{PROXY}/api/health")

    assert (outside.status_code, inside.status_code) == (404, 200)
    assert [call.operation for call in webpubsub.rest_calls] == ["get_service_status"]


def test_a_gateway_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="reverse_proxy_endpoint='apim' must be an http"):
        FakeWebPubSub(reverse_proxy_endpoint="apim")
