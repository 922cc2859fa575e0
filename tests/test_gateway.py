"""The connection gateway: upgrades refused as the service refuses them, with the public exception type."""

from __future__ import annotations

import threading

import jwt
import pytest

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub
from pytest_webpubsub.clients import FakeClientConnection


def client_url(fake: FakeWebPubSub, claims: dict[str, object], hub: str = "chat") -> str:
    url = f"wss://{fake.host}/client/hubs/{hub}"
    token = jwt.encode({"aud": url, "exp": 4_000_000_000, **claims}, fake.access_key, "HS256")
    return f"{url}?access_token={token}"


@pytest.mark.parametrize("group", [" ", "", "a\nb", "x" * 1025])
def test_a_token_with_an_invalid_group_claim_is_refused_with_400(webpubsub: FakeWebPubSub, group: str) -> None:
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect_url(client_url(webpubsub, {"webpubsub.group": [group]}))
    assert refused.value.status == 400
    assert webpubsub.connections == []
    assert webpubsub._service.snapshot("chat").connections == {}


def test_connect_with_an_invalid_group_is_refused_with_400(webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(ConnectionRefused, match=r"\(400\)"):
        webpubsub.connect("chat", groups=["  "])


def test_connection_refused_is_the_public_type_and_reads_well(webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect_url(client_url(webpubsub, {}).replace("access_token=", "access_token=x"))
    assert type(refused.value).__module__ == "pytest_webpubsub"
    assert str(refused.value).startswith("pytest-webpubsub: connection refused (401): ")
    assert refused.value.status == 401 and refused.value.reason


def test_a_connection_that_is_not_open_yet_has_a_readable_repr() -> None:
    seen: list[str] = []

    def refuse(link: FakeClientConnection) -> None:
        seen.append(repr(link))
        raise ConnectionRefused("no", status=401)

    with pytest.raises(ConnectionRefused):
        FakeClientConnection(refuse, lambda session, link: None)
    assert seen == ["<FakeClientConnection (not connected)>"]


def test_records_read_from_other_threads_while_the_service_delivers_stay_whole(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect("chat", user_id="alice")
    sender = webpubsub.service_client("chat")
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                client.received  # noqa: B018 - reading renders the pending frames: the racy part
                client.frames  # noqa: B018
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for index in range(600):
            sender.send_to_user("alice", str(index), content_type="text/plain")
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=30)
    assert errors == []
    assert [message.data for message in client.received] == [str(index) for index in range(600)]
    assert len(client.frames) == 601  # system/connected, then one frame per message, each once
