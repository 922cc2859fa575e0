"""The official sync client SDK (``azure.messaging.webpubsubclient.WebPubSubClient``) against the fake.

Clients are built as app code builds them: a ``WebPubSubClientCredential`` whose provider asks the official
service client for a client access URL. The SDK's own reader thread, acks, recovery and reconnect run
unchanged; only the socket is in memory. Tests wait for callbacks (5 s at most); nothing sleeps for a fixed
time.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient import _client as sdk
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    OpenClientError,
    SendMessageError,
    WebPubSubDataType,
    WebPubSubProtocolType,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._sdk_sync import FakeWebSocketAppSync, LatchedCondition

HUB = "chat"
PUBLISHER = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
JSON = WebPubSubProtocolType.JSON
RELIABLE = WebPubSubProtocolType.JSON_RELIABLE
BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", [JSON, RELIABLE], ids=["json", "reliable"])
TIMEOUT = 5.0
FAST = 0.5
ORIGINAL_APP = sdk.WebSocketAppSync
ORIGINAL_ACK_OPTIONS = sdk.SendMessageErrorOptions


class Recorder:
    """Records every callback of one client, by kind, and waits until enough have arrived."""

    def __init__(self, client: WebPubSubClient) -> None:
        self.events: dict[CallbackType, list[Any]] = {kind: [] for kind in CallbackType}
        self._changed = threading.Condition()
        for kind in CallbackType:
            client.subscribe(kind, lambda *args, _kind=kind: self._record(_kind, args))

    def _record(self, kind: CallbackType, args: tuple[Any, ...]) -> None:
        with self._changed:
            self.events[kind].append(args[0] if args else None)
            self._changed.notify_all()

    def wait(self, kind: CallbackType, count: int = 1) -> list[Any]:
        """The callbacks of ``kind`` once there are at least ``count``; fails after 5 s."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.events[kind]) >= count, TIMEOUT):
                pytest.fail(f"waited {TIMEOUT} s for {count} {kind.value!r} callback(s), got {self.events[kind]!r}")
            return list(self.events[kind])

    def count(self, kind: CallbackType) -> int:
        with self._changed:
            return len(self.events[kind])


def by_sequence(events: list[Any]) -> list[tuple[int, Any]]:
    """Message callbacks as ``(sequence_id, data)``; each runs on its own thread, so arrival order is not theirs."""
    return sorted((event.sequence_id, event.data) for event in events)


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait (5 s at most) for fake-side state that no SDK callback announces, e.g. an auto-rejoin's join."""
    deadline = time.monotonic() + TIMEOUT
    pause = threading.Event()
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {TIMEOUT} s for {what}")
        pause.wait(0.002)


Factory = Callable[..., "tuple[WebPubSubClient, Recorder]"]


@pytest.fixture
def service(webpubsub: FakeWebPubSub) -> WebPubSubServiceClient:
    return webpubsub.service_client(HUB)


@pytest.fixture
def make_client(client_url: Callable[..., str]) -> Iterator[Factory]:
    """Build (not open) an SDK client whose credential mints a fresh token per connect; closed at teardown.

    ``roles`` may be a callable, read at each connect (a reconnect gets whatever it returns then).
    """
    clients: list[WebPubSubClient] = []

    def make(
        *, user_id: str | None = "alice", roles: list[str] | Callable[[], list[str]] = (), **options: Any
    ) -> tuple[WebPubSubClient, Recorder]:
        def client_access_url() -> str:
            return client_url(user_id=user_id, roles=roles() if callable(roles) else list(roles))

        options.setdefault("message_retry_total", 0)
        options.setdefault("reconnect_retry_backoff_factor", 0.05)
        client = WebPubSubClient(credential=WebPubSubClientCredential(client_access_url), **options)
        clients.append(client)
        return client, Recorder(client)

    yield make
    for client in clients:
        client.close()


