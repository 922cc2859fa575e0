"""send_to_all / send_to_user / send_to_group / send_to_connection through the real SDK.

Behaviour: service-behaviour §1.3–1.4 and §7.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import pytest

from pytest_webpubsub import FakeClientConnection, FakeWebPubSub

from .support import HUB, Sdk, data_frames


@dataclass(frozen=True)
class Content:
    """A message and the SDK keywords it is sent with; the ``Content-Type`` the SDK must put on the wire
    (``wire_type``); the data type and value a JSON-protocol client must receive."""

    message: Any
    kwargs: dict[str, str]
    wire_type: str
    data_type: str
    value: Any

    @property
    def json_data(self) -> Any:
        return base64.b64encode(self.value).decode() if self.data_type == "binary" else self.value


CONTENTS = [
    pytest.param(Content({"greeting": "hi"}, {}, "application/json", "json", {"greeting": "hi"}), id="dict"),
    pytest.param(Content("hi", {}, "application/json", "json", "hi"), id="str-default-json"),
    pytest.param(Content("hi", {"content_type": "text/plain"}, "text/plain", "text", "hi"), id="text"),
    # The SDK hands a dict with text/plain to the transport as is; on the wire it is form-encoded (recordings).
    pytest.param(
        Content({"hello": "world!"}, {"content_type": "text/plain"}, "text/plain", "text", "hello=world%21"),
        id="dict-as-text",
    ),
    pytest.param(
        Content(
            b"\x00\xffbin", {"content_type": "application/octet-stream"}, "application/octet-stream", "binary",
            b"\x00\xffbin",
        ),
        id="binary",
    ),
]


@dataclass(frozen=True)
class Target:
    """One send method aimed at alice's two connections (the JSON one and the simple one)."""

    operation: str
    send: Callable[..., Awaitable[list[Any]]]
    reaches_bob: bool = False
    group: str | None = None


async def _to_all(sdk: Sdk, alice: list[FakeClientConnection], message: Any, **kwargs: Any) -> list[Any]:
    return [await sdk.send_to_all(message, **kwargs)]


async def _to_user(sdk: Sdk, alice: list[FakeClientConnection], message: Any, **kwargs: Any) -> list[Any]:
    return [await sdk.send_to_user("alice", message, **kwargs)]


async def _to_group(sdk: Sdk, alice: list[FakeClientConnection], message: Any, **kwargs: Any) -> list[Any]:
    return [await sdk.send_to_group("room", message, **kwargs)]


async def _to_connections(sdk: Sdk, alice: list[FakeClientConnection], message: Any, **kwargs: Any) -> list[Any]:
    return [await sdk.send_to_connection(connection.connection_id, message, **kwargs) for connection in alice]


TARGETS = [
    pytest.param(Target("send_to_all", _to_all, reaches_bob=True), id="all"),
    pytest.param(Target("send_to_user", _to_user), id="user"),
    pytest.param(Target("send_to_group", _to_group, group="room"), id="group"),
    pytest.param(Target("send_to_connection", _to_connections), id="connection"),
]


@pytest.mark.parametrize("content", CONTENTS)
@pytest.mark.parametrize("target", TARGETS)
async def test_send_delivers_each_content_type_to_its_target(
    sdk: Sdk, webpubsub: FakeWebPubSub, target: Target, content: Content
) -> None:
    alice_json = webpubsub.connect(HUB, user_id="alice", groups=["room"])
    alice_simple = webpubsub.connect(HUB, user_id="alice", groups=["room"], protocol=None)
    bob = webpubsub.connect(HUB, user_id="bob")

    results = await target.send(sdk, [alice_json, alice_simple], content.message, **content.kwargs)

    assert set(results) == {None}
    calls = webpubsub.rest_calls
    assert [(call.operation, call.status_code) for call in calls] == [(target.operation, 202)] * len(results)
    assert {call.request.header("Content-Type") for call in calls} == {content.wire_type}

    frame: dict[str, Any] = {"type": "message", "from": "server" if target.group is None else "group"}
    if target.group is not None:
        frame["group"] = target.group
    frame.update(dataType=content.data_type, data=content.json_data)
    assert data_frames(alice_json) == [frame]
    assert [(m.data, m.data_type, m.group) for m in alice_json.received] == [
        (content.value, content.data_type, target.group)
    ]

    body = calls[-1].request.body
    assert alice_simple.frames == [body if content.data_type == "binary" else body.decode()]
    if content.data_type == "json":
        assert json.loads(alice_simple.frames[0]) == content.value

    assert len(bob.received) == (1 if target.reaches_bob else 0)
    assert len(webpubsub.deliveries) == 2 + len(bob.received)


