"""Malformed and hostile client frames: the connection is closed with 1007 and nothing escapes the fake.

The service reads frames with a strict JSON reader (service-behaviour §5.2): a frame that is not a JSON-protocol
request — wrong types, nesting deeper than 64 levels, ``NaN``, a lone surrogate escape (not valid Unicode), invalid
UTF-8 — ends the connection with ``system/disconnected`` and close code 1007, and changes no state.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._core.jsontext import MAX_DEPTH

from .support import HUB, INVALID_MESSAGE, disconnected

HOSTILE_FRAMES = {
    "type_is_a_list": '{"type":["joinGroup"],"group":"g","ackId":1}',
    "type_is_an_object": '{"type":{"a":1},"group":"g"}',
    "type_is_null": '{"type":null}',
    "data_type_is_a_list": '{"type":"sendToGroup","group":"g","dataType":["text"],"data":"x"}',
    "lone_surrogate_in_data": '{"type":"sendToGroup","group":"g","dataType":"text","data":"\\ud800"}',
    "lone_surrogate_in_key": '{"type":"ping","\\udfff":1}',
    "nan_data": '{"type":"sendToGroup","group":"g","dataType":"json","data":NaN}',
    "infinity_ack_id": '{"type":"joinGroup","group":"g","ackId":Infinity}',
    "deep_nesting": '{"type":"sendToGroup","group":"g","dataType":"json","data":' + "[" * 100_000 + "]" * 100_000 + "}",
    "nesting_one_past_the_limit": '{"type":"sendToGroup","group":"g","data":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}",
    "invalid_utf8_binary": b'{"type":"ping","x":"\xff"}',
    "huge_ack_id_float": '{"type":"joinGroup","group":"g","ackId":1e400}',
}


@pytest.mark.parametrize("frame", HOSTILE_FRAMES.values(), ids=HOSTILE_FRAMES.keys())
def test_hostile_json_frames_close_with_1007_and_change_nothing(webpubsub: FakeWebPubSub, frame: str | bytes) -> None:
    client = webpubsub.connect(HUB, roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    member = webpubsub.connect(HUB, groups=["g"])
    before = webpubsub._service.snapshot(HUB)

    client.send_frame(frame)

    assert (client.is_open, client.close_code, client.close_reason) == (False, 1007, INVALID_MESSAGE)
    assert client.frames[-1] == disconnected(INVALID_MESSAGE)
    assert member.received == []
    assert member.groups == {"g"}
    after = webpubsub._service.snapshot(HUB)
    assert set(after.connections) == set(before.connections) - {client.connection_id}
    assert after.groups == before.groups


def test_nesting_at_the_limit_is_accepted(webpubsub: FakeWebPubSub) -> None:
    depth = MAX_DEPTH - 1  # the frame object itself is one level
    client = webpubsub.connect(HUB, roles=["webpubsub.sendToGroup"])
    member = webpubsub.connect(HUB, groups=["g"])
    data = "[" * (depth - 1) + "]" * (depth - 1)
    client.send_frame('{"type":"sendToGroup","group":"g","data":' + data + "}")
    assert client.is_open
    assert len(member.received) == 1


def test_a_simple_client_text_frame_with_a_lone_surrogate_closes_with_1007(webpubsub: FakeWebPubSub) -> None:
    url = webpubsub.service_client(HUB).get_client_access_token(roles=["webpubsub.sendToGroup"])["url"]
    sender = webpubsub.connect_url(url + "&webpubsub_mode=sendToGroup&group=g", protocol=None)
    member = webpubsub.connect(HUB, groups=["g"], protocol=None)
    sender.send_frame("bad \ud800 text")
    assert (sender.is_open, sender.close_code) == (False, 1007)
    assert member.received == []


FIELDS = st.sampled_from(["type", "group", "ackId", "dataType", "data", "event", "sequenceId", "noEcho"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64),
        st.dictionaries(FIELDS, json_values, max_size=6),
    )
)
def test_any_frame_gets_an_answer_never_an_exception(frame: Any) -> None:
    import json

    raw = json.dumps(frame) if isinstance(frame, dict) else frame
    with FakeWebPubSub() as fake:
        client = fake.connect(HUB, roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], protocol=None
                              if isinstance(raw, bytes) and len(raw) % 7 == 0 else "json.reliable.webpubsub.azure.v1")
        client.send_frame(raw)  # must not raise: an ack, a pong, a message, nothing, or a close
        assert client.is_open or client.close_code in (1007, 1008, 1011)
        probe = fake.connect(HUB)  # the fake is intact: it still connects and delivers
        fake.service_client(HUB).send_to_all("still here", content_type="text/plain")
        assert probe.received[-1].data == "still here"
