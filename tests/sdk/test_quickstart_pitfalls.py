"""Mistakes people make when coming from a quick-start: the fake fails the way the real SDK and service do.

Each test pins the symptom a user sees (so the README's "Coming from a quick-start" section stays true) and the
call that works instead.
"""

from __future__ import annotations

import sys
import threading

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.messaging.webpubsubclient import WebPubSubClient
from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncWebPubSubClient
from azure.messaging.webpubsubclient.models import CallbackType, OpenClientError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub

HUB_RULE = "a hub name starts with a letter and has 1 to 128 characters of letters, digits and _`,.[]"


@pytest.fixture
def client(webpubsub: FakeWebPubSub) -> WebPubSubServiceClient:
    return WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="chat")


def test_check_permission_is_not_an_sdk_method(client: WebPubSubServiceClient, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice", roles=["webpubsub.joinLeaveGroup"])

    with pytest.raises(AttributeError, match="'check_permission'"):
        client.check_permission("joinLeaveGroup", alice.connection_id)  # type: ignore[attr-defined]

    client.grant_permission("sendToGroup", alice.connection_id, target_name="room")
    assert client.has_permission("sendToGroup", alice.connection_id, target_name="room") is True
    assert webpubsub.rest_calls[-1].operation == "has_permission"


def test_close_all_connections_takes_no_user_id(client: WebPubSubServiceClient, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    bob = webpubsub.connect("chat", user_id="bob")

    with pytest.raises(TypeError, match=r"request\(\) got an unexpected keyword argument 'user_id'"):
        client.close_all_connections(user_id="alice")

    assert alice.is_open and bob.is_open  # nothing was sent, nothing closed
    assert webpubsub.rest_calls == []

    client.close_user_connections("alice", reason="bye")
    assert not alice.is_open and bob.is_open
    assert alice.close_reason == "bye"


@pytest.mark.xfail(
    sys.version_info < (3, 10),
    reason="Python 3.9 names the function 'request()', not 'Session.request()'; the fake's transport always "
    "says 'Session.request()'",
    strict=True,
)
def test_close_all_connections_user_id_message_is_the_requests_transports(client: WebPubSubServiceClient) -> None:
    # What the real transport raises for a keyword the SDK passes down to it (the call fails before any I/O).
    with pytest.raises(TypeError) as real:
        requests.Session().request("POST", "https://contoso.invalid/", user_id="alice")  # type: ignore[call-arg]

    with pytest.raises(TypeError) as fake:
        client.close_all_connections(user_id="alice")

    assert str(fake.value) == str(real.value)


def test_the_client_sdk_has_no_on_decorator(webpubsub: FakeWebPubSub) -> None:
    url = webpubsub.service_client("chat").get_client_access_token(user_id="carol")["url"]
    client = WebPubSubClient(credential=url)

    with pytest.raises(AttributeError, match="'on'"):
        client.on("connected")  # type: ignore[attr-defined]

    connected = threading.Event()
    client.subscribe(CallbackType.CONNECTED, lambda event: connected.set())
    with client:
        assert connected.wait(5)


def test_a_hub_named_with_a_dash_is_refused_by_rest(webpubsub: FakeWebPubSub) -> None:
    bad = WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="my-hub")
    member = webpubsub.connect("my_hub", user_id="alice")

    with pytest.raises(HttpResponseError) as refused:
        bad.send_to_all({"text": "hi"})

    assert refused.value.status_code == 400
    assert refused.value.error is not None
    assert (refused.value.error.code, refused.value.error.target) == ("Error.BadRequest", "hub")
    assert refused.value.error.message == f"Invalid hub name 'my-hub': {HUB_RULE}"
    assert refused.value.response is not None
    assert refused.value.response.headers["x-ms-error-code"] == "Error.BadRequest"
    assert not webpubsub.deliveries and not member.received

    WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="my_hub").send_to_all("hi")
    assert [m.data for m in member.received] == ["hi"]


def test_a_hub_named_with_a_dash_fails_the_client_sdk_open(webpubsub: FakeWebPubSub) -> None:
    # The access token is minted locally, so getting the URL works; the WebSocket upgrade is refused with 400.
    url = webpubsub.service_client("my-hub").get_client_access_token(user_id="carol")["url"]
    client = WebPubSubClient(credential=url)

    with pytest.raises(OpenClientError) as failed:
        client.open()

    assert f"Handshake status 400 Bad Request -+-+- Invalid hub name 'my-hub': {HUB_RULE}" in str(failed.value)
    assert webpubsub.lifecycle == ()
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect_url(url)
    assert (refused.value.status, refused.value.reason) == (400, f"Invalid hub name 'my-hub': {HUB_RULE}")


async def test_a_hub_named_with_a_dash_fails_the_aio_client_sdk_open(webpubsub: FakeWebPubSub) -> None:
    url = webpubsub.service_client("my-hub").get_client_access_token(user_id="carol")["url"]
    client = AsyncWebPubSubClient(credential=url)

    with pytest.raises(OpenClientError) as failed:
        await client.open()

    assert "400" in str(failed.value) and f"Invalid hub name 'my-hub': {HUB_RULE}" in str(failed.value)
    assert webpubsub.lifecycle == ()


def test_a_plain_url_string_is_a_client_credential(webpubsub: FakeWebPubSub) -> None:
    token = webpubsub.service_client("chat").get_client_access_token(user_id="carol", groups=["room"])
    got = threading.Event()
    client = WebPubSubClient(credential=token["url"])
    client.subscribe(CallbackType.GROUP_MESSAGE, lambda event: got.set() if event.data == "hello" else None)

    with client:
        assert client.is_connected()
        webpubsub.service_client("chat").send_to_group("room", "hello", content_type="text/plain")
        assert got.wait(5)
    assert [event.kind for event in webpubsub.lifecycle] == ["open", "close"]
