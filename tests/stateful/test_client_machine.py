"""Simulated clients and REST operations interleaved against a small model (service-behaviour §4, §5.2–§5.4, §8).

A ``FakeWebPubSub`` (no network) is driven by JSON and reliable clients, some of which never acknowledge sequence
ids, doing joinGroup/leaveGroup/sendToGroup with random ``noEcho`` and ``ackId`` values (reused ones included),
``sequenceAck``, drops and recoveries, client closes and malformed frames, mixed with REST operations (group
sends with ``excluded``, membership changes, grant/revoke, close), about half through the official SDK. The
model predicts, per connection, the group messages it must receive, its acks, groups and permissions.

After every step the invariants check, from the exact frames each client got:

* every data message the model predicts arrives exactly once and in order (a reliable client's frames are first
  deduplicated the way the SDK does: ids at or below the highest seen are dropped), nothing else arrives;
* a reliable client's sequence ids are gap-free from 1, and a replayed frame equals the original with that id;
* every request with an ``ackId`` got exactly one ack: executed the first time, ``Duplicate`` on reuse;
* groups, open/attached state and ``has_permission`` agree with the model.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Tuple

from azure.core.exceptions import ResourceNotFoundError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._core.errors import NotFoundError
from pytest_webpubsub._core.model import Message
from pytest_webpubsub._gateway import RecoveryFailed
from pytest_webpubsub._protocol import JSON, RELIABLE_JSON
from pytest_webpubsub.clients import FakeClientConnection

HUB = "hub"
GROUPS = ("g1", "g2", "h1")
KINDS = ("joinLeaveGroup", "sendToGroup")
ROLE_SETS = (
    (),
    ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"),
    ("webpubsub.joinLeaveGroup.g1", "webpubsub.sendToGroup.g1"),
    ("webpubsub.joinLeaveGroups.g*", "webpubsub.sendToGroups.g*"),
    ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.h1"),
)
ack_ids = st.none() | st.integers(1, 4)
"""No ackId, or one of a few, so that reuse (a Duplicate) is common."""
MALFORMED = (
    "{",
    '{"type":"joinGroup"}',
    '{"type":"sendToGroup","group":"g1","dataType":"text","data":1,"ackId":1}',
    '{"type":"joinGroup","group":"","ackId":2}',
    '{"type":"nope"}',
)
RECOVERY_WINDOW = 30
MAX_CLIENTS = 10
MIN_OPEN = 3
"""Closing rules wait for this many open clients, and new clients come while fewer are open: hypothesis tries
the rules with the fewest arguments (close, drop) first and would otherwise end most runs with nobody left."""

Record = Tuple[str, str, Any, Optional[str]]
"""One group message as the model predicts a PubSub client sees it: (group, dataType, wire data, fromUserId)."""


@dataclass
class ModelPermission:
    """One permission kind of one connection, from the role strings of service-behaviour §4 and REST grants/revokes."""

    every: bool = False
    literal: set[str] = field(default_factory=set)
    g_prefix: bool = False  # the pattern ``g*``: starts with g, no dot
    revoked: set[str] = field(default_factory=set)

    @classmethod
    def from_roles(cls, kind: str, roles: tuple[str, ...]) -> ModelPermission:
        permission = cls()
        for role in roles:
            if role == f"webpubsub.{kind}":
                permission.every = True
            elif role == f"webpubsub.{kind}s.g*":
                permission.g_prefix = True
            elif role.startswith(f"webpubsub.{kind}."):
                permission.literal.add(role[len(f"webpubsub.{kind}.") :])
        return permission

    def allows(self, group: str) -> bool:
        if group in self.revoked:
            return False
        return self.every or group in self.literal or (self.g_prefix and group.startswith("g") and "." not in group)

    def grant(self, group: str) -> None:
        self.revoked.discard(group)
        self.literal.add(group)

    def revoke(self, group: str) -> None:
        self.literal.discard(group)
        self.revoked.add(group)


@dataclass
class ModelClient:
    client: FakeClientConnection
    reliable: bool
    auto_ack: bool
    user: str | None
    groups: set[str]
    permissions: dict[str, ModelPermission]
    open: bool = True
    attached: bool = True
    expected: list[Record] = field(default_factory=list)
    written_upto: int = 0
    """Reliable: the highest sequence id written to a link so far (== len(expected) while attached)."""
    unacked: list[int] = field(default_factory=list)
    used_ack_ids: set[int] = field(default_factory=set)
    expected_acks: list[tuple[int, str | None]] = field(default_factory=list)
    dropped_at: float | None = None
    recoveries: int = 0
    disconnected: bool = False
    """Whether the service closed it while attached (a ``disconnected`` frame ends its frames)."""
    parsed: list[dict[str, Any]] = field(default_factory=list)


class MutableClock:
    def __init__(self) -> None:
        # an hour behind real time: SDK REST tokens (stamped with real time, valid 60 s) stay valid however far
        # the machine moves this clock
        self.now = time.time() - 3600

    def __call__(self) -> float:
        return self.now


client_configs = st.tuples(
    st.booleans(),  # reliable
    st.booleans(),  # auto_ack
    st.sampled_from(["u1", "u2", None]),
    st.sampled_from(ROLE_SETS),
    st.sets(st.sampled_from(GROUPS), max_size=2),
)
"""How a client connects: (reliable, auto_ack, user, roles, initial groups)."""


class ClientMachine(RuleBasedStateMachine):
    clients = Bundle("clients")
    dropped = Bundle("dropped")
    """Reliable clients as they were dropped (they may have closed since), for recovery to pick from."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = MutableClock()
        self.fake = FakeWebPubSub(clock=self.clock, id_seed="client-machine")
        self.fake.start()
        self.sdk = self.fake.service_client(HUB)
        self.model: list[ModelClient] = []
        self.counter = 0

    def teardown(self) -> None:
        self.fake.stop()

    # -- helpers ----------------------------------------------------------------------------------------

    def next_n(self) -> int:
        self.counter += 1
        return self.counter

    def open_count(self) -> int:
        return sum(m.open for m in self.model)

    def members(self, group: str) -> list[ModelClient]:
        return [m for m in self.model if m.open and group in m.groups]

    def deliver(self, recipients: list[ModelClient], record: Record) -> None:
        for m in recipients:
            m.expected.append(record)
            if not m.reliable:
                continue
            sequence_id = len(m.expected)
            if m.attached:
                m.written_upto = sequence_id
            if not (m.attached and m.auto_ack):
                m.unacked.append(sequence_id)

    def close_model(self, m: ModelClient, *, disconnected: bool) -> None:
        m.disconnected = disconnected and m.attached
        m.open = m.attached = False
        m.groups.clear()
        m.unacked.clear()

    def request(
        self, m: ModelClient, kind: str, group: str, ack_id: int | None, send: Callable[[], Any], execute: Callable[[], None]
    ) -> None:
        """A join/leave/send request: Duplicate, Forbidden or executed, as the model says; check the ack."""
        if not m.attached:
            try:
                send()
            except RuntimeError as error:
                assert "not connected" in str(error)
            else:
                raise AssertionError("a client without a link could send")
            return
        if ack_id is not None and ack_id in m.used_ack_ids:
            outcome: str | None = "Duplicate"
        else:
            outcome = None if m.permissions[kind].allows(group) else "Forbidden"
            if outcome is None:
                execute()
            if ack_id is not None:  # a Forbidden request uses up its ackId too (the fake's reading of §5.3)
                m.used_ack_ids.add(ack_id)
        got = send()
        if ack_id is None:
            assert got is None
            return
        m.expected_acks.append((ack_id, outcome))
        assert (got.ack_id, got.success, got.error_name) == (ack_id, outcome is None, outcome)
        if outcome == "Duplicate":
            assert got.error_message == f"Message with ack-id: {ack_id} has been processed"

    # -- connecting -------------------------------------------------------------------------------------

    @initialize(target=clients, configs=st.lists(client_configs, min_size=3, max_size=3))
    def first_clients(self, configs: list[tuple[Any, ...]]) -> MultipleResults[int]:
        """Three clients before any other rule, so that no rule waits for the bundle to fill."""
        return multiple(*(self.connect(*config) for config in configs))

    @precondition(lambda self: len(self.model) < MAX_CLIENTS and self.open_count() <= MIN_OPEN)
    @rule(target=clients, config=client_configs)
    def another_client(self, config: tuple[Any, ...]) -> int:
        return self.connect(*config)

    def connect(self, reliable: bool, auto_ack: bool, user: str | None, roles: tuple[str, ...], groups: set[str]) -> int:
        client = self.fake.connect(
            HUB, user_id=user, roles=roles, groups=sorted(groups),
            protocol=RELIABLE_JSON if reliable else JSON, auto_ack=auto_ack,
        )
        permissions = {kind: ModelPermission.from_roles(kind, roles) for kind in KINDS}
        self.model.append(ModelClient(client, reliable, auto_ack, user, set(groups), permissions))
        return len(self.model) - 1

    # -- client actions ---------------------------------------------------------------------------------

    @rule(c=clients, join=st.booleans(), group=st.sampled_from(GROUPS), ack_id=ack_ids)
    def join_or_leave(self, c: int, join: bool, group: str, ack_id: int | None) -> None:
        m = self.model[c]
        ack = ack_id is not None
        if join:
            self.request(m, "joinLeaveGroup", group, ack_id,
                         lambda: m.client.join_group(group, ack=ack, ack_id=ack_id), lambda: m.groups.add(group))
        else:
            self.request(m, "joinLeaveGroup", group, ack_id,
                         lambda: m.client.leave_group(group, ack=ack, ack_id=ack_id), lambda: m.groups.discard(group))

    @rule(
        c=clients,
        group=st.sampled_from(GROUPS),
        data_type=st.sampled_from(["text", "json", "binary"]),
        no_echo=st.booleans(),
        ack_id=ack_ids,
    )
    def send_to_group(self, c: int, group: str, data_type: str, no_echo: bool, ack_id: int | None) -> None:
        m = self.model[c]
        n = self.next_n()
        data: Any = {"text": f"c{n}", "json": {"n": n, "by": m.user}, "binary": f"b{n}".encode()}[data_type]
        wire = base64.b64encode(data).decode() if data_type == "binary" else data
        record: Record = (group, data_type, wire, m.user)

        def execute() -> None:
            self.deliver([r for r in self.members(group) if not (no_echo and r is m)], record)

        self.request(
            m, "sendToGroup", group, ack_id,
            lambda: m.client.send_to_group(
                group, data, data_type=data_type, no_echo=no_echo,  # type: ignore[arg-type]
                ack=ack_id is not None, ack_id=ack_id,
            ),
            execute,
        )

    @rule(c=clients, upto=st.integers(0, 40))
    def sequence_ack(self, c: int, upto: int) -> None:
        m = self.model[c]
        if not m.reliable:
            return
        if not m.attached:
            try:
                m.client.sequence_ack(upto)
            except RuntimeError:
                return
            raise AssertionError("a client without a link could acknowledge")
        upto = min(upto, m.written_upto)  # a client only acknowledges what it has seen
        m.client.sequence_ack(upto)
        m.unacked = [s for s in m.unacked if s > upto]

    @rule(target=dropped, c=clients)
    def drop(self, c: int) -> MultipleResults[int]:
        m = self.model[c]
        m.client.drop()
        if not m.attached:
            return multiple()
        assert m.client.close_code is None
        if not m.reliable:  # a non-reliable connection ends with its link
            self.close_model(m, disconnected=False)
            return multiple()
        m.attached = False
        m.dropped_at = self.clock.now
        return multiple(c)

    @rule(c=st.one_of(consumes(dropped), clients))
    def recover(self, c: int) -> None:
        """Mostly a dropped reliable client; sometimes any client, which must be refused."""
        m = self.model[c]
        if m.reliable and m.open and not m.attached:
            before = len(m.client.frames)
            replay = list(m.unacked)
            m.client.recover()
            frames = [json.loads(f) for f in m.client.frames[before:]]
            assert (frames[0]["type"], frames[0]["event"]) == ("system", "connected")
            assert [f.get("sequenceId") for f in frames[1:]] == replay, "the unacknowledged messages, in order"
            m.attached, m.dropped_at = True, None
            m.recoveries += 1
            m.written_upto = len(m.expected)
            if m.auto_ack:
                m.unacked.clear()
        elif m.reliable and not m.open:
            try:
                m.client.recover()
            except RecoveryFailed:
                assert m.client.close_code == 1008
            else:
                raise AssertionError("a closed connection was recovered")
        else:
            try:
                m.client.recover()
            except RuntimeError as error:
                assert "nothing to recover" in str(error)
            else:
                raise AssertionError("an attached or non-reliable connection was recovered")

    @precondition(lambda self: self.open_count() >= MIN_OPEN)
    @rule(c=clients, how=st.sampled_from(("client close", "rest close") + MALFORMED))
    def end(self, c: int, how: str) -> None:
        """The client closes, REST closes it, or it sends a malformed frame (1007)."""
        m = self.model[c]
        if how == "client close":
            m.client.close()
            if m.open:
                assert m.client.close_code == 1000
                self.close_model(m, disconnected=False)
        elif how == "rest close":
            self.sdk.close_connection(m.client.connection_id, reason="rest")
            if m.open:
                # an attached client sees disconnected and close 1000; a dropped one has no link to see it on
                assert m.client.close_code == (1000 if m.attached else None)
                self.close_model(m, disconnected=True)
        elif not m.attached:
            try:
                m.client.send_frame(how)
            except RuntimeError:
                return
            raise AssertionError("a client without a link could send")
        else:
            m.client.send_frame(how)
            assert m.client.close_code == 1007
            self.close_model(m, disconnected=True)

    # -- REST -------------------------------------------------------------------------------------------

    @rule(group=st.sampled_from(GROUPS), excluded=st.lists(clients, max_size=2), via_sdk=st.booleans())
    def rest_send_to_group(self, group: str, excluded: list[int], via_sdk: bool) -> None:
        text = f"r{self.next_n()}"
        skip = [self.model[c].client.connection_id for c in excluded]
        if via_sdk:
            self.sdk.send_to_group(group, text, content_type="text/plain", excluded=skip or None)
        else:
            self.fake._service.send_to_group(HUB, group, Message(text.encode(), "text"), excluded=skip)
        recipients = [m for m in self.members(group) if m.client.connection_id not in skip]
        self.deliver(recipients, (group, "text", text, None))

    @rule(c=clients, add=st.booleans(), group=st.sampled_from(GROUPS), via_sdk=st.booleans())
    def rest_membership(self, c: int, add: bool, group: str, via_sdk: bool) -> None:
        """REST add/remove ignore the client's permissions; adding an unknown connection is a 404."""
        m = self.model[c]
        cid = m.client.connection_id
        if not add:
            if via_sdk:
                self.sdk.remove_connection_from_group(group, cid)
            else:
                self.fake._service.remove_connection_from_group(HUB, group, cid)
            m.groups.discard(group)
            return
        try:
            if via_sdk:
                self.sdk.add_connection_to_group(group, cid)
            else:
                self.fake._service.add_connection_to_group(HUB, group, cid)
        except (ResourceNotFoundError, NotFoundError):
            assert not m.open
        else:
            assert m.open
            m.groups.add(group)

    @rule(c=clients, grant=st.booleans(), kind=st.sampled_from(KINDS), group=st.sampled_from(GROUPS),
          via_sdk=st.booleans())
    def rest_permission(self, c: int, grant: bool, kind: str, group: str, via_sdk: bool) -> None:
        """Grant (404 for an unknown connection) or revoke (always fine) one permission for one group."""
        m = self.model[c]
        cid = m.client.connection_id
        if not grant:
            if via_sdk:
                self.sdk.revoke_permission(kind, cid, target_name=group)
            else:
                self.fake._service.revoke_permission(HUB, kind, cid, target=group)
            if m.open:
                m.permissions[kind].revoke(group)
            return
        try:
            if via_sdk:
                self.sdk.grant_permission(kind, cid, target_name=group)
            else:
                self.fake._service.grant_permission(HUB, kind, cid, target=group)
        except (ResourceNotFoundError, NotFoundError):
            assert not m.open
        else:
            assert m.open
            m.permissions[kind].grant(group)

    @rule(seconds=st.sampled_from([7, 31]))
    def time_passes(self, seconds: int) -> None:
        """Sums of 7s and 31s never hit the 30 s boundary exactly, left open by the service (service-behaviour §5.4)."""
        self.clock.now += seconds
        self.fake.expire_dropped()
        for m in self.model:
            if m.open and not m.attached and self.clock.now - m.dropped_at > RECOVERY_WINDOW:
                self.close_model(m, disconnected=False)

    # -- invariants -------------------------------------------------------------------------------------

    @invariant()
    def connection_state_matches(self) -> None:
        for m in self.model:
            assert (m.client.is_open, m.client.is_attached) == (m.open, m.attached)
            if m.open:
                assert m.client.groups == m.groups
                assert self.fake._service.connection_exists(HUB, m.client.connection_id)
            else:
                assert not self.fake._service.connection_exists(HUB, m.client.connection_id)

    @invariant()
    def group_members_match(self) -> None:
        for group in GROUPS:
            members = {c.connection_id for c in self.fake._service.group_members(HUB, group)}
            assert members == {m.client.connection_id for m in self.members(group)}

    @invariant()
    def permissions_match(self) -> None:
        for m in self.model:
            if not m.open:
                continue
            for kind in KINDS:
                for group in GROUPS:
                    allowed = self.fake._service.has_permission(HUB, kind, m.client.connection_id, target=group)
                    assert allowed is m.permissions[kind].allows(group), (kind, group)

    @invariant()
    def frames_match(self) -> None:
        for m in self.model:
            frames = m.client.frames
            m.parsed.extend(json.loads(frame) for frame in frames[len(m.parsed) :])
            self.check_frames(m)

    def check_frames(self, m: ModelClient) -> None:
        frames = m.parsed
        assert {f["type"] for f in frames} <= {"system", "ack", "message"}
        connected = [f for f in frames if f["type"] == "system" and f["event"] == "connected"]
        assert frames[0] == connected[0]
        assert len(connected) == 1 + m.recoveries
        assert all(f["connectionId"] == m.client.connection_id and f["userId"] == m.user for f in connected)
        assert all(("reconnectionToken" in f) is m.reliable for f in connected)
        assert len({f.get("reconnectionToken") for f in connected}) == 1

        disconnected = [i for i, f in enumerate(frames) if f["type"] == "system" and f["event"] == "disconnected"]
        assert disconnected == ([len(frames) - 1] if m.disconnected else [])

        acks = [(f["ackId"], f["error"]["name"] if "error" in f else None) for f in frames if f["type"] == "ack"]
        assert acks == m.expected_acks
        assert all(f["success"] is ("error" not in f) for f in frames if f["type"] == "ack")

        messages = [f for f in frames if f["type"] == "message"]
        assert all(f["from"] == "group" for f in messages)
        if not m.reliable:
            assert all("sequenceId" not in f for f in messages)
            assert [record_of(f) for f in messages] == m.expected
            return
        highest = 0
        for frame in messages:
            sequence_id = frame["sequenceId"]
            assert 1 <= sequence_id <= len(m.expected), (sequence_id, len(m.expected))
            assert record_of(frame) == m.expected[sequence_id - 1], "a frame differs from the message with its id"
            if sequence_id <= highest:
                continue  # a replay: the SDK drops ids it has already seen
            assert sequence_id == highest + 1, f"gap: {sequence_id} after {highest}"
            highest = sequence_id
        assert highest == m.written_upto
        if m.attached:
            assert highest == len(m.expected), "an attached client has every message"


def record_of(frame: dict[str, Any]) -> Record:
    expected_keys = {"type", "from", "group", "dataType", "data", "fromUserId", "sequenceId"}
    assert set(frame) <= expected_keys, frame
    return (frame["group"], frame["dataType"], frame["data"], frame.get("fromUserId"))


TestClientMachine = ClientMachine.TestCase
TestClientMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
