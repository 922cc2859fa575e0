"""``json.webpubsub.azure.v1`` end to end through simulated clients (service-behaviour §5.2, §5.3).

Exact frames both ways.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._protocol import JSON

from .support import (
    HUB,
    INVALID_MESSAGE,
    ack,
    connected,
    disconnected,
    dump,
    exists,
    group_message,
    parsed,
    request,
)

ALL = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
PONG = '{"type":"pong"}'


# ------------------------------------------------------------------------------------------------ connected


@pytest.mark.parametrize("user_id", ["alice", None], ids=["user", "anonymous"])
def test_connected_is_the_first_and_only_frame_after_connect(webpubsub: FakeWebPubSub, user_id: str | None) -> None:
    client = webpubsub.connect(HUB, user_id=user_id, protocol=JSON)
    user = "null" if user_id is None else f'"{user_id}"'
    assert client.frames == [
        f'{{"type":"system","event":"connected","userId":{user},"connectionId":"{client.connection_id}"}}'
    ]
    assert exists(webpubsub, client) is True


def test_initial_groups_are_joined_before_any_frame(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="alice", groups=["g"])
    assert client.groups == {"g"}
    assert webpubsub._service.group_exists(HUB, "g") is True
    assert client.frames == [connected(client)]


# ------------------------------------------------------------------------------------------------ acks


@pytest.mark.parametrize(
    ("frame", "roles", "groups_before", "answer", "groups_after"),
    [
        (request(type="joinGroup", group="g", ackId=1), ALL, set(), ack(1), {"g"}),
        (request(type="joinGroup", group="g", ackId=7), [], set(),
         ack(7, "Forbidden", "The client does not have permission to join group 'g'."), set()),
        (request(type="leaveGroup", group="g", ackId=2), ALL, {"g"}, ack(2), set()),
        (request(type="leaveGroup", group="g", ackId=3), [], {"g"},
         ack(3, "Forbidden", "The client does not have permission to leave group 'g'."), {"g"}),
        (request(type="sendToGroup", group="other", dataType="text", data="x", ackId=4), ALL, {"g"}, ack(4), {"g"}),
        (request(type="sendToGroup", group="other", dataType="text", data="x", ackId=5), [], {"g"},
         ack(5, "Forbidden", "The client does not have permission to send to group 'other'."), {"g"}),
        (request(type="joinGroup", group="g", ackId=0), ALL, set(), ack(0), {"g"}),
        (request(type="joinGroup", group="g", ackId=18446744073709551615), ALL, set(),
         ack(18446744073709551615), {"g"}),
    ],
    ids=["join", "join_forbidden", "leave", "leave_forbidden", "send", "send_forbidden", "ack_id_0",
         "ack_id_uint64_max"],
)
def test_requests_with_an_ack_id_get_exactly_one_ack(
    webpubsub: FakeWebPubSub, frame: str, roles: list[str], groups_before: set[str], answer: str,
    groups_after: set[str],
) -> None:
    client = webpubsub.connect(HUB, user_id="alice", roles=roles, groups=groups_before)
    client.send_frame(frame)
    assert client.frames == [connected(client), answer]
    assert client.groups == groups_after
    assert client.is_open is True


@pytest.mark.parametrize(
    "frame",
    [
        request(type="joinGroup", group="g"),
        request(type="leaveGroup", group="g"),
        request(type="sendToGroup", group="h", dataType="text", data="x"),
        request(type="joinGroup", group="g", ackId=None),
    ],
    ids=["join", "leave", "send", "null_ack_id"],
)
@pytest.mark.parametrize("roles", [ALL, []], ids=["allowed", "forbidden"])
def test_requests_without_an_ack_id_get_no_ack(webpubsub: FakeWebPubSub, frame: str, roles: list[str]) -> None:
    client = webpubsub.connect(HUB, roles=roles)
    client.send_frame(frame)
    assert client.frames == [connected(client)]
    assert client.is_open is True


def test_join_and_leave_without_ack_still_take_effect(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    assert client.join_group("g", ack=False) is None
    assert client.groups == {"g"}
    assert client.leave_group("g", ack=False) is None
    assert client.groups == set()
    assert webpubsub._service.group_exists(HUB, "g") is False


def test_leaving_a_group_one_is_not_in_succeeds(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(request(type="leaveGroup", group="never", ackId=1))
    assert client.frames == [connected(client), ack(1)]


def test_joining_twice_keeps_one_membership_and_one_delivery(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.join_group("g", ack_id=1)
    client.join_group("g", ack_id=2)
    webpubsub.service_client(HUB).send_to_group("g", "once", content_type="text/plain")
    assert client.frames == [connected(client), ack(1), ack(2), group_message("g", "text", "once")]


# ------------------------------------------------------------------------------------------------ sendToGroup


def test_echo_to_a_member_sender_and_delivery_to_every_member(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", roles=ALL, groups=["g"])
    bob = webpubsub.connect(HUB, user_id="bob", groups=["g"])
    outsider = webpubsub.connect(HUB, user_id="carol")
    alice.send_frame(request(type="sendToGroup", group="g", dataType="text", data="hi", ackId=1))
    message = group_message("g", "text", "hi", "alice")
    assert alice.frames == [connected(alice), message, ack(1)]
    assert bob.frames == [connected(bob), message]
    assert outsider.frames == [connected(outsider)]


@pytest.mark.parametrize("no_echo", [True, False])
def test_no_echo_skips_only_the_sender(webpubsub: FakeWebPubSub, no_echo: bool) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", roles=ALL, groups=["g"])
    alice2 = webpubsub.connect(HUB, user_id="alice", groups=["g"])
    alice.send_frame(request(type="sendToGroup", group="g", dataType="text", data="hi", noEcho=no_echo, ackId=1))
    message = group_message("g", "text", "hi", "alice")
    assert alice.frames == [connected(alice)] + ([] if no_echo else [message]) + [ack(1)]
    # another connection of the same user is not the sender: noEcho does not apply to it
    assert alice2.frames == [connected(alice2), message]


def test_the_sender_need_not_be_a_member(webpubsub: FakeWebPubSub) -> None:
    sender = webpubsub.connect(HUB, user_id="s", roles=["webpubsub.sendToGroup"])
    member = webpubsub.connect(HUB, groups=["g"])
    sender.send_frame(request(type="sendToGroup", group="g", dataType="json", data={"a": 1}, ackId=1))
    assert sender.frames == [connected(sender), ack(1)]
    assert member.frames == [connected(member), group_message("g", "json", {"a": 1}, "s")]


def test_sending_to_a_group_without_members_is_acked_and_goes_nowhere(webpubsub: FakeWebPubSub) -> None:
    sender = webpubsub.connect(HUB, user_id="s", roles=ALL)
    sender.send_frame(request(type="sendToGroup", group="empty", dataType="text", data="x", ackId=1))
    assert sender.frames == [connected(sender), ack(1)]
    assert webpubsub.deliveries == ()


def test_a_member_gets_each_message_once_even_with_two_connections_of_one_user(webpubsub: FakeWebPubSub) -> None:
    first = webpubsub.connect(HUB, user_id="u", groups=["g"])
    second = webpubsub.connect(HUB, user_id="u", groups=["g"])
    sender = webpubsub.connect(HUB, user_id="s", roles=ALL)
    sender.send_to_group("g", "x", ack=False)
    assert first.frames[1:] == second.frames[1:] == [group_message("g", "text", "x", "s")]


# (frame fields, what a JSON member gets as dataType/data, what a simple member gets)
DATA_TYPES = [
    ({"dataType": "text", "data": "hi"}, "text", "hi", "hi"),
    ({"dataType": "text", "data": ""}, "text", "", ""),
    ({"dataType": "text", "data": '{"a":1}'}, "text", '{"a":1}', '{"a":1}'),
    ({"dataType": "json", "data": {"a": [1, 2]}}, "json", {"a": [1, 2]}, '{"a":[1,2]}'),
    ({"dataType": "json", "data": "hi"}, "json", "hi", '"hi"'),
    ({"dataType": "json", "data": 5}, "json", 5, "5"),
    ({"data": {"default": True}}, "json", {"default": True}, '{"default":true}'),
    ({"dataType": "binary", "data": "aGVsbG8="}, "binary", "aGVsbG8=", b"hello"),
    ({"dataType": "binary", "data": ""}, "binary", "", b""),
    ({"dataType": "text", "data": "héllo 😀"}, "text", "héllo 😀", "héllo 😀"),
]


@pytest.mark.parametrize(("fields", "data_type", "json_data", "raw_frame"), DATA_TYPES)
def test_data_types_reach_json_and_simple_members(
    webpubsub: FakeWebPubSub, fields: dict[str, Any], data_type: str, json_data: Any, raw_frame: Any
) -> None:
    sender = webpubsub.connect(HUB, user_id="alice", roles=ALL)
    json_member = webpubsub.connect(HUB, groups=["g"], protocol=JSON)
    simple_member = webpubsub.connect(HUB, groups=["g"], protocol=None)
    sender.send_frame(request(type="sendToGroup", group="g", ackId=1, **fields))
    assert sender.frames == [connected(sender), ack(1)]
    assert json_member.frames == [connected(json_member), group_message("g", data_type, json_data, "alice")]
    assert simple_member.frames == [raw_frame]
    assert type(simple_member.frames[0]) is type(raw_frame)


def test_received_gives_parsed_values(webpubsub: FakeWebPubSub) -> None:
    sender = webpubsub.connect(HUB, user_id="alice", roles=ALL)
    member = webpubsub.connect(HUB, groups=["g"])
    sender.send_to_group("g", "t")
    sender.send_to_group("g", {"j": 1})
    sender.send_to_group("g", b"\x00b")
    assert [(m.data, m.data_type, m.group, m.from_user_id) for m in member.received] == [
        ("t", "text", "g", "alice"),
        ({"j": 1}, "json", "g", "alice"),
        (b"\x00b", "binary", "g", "alice"),
    ]


@pytest.mark.parametrize(
    ("send", "frame"),
    [
        (lambda sdk: sdk.send_to_group("g", "hi", content_type="text/plain"), group_message("g", "text", "hi")),
        (lambda sdk: sdk.send_to_group("g", {"a": 1}), group_message("g", "json", {"a": 1})),
        (lambda sdk: sdk.send_to_group("g", b"hello", content_type="application/octet-stream"),
         group_message("g", "binary", "aGVsbG8=")),
    ],
    ids=["text", "json", "binary"],
)
def test_rest_group_sends_carry_no_from_user_id(webpubsub: FakeWebPubSub, send: Any, frame: str) -> None:
    member = webpubsub.connect(HUB, user_id="alice", groups=["g"])
    send(webpubsub.service_client(HUB))
    assert member.frames == [connected(member), frame]
    assert '"fromUserId"' not in member.frames[1]


def test_client_publishes_carry_the_publishers_user_id(webpubsub: FakeWebPubSub) -> None:
    member = webpubsub.connect(HUB, user_id="alice", groups=["g"])
    publisher = webpubsub.connect(HUB, user_id="bob", roles=ALL)
    publisher.send_to_group("g", "x", ack=False)
    assert member.frames[-1] == group_message("g", "text", "x", "bob")


# ------------------------------------------------------------------------------------------------ event / ping


def test_event_with_ack_id_gets_internal_server_error_without_a_handler(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="alice")
    client.send_frame(request(type="event", event="chat", dataType="text", data="hi", ackId=3))
    assert client.frames == [
        connected(client),
        ack(3, "InternalServerError", "No event handler is registered for the event 'chat'."),
    ]
    assert client.is_open is True


def test_event_without_ack_id_gets_nothing_and_the_connection_stays(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="alice")
    client.send_frame(request(type="event", event="chat", dataType="json", data={"a": 1}))
    assert client.frames == [connected(client)]
    assert client.is_open is True and exists(webpubsub, client) is True
    client.ping()
    assert client.frames == [connected(client), PONG]


def test_events_need_no_permission_and_reach_no_group(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, groups=["g"])
    client.send_event("chat", "x", ack_id=1)
    assert client.acks[1].error_name == "InternalServerError"
    assert webpubsub.deliveries == ()


@pytest.mark.parametrize("protocol", [JSON, "json.reliable.webpubsub.azure.v1"])
def test_ping_gets_pong(webpubsub: FakeWebPubSub, protocol: str) -> None:
    client = webpubsub.connect(HUB, protocol=protocol)
    client.send_frame('{"type":"ping"}')
    client.send_frame('{"type":"ping","ackId":1}')
    assert client.frames[1:] == [PONG, PONG]
    assert client.is_open is True


# ------------------------------------------------------------------------------------------------ duplicates


def test_a_reused_ack_id_is_a_duplicate_and_not_executed_again(webpubsub: FakeWebPubSub) -> None:
    sender = webpubsub.connect(HUB, user_id="s", roles=ALL)
    member = webpubsub.connect(HUB, groups=["g"])
    send = request(type="sendToGroup", group="g", dataType="text", data="once", ackId=1)
    sender.send_frame(send)
    sender.send_frame(send)
    assert sender.frames == [
        connected(sender), ack(1), ack(1, "Duplicate", "Message with ack-id: 1 has been processed")
    ]
    assert member.frames == [connected(member), group_message("g", "text", "once", "s")]


@pytest.mark.parametrize(
    "second",
    [
        request(type="joinGroup", group="h", ackId=1),
        request(type="leaveGroup", group="g", ackId=1),
        request(type="sendToGroup", group="g", dataType="text", data="x", ackId=1),
        request(type="event", event="e", dataType="text", data="x", ackId=1),
    ],
    ids=["join", "leave", "send", "event"],
)
def test_ack_ids_are_shared_by_every_request_kind(webpubsub: FakeWebPubSub, second: str) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(request(type="joinGroup", group="g", ackId=1))
    client.send_frame(second)
    assert client.frames[1:] == [ack(1), ack(1, "Duplicate", "Message with ack-id: 1 has been processed")]
    assert client.groups == {"g"}
    assert webpubsub.deliveries == ()


def test_a_forbidden_request_uses_up_its_ack_id(webpubsub: FakeWebPubSub) -> None:
    """The fake's reading of "already processed" (service-behaviour §5.3); the 2026 emulator caches only successes."""
    client = webpubsub.connect(HUB)
    client.send_frame(request(type="joinGroup", group="g", ackId=42))
    webpubsub.service_client(HUB).grant_permission("joinLeaveGroup", client.connection_id, target_name="g")
    client.send_frame(request(type="joinGroup", group="g", ackId=42))
    assert client.frames[1:] == [
        ack(42, "Forbidden", "The client does not have permission to join group 'g'."),
        ack(42, "Duplicate", "Message with ack-id: 42 has been processed"),
    ]
    assert client.groups == set()


