"""Injected connection failures, timeouts, targets and delays: azure-core's and httpx's own errors and retries.

A POST that times out is not retried by azure-core (it may have reached the service); a PUT is. A connection
failure is retried for any method. Every case runs with the sync and the aio SDK, key and Entra auth (``sdk``).
"""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from pytest_webpubsub import FakeWebPubSub

from .support import HUB, Sdk


async def test_connection_failures_of_a_put_are_retried_by_the_sdk(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(error="connection", times=2)

    await sdk.add_connection_to_group("room", alice.connection_id)

    assert [(call.operation, call.status_code, call.error) for call in webpubsub.rest_calls] == [
        ("add_connection_to_group", None, "injected fault: connection failure"),
        ("add_connection_to_group", None, "injected fault: connection failure"),
        ("add_connection_to_group", 200, None),
    ]
    assert alice.groups == {"room"}
    assert webpubsub.pending_faults == []


async def test_more_connection_failures_than_retries_raise_service_request_error(
    sdk: Sdk, webpubsub: FakeWebPubSub
) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(error="connection", times=4)
    with pytest.raises(ServiceRequestError, match="injected fault: add_connection_to_group could not connect"):
        await sdk.add_connection_to_group("room", alice.connection_id)
    assert len(webpubsub.rest_calls) == 4  # the first try and azure-core's 3 retries
    assert alice.groups == set()


async def test_a_post_is_not_retried_after_a_connection_failure(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(error="connection")
    with pytest.raises(ServiceRequestError):
        await sdk.send_to_all({"n": 1})  # azure-core retries only idempotent methods after a transport error
    assert [call.status_code for call in webpubsub.rest_calls] == [None]
    assert alice.received == []


async def test_a_timed_out_post_is_not_retried_but_a_put_is(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(error="timeout", operation="send_to_all")
    with pytest.raises(ServiceResponseError, match="timed out"):
        await sdk.send_to_all({"n": 1})
    assert alice.received == []

    webpubsub.inject_fault(error="timeout", operation="add_connection_to_group")
    await sdk.add_connection_to_group("room", alice.connection_id)
    assert [call.status_code for call in webpubsub.rest_calls if call.operation == "add_connection_to_group"] == [
        None, 200
    ]
    assert alice.groups == {"room"}


async def test_a_target_narrows_the_fault_to_calls_about_it(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["room", "other"])
    webpubsub.inject_fault(503, target="room", times=1)

    await sdk.send_to_group("other", "not faulted", content_type="text/plain")
    await sdk.send_to_group("room", "faulted once, then retried", content_type="text/plain")

    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("send_to_group", 202), ("send_to_group", 503), ("send_to_group", 202)
    ]
    assert [m.data for m in alice.received] == ["not faulted", "faulted once, then retried"]


def test_a_target_may_be_a_connection_and_a_delay_moves_the_fake_clock(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    client = webpubsub.service_client(HUB)
    before = webpubsub.clock()
    webpubsub.inject_fault(error="timeout", target=alice, delay=45, operation="send_to_connection")

    with pytest.raises(ServiceResponseError):
        client.send_to_connection(alice.connection_id, "late", content_type="text/plain")

    assert webpubsub.clock() - before >= 45
    assert alice.received == []


def test_httpx_apps_get_httpx_errors(webpubsub: FakeWebPubSub) -> None:
    url = f"{webpubsub.endpoint}/api/health"
    webpubsub.inject_fault(error="connection", operation="get_service_status")
    with pytest.raises(httpx.ConnectError, match="could not connect"):
        httpx.head(url)
    webpubsub.inject_fault(error="timeout", operation="get_service_status")
    with pytest.raises(httpx.ReadTimeout):
        httpx.head(url)
    assert httpx.head(url).status_code == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one of status"),
        ({"status": 503, "error": "timeout"}, "exactly one of status"),
        ({"status": 200}, "400-599"),
        ({"error": "dns"}, "must be one of connection, timeout"),
        ({"status": 503, "times": 0}, "times=0"),
        ({"status": 503, "delay": -1}, "delay=-1"),
        ({"status": 503, "operation": "send"}, "not a REST operation"),
    ],
)
def test_invalid_faults_are_refused(webpubsub: FakeWebPubSub, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        webpubsub.inject_fault(**arguments)  # type: ignore[arg-type]
    assert webpubsub.pending_faults == []


def test_injected_faults_show_in_assertion_failures(webpubsub: FakeWebPubSub) -> None:
    webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(error="connection")
    with pytest.raises(ServiceRequestError):
        webpubsub.service_client(HUB).send_to_user("alice", "hi", content_type="text/plain")
    with pytest.raises(AssertionError) as failure:
        webpubsub.assert_delivered(user="alice")
    assert "  - send_to_user hub 'chat' user 'alice' -> no answer (injected fault: connection failure)" in str(
        failure.value
    )
