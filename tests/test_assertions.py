"""``assert_delivered`` / ``assert_not_delivered`` / ``find_deliveries``: their verdicts and their failure texts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub.clients import FakeClientConnection


@pytest.fixture
def fake() -> Iterator[FakeWebPubSub]:
    with FakeWebPubSub(id_seed="assertions") as service:
        yield service


def failure(check: object, **criteria: object) -> str:
    """The message of the AssertionError ``check(**criteria)`` raises."""
    with pytest.raises(AssertionError) as raised:
        check(**criteria)  # type: ignore[operator]
    return str(raised.value)


@pytest.fixture
def room(fake: FakeWebPubSub) -> tuple[FakeClientConnection, FakeClientConnection]:
    alice = fake.connect("chat", user_id="alice", groups=["room"])
    anonymous = fake.connect("chat")
    client = fake.service_client("chat")
    client.send_to_group("room", {"x": 1})
    client.send_to_all("hello", content_type="text/plain")
    return alice, anonymous


# -- verdicts ------------------------------------------------------------------------------------------------


def test_times_zero_means_none(fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]) -> None:
    alice, anonymous = room
    assert fake.assert_delivered(to=anonymous, group="room", times=0) == []
    assert fake.assert_delivered(hub="other", times=0) == []
    message = failure(fake.assert_delivered, user="alice", times=0)
    assert message == failure(fake.assert_not_delivered, user="alice")
    assert message.startswith("pytest-webpubsub: expected no delivery matching user='alice', found 2.\n")


@pytest.mark.parametrize("times", [-1, 1.0, True, "1"])
def test_times_must_be_a_whole_number(fake: FakeWebPubSub, times: object) -> None:
    with pytest.raises(ValueError, match=r"times=.* must be a whole number >= 0 \(0: no delivery\) or None"):
        fake.assert_delivered(times=times)  # type: ignore[arg-type]


def test_times_counts_exactly(fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]) -> None:
    assert len(fake.assert_delivered(data="hello", times=2)) == 2
    assert "expected exactly 1 delivery matching data='hello', found 2." in failure(
        fake.assert_delivered, data="hello", times=1
    )
    assert "expected exactly 3 deliveries matching data='hello', found 2." in failure(
        fake.assert_delivered, data="hello", times=3
    )


def test_criteria_combine(fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]) -> None:
    alice, anonymous = room
    assert fake.find_deliveries(to=alice) == fake.find_deliveries(to=alice.connection_id) == fake.find_deliveries(
        user="alice"
    )
    assert [d.data for d in fake.find_deliveries(to=alice, data_type="json")] == [{"x": 1}]
    assert fake.find_deliveries(hub="CHAT", group="room") == fake.find_deliveries(group="room")
    assert fake.find_deliveries(to=anonymous, group="room") == []
    assert len(fake.find_deliveries()) == 3


# -- failure texts -------------------------------------------------------------------------------------------


def test_to_a_connection_names_its_user(
    fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]
) -> None:
    alice, anonymous = room
    assert f"matching to='{alice.connection_id}' (user 'alice'), data='bye'," in failure(
        fake.assert_delivered, to=alice, data="bye"
    )
    assert f"matching to='{anonymous.connection_id}' (anonymous), group='room'," in failure(
        fake.assert_delivered, to=anonymous, group="room"
    )
    # a bare id is printed as given
    assert f"matching to='{alice.connection_id}', data='bye'," in failure(
        fake.assert_delivered, to=alice.connection_id, data="bye"
    )


def test_not_delivered_lists_every_delivery_and_marks_the_matching_ones(
    fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]
) -> None:
    alice, anonymous = room
    lines = failure(fake.assert_not_delivered, data="hello").splitlines()
    assert lines == [
        "pytest-webpubsub: expected no delivery matching data='hello', found 2.",
        "Delivered (3, 2 matching):",
        f"  - to {alice.connection_id} (user 'alice') in hub 'chat' via group 'room': json {{'x': 1}}",
        f"  - to {alice.connection_id} (user 'alice') in hub 'chat' via server: text 'hello'  <-- matches",
        f"  - to {anonymous.connection_id} (anonymous) in hub 'chat' via server: text 'hello'  <-- matches",
    ]


def test_rest_sends_are_listed_only_when_nothing_matched(
    fake: FakeWebPubSub, room: tuple[FakeClientConnection, FakeClientConnection]
) -> None:
    assert "REST sends" not in failure(fake.assert_delivered, data="hello", times=1)
    assert "REST sends (2):" in failure(fake.assert_delivered, data="bye")


def test_each_rest_send_with_its_target_status_and_reach(fake: FakeWebPubSub) -> None:
    alice = fake.connect("chat", user_id="alice", groups=["room"])
    bob = fake.connect("chat", user_id="bob", groups=["room"])
    client = fake.service_client("chat")
    client.send_to_user("alice", "1", content_type="text/plain")
    client.send_to_group("room", "two", content_type="text/plain", excluded=[bob.connection_id])
    client.send_to_group("lobby", "three", content_type="text/plain")
    client.send_to_connection(bob.connection_id, "four", content_type="text/plain")
    client.send_to_all("five", content_type="text/plain", filter="userId eq 'carol'")
    client.send_to_all({"six": 6})
    client.get_client_access_token(user_id="alice")  # not a send: not listed
    lines = failure(fake.assert_delivered, user="carol").splitlines()
    sends = lines[lines.index("REST sends (6):") + 1 :]
    assert sends == [
        "  - send_to_user hub 'chat' user 'alice' -> 202",  # a one-byte body: the reach is ambiguous
        f"  - send_to_group hub 'chat' group 'room' excluding {bob.connection_id} -> 202, reached 1 connection",
        "  - send_to_group hub 'chat' group 'lobby' -> 202, reached 0 connections",
        f"  - send_to_connection hub 'chat' connection '{bob.connection_id}' -> 202, reached 1 connection",
        "  - send_to_all hub 'chat' filter \"userId eq 'carol'\" -> 202, reached 0 connections",
        "  - send_to_all hub 'chat' -> 202, reached 2 connections",
    ]
    assert [m.data for m in alice.received] == ["1", "two", {"six": 6}]


def test_refused_and_unrouted_sends_carry_the_reason(fake: FakeWebPubSub) -> None:
    fake.connect("chat", user_id="alice")
    fake.inject_fault(503, operation="send_to_all")
    client = fake.service_client("chat", retry_total=0)
    with pytest.raises(HttpResponseError) as unavailable:
        client.send_to_all("lost", content_type="text/plain")
    assert unavailable.value.status_code == 503
    wrong_key = FakeWebPubSub(endpoint=fake.endpoint, access_key="d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDAx")
    with pytest.raises(HttpResponseError) as unauthorized:
        wrong_key.service_client("chat", retry_total=0).send_to_user("alice", "denied", content_type="text/plain")
    assert unauthorized.value.status_code == 401
    httpx.post(f"{fake.endpoint}/api/hub/chat/:send", content=b"typo")
    lines = failure(fake.assert_delivered, user="alice").splitlines()
    assert lines[lines.index("REST sends (3):") + 1 :] == [
        "  - send_to_all hub 'chat' -> 503 (injected fault 503)",
        "  - send_to_user hub 'chat' user 'alice' -> 401 (" + fake.rest_calls[1].error.splitlines()[0] + ")",
        f"  - POST {fake.endpoint}/api/hub/chat/:send -> 404 (no REST operation has this path; known operations:)",
    ]


def test_sends_sharing_one_body_object_leave_the_reach_out(fake: FakeWebPubSub) -> None:
    fake.connect("chat")
    body = b'"one bytes object, sent twice"'
    client = fake.service_client("chat")
    for _ in range(2):
        request = HttpRequest(  # the very object each time, as an app resending a prepared payload may do
            "POST", "/api/hubs/chat/:send", headers={"Content-Type": "application/json"}, content=body
        )
        client.send_request(request).raise_for_status()
    assert fake.rest_calls[0].request.body is fake.rest_calls[1].request.body
    assert len(fake.deliveries) == 2
    lines = failure(fake.assert_delivered, user="nobody").splitlines()
    assert lines[lines.index("REST sends (2):") + 1 :] == ["  - send_to_all hub 'chat' -> 202"] * 2


def test_no_rest_send_is_said(fake: FakeWebPubSub) -> None:
    alice = fake.connect("chat", user_id="alice", groups=["room"])
    alice.send_to_group("room", "from a client")
    assert failure(fake.assert_delivered, user="bob").splitlines()[-1] == "No REST send was made."