def test_ack_ids_are_per_connection(webpubsub: FakeWebPubSub) -> None:
    first = webpubsub.connect(HUB, roles=ALL)
    second = webpubsub.connect(HUB, roles=ALL)
    first.join_group("a", ack_id=1)
    second.join_group("b", ack_id=1)
    assert first.frames[1:] == second.frames[1:] == [ack(1)]
    assert (first.groups, second.groups) == ({"a"}, {"b"})


def test_requests_without_ack_id_are_never_duplicates(webpubsub: FakeWebPubSub) -> None:
    sender = webpubsub.connect(HUB, user_id="s", roles=ALL)
    member = webpubsub.connect(HUB, groups=["g"])
    for _ in range(3):
        sender.send_frame(request(type="sendToGroup", group="g", dataType="text", data="x"))
    assert member.frames[1:] == [group_message("g", "text", "x", "s")] * 3
    assert sender.frames == [connected(sender)]


# ------------------------------------------------------------------------------------------------ malformed frames

NOT_A_MESSAGE = [
    ("not json", "{"),
    ("empty text", ""),
    ("json array", "[]"),
    ("json string", '"joinGroup"'),
    ("json number", "1"),
    ("json null", "null"),
    ("no type", request(group="g", ackId=1)),
    ("unknown type", request(type="unknown", ackId=1)),
    ("type not a string", request(type=1)),
    ("join without group", request(type="joinGroup", ackId=1)),
    ("join group not a string", request(type="joinGroup", group=1, ackId=1)),
    ("join group null", request(type="joinGroup", group=None)),
    ("leave without group", request(type="leaveGroup")),
    ("send without group", request(type="sendToGroup", dataType="text", data="x")),
    ("send group is a list", request(type="sendToGroup", group=["g"], dataType="text", data="x")),
    ("event without name", request(type="event", dataType="text", data="x")),
    ("event name not a string", request(type="event", event=5, dataType="text", data="x")),
    ("ack id a string", request(type="joinGroup", group="g", ackId="1")),
    ("ack id negative", request(type="joinGroup", group="g", ackId=-1)),
    ("ack id a float", request(type="joinGroup", group="g", ackId=1.5)),
    ("ack id a bool", request(type="joinGroup", group="g", ackId=True)),
    ("bad dataType", request(type="sendToGroup", group="g", dataType="xml", data="x", ackId=1)),
    ("event bad dataType", request(type="event", event="e", dataType="protobuf", data="x", ackId=1)),
    ("noEcho not a bool", request(type="sendToGroup", group="g", dataType="text", data="x", noEcho="true")),
    ("sequenceAck without id", request(type="sequenceAck")),
    ("sequenceAck id a string", request(type="sequenceAck", sequenceId="1")),
    ("invalid utf-8 binary frame", b"\xff\xfe"),
]


