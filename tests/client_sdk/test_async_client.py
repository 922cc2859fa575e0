"""The official async client SDK (``azure.messaging.webpubsubclient.aio``) against the fake, built as app code does.

Every client gets its URL from an async provider that asks the official async service client for a client access
token, so the whole path (token minting, handshake, frames, acks, recovery, reconnect) is the SDK's own.
Tests wait on callbacks with ``asyncio.wait_for(..., 5)``; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from azure.messaging.webpubsubclient.aio import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    OpenClientError,
    SendMessageError,
    WebPubSubDataType,
    WebPubSubProtocolType,
)

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._sdk_async import STOPPED_REASON, FakeClientSession, FakeClientWebSocket

HUB = "chat"
PUBLISHER = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
JSON = WebPubSubProtocolType.JSON
RELIABLE = WebPubSubProtocolType.JSON_RELIABLE
BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", [JSON, RELIABLE], ids=["json", "reliable"])
TIMEOUT = 5
SDK = importlib.import_module("azure.messaging.webpubsubclient.aio._client")


class Recorder:
    """Records every callback of one client, by kind, and waits until enough have arrived."""

    def __init__(self) -> None:
        self.events: dict[CallbackType, list[Any]] = {kind: [] for kind in CallbackType}
        self._changed = asyncio.Event()

    async def attach(self, client: WebPubSubClient) -> None:
        for kind in CallbackType:

            async def handler(*args: Any, _kind: CallbackType = kind) -> None:
                self.events[_kind].append(args[0] if args else None)
                self._changed.set()

            await client.subscribe(kind, handler)

    async def wait(self, kind: CallbackType, count: int = 1) -> list[Any]:
        """The first ``count`` callbacks of ``kind``; fails after 5 s."""

        async def enough() -> None:
            while len(self.events[kind]) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(enough(), TIMEOUT)
        except asyncio.TimeoutError:
            pytest.fail(f"waited {TIMEOUT} s for {count} {kind.value!r} callback(s), got {self.events[kind]!r}")
        return self.events[kind][:count]

    def data(self, kind: CallbackType = CallbackType.GROUP_MESSAGE) -> list[Any]:
        return [args.data for args in self.events[kind]]


Factory = Callable[..., Awaitable["tuple[WebPubSubClient, Recorder]"]]


@pytest.fixture
async def svc(webpubsub: FakeWebPubSub) -> AsyncIterator[Any]:
    async with webpubsub.service_client(HUB, aio=True) as client:
        yield client


@pytest.fixture
async def make_client(svc: Any) -> AsyncIterator[Factory]:
    """Build (and by default open) official async clients of ``chat``; all are closed after the test."""
    clients: list[WebPubSubClient] = []

    async def make(
        user_id: str | None = "alice",
        *,
        roles: list[str] | Callable[[], list[str]] = PUBLISHER,
        open: bool = True,
        **kwargs: Any,
    ) -> tuple[WebPubSubClient, Recorder]:
        async def get_url() -> str:
            current = roles() if callable(roles) else roles
            return (await svc.get_client_access_token(user_id=user_id, roles=current))["url"]

        client = WebPubSubClient(credential=WebPubSubClientCredential(get_url), **kwargs)
        clients.append(client)
        recorder = Recorder()
        await recorder.attach(client)
        if open:
            await client.open()
        return client, recorder

    yield make
    for client in clients:
        await client.close()


async def drop_link(client: WebPubSubClient) -> None:
    """Lose the connection without a close handshake, as tests of the SDK itself do."""
    await client._ws.session.close()


# -- opening -----------------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_open_is_fast_and_reports_the_connection(
    make_client: Factory, webpubsub: FakeWebPubSub, protocol: WebPubSubProtocolType
) -> None:
    client, events = await make_client(protocol_type=protocol, open=False)

    started = time.perf_counter()
    await client.open()
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5
    assert client.is_connected()
    (connected,) = await events.wait(CallbackType.CONNECTED)
    assert (connected.user_id, connected.connection_id) == ("alice", client._connection_id)
    assert isinstance(client._ws.session, FakeClientSession)
    assert isinstance(client._ws.sock, FakeClientWebSocket)
    assert client._ws.sock.protocol == protocol.value
    assert [(e.kind, e.hub, e.connection_id, e.user_id) for e in webpubsub.lifecycle] == [
        ("open", HUB, connected.connection_id, "alice")
    ]


async def test_the_reliable_protocol_gets_a_reconnection_token(make_client: Factory) -> None:
    client, events = await make_client()
    await events.wait(CallbackType.CONNECTED)
    assert client._ws.sock.protocol == "json.reliable.webpubsub.azure.v1"
    assert client._reconnection_token


async def test_close_reports_disconnected_then_stopped(make_client: Factory, webpubsub: FakeWebPubSub) -> None:
    client, events = await make_client(protocol_type=JSON)
    (connected,) = await events.wait(CallbackType.CONNECTED)

    await client.close()

    (disconnected,) = await events.wait(CallbackType.DISCONNECTED)
    await events.wait(CallbackType.STOPPED)
    assert (disconnected.connection_id, disconnected.message) == (connected.connection_id, None)
    assert not client.is_connected()
    assert [(e.kind, e.connection_id) for e in webpubsub.lifecycle] == [
        ("open", connected.connection_id),
        ("close", connected.connection_id),
    ]
    assert len(events.events[CallbackType.CONNECTED]) == 1


async def test_a_token_signed_with_another_key_fails_open_fast_with_401(webpubsub: FakeWebPubSub) -> None:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AioServiceClient

    wrong_key = webpubsub.connection_string.replace(webpubsub.access_key, "not-the-key-" + "x" * 32)

    async def get_url() -> str:
        async with AioServiceClient.from_connection_string(wrong_key, hub=HUB) as service:
            return (await service.get_client_access_token(user_id="alice"))["url"]

    client = WebPubSubClient(credential=WebPubSubClientCredential(get_url))

    started = time.perf_counter()
    with pytest.raises(OpenClientError) as refused:
        await client.open()

    assert time.perf_counter() - started < 0.5
    assert "During the process, an error occurred: 401, message='pytest-webpubsub: connection refused (401): " in str(
        refused.value
    )
    error = client._ws.error_happened
    assert isinstance(error, aiohttp.WSServerHandshakeError)
    assert error.status == 401
    assert error.message.endswith("The access token signature does not match the access key")
    assert webpubsub.lifecycle == ()


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)  # the refusal is what this test checks
async def test_an_azure_host_no_fake_owns_fails_open_fast(webpubsub: FakeWebPubSub) -> None:
    other = "Endpoint=https://other.webpubsub.azure.com;AccessKey=" + webpubsub.access_key + ";Version=1.0;"

    async def get_url() -> str:
        # Minted locally from the access key: the service client makes no request.
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AioServiceClient

        async with AioServiceClient.from_connection_string(other, hub=HUB) as service:
            return (await service.get_client_access_token(user_id="alice"))["url"]

    client = WebPubSubClient(credential=WebPubSubClientCredential(get_url))

    started = time.perf_counter()
    with pytest.raises(OpenClientError) as refused:
        await client.open()

    assert time.perf_counter() - started < 0.5
    message = str(refused.value)
    assert "Cannot connect to host other.webpubsub.azure.com:443 ssl:default" in message
    assert "pytest-webpubsub: no fake owns 'other.webpubsub.azure.com', and tests must not reach Azure." in message
    assert f"Hosts owned by active fakes: {webpubsub.host}." in message
    assert isinstance(client._ws.error_happened, aiohttp.ClientConnectorError)


# -- groups and messages ---------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_join_send_and_leave_a_group(
    make_client: Factory, svc: Any, protocol: WebPubSubProtocolType
) -> None:
    client, events = await make_client(protocol_type=protocol)

    await client.join_group("room")
    await client.send_to_group("room", "hello", WebPubSubDataType.TEXT)

    (echo,) = await events.wait(CallbackType.GROUP_MESSAGE)
    expected_sequence_id = 1 if protocol is RELIABLE else None
    assert (echo.group, echo.data, echo.data_type, echo.from_user_id, echo.sequence_id) == (
        "room", "hello", WebPubSubDataType.TEXT, "alice", expected_sequence_id
    )
    assert [m.connection_id async for m in svc.list_connections(group="room")] == [client._connection_id]

    await client.leave_group("room")
    assert [m.connection_id async for m in svc.list_connections(group="room")] == []
    await svc.send_to_group("room", "after leaving", content_type="text/plain")
    await svc.send_to_user("alice", "marker", content_type="text/plain")
    await events.wait(CallbackType.SERVER_MESSAGE)
    assert events.data() == ["hello"]


async def test_no_echo_skips_only_the_sender(make_client: Factory) -> None:
    alice, alice_events = await make_client("alice", protocol_type=JSON)
    bob, bob_events = await make_client("bob", protocol_type=JSON)
    await alice.join_group("room")
    await bob.join_group("room")

    await alice.send_to_group("room", {"n": 1}, WebPubSubDataType.JSON, no_echo=True)
    await alice.send_to_group("room", {"n": 2}, WebPubSubDataType.JSON)

    await bob_events.wait(CallbackType.GROUP_MESSAGE, 2)
    await alice_events.wait(CallbackType.GROUP_MESSAGE, 1)
    assert bob_events.data() == [{"n": 1}, {"n": 2}]
    assert alice_events.data() == [{"n": 2}]
    assert [m.from_user_id for m in bob_events.events[CallbackType.GROUP_MESSAGE]] == ["alice", "alice"]


@BOTH_PROTOCOLS
async def test_server_messages_of_every_data_type(
    make_client: Factory, svc: Any, protocol: WebPubSubProtocolType
) -> None:
    client, events = await make_client(protocol_type=protocol)

    await svc.send_to_user("alice", {"greeting": "hi"})
    await svc.send_to_all("plain", content_type="text/plain")
    await svc.send_to_connection(client._connection_id, b"\x00\x01", content_type="application/octet-stream")

    messages = await events.wait(CallbackType.SERVER_MESSAGE, 3)
    assert [(m.data_type, m.data if m.data_type != "binary" else bytes(m.data)) for m in messages] == [
        (WebPubSubDataType.JSON, {"greeting": "hi"}),
        (WebPubSubDataType.TEXT, "plain"),
        (WebPubSubDataType.BINARY, b"\x00\x01"),
    ]
    expected = [1, 2, 3] if protocol is RELIABLE else [None, None, None]
    assert [m.sequence_id for m in messages] == expected


async def test_send_event_without_an_event_handler_is_an_internal_server_error(make_client: Factory) -> None:
    client, _ = await make_client(protocol_type=JSON, message_retry_total=0)

    with pytest.raises(SendMessageError) as failed:
        await client.send_event("ping", "payload", WebPubSubDataType.TEXT)

    detail = failed.value.error_detail
    assert (failed.value.ack_id, detail.name, detail.message) == (
        1, "InternalServerError", "No event handler is registered for the event 'ping'."
    )
    assert client.is_connected()


async def test_join_without_permission_is_forbidden(make_client: Factory, svc: Any) -> None:
    client, _ = await make_client(roles=[], protocol_type=JSON, message_retry_total=0)

    with pytest.raises(SendMessageError) as failed:
        await client.join_group("room")

    assert failed.value.error_detail.name == "Forbidden"
    assert [m.connection_id async for m in svc.list_connections(group="room")] == []
    assert client.is_connected()


async def test_many_concurrent_sends_are_all_acknowledged_and_echoed(make_client: Factory) -> None:
    client, events = await make_client(protocol_type=JSON)
    await client.join_group("room")

    await asyncio.gather(*(client.send_to_group("room", str(n), WebPubSubDataType.TEXT) for n in range(50)))

    await events.wait(CallbackType.GROUP_MESSAGE, 50)
    assert sorted(events.data(), key=int) == [str(n) for n in range(50)]


async def test_frames_written_from_other_threads_reach_the_client(
    make_client: Factory, webpubsub: FakeWebPubSub
) -> None:
    client, events = await make_client(protocol_type=JSON)
    await client.join_group("room")
    bob = webpubsub.connect(HUB, user_id="bob", roles=PUBLISHER)
    bob.join_group("room")
    sync_service = webpubsub.service_client(HUB)

    await asyncio.to_thread(bob.send_to_group, "room", "from bob's thread")
    await asyncio.to_thread(sync_service.send_to_group, "room", "from a REST thread", content_type="text/plain")

    await events.wait(CallbackType.GROUP_MESSAGE, 2)
    assert events.data() == ["from bob's thread", "from a REST thread"]
    await client.send_to_group("room", "back to bob", WebPubSubDataType.TEXT)
    assert [m.data for m in bob.received] == ["from bob's thread", "from a REST thread", "back to bob"]
    sync_service.close()


async def test_a_sync_client_and_an_async_client_share_a_hub(
    make_client: Factory, client_url: Callable[..., str]
) -> None:
    """Each side's frames are written on the other's thread: neither may block on the fake for the other."""
    from azure.messaging.webpubsubclient import WebPubSubClient as SyncClient
    from azure.messaging.webpubsubclient import WebPubSubClientCredential as SyncCredential

    loop = asyncio.get_running_loop()
    alice, alice_events = await make_client("alice", protocol_type=JSON)
    await alice.join_group("room")
    bob = SyncClient(SyncCredential(lambda: client_url(user_id="bob", roles=PUBLISHER)), protocol_type=JSON)
    bob_received: list[Any] = []
    bob_got_two = asyncio.Event()

    def on_bob_message(args: Any) -> None:  # on one of the sync SDK's threads
        bob_received.append(args.data)
        if len(bob_received) == 2:
            loop.call_soon_threadsafe(bob_got_two.set)

    bob.subscribe(CallbackType.GROUP_MESSAGE, on_bob_message)
    await asyncio.to_thread(bob.open)
    try:
        await asyncio.to_thread(bob.join_group, "room")
        await asyncio.gather(
            asyncio.to_thread(bob.send_to_group, "room", "from sync bob", WebPubSubDataType.TEXT),
            alice.send_to_group("room", "from async alice", WebPubSubDataType.TEXT),
        )

        await alice_events.wait(CallbackType.GROUP_MESSAGE, 2)
        await asyncio.wait_for(bob_got_two.wait(), TIMEOUT)
        assert sorted(alice_events.data()) == ["from async alice", "from sync bob"]
        assert sorted(bob_received) == ["from async alice", "from sync bob"]
    finally:
        await asyncio.to_thread(bob.close)


async def test_other_hosts_get_real_aiohttp_websockets() -> None:
    from aiohttp import web

    async def service(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=["json.webpubsub.azure.v1"])
        await ws.prepare(request)
        await ws.send_str('{"type":"system","event":"connected","connectionId":"real-1","userId":"zoe"}')
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/client/hubs/chat", service)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    second = FakeWebPubSub(endpoint="https://second.webpubsub.azure.com")  # the shim is installed
    try:
        with second:
            client = WebPubSubClient(f"ws://127.0.0.1:{port}/client/hubs/chat", protocol_type=JSON)
            events = Recorder()
            await events.attach(client)
            await client.open()
            (connected,) = await events.wait(CallbackType.CONNECTED)
            assert (connected.connection_id, connected.user_id) == ("real-1", "zoe")
            assert isinstance(client._ws.session, FakeClientSession)
            assert type(client._ws.sock) is aiohttp.ClientWebSocketResponse
            await client.close()
            await events.wait(CallbackType.STOPPED)
            assert client._ws.session.closed
            assert client._ws.session._real.closed  # the real session it made for this host
    finally:
        await runner.cleanup()


# -- connection loss -------------------------------------------------------------------------------------


async def test_rest_close_connection_reports_the_reason(
    make_client: Factory, svc: Any, webpubsub: FakeWebPubSub
) -> None:
    # Reliable: the SDK first tries to recover, the service refuses (1008), then it gives up.
    client, events = await make_client(reconnect_retry_total=0)
    (connected,) = await events.wait(CallbackType.CONNECTED)

    await svc.close_connection(connected.connection_id, reason="kicked by the app")

    (disconnected,) = await events.wait(CallbackType.DISCONNECTED)
    await events.wait(CallbackType.STOPPED)
    assert (disconnected.connection_id, disconnected.message) == (connected.connection_id, "kicked by the app")
    assert [(e.kind, e.reason) for e in webpubsub.lifecycle] == [("open", None), ("close", "kicked by the app")]
    assert not client.is_connected()


async def test_rest_close_connection_of_a_json_client_reconnects(make_client: Factory, svc: Any) -> None:
    client, events = await make_client(protocol_type=JSON, reconnect_retry_backoff_factor=0.01)
    (first,) = await events.wait(CallbackType.CONNECTED)

    await svc.close_connection(first.connection_id, reason="bye")

    (disconnected,) = await events.wait(CallbackType.DISCONNECTED)
    _, second = await events.wait(CallbackType.CONNECTED, 2)
    assert disconnected.message == "bye"
    assert second.connection_id != first.connection_id
    assert client.is_connected()


async def test_a_dropped_json_connection_reconnects_and_rejoins_its_groups(
    make_client: Factory, svc: Any, webpubsub: FakeWebPubSub
) -> None:
    client, events = await make_client(protocol_type=JSON)
    (first,) = await events.wait(CallbackType.CONNECTED)
    await client.join_group("room")

    await drop_link(client)

    (disconnected,) = await events.wait(CallbackType.DISCONNECTED)
    _, second = await events.wait(CallbackType.CONNECTED, 2)
    assert (disconnected.connection_id, disconnected.message) == (first.connection_id, None)
    assert second.connection_id != first.connection_id
    assert [(e.kind, e.connection_id, e.reason) for e in webpubsub.lifecycle] == [
        ("open", first.connection_id, None),
        ("close", first.connection_id, "The connection was dropped."),
        ("open", second.connection_id, None),
    ]
    # The rejoin's joinGroup is processed before the connected callback runs; its ack may still be in flight.
    assert [m.connection_id async for m in svc.list_connections(group="room")] == [second.connection_id]
    await svc.send_to_group("room", "welcome back", content_type="text/plain")
    await events.wait(CallbackType.GROUP_MESSAGE)
    assert events.data() == ["welcome back"]
    assert events.events[CallbackType.REJOIN_GROUP_FAILED] == []


async def test_a_failed_rejoin_is_reported(make_client: Factory) -> None:
    calls: list[int] = []

    def roles() -> list[str]:
        calls.append(1)
        return ["webpubsub.joinLeaveGroup.room"] if len(calls) == 1 else []

    client, events = await make_client(roles=roles, protocol_type=JSON)
    await client.join_group("room")

    await drop_link(client)

    (failed,) = await events.wait(CallbackType.REJOIN_GROUP_FAILED)
    assert failed.group == "room"
    assert isinstance(failed.error, SendMessageError)
    assert failed.error.error_detail.name == "Forbidden"
    assert len(calls) == 2


async def test_a_dropped_reliable_connection_recovers_without_losing_messages(
    make_client: Factory, webpubsub: FakeWebPubSub
) -> None:
    client, events = await make_client()
    (connected,) = await events.wait(CallbackType.CONNECTED)
    await client.join_group("room")
    rest = webpubsub.service_client(HUB)  # sync: nothing below yields to the loop until the messages are sent
    rest.send_to_group("room", "m0", content_type="text/plain")
    await events.wait(CallbackType.GROUP_MESSAGE)
    old_socket = client._ws.sock

    await drop_link(client)
    assert old_socket.closed is False  # the SDK has not read the end of the stream yet
    for text in ("m1", "m2", "m3"):
        rest.send_to_group("room", text, content_type="text/plain")

    await events.wait(CallbackType.GROUP_MESSAGE, 4)
    assert client._ws.sock is not old_socket
    assert client._connection_id == connected.connection_id
    rest.send_to_group("room", "m4", content_type="text/plain")
    messages = await events.wait(CallbackType.GROUP_MESSAGE, 5)
    assert [(m.data, m.sequence_id) for m in events.events[CallbackType.GROUP_MESSAGE]] == [
        ("m0", 1), ("m1", 2), ("m2", 3), ("m3", 4), ("m4", 5)
    ]
    assert len(messages) == 5
    assert events.events[CallbackType.DISCONNECTED] == []
    assert len(events.events[CallbackType.CONNECTED]) == 1
    assert [(e.kind, e.connection_id) for e in webpubsub.lifecycle] == [("open", connected.connection_id)]
    assert rest.connection_exists(connected.connection_id)
    rest.close()


async def test_sends_fail_at_once_after_the_link_is_dropped(make_client: Factory) -> None:
    client, events = await make_client(protocol_type=JSON, reconnect_retry_total=0, message_retry_total=0)
    await events.wait(CallbackType.CONNECTED)
    socket = client._ws.sock

    await drop_link(client)

    with pytest.raises(aiohttp.ClientConnectionResetError, match="Cannot write to closing transport"):
        await socket.send_str('{"type":"joinGroup","group":"room"}')
    await events.wait(CallbackType.STOPPED)
    assert socket.closed


# -- the patch itself -------------------------------------------------------------------------------------


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)  # the SDK reconnects after the fake is gone
async def test_stopping_a_fake_ends_its_open_sockets(webpubsub: FakeWebPubSub) -> None:
    second = FakeWebPubSub(endpoint="https://second.webpubsub.azure.com")
    rest = second.service_client(HUB)  # mints tokens locally: it works after the fake stopped too

    async def get_url() -> str:
        return rest.get_client_access_token(user_id="carol")["url"]

    client = WebPubSubClient(credential=WebPubSubClientCredential(get_url), protocol_type=JSON, reconnect_retry_total=0)
    events = Recorder()
    await events.attach(client)
    with second:
        await client.open()
        socket = client._ws.sock
    assert SDK.aiohttp is not aiohttp  # the fixture's fake is still active

    (disconnected,) = await events.wait(CallbackType.DISCONNECTED)
    await events.wait(CallbackType.STOPPED)
    assert (socket.closed, socket.close_code) == (True, 1008)
    assert disconnected.message == STOPPED_REASON == "pytest-webpubsub: the fake service was stopped."
    with pytest.raises(OpenClientError, match="no fake owns 'second.webpubsub.azure.com'"):
        await client.open()
    rest.close()


@pytest.mark.usefixtures("seams_unpinned")
def test_the_sdk_module_gets_real_aiohttp_back_when_the_last_fake_stops() -> None:
    first = FakeWebPubSub(endpoint="https://first.webpubsub.azure.com")
    second = FakeWebPubSub(endpoint="https://second.webpubsub.azure.com")
    assert SDK.aiohttp is aiohttp
    with first:
        shim = SDK.aiohttp
        assert shim is not aiohttp
        assert shim.ClientSession is FakeClientSession
        assert shim.WSMsgType is aiohttp.WSMsgType
        with second:
            assert SDK.aiohttp is shim
        assert SDK.aiohttp is shim
    assert SDK.aiohttp is aiohttp
