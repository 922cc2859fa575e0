"""websocket-client (``import websocket``) against the fake: ``create_connection``, ``WebSocket().connect`` and
``WebSocketApp``, all through the one patched connect function; the library keeps its own handshake and framing.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable
from urllib.parse import quote

import pytest
import websocket
from azure.messaging.webpubsubclient import _client as sdk

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._sdk_sync import FakeWebSocketAppSync
from pytest_webpubsub._ws_websocket_client import SEAM, FakeSocket

from .drivers import JSON, PUBLISHER, RELIABLE, TIMEOUT

URL = Callable[..., str]
ORIGINAL_CONNECT = websocket._core.connect  # type: ignore[attr-defined]
ORIGINAL_DISPATCHER = websocket.WebSocketApp.create_dispatcher


def test_websocket_object_connects_sends_and_receives(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    ws = websocket.WebSocket()
    ws.connect(client_url(user_id="ann", roles=PUBLISHER), subprotocols=[JSON], timeout=TIMEOUT)  # type: ignore[no-untyped-call]

    assert isinstance(ws.sock, FakeSocket)
    assert ws.getsubprotocol() == JSON and ws.getstatus() == 101
    connection_id = json.loads(ws.recv())["connectionId"]
    ws.send(json.dumps({"type": "joinGroup", "group": "room", "ackId": 1}))
    assert json.loads(ws.recv())["success"] is True
    webpubsub.service_client("chat").send_to_group("room", b"\x01\x02", content_type="application/octet-stream")
    message = json.loads(ws.recv())
    ws.close()

    assert (message["dataType"], message["data"]) == ("binary", "AQI=")
    webpubsub.assert_delivered(to=connection_id, data=b"\x01\x02")
    assert not webpubsub.service_client("chat").connection_exists(connection_id)


def test_send_binary_and_recv_data_on_a_simple_client(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat", groups=["room"])
    url = client_url(user_id="ann", roles=["webpubsub.sendToGroup.room"]) + "&webpubsub_mode=sendToGroup&group=room"
    ws = websocket.create_connection(url, timeout=TIMEOUT)
    ws.send_binary(b"\x00raw")
    webpubsub.service_client("chat").send_to_all(b"\xff", content_type="application/octet-stream")

    assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\xff")
    ws.close()
    assert [message.data for message in listener.received] == [b"\x00raw", b"\xff"]


def test_recv_times_out_with_the_librarys_exception(client_url: URL) -> None:
    ws = websocket.create_connection(client_url(user_id="ann"), timeout=0.01)

    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()
    ws.close()


def test_only_unknown_subprotocols_fail_the_handshake_as_websocket_client_does(client_url: URL) -> None:
    with pytest.raises(websocket.WebSocketException, match="Invalid WebSocket Header"):
        websocket.create_connection(client_url(user_id="ann"), subprotocols=["custom.v1"])


def test_refused_token_is_bad_status_401_with_the_reason(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(client_url(user_id="ann", minutes_to_expire=-1))

    assert refused.value.status_code == 401
    assert b"expired" in (refused.value.resp_body or b"")
    assert webpubsub.lifecycle == ()


def test_reliable_connection_recovers_after_shutdown(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    ws = websocket.create_connection(client_url(user_id="ann", groups=["room"]), subprotocols=[RELIABLE])
    connected = json.loads(ws.recv())
    ws.shutdown()  # type: ignore[no-untyped-call]  # the socket goes away without a close frame
    webpubsub.service_client("chat").send_to_group("room", "missed", content_type="text/plain")

    again = websocket.create_connection(
        f"wss://{webpubsub.host}/client/hubs/chat?awps_connection_id={connected['connectionId']}"
        f"&awps_reconnection_token={quote(connected['reconnectionToken'])}",
        subprotocols=[RELIABLE],
    )

    assert json.loads(again.recv())["connectionId"] == connected["connectionId"]
    assert json.loads(again.recv())["data"] == "missed"
    again.close()


def test_web_socket_app_callbacks_and_a_server_close(client_url: URL, webpubsub: FakeWebPubSub) -> None:
    events: list[Any] = []
    done = threading.Event()

    def on_message(app: websocket.WebSocketApp, message: str) -> None:
        frame = json.loads(message)
        events.append(("message", frame.get("event") or frame.get("data")))
        if frame.get("event") == "connected":
            service = webpubsub.service_client("chat")
            service.send_to_connection(frame["connectionId"], "hello", content_type="text/plain")
            service.close_connection(frame["connectionId"], reason="bye")

    def on_close(app: websocket.WebSocketApp, code: Any, reason: Any) -> None:
        events.append(("close", code, reason))
        done.set()

    app = websocket.WebSocketApp(
        client_url(user_id="ann"),
        subprotocols=[JSON],
        on_open=lambda app: events.append(("open",)),
        on_message=on_message,
        on_close=on_close,
    )
    runner = threading.Thread(target=app.run_forever, daemon=True)
    runner.start()

    assert done.wait(TIMEOUT)
    runner.join(TIMEOUT)
    assert not runner.is_alive()
    # websocket-client hands the peer's close frame to on_close from 1.9.2 on (before: None, None), as with a server
    closed = ("close", 1000, "bye") if _version(websocket.__version__) >= (1, 9, 2) else ("close", None, None)
    assert events == [
        ("open",),
        ("message", "connected"),
        ("message", "hello"),
        ("message", "disconnected"),
        closed,
    ]


def test_web_socket_app_with_a_refused_token_reports_the_error_and_returns(client_url: URL) -> None:
    errors: list[BaseException] = []
    app = websocket.WebSocketApp(
        client_url(user_id="ann").replace("access_token=", "access_token=x"), on_error=lambda app, e: errors.append(e)
    )

    assert app.run_forever() is True  # returns at once, on this thread
    assert isinstance(errors[0], websocket.WebSocketBadStatusException) and errors[0].status_code == 401


def test_the_client_sdk_keeps_its_own_socket_class(client_url: URL) -> None:
    app = sdk.WebSocketAppSync(client_url(user_id="ann"))

    assert isinstance(app, FakeWebSocketAppSync)


def test_other_hosts_use_the_original_function(webpubsub: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    class Reached(Exception):
        pass

    def original(url: str, *args: Any) -> Any:
        raise Reached(url)

    monkeypatch.setitem(SEAM._originals, "connect", original)

    with pytest.raises(Reached, match="ws://example.test/x"):
        websocket.create_connection("ws://example.test/x")


@pytest.mark.usefixtures("seams_unpinned")
def test_patches_exist_only_while_a_fake_is_active() -> None:
    assert websocket._core.connect is ORIGINAL_CONNECT  # type: ignore[attr-defined]
    with FakeWebPubSub():
        assert websocket._core.connect is not ORIGINAL_CONNECT  # type: ignore[attr-defined]
        assert websocket.WebSocketApp.create_dispatcher is not ORIGINAL_DISPATCHER
    assert websocket._core.connect is ORIGINAL_CONNECT  # type: ignore[attr-defined]
    assert websocket.WebSocketApp.create_dispatcher is ORIGINAL_DISPATCHER


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())
