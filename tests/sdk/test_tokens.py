"""get_client_access_token through the real SDK: minted locally with a key, by ``:generateToken`` with Entra ID
(service-behaviour §1.6, §3); the URL it returns connects to the fake."""

from __future__ import annotations

from urllib.parse import parse_qs

import jwt
import pytest

from pytest_webpubsub import FakeWebPubSub

from .support import ENTRA_SCOPE, HUB, Sdk, data_frames

BASE_URL = "wss://fake.webpubsub.azure.com/client/hubs/chat"


def _claims(token: str, webpubsub: FakeWebPubSub) -> dict[str, object]:
    return jwt.decode(token, webpubsub.access_key, algorithms=["HS256"], options={"verify_aud": False})


async def test_token_with_user_roles_and_groups_connects(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    access = await sdk.get_client_access_token(
        user_id="alice", roles=["webpubsub.sendToGroup.room"], groups=["room", "lobby"], minutes_to_expire=5
    )

    assert set(access) == {"baseUrl", "token", "url"}
    assert access["baseUrl"] == BASE_URL
    assert access["url"] == f"{BASE_URL}?access_token={access['token']}"
    claims = _claims(access["token"], webpubsub)
    assert claims["aud"] == "https://fake.webpubsub.azure.com/client/hubs/chat"
    assert claims["sub"] == "alice"
    assert claims["role"] == ["webpubsub.sendToGroup.room"]
    assert claims["webpubsub.group"] == ["room", "lobby"]
    assert claims["exp"] - claims["iat"] == 5 * 60

    alice = webpubsub.connect_url(access["url"])

    assert (alice.hub, alice.user_id, alice.groups) == (HUB, "alice", {"room", "lobby"})
    assert await sdk.has_permission("sendToGroup", alice.connection_id, target_name="room") is True
    assert await sdk.has_permission("sendToGroup", alice.connection_id, target_name="lobby") is False
    await sdk.send_to_group("lobby", "hi", content_type="text/plain")
    assert data_frames(alice) == [
        {"type": "message", "from": "group", "group": "lobby", "dataType": "text", "data": "hi"}
    ]


async def test_key_tokens_are_minted_locally_and_entra_tokens_by_generate_token(
    sdk: Sdk, webpubsub: FakeWebPubSub
) -> None:
    await sdk.get_client_access_token(user_id="alice", roles=["r1", "r2"], groups=["g1", "g2"], minutes_to_expire=5)

    if sdk.auth == "key":
        assert webpubsub.rest_calls == []
        return
    [call] = webpubsub.rest_calls
    assert (call.operation, call.request.method, call.status_code) == ("get_client_access_token", "POST", 200)
    assert call.request.parts.path == "/api/hubs/chat/:generateToken"
    query = parse_qs(call.request.parts.query)
    assert query["userId"] == ["alice"]
    assert query["role"] == ["r1", "r2"]
    assert query["group"] == ["g1", "g2"]
    assert query["minutesToExpire"] == ["5"]
    assert query["clientType"] == ["Default"]
    assert call.response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Content-Length" not in call.response.headers  # recorded as chunked
    assert call.request.header("Authorization").startswith("Bearer ")
    assert sdk.credential.scopes == [(ENTRA_SCOPE,)]


async def test_anonymous_token_connects_without_a_user(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    access = await sdk.get_client_access_token()

    client = webpubsub.connect_url(access["url"])

    assert "sub" not in _claims(access["token"], webpubsub)
    assert (client.user_id, client.groups, client.is_open) == (None, frozenset(), True)
    assert await sdk.connection_exists(client.connection_id) is True


@pytest.mark.parametrize(
    ("client_protocol", "path"),
    [
        ("Default", "/client/hubs/chat"),
        ("MQTT", "/clients/mqtt/hubs/chat"),
        ("SocketIO", "/clients/socketio/hubs/chat"),
    ],
)
async def test_client_protocol_picks_the_url_and_audience(
    sdk: Sdk, webpubsub: FakeWebPubSub, client_protocol: str, path: str
) -> None:
    access = await sdk.get_client_access_token(client_protocol=client_protocol)

    assert access["baseUrl"] == f"wss://fake.webpubsub.azure.com{path}"
    assert _claims(access["token"], webpubsub)["aud"] == f"https://fake.webpubsub.azure.com{path}"
    assert [call.status_code for call in webpubsub.rest_calls] == ([] if sdk.auth == "key" else [200])
