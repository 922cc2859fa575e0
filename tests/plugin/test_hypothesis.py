"""Hypothesis with the fixture: ``webpubsub.reset()`` at the start of each example gives it a fresh fake."""

from __future__ import annotations

import pytest

from pytest_webpubsub import FakeWebPubSub

IN_ORDER = ("-p", "no:randomly")

GIVEN_WITH_FIXTURE = """
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

EXAMPLES = []


@pytest.mark.webpubsub(fail_on_unused_faults=False)  # each example leaves a fault behind on purpose
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.lists(st.sampled_from(["ann", "bob", "cy"]), max_size=4), text=st.text(min_size=2, max_size=8))
def test_group_send(webpubsub, users, text):
    webpubsub.reset()
    # nothing of the previous example is left
    assert webpubsub.active
    assert webpubsub.deliveries == () and webpubsub.lifecycle == () and webpubsub.rest_calls == []
    assert webpubsub.connections == [] and webpubsub._service.hubs() == []
    members = [webpubsub.connect("chat", user_id=user, groups=["room"]) for user in users]
    client = webpubsub.service_client("chat")
    client.send_to_group("room", text, content_type="text/plain")  # fails if an earlier fault survived
    webpubsub.assert_delivered(data=text, times=len(users))
    assert [member.received[0].data for member in members] == [text] * len(users)
    EXAMPLES.append([member.connection_id for member in members])
    webpubsub.inject_fault(503, times=5)  # left for the next example: reset() must clear it


def test_every_example_ran_on_a_fresh_fake():
    assert len(EXAMPLES) >= 50
    # ids start over with each reset: the n-th connection has the same id in every example
    by_position = {}
    for ids in EXAMPLES:
        for position, connection_id in enumerate(ids):
            by_position.setdefault(position, set()).add(connection_id)
    assert by_position and all(len(ids) == 1 for ids in by_position.values())
"""


def test_given_with_the_fixture_and_reset(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(GIVEN_WITH_FIXTURE)
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=2)


def test_without_the_suppression_hypothesis_refuses_the_fixture(pytester: pytest.Pytester) -> None:
    """Why the README's recipe suppresses the health check: the fixture is function-scoped."""
    pytester.makepyfile(
        """
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_refused(webpubsub, n):
            webpubsub.reset()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*function_scoped_fixture*"])


def test_reset_returns_to_a_fresh_state_and_stays_active() -> None:
    with FakeWebPubSub(id_seed="reset") as fake:
        endpoint, connection_string = fake.endpoint, fake.connection_string
        alice = fake.connect("chat", user_id="alice", groups=["room"])
        first_id = alice.connection_id
        fake.service_client("chat").send_to_all("before", content_type="text/plain")
        fake.inject_fault(503, times=3)

        fake.reset()

        assert fake.active
        assert (fake.endpoint, fake.connection_string) == (endpoint, connection_string)
        assert not alice.is_open and alice.close_code == 1000  # closed, as a client closes
        assert fake.deliveries == () and fake.lifecycle == () and fake.rest_calls == [] and fake.connections == []
        assert fake._service.hubs() == []
        client = fake.service_client("chat")
        assert not client.user_exists("alice")
        bob = fake.connect("chat", user_id="bob")
        assert bob.connection_id == first_id  # ids start over
        client.send_to_all("after", content_type="text/plain")  # no fault left
        assert [message.data for message in bob.received] == ["after"]
        assert [message.data for message in alice.received] == ["before"]
    assert not fake.active


def test_reset_of_an_inactive_fake_keeps_it_inactive() -> None:
    fake = FakeWebPubSub()
    fake.connect("chat")
    fake.reset()
    assert not fake.active and fake.connections == [] and fake.lifecycle == ()
