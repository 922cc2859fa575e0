"""The chat app's features, each checked on what Web PubSub clients would really receive.

Every test gets a fresh fake service (the ``webpubsub`` fixture) and the app built from the environment
(the ``chat`` fixture in conftest.py). Clients are simulated: ``webpubsub.connect(...)`` opens one directly,
``webpubsub.connect_url(url)`` opens one the way a browser would, with the URL the app issued.
"""

from __future__ import annotations

import json

import pytest

from chat_app import ChatService
from pytest_webpubsub import FakeWebPubSub, ReceivedMessage

# The marker form of the configuration: export the fake's connection string and hub name to the variables
# the app reads. (pyproject.toml sets the connection string variable project-wide with an ini option too.)
pytestmark = pytest.mark.webpubsub(
    connection_string_env="WEBPUBSUB_CONNECTION_STRING", hub_env="WEBPUBSUB_HUB", hub="chat"
)


def frames(connection) -> list[dict]:
    """The JSON frames a PubSub WebSocket client got, parsed."""
    return [json.loads(frame) for frame in connection.frames]


# -- connecting ------------------------------------------------------------------------------------------


def test_issued_url_connects_the_user_to_their_rooms(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    url = chat.issue_client_url("alice", rooms=["lobby", "random"])

    alice = webpubsub.connect_url(url)

    assert url.startswith("wss://fake.webpubsub.azure.com/client/hubs/chat?access_token=")
    assert (alice.hub, alice.user_id, alice.groups) == ("chat", "alice", {"lobby", "random"})
    assert frames(alice) == [
        {"type": "system", "event": "connected", "userId": "alice", "connectionId": alice.connection_id}
    ]


def test_issued_url_lets_the_user_post_only_to_their_rooms(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect_url(chat.issue_client_url("alice", rooms=["lobby"]))

    assert chat.can_post(alice.connection_id, "lobby") is True
    assert chat.can_post(alice.connection_id, "staff") is False


# -- sending ---------------------------------------------------------------------------------------------


def test_post_to_room_reaches_everyone_in_the_room(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    bob = webpubsub.connect("chat", user_id="bob", groups=["lobby"])
    carol = webpubsub.connect("chat", user_id="carol", groups=["random"])

    chat.post_to_room("lobby", author="alice", text="hello")

    message = {"author": "alice", "text": "hello"}
    # What the client library hands the browser code: parsed JSON, tagged with its room.
    assert alice.received == bob.received == [ReceivedMessage(message, "json", "lobby", from_user_id=None)]
    # The exact frame on the wire (the fake writes compact JSON, as the service does).
    assert bob.frames[-1] == (
        '{"type":"message","from":"group","group":"lobby","dataType":"json",'
        '"data":{"author":"alice","text":"hello"}}'
    )
    webpubsub.assert_delivered(group="lobby", data=message, times=2)
    webpubsub.assert_not_delivered(to=carol)


def test_broadcast_except_skips_the_excluded_connections(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    bob = webpubsub.connect("chat", user_id="bob", groups=["lobby"])

    chat.broadcast_except("lobby", "alice is typing…", excluded_connection_ids=[alice.connection_id])

    webpubsub.assert_delivered(to=bob, data="alice is typing…", data_type="text", group="lobby")
    webpubsub.assert_not_delivered(to=alice)
    assert frames(bob)[-1] == {
        "type": "message", "from": "group", "group": "lobby", "dataType": "text", "data": "alice is typing…"
    }


def test_announce_reaches_every_connection_of_the_hub(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    guest = webpubsub.connect("chat")  # anonymous, in no room
    plain = webpubsub.connect("chat", user_id="dave", protocol=None)  # a simple WebSocket client
    elsewhere = webpubsub.connect("support", user_id="erin")  # another hub of the same resource

    chat.announce("maintenance at 18:00")

    for client in (alice, guest):
        assert client.received == [ReceivedMessage("maintenance at 18:00", "text", group=None, from_user_id=None)]
        assert frames(client)[-1] == {
            "type": "message", "from": "server", "dataType": "text", "data": "maintenance at 18:00"
        }
    # A simple WebSocket client gets the bare text frame, no JSON envelope.
    assert plain.frames == ["maintenance at 18:00"]
    assert elsewhere.received == []
    webpubsub.assert_delivered(data="maintenance at 18:00", times=3)


def test_notify_admins_reaches_only_admin_users(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    admin_ann = webpubsub.connect("chat", user_id="admin-ann")
    admin_bo = webpubsub.connect("chat", user_id="admin-bo", groups=["lobby"])
    alice = webpubsub.connect("chat", user_id="alice")
    guest = webpubsub.connect("chat")
    sneaky = webpubsub.connect("chat", user_id="not-admin-carl")

    chat.notify_admins("disk almost full")

    for admin in (admin_ann, admin_bo):
        webpubsub.assert_delivered(to=admin, data="disk almost full", data_type="text", times=1)
    for other in (alice, guest, sneaky):
        webpubsub.assert_not_delivered(to=other)
    # The service, not the app, did the filtering: one REST call carried the OData filter.
    [call] = webpubsub.rest_calls
    assert (call.operation, call.status_code) == ("send_to_all", 202)
    assert ("filter", "startswith(userId, 'admin-')") in call.request.query()


def test_direct_message_reaches_every_device_of_the_user(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    bob_phone = webpubsub.connect("chat", user_id="bob")
    bob_laptop = webpubsub.connect("chat", user_id="bob", groups=["lobby"])
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])

    chat.direct_message("bob", from_user="alice", text="lunch?")

    webpubsub.assert_delivered(user="bob", data={"from": "alice", "text": "lunch?"}, data_type="json", times=2)
    assert bob_phone.received[0].group is None  # a server message, not a room message
    assert bob_laptop.received == bob_phone.received
    webpubsub.assert_not_delivered(to=alice)


def test_direct_message_to_an_offline_user_is_accepted_and_dropped(
    webpubsub: FakeWebPubSub, chat: ChatService
) -> None:
    chat.direct_message("nobody", from_user="alice", text="hello?")

    assert webpubsub.deliveries == ()
    assert [call.status_code for call in webpubsub.rest_calls] == [202]


# -- moderation ------------------------------------------------------------------------------------------


def test_kick_disconnects_the_user_with_the_reason(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    troll = webpubsub.connect("chat", user_id="troll", groups=["lobby"])
    troll_plain = webpubsub.connect("chat", user_id="troll", protocol=None)
    bob = webpubsub.connect("chat", user_id="bob", groups=["lobby"])

    chat.kick("troll", reason="spamming")

    assert not troll.is_open and not troll_plain.is_open
    assert troll.frames[-1] == '{"type":"system","event":"disconnected","message":"spamming"}'
    assert troll.close_reason == "spamming"
    assert troll.groups == frozenset()
    assert bob.is_open
    assert webpubsub.connections == [bob]

    chat.post_to_room("lobby", author="bob", text="peace at last")
    webpubsub.assert_not_delivered(user="troll")


def test_mute_revokes_posting_to_the_room_but_not_reading(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect_url(chat.issue_client_url("alice", rooms=["lobby", "random"]))

    chat.mute(alice.connection_id, "lobby")

    assert chat.can_post(alice.connection_id, "lobby") is False
    assert chat.can_post(alice.connection_id, "random") is True
    revoke = next(call for call in webpubsub.rest_calls if call.operation == "revoke_permission")
    assert revoke.request.method == "DELETE"
    assert revoke.request.parts.path == f"/api/hubs/chat/permissions/sendToGroup/connections/{alice.connection_id}"
    assert ("targetName", "lobby") in revoke.request.query()

    chat.post_to_room("lobby", author="bob", text="can you hear me?")
    webpubsub.assert_delivered(to=alice, data={"author": "bob", "text": "can you hear me?"})


def test_move_user_moves_all_connections_between_rooms(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    phone = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    laptop = webpubsub.connect("chat", user_id="alice", groups=["lobby", "random"])

    assert chat.move_user("alice", from_room="lobby", to_room="help") is True

    assert phone.groups == {"help"}
    assert laptop.groups == {"random", "help"}
    chat.post_to_room("lobby", author="bob", text="where did alice go?")
    chat.post_to_room("help", author="helper", text="hi alice")
    webpubsub.assert_not_delivered(group="lobby")
    webpubsub.assert_delivered(user="alice", group="help", times=2)


def test_move_user_reports_an_offline_user(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    assert chat.move_user("ghost", from_room="lobby", to_room="help") is False

    # Removing an absent user is a no-op for the service; adding one is a 404, which the app turns into False.
    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("remove_user_from_group", 204),
        ("add_user_to_group", 404),
    ]


# -- presence --------------------------------------------------------------------------------------------


def test_who_is_in_lists_signed_in_users_once(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    webpubsub.connect("chat", user_id="carol", groups=["lobby"])
    webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    webpubsub.connect("chat", user_id="alice", groups=["lobby"])  # a second tab
    webpubsub.connect("chat", groups=["lobby"])  # anonymous
    webpubsub.connect("chat", user_id="bob", groups=["random"])

    assert chat.who_is_in("lobby") == ["alice", "carol"]
    assert chat.who_is_in("empty-room") == []


def test_who_is_in_forgets_users_who_left(webpubsub: FakeWebPubSub, chat: ChatService) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    webpubsub.connect("chat", user_id="bob", groups=["lobby"])

    alice.close()

    assert chat.who_is_in("lobby") == ["bob"]
