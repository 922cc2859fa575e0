"""Connections raise the app's events: every way of connecting sends ``connect`` (blocking, its answer applied)
and ``connected``; ``disconnected`` follows once whenever an opened connection ends; user events from JSON
clients, simple clients and the official client SDK go to the app, and its answers come back before the ack.

Events are checked in ``webpubsub.upstream_calls`` right after the call that caused them returns: nothing sleeps.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Optional, Union

import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    OnServerDataMessageArgs,
    OpenClientError,
    WebPubSubDataType,
)

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub, UpstreamRequest, UpstreamResponse

from .support import Script, Seen, flask_app, signed_by, starlette_app

URL = "http://localhost/eventhandler"
HUB = "chat"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"
TIMEOUT = 5.0
Answer = Union[UpstreamResponse, None, Callable[[UpstreamRequest], Optional[UpstreamResponse]]]


class App:
    """A callable event handler: records each event's request and answers ``answers[event]`` (default 204)."""

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers
        self.requests: list[UpstreamRequest] = []

    def __call__(self, request: UpstreamRequest) -> UpstreamResponse | None:
        if request.method == "OPTIONS":
            return UpstreamResponse(200, {"WebHook-Allowed-Origin": "*"})
        self.requests.append(request)
        answer = self.answers.get(request.headers["ce-eventName"])
        return answer(request) if callable(answer) else answer


def events(webpubsub: FakeWebPubSub) -> list[str]:
    return [call.event for call in webpubsub.upstream_calls if call.event != "validate"]


def calls(webpubsub: FakeWebPubSub, event: str) -> list[Any]:
    return [call for call in webpubsub.upstream_calls if call.event == event]


def token_url(webpubsub: FakeWebPubSub, **options: Any) -> str:
    url: str = webpubsub.service_client(HUB).get_client_access_token(**options)["url"]
    return url


def json_answer(body: Any, **headers: str) -> UpstreamResponse:
    return UpstreamResponse(200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode())


# -- every way of connecting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["connect", "connect_url"])
def test_simulated_clients_raise_connect_then_connected_with_the_claims(webpubsub: FakeWebPubSub, how: str) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    if how == "connect":
        alice = webpubsub.connect(HUB, user_id="alice", roles=["webpubsub.joinLeaveGroup"], groups=["lobby"])
    else:
        url = token_url(webpubsub, user_id="alice", roles=["webpubsub.joinLeaveGroup"], groups=["lobby"])
        alice = webpubsub.connect_url(url + "&extra=1")

    assert events(webpubsub) == ["connect", "connected"]
    connect, connected = app.requests
    for request in (connect, connected):
        assert request.headers["ce-connectionId"] == alice.connection_id  # the id it keeps
        assert request.headers["ce-userId"] == "alice"
        assert request.headers["ce-subprotocol"] == JSON_PROTOCOL
        assert request.headers["ce-hub"] == HUB
        assert signed_by(request.headers["ce-signature"], alice.connection_id, webpubsub.access_key)
    assert connect.headers["ce-type"] == "azure.webpubsub.sys.connect" and connect.headers["ce-id"] == "0"
    body = connect.json()
    assert body["claims"]["sub"] == ["alice"]
    assert body["claims"]["role"] == ["webpubsub.joinLeaveGroup"]
    assert body["claims"]["webpubsub.group"] == ["lobby"]
    assert body["subprotocols"] == [JSON_PROTOCOL] and body["clientCertificates"] == []
    if how == "connect_url":
        assert set(body["claims"]) >= {"aud", "exp", "iat"}  # every claim of the token, as lists of strings
        assert body["query"] == {"extra": ["1"]}  # access_token is left out
    else:
        assert body["query"] == {}
    assert connected.headers["ce-type"] == "azure.webpubsub.sys.connected" and connected.json() == {}
    assert [call.connection_id for call in webpubsub.upstream_calls[1:]] == [alice.connection_id] * 2


