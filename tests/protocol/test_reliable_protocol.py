"""``json.reliable.webpubsub.azure.v1`` (service-behaviour §5.4).

Sequence ids, sequenceAck, drop and recovery, expiry, buffer.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._core.model import Message
from pytest_webpubsub._gateway import RecoveryFailed
from pytest_webpubsub._protocol import JSON, RELIABLE_JSON
from pytest_webpubsub.clients import FakeClientConnection

from .support import (
    HUB,
    MutableClock,
    ack,
    connected,
    exists,
    group_message,
    parsed,
    request,
    sequence_ids,
)

ALL = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
DUPLICATE_1 = ack(1, "Duplicate", "Message with ack-id: 1 has been processed")


def token_of(client: FakeClientConnection) -> str:
    """The reconnection token from the client's ``connected`` frame (what a real client keeps)."""
    return parsed(client)[0]["reconnectionToken"]


def rest_send(fake: FakeWebPubSub, group: str, text: str) -> None:
    fake._service.send_to_group(HUB, group, Message(text.encode(), "text"))


def recovery_url(fake: FakeWebPubSub, connection_id: str, token: str) -> str:
    access = fake.service_client(HUB).get_client_access_token()["url"]
    return f"{access}&awps_connection_id={quote(connection_id)}&awps_reconnection_token={quote(token)}"


# ------------------------------------------------------------------------------------------------ connected


@pytest.mark.parametrize("user_id", ["alice", None])
def test_connected_carries_a_reconnection_token(webpubsub: FakeWebPubSub, user_id: str | None) -> None:
    client = webpubsub.connect(HUB, user_id=user_id, protocol=RELIABLE_JSON)
    frame = parsed(client)[0]
    token = frame["reconnectionToken"]
    assert isinstance(token, str) and len(token) >= 16
    assert client.frames == [connected(client, token=token)]
    assert list(frame) == ["type", "event", "userId", "connectionId", "reconnectionToken"]


def test_reconnection_tokens_differ_per_connection(webpubsub: FakeWebPubSub) -> None:
    tokens = {token_of(webpubsub.connect(HUB, protocol=RELIABLE_JSON)) for _ in range(5)}
    assert len(tokens) == 5


def test_non_reliable_connected_has_no_reconnection_token(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=JSON)
    assert "reconnectionToken" not in parsed(client)[0]


# ------------------------------------------------------------------------------------------------ sequence ids


