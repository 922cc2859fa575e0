"""The same client stories through every raw WebSocket library: websockets (asyncio and threading),
websocket-client (``create_connection`` and ``WebSocketApp``) and aiohttp, each opening the URL minted by the
official service SDK, with no socket and no port.

Frames are compared as the raw text the service sends; close codes and reasons as the library reports them.
"""

from __future__ import annotations

import threading
from collections.abc import Sized
from typing import Callable

import pytest

from pytest_webpubsub import FakeWebPubSub, _ws_aiohttp, _ws_websocket_client, _ws_websockets

from .drivers import JSON, PUBLISHER, RELIABLE, Closed, Driver

URL = Callable[..., str]


def test_simple_client_gets_rest_sends_as_raw_frames(driver: Driver, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    client = driver.open(client_url(user_id="ann"))
    assert client.subprotocol is None
    service = webpubsub.service_client("chat")

    service.send_to_all("plain text", content_type="text/plain")
    service.send_to_all({"n": 1})
    service.send_to_all(b"\x00\x01", content_type="application/octet-stream")

    assert client.recv() == "plain text"
    assert client.recv() == '{"n": 1}'  # the SDK's JSON, as sent
    assert client.recv() == b"\x00\x01"
    client.close()


def test_simple_client_in_send_to_group_mode_publishes_its_frames(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    listener = webpubsub.connect("chat", user_id="lee", groups=["room"])
    url = client_url(user_id="ann", roles=["webpubsub.sendToGroup.room"]) + "&webpubsub_mode=sendToGroup&group=room"
    client = driver.open(url)

    client.send("hello room")
    client.send(b"\x07")

    client.close()  # frames are handled as they arrive: both are published before the close
    assert [message.data for message in listener.received] == ["hello room", b"\x07"]
    webpubsub.assert_delivered(group="room", to=listener, data="hello room")


def test_simple_client_in_send_event_mode_is_closed_with_1011(driver: Driver, client_url: URL) -> None:
    client = driver.open(client_url(user_id="ann"))
    client.send("anyone?")

    ended = client.closed()

    assert (ended.code, ended.reason) == (1011, "No event handler is registered for the 'message' event.")


def test_json_client_joins_sends_to_its_group_and_gets_acks(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    client = driver.open(client_url(user_id="ann", roles=PUBLISHER), [JSON])
    assert client.subprotocol == JSON
    connected = client.recv_json()
    assert connected["type"] == "system" and connected["event"] == "connected" and connected["userId"] == "ann"
    connection_id = connected["connectionId"]

    client.send_json({"type": "joinGroup", "group": "room", "ackId": 1})
    assert client.recv() == '{"type":"ack","ackId":1,"success":true}'
    client.send_json({"type": "sendToGroup", "group": "room", "data": {"hi": 1}, "ackId": 2})
    frames = {client.recv(), client.recv()}
    client.send_json({"type": "joinGroup", "group": "room", "ackId": 1})
    duplicate = client.recv_json()
    client.send_json({"type": "event", "event": "ping", "dataType": "text", "data": "x", "ackId": 3})
    event_ack = client.recv_json()
    client.close()

    assert frames == {
        '{"type":"ack","ackId":2,"success":true}',
        '{"type":"message","from":"group","group":"room","dataType":"json","data":{"hi":1},"fromUserId":"ann"}',
    }
    assert duplicate["error"]["name"] == "Duplicate"
    assert event_ack["success"] is False and event_ack["error"]["name"] == "InternalServerError"
    webpubsub.assert_delivered(to=connection_id, group="room", data={"hi": 1}, times=1)


def test_json_client_without_permission_gets_a_forbidden_ack(driver: Driver, client_url: URL) -> None:
    client = driver.open(client_url(user_id="ann"), [JSON])
    client.recv_json()

    client.send_json({"type": "joinGroup", "group": "room", "ackId": 9})

    ack = client.recv_json()
    assert ack["ackId"] == 9 and ack["success"] is False and ack["error"]["name"] == "Forbidden"
    client.close()


def test_reliable_client_gets_sequence_ids_and_acknowledges_them(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    client = driver.open(client_url(user_id="ann", groups=["room"]), ["unknown.protocol", RELIABLE, JSON])
    assert client.subprotocol == RELIABLE
    connected = client.recv_json()
    assert connected["reconnectionToken"]
    service = webpubsub.service_client("chat")

    service.send_to_group("room", "one", content_type="text/plain")
    service.send_to_group("room", "two", content_type="text/plain")
    first, second = client.recv_json(), client.recv_json()
    client.send_json({"type": "sequenceAck", "sequenceId": 2})
    client.send_json({"type": "ping"})

    assert (first["data"], first["sequenceId"]) == ("one", 1)
    assert (second["data"], second["sequenceId"]) == ("two", 2)
    assert client.recv() == '{"type":"pong"}'
    client.close()


def test_rest_sends_from_another_thread_arrive_in_order_while_the_client_waits(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    client = driver.open(client_url(user_id="ann"))
    service = webpubsub.service_client("chat")
    sender = threading.Thread(
        target=lambda: [service.send_to_user("ann", f"m{i}", content_type="text/plain") for i in range(30)]
    )

    sender.start()  # the client is (or soon will be) waiting in recv() when the first send lands
    received = [client.recv() for _ in range(30)]
    sender.join()

    assert received == [f"m{i}" for i in range(30)]
    client.close()


def test_client_close_ends_the_connection_with_1000(driver: Driver, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    client = driver.open(client_url(user_id="ann"), [JSON])
    connection_id = client.recv_json()["connectionId"]

    client.close()

    assert client.close_code == 1000  # type: ignore[attr-defined]
    closes = [event for event in webpubsub.lifecycle if event.kind == "close"]
    assert [(event.connection_id, event.reason) for event in closes] == [(connection_id, None)]
    assert not webpubsub.service_client("chat").connection_exists(connection_id)


def test_rest_close_sends_disconnected_then_closes_with_1000(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    client = driver.open(client_url(user_id="ann"), [JSON])
    connection_id = client.recv_json()["connectionId"]

    webpubsub.service_client("chat").close_connection(connection_id, reason="maintenance")

    assert client.recv() == '{"type":"system","event":"disconnected","message":"maintenance"}'
    ended = client.closed()
    assert (ended.code, ended.reason) == (1000, "maintenance")


def test_malformed_frame_closes_with_1007(driver: Driver, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    client = driver.open(client_url(user_id="ann"), [JSON])
    connection_id = client.recv_json()["connectionId"]

    client.send('{"type": "joinGroup"')

    reason = "The client message is not a valid JSON protocol message."
    assert client.recv_json() == {"type": "system", "event": "disconnected", "message": reason}
    ended = client.closed()
    assert (ended.code, ended.reason) == (1007, reason)
    assert [event.reason for event in webpubsub.lifecycle if event.connection_id == connection_id][-1] == reason


def test_refused_token_raises_the_librarys_handshake_error_with_401(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    url = client_url(user_id="ann").replace("access_token=", "access_token=x")

    with pytest.raises(driver.refusal) as refused:
        driver.open(url, [JSON])

    assert driver.status(refused.value) == 401
    assert webpubsub.lifecycle == ()


def test_token_in_the_authorization_header(driver: Driver, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    token = webpubsub.service_client("chat").get_client_access_token(user_id="ann")["token"]
    base = client_url(user_id="ann").split("?")[0]

    client = driver.open(base, [JSON], headers={"Authorization": f"Bearer {token}"})

    assert client.recv_json()["userId"] == "ann"
    client.close()


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)
def test_an_azure_host_no_fake_owns_fails_like_a_network_error(driver: Driver, client_url: URL) -> None:
    url = client_url(user_id="ann").replace("fake.webpubsub.azure.com", "elsewhere.webpubsub.azure.com")

    with pytest.raises(driver.network_error, match="no fake owns 'elsewhere.webpubsub.azure.com'"):
        driver.open(url)


def test_two_fakes_at_once_each_serve_their_own_clients(
    driver: Driver, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    with FakeWebPubSub(endpoint="https://second.webpubsub.azure.com") as second:
        other_url = second.service_client("chat").get_client_access_token(user_id="bob")["url"]
        ours, theirs = driver.open(client_url(user_id="ann")), driver.open(other_url)

        webpubsub.service_client("chat").send_to_all("to ann", content_type="text/plain")
        second.service_client("chat").send_to_all("to bob", content_type="text/plain")

        assert ours.recv() == "to ann"
        assert theirs.recv() == "to bob"
        second.assert_delivered(user="bob", data="to bob", times=1)
        webpubsub.assert_not_delivered(user="bob")
        ours.close()
        theirs.close()


def test_a_stopping_fake_closes_open_clients_with_1001(driver: Driver, client_url: URL) -> None:
    with FakeWebPubSub(endpoint="https://second.webpubsub.azure.com") as second:
        url = second.service_client("chat").get_client_access_token(user_id="bob")["url"]
        client = driver.open(url, [JSON])
        client.recv_json()

    assert client.recv_json()["event"] == "disconnected"
    ended = client.closed()
    assert ended.code == 1001


def test_nothing_is_sent_after_the_close(driver: Driver, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    client = driver.open(client_url(user_id="ann"))
    client.close()

    webpubsub.service_client("chat").send_to_all("late", content_type="text/plain")

    webpubsub.assert_not_delivered(data="late")
    with pytest.raises(Closed):
        client.recv()


def test_closed_clients_leave_nothing_in_the_seams_registries(driver: Driver, client_url: URL) -> None:
    registries: list[Sized] = [_ws_aiohttp.SEAM.sockets, _ws_websocket_client.SEAM.sockets, _ws_websockets.SEAM.sockets]
    client = driver.open(client_url(user_id="ann"))
    assert sum(len(registry) for registry in registries) == 1

    client.close()

    assert sum(len(registry) for registry in registries) == 0