def opened(make_client: Factory, **options: Any) -> tuple[WebPubSubClient, Recorder]:
    client, recorder = make_client(**options)
    client.open()
    recorder.wait(CallbackType.CONNECTED)
    return client, recorder


def members(service: WebPubSubServiceClient, group: str) -> list[str]:
    return sorted(member.connection_id for member in service.list_connections(group=group))


def delivered(webpubsub: FakeWebPubSub, connection_id: str) -> list[Any]:
    return [delivery.data for delivery in webpubsub.deliveries if delivery.connection_id == connection_id]


# -- opening --------------------------------------------------------------------------------------------


@BOTH_PROTOCOLS
def test_open_is_fast_and_reports_connected(
    make_client: Factory, service: WebPubSubServiceClient, protocol: WebPubSubProtocolType
) -> None:
    client, recorder = make_client(protocol_type=protocol)

    started = time.perf_counter()
    client.open()
    elapsed = time.perf_counter() - started

    assert elapsed < FAST
    assert client.is_connected()
    assert isinstance(client._ws, ORIGINAL_APP)
    [connected] = recorder.wait(CallbackType.CONNECTED)
    assert (connected.user_id, connected.connection_id) == ("alice", client._connection_id)
    assert service.connection_exists(connected.connection_id) is True
    assert client._ws.protocol == (
        "json.webpubsub.azure.v1" if protocol is JSON else "json.reliable.webpubsub.azure.v1"
    )


def test_open_never_loses_the_wake_up(make_client: Factory) -> None:
    # With a plain Condition the reader thread's on_open can notify before open() waits, and open() then
    # sits out start_timeout (sdk-internals §3.6): 2 s here, so a regression fails this test quickly.
    latencies = []
    for _ in range(20):
        client, _recorder = make_client(start_timeout=2, protocol_type=JSON)
        started = time.perf_counter()
        client.open()
        latencies.append(time.perf_counter() - started)
        assert isinstance(client._ws.cv, LatchedCondition)
        client.close()

    assert max(latencies) < FAST, latencies


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)  # the refusal is what this test checks
def test_a_host_no_fake_owns_fails_fast_with_the_reason(webpubsub: FakeWebPubSub) -> None:
    other = WebPubSubServiceClient.from_connection_string(
        f"Endpoint=https://other.webpubsub.azure.com;AccessKey={webpubsub.access_key};Version=1.0;", hub=HUB
    )
    client = WebPubSubClient(
        credential=WebPubSubClientCredential(lambda: other.get_client_access_token(user_id="alice")["url"])
    )

    started = time.perf_counter()
    with pytest.raises(OpenClientError) as refused:
        client.open()

    assert time.perf_counter() - started < FAST
    assert "pytest-webpubsub: no fake owns 'other.webpubsub.azure.com', and tests must not reach Azure." in str(
        refused.value
    )
    assert f"Hosts owned by active fakes: {webpubsub.host}." in str(refused.value)
    assert webpubsub.lifecycle == ()


def test_a_refused_token_fails_fast_with_the_status(webpubsub: FakeWebPubSub) -> None:
    url = f"wss://{webpubsub.host}/client/hubs/{HUB}?access_token=not-a-jwt"
    client = WebPubSubClient(credential=WebPubSubClientCredential(lambda: url))

    started = time.perf_counter()
    with pytest.raises(OpenClientError) as refused:
        client.open()

    assert time.perf_counter() - started < FAST
    assert "During the process, an error occurred: Handshake status 401 Unauthorized -+-+- " in str(refused.value)
    assert webpubsub.lifecycle == ()


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)  # the refusal is what this test checks
def test_connections_are_routed_by_host(webpubsub: FakeWebPubSub) -> None:
    def build(url: str) -> Any:
        return sdk.WebSocketAppSync(url=url, subprotocols=["json.webpubsub.azure.v1"])

    assert type(build(f"wss://{webpubsub.host.upper()}/client/hubs/chat")) is FakeWebSocketAppSync
    assert type(build("wss://other.webpubsub.azure.com/client/hubs/chat")) is FakeWebSocketAppSync
    assert type(build("ws://127.0.0.1:9/client/hubs/chat")) is ORIGINAL_APP
    assert type(build("wss://example.com/client/hubs/chat")) is ORIGINAL_APP


