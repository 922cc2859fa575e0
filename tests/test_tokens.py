"""Client access URLs, REST bearer tokens and minted tokens (service-behaviour §1.6, §1.8, §3)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub
from pytest_webpubsub._core.errors import UnauthorizedError
from pytest_webpubsub._tokens import RestTokenVerifier, mint_client_token, verify_client_url, verify_rest_token

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
        ("/client/hubs/chat", "https://FAKE.WebPubSub.azure.com/client/hubs/chat"),
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


# ------------------------------------------------------------------ key tokens and Entra tokens, hostile claims

ENTRA = "https://webpubsub.azure.com"


def raw_token(payload: str, header: str = '{"alg":"HS256","typ":"JWT"}', signature: bytes = b"not-checked") -> str:
    """A JWT assembled by hand: any header, any payload text (NaN, deep nesting), any signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join((part(header.encode()), part(payload.encode()), part(signature)))


def entra_token(exp: str = str(NOW + 60), *, alg: str = "RS256", aud: str = ENTRA, extra: str = "") -> str:
    """What Entra ID issues for the scope https://webpubsub.azure.com/.default (signature not checkable offline)."""
    return raw_token(f'{{"aud":"{aud}","exp":{exp}{extra}}}', f'{{"alg":"{alg}","typ":"JWT","kid":"some-entra-key"}}')


def check_rest(token_text: str) -> None:
    verify_rest_token("Bearer " + token_text, url=REST_URL, keys=[KEY, SECOND_KEY], now=NOW)


@pytest.mark.parametrize(
    "token_text",
    [
        pytest.param(entra_token(), id="entra_rs256"),
        pytest.param(entra_token(aud=ENTRA + "/"), id="entra_rs256_trailing_slash"),
        pytest.param(entra_token(alg="ES256"), id="entra_any_alg"),
        pytest.param(entra_token(alg="none"), id="entra_alg_none"),
        pytest.param(entra_token(extra=f',"nbf":{NOW}'), id="entra_nbf_now"),
        pytest.param(rest_token(ENTRA, key=OTHER_KEY), id="entra_hs256_not_signed_with_an_access_key"),
        pytest.param(rest_token(), id="key_token"),
        pytest.param(rest_token(exp=NOW + 0.5), id="key_token_fractional_exp"),
    ],
)
def test_the_token_rule_accepts(token_text: str) -> None:
    check_rest(token_text)


@pytest.mark.parametrize(
    ("token_text", "reason"),
    [
        pytest.param(entra_token("-Infinity"), "not a finite number", id="exp_minus_infinity"),
        pytest.param(entra_token("Infinity"), "not a finite number", id="exp_infinity"),
        pytest.param(entra_token("NaN"), "not a finite number", id="exp_nan_never_expires_otherwise"),
        pytest.param(entra_token("1e999"), "not a finite number", id="exp_overflowing_float"),
        pytest.param(entra_token("true"), "not a finite number", id="exp_boolean"),
        pytest.param(entra_token('"2100-01-01"'), "not a finite number", id="exp_string"),
        pytest.param(entra_token("null"), "not a finite number", id="exp_null"),
        pytest.param(entra_token(str(NOW)), "expired", id="entra_expired_now"),
        pytest.param(entra_token(extra=f',"nbf":{NOW + 1}'), "not valid before", id="entra_not_yet_valid"),
        pytest.param(entra_token(extra=',"nbf":NaN'), "'nbf' claim is not a finite number", id="entra_nbf_nan"),
        pytest.param(entra_token(aud="https://management.azure.com"), "Entra ID audience", id="entra_other_audience"),
        pytest.param(rest_token(ENTRA), "does not match the request URL", id="key_token_naming_entra"),
        pytest.param(raw_token(f'{{"aud":"{REST_URL}","exp":{NOW + 60}}}', header='{"alg":"RS256"}'),
                     "Entra ID audience", id="rs256_naming_the_url"),
        pytest.param(raw_token("[" * 100_000 + "]" * 100_000), "not a valid JWT", id="deep_payload"),
        pytest.param(raw_token("{}", header="[" * 100_000 + "]" * 100_000), "not a valid JWT", id="deep_header"),
        pytest.param(raw_token("[1]"), "not a valid JWT", id="payload_not_an_object"),
        pytest.param("a\ud800.b.c", "not a valid JWT", id="lone_surrogate"),
        pytest.param("\u00e9.\u00e9.\u00e9", "not a valid JWT", id="non_ascii"),
    ],
)
def test_the_token_rule_refuses_with_a_reason(token_text: str, reason: str) -> None:
    with pytest.raises(UnauthorizedError) as refused:
        check_rest(token_text)
    assert reason in refused.value.message


def test_non_finite_claims_refuse_key_tokens_too() -> None:
    for exp in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(UnauthorizedError, match="not a finite number"):
            check_rest(rest_token(exp=exp))


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


# ------------------------------------------------------------------------ the REST token verifier's cache

