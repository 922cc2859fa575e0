"""The chat's web server end to end: browsers negotiate a URL, the service calls the event handler, and the
handler calls the service back.

The fake plays the service: ``webpubsub.add_event_handler(url, app)`` makes it call the Flask app exactly as
the hub setting makes Azure call it, for connections of simulated clients and of the official client SDK.
Nothing listens on a port; the Flask app runs in process.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    OnServerDataMessageArgs,
    OpenClientError,
    WebPubSubDataType,
)
from flask import Flask

from chat_app.web import create_app
from pytest_webpubsub import ConnectionRefused, FakeWebPubSub

HUB = "chat"
TIMEOUT = 5.0


@pytest.fixture
def web(webpubsub: FakeWebPubSub) -> Flask:
    """The chat's web server, registered as the hub's event handler (the handshake runs here)."""
    app = create_app(banned=["mallory"])
    webpubsub.add_event_handler("http://localhost/eventhandler", app, hub=HUB)
    return app


def negotiate(web: Flask, user_id: str) -> str:
    answer = web.test_client().get("/negotiate", query_string={"id": user_id})
    assert answer.status_code == 200
    url: str = answer.json["url"]  # type: ignore[index]
    return url


def online(web: Flask) -> list[str]:
    users: list[str] = web.test_client().get("/online").json  # type: ignore[assignment]
    return users


def test_a_negotiated_connection_is_put_in_the_lobby_and_shows_online(webpubsub: FakeWebPubSub, web: Flask) -> None:
    alice = webpubsub.connect_url(negotiate(web, "alice"))

    assert alice.groups == {"lobby"}
    assert online(web) == ["alice"]  # the connected event was handled when connect_url returned
    assert alice.send_to_group("lobby", "hi").success  # the role the handler gave
    assert [call.event for call in webpubsub.upstream_calls] == ["validate", "connect", "connected"]


def test_a_banned_user_is_refused_with_401(webpubsub: FakeWebPubSub, web: Flask) -> None:
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect_url(negotiate(web, "mallory"))

    assert refused.value.status == 401
    assert webpubsub.connections == [] and online(web) == []


def test_a_message_event_is_broadcast_to_everyone(webpubsub: FakeWebPubSub, web: Flask) -> None:
    bob = webpubsub.connect(HUB, user_id="bob")
    alice = webpubsub.connect_url(negotiate(web, "alice"))

    ack = alice.send_event("message", "hello everyone")

    assert ack is not None and ack.success
    webpubsub.assert_delivered(to=bob, data={"from": "alice", "text": "hello everyone"})
    webpubsub.assert_delivered(to=alice, data={"from": "alice", "text": "hello everyone"})


def test_leaving_goes_offline(webpubsub: FakeWebPubSub, web: Flask) -> None:
    alice = webpubsub.connect_url(negotiate(web, "alice"))
    bob = webpubsub.connect(HUB, user_id="bob")
    assert online(web) == ["alice", "bob"]

    alice.close()
    webpubsub.service_client(HUB).close_connection(bob.connection_id, reason="kicked")

    assert online(web) == []
    [kicked] = [call for call in webpubsub.upstream_calls if call.connection_id == bob.connection_id][-1:]
    assert kicked.event == "disconnected" and kicked.request.json() == {"reason": "kicked"}


def test_the_sync_client_sdk_chats_through_the_handler(webpubsub: FakeWebPubSub, web: Flask) -> None:
    listener = webpubsub.connect(HUB, user_id="listener")
    client = WebPubSubClient(credential=WebPubSubClientCredential(lambda: negotiate(web, "carol")))
    broadcast: list[Any] = []
    arrived = threading.Event()

    def on_server_message(args: OnServerDataMessageArgs) -> None:
        broadcast.append(args.data)
        arrived.set()

    client.subscribe(CallbackType.SERVER_MESSAGE, on_server_message)

    client.open()
    try:
        assert online(web) == ["carol", "listener"]
        client.send_event("message", "from the sdk", WebPubSubDataType.TEXT)
        assert arrived.wait(TIMEOUT)
    finally:
        client.close()

    assert broadcast == [{"from": "carol", "text": "from the sdk"}]
    assert [message.data for message in listener.received] == [{"from": "carol", "text": "from the sdk"}]
    assert online(web) == ["listener"]


def test_the_sync_client_sdk_of_a_banned_user_cannot_open(webpubsub: FakeWebPubSub, web: Flask) -> None:
    client = WebPubSubClient(credential=WebPubSubClientCredential(lambda: negotiate(web, "mallory")))

    with pytest.raises(OpenClientError, match="Handshake status 401"):
        client.open()


async def test_the_aio_client_sdk_chats_through_the_handler(webpubsub: FakeWebPubSub, web: Flask) -> None:
    from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncClient
    from azure.messaging.webpubsubclient.aio import WebPubSubClientCredential as AsyncCredential

    listener = webpubsub.connect(HUB, user_id="listener")

    async def get_url() -> str:
        return negotiate(web, "dave")

    client = AsyncClient(credential=AsyncCredential(get_url))
    await client.open()
    try:
        assert online(web) == ["dave", "listener"]
        await client.send_event("message", "from asyncio", WebPubSubDataType.TEXT)
    finally:
        await client.close()

    assert [message.data for message in listener.received] == [{"from": "dave", "text": "from asyncio"}]
    assert online(web) == ["listener"]


async def test_the_aio_client_sdk_of_a_banned_user_cannot_open(webpubsub: FakeWebPubSub, web: Flask) -> None:
    from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncClient
    from azure.messaging.webpubsubclient.aio import WebPubSubClientCredential as AsyncCredential

    async def get_url() -> str:
        return negotiate(web, "mallory")

    client = AsyncClient(credential=AsyncCredential(get_url))
    with pytest.raises(OpenClientError, match="401"):
        await client.open()
    await client.close()