# -- groups and messages --------------------------------------------------------------------------------


@BOTH_PROTOCOLS
def test_join_send_and_leave_a_group(
    make_client: Factory,
    webpubsub: FakeWebPubSub,
    service: WebPubSubServiceClient,
    protocol: WebPubSubProtocolType,
) -> None:
    client, recorder = opened(make_client, roles=PUBLISHER, protocol_type=protocol)
    bob = webpubsub.connect(HUB, user_id="bob", groups=["room"])

    client.join_group("room")
    assert members(service, "room") == sorted([client._connection_id, bob.connection_id])

    client.send_to_group("room", "hello", WebPubSubDataType.TEXT)
    [echo] = recorder.wait(CallbackType.GROUP_MESSAGE)
    assert (echo.group, echo.data, echo.data_type, echo.from_user_id) == ("room", "hello", "text", "alice")
    assert echo.sequence_id == (1 if protocol is RELIABLE else None)
    assert [(m.data, m.from_user_id) for m in bob.received] == [("hello", "alice")]

    client.leave_group("room")
    assert members(service, "room") == [bob.connection_id]
    service.send_to_group("room", "after leave", content_type="text/plain")
    service.send_to_user("alice", "barrier", content_type="text/plain")
    recorder.wait(CallbackType.SERVER_MESSAGE)
    assert delivered(webpubsub, client._connection_id) == ["hello", "barrier"]
    assert [event.data for event in recorder.events[CallbackType.GROUP_MESSAGE]] == ["hello"]


@pytest.mark.parametrize("no_echo", [True, False])
def test_no_echo_decides_whether_the_sender_gets_its_own_message(
    make_client: Factory, webpubsub: FakeWebPubSub, no_echo: bool
) -> None:
    client, recorder = opened(make_client, roles=PUBLISHER)
    bob = webpubsub.connect(HUB, user_id="bob", groups=["room"])
    client.join_group("room")

    client.send_to_group("room", {"n": 1}, WebPubSubDataType.JSON, no_echo=no_echo)
    client.send_to_group("room", {"n": 2}, WebPubSubDataType.JSON)

    events = recorder.wait(CallbackType.GROUP_MESSAGE, 1 if no_echo else 2)
    # Sequence ids number what the sender got: with no_echo the first message never reached it.
    expected = [(1, {"n": 2})] if no_echo else [(1, {"n": 1}), (2, {"n": 2})]
    assert by_sequence(events) == expected
    assert delivered(webpubsub, client._connection_id) == [data for _, data in expected]
    assert [m.data for m in bob.received] == [{"n": 1}, {"n": 2}]


def test_concurrent_senders_all_get_their_acks(make_client: Factory, webpubsub: FakeWebPubSub) -> None:
    client, _recorder = opened(make_client, roles=PUBLISHER)
    bob = webpubsub.connect(HUB, user_id="bob", groups=["room"])
    failures: list[BaseException] = []

    def send(sender: int) -> None:
        try:
            for n in range(10):
                client.send_to_group("room", f"{sender}-{n}", WebPubSubDataType.TEXT, no_echo=True)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    senders = [threading.Thread(target=send, args=(sender,)) for sender in range(8)]
    started = time.perf_counter()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(TIMEOUT)

    assert failures == []
    assert time.perf_counter() - started < FAST * 4
    received = [m.data for m in bob.received]
    assert sorted(received) == sorted(f"{s}-{n}" for s in range(8) for n in range(10))
    for sender in range(8):  # each sender's messages arrive in the order it sent them
        assert [d for d in received if d.startswith(f"{sender}-")] == [f"{sender}-{n}" for n in range(10)]


