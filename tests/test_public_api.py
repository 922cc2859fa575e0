"""The public boundary: what ``pytest_webpubsub`` exports works, and adapter plumbing is not public by name."""

from __future__ import annotations

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

import pytest_webpubsub
from pytest_webpubsub import Ack, AsyncFakeTransport, FakeRequest, FakeResponse, FakeTransport, FakeWebPubSub


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in pytest_webpubsub.__all__:
        value = getattr(pytest_webpubsub, name)
        if name != "__version__":
            assert value.__doc__, f"{name} has no docstring"


def test_adapter_plumbing_is_private_on_the_fixture_object() -> None:
    public = {name for name in dir(FakeWebPubSub) if not name.startswith("_")}
    assert not public & {"handshake", "open_session", "service", "gateway"}


def test_acks_are_returned_as_the_exported_type(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect("chat", roles=["webpubsub.joinLeaveGroup"])
    ack = client.join_group("room")
    assert isinstance(ack, Ack) and ack.success


def test_fake_transport_answers_from_the_fake_with_no_global_patch() -> None:
    fake = FakeWebPubSub()  # not started: nothing is patched
    alice = fake.connect("chat", user_id="alice")
    transport = FakeTransport(fake.handle)
    client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub="chat", transport=transport)
    client.send_to_user("alice", "hi", content_type="text/plain")
    assert alice.received[0].data == "hi"
    assert fake.rest_calls[-1].status_code == 202


async def test_async_fake_transport_answers_from_the_fake_and_sleeps_nothing() -> None:
    fake = FakeWebPubSub()
    fake.inject_fault(503, times=1, retry_after=30)
    alice = fake.connect("chat", user_id="alice")
    transport = AsyncFakeTransport(fake.handle)
    async with AsyncWebPubSubServiceClient.from_connection_string(
        fake.connection_string, hub="chat", transport=transport
    ) as client:
        await client.send_to_user("alice", {"x": 1})
    assert alice.received[0].data == {"x": 1}
    assert [call.status_code for call in fake.rest_calls] == [503, 202]
    assert transport.sleeps == [30]


def test_handle_is_public_for_custom_http_clients() -> None:
    fake = FakeWebPubSub()
    response = fake.handle(FakeRequest("HEAD", f"{fake.endpoint}/api/health", {}))
    assert isinstance(response, FakeResponse) and response.status_code == 200


def test_unknown_names_are_refused() -> None:
    with pytest.raises(AttributeError):
        pytest_webpubsub.NotAThing  # noqa: B018


def test_the_static_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(pytest_webpubsub.__all__) == sorted([*pytest_webpubsub._EXPORTS, "__version__"])
