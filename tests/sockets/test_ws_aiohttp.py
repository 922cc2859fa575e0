"""aiohttp's ``ClientSession.ws_connect`` against the fake: awaited or ``async with``, aiohttp's message types."""

from __future__ import annotations

import inspect

import asyncio
import json
import threading
from typing import Any, Callable

import aiohttp
import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._ws_aiohttp import SEAM, FakeClientWebSocket

from .drivers import JSON, PUBLISHER, TIMEOUT

URL = Callable[..., str]
ORIGINAL = aiohttp.ClientSession._ws_connect


async def test_ws_connect_as_a_context_manager_with_json_helpers(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(client_url(user_id="ann", roles=PUBLISHER), protocols=[JSON]) as ws,
    ):
        assert isinstance(ws, FakeClientWebSocket) and ws.protocol == JSON
        connection_id = (await ws.receive_json())["connectionId"]
        await ws.send_json({"type": "joinGroup", "group": "room", "ackId": 1})
        assert await ws.receive_json() == {"type": "ack", "ackId": 1, "success": True}
        await ws.send_str(json.dumps({"type": "sendToGroup", "group": "room", "dataType": "text", "data": "hi"}))
        echoed = await ws.receive_json(timeout=TIMEOUT)

    assert echoed["data"] == "hi" and ws.closed and ws.close_code == 1000
    webpubsub.assert_delivered(to=connection_id, group="room", data="hi")


async def test_awaited_ws_connect_and_async_iteration_until_a_rest_close(
    client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(client_url(user_id="ann"))
        service = webpubsub.service_client("chat")
        sender = threading.Thread(
            target=lambda: (
                [service.send_to_user("ann", f"m{i}", content_type="text/plain") for i in range(5)],
                service.close_user_connections("ann", reason="done"),
            )
        )
        sender.start()  # the loop waits in receive() while another thread sends
        received = [message.data async for message in ws]
        sender.join()

    assert received == [f"m{i}" for i in range(5)]
    assert ws.close_code == 1000


@pytest.mark.skipif(
    "decode_text" not in inspect.signature(aiohttp.ClientSession.ws_connect).parameters,
    reason="aiohttp's ws_connect(decode_text=) is new in aiohttp 3.14",
)
async def test_binary_frames_and_decode_text_false(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(client_url(user_id="ann"), decode_text=False)
        webpubsub.service_client("chat").send_to_all("text", content_type="text/plain")
        webpubsub.service_client("chat").send_to_all(b"\x01", content_type="application/octet-stream")

        text = await ws.receive()
        binary = await ws.receive_bytes()
        await ws.close()

    assert (text.type, text.data) == (aiohttp.WSMsgType.TEXT, b"text")
    assert binary == b"\x01"


async def test_params_join_the_query_and_session_headers_carry_the_token(
    client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    listener = webpubsub.connect("chat", groups=["room"])
    token = webpubsub.service_client("chat").get_client_access_token(user_id="ann", roles=["webpubsub.sendToGroup"])
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token['token']}"}) as session:
        ws = await session.ws_connect(token["baseUrl"], params={"webpubsub_mode": "sendToGroup", "group": "room"})
        await ws.send_bytes(b"\x02")
        await ws.close()

    assert [message.data for message in listener.received] == [b"\x02"]


async def test_receive_timeout_raises(client_url: URL) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(client_url(user_id="ann"), receive_timeout=0.01)
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        await ws.close()


async def test_refused_token_is_a_handshake_error_401(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(client_url(user_id="ann").replace("access_token=", "access_token=x"))

    assert refused.value.status == 401
    assert webpubsub.lifecycle == ()


async def test_a_closed_session_refuses_to_connect(client_url: URL) -> None:
    session = aiohttp.ClientSession()
    await session.close()

    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.ws_connect(client_url(user_id="ann"))


async def test_writing_after_the_service_closed_raises_a_connection_error(
    client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(client_url(user_id="ann"), protocols=[JSON])
        connection_id = (await ws.receive_json())["connectionId"]
        webpubsub.service_client("chat").close_connection(connection_id)
        assert (await ws.receive_json())["event"] == "disconnected"
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE

        with pytest.raises(ConnectionError):
            await ws.send_str("late")


async def test_text_that_is_not_utf8_encodable_fails_in_the_client(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(client_url(user_id="ann"), protocols=[JSON])
        await ws.receive_json()

        with pytest.raises(UnicodeEncodeError):
            await ws.send_str('{"type":"ping","x":"\ud800"}')
        await ws.send_json({"type": "ping"})  # the connection is still open

        assert await ws.receive_json() == {"type": "pong"}
        await ws.close()


async def test_other_hosts_use_the_original_method(webpubsub: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    class Reached(Exception):
        pass

    async def original(session: Any, url: Any, **options: Any) -> Any:
        raise Reached(str(url))

    monkeypatch.setattr(SEAM, "_original", original)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(Reached, match="ws://example.test/x"):
            await session.ws_connect("ws://example.test/x")


@pytest.mark.usefixtures("seams_unpinned")
def test_patch_exists_only_while_a_fake_is_active() -> None:
    assert aiohttp.ClientSession._ws_connect is ORIGINAL
    with FakeWebPubSub():
        assert aiohttp.ClientSession._ws_connect is not ORIGINAL
    assert aiohttp.ClientSession._ws_connect is ORIGINAL