def test_joining_without_permission_is_forbidden(make_client: Factory, service: WebPubSubServiceClient) -> None:
    client, _recorder = opened(make_client)

    with pytest.raises(SendMessageError) as denied:
        client.join_group("room")

    assert denied.value.error_detail.name == "Forbidden"
    assert denied.value.ack_id == 1
    assert members(service, "room") == []


def test_an_event_without_an_upstream_handler_is_an_internal_server_error(make_client: Factory) -> None:
    client, _recorder = opened(make_client)

    with pytest.raises(SendMessageError) as failed:
        client.send_event("ping", "hi", WebPubSubDataType.TEXT)

    assert (failed.value.error_detail.name, failed.value.error_detail.message) == (
        "InternalServerError",
        "No event handler is registered for the event 'ping'.",
    )
    assert client.is_connected()


@BOTH_PROTOCOLS
def test_server_messages_reach_the_callback_typed(
    make_client: Factory, service: WebPubSubServiceClient, protocol: WebPubSubProtocolType
) -> None:
    client, recorder = opened(make_client, protocol_type=protocol)

    service.send_to_user("alice", "to alice", content_type="text/plain")
    service.send_to_all({"to": "all"})
    service.send_to_connection(client._connection_id, b"\x00\xff", content_type="application/octet-stream")

    events = recorder.wait(CallbackType.SERVER_MESSAGE, 3)
    received = {event.data_type: (event.sequence_id, event.data) for event in events}
    received["binary"] = (received["binary"][0], bytes(received["binary"][1]))
    numbered = protocol is RELIABLE
    assert received == {
        "text": (1 if numbered else None, "to alice"),
        "json": (2 if numbered else None, {"to": "all"}),
        "binary": (3 if numbered else None, b"\x00\xff"),
    }


def test_close_reports_disconnected_then_stopped(make_client: Factory, service: WebPubSubServiceClient) -> None:
    client, recorder = opened(make_client)
    connection_id = client._connection_id

    client.close()

    [disconnected] = recorder.wait(CallbackType.DISCONNECTED)
    assert (disconnected.connection_id, disconnected.message) == (connection_id, None)
    assert recorder.wait(CallbackType.STOPPED) == [None]
    assert service.connection_exists(connection_id) is False
    assert not client.is_connected()


# -- losing the connection ------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", ["rest-close", "dropped-link"])
def test_json_client_reconnects_as_a_new_connection_and_rejoins(
    make_client: Factory, webpubsub: FakeWebPubSub, service: WebPubSubServiceClient, cause: str
) -> None:
    client, recorder = opened(make_client, roles=PUBLISHER, protocol_type=JSON)
    client.join_group("room")
    first = client._connection_id

    if cause == "rest-close":
        service.close_connection(first, reason="maintenance")
    else:
        client._ws.sock.close(1001)

    [disconnected] = recorder.wait(CallbackType.DISCONNECTED)
    assert (disconnected.connection_id, disconnected.message) == (
        first, "maintenance" if cause == "rest-close" else None
    )
    [_, again] = recorder.wait(CallbackType.CONNECTED, 2)
    assert again.connection_id == client._connection_id != first
    assert service.connection_exists(first) is False
    eventually(lambda: members(service, "room") == [again.connection_id], "the auto-rejoin of 'room'")
    service.send_to_group("room", "welcome back", content_type="text/plain")
    [message] = recorder.wait(CallbackType.GROUP_MESSAGE)
    assert (message.group, message.data, message.sequence_id) == ("room", "welcome back", None)


def test_a_dropped_send_fails_at_once(make_client: Factory) -> None:
    client, _recorder = opened(make_client, reconnect_retry_total=0, protocol_type=JSON)

    client._ws.sock.close(1001)

    with pytest.raises(SendMessageError, match="The websocket connection is not connected."):
        client.send_event("ping", "hi", WebPubSubDataType.TEXT)


