"""The arms the benchmarks time: each sets one thing up, yields the one call to measure, then tears it down.

An arm takes a size (connected clients, group members) and is a context manager yielding a zero-argument call.
Floors (``send_floor``, ``group_floor``, ``app_floor``) use :class:`floor.BareTransport` and no code of
pytest-webpubsub; ``loop`` is the least any fan-out can do.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "examples" / "chat")]

from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402
from floor import BareTransport  # noqa: E402

from pytest_webpubsub import FakeResponse, FakeWebPubSub  # type: ignore[attr-defined]  # noqa: E402
from pytest_webpubsub.transport import FakeTransport  # noqa: E402

HUB = "bench"
ENDPOINT = "https://fake.webpubsub.azure.com"
ACCESS_KEY = "YmVuY2htYXJrLWZsb29yLWtleS0wMDAwMDAwMDAwMDAwMDE="  # 44 characters, as a real key
FLOOR_CONNECTION_STRING = f"Endpoint={ENDPOINT};AccessKey={ACCESS_KEY};Version=1.0;"
MESSAGE = {"event": "tick", "value": 1}

Call = Callable[[], None]
Arm = Callable[[int], contextlib.AbstractContextManager[Call]]
"""An arm: given a size (connections, members), set up and yield the one call to measure, then tear down."""



def floor_client() -> Any:
    """An SDK client whose transport answers an empty 202: the SDK's pipeline and nothing else."""
    return WebPubSubServiceClient.from_connection_string(FLOOR_CONNECTION_STRING, hub=HUB, transport=BareTransport())


@contextlib.contextmanager
def fake_with_clients(connections: int, groups: tuple[str, ...] = ()) -> Iterator[FakeWebPubSub]:
    """An active fake with ``connections`` JSON clients in ``hub`` (members of ``groups``)."""
    with FakeWebPubSub() as fake:
        for index in range(connections):
            fake.connect(HUB, user_id=f"user-{index}", groups=groups)
        yield fake


@contextlib.contextmanager
def send_floor(connections: int) -> Iterator[Call]:
    client = floor_client()
    yield lambda: client.send_to_all(MESSAGE)


@contextlib.contextmanager
def send_fake(connections: int) -> Iterator[Call]:
    with fake_with_clients(connections) as fake:
        client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=HUB)
        yield lambda: client.send_to_all(MESSAGE)
        calls = sum(1 for call in fake.rest_calls if call.status_code == 202)
        assert len(fake.deliveries) == connections * calls, "the fake did not deliver every message"


@contextlib.contextmanager
def send_fake_transport(connections: int) -> Iterator[Call]:
    """The project's own ``FakeTransport`` with a canned 202 (the former floor; shares code with the fake)."""
    canned = FakeResponse(202, {"Content-Length": "0"})
    client = WebPubSubServiceClient.from_connection_string(
        FLOOR_CONNECTION_STRING, hub=HUB, transport=FakeTransport(lambda request: canned)
    )
    yield lambda: client.send_to_all(MESSAGE)


@contextlib.contextmanager
def group_floor(members: int) -> Iterator[Call]:
    client = floor_client()
    yield lambda: client.send_to_group("room", MESSAGE)


@contextlib.contextmanager
def group_fake(members: int) -> Iterator[Call]:
    with fake_with_clients(members, groups=("room",)) as fake:
        client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=HUB)
        yield lambda: client.send_to_group("room", MESSAGE)
        assert len(fake.deliveries) % members == 0 and fake.deliveries, "the fake did not deliver every message"


@contextlib.contextmanager
def bare_loop(members: int) -> Iterator[Call]:
    """The least any fan-out can do: append one shared object to ``members`` lists."""
    inboxes: list[list[object]] = [[] for _ in range(members)]
    shared = object()

    def call() -> None:
        for inbox in inboxes:
            inbox.append(shared)

    yield call


def chat_service(connection_string: str, transport: Any = None) -> Any:
    """The example chat app's service object (``examples/chat``), as its own code builds it."""
    from chat_app import ChatService  # type: ignore[import-not-found]

    environment = {"WEBPUBSUB_CONNECTION_STRING": connection_string, "WEBPUBSUB_HUB": "chat"}
    with mock.patch.dict(os.environ, environment):
        service = ChatService()
    if transport is not None:
        service.client = WebPubSubServiceClient.from_connection_string(connection_string, hub="chat",
                                                                        transport=transport)
    return service


def post(service: Any) -> Call:
    return lambda: service.post_to_room("lobby", author="alice", text="hello")


@contextlib.contextmanager
def app_fake(size: int) -> Iterator[Call]:
    with FakeWebPubSub() as fake:
        bob = fake.connect("chat", user_id="bob", groups=["lobby"])
        yield post(chat_service(fake.connection_string))
        assert bob.received and bob.received[-1].data == {"author": "alice", "text": "hello"}


@contextlib.contextmanager
def app_responses(size: int) -> Iterator[Call]:
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.POST, re.compile(re.escape(ENDPOINT) + r"/api/hubs/chat/groups/lobby/:send"),
                   status=202)
        yield post(chat_service(FLOOR_CONNECTION_STRING))
        assert mocked.calls, "responses answered nothing"


@contextlib.contextmanager
def app_mock(size: int) -> Iterator[Call]:
    service = chat_service(FLOOR_CONNECTION_STRING)
    with mock.patch.object(WebPubSubServiceClient, "send_to_group") as patched:
        yield post(service)
        assert patched.called


@contextlib.contextmanager
def app_floor(size: int) -> Iterator[Call]:
    yield post(chat_service(FLOOR_CONNECTION_STRING, transport=BareTransport()))


ARMS: dict[str, Arm] = {
    "send_floor": send_floor,
    "send_fake": send_fake,
    "send_fake_transport": send_fake_transport,
    "group_floor": group_floor,
    "group_fake": group_fake,
    "loop": bare_loop,
    "app_floor": app_floor,
    "app_fake": app_fake,
    "app_responses": app_responses,
    "app_mock": app_mock,
}