def test_a_simple_client_has_no_subprotocol_header(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    webpubsub.connect(HUB, protocol=None)

    connect = app.requests[0]
    assert "ce-subprotocol" not in connect.headers and "ce-userId" not in connect.headers
    assert connect.json()["subprotocols"] == [] and connect.json()["claims"] == {}


def test_the_sync_client_sdk_raises_the_events(webpubsub: FakeWebPubSub) -> None:
    app = App(message=lambda request: UpstreamResponse(200, {"Content-Type": "text/plain"}, b"got " + request.body))
    webpubsub.add_event_handler(URL, app, hub=HUB)
    client = WebPubSubClient(credential=WebPubSubClientCredential(lambda: token_url(webpubsub, user_id="alice")))
    replies: list[Any] = []
    arrived = threading.Event()

    def on_server_message(args: OnServerDataMessageArgs) -> None:
        replies.append(args.data)
        arrived.set()

    client.subscribe(CallbackType.SERVER_MESSAGE, on_server_message)

    client.open()
    try:
        assert events(webpubsub) == ["connect", "connected"]
        connect = app.requests[0]
        assert connect.headers["ce-subprotocol"] == RELIABLE and connect.json()["subprotocols"] == [RELIABLE]
        client.send_event("message", "hi", WebPubSubDataType.TEXT)  # waits for the ack: the reply came first
        assert arrived.wait(TIMEOUT) and replies == ["got hi"]
        assert app.requests[-1].headers["Content-Type"] == "text/plain" and app.requests[-1].body == b"hi"
    finally:
        client.close()

    assert events(webpubsub) == ["connect", "connected", "message", "disconnected"]
    assert len({call.connection_id for call in webpubsub.upstream_calls[1:]}) == 1


async def test_the_aio_client_sdk_raises_the_events(webpubsub: FakeWebPubSub) -> None:
    from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncClient
    from azure.messaging.webpubsubclient.aio import WebPubSubClientCredential as AsyncCredential

    app = App(message=lambda request: json_answer({"echo": request.json()}))
    webpubsub.add_event_handler(URL, app, hub=HUB)
    service = webpubsub.service_client(HUB, aio=True)

    async def get_url() -> str:
        return (await service.get_client_access_token(user_id="alice"))["url"]  # type: ignore[no-any-return]

    client = AsyncClient(credential=AsyncCredential(get_url))
    replies: list[Any] = []

    async def on_server_message(args: Any) -> None:
        replies.append(args.data)

    await client.subscribe(CallbackType.SERVER_MESSAGE, on_server_message)
    await client.open()
    try:
        assert events(webpubsub) == ["connect", "connected"]
        assert app.requests[0].headers["ce-userId"] == "alice"
        await client.send_event("message", {"n": 1}, WebPubSubDataType.JSON)
        assert app.requests[-1].json() == {"n": 1}
    finally:
        await client.close()
        await service.close()

    assert events(webpubsub) == ["connect", "connected", "message", "disconnected"]
    assert replies == [{"echo": {"n": 1}}]


# -- connect refused ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("how", ["connect", "connect_url"])
def test_a_refused_connect_raises_connection_refused_with_the_status(
    webpubsub: FakeWebPubSub, status: int, how: str
) -> None:
    webpubsub.add_event_handler(URL, App(connect=UpstreamResponse(status)), hub=HUB)
    with pytest.raises(ConnectionRefused) as refused:
        if how == "connect":
            webpubsub.connect(HUB, user_id="mallory")
        else:
            webpubsub.connect_url(token_url(webpubsub, user_id="mallory"))

    assert refused.value.status == status
    assert f"the connect event handler answered {status}" in refused.value.reason
    assert webpubsub.lifecycle == () and webpubsub.connections == []
    assert events(webpubsub) == ["connect"]  # no connected, and no disconnected for a connection never opened


def test_a_5xx_or_a_failing_app_refuses_with_500(webpubsub: FakeWebPubSub) -> None:
    def broken(request: UpstreamRequest) -> UpstreamResponse:
        raise RuntimeError("the app failed")

    webpubsub.add_event_handler(URL, App(connect=UpstreamResponse(503)), hub=HUB)
    webpubsub.add_event_handler(URL, App(connect=broken), hub="other")
    for hub in (HUB, "other"):
        with pytest.raises(ConnectionRefused) as refused:
            webpubsub.connect(hub)
        assert refused.value.status == 500
    [failed] = webpubsub._upstream.errors
    assert failed.event == "connect" and "RuntimeError: the app failed" in (failed.error or "")
    webpubsub._upstream.errors.clear()  # the failure is what this test checks


@pytest.mark.parametrize("status", [401, 500])
def test_the_sync_client_sdk_open_fails_when_connect_is_refused(webpubsub: FakeWebPubSub, status: int) -> None:
    webpubsub.add_event_handler(URL, App(connect=UpstreamResponse(status)), hub=HUB)
    client = WebPubSubClient(credential=WebPubSubClientCredential(lambda: token_url(webpubsub, user_id="mallory")))

    with pytest.raises(OpenClientError) as refused:
        client.open()

    assert f"Handshake status {status} " in str(refused.value)
    assert webpubsub.lifecycle == () and events(webpubsub) == ["connect"]


@pytest.mark.parametrize("status", [401, 500])
async def test_the_aio_client_sdk_open_fails_when_connect_is_refused(webpubsub: FakeWebPubSub, status: int) -> None:
    from azure.messaging.webpubsubclient.aio import WebPubSubClient as AsyncClient
    from azure.messaging.webpubsubclient.aio import WebPubSubClientCredential as AsyncCredential

    webpubsub.add_event_handler(URL, App(connect=UpstreamResponse(status)), hub=HUB)
    url = token_url(webpubsub, user_id="mallory")

    async def get_url() -> str:
        return url

    client = AsyncClient(credential=AsyncCredential(get_url))
    with pytest.raises(OpenClientError) as refused:
        await client.open()
    await client.close()

    assert str(status) in str(refused.value)
    assert webpubsub.lifecycle == () and events(webpubsub) == ["connect"]


# -- the connect answer ---------------------------------------------------------------------------------------


def test_connect_answer_sets_user_groups_roles_and_subprotocol(webpubsub: FakeWebPubSub) -> None:
    answer = json_answer(
        {"userId": "bob", "groups": ["room"], "roles": ["webpubsub.sendToGroup.room"], "subprotocol": JSON_PROTOCOL}
    )
    app = App(connect=answer)
    webpubsub.add_event_handler(URL, app, hub=HUB)
    url = token_url(webpubsub, user_id="alice", groups=["lobby"])

    client = webpubsub.connect_url(url)

    assert client.user_id == "bob" and client.groups == {"room"} and client.protocol == JSON_PROTOCOL
    assert json.loads(client.frames[0])["userId"] == "bob"  # system/connected says who the app made it
    sent = client.send_to_group("room", "hi")
    assert sent is not None and sent.success  # the role the app gave
    denied = client.send_to_group("lobby", "hi")
    assert denied is not None and denied.error_name == "Forbidden"
    assert app.requests[0].headers["ce-userId"] == "alice"  # connect: the token's user
    assert app.requests[1].headers["ce-userId"] == "bob"  # connected and later: the app's


class Link:
    """A bare link, as a raw WebSocket library's seam gives the gateway: what the service writes, how it ended."""

    def __init__(self) -> None:
        self.written: list[Any] = []
        self.ended: tuple[int, str | None] | None = None

    def write(self, item: Any) -> None:
        self.written.append(item)

    inbox = None

    def end(self, code: int, reason: str | None) -> None:
        self.ended = (code, reason)


def test_connect_answer_picks_one_of_the_offered_subprotocols(webpubsub: FakeWebPubSub) -> None:
    app = App(connect=json_answer({"subprotocol": RELIABLE}))
    webpubsub.add_event_handler(URL, app, hub=HUB)

    session, protocol = webpubsub._gateway.handshake(token_url(webpubsub), Link(), offered=[JSON_PROTOCOL, RELIABLE])

    assert protocol.name == RELIABLE and session is not None and session.reliable
    connect, connected = app.requests
    assert connect.headers["ce-subprotocol"] == JSON_PROTOCOL  # the service's own pick, before the app chose
    assert connect.json()["subprotocols"] == [JSON_PROTOCOL, RELIABLE]
    assert connected.headers["ce-subprotocol"] == RELIABLE


def test_connect_answer_may_pick_a_custom_subprotocol(webpubsub: FakeWebPubSub) -> None:
    app = App(connect=json_answer({"subprotocol": "chat.custom.v1"}), message=UpstreamResponse(204))
    webpubsub.add_event_handler(URL, app, hub=HUB)
    link = Link()

    session, protocol = webpubsub._gateway.handshake(token_url(webpubsub), link, offered=["chat.custom.v1"])

    assert protocol.name is None and session is not None  # a simple client: its frames are message events
    session.receive("hi")
    connect, connected, message = app.requests
    assert "ce-subprotocol" not in connect.headers and connect.json()["subprotocols"] == ["chat.custom.v1"]
    assert connected.headers["ce-subprotocol"] == message.headers["ce-subprotocol"] == "chat.custom.v1"
    assert message.body == b"hi" and link.ended is None


def test_connect_answer_roles_empty_removes_the_tokens_roles(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(connect=json_answer({"roles": []})), hub=HUB)
    client = webpubsub.connect(HUB, roles=["webpubsub.joinLeaveGroup"])

    denied = client.join_group("room")
    assert denied is not None and denied.error_name == "Forbidden"


def test_an_empty_connect_answer_keeps_the_tokens_values(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(connect=UpstreamResponse(200)), hub=HUB)
    client = webpubsub.connect(HUB, user_id="alice", groups=["lobby"])

    assert client.user_id == "alice" and client.groups == {"lobby"}


def test_a_subprotocol_the_client_did_not_offer_refuses_with_500(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(connect=json_answer({"subprotocol": RELIABLE})), hub=HUB)
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect(HUB, protocol=JSON_PROTOCOL)
    assert refused.value.status == 500 and "did not offer" in refused.value.reason


def test_a_group_name_the_service_cannot_use_refuses_with_500(webpubsub: FakeWebPubSub) -> None:
    app = App(connect=json_answer({"groups": [" "]}))
    webpubsub.add_event_handler(URL, app, hub=HUB)
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect(HUB)
    assert refused.value.status == 500 and webpubsub.lifecycle == ()
    assert events(webpubsub) == ["connect"]


def test_an_invalid_hub_is_refused_before_the_app_is_asked(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect(HUB, groups=["bad group name with a very long " + "x" * 1100])
    assert refused.value.status == 400 and app.requests == []


def test_state_round_trips_across_events(webpubsub: FakeWebPubSub) -> None:
    app = App(
        connect=UpstreamResponse(204, {"ce-connectionState": "s1"}),
        message=UpstreamResponse(204, {"ce-connectionState": "s2"}),
    )
    webpubsub.add_event_handler(URL, app, hub=HUB)
    client = webpubsub.connect(HUB)
    client.send_event("message", "one")
    client.send_event("message", "two")
    client.close()

    states = [request.headers.get("ce-connectionState") for request in app.requests]
    assert [request.headers["ce-eventName"] for request in app.requests] == [
        "connect", "connected", "message", "message", "disconnected"
    ]
    assert states == [None, "s1", "s1", "s2", "s2"]
    assert [request.headers["ce-id"] for request in app.requests] == ["0", "1", "2", "3", "4"]


# -- user events ----------------------------------------------------------------------------------------------

REPLIES = {
    "text": (UpstreamResponse(200, {"Content-Type": "text/plain; charset=utf-8"}, "héllo"), "héllo"),
    "json": (json_answer({"a": [1, 2]}), {"a": [1, 2]}),
    "binary": (UpstreamResponse(200, {"Content-Type": "application/octet-stream"}, b"\x00\xff"), b"\x00\xff"),
}
SENT = {"text": ("hi", "text/plain", b"hi"), "json": ({"x": 1}, "application/json", b'{"x":1}'),
        "binary": (b"\x01\x02", "application/octet-stream", b"\x01\x02")}


@pytest.mark.parametrize("sent", ["text", "json", "binary"])
@pytest.mark.parametrize("reply", ["text", "json", "binary"])
def test_a_json_event_reaches_the_app_and_its_reply_comes_before_the_ack(
    webpubsub: FakeWebPubSub, sent: str, reply: str
) -> None:
    answer, value = REPLIES[reply]
    app = App(ping=answer)
    webpubsub.add_event_handler(URL, app, hub=HUB)
    client = webpubsub.connect(HUB, protocol=RELIABLE)
    data, content_type, body = SENT[sent]

    ack = client.send_event("ping", data, data_type=sent)  # type: ignore[arg-type]

    request = app.requests[-1]
    assert request.headers["ce-type"] == "azure.webpubsub.user.ping" and request.headers["ce-eventName"] == "ping"
    assert request.headers["Content-Type"] == content_type and request.body == body
    assert ack is not None and ack.success
    [received] = client.received
    assert received.data == value and received.data_type == reply and received.sequence_id == 1
    kinds = [json.loads(frame)["type"] for frame in client.frames]
    assert kinds == ["system", "message", "ack"]  # the reply, then the ack
    assert json.loads(client.frames[1])["from"] == "server"
    assert [delivery.message.data_type for delivery in webpubsub.deliveries] == [reply]


def test_an_event_without_ack_id_gets_the_reply_and_no_ack(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(message=REPLIES["text"][0]), hub=HUB)
    client = webpubsub.connect(HUB)

    assert client.send_event("message", "hi", ack=False) is None
    assert [message.data for message in client.received] == ["héllo"] and client.acks == {}


def test_an_empty_answer_sends_nothing_back(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(message=UpstreamResponse(200)), hub=HUB)
    client = webpubsub.connect(HUB)

    ack = client.send_event("message", "hi")
    assert ack is not None and ack.success and client.received == [] and webpubsub.deliveries == ()


def test_a_failed_event_is_an_internal_server_error_ack_and_the_connection_stays(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(message=UpstreamResponse(400)), hub=HUB)
    client = webpubsub.connect(HUB)

    ack = client.send_event("message", "hi")
    assert ack is not None and not ack.success and ack.error_name == "InternalServerError"
    assert "the message event handler answered 400" in (ack.error_message or "")
    assert client.send_event("message", "again", ack=False) is None and client.is_open


def test_a_duplicate_ack_id_answers_duplicate_without_calling_the_app(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    client = webpubsub.connect(HUB)

    client.send_event("message", "one", ack_id=7)
    ack = client.send_event("message", "two", ack_id=7)

    assert ack is not None and ack.error_name == "Duplicate"
    assert [request.body for request in app.requests if request.headers["ce-eventName"] == "message"] == [b"one"]


def test_an_event_no_handler_subscribes_to_keeps_the_no_handler_answer(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB, user_events="other")
    client = webpubsub.connect(HUB)

    ack = client.send_event("message", "hi")
    assert ack is not None and ack.error_name == "InternalServerError"
    assert ack.error_message == "No event handler is registered for the event 'message'."
    assert "message" not in events(webpubsub)


@pytest.mark.parametrize(("frame", "content_type"), [("hi", "text/plain"), (b"\x00\x01", "application/octet-stream")])
def test_a_simple_client_in_send_event_mode_sends_message_events(
    webpubsub: FakeWebPubSub, frame: str | bytes, content_type: str
) -> None:
    app = App(message=REPLIES["binary"][0])
    webpubsub.add_event_handler(URL, app, hub=HUB)
    client = webpubsub.connect(HUB, protocol=None)

    client.send_frame(frame)

    request = app.requests[-1]
    assert request.headers["ce-eventName"] == "message" and request.headers["Content-Type"] == content_type
    assert request.body == (frame.encode() if isinstance(frame, str) else frame)
    assert client.frames == [b"\x00\xff"] and client.is_open


def test_a_simple_client_gets_a_text_reply_as_a_text_frame(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(message=REPLIES["json"][0]), hub=HUB)
    client = webpubsub.connect(HUB, protocol=None)

    client.send_frame("hi")
    assert client.frames == ['{"a": [1, 2]}']


def test_a_failed_event_closes_a_simple_client_with_1011(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(message=UpstreamResponse(500)), hub=HUB)
    client = webpubsub.connect(HUB, protocol=None)

    client.send_frame("hi")

    assert client.close_code == 1011 and not client.is_open
    assert "the message event handler answered 500" in (client.close_reason or "")
    assert events(webpubsub)[-1] == "disconnected"


# -- handlers calling the service back ---------------------------------------------------------------------------


def test_a_flask_handler_broadcasts_with_the_sync_sdk_during_a_message_event(webpubsub: FakeWebPubSub) -> None:
    def hook(seen: Seen) -> None:  # the samples' message handler
        if seen.header("ce-eventName") == "message":
            webpubsub.service_client(HUB).send_to_all(seen.body.decode(), content_type="text/plain")

    webpubsub.add_event_handler(URL, flask_app(Script(key=webpubsub.access_key, hook=hook)), hub=HUB)
    listener = webpubsub.connect(HUB, user_id="listener")
    alice = webpubsub.connect(HUB, user_id="alice")

    ack = alice.send_event("message", "hello all")

    assert ack is not None and ack.success
    assert [message.data for message in listener.received] == ["hello all"]
    assert [message.data for message in alice.received] == ["hello all"]


async def test_an_asgi_handler_broadcasts_with_the_aio_sdk_from_an_async_test(webpubsub: FakeWebPubSub) -> None:
    async def hook(seen: Seen) -> None:
        if seen.header("ce-eventName") != "message":
            return
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        async with WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub=HUB) as client:
            await client.send_to_all({"echo": seen.body.decode()})

    script = Script(key=webpubsub.access_key)
    script.async_hook = hook
    webpubsub.add_event_handler(URL, starlette_app(script), hub=HUB)
    listener = webpubsub.connect(HUB)
    alice = webpubsub.connect(HUB, protocol=None)

    alice.send_frame("hi")

    assert [message.data for message in listener.received] == [{"echo": "hi"}]
    assert [json.loads(frame) for frame in alice.frames] == [{"echo": "hi"}]  # JSON: a text frame
    assert webpubsub._upstream.errors == []


# -- disconnected ---------------------------------------------------------------------------------------------


def _disconnected(webpubsub: FakeWebPubSub) -> list[tuple[str | None, Any]]:
    return [(call.connection_id, call.request.json()["reason"]) for call in calls(webpubsub, "disconnected")]


def test_disconnected_once_when_the_client_closes(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(), hub=HUB)
    client = webpubsub.connect(HUB)
    client.close()
    client.close()

    assert _disconnected(webpubsub) == [(client.connection_id, None)]


def test_disconnected_once_with_the_reason_of_a_rest_close(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(), hub=HUB)
    client = webpubsub.connect(HUB)

    webpubsub.service_client(HUB).close_connection(client.connection_id, reason="bye now")
    webpubsub.service_client(HUB).close_connection(client.connection_id, reason="again")

    assert _disconnected(webpubsub) == [(client.connection_id, "bye now")]


def test_disconnected_once_when_a_malformed_frame_closes_the_connection(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(), hub=HUB)
    client = webpubsub.connect(HUB)
    client.send_frame("not json")

    assert client.close_code == 1007
    assert _disconnected(webpubsub) == [
        (client.connection_id, "The client message is not a valid JSON protocol message.")
    ]


def test_disconnected_once_when_a_dropped_connection_is_not_recovered_in_time() -> None:
    now = [1_767_225_600.0]
    with FakeWebPubSub(clock=lambda: now[0]) as webpubsub:
        webpubsub.add_event_handler(URL, App(), hub=HUB)
        client = webpubsub.connect(HUB, protocol=RELIABLE)
        client.drop()
        assert events(webpubsub) == ["connect", "connected"]  # waiting for recovery
        now[0] += 31
        webpubsub.expire_dropped()

        assert _disconnected(webpubsub) == [(client.connection_id, "The connection was not recovered in time.")]


def test_a_recovered_connection_raises_no_new_events(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler(URL, App(), hub=HUB)
    client = webpubsub.connect(HUB, protocol=RELIABLE)
    client.drop()
    client.recover()

    assert events(webpubsub) == ["connect", "connected"]
    client.close()
    assert events(webpubsub) == ["connect", "connected", "disconnected"]


def test_stop_sends_the_disconnected_events_of_the_clients_it_closes() -> None:
    app = App()
    with FakeWebPubSub() as webpubsub:
        webpubsub.add_event_handler(URL, app, hub=HUB)
        webpubsub.connect(HUB)
    assert [request.headers["ce-eventName"] for request in app.requests] == ["connect", "connected", "disconnected"]


def test_events_of_a_connection_come_in_order(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    first = webpubsub.connect(HUB, user_id="first")
    second = webpubsub.connect(HUB, user_id="second")
    first.send_event("a", "1")
    second.send_event("b", "2")
    first.send_event("c", "3")
    webpubsub.service_client(HUB).close_all_connections()

    def of(client: Any) -> list[str]:
        return [call.event for call in webpubsub.upstream_calls if call.connection_id == client.connection_id]

    assert of(first) == ["connect", "connected", "a", "c", "disconnected"]
    assert of(second) == ["connect", "connected", "b", "disconnected"]


def test_an_event_handler_that_subscribes_to_no_system_events_is_only_asked_for_user_events(
    webpubsub: FakeWebPubSub,
) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB, system_events=())
    client = webpubsub.connect(HUB)
    client.send_event("message", "x")
    client.close()

    assert events(webpubsub) == ["message"]


def test_reset_keeps_the_handlers_and_clears_the_calls(webpubsub: FakeWebPubSub) -> None:
    app = App()
    webpubsub.add_event_handler(URL, app, hub=HUB)
    webpubsub.connect(HUB)

    webpubsub.reset()

    assert webpubsub.upstream_calls == []
    assert [request.headers["ce-eventName"] for request in app.requests] == ["connect", "connected", "disconnected"]
    webpubsub.connect(HUB)
    assert events(webpubsub) == ["connect", "connected"]


def test_a_handler_connecting_from_another_thread_during_connect_does_not_deadlock(webpubsub: FakeWebPubSub) -> None:
    def connect(request: UpstreamRequest) -> None:
        if request.headers.get("ce-userId") == "outer":
            worker = threading.Thread(target=lambda: webpubsub.connect(HUB, user_id="inner"))
            worker.start()
            worker.join(TIMEOUT)

    webpubsub.add_event_handler(URL, App(connect=connect), hub=HUB)
    webpubsub.connect(HUB, user_id="outer")

    assert sorted(client.user_id or "" for client in webpubsub.connections) == ["inner", "outer"]


# -- teardown -------------------------------------------------------------------------------------------------


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Inner runs treat warnings as errors, and pin pytest-asyncio's loop scope (as tests/plugin does)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-W error -o asyncio_default_fixture_loop_scope=function")
    return pytester


FAILING_APP = """
import pytest
from pytest_webpubsub import UpstreamResponse

def app(request):
    if request.method == "OPTIONS":
        return UpstreamResponse(200, {{"WebHook-Allowed-Origin": "*"}})
    if request.headers["ce-eventName"] == "message":
        raise RuntimeError("the app broke on message")
    return None

{marker}
def test_event(webpubsub):
    webpubsub.add_event_handler("http://localhost/eventhandler", app, hub="chat")
    client = webpubsub.connect("chat", user_id="alice")
    ack = client.send_event("message", "hi")
    assert ack.error_name == "InternalServerError"
"""


def test_a_failing_handler_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FAILING_APP.format(marker=""))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-webpubsub: 1 event handler call(s) failed during this test*",
            "*- message event, POST http://localhost/eventhandler (connection *, user alice):",
            "*RuntimeError: the app broke on message*",
            "*@pytest.mark.webpubsub(fail_on_upstream_errors=False)*",
        ]
    )


