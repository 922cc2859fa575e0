"""A real Flask app (WSGI) and a real Starlette app (ASGI) as event handlers, driven through ``Upstream``:
the handshake, every event and header, the connect answer, refusals, state, signatures and replies."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from pytest_webpubsub import AbuseProtectionError, Message
from pytest_webpubsub._upstream import ConnectDecision, ConnectEvent, ConnectionInfo, Upstream

from .support import ALICE, HOST, KEY, Script, make_app, make_upstream

URL = "http://app.example/eventhandler"
KINDS = ["flask", "starlette"]
JSON_PROTOCOL = "json.webpubsub.azure.v1"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def handled(kind: str, script: Script, upstream: Upstream) -> Upstream:
    """``upstream`` with the scripted app of ``kind`` added for hub ``Chat``."""
    upstream.add_handler(URL, make_app(kind, script), hub="Chat")
    return upstream


def _connect(upstream: Upstream, connection: ConnectionInfo = ALICE) -> ConnectDecision:
    event = ConnectEvent(
        connection,
        claims={"sub": [connection.user_id or ""], "role": ["webpubsub.joinLeaveGroup"]},
        query={"access_token": ["jwt"], "room": ["1"]},
        headers={"Authorization": ["Bearer jwt"], "User-Agent": ["test"]},
        subprotocols=(JSON_PROTOCOL, "custom.v1"),
    )
    return upstream.connect(event)


def _signature(key: str = KEY, connection_id: str = ALICE.connection_id) -> str:
    return "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


def _expected_headers(event: str, event_id: int, content_type: str, *, system: bool = True,
                      state: str | None = None) -> list[tuple[str, str]]:
    headers = [
        ("ce-specversion", "1.0"),
        ("ce-awpsversion", "1.0"),
        ("ce-type", f"azure.webpubsub.{'sys' if system else 'user'}.{event}"),
        ("ce-source", "/hubs/chat/client/conn-1"),
        ("ce-id", str(event_id)),
        ("ce-time", "2026-01-01T00:00:00Z"),
        ("ce-hub", "chat"),
        ("ce-connectionId", "conn-1"),
        ("ce-eventName", event),
        ("ce-userId", "alice"),
        ("ce-subprotocol", JSON_PROTOCOL),
    ]
    if state is not None:
        headers.append(("ce-connectionState", state))
    return headers + [("ce-signature", _signature()), ("WebHook-Request-Origin", HOST), ("Content-Type", content_type)]


# -- abuse protection --------------------------------------------------------------------------------------


def test_the_handshake_passes_and_is_recorded(kind: str, script: Script, upstream: Upstream) -> None:
    handler = upstream.add_handler("http://app.example/api/{hub}/{event}", make_app(kind, script), hub="Chat")

    assert upstream.handlers == [handler] and handler.app_kind == ("wsgi" if kind == "flask" else "asgi")
    [seen] = script.seen
    assert (seen.method, seen.path) == ("OPTIONS", "/api/chat/validate")
    assert seen.header("WebHook-Request-Origin") == HOST and seen.header("ce-awpsversion") == "1.0"
    [call] = upstream.calls
    assert (call.event, call.hub, call.connection_id, call.user_id) == ("validate", "chat", None, None)
    assert call.response is not None and call.response.headers["webhook-allowed-origin"] == HOST
    assert upstream.errors == []


@pytest.mark.parametrize("origin", ["*", HOST.upper()])
def test_the_handshake_accepts_any_origin_or_the_host(kind: str, script: Script, upstream: Upstream,
                                                      origin: str) -> None:
    script.allowed_origin = origin
    upstream.add_handler(URL, make_app(kind, script), hub="Chat")
    assert upstream.handles("chat", "message")


@pytest.mark.parametrize(
    ("origin", "status", "problem"),
    [
        (None, 200, "no WebHook-Allowed-Origin header"),
        ("evil.example", 200, "WebHook-Allowed-Origin: 'evil.example'"),
        ("*", 404, "status 404"),
        ("*", 500, "status 500"),
    ],
)
def test_a_failed_handshake_raises_and_adds_nothing(kind: str, script: Script, upstream: Upstream,
                                                    origin: str | None, status: int, problem: str) -> None:
    script.allowed_origin, script.validate_status = origin, status

    with pytest.raises(AbuseProtectionError, match="abuse-protection handshake") as failure:
        upstream.add_handler(URL, make_app(kind, script), hub="Chat")

    assert problem in str(failure.value) and "WebHook-Allowed-Origin: *" in str(failure.value)
    assert failure.value.call is upstream.calls[-1] and failure.value.call.event == "validate"
    assert upstream.handlers == [] and not upstream.handles("Chat", "message")
    assert _connect(upstream) == ConnectDecision(True, 200)  # no handler: accepted, nothing sent
    assert len(script.seen) == 1


def test_a_flask_route_without_the_handshake_fails_it(script: Script, upstream: Upstream) -> None:
    from flask import Flask

    app = Flask("no-options")
    app.add_url_rule("/eventhandler", "h", lambda: ("", 204), methods=["POST"])  # Flask answers OPTIONS itself

    with pytest.raises(AbuseProtectionError, match="no WebHook-Allowed-Origin header"):
        upstream.add_handler(URL, app, hub="Chat")


# -- every event, every header -----------------------------------------------------------------------------


def test_every_event_carries_the_services_headers_and_body(handled: Upstream, script: Script) -> None:
    assert _connect(handled).accepted
    handled.connected(ALICE)
    handled.drain()
    assert handled.user_event(ALICE, "message", Message(b"hi", "text")).ok
    assert handled.user_event(ALICE, "Custom", Message(b'{"a":1}', "json")).ok
    assert handled.user_event(ALICE, "bin", Message(b"\x00\x01", "binary")).ok
    handled.disconnected(ALICE, "client closed")
    handled.drain()

    connect, connected, message, custom, binary, disconnected = handled.calls[1:]
    system_type = "application/json; charset=utf-8"
    assert list(connect.request.headers.items()) == _expected_headers("connect", 0, system_type)
    assert list(connected.request.headers.items()) == _expected_headers("connected", 1, system_type)
    assert list(message.request.headers.items()) == _expected_headers("message", 2, "text/plain", system=False)
    assert list(custom.request.headers.items()) == _expected_headers("Custom", 3, "application/json", system=False)
    assert list(binary.request.headers.items()) == _expected_headers("bin", 4, "application/octet-stream",
                                                                     system=False)
    assert list(disconnected.request.headers.items()) == _expected_headers("disconnected", 5, system_type)
    assert all(call.request.method == "POST" and call.request.url == URL for call in handled.calls[1:])
    assert [(call.event, call.connection_id, call.user_id, call.status) for call in handled.calls[1:]] == [
        ("connect", "conn-1", "alice", 204), ("connected", "conn-1", "alice", 204),
        ("message", "conn-1", "alice", 204), ("Custom", "conn-1", "alice", 204),
        ("bin", "conn-1", "alice", 204), ("disconnected", "conn-1", "alice", 204),
    ]

    # The app received the same headers and bodies through its framework.
    assert script.events == ["validate", "connect", "connected", "message", "Custom", "bin", "disconnected"]
    for call, seen in zip(handled.calls[1:], script.seen[1:]):
        assert seen.path == "/eventhandler" and seen.body == call.request.body
        assert {name.lower(): value for name, value in call.request.headers.items()}.items() <= seen.headers.items()
    assert json.loads(script.seen[1].body) == {
        "claims": {"sub": ["alice"], "role": ["webpubsub.joinLeaveGroup"]},
        "query": {"room": ["1"]},
        "headers": {"User-Agent": ["test"]},
        "subprotocols": [JSON_PROTOCOL, "custom.v1"],
        "clientCertificates": [],
    }
    assert [seen.body for seen in script.seen[2:]] == [b"{}", b"hi", b'{"a":1}', b"\x00\x01",
                                                       b'{"reason":"client closed"}']


def test_anonymous_connections_and_simple_clients_send_no_user_or_subprotocol(handled: Upstream) -> None:
    anonymous = ConnectionInfo("chat", "conn-2")
    handled.connected(anonymous)
    handled.drain()
    headers = handled.calls[-1].request.headers
    assert "ce-userId" not in headers and "ce-subprotocol" not in headers
    assert headers["ce-source"] == "/hubs/chat/client/conn-2" and headers["ce-id"] == "1"


def test_the_url_template_takes_the_hub_and_the_event(kind: str, script: Script, upstream: Upstream) -> None:
    upstream.add_handler("http://app.example/api/{hub}/{event}", make_app(kind, script), hub="Chat")
    upstream.user_event(ALICE, "message", Message(b"hi", "text"))
    assert script.seen[-1].path == "/api/chat/message"
    assert upstream.calls[-1].request.url == "http://app.example/api/chat/message"


# -- the connect answer ------------------------------------------------------------------------------------


def test_each_field_of_the_connect_answer_is_applied(handled: Upstream, script: Script) -> None:
    answer = {"userId": "bob", "groups": ["room-1", "room-2"], "roles": ["webpubsub.sendToGroup"],
              "subprotocol": "custom.v1"}
    script.answers["connect"] = (200, {"Content-Type": "application/json"}, json.dumps(answer).encode())

    assert _connect(handled) == ConnectDecision(
        True, 200, None, "bob", ("room-1", "room-2"), ("webpubsub.sendToGroup",), "custom.v1"
    )


@pytest.mark.parametrize(("status", "refused_with"), [(401, 401), (403, 403), (500, 500), (503, 500)])
def test_a_connect_refusal_refuses_with_its_status(handled: Upstream, script: Script, status: int,
                                                   refused_with: int) -> None:
    script.answers["connect"] = (status, {"ce-connectionState": "never"}, b"go away")

    decision = _connect(handled)

    assert (decision.accepted, decision.status) == (False, refused_with)
    assert f"answered {status}" in (decision.reason or "")
    assert handled.state(ALICE.connection_id) is None
    assert handled.errors == []


def test_the_app_checks_the_signature_with_the_right_key(kind: str, script: Script) -> None:
    upstream = make_upstream(access_keys=["the-secondary-key", KEY])  # two keys: both signatures are sent
    try:
        upstream.add_handler(URL, make_app(kind, script), hub="Chat")
        assert _connect(upstream).accepted
        assert upstream.calls[-1].request.headers["ce-signature"].split(",")[1] == _signature()
    finally:
        upstream.close()


def test_an_app_checking_a_wrong_key_refuses_the_connection(handled: Upstream, script: Script) -> None:
    script.key = "not-the-access-key"

    decision = _connect(handled)

    assert (decision.accepted, decision.status) == (False, 401)
    assert handled.user_event(ALICE, "message", Message(b"hi", "text")).ok is False


# -- state ---------------------------------------------------------------------------------------------------


def test_the_connection_state_round_trips(handled: Upstream, script: Script) -> None:
    script.answers["connect"] = (204, {"ce-connectionState": "s1"}, b"")
    assert _connect(handled).accepted
    handled.connected(ALICE)
    script.answers["message"] = (200, {"ce-connectionState": "s2", "Content-Type": "text/plain"}, b"ok")
    handled.user_event(ALICE, "message", Message(b"1", "text"))  # drains `connected` first, sent with s1
    script.answers["message"] = (204, {}, b"")
    handled.user_event(ALICE, "message", Message(b"2", "text"))
    script.answers["message"] = (500, {"ce-connectionState": "ignored"}, b"")
    handled.user_event(ALICE, "message", Message(b"3", "text"))
    handled.disconnected(ALICE, None)
    handled.drain()

    states = [(seen.header("ce-eventName"), seen.header("ce-connectionState")) for seen in script.seen[1:]]
    assert states == [("connect", None), ("connected", "s1"), ("message", "s1"), ("message", "s2"),
                      ("message", "s2"), ("disconnected", "s2")]
    assert handled.state(ALICE.connection_id) is None  # forgotten with the connection


def test_an_empty_state_header_clears_the_state(handled: Upstream, script: Script) -> None:
    script.answers["connect"] = (204, {"ce-connectionState": "s1"}, b"")
    _connect(handled)
    script.answers["message"] = (204, {"ce-connectionState": ""}, b"")
    handled.user_event(ALICE, "message", Message(b"1", "text"))
    handled.user_event(ALICE, "message", Message(b"2", "text"))
    assert "ce-connectionState" not in handled.calls[-1].request.headers


# -- user event replies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "reply"),
    [
        ("text/plain", b"hello", Message(b"hello", "text")),
        ("text/plain; charset=utf-8", "hé".encode(), Message("hé".encode(), "text")),
        ("application/json", b'{"echo":[1,2]}', Message(b'{"echo":[1,2]}', "json")),
        ("application/octet-stream", b"\x00\xffraw", Message(b"\x00\xffraw", "binary")),
    ],
)
def test_a_user_event_reply_keeps_its_data_type(handled: Upstream, script: Script, content_type: str, body: bytes,
                                                reply: Message) -> None:
    script.answers["message"] = (200, {"Content-Type": content_type}, body)
    result = handled.user_event(ALICE, "message", Message(b"ping", "text"))
    assert (result.ok, result.reply, result.error) == (True, reply, None)


def test_an_empty_reply_sends_nothing_and_a_failure_is_not_ok(handled: Upstream, script: Script) -> None:
    script.answers["message"] = (200, {}, b"")
    assert handled.user_event(ALICE, "message", Message(b"1", "text")) == handled.user_event(
        ALICE, "message", Message(b"2", "text")
    )
    assert handled.user_event(ALICE, "message", Message(b"1", "text")).reply is None
    script.answers["message"] = (400, {"Content-Type": "text/plain"}, b"bad")
    result = handled.user_event(ALICE, "message", Message(b"3", "text"))
    assert not result.ok and result.reply is None and "answered 400" in (result.error or "")


# -- failures ------------------------------------------------------------------------------------------------


def test_an_exception_escaping_a_starlette_app_is_recorded_with_its_traceback(script: Script,
                                                                               upstream: Upstream) -> None:
    upstream.add_handler(URL, make_app("starlette", script), hub="Chat")
    script.raise_on = "connect"

    decision = _connect(upstream)

    assert (decision.accepted, decision.status) == (False, 500)
    [error] = upstream.errors
    assert error is upstream.calls[-1] and error.response is None and error.status == 500
    assert "Traceback" in (error.error or "") and "RuntimeError: the app failed on connect" in (error.error or "")


def test_flask_answers_500_itself_unless_exceptions_propagate(script: Script, upstream: Upstream) -> None:
    app = make_app("flask", script)
    upstream.add_handler(URL, app, hub="Chat")
    script.raise_on = "message"

    result = upstream.user_event(ALICE, "message", Message(b"1", "text"))
    assert not result.ok and upstream.errors == [] and upstream.calls[-1].status == 500

    app.testing = True  # Flask re-raises: the traceback is recorded
    upstream.user_event(ALICE, "message", Message(b"1", "text"))
    assert "RuntimeError: the app failed on message" in (upstream.errors[0].error or "")
