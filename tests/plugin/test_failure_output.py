"""The exact failure text of ``assert_delivered`` and ``assert_not_delivered``: what was expected, and delivered."""

from __future__ import annotations

import pytest

from pytest_webpubsub._core.clock import CountingIds

CONFTEST = """
import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient

@pytest.fixture
def room(webpubsub):
    alice = webpubsub.connect("chat", user_id="alice", groups=["room"])
    anonymous = webpubsub.connect("chat")
    client = WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="chat")
    client.send_to_group("room", {"x": 1}, content_type="application/json")
    client.send_to_all("hello", content_type="text/plain")
    return alice, anonymous
"""


def connection_ids(node_id: str, count: int) -> list[str]:
    """The ids the fixture hands out in the test ``node_id`` (they are seeded by it)."""
    ids = CountingIds(node_id)
    return [ids() for _ in range(count)]


def test_assert_delivered_lists_every_delivery(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_delivered="""
        def test_missing(webpubsub, room):
            alice, anonymous = room
            webpubsub.assert_delivered(to=anonymous, data={"x": 1})
        """
    )
    alice, anonymous = connection_ids("test_delivered.py::test_missing", 2)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       webpubsub.assert_delivered(to=anonymous, data={"x": 1})',
            "E       AssertionError: pytest-webpubsub: expected a delivery matching "
            f"to='{anonymous}' (anonymous), data={{'x': 1}}, found 0.",
            "E       Delivered (3):",
            f"E         - to {alice} (user 'alice') in hub 'chat' via group 'room': json {{'x': 1}}",
            f"E         - to {alice} (user 'alice') in hub 'chat' via server: text 'hello'",
            f"E         - to {anonymous} (anonymous) in hub 'chat' via server: text 'hello'",
            "E       REST sends (2):",
            "E         - send_to_group hub 'chat' group 'room' -> 202, reached 1 connection",
            "E         - send_to_all hub 'chat' -> 202, reached 2 connections",
            "",
            "test_delivered.py:3: AssertionError",
        ],
        consecutive=True,
    )


def test_assert_delivered_with_times_reports_the_count(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_times="""
        def test_twice(webpubsub, room):
            webpubsub.assert_delivered(user="alice", times=1)
        """
    )
    alice, anonymous = connection_ids("test_times.py::test_twice", 2)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: pytest-webpubsub: expected exactly 1 delivery matching user='alice', found 2.",
            "E       Delivered (3):",
            f"E         - to {alice} (user 'alice') in hub 'chat' via group 'room': json {{'x': 1}}",
            f"E         - to {alice} (user 'alice') in hub 'chat' via server: text 'hello'",
            f"E         - to {anonymous} (anonymous) in hub 'chat' via server: text 'hello'",
        ],
        consecutive=True,
    )


def test_assert_delivered_when_nothing_was_delivered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_nothing(webpubsub):
            webpubsub.connect("chat", user_id="alice")
            webpubsub.assert_delivered(group="room", hub="Chat")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: pytest-webpubsub: expected a delivery matching group='room', hub='Chat', found 0.",
            "E       Nothing was delivered.",
            "E       No REST send was made.",
        ],
        consecutive=True,
    )


def test_assert_not_delivered_lists_every_delivery_marking_the_offending_ones(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_not_delivered="""
        def test_unexpected(webpubsub, room):
            webpubsub.assert_not_delivered(user="alice")
        """
    )
    alice, anonymous = connection_ids("test_not_delivered.py::test_unexpected", 2)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       webpubsub.assert_not_delivered(user=\"alice\")",
            "E       AssertionError: pytest-webpubsub: expected no delivery matching user='alice', found 2.",
            "E       Delivered (3, 2 matching):",
            f"E         - to {alice} (user 'alice') in hub 'chat' via group 'room': json {{'x': 1}}  <-- matches",
            f"E         - to {alice} (user 'alice') in hub 'chat' via server: text 'hello'  <-- matches",
            f"E         - to {anonymous} (anonymous) in hub 'chat' via server: text 'hello'",
            "",
            "test_not_delivered.py:2: AssertionError",
        ],
        consecutive=True,
    )


def test_passing_assertions_return_quietly(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        def test_ok(webpubsub, room):
            alice, anonymous = room
            found = webpubsub.assert_delivered(to=alice, group="room", data={"x": 1}, data_type="json", times=1)
            assert [delivery.connection_id for delivery in found] == [alice.connection_id]
            assert len(webpubsub.assert_delivered(data="hello", times=2)) == 2
            webpubsub.assert_not_delivered(to=anonymous, group="room")
            webpubsub.assert_not_delivered(hub="other")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_misconfigured_hub_shows_where_the_sends_went(pytester: pytest.Pytester) -> None:
    """The app sends to hub 'chat2' while the clients are in 'chat': the failure says so."""
    pytester.makepyfile(
        test_hub="""
        def test_wrong_hub(webpubsub):
            alice = webpubsub.connect("chat", user_id="alice")
            webpubsub.service_client("chat2").send_to_all("hi", content_type="text/plain")
            webpubsub.assert_delivered(to=alice, data="hi")
        """
    )
    (alice,) = connection_ids("test_hub.py::test_wrong_hub", 1)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: pytest-webpubsub: expected a delivery matching "
            f"to='{alice}' (user 'alice'), data='hi', found 0.",
            "E       Nothing was delivered.",
            "E       REST sends (1):",
            "E         - send_to_all hub 'chat2' -> 202, reached 0 connections",
            "",
        ],
        consecutive=True,
    )