@pytest.mark.parametrize("operation", ["send_to_all", "send_to_group"])
async def test_excluded_connections_are_skipped(sdk: Sdk, webpubsub: FakeWebPubSub, operation: str) -> None:
    skipped = webpubsub.connect(HUB, user_id="alice", groups=["room"])
    kept = webpubsub.connect(HUB, user_id="bob", groups=["room"])
    excluded = [skipped.connection_id, "fake-connection-id"]

    if operation == "send_to_all":
        assert await sdk.send_to_all({"n": 1}, excluded=excluded) is None
    else:
        assert await sdk.send_to_group("room", {"n": 1}, excluded=excluded) is None

    assert skipped.received == []
    assert [m.data for m in kept.received] == [{"n": 1}]
    call = webpubsub.rest_calls[-1]
    assert (call.operation, call.status_code) == (operation, 202)
    assert parse_qs(call.request.parts.query)["excluded"] == excluded


FILTERS = [
    pytest.param("all", "userId eq 'alice'", {"alice_room", "alice_lobby"}, id="all-by-user"),
    pytest.param("all", "'room' in groups", {"alice_room", "bob_room"}, id="all-by-group"),
    pytest.param("all", "userId eq null", {"anonymous"}, id="all-anonymous"),
    pytest.param("user", "'room' in groups", {"alice_room"}, id="user-in-group"),
    pytest.param("group", "userId ne 'alice'", {"bob_room"}, id="group-not-alice"),
]


@pytest.mark.parametrize(("target", "odata", "expected"), FILTERS)
async def test_odata_filter_narrows_the_recipients(
    sdk: Sdk, webpubsub: FakeWebPubSub, target: str, odata: str, expected: set[str]
) -> None:
    connections = {
        "alice_room": webpubsub.connect(HUB, user_id="alice", groups=["room"]),
        "alice_lobby": webpubsub.connect(HUB, user_id="alice", groups=["lobby"]),
        "bob_room": webpubsub.connect(HUB, user_id="bob", groups=["room"]),
        "anonymous": webpubsub.connect(HUB, groups=["lobby"]),
    }

    if target == "all":
        await sdk.send_to_all("ping", filter=odata, content_type="text/plain")
    elif target == "user":
        await sdk.send_to_user("alice", "ping", filter=odata, content_type="text/plain")
    else:
        await sdk.send_to_group("room", "ping", filter=odata, content_type="text/plain")

    assert {name for name, connection in connections.items() if connection.received} == expected
    assert all(len(connections[name].received) == 1 for name in expected)
    assert webpubsub.rest_calls[-1].status_code == 202
    assert parse_qs(webpubsub.rest_calls[-1].request.parts.query)["filter"] == [odata]


async def test_sends_to_unknown_targets_are_accepted_and_deliver_nothing(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    bystander = webpubsub.connect(HUB, user_id="alice", groups=["room"])

    assert await sdk.send_to_user("nobody", {"n": 1}) is None
    assert await sdk.send_to_group("empty-group", {"n": 1}) is None
    assert await sdk.send_to_connection("fake-connection-id", {"n": 1}) is None

    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("send_to_user", 202),
        ("send_to_group", 202),
        ("send_to_connection", 202),
    ]
    assert webpubsub.deliveries == ()
    assert bystander.received == []


async def test_file_like_binary_message(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")

    await sdk.send_to_all(io.BytesIO(b"\x01\x02"), content_type="application/octet-stream")

    assert [(m.data, m.data_type) for m in alice.received] == [(b"\x01\x02", "binary")]
    assert data_frames(alice)[0]["data"] == "AQI="


async def test_send_to_all_reaches_only_its_own_hub(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    here = webpubsub.connect(HUB.upper(), user_id="alice")
    elsewhere = webpubsub.connect("other", user_id="alice")

    await sdk.send_to_all("hi", content_type="text/plain")

    assert [m.data for m in here.received] == ["hi"]
    assert elsewhere.received == []