def test_reliable_client_recovers_its_connection_and_misses_nothing(
    make_client: Factory, webpubsub: FakeWebPubSub, service: WebPubSubServiceClient
) -> None:
    client, recorder = opened(make_client, roles=PUBLISHER)
    client.join_group("room")
    connection_id = client._connection_id
    service.send_to_group("room", "one", content_type="text/plain")
    recorder.wait(CallbackType.GROUP_MESSAGE)

    # Holding the fake's lock stalls the recovery handshake (on the SDK's reader thread) while REST sends
    # (re-entrant, on this thread) go on: these messages are sent while the link is down.
    with webpubsub._lock:
        client._ws.sock.close(1001)
        assert not client.is_connected()
        for data in ("two", "three", "four"):
            service.send_to_group("room", data, content_type="text/plain")
        assert service.connection_exists(connection_id) is True

    events = recorder.wait(CallbackType.GROUP_MESSAGE, 4)
    service.send_to_group("room", "five", content_type="text/plain")
    events = recorder.wait(CallbackType.GROUP_MESSAGE, 5)

    assert by_sequence(events) == [(1, "one"), (2, "two"), (3, "three"), (4, "four"), (5, "five")]
    assert client._connection_id == connection_id
    assert f"awps_connection_id={connection_id}" in client._ws.url
    assert members(service, "room") == [connection_id]
    assert recorder.count(CallbackType.CONNECTED) == 1
    assert recorder.count(CallbackType.DISCONNECTED) == 0
    assert client.is_connected()


def test_reliable_client_closed_by_the_service_is_not_recovered_and_reconnects(
    make_client: Factory, service: WebPubSubServiceClient
) -> None:
    client, recorder = opened(make_client, roles=PUBLISHER)
    client.join_group("room")
    first = client._connection_id

    service.close_connection(first, reason="maintenance")

    [disconnected] = recorder.wait(CallbackType.DISCONNECTED)
    assert (disconnected.connection_id, disconnected.message) == (first, "maintenance")
    [_, again] = recorder.wait(CallbackType.CONNECTED, 2)
    assert again.connection_id == client._connection_id != first
    eventually(lambda: members(service, "room") == [again.connection_id], "the auto-rejoin of 'room'")
    assert recorder.count(CallbackType.DISCONNECTED) == 1
    assert recorder.count(CallbackType.STOPPED) == 0


def test_a_failed_rejoin_is_reported(make_client: Factory, service: WebPubSubServiceClient) -> None:
    roles = list(PUBLISHER)
    client, recorder = opened(make_client, roles=lambda: list(roles), protocol_type=JSON)
    client.join_group("room")

    roles.clear()  # the next token the app mints grants nothing
    service.close_connection(client._connection_id, reason="rotate")

    [failed] = recorder.wait(CallbackType.REJOIN_GROUP_FAILED)
    assert failed.group == "room"
    assert isinstance(failed.error, SendMessageError)
    assert failed.error.error_detail.name == "Forbidden"
    assert members(service, "room") == []


# -- the patch's lifetime -------------------------------------------------------------------------------


@pytest.mark.usefixtures("seams_unpinned")
def test_a_client_left_open_is_closed_when_the_fake_stops() -> None:
    fake = FakeWebPubSub()
    with fake:
        assert sdk.WebSocketAppSync is not ORIGINAL_APP
        assert sdk.SendMessageErrorOptions is not ORIGINAL_ACK_OPTIONS
        service = fake.service_client(HUB)
        client = WebPubSubClient(
            credential=WebPubSubClientCredential(lambda: service.get_client_access_token(user_id="alice")["url"])
        )
        recorder = Recorder(client)
        client.open()
        recorder.wait(CallbackType.CONNECTED)
        ws = client._ws
        assert isinstance(ws, FakeWebSocketAppSync)

    assert ws.reader is not None and not ws.reader.is_alive()
    assert recorder.wait(CallbackType.STOPPED) == [None]
    assert [event.kind for event in fake.lifecycle] == ["open", "close"]
    assert sdk.WebSocketAppSync is ORIGINAL_APP
    assert sdk.SendMessageErrorOptions is ORIGINAL_ACK_OPTIONS
