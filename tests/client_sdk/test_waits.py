"""``_sdk_waits``: the client SDK's retry back-offs and its close-time wait cost nothing against a fake.

Unpatched, a refused ``join_group`` takes 5.6 s (three retries after 0.8, 1.6 and 3.2 s), closing an aio client on
the reliable protocol 1.00 s and a sync one 0.10 s. Each test checks that the SDK still does exactly what it does
against the service (attempts, errors, frames), and that nobody waited. The one timing bound (aio close) is
generous: the unpatched close takes more than three times as long.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Callable

import pytest
from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient import aio as sdk_aio
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    SendMessageError,
    WebPubSubDataType,
    WebPubSubProtocolType,
)
from azure.messaging.webpubsubclient.models._models import JoinGroupMessage, SendEventMessage, SequenceAckMessage

from pytest_webpubsub import FakeWebPubSub, _sdk_waits

SYNC_SDK = importlib.import_module("azure.messaging.webpubsubclient._client")
AIO_SDK = importlib.import_module("azure.messaging.webpubsubclient.aio._client")
RELIABLE = WebPubSubProtocolType.JSON_RELIABLE
JSON = WebPubSubProtocolType.JSON
DEFAULT_ATTEMPTS = 4  # the first try and message_retry_total=3 retries
FAST = 2.0  # seconds; the unpatched retries take 5.6


@pytest.fixture
def fake(webpubsub: FakeWebPubSub) -> Iterator[FakeWebPubSub]:
    """The ``webpubsub`` fixture with the SDK waits installed (left as found if something installed them)."""
    already = _sdk_waits.installed()
    if not already:
        _sdk_waits.install()
    yield webpubsub
    if not already:
        _sdk_waits.uninstall()


class Sent(list):  # type: ignore[type-arg]
    """The messages of one kind a client sent; ``arrived`` is set at the first."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def record(self, message: Any, kind: type) -> None:
        if isinstance(message, kind):
            self.append(message)
            self.arrived.set()


def sent(client: Any, kind: type) -> Sent:
    """Wrap the client's ``_send_message`` (sync or aio) and collect every message of ``kind`` it sends."""
    messages = Sent()
    original = client._send_message

    if asyncio.iscoroutinefunction(original):

        async def record_async(message: Any, **kwargs: Any) -> None:
            messages.record(message, kind)
            await original(message, **kwargs)

        client._send_message = record_async
    else:

        def record(message: Any, **kwargs: Any) -> None:
            messages.record(message, kind)
            original(message, **kwargs)

        client._send_message = record
    return messages


# -- sync ------------------------------------------------------------------------------------------------


@pytest.fixture
def sync_client(fake: FakeWebPubSub) -> Iterator[Callable[..., WebPubSubClient]]:
    clients: list[WebPubSubClient] = []
    service = fake.service_client("chat")

    def make(roles: list[str], **options: Any) -> WebPubSubClient:
        url = service.get_client_access_token(user_id="alice", roles=roles)["url"]
        client = WebPubSubClient(credential=WebPubSubClientCredential(url), **options)
        clients.append(client)
        client.open()
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize("protocol", [JSON, RELIABLE], ids=["json", "reliable"])
def test_sync_refused_join_makes_every_attempt_without_waiting(
    sync_client: Callable[..., WebPubSubClient], protocol: WebPubSubProtocolType
) -> None:
    client = sync_client([], protocol_type=protocol)
    joins = sent(client, JoinGroupMessage)

    started = time.perf_counter()
    with pytest.raises(SendMessageError) as refused:
        client.join_group("room")

    assert time.perf_counter() - started < FAST
    assert refused.value.error_detail.name == "Forbidden"
    assert [m.group for m in joins] == ["room"] * DEFAULT_ATTEMPTS
    assert len({m.ack_id for m in joins}) == DEFAULT_ATTEMPTS  # a new ack id per attempt, as the SDK does
    assert client.is_connected()


def test_sync_retry_count_follows_the_client_option(sync_client: Callable[..., WebPubSubClient]) -> None:
    client = sync_client([], message_retry_total=1)
    joins = sent(client, JoinGroupMessage)

    with pytest.raises(SendMessageError):
        client.join_group("room")

    assert len(joins) == 2


def test_sync_failing_send_event_makes_every_attempt_without_waiting(
    sync_client: Callable[..., WebPubSubClient],
) -> None:
    client = sync_client([])
    events = sent(client, SendEventMessage)

    started = time.perf_counter()
    with pytest.raises(SendMessageError) as failed:
        client.send_event("ping", "hello", WebPubSubDataType.TEXT)

    assert time.perf_counter() - started < FAST
    assert failed.value.error_detail.name == "InternalServerError"
    assert len(events) == DEFAULT_ATTEMPTS


def test_sync_close_ends_the_sequence_ack_thread(sync_client: Callable[..., WebPubSubClient]) -> None:
    client = sync_client(["webpubsub.joinLeaveGroup"], protocol_type=RELIABLE)
    ack_thread = client._thread_seq_ack
    assert ack_thread is not None and ack_thread.is_alive()

    client.close()

    # Unpatched, close() gives the thread 0.1 s and returns while it still sleeps out its second.
    assert not ack_thread.is_alive()
    assert not client.is_connected()