def test_fail_on_upstream_errors_false_lets_the_test_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FAILING_APP.format(marker="@pytest.mark.webpubsub(fail_on_upstream_errors=False)"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_ini_key_turns_the_teardown_failure_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nwebpubsub_fail_on_upstream_errors = false\nwebpubsub_upstream_timeout = 2.5\n")
    pytester.makepyfile(
        """
        def test_options(webpubsub):
            assert webpubsub.options.fail_on_upstream_errors is False
            assert webpubsub._upstream.timeout == 2.5
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.skipif(
    int(__import__("websockets").__version__.split(".")[0]) < 16, reason="the websockets seam needs websockets >= 16"
)
def test_a_raw_websocket_client_raises_the_events(webpubsub: FakeWebPubSub) -> None:
    from websockets.sync.client import connect

    app = App(message=lambda request: UpstreamResponse(200, {"Content-Type": "text/plain"}, b"echo " + request.body))
    webpubsub.add_event_handler(URL, app, hub=HUB)

    with connect(token_url(webpubsub, user_id="ann")) as ws:  # no subprotocol: a simple client in sendEvent mode
        assert events(webpubsub) == ["connect", "connected"]
        ws.send("hi")
        assert ws.recv(timeout=TIMEOUT) == "echo hi"

    assert events(webpubsub) == ["connect", "connected", "message", "disconnected"]
    assert {call.user_id for call in webpubsub.upstream_calls[1:]} == {"ann"}
