"""Service → client frames (service-behaviour §1.4, §5.1, §5.3, §5.4): exact text or bytes on the wire."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from pytest_webpubsub import FakeRequest, FakeWebPubSub
from pytest_webpubsub._core.model import Message, Send
from pytest_webpubsub._protocol import (
    JSON,
    RELIABLE_JSON,
    connected_frame,
    disconnected_frame,
    by_name,
    select,
    json_data,
    message_frame,
    raw_frame,
)

NOW = 1_800_000_000


def sent(message: Message, source: str = "server", group: str | None = None, from_user_id: str | None = None) -> Send:
    return Send("hub", message, source, group, from_user_id)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- system frames


@pytest.mark.parametrize(
    ("args", "frame"),
    [
        (("abcdefghijklmnop", "user1"),
         '{"type":"system","event":"connected","userId":"user1","connectionId":"abcdefghijklmnop"}'),
        (("abcdefghijklmnop", None),
         '{"type":"system","event":"connected","userId":null,"connectionId":"abcdefghijklmnop"}'),
        (("c1", "u1", "token-1"),
         '{"type":"system","event":"connected","userId":"u1","connectionId":"c1","reconnectionToken":"token-1"}'),
        (("c1", None, "token-1"),
         '{"type":"system","event":"connected","userId":null,"connectionId":"c1","reconnectionToken":"token-1"}'),
    ],
    ids=["user", "anonymous", "reliable_user", "reliable_anonymous"],
)
def test_connected_frame(args: tuple[Any, ...], frame: str) -> None:
    assert connected_frame(*args) == frame


@pytest.mark.parametrize(
    ("reason", "frame"),
    [
        ("reason", '{"type":"system","event":"disconnected","message":"reason"}'),
        ("", '{"type":"system","event":"disconnected","message":""}'),
        ('say "bye"', '{"type":"system","event":"disconnected","message":"say \\"bye\\""}'),
        (None, '{"type":"system","event":"disconnected"}'),
    ],
)
def test_disconnected_frame(reason: str | None, frame: str) -> None:
    assert disconnected_frame(reason) == frame


# --------------------------------------------------------------------------------------------- message frames

SERVER_FRAMES = [
    # service-behaviour §1.4 table, then edge cases
    (Message(b"Hello World", "text"), '{"type":"message","from":"server","dataType":"text","data":"Hello World"}'),
    (Message(b'{"Hello":"World"}', "json"),
     '{"type":"message","from":"server","dataType":"json","data":{"Hello":"World"}}'),
    (Message(b'{"Hello": "World"}', "json"),
     '{"type":"message","from":"server","dataType":"json","data":{"Hello":"World"}}'),
    (Message(b'"Hello World"', "json"), '{"type":"message","from":"server","dataType":"json","data":"Hello World"}'),
    (Message(b"[1,2.5,null,true]", "json"),
     '{"type":"message","from":"server","dataType":"json","data":[1,2.5,null,true]}'),
    (Message(b"hello", "binary"), '{"type":"message","from":"server","dataType":"binary","data":"aGVsbG8="}'),
    (Message(b"", "binary"), '{"type":"message","from":"server","dataType":"binary","data":""}'),
    (Message(b"\x00\xff", "binary"), '{"type":"message","from":"server","dataType":"binary","data":"AP8="}'),
    (Message(b"", "text"), '{"type":"message","from":"server","dataType":"text","data":""}'),
    (Message('{"not":"parsed"}'.encode(), "text"),
     '{"type":"message","from":"server","dataType":"text","data":"{\\"not\\":\\"parsed\\"}"}'),
]


@pytest.mark.parametrize(("message", "frame"), SERVER_FRAMES)
def test_server_message_frames(message: Message, frame: str) -> None:
    assert message_frame(sent(message)) == frame


@pytest.mark.parametrize(
    ("message", "from_user_id", "frame"),
    [
        (Message(b"hi", "text"), "abc",
         '{"type":"message","from":"group","group":"g","dataType":"text","data":"hi","fromUserId":"abc"}'),
        (Message(b"hi", "text"), None, '{"type":"message","from":"group","group":"g","dataType":"text","data":"hi"}'),
        (Message(b'{"a":1}', "json"), None,
         '{"type":"message","from":"group","group":"g","dataType":"json","data":{"a":1}}'),
        (Message(b"hello", "binary"), "u",
         '{"type":"message","from":"group","group":"g","dataType":"binary","data":"aGVsbG8=","fromUserId":"u"}'),
    ],
    ids=["client_publish", "rest_publish_omits_from_user_id", "json", "binary"],
)
def test_group_message_frames(message: Message, from_user_id: str | None, frame: str) -> None:
    assert message_frame(sent(message, "group", "g", from_user_id)) == frame


def test_reliable_frames_carry_the_sequence_id_last() -> None:
    frame = message_frame(sent(Message(b"x", "text"), "group", "g", "u"), sequence_id=7)
    assert frame == (
        '{"type":"message","from":"group","group":"g","dataType":"text","data":"x","fromUserId":"u","sequenceId":7}'
    )


def test_non_ascii_text_survives_the_frame() -> None:
    frame = message_frame(sent(Message("héllo 😀".encode(), "text")))
    assert json.loads(frame)["data"] == "héllo 😀"


@pytest.mark.parametrize(
    ("message", "data"),
    [
        (Message(b"t", "text"), "t"),
        (Message(b'{"k":[1]}', "json"), {"k": [1]}),
        (Message(b"\x01\x02", "binary"), "AQI="),
    ],
)
def test_json_data_field(message: Message, data: Any) -> None:
    assert json_data(message) == data


# ------------------------------------------------------------------------------------------------ raw frames


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        (Message(b"Hello World", "text"), "Hello World"),
        (Message(b'{"Hello": "World"}', "json"), '{"Hello": "World"}'),
        (Message(b'"Hello World"', "json"), '"Hello World"'),
        (Message(b"\x00\x01binary", "binary"), b"\x00\x01binary"),
        (Message("é".encode(), "text"), "é"),
    ],
)
def test_simple_clients_get_raw_text_or_binary_frames(message: Message, frame: Any) -> None:
    assert raw_frame(message) == frame
    assert type(raw_frame(message)) is type(frame)


# ----------------------------------------------------------------------------------------- protocol names


@pytest.mark.parametrize(
    ("protocol", "pubsub", "reliable"),
    [
        (None, False, False),
        ("json.webpubsub.azure.v1", True, False),
        ("json.reliable.webpubsub.azure.v1", True, True),
        ("protobuf.webpubsub.azure.v1", False, False),
        ("custom.subprotocol", False, False),
    ],
)
def test_protocol_kinds(protocol: str | None, pubsub: bool, reliable: bool) -> None:
    selected = select([protocol] if protocol is not None else [])
    assert (selected.framed, selected.reliable) == (pubsub, reliable)
    assert selected.name == (protocol if pubsub else None)


@pytest.mark.parametrize(
    ("offered", "selected"),
    [
        ([], None),
        (["custom", "json.reliable.webpubsub.azure.v1", "json.webpubsub.azure.v1"], "json.reliable.webpubsub.azure.v1"),
        (["protobuf.webpubsub.azure.v1", "json.webpubsub.azure.v1"], "json.webpubsub.azure.v1"),
        (["protobuf.reliable.webpubsub.azure.v1"], None),
        (["JSON.webpubsub.azure.v1"], None),
    ],
)
def test_the_first_offered_json_protocol_is_selected(offered: list[str], selected: str | None) -> None:
    assert select(offered).name == selected


@pytest.mark.parametrize("protocol", ["protobuf.webpubsub.azure.v1", "protobuf.reliable.webpubsub.azure.v1", "mqtt"])
def test_unsupported_protocols_are_refused(protocol: str) -> None:
    with pytest.raises(ValueError, match="protocol"):
        by_name(protocol)


# ------------------------------------------------------------------------- frames simulated clients receive


def rest_send(fake: FakeWebPubSub, path: str, body: bytes, content_type: str | None) -> int:
    url = f"{fake.endpoint}/api/hubs/hub{path}?api-version=2024-12-01"
    headers = {"Authorization": "Bearer " + jwt.encode({"aud": url, "exp": NOW + 60}, fake.access_key, "HS256")}
    if content_type:
        headers["Content-Type"] = content_type
    return fake.handle(FakeRequest("POST", url, headers, body)).status_code


@pytest.fixture
def fake() -> FakeWebPubSub:
    return FakeWebPubSub(clock=lambda: NOW)


def test_json_client_frames_from_connect_to_close(fake: FakeWebPubSub) -> None:
    client = fake.connect("hub", user_id="u1", groups=["g"], protocol=JSON)
    cid = client.connection_id
    assert rest_send(fake, "/:send", b"Hello World", "text/plain") == 202
    assert rest_send(fake, "/groups/g/:send", b'{"Hello": "World"}', "application/json") == 202
    assert rest_send(fake, "/users/u1/:send", b"hello", "application/octet-stream") == 202
    assert rest_send(fake, f"/connections/{cid}/:send", b'"Hello World"', "application/json") == 202
    fake._service.close_connection("hub", cid, reason="bye")
    assert client.frames == [
        f'{{"type":"system","event":"connected","userId":"u1","connectionId":"{cid}"}}',
        '{"type":"message","from":"server","dataType":"text","data":"Hello World"}',
        '{"type":"message","from":"group","group":"g","dataType":"json","data":{"Hello":"World"}}',
        '{"type":"message","from":"server","dataType":"binary","data":"aGVsbG8="}',
        '{"type":"message","from":"server","dataType":"json","data":"Hello World"}',
        '{"type":"system","event":"disconnected","message":"bye"}',
    ]


def test_reliable_client_gets_a_reconnection_token_and_sequence_ids_from_1(fake: FakeWebPubSub) -> None:
    client = fake.connect("hub", protocol=RELIABLE_JSON, groups=["g"])
    for body in (b"a", b"b", b"c"):
        rest_send(fake, "/groups/g/:send", body, "text/plain")
    connected = json.loads(client.frames[0])
    assert (connected["type"], connected["event"], connected["userId"]) == ("system", "connected", None)
    assert isinstance(connected["reconnectionToken"], str) and connected["reconnectionToken"]
    assert [json.loads(f)["sequenceId"] for f in client.frames[1:]] == [1, 2, 3]
    assert [m.sequence_id for m in client.received] == [1, 2, 3]


def test_sequence_ids_are_per_connection(fake: FakeWebPubSub) -> None:
    first = fake.connect("hub", protocol=RELIABLE_JSON)
    rest_send(fake, "/:send", b"x", "text/plain")
    second = fake.connect("hub", protocol=RELIABLE_JSON)
    rest_send(fake, "/:send", b"y", "text/plain")
    assert [m.sequence_id for m in first.received] == [1, 2]
    assert [m.sequence_id for m in second.received] == [1]


def test_non_reliable_json_client_frames_have_no_sequence_id_nor_reconnection_token(fake: FakeWebPubSub) -> None:
    client = fake.connect("hub", protocol=JSON)
    rest_send(fake, "/:send", b"x", "text/plain")
    assert all("sequenceId" not in json.loads(f) and "reconnectionToken" not in json.loads(f) for f in client.frames)
    assert client.received[0].sequence_id is None


@pytest.mark.parametrize(
    ("content_type", "body", "frame", "data_type"),
    [
        ("text/plain", b"Hello World", "Hello World", "text"),
        ("application/json", b'{"Hello": "World"}', '{"Hello": "World"}', "text"),
        ("application/json", b'"Hello World"', '"Hello World"', "text"),
        ("application/octet-stream", b"\x00bin", b"\x00bin", "binary"),
        (None, b"raw", b"raw", "binary"),
    ],
)
def test_simple_client_gets_no_system_frames_and_raw_data(
    fake: FakeWebPubSub, content_type: str | None, body: bytes, frame: Any, data_type: str
) -> None:
    client = fake.connect("hub", protocol=None, groups=["g"])
    assert client.frames == []
    assert rest_send(fake, "/groups/g/:send", body, content_type) == 202
    fake._service.close_all("hub", reason="bye")
    assert client.frames == [frame]
    assert (client.received[0].data, client.received[0].data_type, client.received[0].group) == (frame, data_type, "g")
    assert client.close_reason == "bye"


def test_client_side_close_sends_no_disconnected_frame(fake: FakeWebPubSub) -> None:
    client = fake.connect("hub", protocol=JSON)
    client.close()
    assert len(client.frames) == 1
    assert client.close_reason is None
    assert client.is_open is False


def test_service_close_without_reason_sends_disconnected_without_message(fake: FakeWebPubSub) -> None:
    client = fake.connect("hub", protocol=JSON)
    fake._service.close_connection("hub", client.connection_id)
    assert client.frames[-1] == '{"type":"system","event":"disconnected"}'