def test_sequence_ids_start_at_1_and_only_message_frames_carry_them(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", roles=ALL, protocol=RELIABLE_JSON)
    client.join_group("g", ack_id=1)
    client.send_to_group("g", "a", ack_id=2)
    client.ping()
    webpubsub.service_client(HUB).send_to_group("g", "b", content_type="text/plain")
    client.send_frame(request(type="event", event="e", dataType="text", data="x", ackId=3))
    client.send_to_group("g", {"c": 1}, ack_id=4)
    token = token_of(client)
    assert client.frames == [
        connected(client, token=token),
        ack(1),
        group_message("g", "text", "a", "u", sequence_id=1),
        ack(2),
        '{"type":"pong"}',
        group_message("g", "text", "b", sequence_id=2),
        ack(3, "InternalServerError", "No event handler is registered for the event 'e'."),
        group_message("g", "json", {"c": 1}, "u", sequence_id=3),
        ack(4),
    ]


def test_sequence_ids_count_every_kind_of_delivery_per_connection(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", groups=["g"], protocol=RELIABLE_JSON)
    other = webpubsub.connect(HUB, user_id="v", groups=["g"], protocol=RELIABLE_JSON)
    sdk = webpubsub.service_client(HUB)
    sdk.send_to_all("1", content_type="text/plain")
    sdk.send_to_user("u", "2", content_type="text/plain")
    sdk.send_to_connection(client.connection_id, "3", content_type="text/plain")
    sdk.send_to_group("g", "4", content_type="text/plain")
    assert sequence_ids(client) == [1, 2, 3, 4]
    assert [m.data for m in client.received] == ["1", "2", "3", "4"]
    assert sequence_ids(other) == [1, 2]
    assert [m.data for m in other.received] == ["1", "4"]


def test_excluded_messages_do_not_use_a_sequence_id(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    sdk = webpubsub.service_client(HUB)
    sdk.send_to_group("g", "a", content_type="text/plain")
    sdk.send_to_group("g", "skipped", content_type="text/plain", excluded=[client.connection_id])
    sdk.send_to_group("g", "b", content_type="text/plain")
    assert [(m.data, m.sequence_id) for m in client.received] == [("a", 1), ("b", 2)]


# ------------------------------------------------------------------------------------------------ recovery


def test_recovery_replays_unacked_messages_in_order_with_the_same_identity(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", roles=["webpubsub.joinLeaveGroup"], protocol=RELIABLE_JSON,
                               auto_ack=False)
    cid, token = client.connection_id, token_of(client)
    client.join_group("g", ack_id=1)
    for text in ("m1", "m2", "m3", "m4", "m5"):
        rest_send(webpubsub, "g", text)
    client.sequence_ack(2)
    client.drop()
    assert (client.is_open, client.is_attached) == (True, False)
    assert exists(webpubsub, client) is True
    before = len(client.frames)

    client.recover()

    assert (client.is_open, client.is_attached, client.connection_id) == (True, True, cid)
    assert client.frames[before:] == [
        connected(client, token=token),
        group_message("g", "text", "m3", sequence_id=3),
        group_message("g", "text", "m4", sequence_id=4),
        group_message("g", "text", "m5", sequence_id=5),
    ]
    # same groups, same permissions, same ack-id history
    assert client.groups == {"g"}
    client.join_group("g", ack_id=1)
    client.send_to_group("g", "x", ack_id=2)
    assert client.frames[before + 4:] == [
        DUPLICATE_1,
        ack(2, "Forbidden", "The client does not have permission to send to group 'g'."),
    ]


def test_the_sequence_ack_is_cumulative(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    for text in ("a", "b", "c", "d"):
        rest_send(webpubsub, "g", text)
    client.sequence_ack(3)  # acknowledges 1, 2 and 3 at once
    client.sequence_ack(1)  # an older ack changes nothing
    client.drop()
    before = len(client.frames)
    client.recover()
    assert client.frames[before + 1:] == [group_message("g", "text", "d", sequence_id=4)]


@pytest.mark.parametrize(("acked", "replayed"), [(0, [1, 2, 3]), (1, [2, 3]), (3, []), (99, [])])
def test_replay_starts_after_the_last_acknowledged_id(
    webpubsub: FakeWebPubSub, acked: int, replayed: list[int]
) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    for text in ("a", "b", "c"):
        rest_send(webpubsub, "g", text)
    if acked:
        client.sequence_ack(acked)
    client.drop()
    before = len(client.frames)
    client.recover()
    assert [json.loads(f)["sequenceId"] for f in client.frames[before + 1:]] == replayed


def test_auto_ack_clients_get_no_replay(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    rest_send(webpubsub, "g", "a")
    client.drop()
    before = len(client.frames)
    client.recover()
    assert client.frames[before:] == [connected(client, token=token_of(client))]


def test_messages_sent_while_dropped_arrive_on_recovery(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    rest_send(webpubsub, "g", "before")
    client.drop()
    rest_send(webpubsub, "g", "while1")
    webpubsub.service_client(HUB).send_to_connection(client.connection_id, "while2", content_type="text/plain")
    assert [m.data for m in client.received] == ["before"]
    client.recover()
    assert [(m.data, m.sequence_id) for m in client.received] == [("before", 1), ("while1", 2), ("while2", 3)]
    rest_send(webpubsub, "g", "after")
    assert sequence_ids(client) == [1, 2, 3, 4]


def test_sdk_style_dedup_after_replay_gives_each_message_once(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    rest_send(webpubsub, "g", "a")
    rest_send(webpubsub, "g", "b")
    client.drop()
    rest_send(webpubsub, "g", "c")
    client.recover()
    client.drop()
    client.recover()
    seen, kept = 0, []
    for message in client.received:
        if message.sequence_id <= seen:
            continue
        seen = message.sequence_id
        kept.append((message.data, message.sequence_id))
    assert [m.sequence_id for m in client.received] == [1, 2, 1, 2, 3, 1, 2, 3]
    assert kept == [("a", 1), ("b", 2), ("c", 3)]


def test_a_dropped_connection_stays_a_member_and_can_be_managed_by_rest(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    client.drop()
    sdk = webpubsub.service_client(HUB)
    assert sdk.group_exists("g") is True
    sdk.add_connection_to_group("h", client.connection_id)
    sdk.send_to_group("h", "for h", content_type="text/plain")
    client.recover()
    assert client.groups == {"g", "h"}
    assert [(m.data, m.group) for m in client.received] == [("for h", "h")]


def test_a_dropped_client_cannot_send_until_recovered(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    client.drop()
    with pytest.raises(RuntimeError, match="not connected"):
        client.ping()
    client.recover()
    client.ping()
    assert client.frames[-1] == '{"type":"pong"}'


def test_recovering_an_attached_connection_is_refused(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    with pytest.raises(RuntimeError, match="nothing to recover"):
        client.recover()


def test_recovery_through_the_url_continues_the_connection(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    rest_send(webpubsub, "g", "a")
    client.drop()
    rest_send(webpubsub, "g", "b")
    again = webpubsub.connect_url(
        recovery_url(webpubsub, client.connection_id, token_of(client)), protocol=RELIABLE_JSON, auto_ack=False
    )
    assert again.connection_id == client.connection_id
    assert again.frames == [
        connected(client, token=token_of(client)),
        group_message("g", "text", "a", sequence_id=1),
        group_message("g", "text", "b", sequence_id=2),
    ]
    assert (again.is_attached, client.is_attached) == (True, False)


@pytest.mark.parametrize(
    ("connection_id", "token"),
    [("own", "bad"), ("own", ""), ("unknown", "own")],
    ids=["wrong_token", "empty_token", "unknown_connection"],
)
def test_recovery_with_wrong_parameters_fails(webpubsub: FakeWebPubSub, connection_id: str, token: str) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    client.drop()
    cid = client.connection_id if connection_id == "own" else "neverIssued0000000000000pytestK02"
    secret = token_of(client) if token == "own" else token
    with pytest.raises(RecoveryFailed):
        webpubsub.connect_url(recovery_url(webpubsub, cid, secret), protocol=RELIABLE_JSON)
    # the dropped connection is untouched and can still recover with its real token
    assert client.is_open is True
    client.recover()
    assert client.is_attached is True


def test_recovery_of_a_connection_closed_by_the_service_fails(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    client.drop()
    webpubsub.service_client(HUB).close_connection(client.connection_id, reason="bye")
    assert exists(webpubsub, client) is False
    with pytest.raises(RecoveryFailed):
        client.recover()
    assert client.close_code == 1008


def test_a_client_close_ends_the_reliable_connection_for_good(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    client.close()
    assert (client.is_open, client.close_code) == (False, 1000)
    assert exists(webpubsub, client) is False
    with pytest.raises(RecoveryFailed):
        client.recover()


# ------------------------------------------------------------------------------------------------ expiry


def check_expired_after_31_seconds(webpubsub: FakeWebPubSub, sweep: str) -> None:
    clock = webpubsub.options.clock
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    cid = client.connection_id
    client.drop()
    clock.advance(31)
    if sweep == "expire_dropped":
        webpubsub.expire_dropped()
        assert exists(webpubsub, client) is False
    else:
        assert webpubsub.service_client(HUB).connection_exists(cid) is False
    assert client.is_open is False
    assert webpubsub._service.group_exists(HUB, "g") is False
    with pytest.raises(RecoveryFailed):
        client.recover()
    assert client.close_code == 1008
    assert client.is_attached is False


# one clock per test: SDK REST tokens live 60 s, so a clock shared by parametrized runs would outrun them
@pytest.mark.webpubsub(clock=MutableClock())
def test_recovery_after_the_30_second_window_fails_after_expire_dropped(webpubsub: FakeWebPubSub) -> None:
    check_expired_after_31_seconds(webpubsub, "expire_dropped")


@pytest.mark.webpubsub(clock=MutableClock())
def test_recovery_after_the_30_second_window_fails_after_any_rest_call(webpubsub: FakeWebPubSub) -> None:
    check_expired_after_31_seconds(webpubsub, "rest_call")


@pytest.mark.webpubsub(clock=MutableClock())
def test_recovery_inside_the_window_succeeds(webpubsub: FakeWebPubSub) -> None:
    clock = webpubsub.options.clock
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    client.drop()
    clock.advance(29)
    webpubsub.expire_dropped()
    assert exists(webpubsub, client) is True
    client.recover()
    assert client.is_attached is True
    # the window restarts with every drop
    clock.advance(20)
    client.drop()
    clock.advance(20)
    webpubsub.expire_dropped()
    client.recover()
    assert client.is_attached is True


@pytest.mark.webpubsub(clock=MutableClock())
def test_only_connections_dropped_long_enough_expire(webpubsub: FakeWebPubSub) -> None:
    clock = webpubsub.options.clock
    old = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    recent = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    attached = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    old.drop()
    clock.advance(20)
    recent.drop()
    clock.advance(11)
    webpubsub.expire_dropped()
    assert (old.is_open, recent.is_open, attached.is_open) == (False, True, True)


@pytest.mark.webpubsub(clock=MutableClock())
def test_a_connect_also_expires_old_drops(webpubsub: FakeWebPubSub) -> None:
    clock = webpubsub.options.clock
    client = webpubsub.connect(HUB, protocol=RELIABLE_JSON)
    client.drop()
    clock.advance(31)
    webpubsub.connect(HUB)
    assert client.is_open is False


# ------------------------------------------------------------------------------------------------ buffer limit


def test_more_than_1000_unacked_messages_close_the_connection_for_good(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    for n in range(1000):
        rest_send(webpubsub, "g", f"m{n}")
    assert client.is_open is True
    rest_send(webpubsub, "g", "one too many")
    assert client.is_open is False
    assert exists(webpubsub, client) is False
    assert sequence_ids(client) == list(range(1, 1001))
    last = parsed(client)[-1]
    assert (last["type"], last["event"]) == ("system", "disconnected")
    assert client.close_code == 1000
    with pytest.raises(RecoveryFailed):
        client.recover()


def test_the_buffer_limit_also_applies_while_dropped(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    client.drop()
    for n in range(1001):
        rest_send(webpubsub, "g", f"m{n}")
    assert client.is_open is False
    with pytest.raises(RecoveryFailed):
        client.recover()


def test_acknowledged_messages_free_the_buffer(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON, auto_ack=False)
    for n in range(1000):
        rest_send(webpubsub, "g", f"m{n}")
    client.sequence_ack(1)
    rest_send(webpubsub, "g", "fits")
    assert client.is_open is True
    rest_send(webpubsub, "g", "does not")
    assert client.is_open is False


def test_auto_acking_clients_never_fill_the_buffer(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=RELIABLE_JSON)
    for n in range(2500):
        rest_send(webpubsub, "g", f"m{n}")
    assert client.is_open is True
    assert sequence_ids(client)[-1] == 2500


def test_non_reliable_clients_have_no_buffer_limit(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=JSON)
    for n in range(1500):
        rest_send(webpubsub, "g", f"m{n}")
    assert client.is_open is True
    assert len(client.received) == 1500


# ------------------------------------------------------------------------------------------------ non-reliable drop


def test_a_dropped_json_client_is_closed_at_once(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"], protocol=JSON)
    client.drop()
    assert (client.is_open, client.is_attached) == (False, False)
    assert exists(webpubsub, client) is False
    assert webpubsub._service.group_exists(HUB, "g") is False
    assert client.frames == [connected(client)]
    with pytest.raises(RuntimeError, match="nothing to recover"):
        client.recover()


def test_a_json_client_cannot_recover_through_the_url(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=JSON)
    client.drop()
    with pytest.raises(RecoveryFailed):
        webpubsub.connect_url(recovery_url(webpubsub, client.connection_id, "anything"), protocol=JSON)
