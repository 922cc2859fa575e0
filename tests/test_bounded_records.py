"""Long runs bound or clear the fake's records without losing what a test's assertions still need."""

from __future__ import annotations

import pytest

from pytest_webpubsub import FakeWebPubSub


@pytest.mark.webpubsub(max_deliveries=3, max_rest_calls=2)
def test_bounded_records_keep_the_most_recent_and_count_everything(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    client = webpubsub.service_client("chat")
    for index in range(5):
        client.send_to_user("alice", str(index), content_type="text/plain")

    assert [delivery.data for delivery in webpubsub.deliveries] == ["2", "3", "4"]
    assert (webpubsub.delivery_count, webpubsub.rest_call_count, len(webpubsub.rest_calls)) == (5, 5, 2)
    webpubsub.assert_delivered(to=alice, data="4")
    assert [message.data for message in alice.received] == ["0", "1", "2", "3", "4"]  # the client keeps its own


def test_clear_records_forgets_the_log_but_not_the_counts_or_state(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["room"])
    webpubsub.service_client("chat").send_to_group("room", "before", content_type="text/plain")

    webpubsub.clear_records()

    assert (webpubsub.deliveries, webpubsub.rest_calls) == ((), [])
    assert (webpubsub.delivery_count, webpubsub.rest_call_count) == (1, 1)
    webpubsub.service_client("chat").send_to_group("room", "after", content_type="text/plain")
    webpubsub.assert_delivered(to=alice, data="after", times=1)
    webpubsub.assert_not_delivered(data="before")
    assert alice.groups == {"room"}


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_bounds_are_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_deliveries"):
        FakeWebPubSub(max_deliveries=bad)