REST_URLS = [
    REST_URL,
    REST_URL.split("?")[0],
    REST_URL.replace(HOST, HOST.upper()),
    REST_URL.replace("https", "http"),
    REST_URL.replace("/hub/", "/other/"),
    REST_URL.replace(HOST, "evil.webpubsub.azure.com"),
]
_ABSENT = object()
claim_values = (
    st.integers(NOW - 90, NOW + 90)
    | st.sampled_from([NOW, NOW + 0.5, NOW - 0.5, True, "x", None, [NOW]])
    | st.floats(allow_nan=True, allow_infinity=True)
)
audiences = st.sampled_from([*REST_URLS, ENTRA + "/", "https://management.azure.com", None, [ENTRA], 5])


MUTATIONS = ["aud", "exp", "nbf", "drop_exp", "wrong_key", "hs384", "unsigned_as_hs256", "junk", "scheme", "none"]


@st.composite
def rest_authorizations(draw: st.DrawFn) -> str | None:
    """An Authorization header: a well-formed token of one kind (key-signed with either access key, or an Entra
    token: unsigned or signed with another key), most often as is, else with a few drawn defects (other audience,
    non-finite or odd ``exp``/``nbf``, wrong key, other algorithm, junk text, other scheme, no header)."""
    kind = draw(st.sampled_from(["key", "second_key", "entra_unsigned", "entra_other_key"]))
    claims: dict[str, Any] = {"aud": REST_URL if kind in ("key", "second_key") else ENTRA}
    claims["exp"] = draw(st.integers(NOW - 20, NOW + 80))
    nbf = draw(st.none() | st.integers(NOW - 60, NOW + 20))
    if nbf is not None:
        claims["nbf"] = nbf
    mutations = draw(st.lists(st.sampled_from(MUTATIONS), max_size=2))
    for name in ("aud", "exp", "nbf"):
        if name in mutations:
            claims[name] = draw(audiences if name == "aud" else claim_values)
    if "drop_exp" in mutations:
        claims.pop("exp", None)
    if "wrong_key" in mutations:
        kind = "entra_other_key"
    key = {"key": KEY, "second_key": SECOND_KEY}.get(kind, OTHER_KEY)
    if kind == "entra_unsigned":
        alg = "HS256" if "unsigned_as_hs256" in mutations else draw(st.sampled_from(["RS256", "none"]))
        text = raw_token(json.dumps(claims), json.dumps({"alg": alg, "typ": "JWT"}))
    else:
        text = jwt.encode(claims, key, algorithm="HS384" if "hs384" in mutations else "HS256")
    if "junk" in mutations:
        text = draw(st.sampled_from(["x.y.z", "", "e30.e30.", "a\ud800.b.c"]) | st.text(max_size=12))
    scheme = draw(st.sampled_from(["bearer ", "  Bearer  ", "Token ", ""])) if "scheme" in mutations else "Bearer "
    return None if "none" in mutations else scheme + text


def _verdict(check: Any, authorization: str | None, url_text: str, now: float) -> str | None:
    """None when accepted, else the 401's message (anything else escapes and fails the test)."""
    try:
        check(authorization, url_text, now)
    except UnauthorizedError as refused:
        return refused.message
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(rest_authorizations(), min_size=1, max_size=3),
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(REST_URLS),
            st.integers(-40, 100).map(lambda offset: NOW + offset) | st.floats(NOW - 100, NOW + 100),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 3),
)
def test_the_cached_verifier_answers_what_the_full_check_answers(
    authorizations: list[str | None], calls: list[tuple[int, str, float]], max_entries: int
) -> None:
    """At every call of every sequence: accepted by both, or refused by both with the same message."""
    keys = [KEY, SECOND_KEY]
    accepted = 0
    verifier = RestTokenVerifier(keys, max_entries=max_entries)
    for index, url_text, now in calls:
        authorization = authorizations[index % len(authorizations)]
        full = _verdict(lambda a, u, n: verify_rest_token(a, url=u, keys=keys, now=n), authorization, url_text, now)
        cached = _verdict(lambda a, u, n: verifier(a, url=u, now=n), authorization, url_text, now)
        assert cached == full, (authorization, url_text, now)
        accepted += full is None
    event(f"calls accepted: {min(accepted, 3)}+" if accepted >= 3 else f"calls accepted: {accepted}")


def test_the_cached_verifier_judges_expiry_at_every_call() -> None:
    verifier = RestTokenVerifier([KEY])
    authorization = "Bearer " + rest_token(exp=NOW + 60)
    verifier(authorization, url=REST_URL, now=NOW)
    verifier(authorization, url=REST_URL, now=NOW + 59)
    with pytest.raises(UnauthorizedError, match="expired"):
        verifier(authorization, url=REST_URL, now=NOW + 60)
    with pytest.raises(UnauthorizedError, match="does not match the request URL"):  # cached per URL
        verifier(authorization, url=REST_URL.replace("/hub/", "/other/"), now=NOW)


def test_the_cached_verifier_keeps_at_most_max_entries() -> None:
    verifier = RestTokenVerifier([KEY], max_entries=2)
    for exp in (NOW + 10, NOW + 20, NOW + 30):
        verifier("Bearer " + rest_token(exp=exp), url=REST_URL, now=NOW)
    assert len(verifier._accepted) == 2
