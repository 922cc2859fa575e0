"""Group membership of connections and users through the real SDK (service-behaviour §1.3 rows 13–18, §10.15)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pytest_webpubsub import FakeWebPubSub

from .support import HUB, Sdk


async def test_add_and_remove_a_connection(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    bob = webpubsub.connect(HUB, user_id="bob")

    assert await sdk.add_connection_to_group("room", alice.connection_id) is None
    assert alice.groups == {"room"}
    assert bob.groups == frozenset()
    assert await sdk.group_exists("room") is True
    await sdk.send_to_group("room", "in", content_type="text/plain")

    assert await sdk.remove_connection_from_group("room", alice.connection_id) is None
    assert alice.groups == frozenset()
    assert await sdk.group_exists("room") is False
    await sdk.send_to_group("room", "out", content_type="text/plain")

    assert [m.data for m in alice.received] == ["in"]
    assert bob.received == []
    statuses = {call.operation: call.status_code for call in webpubsub.rest_calls}
    assert statuses["add_connection_to_group"] == 200
    assert statuses["remove_connection_from_group"] == 204


async def test_remove_connection_from_all_groups(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["a", "b"])
    bob = webpubsub.connect(HUB, user_id="bob", groups=["a"])

    assert await sdk.remove_connection_from_all_groups(alice.connection_id) is None

    assert alice.groups == frozenset()
    assert bob.groups == {"a"}
    assert await sdk.group_exists("b") is False
    assert webpubsub.rest_calls[0].status_code == 204


async def test_add_user_to_group_adds_every_current_connection_of_that_user(
    sdk: Sdk, webpubsub: FakeWebPubSub
) -> None:
    alice_phone = webpubsub.connect(HUB, user_id="alice")
    alice_laptop = webpubsub.connect(HUB, user_id="alice", protocol=None)
    bob = webpubsub.connect(HUB, user_id="bob")

    assert await sdk.add_user_to_group("room", "alice") is None

    assert alice_phone.groups == alice_laptop.groups == {"room"}
    assert bob.groups == frozenset()
    assert sorted(await sdk.list_connections(group="room")) == sorted(
        [(alice_phone.connection_id, "alice"), (alice_laptop.connection_id, "alice")]
    )
    assert webpubsub.rest_calls[0].status_code == 200


async def test_add_user_to_group_without_connections_is_not_found(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    webpubsub.connect(HUB, user_id="alice")

    with pytest.raises(ResourceNotFoundError) as raised:
        await sdk.add_user_to_group("room", "fake-user")

    assert raised.value.status_code == 404
    assert raised.value.response.headers["x-ms-error-code"] == "Warning.User.NotExisted"
    assert raised.value.response.headers["Content-Length"] == "121"
    assert raised.value.response.json() == {
        "code": "Warning.User.NotExisted",
        "message": "User `fake-user` is not found.",
        "target": "User",
        "details": None,
        "inner": None,
    }
    assert await sdk.group_exists("room") is False


async def test_remove_user_from_group_and_from_all_groups(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice_one = webpubsub.connect(HUB, user_id="alice", groups=["a", "b"])
    alice_two = webpubsub.connect(HUB, user_id="alice", groups=["a", "c"])
    bob = webpubsub.connect(HUB, user_id="bob", groups=["a", "b"])

    assert await sdk.remove_user_from_group("a", "alice") is None
    assert (alice_one.groups, alice_two.groups, bob.groups) == ({"b"}, {"c"}, {"a", "b"})

    assert await sdk.remove_user_from_all_groups("alice") is None
    assert (alice_one.groups, alice_two.groups, bob.groups) == (frozenset(), frozenset(), {"a", "b"})
    assert await sdk.group_exists("c") is False
    assert [call.status_code for call in webpubsub.rest_calls[:2]] == [204, 204]


async def test_removing_unknown_members_is_accepted(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    member = webpubsub.connect(HUB, user_id="alice", groups=["room"])
    outsider = webpubsub.connect(HUB, user_id="bob")

    assert await sdk.remove_connection_from_group("room", "fake-connection-id") is None
    assert await sdk.remove_connection_from_group("room", outsider.connection_id) is None
    assert await sdk.remove_connection_from_all_groups("fake-connection-id") is None
    assert await sdk.remove_user_from_group("room", "nobody") is None
    assert await sdk.remove_user_from_all_groups("nobody") is None

    assert [call.status_code for call in webpubsub.rest_calls] == [204] * 5
    assert member.groups == {"room"}


async def test_reserved_characters_in_names_round_trip(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    user, group = "user 1/ü?#", "room #1/ä&x=y"
    alice = webpubsub.connect(HUB, user_id=user)

    await sdk.add_user_to_group(group, user)
    await sdk.send_to_group(group, "g", content_type="text/plain")
    await sdk.send_to_user(user, "u", content_type="text/plain")
    await sdk.grant_permission("sendToGroup", alice.connection_id, target_name=group)

    assert alice.groups == {group}
    assert [(m.data, m.group) for m in alice.received] == [("g", group), ("u", None)]
    assert await sdk.user_exists(user) is True
    assert await sdk.group_exists(group) is True
    assert await sdk.list_connections(group=group) == [(alice.connection_id, user)]
    assert await sdk.has_permission("sendToGroup", alice.connection_id, target_name=group) is True
    assert "/users/user%201%2F%C3%BC%3F%23/" in webpubsub.rest_calls[0].request.url
