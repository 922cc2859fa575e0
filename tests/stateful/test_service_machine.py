"""``WebPubSubService`` against a reference model: random sequences of every membership, close and send operation.

The service runs as pure core (no REST, no clients): each connection's endpoint is a recorder. After every step
the invariants compare the service's hub, group and user views, existence checks and every connection's
received messages with :mod:`reference_model`.
"""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, MultipleResults, RuleBasedStateMachine, initialize, invariant, multiple, rule
from reference_model import NotFound, ReferenceModel
from step_count import StepCounter

from pytest_webpubsub._core.clock import CountingIds
from pytest_webpubsub._core.errors import NotFoundError
from pytest_webpubsub._core.log import DeliveryLog
from pytest_webpubsub._core.model import Message, Send
from pytest_webpubsub._core.service import Connection, WebPubSubService

HUBS = ("chat", "Chat", "CHAT", "news")
HUB_KEYS = ("chat", "news")
USERS = ("u1", "u2", "u3")
GROUPS = ("g1", "g2", "G1")
UNKNOWN_ID = "neverIssuedByTheService0pytestK02"

hubs = st.sampled_from(HUBS)
own_hub_or_any = st.none() | hubs
"""For operations on one connection: None means the hub the connection was opened in, spelled as then."""
users = st.sampled_from(USERS)
groups = st.sampled_from(GROUPS)
group_lists = st.lists(groups, min_size=1, max_size=3)
reasons = st.sampled_from([None, "bye"])
user_filters = st.sampled_from([None, "userId eq 'u1'"])


class Recorder:
    """The endpoint of one connection: records what the service hands it, in its inbox (the service appends) or
    through ``deliver`` (which then must not be called for an endpoint with an inbox)."""

    def __init__(self, with_inbox: bool) -> None:
        self.sends: list[Send] = []
        self.inbox = self.sends if with_inbox else None
        self.close_notices: list[str | None] = []

    def deliver(self, send: Send) -> bool:
        assert self.inbox is None, "deliver() called for an endpoint that has an inbox"
        self.sends.append(send)
        return True

    def closed(self, reason: str | None) -> None:
        self.close_notices.append(reason)