@pytest.mark.parametrize("frame", [f for _, f in NOT_A_MESSAGE], ids=[i for i, _ in NOT_A_MESSAGE])
def test_frames_that_are_not_protocol_messages_close_with_1007(webpubsub: FakeWebPubSub, frame: Any) -> None:
    client = webpubsub.connect(HUB, user_id="alice", roles=ALL, groups=["g"])
    client.send_frame(frame)
    assert client.frames == [connected(client), disconnected(INVALID_MESSAGE)]
    assert client.close_code == 1007
    assert client.close_reason == INVALID_MESSAGE
    assert (client.is_open, client.is_attached) == (False, False)
    assert exists(webpubsub, client) is False
    assert webpubsub._service.group_exists(HUB, "g") is False


INVALID_CONTENT = [
    ("text data a number", request(type="sendToGroup", group="g", dataType="text", data=5, ackId=1)),
    ("text data null", request(type="sendToGroup", group="g", dataType="text", data=None, ackId=1)),
    ("text data missing", request(type="sendToGroup", group="g", dataType="text", ackId=1)),
    ("text data an object", request(type="sendToGroup", group="g", dataType="text", data={"a": 1})),
    ("json data missing", request(type="sendToGroup", group="g", dataType="json", ackId=1)),
    ("binary data not base64", request(type="sendToGroup", group="g", dataType="binary", data="%%%", ackId=1)),
    ("binary data bad padding", request(type="sendToGroup", group="g", dataType="binary", data="aGVsbG8", ackId=1)),
    ("binary data a number", request(type="sendToGroup", group="g", dataType="binary", data=12, ackId=1)),
    ("event text data a number", request(type="event", event="e", dataType="text", data=5, ackId=1)),
    ("event binary data not base64", request(type="event", event="e", dataType="binary", data="!", ackId=1)),
    ("join empty group", request(type="joinGroup", group="", ackId=1)),
    ("join white space group", request(type="joinGroup", group="   ", ackId=1)),
    ("join group with line break", request(type="joinGroup", group="a\nb", ackId=1)),
    ("join group too long", request(type="joinGroup", group="g" * 1025, ackId=1)),
    ("leave empty group", request(type="leaveGroup", group="", ackId=1)),
    ("send empty group", request(type="sendToGroup", group="", dataType="text", data="x", ackId=1)),
]


