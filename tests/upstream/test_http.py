"""``app=None``: real HTTP calls to an event handler served on 127.0.0.1 (a standard-library server)."""

from __future__ import annotations

import json
import socket

import pytest

from pytest_webpubsub import AbuseProtectionError, FakeWebPubSub, Message
from pytest_webpubsub._upstream import ConnectDecision, ConnectEvent, Upstream

from .support import ALICE, HOST, Script, make_upstream


def test_a_served_handler_gets_the_handshake_and_the_events(server: str, script: Script, upstream: Upstream) -> None:
    upstream.add_handler(server + "/api/{hub}/{event}", hub="Chat")
    script.answers["connect"] = (200, {"Content-Type": "application/json"}, json.dumps({"userId": "bob"}).encode())
    script.answers["message"] = (200, {"Content-Type": "application/octet-stream"}, b"\x01\x02")

    assert upstream.connect(ConnectEvent(ALICE)) == ConnectDecision(True, 200, user_id="bob")
    result = upstream.user_event(ALICE, "message", Message(b"hi", "text"))

    assert result.reply == Message(b"\x01\x02", "binary")
    assert [(seen.method, seen.path) for seen in script.seen] == [
        ("OPTIONS", "/api/chat/validate"), ("POST", "/api/chat/connect"), ("POST", "/api/chat/message")
    ]
    assert script.seen[0].header("WebHook-Request-Origin") == HOST
    assert script.seen[2].header("ce-signature") == upstream.calls[2].request.headers["ce-signature"]
    assert script.seen[2].header("content-type") == "text/plain" and script.seen[2].body == b"hi"
    assert upstream.errors == []


def test_a_served_handler_that_fails_the_handshake(server: str, script: Script, upstream: Upstream) -> None:
    script.allowed_origin = None
    with pytest.raises(AbuseProtectionError, match="no WebHook-Allowed-Origin header"):
        upstream.add_handler(server + "/eventhandler", hub="chat")


def test_a_slow_handler_times_out_and_the_timeout_is_recorded(server: str, script: Script) -> None:
    upstream = make_upstream(timeout=0.1)
    try:
        upstream.add_handler(server + "/eventhandler", hub="chat")
        result = upstream.user_event(ALICE, "slow", Message(b"", "text"))
        assert not result.ok and "gave no answer" in (result.error or "")
        [error] = upstream.errors
        assert error.event == "slow" and error.response is None
        assert f"no answer from {server}/eventhandler within 0.1 s" in (error.error or "")
    finally:
        upstream.close()


def test_an_unreachable_handler_is_recorded_and_refuses_the_connection(upstream: Upstream) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AbuseProtectionError, match="ConnectError"):
        upstream.add_handler(f"http://127.0.0.1:{port}/eventhandler", hub="chat")
    assert upstream.errors == upstream.calls


def test_real_calls_reach_the_app_while_a_fake_routes_httpx(server: str, script: Script) -> None:
    with FakeWebPubSub() as fake:  # httpx requests for the fake's host are routed to it; others pass
        fake.add_event_handler(server + "/eventhandler", hub="chat")
        assert fake.upstream_calls[0].status == 200 and script.events == ["validate"]
