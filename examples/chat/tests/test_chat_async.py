"""The async variants, on the SDK's aio client: plain ``async def`` tests (asyncio_mode = auto).

No marker here: pyproject.toml's ini option exports the connection string, and the app falls back to its
default hub, "chat".
"""

from __future__ import annotations

from chat_app.aio import post_to_room_async, who_is_in_async
from pytest_webpubsub import FakeWebPubSub, ReceivedMessage


async def test_post_to_room_async_reaches_the_room(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice", groups=["lobby"])
    bob = webpubsub.connect("chat", user_id="bob", groups=["random"])

    await post_to_room_async("lobby", author="carol", text="hi from asyncio")

    assert alice.received == [
        ReceivedMessage({"author": "carol", "text": "hi from asyncio"}, "json", "lobby", from_user_id=None)
    ]
    assert bob.received == []
    [call] = webpubsub.rest_calls
    assert (call.operation, call.request.parts.path, call.status_code) == (
        "send_to_group",
        "/api/hubs/chat/groups/lobby/:send",
        202,
    )


async def test_who_is_in_async_lists_signed_in_users(webpubsub: FakeWebPubSub) -> None:
    for user in ("dave", "alice", "carol"):
        webpubsub.connect("chat", user_id=user, groups=["lobby"])
    webpubsub.connect("chat", groups=["lobby"])  # anonymous

    assert await who_is_in_async("lobby") == ["alice", "carol", "dave"]
