"""``websockets`` against the fake: the asyncio client (awaited, ``async with``, ``async for``) and the sync one.

The shapes and exceptions are the library's own: ``connect`` was imported at module import, before any fake
started, and still reaches the fake because the seam patches where the class does its I/O.
"""

from __future__ import annotations

import pytest as _pytest

_pytest.importorskip("websockets", minversion="16", reason="the in-memory websockets seam needs websockets >= 16")

import asyncio
import json
import threading
from typing import Any, Callable
from urllib.parse import quote

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect as sync_connect
from websockets.typing import Subprotocol

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._ws_websockets import SEAM, FakeSyncConnection, MemoryTransport

from .drivers import JSON as JSON_NAME
from .drivers import PUBLISHER, TIMEOUT
from .drivers import RELIABLE as RELIABLE_NAME

URL = Callable[..., str]
JSON, RELIABLE = Subprotocol(JSON_NAME), Subprotocol(RELIABLE_NAME)
ORIGINAL_ASYNC = connect.open_tcp_connection


async def test_the_top_level_connect_is_the_asyncio_client_and_stays_in_memory(client_url: URL) -> None:
    assert websockets.connect is connect
    async with websockets.connect(client_url(user_id="ann"), subprotocols=[JSON]) as ws:
        assert isinstance(ws.transport, MemoryTransport)
        assert ws.subprotocol == JSON
        assert json.loads(await ws.recv())["event"] == "connected"


async def test_awaited_connection_receives_rest_sends_made_from_another_thread(
    client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    ws = await connect(client_url(user_id="ann"))
    service = webpubsub.service_client("chat")
    sender = threading.Thread(
        target=lambda: [service.send_to_user("ann", str(i), content_type="text/plain") for i in range(20)]
    )

    sender.start()  # the loop is waiting in recv() while the thread sends
    received = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(20)]
    sender.join()
    await ws.close()

    assert received == [str(i) for i in range(20)]
    assert ws.close_code == 1000


