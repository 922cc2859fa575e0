"""The service's CloudEvents built and read, as pure functions: templates, signatures, bodies, answers."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from pytest_webpubsub import Message, UpstreamCall, UpstreamRequest, UpstreamResponse
from pytest_webpubsub._upstream import ConnectDecision, ConnectEvent, ConnectionInfo, UserEventResult
from pytest_webpubsub._upstream import cloudevents as ce

REQUEST = UpstreamRequest("POST", "http://app/eventhandler")


def _call(response: UpstreamResponse | None, event: str = "connect", error: str | None = None) -> UpstreamCall:
    return UpstreamCall("chat", event, "c1", None, REQUEST, response, error)


@pytest.mark.parametrize(
    "template",
    ["http://localhost/eventhandler", "https://app.example/api/{hub}/{event}", "http://127.0.0.1:8080/x?e={event}"],
)
def test_templates_the_service_accepts(template: str) -> None:
    assert ce.check_template(template) == template


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("http://localhost/{hubs}", "unknown parameter"),
        ("http://{hub}.example/x", "not allowed in the host"),
        ("ftp://localhost/x", "http"),
        ("localhost/x", "http"),
        ("http:///x", "http"),
    ],
)
def test_templates_the_service_refuses(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ce.check_template(template)


def test_a_template_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        ce.check_template(None)  # type: ignore[arg-type]


def test_the_url_carries_the_lower_cased_hub_and_the_quoted_event() -> None:
    assert ce.resolve("https://app/api/{hub}/{event}", "Chat", "a b/c") == "https://app/api/chat/a%20b%2Fc"
    assert ce.resolve("http://app/eventhandler", "Chat", "connect") == "http://app/eventhandler"


def test_the_signature_is_an_hmac_of_the_connection_id_per_access_key() -> None:
    first = hmac.new(b"key-1", b"conn", hashlib.sha256).hexdigest()
    second = hmac.new(b"key-2", b"conn", hashlib.sha256).hexdigest()
    assert ce.signature(["key-1"], "conn") == f"sha256={first}"
    assert ce.signature(["key-1", "key-2"], "conn") == f"sha256={first},sha256={second}"


def test_the_time_is_utc_with_a_z() -> None:
    assert ce.cloud_time(1_767_225_600.75) == "2026-01-01T00:00:00Z"


def test_the_validation_request() -> None:
    request = ce.validate_request("https://app/api/{hub}/{event}", "Chat", "res.webpubsub.azure.com")
    assert (request.method, request.url, request.body) == ("OPTIONS", "https://app/api/chat/validate", b"")
    assert list(request.headers.items()) == [("WebHook-Request-Origin", "res.webpubsub.azure.com"),
                                             ("ce-awpsversion", "1.0")]


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (UpstreamResponse(200, {"WebHook-Allowed-Origin": "*"}), None),
        (UpstreamResponse(204, {"webhook-allowed-origin": "RES.webpubsub.azure.com"}), None),
        (UpstreamResponse(200, {"WebHook-Allowed-Origin": " * "}), None),
        (UpstreamResponse(404, {"WebHook-Allowed-Origin": "*"}), "status 404"),
        (UpstreamResponse(200), "no WebHook-Allowed-Origin"),
        (UpstreamResponse(200, {"WebHook-Allowed-Origin": "other.example"}), "'other.example'"),
        (None, "no answer"),
    ],
)
def test_what_passes_the_handshake(response: UpstreamResponse | None, problem: str | None) -> None:
    found = ce.validation_problem(response, "res.webpubsub.azure.com")
    assert found == problem if problem is None else problem in (found or "")


def test_the_connect_body_leaves_out_the_token_and_lists_every_value() -> None:
    event = ConnectEvent(
        ConnectionInfo("chat", "c1"),
        claims={"sub": ["u1"], "role": "webpubsub.sendToGroup"},
        query={"access_token": ["jwt"], "k": ["v", "w"]},
        headers={"Authorization": ["Bearer jwt"], "User-Agent": ["ua"]},
        subprotocols=("json.webpubsub.azure.v1",),
        client_certificates=({"thumbprint": "t", "content": "pem"},),
    )
    assert json.loads(ce.connect_body(event)) == {
        "claims": {"sub": ["u1"], "role": ["webpubsub.sendToGroup"]},
        "query": {"k": ["v", "w"]},
        "headers": {"User-Agent": ["ua"]},
        "subprotocols": ["json.webpubsub.azure.v1"],
        "clientCertificates": [{"thumbprint": "t", "content": "pem"}],
    }


def test_the_disconnected_body_carries_the_reason() -> None:
    assert json.loads(ce.disconnected_body("bye")) == {"reason": "bye"}
    assert json.loads(ce.disconnected_body(None)) == {"reason": None}


def _json(value: object, status: int = 200) -> UpstreamResponse:
    return UpstreamResponse(status, {"Content-Type": "application/json"}, json.dumps(value))


OFFERED = ("json.webpubsub.azure.v1", "custom.v1")


@pytest.mark.parametrize(
    ("response", "decision"),
    [
        (UpstreamResponse(204), ConnectDecision(True, 204)),
        (UpstreamResponse(200), ConnectDecision(True, 200)),
        (UpstreamResponse(200, body=b"  \n"), ConnectDecision(True, 200)),
        (_json({}), ConnectDecision(True, 200)),
        (_json({"userId": "u2", "groups": ["g1", "g2"], "roles": ["webpubsub.joinLeaveGroup"],
                "subprotocol": "custom.v1"}),
         ConnectDecision(True, 200, None, "u2", ("g1", "g2"), ("webpubsub.joinLeaveGroup",), "custom.v1")),
        (_json({"groups": [], "roles": []}), ConnectDecision(True, 200, roles=())),
        (_json({"subprotocol": ""}), ConnectDecision(True, 200)),
        (_json({"userId": None}), ConnectDecision(True, 200)),
    ],
)
def test_connect_answers_that_accept(response: UpstreamResponse, decision: ConnectDecision) -> None:
    assert ce.connect_decision(_call(response), OFFERED) == decision


@pytest.mark.parametrize(
    ("response", "status", "reason"),
    [
        (UpstreamResponse(401, body="who are you"), 401, "answered 401"),
        (UpstreamResponse(403), 403, "answered 403"),
        (UpstreamResponse(500), 500, "answered 500"),
        (UpstreamResponse(503), 500, "answered 503"),
        (UpstreamResponse(302), 500, "answered 302"),
        (UpstreamResponse(200, body=b"{not json"), 500, "not JSON"),
        (UpstreamResponse(200, body=b"[" * 100_000), 500, "not JSON"),
        (UpstreamResponse(200, body=b"\xff"), 500, "not JSON"),
        (_json([1]), 500, "not an object"),
        (_json({"userId": 7}), 500, "userId"),
        (_json({"userId": ""}), 500, "userId"),
        (_json({"groups": "g1"}), 500, "groups"),
        (_json({"roles": [""]}), 500, "roles"),
        (_json({"subprotocol": "other.v1"}), 500, "did not offer"),
        (None, 500, "gave no answer (RuntimeError: boom)"),
    ],
)
def test_connect_answers_that_refuse(response: UpstreamResponse | None, status: int, reason: str) -> None:
    decision = ce.connect_decision(_call(response, error="Traceback...\nRuntimeError: boom\n"), OFFERED)
    assert (decision.accepted, decision.status) == (False, status)
    assert reason in (decision.reason or "")


@pytest.mark.parametrize(
    ("content_type", "data_type"),
    [
        ("text/plain", "text"),
        ("text/html; charset=utf-8", "text"),
        ("application/json", "json"),
        ("Application/JSON; charset=utf-8", "json"),
        ("application/cloudevents+json", "json"),
        ("application/octet-stream", "binary"),
        ("image/png", "binary"),
        (None, "binary"),
    ],
)
def test_the_reply_data_type_follows_the_content_type(content_type: str | None, data_type: str) -> None:
    assert ce.reply_data_type(content_type) == data_type


@pytest.mark.parametrize(
    ("response", "result"),
    [
        (UpstreamResponse(204), UserEventResult(True)),
        (UpstreamResponse(200), UserEventResult(True)),
        (UpstreamResponse(200, {"Content-Type": "text/plain"}, "hi"), UserEventResult(True, Message(b"hi", "text"))),
        (_json({"a": 1}), UserEventResult(True, Message(b'{"a": 1}', "json"))),
        (UpstreamResponse(200, {"Content-Type": "application/octet-stream"}, b"\x00\xff"),
         UserEventResult(True, Message(b"\x00\xff", "binary"))),
    ],
)
def test_user_event_answers_that_succeed(response: UpstreamResponse, result: UserEventResult) -> None:
    assert ce.user_event_result(_call(response, "message")) == result


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (UpstreamResponse(400), "message event handler answered 400"),
        (UpstreamResponse(500, {"Content-Type": "text/plain"}, "boom"), "answered 500"),
        (UpstreamResponse(200, {"Content-Type": "application/json"}, "{"), "json body that is not valid"),
        (UpstreamResponse(200, {"Content-Type": "application/json"}, "[" * 100_000), "json body that is not valid"),
        (UpstreamResponse(200, {"Content-Type": "text/plain"}, b"\xff"), "text body that is not valid"),
        (None, "gave no answer"),
    ],
)
def test_user_event_answers_that_fail(response: UpstreamResponse | None, error: str) -> None:
    result = ce.user_event_result(_call(response, "message", error="boom"))
    assert not result.ok and result.reply is None and error in (result.error or "")


@pytest.mark.parametrize(
    ("data", "data_type", "message"),
    [
        ("hé", "text", Message("hé".encode(), "text")),
        (None, "text", Message(b"", "text")),
        (b"raw", "text", Message(b"raw", "text")),
        ({"a": [1, "é"]}, "json", Message('{"a":[1,"é"]}'.encode(), "json")),
        ("s", "json", Message(b'"s"', "json")),
        (b'{"a":1}', "json", Message(b'{"a":1}', "json")),
        (b"\x00", "binary", Message(b"\x00", "binary")),
        (None, "binary", Message(b"", "binary")),
    ],
)
def test_user_event_payloads(data: object, data_type: str, message: Message) -> None:
    assert ce.to_message(data, data_type) == message


@pytest.mark.parametrize(("data", "data_type"), [(1, "text"), ("s", "binary"), (1, "binary"), ("s", "xml")])
def test_user_event_payloads_of_the_wrong_type(data: object, data_type: str) -> None:
    with pytest.raises((TypeError, ValueError), match="data_type"):
        ce.to_message(data, data_type)


def test_token_claims_become_lists_of_strings() -> None:
    claims = {"sub": "alice", "role": ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], "webpubsub.group": "g",
              "exp": 1767225600, "admin": True, "extra": {"a": 1}}
    assert ce.claim_values(claims) == {
        "sub": ["alice"], "role": ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], "webpubsub.group": ["g"],
        "exp": ["1767225600"], "admin": ["true"], "extra": ['{"a":1}'],
    }
