"""Closing connections, existence checks and listing group members through the real SDK.

Behaviour: service-behaviour §1.3 and §1.5.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from pytest_webpubsub import FakeClientConnection, FakeWebPubSub

from .support import HUB, Sdk, data_frames

DISCONNECTED = {"type": "system", "event": "disconnected", "message": "maintenance"}


def _open_cast(webpubsub: FakeWebPubSub) -> dict[str, FakeClientConnection]:
    return {
        "alice_room": webpubsub.connect(HUB, user_id="alice", groups=["room"]),
        "alice_room_simple": webpubsub.connect(HUB, user_id="alice", groups=["room"], protocol=None),
        "alice_lobby": webpubsub.connect(HUB, user_id="alice", groups=["lobby"]),
        "bob_room": webpubsub.connect(HUB, user_id="bob", groups=["room"]),
        "bob_lobby": webpubsub.connect(HUB, user_id="bob", groups=["lobby"]),
    }


CLOSES = [
    pytest.param(
        "close_all_connections", None, "bob_lobby",
        {"alice_room", "alice_room_simple", "alice_lobby", "bob_room"}, id="all",
    ),
    pytest.param("close_group_connections", "room", "bob_room", {"alice_room", "alice_room_simple"}, id="group"),
    pytest.param("close_user_connections", "alice", "alice_lobby", {"alice_room", "alice_room_simple"}, id="user"),
    pytest.param("close_connection", "alice_room", None, {"alice_room"}, id="connection"),
]


@pytest.mark.parametrize(("operation", "target", "excluded", "closed"), CLOSES)
async def test_close_operations_close_exactly_their_targets(
    sdk: Sdk, webpubsub: FakeWebPubSub, operation: str, target: str | None, excluded: str | None, closed: set[str]
) -> None:
    cast = _open_cast(webpubsub)
    kwargs: dict[str, object] = {"reason": "maintenance"}
    if excluded is not None:
        kwargs["excluded"] = [cast[excluded].connection_id, "fake-connection-id"]
    args = [] if target is None else [cast[target].connection_id if target in cast else target]

    assert await getattr(sdk, operation)(*args, **kwargs) is None

    call = webpubsub.rest_calls[-1]
    assert (call.operation, call.status_code) == (operation, 204)
    assert parse_qs(call.request.parts.query)["reason"] == ["maintenance"]
    assert {name for name, connection in cast.items() if not connection.is_open} == closed
    for name, connection in cast.items():
        if name not in closed:
            assert connection.frames[1:] == []
        elif connection.protocol is None:
            assert connection.frames == []
        else:
            assert data_frames(connection) == [DISCONNECTED]
    assert sorted(
        (event.connection_id, event.reason) for event in webpubsub.lifecycle if event.kind == "close"
    ) == sorted((cast[name].connection_id, "maintenance") for name in closed)
    for name, connection in cast.items():
        assert await sdk.connection_exists(connection.connection_id) is (name not in closed)


async def test_closing_unknown_targets_is_accepted_and_closes_nothing(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    cast = _open_cast(webpubsub)

    assert await sdk.close_connection("fake-connection-id", reason="x") is None
    assert await sdk.close_group_connections("empty-group") is None
    assert await sdk.close_user_connections("nobody") is None
    assert await sdk.close_all_connections(excluded=[c.connection_id for c in cast.values()]) is None

    assert [call.status_code for call in webpubsub.rest_calls] == [204] * 4
    assert not any("Content-Length" in call.response.headers for call in webpubsub.rest_calls)
    assert all(connection.is_open for connection in cast.values())


async def test_existence_checks_follow_the_live_connections(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["room"])

    assert await sdk.connection_exists(alice.connection_id) is True
    assert await sdk.user_exists("alice") is True
    assert await sdk.group_exists("room") is True
    assert await sdk.connection_exists("fake-connection-id") is False
    assert await sdk.user_exists("nobody") is False
    assert await sdk.group_exists("empty-group") is False

    alice.close()

    assert await sdk.connection_exists(alice.connection_id) is False
    assert await sdk.user_exists("alice") is False
    assert await sdk.group_exists("room") is False
    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("connection_exists", 200),
        ("user_exists", 200),
        ("group_exists", 200),
        ("connection_exists", 404),
        ("user_exists", 404),
        ("group_exists", 404),
        ("connection_exists", 404),
        ("user_exists", 404),
        ("group_exists", 404),
    ]


async def test_list_connections_names_members_with_null_user_for_anonymous(
    sdk: Sdk, webpubsub: FakeWebPubSub
) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["room"])
    anonymous = webpubsub.connect(HUB, groups=["room"])
    webpubsub.connect(HUB, user_id="bob", groups=["lobby"])

    members = await sdk.list_connections(group="room")

    assert members == sorted([(alice.connection_id, "alice"), (anonymous.connection_id, None)])
    assert webpubsub.rest_calls[-1].response.body.count(b'"userId":null') == 1


async def test_list_connections_of_an_unknown_group_is_empty(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    webpubsub.connect(HUB, user_id="alice", groups=["room"])

    assert await sdk.list_connections(group="nobody-here") == []
    call = webpubsub.rest_calls[-1]
    assert (call.operation, call.status_code, call.response.body) == ("list_connections", 200, b'{"value":[]}')


@pytest.mark.parametrize(
    ("kwargs", "page_sizes"),
    [
        pytest.param({}, [6], id="all-in-one-page"),
        pytest.param({"top": 3}, [3], id="top-caps-the-total"),
        pytest.param({"maxpagesize": 4}, [4, 2], id="pages"),
        pytest.param({"maxpagesize": 2, "top": 5}, [2, 2, 1], id="pages-and-top"),
    ],
)
async def test_list_connections_pages_and_top(
    sdk: Sdk, webpubsub: FakeWebPubSub, kwargs: dict[str, int], page_sizes: list[int]
) -> None:
    members = {webpubsub.connect(HUB, groups=["room"]).connection_id for _ in range(6)}

    assert await sdk.page_sizes(group="room", **kwargs) == page_sizes
    listed = await sdk.list_connections(group="room", **kwargs)

    assert len(listed) == sum(page_sizes)
    assert {connection_id for connection_id, _ in listed} <= members
    assert len({connection_id for connection_id, _ in listed}) == len(listed)
    list_calls = [call for call in webpubsub.rest_calls if call.operation == "list_connections"]
    assert [call.status_code for call in list_calls] == [200] * (2 * len(page_sizes))
