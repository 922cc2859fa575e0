"""``WebPubSubStateMachine``: a fresh active fake per run, nothing left behind (even after a failing step or a failing
``__init__``), the clients bundle helpers, and a delivery-target invariant that fails on a planted violation."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import consumes, invariant, rule, run_state_machine_as_test

from pytest_webpubsub import FakeClientConnection, FakeWebPubSub
from pytest_webpubsub._core.service import WebPubSubService
from pytest_webpubsub._hosts import HOSTS
from pytest_webpubsub.stateful import WebPubSubStateMachine, clients

QUICK = settings(
    max_examples=15, stateful_step_count=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def active_hosts() -> list[str]:
    """Every host the host table still routes, and every seam still installed beyond the plugin's session hold (a
    stopped fake leaves none)."""
    return HOSTS.hosts() + ([] if HOSTS.pinned else [repr(seam) for seam in HOSTS.installed])


@pytest.fixture(autouse=True)
def _no_fake_before_or_after() -> Any:
    assert active_hosts() == []
    yield
    assert active_hosts() == []


class Clients(WebPubSubStateMachine):
    """Opens, joins, sends and closes: the smallest useful machine."""

    fakes: ClassVar[list[FakeWebPubSub]] = []

    def __init__(self) -> None:
        super().__init__()
        assert self.webpubsub.active
        assert self.webpubsub.snapshot().connections == {}
        self.fakes.append(self.webpubsub)

    @rule(target=clients, user=st.sampled_from(["ann", "bob"]))
    def open(self, user: str) -> FakeClientConnection:
        return self.connect(user_id=user)

    @rule(client=clients)
    def join(self, client: FakeClientConnection) -> None:
        self.service_client().add_connection_to_group("g", client.connection_id)

    @rule()
    def say(self) -> None:
        self.send_to_group("g", "hi", content_type="text/plain")

    @rule(user=st.sampled_from(["ann", "bob"]))
    def tell(self, user: str) -> None:
        self.send_to_user(user, {"to": user})

    @rule()
    def shout(self) -> None:
        self.send_to_all("all", content_type="text/plain")

    @rule(client=clients)
    def poke(self, client: FakeClientConnection) -> None:
        self.send_to_connection(client.connection_id, b"\x01", content_type="application/octet-stream")

    @rule(client=consumes(clients), close_frame=st.booleans())
    def close(self, client: FakeClientConnection, close_frame: bool) -> None:
        self.disconnect(client, close_frame=close_frame)
        assert not client.is_open

    @invariant()
    def open_clients_are_the_fakes_connections(self) -> None:
        assert set(self.snapshot().connections) == {c.connection_id for c in self.webpubsub.connections}


def test_each_run_gets_a_fresh_active_fake_and_stops_it() -> None:
    Clients.fakes.clear()
    run_state_machine_as_test(Clients, settings=QUICK)
    assert len(Clients.fakes) >= 10
    assert len({id(fake) for fake in Clients.fakes}) == len(Clients.fakes)
    assert not any(fake.active for fake in Clients.fakes)
    assert any(fake.deliveries for fake in Clients.fakes)  # the helpers' sends did reach clients


def test_runs_see_the_same_connection_ids() -> None:
    class Ids(WebPubSubStateMachine):
        ids: ClassVar[list[str]] = []

        @rule()
        def open(self) -> None:
            self.ids.append(self.connect().connection_id)

    run_state_machine_as_test(Ids, settings=settings(QUICK, max_examples=5, stateful_step_count=1))
    assert len(set(Ids.ids)) == 1  # seeded by the class name: a replayed run sees the same ids


class Crashes(WebPubSubStateMachine):
    @rule(target=clients)
    def open(self) -> FakeClientConnection:
        return self.connect(user_id="ann")

    @rule(client=clients)
    def crash(self, client: FakeClientConnection) -> None:
        raise ZeroDivisionError(client.connection_id)


def test_a_failing_step_leaves_no_active_fake() -> None:
    with pytest.raises(ZeroDivisionError):
        run_state_machine_as_test(Crashes, settings=QUICK)
    # the autouse fixture checks that no seam holds a host any more


def test_an_overriding_teardown_that_calls_super_leaves_nothing() -> None:
    torn_down: list[bool] = []

    class OwnTeardown(Crashes):
        def teardown(self) -> None:
            torn_down.append(True)
            super().teardown()

    with pytest.raises(ZeroDivisionError):
        run_state_machine_as_test(OwnTeardown, settings=QUICK)
    assert torn_down


def test_a_failing_subclass_init_stops_the_fake_it_started() -> None:
    started: list[FakeWebPubSub] = []

    class BadInit(WebPubSubStateMachine):
        def __init__(self) -> None:
            super().__init__()
            started.append(self.webpubsub)
            raise LookupError("the app could not start")

        @rule()
        def nothing(self) -> None:
            pass

    with pytest.raises(LookupError):
        run_state_machine_as_test(BadInit, settings=QUICK)
    assert started and not any(fake.active for fake in started)


def test_webpubsub_options_reach_each_runs_fake() -> None:
    class Configured(WebPubSubStateMachine):
        webpubsub_options: ClassVar[dict[str, Any]] = {"hub": "rooms", "endpoint": "https://machine.webpubsub.azure.com"}

        @rule()
        def check(self) -> None:
            assert self.webpubsub.host == "machine.webpubsub.azure.com"
            assert self.connect().hub == "rooms"

    run_state_machine_as_test(Configured, settings=settings(QUICK, max_examples=3))


def test_the_machine_runs_as_a_unittest_testcase_under_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from hypothesis import settings
        from hypothesis.stateful import rule
        from pytest_webpubsub.stateful import WebPubSubStateMachine, clients

        class M(WebPubSubStateMachine):
            @rule(target=clients)
            def open(self):
                return self.connect(user_id="ann")

            @rule(client=clients)
            def say(self, client):
                self.send_to_user("ann", "hi", content_type="text/plain")
                assert client.received[-1].data == "hi"

        TestM = M.TestCase
        TestM.settings = settings(max_examples=5, deadline=None, database=None)
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error").assert_outcomes(passed=1)


# -------------------------------------------------------------------------------------- the target invariant


class Sender(WebPubSubStateMachine):
    """A member and a non-member of group g, then one group send (through the helper or the bare SDK)."""

    use_helper: ClassVar[bool] = True

    @rule()
    def send(self) -> None:
        member, _ = self.connect(user_id="member"), self.connect(user_id="outsider")
        self.service_client().add_connection_to_group("g", member.connection_id)
        if self.use_helper:
            self.send_to_group("g", "hi", content_type="text/plain")
        else:
            self.service_client().send_to_group("g", "hi", content_type="text/plain")


class BareSender(Sender):
    use_helper = False


ONE_STEP = settings(QUICK, max_examples=1, stateful_step_count=1)


def deliver_to_everyone(self: WebPubSubService, hub: str, group: str, message: Any, **kwargs: Any) -> None:
    """A planted bug: a group send that reaches every connection of the hub."""
    self._fan_out(self.hub(hub).connections.values(), message, "group", group=group)


def deliver_to_no_one(self: WebPubSubService, hub: str, group: str, message: Any, **kwargs: Any) -> None:
    """A planted bug: a group send that is lost."""


@pytest.mark.parametrize("machine", [Sender, BareSender])
def test_correct_deliveries_pass_the_invariant(machine: type[Sender]) -> None:
    run_state_machine_as_test(machine, settings=ONE_STEP)


@pytest.mark.parametrize("machine", [Sender, BareSender])
def test_a_delivery_to_a_non_member_fails_the_invariant(monkeypatch: pytest.MonkeyPatch, machine: type[Sender]) -> None:
    monkeypatch.setattr(WebPubSubService, "send_to_group", deliver_to_everyone)
    with pytest.raises(AssertionError, match=r"to \S+ \(user 'outsider'\): not a member of group 'g' when it was sent"):
        run_state_machine_as_test(machine, settings=ONE_STEP)


def test_a_lost_delivery_fails_the_helper_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WebPubSubService, "send_to_group", deliver_to_no_one)
    with pytest.raises(AssertionError, match=r"send_to_group\('g'\) did not reach its targets \['\S+'\]"):
        run_state_machine_as_test(Sender, settings=ONE_STEP)


def test_a_helper_send_that_reaches_a_non_target_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = WebPubSubService.send_to_user

    def also_to_all(self: WebPubSubService, hub: str, user_id: str, message: Any, **kwargs: Any) -> None:
        self._fan_out(self.hub(hub).connections.values(), message, "server")

    class Teller(WebPubSubStateMachine):
        @rule()
        def tell(self) -> None:
            self.connect(user_id="ann"), self.connect(user_id="bob")
            self.send_to_user("ann", "hi", content_type="text/plain")

    run_state_machine_as_test(Teller, settings=ONE_STEP)
    monkeypatch.setattr(WebPubSubService, "send_to_user", also_to_all)
    with pytest.raises(AssertionError, match=r"\(user 'bob'\): not a target of send_to_user\('ann'\)"):
        run_state_machine_as_test(Teller, settings=ONE_STEP)
    assert original is not also_to_all


def test_the_invariant_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unchecked(Sender):
        check_delivery_targets = False

    monkeypatch.setattr(WebPubSubService, "send_to_group", deliver_to_everyone)
    run_state_machine_as_test(Unchecked, settings=ONE_STEP)


def test_the_failure_shows_a_short_program(monkeypatch: pytest.MonkeyPatch) -> None:
    class Rooms(WebPubSubStateMachine):
        @rule(target=clients, user=st.sampled_from(["ann", "bob"]))
        def open(self, user: str) -> FakeClientConnection:
            return self.connect(user_id=user)

        @rule(client=clients)
        def join(self, client: FakeClientConnection) -> None:
            self.service_client().add_connection_to_group("g", client.connection_id)

        @rule()
        def say(self) -> None:
            self.service_client().send_to_group("g", "hi", content_type="text/plain")

    monkeypatch.setattr(WebPubSubService, "send_to_group", deliver_to_everyone)
    with pytest.raises(AssertionError) as failed:
        run_state_machine_as_test(Rooms, settings=settings(QUICK, max_examples=50, derandomize=True))
    program = "\n".join(getattr(failed.value, "__notes__", []))
    steps = [line for line in program.splitlines() if line.startswith(("state.", "webpubsub_"))]
    assert [step for step in steps if "invariant" not in step and "deliveries_went" not in step] == [
        "webpubsub_clients_0 = state.open(user='ann')",
        "state.say()",
        "state.teardown()",
    ], program


# ------------------------------------------------------------------------------------------- webpubsub.snapshot


def test_a_snapshot_pictures_the_hub_and_never_changes(webpubsub: FakeWebPubSub) -> None:
    ann = webpubsub.connect(user_id="ann", groups=["g"], roles=["webpubsub.sendToGroup.g"])
    anonymous = webpubsub.connect(protocol=None)
    before = webpubsub.snapshot()
    assert before == webpubsub.snapshot() == webpubsub.snapshot(webpubsub.options.hub.upper())
    assert hash(before) == hash(webpubsub.snapshot())
    assert dict(before.groups) == {"g": frozenset({ann.connection_id})}
    assert dict(before.users) == {"ann": frozenset({ann.connection_id})}
    picture = before.connections[ann.connection_id]
    assert (picture.user_id, picture.groups, picture.protocol, picture.is_open) == (
        "ann", frozenset({"g"}), "json.webpubsub.azure.v1", True
    )
    assert picture.permissions["sendToGroup"].groups == frozenset({"g"})
    assert before.connections[anonymous.connection_id].protocol is None

    webpubsub.service_client().add_connection_to_group("h", anonymous.connection_id)
    ann.close()
    after = webpubsub.snapshot()
    assert after != before
    assert set(before.connections) == {ann.connection_id, anonymous.connection_id}  # unchanged
    assert dict(after.groups) == {"h": frozenset({anonymous.connection_id})}
    assert webpubsub.snapshot("elsewhere").connections == {}


def test_a_dropped_reliable_connection_shows_as_dropped(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(user_id="ann", protocol="json.reliable.webpubsub.azure.v1")
    client.drop()
    assert webpubsub.snapshot().connections[client.connection_id].state == "dropped"
    client.recover()
    assert webpubsub.snapshot().connections[client.connection_id].state == "open"


# ---------------------------------------------------------------------------------------- webpubsub.drop_after


@pytest.mark.parametrize(
    ("protocol", "close_frame", "open_after", "close_code"),
    [
        ("json.webpubsub.azure.v1", False, False, None),
        ("json.reliable.webpubsub.azure.v1", False, True, None),  # waits for recovery
        ("json.reliable.webpubsub.azure.v1", True, False, 1000),
    ],
)
def test_drop_after_loses_the_link_right_after_the_nth_delivery(
    webpubsub: FakeWebPubSub, protocol: str, close_frame: bool, open_after: bool, close_code: int | None
) -> None:
    client = webpubsub.connect(user_id="ann", protocol=protocol)
    other = webpubsub.connect(user_id="bob")
    service = webpubsub.service_client()
    service.send_to_user("ann", "before", content_type="text/plain")
    webpubsub.drop_after(client, 2, close_frame=close_frame)
    for text in ("1", "2", "3"):
        service.send_to_all(text, content_type="text/plain")
    assert [m.data for m in client.received] == ["before", "1", "2"]
    assert [m.data for m in other.received] == ["1", "2", "3"]
    assert (client.is_attached, client.is_open, client.close_code) == (False, open_after, close_code)


def test_drop_after_counts_only_this_connections_deliveries_and_fires_once(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(user_id="ann", protocol="json.reliable.webpubsub.azure.v1")
    webpubsub.connect(user_id="bob")
    service = webpubsub.service_client()
    webpubsub.drop_after(client, 1)
    service.send_to_user("bob", "not for ann", content_type="text/plain")
    assert client.is_attached
    service.send_to_user("ann", "one", content_type="text/plain")
    assert not client.is_attached
    client.recover()
    service.send_to_user("ann", "two", content_type="text/plain")
    assert client.is_attached


@pytest.mark.parametrize("deliveries", [0, -1, True, 1.5])
def test_drop_after_refuses_a_count_that_is_not_positive(webpubsub: FakeWebPubSub, deliveries: Any) -> None:
    with pytest.raises(ValueError, match="deliveries="):
        webpubsub.drop_after(webpubsub.connect(), deliveries)
