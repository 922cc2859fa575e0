"""Client access URLs, REST bearer tokens and minted tokens (service-behaviour §1.6, §1.8, §3)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub
from pytest_webpubsub._core.errors import UnauthorizedError
from pytest_webpubsub._tokens import mint_client_token, verify_client_url, verify_rest_token

KEY = "cHl0ZXN0LXdlYnB1YnN1Yi1mYWtlLWFjY2Vzcy1rZXktMDAwMDE="
SECOND_KEY = "c2Vjb25kLWtleS1vZi10aGUtZmFrZS1yZXNvdXJjZS0wMDAwMDA="
OTHER_KEY = "bm90LXRoZS1mYWtlcy1rZXktYXQtYWxsLWp1c3Qtc29tZS1ieXRlcw=="
NOW = 1_800_000_000
HOST = "fake.webpubsub.azure.com"
AUDIENCE = f"https://{HOST}/client/hubs/chat"


def token(claims: dict[str, Any] | None = None, *, key: str = KEY, lifetime: int = 3600, **extra: Any) -> str:
    body: dict[str, Any] = {"aud": AUDIENCE, "exp": NOW + lifetime, "iat": NOW}
    body.update(claims or {})
    body.update(extra)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="HS256")


def url(access_token: str, *, scheme: str = "wss", path: str = "/client/hubs/chat", query: str = "") -> str:
    return f"{scheme}://{HOST}{path}?{query}access_token={access_token}"


def verify(client_url: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    return verify_client_url(client_url, keys=[KEY, SECOND_KEY], now=NOW, **kwargs)


# ------------------------------------------------------------------------------------------- client URLs


@pytest.mark.parametrize(
    ("claims", "user_id", "roles", "groups"),
    [
        ({}, None, (), ()),
        ({"sub": "alice"}, "alice", (), ()),
        ({"sub": ""}, None, (), ()),
        ({"role": "webpubsub.joinLeaveGroup"}, None, ("webpubsub.joinLeaveGroup",), ()),
        ({"role": ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.g"]}, None,
         ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.g"), ()),
        ({"role": []}, None, (), ()),
        ({"webpubsub.group": "g1"}, None, (), ("g1",)),
        ({"webpubsub.group": ["g1", "g 2"]}, None, (), ("g1", "g 2")),
        ({"sub": "bob", "role": "webpubsub.sendToGroup", "webpubsub.group": ["g"]}, "bob",
         ("webpubsub.sendToGroup",), ("g",)),
    ],
    ids=["anonymous", "user", "empty_sub_is_anonymous", "role_string", "role_list", "role_empty_list",
         "group_string", "group_list", "everything"],
)
def test_claims_become_the_client_identity(
    claims: dict[str, Any], user_id: str | None, roles: tuple[str, ...], groups: tuple[str, ...]
) -> None:
    identity = verify(url(token(claims)))
    assert (identity.hub, identity.user_id, identity.roles, identity.groups) == ("chat", user_id, roles, groups)


def test_other_claims_are_kept_for_the_connect_event() -> None:
    identity = verify(url(token({"custom": "value", "sub": "u"})))
    assert identity.claims["custom"] == "value"
    assert identity.claims["sub"] == "u"


@pytest.mark.parametrize("scheme", ["wss", "ws", "https", "http"])
@pytest.mark.parametrize("audience_scheme", ["https", "wss", "http", "ws"])
def test_url_and_audience_schemes_are_normalised(scheme: str, audience_scheme: str) -> None:
    access = token(aud=f"{audience_scheme}://{HOST}/client/hubs/chat")
    assert verify(url(access, scheme=scheme)).hub == "chat"


@pytest.mark.parametrize(
    "client_url",
    [
        "wss://{host}/client/?hub=chat&access_token={token}",
        "wss://{host}/client?hub=chat&access_token={token}",
        "wss://{host}/client/hubs/chat/?access_token={token}",
        "https://{host}/client/hubs/chat?access_token={token}",
    ],
)
def test_client_endpoint_forms(client_url: str) -> None:
    assert verify(client_url.format(host=HOST, token=token())).hub == "chat"


@pytest.mark.parametrize(
    ("path", "audience"),
    [
        ("/client/hubs/Chat", AUDIENCE),
        ("/client/hubs/chat", f"https://{HOST}/client/hubs/CHAT"),
        ("/client/hubs/chat", f"https://FAKE.WebPubSub.azure.com/client/hubs/chat"),
        ("/client/hubs/chat", AUDIENCE + "/"),
        ("/client/hubs/chat", AUDIENCE + "?ignored=1"),
    ],
)
def test_hub_and_host_case_and_trailing_slash_do_not_matter(path: str, audience: str) -> None:
    assert verify(url(token(aud=audience), path=path)).hub.lower() == "chat"


def test_the_token_may_come_in_an_authorization_header() -> None:
    identity = verify(f"wss://{HOST}/client/hubs/chat", authorization="Bearer " + token(sub="u"))
    assert identity.user_id == "u"


def test_either_access_key_is_accepted() -> None:
    assert verify(url(token(key=SECOND_KEY))).hub == "chat"


@pytest.mark.parametrize(
    "client_url",
    [
        pytest.param(url(token(), path="/client/hubs/other"), id="other_hub_in_url"),
        pytest.param(url(token(aud=f"https://{HOST}/client/hubs/other")), id="other_hub_in_audience"),
        pytest.param(url(token(aud="https://other.webpubsub.azure.com/client/hubs/chat")), id="other_host"),
        pytest.param(url(token(aud=f"https://{HOST}:8443/client/hubs/chat")), id="other_port"),
        pytest.param(url(token(aud=f"https://{HOST}client/hubs/chat")), id="no_slash_after_host"),
        pytest.param(url(token(aud=f"https://{HOST}/clients/mqtt/hubs/chat")), id="mqtt_audience"),
        pytest.param(url(token(aud=f"https://{HOST}/api/hubs/chat")), id="rest_audience"),
        pytest.param(url(token(aud=None)), id="no_audience"),
        pytest.param(url(token(lifetime=0)), id="expires_now"),
        pytest.param(url(token(lifetime=-60)), id="expired"),
        pytest.param(url(token(exp=None)), id="no_exp"),
        pytest.param(url(token(key=OTHER_KEY)), id="bad_key"),
        pytest.param(url("not.a.jwt"), id="garbage_token"),
        pytest.param(url(""), id="empty_token"),
        pytest.param(f"wss://{HOST}/client/hubs/chat", id="no_token"),
        pytest.param(f"wss://{HOST}/client/hubs/?access_token={token()}", id="no_hub"),
        pytest.param(f"wss://{HOST}/client/?access_token={token()}", id="no_hub_query"),
        pytest.param(f"wss://{HOST}/somewhere/else?access_token={token()}", id="not_a_client_path"),
    ],
)
def test_refused_client_urls_raise_unauthorized(client_url: str) -> None:
    with pytest.raises(UnauthorizedError) as refused:
        verify(client_url)
    assert refused.value.message


def test_expiry_is_judged_on_the_injected_clock() -> None:
    access = token(lifetime=10)
    assert verify_client_url(url(access), keys=[KEY], now=NOW + 9).hub == "chat"
    with pytest.raises(UnauthorizedError):
        verify_client_url(url(access), keys=[KEY], now=NOW + 10)


# ------------------------------------------------------------------------------- the fake's connect_url


def test_connect_url_opens_a_connection_with_the_token_identity() -> None:
    fake = FakeWebPubSub(clock=lambda: NOW)
    access = token(sub="alice", role=["webpubsub.joinLeaveGroup"], **{"webpubsub.group": "g1"})
    client = fake.connect_url(url(access))
    assert (client.hub, client.user_id, client.groups) == ("chat", "alice", frozenset({"g1"}))
    assert fake._service.has_permission("chat", "joinLeaveGroup", client.connection_id, target="any") is True


@pytest.mark.parametrize(
    ("client_url", "status"),
    [
        (url(token(key=OTHER_KEY)), 401),
        (url(token(lifetime=-1)), 401),
        (url(token(), path="/client/hubs/other"), 401),
        ("wss://elsewhere.webpubsub.azure.com/client/hubs/chat?access_token=x", 404),
        ("ftp://fake.webpubsub.azure.com/client/hubs/chat?access_token=x", 400),
    ],
)
def test_connect_url_refusals_carry_the_upgrade_status(client_url: str, status: int) -> None:
    fake = FakeWebPubSub(clock=lambda: NOW)
    with pytest.raises(ConnectionRefused) as refused:
        fake.connect_url(client_url)
    assert refused.value.status == status
    assert fake.connections == []


# ------------------------------------------------------------------------------------------- REST tokens

REST_URL = f"https://{HOST}/api/hubs/hub/:send?excluded=a&excluded=b&api-version=2024-12-01&filter=userId%20eq%20%27x%27"


def rest_token(aud: Any = REST_URL, *, key: str = KEY, exp: Any = NOW + 60) -> str:
    claims = {"aud": aud, "exp": exp}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer " + rest_token(), id="sdk_token"),
        pytest.param("bearer " + rest_token(), id="lower_case_scheme"),
        pytest.param("  Bearer   " + rest_token() + "  ", id="extra_spaces"),
        pytest.param("Bearer " + rest_token(REST_URL.split("?")[0]), id="audience_without_query"),
        pytest.param("Bearer " + rest_token(REST_URL.replace("https", "http")), id="audience_http"),
        pytest.param("Bearer " + rest_token(REST_URL.split("?")[0] + "/"), id="audience_trailing_slash"),
        pytest.param("Bearer " + rest_token(key=SECOND_KEY), id="second_key"),
        pytest.param("Bearer " + rest_token("https://webpubsub.azure.com", key=OTHER_KEY), id="entra"),
    ],
)
def test_accepted_rest_tokens(authorization: str) -> None:
    verify_rest_token(authorization, url=REST_URL, keys=[KEY, SECOND_KEY], now=NOW)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="no_token"),
        pytest.param("Token " + rest_token(), id="other_scheme"),
        pytest.param("Bearer " + rest_token(key=OTHER_KEY), id="bad_key"),
        pytest.param("Bearer " + rest_token(exp=NOW), id="expires_now"),
        pytest.param("Bearer " + rest_token(exp=None), id="no_exp"),
        pytest.param("Bearer " + rest_token(aud=None), id="no_aud"),
        pytest.param("Bearer " + rest_token(REST_URL.replace("/hub/", "/other/")), id="other_path"),
        pytest.param("Bearer " + rest_token(REST_URL.replace(HOST, "evil.webpubsub.azure.com")), id="other_host"),
        pytest.param("Bearer " + rest_token(["https://webpubsub.azure.com"], key=OTHER_KEY), id="entra_list_aud"),
        pytest.param("Bearer " + rest_token("https://webpubsub.azure.com", key=OTHER_KEY, exp=NOW - 1),
                     id="entra_expired"),
        pytest.param("Bearer x.y.z", id="garbage"),
    ],
)
def test_refused_rest_tokens(authorization: str | None) -> None:
    with pytest.raises(UnauthorizedError):
        verify_rest_token(authorization, url=REST_URL, keys=[KEY, SECOND_KEY], now=NOW)


# ------------------------------------------------------------------------------------------ minted tokens


def decode(minted: str, audience: str) -> dict[str, Any]:
    return jwt.decode(minted, KEY, algorithms=["HS256"], audience=audience,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


@pytest.mark.parametrize(
    ("client_type", "audience"),
    [
        ("Default", "https://fake.webpubsub.azure.com/client/hubs/Chat"),
        ("MQTT", "https://fake.webpubsub.azure.com/clients/mqtt/hubs/Chat"),
        ("SocketIO", "https://fake.webpubsub.azure.com/clients/socketio/hubs/Chat"),
    ],
)
def test_minted_token_audience(client_type: str, audience: str) -> None:
    minted = mint_client_token(endpoint="https://FAKE.webpubsub.azure.com/", hub="Chat", key=KEY, now=NOW,
                               client_type=client_type)
    assert decode(minted, audience)["aud"] == audience


def test_minted_token_claims() -> None:
    minted = mint_client_token(endpoint="https://fake.webpubsub.azure.com", hub="chat", key=KEY, now=NOW + 0.7,
                               user_id="u", roles=["r1", "r2"], groups=["g"], minutes_to_expire=5)
    claims = decode(minted, AUDIENCE)
    assert claims == {
        "nbf": NOW,
        "iat": NOW,
        "exp": NOW + 300,
        "aud": AUDIENCE,
        "iss": "https://webpubsub.azure.com",
        "sub": "u",
        "role": ["r1", "r2"],
        "webpubsub.group": ["g"],
    }
    assert jwt.get_unverified_header(minted)["kid"].startswith("s-")


def test_minted_token_without_optional_claims_and_its_round_trip() -> None:
    minted = mint_client_token(endpoint="https://fake.webpubsub.azure.com", hub="chat", key=KEY, now=NOW)
    assert not {"sub", "role", "webpubsub.group"} & set(decode(minted, AUDIENCE))
    identity = verify(url(minted))
    assert (identity.user_id, identity.roles, identity.groups) == (None, (), ())
