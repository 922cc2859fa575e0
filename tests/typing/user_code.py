"""Code as a user writes it, type-checked by CI's ``mypy --strict`` (it is in mypy's ``files``), never run.

It proves the package's public names are explicit re-exports with useful types.
"""

from __future__ import annotations

from pytest_webpubsub import (
    Ack,
    ConnectionRefused,
    Delivery,
    FakeClientConnection,
    FakeRequest,
    FakeResponse,
    FakeTransport,
    FakeWebPubSub,
    HubSnapshot,
    ReceivedMessage,
    RestCall,
    UpstreamCall,
)


def room_test(webpubsub: FakeWebPubSub) -> None:
    alice: FakeClientConnection = webpubsub.connect("chat", user_id="alice", groups=["room"])
    ack: Ack | None = alice.join_group("other")
    assert ack is None or ack.success
    received: list[ReceivedMessage] = alice.received
    found: list[Delivery] = webpubsub.assert_delivered(to=alice, times=len(received))
    calls: list[RestCall] = webpubsub.rest_calls
    upstream: list[UpstreamCall] = webpubsub.upstream_calls
    snapshot: HubSnapshot = webpubsub.snapshot("chat")
    response: FakeResponse = webpubsub.handle(FakeRequest("HEAD", f"{webpubsub.endpoint}/api/health", {}))
    transport = FakeTransport(webpubsub.handle)
    assert len((found, calls, upstream, snapshot, response, transport)) == 6
    try:
        webpubsub.connect_url("wss://elsewhere/client/hubs/chat")
    except ConnectionRefused as refused:
        status: int = refused.status
        assert status
