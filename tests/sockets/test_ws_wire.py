"""The wire server alone, fed bytes by hand: the upgrade, RFC 6455 framing and what hostile bytes get back.

No client library here: every request and frame is built in the test, so each rule is checked on its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Callable, Optional

import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._hosts import HOSTS
from pytest_webpubsub._ws_wire import WireServer

from .drivers import JSON, PUBLISHER

URL = Callable[..., str]
KEY = base64.b64encode(b"0123456789abcdef").decode()


# -- the RFC 6455 oracle: what a server must send, written here independently of the implementation -----------


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1((key + guid).encode("ascii")).digest()).decode("ascii")


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame as a server sends it."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def close_payload(code: int, reason: str) -> bytes:
    """A close frame's body: the code and the UTF-8 reason cut to the 123 bytes a control frame allows."""
    return struct.pack("!H", code) + reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")


def request(url: str, *, protocols: str = "", extra: str = "", upgrade: str = "websocket") -> bytes:
    target = url.split("/", 3)[3]
    lines = [f"GET /{target} HTTP/1.1", "Host: fake.webpubsub.azure.com", f"Upgrade: {upgrade}", "Connection: Upgrade"]
    lines += [f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """A client frame (masked unless told otherwise)."""
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, size)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Server frames as (opcode, payload); they are unmasked and final."""
    frames = []
    while data:
        assert data[0] & 0x80 and not data[1] & 0x80
        size, offset = data[1] & 0x7F, 2
        if size == 126:
            size, offset = struct.unpack_from("!H", data, 2)[0], 4
        elif size == 127:
            size, offset = struct.unpack_from("!Q", data, 2)[0], 10
        frames.append((data[0] & 0x0F, data[offset : offset + size]))
        data = data[offset + size :]
    return frames


class Peer:
    """The client end: feeds bytes, collects what the server wrote and counts wake-ups."""

    def __init__(self, webpubsub: FakeWebPubSub, url: Optional[str] = None) -> None:
        owner = HOSTS.owner(webpubsub.endpoint)
        assert owner is not None
        self.wakes = 0
        self.wire = WireServer(url or f"wss://{webpubsub.host}/", owner.gateway, self._wake)

    def _wake(self) -> None:
        self.wakes += 1

    def send(self, data: bytes) -> None:
        self.wire.feed(data)

    def upgrade(self, url: str, **options: str) -> tuple[str, list[tuple[int, bytes]]]:
        self.send(request(url, **options))
        return self.take()

    def take(self) -> tuple[str, list[tuple[int, bytes]]]:
        data, _ = self.wire.take()
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/"):
            return "", read_frames(data)
        return head.decode(), read_frames(rest) if head.startswith(b"HTTP/1.1 101") else [(0, rest)]

    def frames(self) -> list[tuple[int, bytes]]:
        data, _ = self.wire.take()
        return read_frames(data)


@pytest.fixture
def peer(webpubsub: FakeWebPubSub) -> Peer:
    return Peer(webpubsub)


def test_upgrade_answers_101_with_the_accept_key_and_selected_protocol(peer: Peer, client_url: URL) -> None:
    head, frames = peer.upgrade(client_url(user_id="ann"), protocols="custom, json.webpubsub.azure.v1")

    status, *headers = head.splitlines()
    assert status.split(" ")[:2] == ["HTTP/1.1", "101"]  # the reason phrase is optional (wsproto 1.2 sends none)
    pairs = [tuple(part.strip() for part in header.split(":", 1)) for header in headers]
    # header names are case-insensitive, and so is the Upgrade token (wsproto 1.2 writes "WebSocket")
    assert [(name.lower(), value.lower() if name.lower() == "upgrade" else value) for name, value in pairs] == [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", accept_key(KEY)),
        ("sec-websocket-protocol", JSON),
    ]
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
    assert json.loads(frames[0][1])["event"] == "connected"


def test_request_split_across_writes_is_read_once_complete(peer: Peer, client_url: URL) -> None:
    raw = request(client_url(user_id="ann"))
    peer.send(raw[:10])
    assert peer.wire.take() == (b"", False)

    peer.send(raw[10:])

    assert peer.take()[0].startswith("HTTP/1.1 101")


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda raw: raw.replace(b"Upgrade: websocket", b"Upgrade: h2c"), 400),
        (lambda raw: raw.replace(b"Sec-WebSocket-Key", b"X-Key"), 400),
        (lambda raw: raw.replace(b"GET ", b"POST "), 400),
        (lambda raw: raw.replace(b"access_token=", b"access_token=x"), 401),
        (lambda raw: raw.replace(b"/client/hubs/chat", b"/client/mqtt/hubs/chat"), 401),
        (lambda raw: raw.replace(b"?", b"?webpubsub_mode=nonsense&"), 400),
    ],
    ids=["not-websocket", "no-key", "not-get", "bad-token", "other-path", "bad-mode"],
)
def test_refused_upgrades_get_the_status_and_open_nothing(
    peer: Peer, client_url: URL, webpubsub: FakeWebPubSub, mangle: Callable[[bytes], bytes], status: int
) -> None:
    peer.send(mangle(request(client_url(user_id="ann"))))

    data, ended = peer.wire.take()
    assert data.startswith(f"HTTP/1.1 {status} ".encode()) and ended
    assert b"Content-Length" in data
    assert webpubsub.lifecycle == ()


def test_an_endless_request_head_is_refused_with_431(peer: Peer) -> None:
    peer.send(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70_000)

    data, ended = peer.wire.take()
    assert data.startswith(b"HTTP/1.1 431 ") and ended


def test_fragmented_and_large_messages_are_reassembled(peer: Peer, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    listener = webpubsub.connect("chat", groups=["room"])
    url = client_url(user_id="ann", roles=PUBLISHER) + "&webpubsub_mode=sendToGroup&group=room"
    peer.upgrade(url)
    big = b"x" * 70_000

    peer.send(frame(0x1, b"hel", fin=False) + frame(0x9, b"ping in between") + frame(0x0, b"lo"))
    peer.send(frame(0x2, big))

    assert [message.data for message in listener.received] == ["hello", big]
    assert peer.frames() == [(0xA, b"ping in between")]


@pytest.mark.parametrize(
    "bad",
    [
        frame(0x1, b"x", masked=False),
        frame(0x1, b"x", rsv=0x40),
        frame(0x3, b"x"),
        frame(0x9, b"x", fin=False),
        frame(0x9, b"p" * 126),
        frame(0x0, b"x"),
        frame(0x8, b"\x03"),
        frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
    ],
    ids=[
        "unmasked",
        "reserved-bit",
        "unknown-opcode",
        "fragmented-ping",
        "long-ping",
        "stray-continuation",
        "one-byte-close",
        "interleaved-message",
    ],
)
def test_framing_errors_close_with_1002(peer: Peer, client_url: URL, webpubsub: FakeWebPubSub, bad: bytes) -> None:
    head, frames = peer.upgrade(client_url(user_id="ann"), protocols=JSON)
    connection_id = json.loads(frames[0][1])["connectionId"]

    peer.send(bad)

    ((opcode, payload),) = peer.frames()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002
    assert peer.wire.ended
    assert not webpubsub.service_client("chat").connection_exists(connection_id)


def test_a_text_frame_that_is_not_utf8_closes_with_1007(peer: Peer, client_url: URL) -> None:
    peer.upgrade(client_url(user_id="ann"))

    peer.send(frame(0x1, b"\xff\xfe"))

    assert peer.frames() == [(0x8, close_payload(1007, "Invalid UTF-8 in a text frame."))]


def test_client_close_is_echoed_and_ends_the_stream(peer: Peer, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    peer.upgrade(client_url(user_id="ann"))

    peer.send(frame(0x8, struct.pack("!H", 4000) + b"my reason") + frame(0x1, b"after the close"))

    assert peer.frames() == [(0x8, struct.pack("!H", 4000))]
    assert peer.wire.ended
    assert [event.kind for event in webpubsub.lifecycle] == ["open", "close"]


def test_after_the_server_close_data_is_ignored_until_the_client_answers(
    peer: Peer, client_url: URL, webpubsub: FakeWebPubSub
) -> None:
    head, frames = peer.upgrade(client_url(user_id="ann"), protocols=JSON)
    connection_id = json.loads(frames[0][1])["connectionId"]
    webpubsub.service_client("chat").close_connection(connection_id, reason="bye")
    assert [opcode for opcode, _ in peer.frames()] == [0x1, 0x8]

    peer.send(frame(0x1, b'{"type":"ping"}'))
    assert peer.frames() == [] and not peer.wire.ended
    peer.send(frame(0x8, struct.pack("!H", 1000)))

    assert peer.frames() == [] and peer.wire.ended


def test_a_lost_link_drops_the_connection(peer: Peer, client_url: URL, webpubsub: FakeWebPubSub) -> None:
    peer.upgrade(client_url(user_id="ann"))

    peer.wire.lost()

    assert [(event.kind, event.reason) for event in webpubsub.lifecycle][-1] == ("close", "The connection was dropped.")
    webpubsub.service_client("chat").send_to_all("nobody", content_type="text/plain")
    assert peer.wire.take() == (b"", True)


def test_writes_wake_the_reader_and_nothing_is_written_after_the_end(peer: Peer, client_url: URL) -> None:
    peer.upgrade(client_url(user_id="ann"))
    before = peer.wakes

    peer.send(frame(0x8, b""))
    peer.send(frame(0x1, b"ignored"))

    assert peer.wakes > before
    assert peer.frames() == [(0x8, b"")]


def test_close_reasons_are_cut_to_a_valid_control_frame() -> None:
    payload = close_payload(1000, "é" * 100)

    assert len(payload) <= 125
    payload[2:].decode("utf-8")
    assert server_frame(0x1, b"a" * 70_000)[1] == 127
