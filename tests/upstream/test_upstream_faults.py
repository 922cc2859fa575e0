"""Injected event-handler failures: the app is not called, the service acts on the injected answer."""

from __future__ import annotations

import pytest

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub, UpstreamRequest, UpstreamResponse


def accepting_app(request: UpstreamRequest) -> UpstreamResponse | None:
    if request.method == "OPTIONS":
        return UpstreamResponse(200, {"WebHook-Allowed-Origin": "*"})
    return UpstreamResponse(200, {"Content-Type": "text/plain"}, b"echo") if request.headers["ce-type"].endswith(
        "message"
    ) else None


def test_an_injected_connect_failure_refuses_the_connection_once(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler("http://app/eventhandler", accepting_app, hub="chat")
    webpubsub.inject_upstream_fault("connect", status=401)

    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect("chat", user_id="alice")
    assert refused.value.status == 401
    alice = webpubsub.connect("chat", user_id="alice")  # the fault was used up: the app answers again
    assert alice.is_open
    assert [(call.event, call.status) for call in webpubsub.upstream_calls if call.event == "connect"] == [
        ("connect", 401), ("connect", 204)
    ]
    assert webpubsub.pending_faults == []


def test_an_injected_user_event_timeout_gives_an_internal_server_error_ack(webpubsub: FakeWebPubSub) -> None:
    webpubsub.add_event_handler("http://app/eventhandler", accepting_app, hub="chat")
    alice = webpubsub.connect("chat", user_id="alice")
    webpubsub.inject_upstream_fault("message", error="timeout")

    failed = alice.send_event("message", "hi")
    answered = alice.send_event("message", "again")

    assert failed is not None and (failed.success, failed.error_name) == (False, "InternalServerError")
    assert answered is not None and answered.success
    assert [message.data for message in alice.received] == ["echo"]
    timed_out = [call for call in webpubsub.upstream_calls if call.event == "message"][0]
    assert timed_out.response is None and timed_out.error is not None and "injected fault" in timed_out.error


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"status": 200}, "failing HTTP status"), ({"error": "connection"}, "can only time out"), ({"times": 0}, "times")],
)
def test_invalid_upstream_faults_are_refused(
    webpubsub: FakeWebPubSub, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        webpubsub.inject_upstream_fault("connect", **arguments)  # type: ignore[arg-type]
