"""Simple WebSocket clients (service-behaviour §5.1, §1.4): raw frames only, sendEvent and sendToGroup modes."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub import ConnectionRefused
from pytest_webpubsub.clients import FakeClientConnection

from .support import HUB, connected, exists, group_message

NO_HANDLER = "No event handler is registered for the 'message' event."


def simple(fake: FakeWebPubSub, query: str = "", *, roles: list[str] = (), user_id: str | None = "bob",
           groups: list[str] = ()) -> FakeClientConnection:
    """A simple client connected with a client access URL from the SDK, plus ``query``."""
    url = fake.service_client(HUB).get_client_access_token(user_id=user_id, roles=list(roles), groups=list(groups))
    return fake.connect_url(url["url"] + query, protocol=None)


TO_G = "&webpubsub_mode=sendToGroup&group=g"


# ------------------------------------------------------------------------------------------------ no system frames


def test_a_simple_client_gets_no_connected_frame(webpubsub: FakeWebPubSub) -> None:
    client = simple(webpubsub)
    assert client.frames == []
    assert client.user_id == "bob"
    assert exists(webpubsub, client) is True


def test_a_simple_client_gets_no_disconnected_frame_when_closed_by_rest(webpubsub: FakeWebPubSub) -> None:
    client = simple(webpubsub, groups=["g"])
    webpubsub.service_client(HUB).send_to_group("g", "x", content_type="text/plain")
    webpubsub.service_client(HUB).close_connection(client.connection_id, reason="bye")
    assert client.frames == ["x"]
    assert (client.is_open, client.close_code, client.close_reason) == (False, 1000, "bye")


@pytest.mark.parametrize(
    ("send", "frame"),
    [
        (lambda sdk: sdk.send_to_group("g", "Hello World", content_type="text/plain"), "Hello World"),
        (lambda sdk: sdk.send_to_group("g", {"Hello": "World"}), '{"Hello": "World"}'),
        (lambda sdk: sdk.send_to_group("g", b"\x00\x01", content_type="application/octet-stream"), b"\x00\x01"),
    ],
    ids=["text", "json", "binary"],
)
def test_rest_sends_arrive_as_raw_frames(webpubsub: FakeWebPubSub, send: Any, frame: Any) -> None:
    client = simple(webpubsub, groups=["g"])
    send(webpubsub.service_client(HUB))
    assert client.frames == [frame]
    assert type(client.frames[0]) is type(frame)


# ------------------------------------------------------------------------------------------------ sendEvent mode


@pytest.mark.parametrize("query", ["", "&webpubsub_mode=sendEvent"], ids=["default", "explicit"])
@pytest.mark.parametrize("frame", ["hello", b"\x00bin"], ids=["text", "binary"])
def test_send_event_mode_without_a_handler_drops_the_connection_with_1011(
    webpubsub: FakeWebPubSub, query: str, frame: Any
) -> None:
    client = simple(webpubsub, query, roles=["webpubsub.sendToGroup"], groups=["g"])
    member = webpubsub.connect(HUB, groups=["g"])
    client.send_frame(frame)
    assert client.frames == []
    assert (client.close_code, client.close_reason) == (1011, NO_HANDLER)
    assert client.is_open is False
    assert exists(webpubsub, client) is False
    assert member.frames == [connected(member)]


def test_send_event_mode_via_connect_too(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, protocol=None)
    client.send_frame('{"type":"joinGroup","group":"g","ackId":1}')  # JSON means nothing to a simple client
    assert client.frames == []
    assert client.close_code == 1011


# ------------------------------------------------------------------------------------------------ sendToGroup mode


@pytest.mark.parametrize(
    "roles",
    [["webpubsub.sendToGroup"], ["webpubsub.sendToGroup.g"], ["webpubsub.sendToGroups.*"],
     ["webpubsub.sendToGroup.h", "webpubsub.sendToGroup.g"]],
)
def test_send_to_group_mode_publishes_text_and_binary_frames(webpubsub: FakeWebPubSub, roles: list[str]) -> None:
    publisher = simple(webpubsub, TO_G, roles=roles)
    json_member = webpubsub.connect(HUB, groups=["g"])
    simple_member = webpubsub.connect(HUB, groups=["g"], protocol=None)
    publisher.send_frame("hello")
    publisher.send_frame(b"\x00\x01")
    publisher.send_frame('{"a":1}')
    assert json_member.frames == [
        connected(json_member),
        group_message("g", "text", "hello", "bob"),
        group_message("g", "binary", "AAE=", "bob"),
        group_message("g", "text", '{"a":1}', "bob"),
    ]
    assert simple_member.frames == ["hello", b"\x00\x01", '{"a":1}']
    assert publisher.frames == []
    assert publisher.is_open is True


@pytest.mark.parametrize(
    "roles",
    [[], ["webpubsub.sendToGroup.h"], ["webpubsub.joinLeaveGroup"], ["webpubsub.sendToGroup.G"],
     ["webpubsub.sendToGroups.h*"]],
    ids=["none", "other_group", "join_leave_only", "other_case", "pattern_for_others"],
)
def test_send_to_group_mode_without_permission_closes_with_1008(webpubsub: FakeWebPubSub, roles: list[str]) -> None:
    publisher = simple(webpubsub, TO_G, roles=roles)
    member = webpubsub.connect(HUB, groups=["g"])
    publisher.send_frame("hello")
    assert publisher.frames == []
    assert (publisher.close_code, publisher.close_reason) == (
        1008, "The client does not have permission to send to group 'g'."
    )
    assert publisher.is_open is False
    assert exists(webpubsub, publisher) is False
    assert member.frames == [connected(member)]


def test_a_rest_grant_lets_a_simple_client_publish(webpubsub: FakeWebPubSub) -> None:
    publisher = simple(webpubsub, TO_G)
    member = webpubsub.connect(HUB, groups=["g"])
    webpubsub.service_client(HUB).grant_permission("sendToGroup", publisher.connection_id, target_name="g")
    publisher.send_frame("now allowed")
    assert member.frames[1:] == [group_message("g", "text", "now allowed", "bob")]


def test_a_rest_revoke_stops_a_simple_client_publishing(webpubsub: FakeWebPubSub) -> None:
    publisher = simple(webpubsub, TO_G, roles=["webpubsub.sendToGroup"])
    webpubsub.service_client(HUB).revoke_permission("sendToGroup", publisher.connection_id, target_name="g")
    publisher.send_frame("x")
    assert publisher.close_code == 1008


@pytest.mark.parametrize(("query", "echoed"), [("", ["me"]), ("&noEcho=true", [])], ids=["echo", "no_echo"])
def test_a_member_publisher_gets_its_own_frame_unless_no_echo(
    webpubsub: FakeWebPubSub, query: str, echoed: list[str]
) -> None:
    publisher = simple(webpubsub, TO_G + query, roles=["webpubsub.sendToGroup"], groups=["g"])
    other = webpubsub.connect(HUB, groups=["g"], protocol=None)
    publisher.send_frame("me")
    assert publisher.frames == echoed
    assert other.frames == ["me"]


def test_an_anonymous_simple_publisher_has_no_from_user_id(webpubsub: FakeWebPubSub) -> None:
    publisher = simple(webpubsub, TO_G, roles=["webpubsub.sendToGroup"], user_id=None)
    member = webpubsub.connect(HUB, groups=["g"])
    publisher.send_frame("x")
    assert member.frames[1:] == [group_message("g", "text", "x")]


@pytest.mark.parametrize(
    "query",
    ["&webpubsub_mode=sendToGroup", "&webpubsub_mode=sendToGroup&group=", "&webpubsub_mode=broadcast"],
    ids=["no_group", "empty_group", "unknown_mode"],
)
def test_invalid_modes_are_refused(webpubsub: FakeWebPubSub, query: str) -> None:
    with pytest.raises(ConnectionRefused) as refused:
        simple(webpubsub, query, roles=["webpubsub.sendToGroup"])
    assert refused.value.status == 400
    assert webpubsub.connections == []


def test_simple_clients_never_get_ack_frames(webpubsub: FakeWebPubSub) -> None:
    publisher = simple(webpubsub, TO_G, roles=["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"])
    publisher.send_frame('{"type":"joinGroup","group":"h","ackId":1}')  # published as text, not executed
    assert publisher.frames == []
    assert publisher.groups == set()
    assert publisher.is_open is True