class ServiceMachine(RuleBasedStateMachine):
    connection_ids = Bundle("connection_ids")
    """Every id the service issued, closed ones included: operations on them must be harmless no-ops."""
    ids = st.one_of(connection_ids, st.just(UNKNOWN_ID))
    """Issued ids and one the service never issued."""

    def __init__(self) -> None:
        super().__init__()
        self.log = DeliveryLog()
        self.service = WebPubSubService(ids=CountingIds("machine"), listeners=[self.log])
        self.model = ReferenceModel()
        self.recorders: dict[str, Recorder] = {}
        self.connections: dict[str, Connection] = {}
        self.opened_in: dict[str, str] = {}
        self.sent = 0
        self.steps = StepCounter(type(self).__name__)

    def teardown(self) -> None:
        self.steps.record()

    @invariant()
    def count_steps(self) -> None:
        self.steps.check()

    # -- helpers ----------------------------------------------------------------------------------------

    def hub_for(self, cid: str, hub: str | None) -> str:
        """``hub``, or (when None) the hub ``cid`` was opened in."""
        return hub if hub is not None else self.opened_in.get(cid, "Chat")

    def next_message(self) -> tuple[str, Message]:
        self.sent += 1
        text = f"m{self.sent}"
        return text, Message(text.encode(), "text")

    @staticmethod
    def expect(predicted: NotFound, operation: Callable[..., None], *args: str) -> None:
        """Run ``operation``; it must raise exactly the ``NotFoundError`` the model predicted, if any."""
        if predicted is None:
            operation(*args)
            return
        event(f"{operation.__name__}: NotFoundError")
        with pytest.raises(NotFoundError) as raised:
            operation(*args)
        assert (raised.value.kind, raised.value.name) == predicted

    # -- lifecycle --------------------------------------------------------------------------------------

    @initialize(target=connection_ids, first=st.lists(st.tuples(hubs, users, group_lists), min_size=1, max_size=4))
    def first_connections(self, first: list[tuple[str, str, list[str]]]) -> MultipleResults[str]:
        """Start from a few connections of known users in groups, so short runs reach interesting states."""
        return multiple(*(self.open_connection(hub, user, initial_groups) for hub, user, initial_groups in first))

    @rule(
        target=connection_ids,
        hub=hubs,
        user=st.sampled_from([None, "", *USERS]),
        initial_groups=st.lists(groups, max_size=3),
        with_inbox=st.booleans(),
    )
    def open_connection(self, hub: str, user: str | None, initial_groups: list[str], with_inbox: bool = False) -> str:
        recorder = Recorder(with_inbox)
        connection = self.service.open_connection(hub, recorder, user_id=user, groups=initial_groups)
        cid = connection.connection_id
        assert cid not in self.recorders, "connection ids are never reused"
        self.recorders[cid], self.connections[cid], self.opened_in[cid] = recorder, connection, hub
        self.model.open(hub, cid, user, initial_groups)
        return cid

    @rule(hub=own_hub_or_any, cid=ids, reason=reasons)
    def close_connection(self, hub: str | None, cid: str, reason: str | None) -> None:
        hub = self.hub_for(cid, hub)
        self.service.close_connection(hub, cid, reason=reason)
        self.model.close(hub, [cid], reason)

    @rule(cid=connection_ids)
    def client_closes(self, cid: str) -> None:
        connection = self.connections[cid]
        self.service.client_closed(connection)
        self.model.close(connection.hub, [cid], None, notify=False)

    @rule(hub=hubs, excluded=st.lists(ids, max_size=3), reason=reasons)
    def close_all(self, hub: str, excluded: list[str], reason: str | None) -> None:
        self.service.close_all(hub, excluded=excluded, reason=reason)
        self.model.close_all(hub, excluded, reason)

    @rule(hub=hubs, user=users, excluded=st.lists(ids, max_size=3), reason=reasons)
    def close_user(self, hub: str, user: str, excluded: list[str], reason: str | None) -> None:
        self.service.close_user(hub, user, excluded=excluded, reason=reason)
        self.model.close_user(hub, user, excluded, reason)

    @rule(hub=hubs, group=groups, excluded=st.lists(ids, max_size=3), reason=reasons)
    def close_group(self, hub: str, group: str, excluded: list[str], reason: str | None) -> None:
        self.service.close_group(hub, group, excluded=excluded, reason=reason)
        self.model.close_group(hub, group, excluded, reason)

    # -- membership -------------------------------------------------------------------------------------

    @rule(hub=own_hub_or_any, group=groups, cid=ids)
    def add_connection_to_group(self, hub: str | None, group: str, cid: str) -> None:
        hub = self.hub_for(cid, hub)
        predicted = self.model.add_connection_to_group(hub, group, cid)
        self.expect(predicted, self.service.add_connection_to_group, hub, group, cid)

    @rule(hub=own_hub_or_any, group=groups, cid=ids)
    def remove_connection_from_group(self, hub: str | None, group: str, cid: str) -> None:
        hub = self.hub_for(cid, hub)
        self.service.remove_connection_from_group(hub, group, cid)
        self.model.remove_connection_from_groups(hub, [group], cid)

    @rule(hub=own_hub_or_any, cid=ids)
    def remove_connection_from_all_groups(self, hub: str | None, cid: str) -> None:
        hub = self.hub_for(cid, hub)
        self.service.remove_connection_from_all_groups(hub, cid)
        self.model.remove_connection_from_groups(hub, None, cid)

    @rule(hub=hubs, group=groups, user=users)
    def add_user_to_group(self, hub: str, group: str, user: str) -> None:
        predicted = self.model.add_user_to_group(hub, group, user)
        self.expect(predicted, self.service.add_user_to_group, hub, group, user)

    @rule(hub=hubs, group=groups, user=users)
    def remove_user_from_group(self, hub: str, group: str, user: str) -> None:
        self.service.remove_user_from_group(hub, group, user)
        self.model.remove_user_from_groups(hub, [group], user)

    @rule(hub=hubs, user=users)
    def remove_user_from_all_groups(self, hub: str, user: str) -> None:
        self.service.remove_user_from_all_groups(hub, user)
        self.model.remove_user_from_groups(hub, None, user)

    @rule(hub=hubs, names=group_lists, user_filter=user_filters)
    def add_to_groups(self, hub: str, names: list[str], user_filter: str | None) -> None:
        self.service.add_to_groups(hub, names, filter=user_filter)
        self.model.add_to_groups(hub, names, user_filter)

    @rule(hub=hubs, names=group_lists, user_filter=user_filters)
    def remove_from_groups(self, hub: str, names: list[str], user_filter: str | None) -> None:
        self.service.remove_from_groups(hub, names, filter=user_filter)
        self.model.remove_from_groups(hub, names, user_filter)

    # -- sends ------------------------------------------------------------------------------------------

    @rule(hub=hubs, excluded=st.lists(ids, max_size=3), user_filter=user_filters)
    def send_to_all(self, hub: str, excluded: list[str], user_filter: str | None) -> None:
        text, message = self.next_message()
        self.service.send_to_all(hub, message, excluded=excluded, filter=user_filter)
        self.model.deliver(self.model.selected(hub, user_filter), text, excluded=excluded)

    @rule(hub=hubs, user=users)
    def send_to_user(self, hub: str, user: str) -> None:
        text, message = self.next_message()
        self.service.send_to_user(hub, user, message)
        self.model.deliver(self.model.users(hub).get(user, set()), text)

    @rule(hub=hubs, group=groups, excluded=st.lists(ids, max_size=3))
    def send_to_group(self, hub: str, group: str, excluded: list[str]) -> None:
        text, message = self.next_message()
        self.service.send_to_group(hub, group, message, excluded=excluded)
        self.model.deliver(self.model.groups(hub).get(group, set()), text, group=group, excluded=excluded)

    @rule(hub=own_hub_or_any, cid=ids)
    def send_to_connection(self, hub: str | None, cid: str) -> None:
        hub = self.hub_for(cid, hub)
        text, message = self.next_message()
        self.service.send_to_connection(hub, cid, message)
        self.model.deliver([cid] if cid in self.model.connections(hub) else [], text)

    # -- invariants -------------------------------------------------------------------------------------

    @invariant()
    def views_equal_the_model(self) -> None:
        states = {state.name: state for state in self.service.hubs()}
        assert set(states) <= set(HUB_KEYS)
        for key in HUB_KEYS:
            state = states.get(key)
            if state is None:
                assert self.model.connections(key) == {}
                continue
            expected = self.model.connections(key)
            assert set(state.connections) == set(expected)
            for cid, connection in state.connections.items():
                assert (connection.user_id, set(connection.groups)) == (expected[cid].user, expected[cid].groups)
            assert {group: set(members) for group, members in state.groups.items()} == self.model.groups(key)
            assert {user: set(ids) for user, ids in state.users.items()} == self.model.users(key)

    @invariant()
    def indexes_hold_only_open_connections_of_their_hub(self) -> None:
        for state in self.service.hubs():
            for cid, connection in state.connections.items():
                assert connection.is_open and connection.hub == state.name and connection.connection_id == cid
            for group, members in state.groups.items():
                assert members, f"empty group {group!r} in hub {state.name!r}"
                for cid, connection in members.items():
                    assert state.connections.get(cid) is connection and group in connection.groups
            for user, peers in state.users.items():
                assert peers, f"empty user {user!r} in hub {state.name!r}"
                for cid, connection in peers.items():
                    assert state.connections.get(cid) is connection and connection.user_id == user

    @invariant()
    def the_log_records_what_each_connection_received(self) -> None:
        """The log's records (made from the shared sends when read) agree with the model, connection by connection."""
        logged = self.log.deliveries
        for cid, connection in self.connections.items():
            mine = [d for d in logged if d.connection_id == cid]
            assert [(d.message.payload.decode(), d.source, d.group) for d in mine] == self.model.inbox[cid], cid
            assert {(d.hub, d.user_id) for d in mine} <= {(connection.hub, connection.user_id)}
        assert self.log.delivery_count == len(logged) == sum(len(inbox) for inbox in self.model.inbox.values())

    @invariant()
    def every_connection_received_exactly_what_the_model_expects(self) -> None:
        for cid, recorder in self.recorders.items():
            connection = self.connections[cid]
            received = [(s.message.payload.decode(), s.source, s.group) for s in recorder.sends]
            assert received == self.model.inbox[cid], f"inbox of {cid}"
            assert {s.hub for s in recorder.sends} <= {connection.hub}
            assert recorder.close_notices == self.model.close_notices[cid], f"close notices of {cid}"
            assert connection.is_open == (cid in self.model.connections(connection.hub))

    @invariant()
    def existence_checks_agree_with_the_model(self) -> None:
        for hub in HUBS:
            open_ids, user_view, group_view = (
                self.model.connections(hub),
                self.model.users(hub),
                self.model.groups(hub),
            )
            for cid in [*self.recorders, UNKNOWN_ID]:
                assert self.service.connection_exists(hub, cid) == (cid in open_ids)
            for user in USERS:
                assert self.service.user_exists(hub, user) == (user in user_view)
            for group in GROUPS:
                assert self.service.group_exists(hub, group) == (group in group_view)
                members = [member.connection_id for member in self.service.group_members(hub, group)]
                assert members == sorted(group_view.get(group, ())), "members are listed in connection id order"


# max_examples and stateful_step_count come from the hypothesis profile (tests/conftest.py)
ServiceMachine.TestCase.settings = settings(deadline=None)
test_service_machine = ServiceMachine.TestCase
