"""azure-core's RetryPolicy against injected faults: real retries, no real back-off (sdk-internals §1.5).

The elapsed-time bounds are functional checks that the back-off sleeps (1.6 s, 3.2 s, or Retry-After) are
skipped after the fake's answers; they never wait themselves.
"""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError

from pytest_webpubsub import FakeWebPubSub

from .support import HUB, Sdk


async def test_transient_503s_are_retried_without_sleeping(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(503, times=2)

    started = time.monotonic()
    assert await sdk.send_to_all({"n": 1}) is None
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("send_to_all", 503),
        ("send_to_all", 503),
        ("send_to_all", 202),
    ]
    assert [m.data for m in alice.received] == [{"n": 1}]


async def test_429_with_retry_after_on_a_put_is_retried_without_sleeping(
    sdk: Sdk, webpubsub: FakeWebPubSub
) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(429, retry_after=7, operation="add_connection_to_group")

    started = time.monotonic()
    await sdk.send_to_all("not throttled", content_type="text/plain")
    assert await sdk.add_connection_to_group("room", alice.connection_id) is None
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    calls = webpubsub.rest_calls
    assert [(call.operation, call.status_code) for call in calls] == [
        ("send_to_all", 202),
        ("add_connection_to_group", 429),
        ("add_connection_to_group", 200),
    ]
    assert calls[1].response.headers["Retry-After"] == "7"
    assert alice.groups == {"room"}


async def test_429_without_retry_after_on_a_post_is_not_retried(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    webpubsub.inject_fault(429)

    with pytest.raises(HttpResponseError) as raised:
        await sdk.send_to_all({"n": 1})

    assert raised.value.status_code == 429
    assert [call.status_code for call in webpubsub.rest_calls] == [429]


async def test_exhausted_retries_raise_the_last_error(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    webpubsub.inject_fault(503, times=4)  # the first try and azure-core's 3 retries consume them all

    started = time.monotonic()
    with pytest.raises(HttpResponseError) as raised:
        await sdk.send_to_all({"n": 1})
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert raised.value.status_code == 503
    assert [call.status_code for call in webpubsub.rest_calls] == [503] * 4
    assert alice.received == []