def test_sync_sequence_acks_still_reach_the_service(
    sync_client: Callable[..., WebPubSubClient], fake: FakeWebPubSub
) -> None:
    """While connected, the ack loop keeps acknowledging; waking its sleep does not end it."""
    client = sync_client(["webpubsub.joinLeaveGroup"], protocol_type=RELIABLE)
    ack_thread = client._thread_seq_ack
    got = threading.Event()
    client.subscribe(CallbackType.GROUP_MESSAGE, lambda event: got.set())
    client.join_group("room")
    acks = sent(client, SequenceAckMessage)

    fake.service_client("chat").send_to_group("room", "hi", content_type="text/plain")
    assert got.wait(5)
    assert ack_thread is not None
    _sdk_waits._wake_thread(ack_thread)  # what a join does; otherwise the ack comes within the loop's 1 s period

    assert acks.arrived.wait(5)
    assert [m.sequence_id for m in acks] == [1]
    assert ack_thread.is_alive() and client.is_connected()


def test_a_client_of_no_fake_sleeps_for_real(fake: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client whose socket is not a fake's (here: never opened) keeps the SDK's real back-off."""
    slept: list[float] = []
    monkeypatch.setattr(_sdk_waits, "time", type("Clock", (), {"sleep": staticmethod(slept.append)}))
    client = WebPubSubClient(credential=WebPubSubClientCredential("wss://example.test/client/hubs/chat"))

    with pytest.raises(SendMessageError, match="not connected"):
        client.join_group("room")

    assert slept == [0.8, 1.6, 3.2]


# -- aio -------------------------------------------------------------------------------------------------


@pytest.fixture
async def aio_client(fake: FakeWebPubSub) -> AsyncIterator[Callable[..., Any]]:
    clients: list[sdk_aio.WebPubSubClient] = []
    async with fake.service_client("chat", aio=True) as service:

        async def make(roles: list[str], *, open: bool = True, **options: Any) -> sdk_aio.WebPubSubClient:
            url = (await service.get_client_access_token(user_id="alice", roles=roles))["url"]
            client = sdk_aio.WebPubSubClient(credential=sdk_aio.WebPubSubClientCredential(url), **options)
            clients.append(client)
            if open:
                await client.open()
            return client

        yield make
        for client in clients:
            await client.close()


async def test_aio_reliable_open_and_close_take_no_real_time(aio_client: Callable[..., Any]) -> None:
    # The default protocol, json.reliable.webpubsub.azure.v1.
    client = await aio_client(["webpubsub.joinLeaveGroup"], open=False)

    started = time.perf_counter()
    await client.open()
    ack_task = client._task_seq_ack
    await client.join_group("room")  # any await: the ack task starts and sleeps its first second
    await client.close()
    elapsed = time.perf_counter() - started

    assert elapsed < 0.3  # unpatched: 1.00 s, waiting for the sequence-ack task
    assert ack_task.done() and not ack_task.cancelled()  # it ended by itself, not by wait_for's timeout
    assert not client.is_connected()


@pytest.mark.parametrize("protocol", [JSON, RELIABLE], ids=["json", "reliable"])
async def test_aio_refused_join_makes_every_attempt_without_waiting(
    aio_client: Callable[..., Any], protocol: WebPubSubProtocolType
) -> None:
    client = await aio_client([], protocol_type=protocol)
    joins = sent(client, JoinGroupMessage)

    started = time.perf_counter()
    with pytest.raises(SendMessageError) as refused:
        await client.join_group("room")

    assert time.perf_counter() - started < FAST
    assert refused.value.error_detail.name == "Forbidden"
    assert [m.group for m in joins] == ["room"] * DEFAULT_ATTEMPTS
    assert client.is_connected()


async def test_aio_failing_send_event_makes_every_attempt_without_waiting(aio_client: Callable[..., Any]) -> None:
    client = await aio_client([])
    events = sent(client, SendEventMessage)

    started = time.perf_counter()
    with pytest.raises(SendMessageError) as failed:
        await client.send_event("ping", "hello", WebPubSubDataType.TEXT)

    assert time.perf_counter() - started < FAST
    assert failed.value.error_detail.name == "InternalServerError"
    assert len(events) == DEFAULT_ATTEMPTS


async def test_aio_a_client_of_no_fake_sleeps_for_real(fake: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float, result: Any = None) -> Any:
        slept.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(_sdk_waits.asyncio, "sleep", record)
    client = sdk_aio.WebPubSubClient(credential=sdk_aio.WebPubSubClientCredential("wss://example.test/x"))

    with pytest.raises(AttributeError):  # never opened: the aio SDK fails on its missing socket
        await client.join_group("room")

    assert slept == [0.8, 1.6, 3.2]


# -- install / uninstall ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("seams_unpinned")
def test_install_and_uninstall_are_idempotent_and_restore_the_real_modules() -> None:
    assert not _sdk_waits.installed()
    _sdk_waits.install()
    _sdk_waits.install()
    try:
        assert _sdk_waits.installed()
        assert SYNC_SDK.time is not time and SYNC_SDK.time.time is time.time
        assert SYNC_SDK.threading.Thread is _sdk_waits.WakingThread
        assert SYNC_SDK.threading.Condition is threading.Condition
        assert AIO_SDK.asyncio is not asyncio and AIO_SDK.asyncio.Event is asyncio.Event
    finally:
        _sdk_waits.uninstall()
    _sdk_waits.uninstall()

    assert not _sdk_waits.installed()
    assert (SYNC_SDK.time, SYNC_SDK.threading, AIO_SDK.asyncio) == (time, threading, asyncio)
