"""The facade: ``add_event_handler``, ``upstream_calls`` and ``build_event`` on the ``webpubsub`` fixture, and
handlers calling the service back (sync SDK, aio SDK, the ``webpubsub`` object) from any thread, in sync and
async tests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading

import httpx
import pytest

from pytest_webpubsub import AbuseProtectionError, FakeWebPubSub, Message, UpstreamCall, UpstreamRequest
from pytest_webpubsub._upstream import ConnectionInfo

from .support import Script, Seen, flask_app, starlette_app

URL = "http://localhost/eventhandler"


def test_add_event_handler_validates_and_records_on_the_default_hub(webpubsub: FakeWebPubSub) -> None:
    script = Script(key=webpubsub.access_key)
    handler = webpubsub.add_event_handler(URL, flask_app(script), user_events="message")

    assert handler.hub == webpubsub.options.hub and handler.user_events == ("message",)
    assert handler.system_events == ("connect", "connected", "disconnected") and handler.app_kind == "wsgi"
    [call] = webpubsub.upstream_calls
    assert isinstance(call, UpstreamCall) and call.event == "validate" and call.hub == "hub"
    assert call.request.headers["WebHook-Request-Origin"] == webpubsub.host
    assert webpubsub.upstream_calls is not webpubsub.upstream_calls  # a copy each time


def test_add_event_handler_raises_when_the_handshake_fails(webpubsub: FakeWebPubSub) -> None:
    script = Script(allowed_origin="other.example")
    with pytest.raises(AbuseProtectionError, match=r"OPTIONS answered WebHook-Allowed-Origin: 'other.example'"):
        webpubsub.add_event_handler(URL, starlette_app(script), hub="chat")
    assert not webpubsub._upstream.handles("chat", "message")


def test_a_handler_calls_the_service_back_with_the_sync_sdk_from_other_threads(webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat", user_id="listener")

    def hook(seen: Seen) -> None:  # the samples' message handler: broadcast what came in
        webpubsub.service_client("chat").send_to_all(seen.body.decode(), content_type="text/plain")
        worker = threading.Thread(target=lambda: webpubsub.connect("chat", user_id="from-a-thread"))
        worker.start()
        worker.join(10)

    script = Script(key=webpubsub.access_key, hook=hook)
    webpubsub.add_event_handler(URL, flask_app(script), hub="chat", system_events=())  # the hook connects too
    alice = ConnectionInfo("chat", "conn-1", "alice")

    assert webpubsub._upstream.user_event(alice, "message", Message(b"hello all", "text")).ok
    assert [message.data for message in listener.received] == ["hello all"]
    assert [client.user_id for client in webpubsub.connections] == ["listener", "from-a-thread"]


def _aio_broadcaster(webpubsub: FakeWebPubSub, script: Script) -> None:
    async def hook(seen: Seen) -> None:
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        async with WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="chat") as client:
            await client.send_to_all({"echo": seen.body.decode()})

    script.async_hook = hook


async def test_an_asgi_handler_calls_the_aio_sdk_while_an_async_test_waits(webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat")
    script = Script(key=webpubsub.access_key)
    _aio_broadcaster(webpubsub, script)
    webpubsub.add_event_handler(URL, starlette_app(script), hub="chat")
    alice = ConnectionInfo("chat", "conn-1", "alice")

    # The test's loop blocked in a sync call (as a simulated client's send_event blocks it) ...
    assert webpubsub._upstream.user_event(alice, "message", Message(b"one", "text")).ok
    # ... and the test's loop awaiting while the event runs in a worker thread.
    result = await asyncio.wait_for(
        asyncio.to_thread(webpubsub._upstream.user_event, alice, "message", Message(b"two", "text")), 10
    )

    assert result.ok and webpubsub._upstream.errors == []
    assert [message.data for message in listener.received] == [{"echo": "one"}, {"echo": "two"}]


def test_an_asgi_handler_calls_the_aio_sdk_in_a_sync_test(webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat")
    script = Script(key=webpubsub.access_key)
    _aio_broadcaster(webpubsub, script)
    webpubsub.add_event_handler(URL, starlette_app(script), hub="chat")

    assert webpubsub._upstream.user_event(ConnectionInfo("chat", "c"), "message", Message(b"x", "text")).ok
    assert [message.data for message in listener.received] == [{"echo": "x"}]


# -- build_event ----------------------------------------------------------------------------------------------


def _signature(key: str, connection_id: str) -> str:
    return "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


def test_build_event_is_the_exact_signed_request(webpubsub: FakeWebPubSub) -> None:
    request = webpubsub.build_event("message", connection_id="c1", user_id="alice", data={"a": 1},
                                    data_type="json", subprotocols=["json.webpubsub.azure.v1"], state="s1")
    assert isinstance(request, UpstreamRequest) and request.method == "POST" and request.url == "http://localhost/"
    assert request.json() == {"a": 1}
    assert [name for name in request.headers] == [
        "ce-specversion", "ce-awpsversion", "ce-type", "ce-source", "ce-id", "ce-time", "ce-hub", "ce-connectionId",
        "ce-eventName", "ce-userId", "ce-subprotocol", "ce-connectionState", "ce-signature",
        "WebHook-Request-Origin", "Content-Type",
    ]
    assert request.headers["ce-type"] == "azure.webpubsub.user.message" and request.headers["ce-hub"] == "hub"
    assert request.headers["ce-signature"] == _signature(webpubsub.access_key, "c1")
    assert request.headers["Content-Type"] == "application/json" and request.headers["ce-connectionState"] == "s1"
    assert webpubsub.upstream_calls == []  # built, not sent


def test_build_event_uses_the_subscribed_handlers_url(webpubsub: FakeWebPubSub) -> None:
    script = Script(key=webpubsub.access_key)
    webpubsub.add_event_handler("http://app/api/{hub}/{event}", flask_app(script), hub="Chat")
    assert webpubsub.build_event("connected", connection_id="c", hub="chat").url == "http://app/api/chat/connected"


@pytest.mark.parametrize(
    ("event", "arguments", "body"),
    [
        ("connect", {"claims": {"sub": "alice"}, "query": {"room": ["1"], "access_token": "t"}},
         {"claims": {"sub": ["alice"]}, "query": {"room": ["1"]}, "headers": {}, "subprotocols": [],
          "clientCertificates": []}),
        ("connected", {}, {}),
        ("disconnected", {"data": "gone"}, {"reason": "gone"}),
    ],
)
def test_build_event_for_system_events(webpubsub: FakeWebPubSub, event: str, arguments: dict[str, object],
                                       body: object) -> None:
    request = webpubsub.build_event(event, connection_id="c1", **arguments)  # type: ignore[arg-type]
    assert request.json() == body and request.headers["ce-type"] == f"azure.webpubsub.sys.{event}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["ce-id"] == ("0" if event == "connect" else "1")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"event": "validate"}, "event"),
        ({"event": ""}, "event"),
        ({"event": "connected", "data": "x"}, "data"),
        ({"event": "message", "claims": {"sub": "a"}}, "claims"),
        ({"event": "message", "connection_id": ""}, "connection_id"),
        ({"event": "message", "data": 1}, "data_type"),
    ],
)
def test_build_event_refuses_what_the_service_would_not_send(webpubsub: FakeWebPubSub,
                                                             arguments: dict[str, object], problem: str) -> None:
    arguments = {"connection_id": "c1", **arguments}
    with pytest.raises((ValueError, TypeError), match=problem):
        webpubsub.build_event(**arguments)  # type: ignore[arg-type]


def test_build_event_posted_with_flasks_test_client(webpubsub: FakeWebPubSub) -> None:
    script = Script(key=webpubsub.access_key)
    script.answers["connect"] = (200, {"Content-Type": "application/json"}, b'{"userId": "alice2"}')
    client = flask_app(script).test_client()

    connect = webpubsub.build_event("connect", connection_id="c1", user_id="alice", claims={"sub": ["alice"]})
    answer = client.post("/eventhandler", headers=dict(connect.headers), data=connect.body)
    assert answer.status_code == 200 and answer.get_json() == {"userId": "alice2"}
    assert script.seen[-1].header("ce-signature") == _signature(webpubsub.access_key, "c1")

    forged = FakeWebPubSub(access_key="another-access-key-of-at-least-32-bytes!!").build_event("connected",
                                                                                               connection_id="c1")
    assert client.post("/eventhandler", headers=dict(forged.headers), data=forged.body).status_code == 401


async def test_build_event_posted_to_a_starlette_app_with_httpx(webpubsub: FakeWebPubSub) -> None:
    script = Script(key=webpubsub.access_key)
    script.answers["message"] = (200, {"Content-Type": "text/plain"}, b"pong")
    request = webpubsub.build_event("message", connection_id="c1", data=b"\x00", data_type="binary")
    transport = httpx.ASGITransport(starlette_app(script))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.post("/eventhandler", headers=dict(request.headers), content=request.body)
    assert (answer.status_code, answer.text) == (200, "pong")
    assert script.seen[-1].header("content-type") == "application/octet-stream" and script.seen[-1].body == b"\x00"