@pytest.mark.parametrize("frame", [f for _, f in INVALID_CONTENT], ids=[i for i, _ in INVALID_CONTENT])
def test_requests_with_invalid_content_close_with_1007(webpubsub: FakeWebPubSub, frame: str) -> None:
    client = webpubsub.connect(HUB, user_id="alice", roles=ALL, groups=["g"])
    member = webpubsub.connect(HUB, groups=["g"])
    client.send_frame(frame)
    assert client.frames[0] == connected(client)
    assert len(client.frames) == 2, "no ack and no echo: only the disconnected frame"
    closing = parsed(client)[1]
    assert (closing["type"], closing["event"], type(closing["message"])) == ("system", "disconnected", str)
    assert client.close_code == 1007
    assert client.is_open is False
    assert exists(webpubsub, client) is False
    assert member.frames == [connected(member)]


@pytest.mark.parametrize(
    "frame",
    [
        request(type="sendToGroup", group="g", dataType="text", data=5, ackId=1),
        request(type="sendToGroup", group="g", dataType="binary", data="!", ackId=1),
        request(type="joinGroup", group="", ackId=1),
        request(type="event", event="e", dataType="text", data=[], ackId=1),
    ],
    ids=["text_data_a_number", "bad_base64", "empty_group", "event_text_data_a_list"],
)
def test_a_malformed_request_closes_even_with_an_already_used_ack_id(webpubsub: FakeWebPubSub, frame: str) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.join_group("g", ack_id=1)
    client.send_frame(frame)
    assert client.close_code == 1007
    assert len(client.frames) == 3 and '"Duplicate"' not in client.frames[2]
    assert json.loads(client.frames[2])["event"] == "disconnected"