async def test_async_iteration_ends_quietly_on_a_rest_close(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    async with connect(client_url(user_id="ann"), subprotocols=[JSON]) as ws:
        connection_id = json.loads(await ws.recv())["connectionId"]
        webpubsub.service_client("chat").send_to_connection(connection_id, "bye soon", content_type="text/plain")
        webpubsub.service_client("chat").close_connection(connection_id, reason="done")

        frames = [json.loads(frame) async for frame in ws]

    assert [frame.get("data", frame.get("event")) for frame in frames] == ["bye soon", "disconnected"]
    assert (ws.close_code, ws.close_reason) == (1000, "done")


async def test_async_iteration_raises_connection_closed_error_on_1007(client_url: URL) -> None:
    async with connect(client_url(user_id="ann"), subprotocols=[JSON]) as ws:
        await ws.recv()
        await ws.send("[]")

        with pytest.raises(ConnectionClosedError) as closed:
            async for _ in ws:
                pass

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007


async def test_send_after_the_close_raises_connection_closed_ok(client_url: URL) -> None:
    ws = await connect(client_url(user_id="ann"))
    await ws.close()

    with pytest.raises(ConnectionClosedOK):
        await ws.send("late")


async def test_ping_is_answered(client_url: URL) -> None:
    async with connect(client_url(user_id="ann")) as ws:
        pong = await ws.ping()
        await asyncio.wait_for(pong, TIMEOUT)


async def test_reconnecting_iterator_opens_a_new_connection_each_time(
    client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    seen = []
    async for ws in connect(client_url(user_id="ann"), subprotocols=[JSON]):
        seen.append(json.loads(await ws.recv())["connectionId"])
        await ws.close()
        if len(seen) == 2:
            break

    assert len(set(seen)) == 2
    assert [event.kind for event in webpubsub.lifecycle] == ["open", "close", "open", "close"]


async def test_refused_token_is_invalid_status_401(client_url: URL) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(client_url(user_id="ann", minutes_to_expire=-1)):
            pass

    assert refused.value.response.status_code == 401
    assert refused.value.response.body.startswith(b"The access token expired at ")


async def test_reliable_connection_recovers_after_the_link_drops(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    ws = await connect(client_url(user_id="ann", groups=["room"]), subprotocols=[RELIABLE])
    connected = json.loads(await ws.recv())
    ws.transport.abort()  # the link is lost, no close handshake
    await ws.wait_closed()
    webpubsub.service_client("chat").send_to_group("room", "while away", content_type="text/plain")

    recovery = (
        f"wss://{webpubsub.host}/client/hubs/chat?awps_connection_id={connected['connectionId']}"
        f"&awps_reconnection_token={quote(connected['reconnectionToken'])}"
    )
    async with connect(recovery, subprotocols=[RELIABLE]) as again:
        assert json.loads(await again.recv())["connectionId"] == connected["connectionId"]
        replayed = json.loads(await again.recv())

    assert (replayed["data"], replayed["sequenceId"]) == ("while away", 1)


async def test_a_failed_recovery_is_accepted_then_closed_with_1008(webpubsub: FakeWebPubSub) -> None:
    url = f"wss://{webpubsub.host}/client/hubs/chat?awps_connection_id=nobody&awps_reconnection_token=x"
    async with connect(url, subprotocols=[RELIABLE]) as ws:
        with pytest.raises(ConnectionClosedError):
            await ws.recv()

    assert ws.close_code == 1008


async def test_other_hosts_use_the_original_method(webpubsub: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    class Reached(Exception):
        pass

    async def original(connecter: Any) -> Any:
        raise Reached(connecter.uri)

    monkeypatch.setitem(SEAM._originals, "asyncio", original)

    with pytest.raises(Reached, match="ws://example.test/x"):
        await connect("ws://example.test/x", open_timeout=None)


@pytest.mark.usefixtures("seams_unpinned")
def test_patches_exist_only_while_a_fake_is_active() -> None:
    assert connect.open_tcp_connection is ORIGINAL_ASYNC
    with FakeWebPubSub():
        assert connect.open_tcp_connection is not ORIGINAL_ASYNC
    assert connect.open_tcp_connection is ORIGINAL_ASYNC


# -- the threading client ------------------------------------------------------------------------------------


def test_sync_client_as_a_context_manager(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    with sync_connect(client_url(user_id="ann", roles=PUBLISHER), subprotocols=[JSON]) as ws:
        assert isinstance(ws, FakeSyncConnection) and ws.subprotocol == JSON
        connection_id = json.loads(ws.recv(timeout=TIMEOUT))["connectionId"]
        ws.send(json.dumps({"type": "joinGroup", "group": "room", "ackId": 1}))
        ack = json.loads(ws.recv(timeout=TIMEOUT))
        ws.send(b"binary is not a JSON request")
        assert json.loads(ws.recv(timeout=TIMEOUT))["event"] == "disconnected"
        with pytest.raises(ConnectionClosedError):
            list(ws)  # iteration raises for a close code other than 1000 / 1001

    assert ack == {"type": "ack", "ackId": 1, "success": True}
    assert (ws.close_code, ws.state.name) == (1007, "CLOSED")
    assert [event.connection_id for event in webpubsub.lifecycle if event.kind == "close"] == [connection_id]


def test_sync_recv_times_out_when_nothing_comes(client_url: URL) -> None:
    with sync_connect(client_url(user_id="ann")) as ws, pytest.raises(TimeoutError):
        ws.recv(timeout=0.01)


def test_sync_recv_with_decode(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    with sync_connect(client_url(user_id="ann")) as ws:
        webpubsub.service_client("chat").send_to_all("text", content_type="text/plain")
        webpubsub.service_client("chat").send_to_all(b"bin", content_type="application/octet-stream")

        assert ws.recv(timeout=TIMEOUT, decode=False) == b"text"
        assert ws.recv(timeout=TIMEOUT, decode=True) == "bin"


def test_sync_fragmented_send_is_one_message(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat", groups=["room"])
    url = client_url(user_id="ann", roles=["webpubsub.sendToGroup"]) + "&webpubsub_mode=sendToGroup&group=room"
    with sync_connect(url) as ws:
        ws.send(["hel", "lo"])
        with pytest.raises(TypeError):
            ws.send({"not": "sendable"})

    assert [message.data for message in listener.received] == ["hello"]


def test_sync_send_after_a_server_close_raises_connection_closed(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    ws = sync_connect(client_url(user_id="ann"), subprotocols=[JSON], legacy=True)
    connection_id = json.loads(ws.recv(timeout=TIMEOUT))["connectionId"]
    webpubsub.service_client("chat").close_connection(connection_id)

    with pytest.raises(ConnectionClosedOK):
        ws.send("late")
    assert ws.close_code == 1000


def test_sync_connect_used_without_with_warns_as_the_library_does(client_url: URL) -> None:
    ws = sync_connect(client_url(user_id="ann"))
    with pytest.warns(DeprecationWarning, match="context manager"):
        ws.ping()
    ws.close()


def test_sync_refused_token_is_invalid_status_401(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    url = client_url(user_id="ann").replace("access_token=", "access_token=bad")

    with pytest.raises(InvalidStatus) as refused:
        sync_connect(url)

    assert refused.value.response.status_code == 401
    assert webpubsub.lifecycle == ()


def test_sync_messages_sent_from_another_thread_wake_a_waiting_recv(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    with sync_connect(client_url(user_id="ann")) as ws:
        waiting = threading.Thread(
            target=lambda: webpubsub.service_client("chat").send_to_all("wake", content_type="text/plain")
        )
        waiting.start()
        assert ws.recv(timeout=TIMEOUT) == "wake"
        waiting.join()