# Where the sources are silent, these pin the fake's choice (service-behaviour §5.2; the emulator differs on each).
@pytest.mark.parametrize(
    ("frame", "closes"),
    [
        (request(type="JoinGroup", group="g", ackId=1), True),  # EMU: type names are case-insensitive
        (request(type="sendToGroup", group="g", dataType="Text", data="x", ackId=1), True),  # EMU: also dataType
        (request(type="sendToGroup", group="g", dataType="json", data=None, ackId=1), False),  # EMU: null closes
    ],
    ids=["type_case", "data_type_case", "json_null"],
)
def test_fake_choices_where_the_sources_are_silent(webpubsub: FakeWebPubSub, frame: str, closes: bool) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(frame)
    assert (client.close_code == 1007, client.is_open) == (closes, not closes)


def test_a_group_name_of_1024_characters_is_valid(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(request(type="joinGroup", group="g" * 1024, ackId=1))
    assert client.frames[1:] == [ack(1)]


def test_json_in_a_binary_frame_is_accepted(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(request(type="joinGroup", group="g", ackId=1).encode())
    assert client.frames[1:] == [ack(1)]
    assert client.groups == {"g"}


def test_unknown_fields_are_ignored(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=ALL)
    client.send_frame(request(type="joinGroup", group="g", ackId=1, extra={"x": 1}))
    assert client.frames[1:] == [ack(1)]


def test_a_closed_client_cannot_send(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB)
    client.send_frame("{")
    with pytest.raises(RuntimeError, match="not connected"):
        client.send_frame('{"type":"ping"}')
    assert len(client.frames) == 2


def test_the_other_connections_see_the_closed_one_leave_the_group(webpubsub: FakeWebPubSub) -> None:
    bad = webpubsub.connect(HUB, user_id="bad", groups=["g"])
    good = webpubsub.connect(HUB, groups=["g"])
    bad.send_frame("not json")
    webpubsub.service_client(HUB).send_to_group("g", "after", content_type="text/plain")
    assert good.frames == [connected(good), group_message("g", "text", "after")]
    assert bad.frames == [connected(bad), disconnected(INVALID_MESSAGE)]
    assert [c.connection_id for c in webpubsub._service.group_members(HUB, "g")] == [good.connection_id]


# ------------------------------------------------------------------------------------------------ closing


def test_rest_close_sends_disconnected_with_the_reason_then_closes_1000(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB)
    webpubsub.service_client(HUB).close_connection(client.connection_id, reason="bye")
    assert client.frames == [connected(client), dump({"type": "system", "event": "disconnected", "message": "bye"})]
    assert client.close_code == 1000
    assert client.is_open is False


def test_binary_payload_round_trip_is_exact(webpubsub: FakeWebPubSub) -> None:
    payload = bytes(range(256))
    sender = webpubsub.connect(HUB, roles=ALL)
    member = webpubsub.connect(HUB, groups=["g"])
    sender.send_to_group("g", payload, ack=False)
    encoded = base64.b64encode(payload).decode()
    assert member.frames[1:] == [group_message("g", "binary", encoded)]
    assert member.received[0].data == payload
