"""Hostile input on the REST surface, through ``FakeWebPubSub.handle(FakeRequest)``.

The service answers any request with a status: nothing a caller sends may raise out of the fake, none of it is a
5xx, and a refused request (400/401/404/405/415) changes nothing but the list of REST calls. The first half pins
the defects found so far; the second half draws requests for every route with hypothesis.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

import jwt
import pytest
from azure.core.exceptions import HttpResponseError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pytest_webpubsub import FakeClientConnection, FakeRequest, FakeResponse, FakeWebPubSub
from pytest_webpubsub._core.jsontext import MAX_DEPTH
from pytest_webpubsub._core.service import WebPubSubService
from pytest_webpubsub._rest.routes import ROUTES, SUPPORTED_API_VERSIONS, Route

HUB = "/api/hubs/hub"
ENTRA = "https://webpubsub.azure.com"
NOW = 1_800_000_000.0
"""The frozen time of the ``fake`` fixture (tests/rest/conftest.py)."""
SEND_PATHS = [HUB + "/:send", HUB + "/users/u/:send", HUB + "/groups/g/:send", HUB + "/connections/{cid}/:send"]
BULK_PATHS = [HUB + "/:addToGroups", HUB + "/:removeFromGroups"]
NOT_JSON = "The request body is not a valid JSON."


def raw_token(payload: str, header: str = '{"alg":"RS256","typ":"JWT","kid":"entra"}') -> str:
    """A JWT assembled by hand (any header, any payload text, a signature nobody can check offline)."""

    def part(data: str) -> str:
        return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}.{part('signature')}"


def entra(exp: str = str(int(NOW) + 60)) -> str:
    return "Bearer " + raw_token(f'{{"aud":"{ENTRA}","exp":{exp}}}')


@pytest.fixture
def clients(fake: FakeWebPubSub) -> list[FakeClientConnection]:
    return [fake.connect("hub", user_id="u", groups=["g"]), fake.connect("hub", user_id="v")]


def picture(fake: FakeWebPubSub, *hubs: str) -> tuple[Any, ...]:
    """Everything a refused request must leave alone, apart from the list of REST calls."""
    service: WebPubSubService = fake._service  # which hubs exist is not public: white-box
    snapshots = tuple(fake.snapshot(hub) for hub in hubs)
    return snapshots, [hub.name for hub in service.hubs()], fake.deliveries, fake.lifecycle


# ----------------------------------------------------------------------------------- deeply nested JSON bodies


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[" * 2000 + b"]" * 2000, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b'{"a":' * 5000],
    ids=["open_brackets", "balanced_2000", "one_too_deep", "objects"],
)
@pytest.mark.parametrize("path", SEND_PATHS + BULK_PATHS)
def test_deeply_nested_json_is_400_as_invalid_json(
    fake: FakeWebPubSub, rest: Any, clients: list[FakeClientConnection], path: str, body: bytes
) -> None:
    before = picture(fake, "hub")
    response = rest.call("POST", path.replace("{cid}", clients[0].connection_id), body=body,
                         content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.body)["message"] == NOT_JSON
    assert picture(fake, "hub") == before


@pytest.mark.parametrize("path", SEND_PATHS)
def test_nesting_up_to_the_limit_is_sent(
    fake: FakeWebPubSub, rest: Any, clients: list[FakeClientConnection], path: str
) -> None:
    body = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    response = rest.call("POST", path.replace("{cid}", clients[0].connection_id), body=body,
                         content_type="application/json")
    assert response.status_code == 202
    assert clients[0].received[-1].data == json.loads(body)


def test_the_sdk_sending_a_deeply_nested_stream_gets_400() -> None:
    with FakeWebPubSub() as fake:
        alice = fake.connect("hub", user_id="alice")
        client = fake.service_client("hub")
        with pytest.raises(HttpResponseError) as raised:
            client.send_to_all(io.BytesIO(b"[" * 2000 + b"]" * 2000), content_type="application/json")
        assert raised.value.status_code == 400
        assert alice.received == []
        assert [call.status_code for call in fake.rest_calls] == [400]


# ------------------------------------------------------------------------------------- JSON that is not RFC 8259


@pytest.mark.parametrize(
    "body", [b"NaN", b"[Infinity]", b'{"x": -Infinity}', b'"\\ud800"', b"\xef\xbb\xbf{}", b"\xff\xfe[\x00]\x00"]
)
@pytest.mark.parametrize("path", SEND_PATHS)
def test_json_bodies_python_accepts_but_the_service_does_not_are_400(
    fake: FakeWebPubSub, rest: Any, clients: list[FakeClientConnection], path: str, body: bytes
) -> None:
    response = rest.call("POST", path.replace("{cid}", clients[0].connection_id), body=body,
                         content_type="application/json")
    assert response.status_code == 400
    assert fake.deliveries == ()


@pytest.mark.parametrize("path", BULK_PATHS)
def test_bulk_bodies_with_nan_are_400(fake: FakeWebPubSub, rest: Any, clients: list[Any], path: str) -> None:
    before = picture(fake, "hub")
    response = rest.call("POST", path, body=b'{"groups": ["g2"], "x": NaN}', content_type="application/json")
    assert response.status_code == 400
    assert picture(fake, "hub") == before


# ------------------------------------------------------------------------------------- integers in the query


@pytest.mark.parametrize("raw", ["1_0", " 5", "5 ", "+5", "\u0665", "\uff15", "0x10", "1e1", "99999999999"])
@pytest.mark.parametrize(
    ("path", "name", "method"),
    [
        (HUB + "/:send", "messageTtlSeconds", "POST"),
        (HUB + "/groups/g/connections", "maxpagesize", "GET"),
        (HUB + "/groups/g/connections", "top", "GET"),
        (HUB + "/:generateToken", "minutesToExpire", "POST"),
    ],
)
def test_integers_python_accepts_but_the_service_does_not_are_400(
    fake: FakeWebPubSub, rest: Any, clients: list[Any], path: str, name: str, method: str, raw: str
) -> None:
    response = rest.call(method, path, [(name, raw)], body=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.body)["target"] == name
    assert fake.deliveries == ()


# ------------------------------------------------------------------------------------------------ tokens


def route_request(rest: Any, route: Route, connection_id: str) -> tuple[str, str, bytes, str | None]:
    """A valid call of ``route`` (method, URL, body, content type) against the ``clients`` fixture's hub."""
    path = route.template.format(hub="hub", userId="u", group="g", connectionId=connection_id,
                                 permission="sendToGroup")
    body, content_type = b"", None
    if route.name.startswith("send_to"):
        body, content_type = b'{"n":1}', "application/json"
    elif route.name.endswith("_to_groups") or route.name.endswith("_from_groups"):
        body, content_type = b'{"groups":["g2"]}', "application/json"
    return route.method, rest.url(path), body, content_type


TOKEN_CHECKED = [route for route in ROUTES if route.name != "get_service_status"]


@pytest.mark.parametrize("exp", ["-Infinity", "Infinity", "NaN", "1e999"])
@pytest.mark.parametrize("route", TOKEN_CHECKED, ids=lambda route: route.name)
def test_non_finite_exp_is_401_recorded_with_the_reason(
    fake: FakeWebPubSub, rest: Any, clients: list[FakeClientConnection], route: Route, exp: str
) -> None:
    method, url, body, content_type = route_request(rest, route, clients[0].connection_id)
    before = picture(fake, "hub")
    response = rest.call_url(method, url, body=body, content_type=content_type, authorization=entra(exp))
    assert (response.status_code, response.body) == (401, b"")
    assert [(call.operation, call.status_code) for call in fake.rest_calls] == [(route.name, 401)]
    assert "not a finite number" in (fake.rest_calls[0].error or "")
    assert picture(fake, "hub") == before


@pytest.mark.parametrize("route", TOKEN_CHECKED, ids=lambda route: route.name)
def test_an_rs256_entra_token_is_accepted_on_every_route(
    fake: FakeWebPubSub, rest: Any, clients: list[FakeClientConnection], route: Route
) -> None:
    fake._service.grant_permission("hub", "sendToGroup", clients[0].connection_id)  # has_permission answers 200
    method, url, body, content_type = route_request(rest, route, clients[0].connection_id)
    response = rest.call_url(method, url, body=body, content_type=content_type, authorization=entra())
    assert response.status_code in (200, 202, 204), fake.rest_calls[-1]


def test_key_and_entra_tokens_follow_one_rule(fake: FakeWebPubSub, rest: Any) -> None:
    url = rest.url(HUB + "/:send")
    claims = {"aud": ENTRA, "exp": int(NOW) + 60}
    cases = {
        "rs256_entra": entra(),
        "hs256_other_key_entra": "Bearer " + jwt.encode(claims, rest.other_key, algorithm="HS256"),
        "hs256_access_key_entra": "Bearer " + jwt.encode(claims, fake.access_key, algorithm="HS256"),
        "hs256_access_key_url": "Bearer " + rest.token(url),
        "rs256_url": "Bearer " + raw_token(json.dumps({"aud": url, "exp": int(NOW) + 60})),
    }
    statuses = {
        name: rest.call_url("POST", url, body=b"x", content_type="text/plain", authorization=value).status_code
        for name, value in cases.items()
    }
    assert statuses == {
        "rs256_entra": 202,
        "hs256_other_key_entra": 202,
        "hs256_access_key_entra": 401,  # a key token must name the request URL
        "hs256_access_key_url": 202,
        "rs256_url": 401,  # not a key token, not an Entra audience
    }


# ----------------------------------------------------------------------------------------- a bug in the fake


@pytest.mark.parametrize("error", [RuntimeError("boom"), RecursionError(), KeyError("x"), AssertionError()])
def test_an_exception_inside_a_handler_is_a_500_with_the_service_error_shape(
    fake: FakeWebPubSub, rest: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(fake._service, "send_to_all", broken)
    response = rest.call("POST", HUB + "/:send", body=b"x", content_type="text/plain")
    assert response.status_code == 500
    body = json.loads(response.body)
    assert set(body) == {"code", "message", "target", "details", "inner"}
    assert response.headers["x-ms-error-code"] == body["code"] == "Error.InternalServerError"
    assert response.headers["Content-Length"] == str(len(response.body))
    (call,) = fake.rest_calls
    assert (call.operation, call.status_code) == ("send_to_all", 500)
    assert "Traceback" in (call.error or "") and type(error).__name__ in (call.error or "")


def test_an_exception_while_routing_is_a_500_recorded_without_an_operation(
    fake: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(method: str, path: str) -> None:
        raise ValueError("routing is broken")

    monkeypatch.setattr("pytest_webpubsub._rest.dispatch.resolve", broken)
    response = fake.handle(FakeRequest("POST", f"{fake.endpoint}/api/hubs/hub/:send", {}))
    assert response.status_code == 500
    assert json.loads(response.body)["code"] == "Error.InternalServerError"
    assert fake.handle(FakeRequest("HEAD", f"{fake.endpoint}/api/health", {})).body == b"", "HEAD answers bodiless"
    call = fake.rest_calls[0]
    assert call.operation is None and "routing is broken" in (call.error or "")


# ------------------------------------------------------------------------------------------- no trace left


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("HEAD", "/api/hubs/ghost/connections/c"),
        ("HEAD", "/api/hubs/ghost/users/u"),
        ("HEAD", "/api/hubs/ghost/groups/g"),
        ("HEAD", "/api/hubs/ghost/permissions/sendToGroup/connections/c"),
        ("PUT", "/api/hubs/ghost/groups/g/connections/c"),
        ("PUT", "/api/hubs/ghost/users/u/groups/g"),
        ("PUT", "/api/hubs/ghost/permissions/sendToGroup/connections/c"),
        ("POST", "/api/hubs/ghost/:send"),
        ("DELETE", "/api/hubs/ghost/connections/c"),
        ("GET", "/api/hubs/ghost/groups/g/connections"),
    ],
)
def test_a_call_on_a_hub_nobody_connected_to_leaves_no_trace(
    fake: FakeWebPubSub, rest: Any, method: str, path: str
) -> None:
    fake.connect("hub")
    rest.call(method, path, body=b"x", content_type="text/plain")
    assert [hub.name for hub in fake._service.hubs()] == ["hub"]


# ---------------------------------------------------------------------------------- drawn by hypothesis

HOSTILE_TEXT = st.sampled_from(
    ["", " ", "\t", "\n", "a\r\nb", "%", "%zz", "%00", "%ED%A0%80", "%FF", "..", ".", "?", "#", "&", "=", "+",
     "\u0000", "\ud800", "\U0001f600", "\u0665", "a" * 1025, "A" * 129, "g/h", "'", "''", "NaN", "-Infinity"]
) | st.text(max_size=12) | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
INTEGERS = st.sampled_from(["0", "1", "5", "200", "300", "-1", "1_0", " 5", "+5", "\u0665", "99999999999", "1e1",
                            "2147483648", "0" * 50 + "7", ""]) | st.integers().map(str)
QUERY_KEYS = ["excluded", "filter", "messageTtlSeconds", "reason", "targetName", "maxpagesize", "top",
              "continuationToken", "userId", "role", "group", "minutesToExpire", "clientType", "weird key"]
FILTERS = st.sampled_from(["userId eq 'u'", "'g' in groups", "(" * 100 + "true" + ")" * 100, "not " * 200 + "true",
                           "userId eq", "connectionId ne null", "1 lt 2"])
CONTENT_TYPES = st.sampled_from([None, "application/json", "text/plain", "application/octet-stream",
                                 "application/json; charset=utf-8", "text/html", "", ";", "application/json;;;",
                                 "\u00e9/\u00e9"])
BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"null", b"[" * 100_000, b"[" * 3000 + b"]" * 3000, b"NaN", b'{"groups": NaN}',
                     b'{"groups": ["g2"]}', b'{"groups": ["g2"], "filter": "userId eq \'u\'"}', b"\xff\xfe",
                     b'{"groups": [' + b"[" * 5000 + b"]}", b'"\\ud800"', b'{"groups": ["\\ud800"]}']),
    st.builds(lambda groups, filter_: json.dumps({"groups": groups, "filter": filter_}).encode(),
              st.lists(HOSTILE_TEXT, max_size=3), st.none() | FILTERS | HOSTILE_TEXT),
)


@dataclass
class Drawn:
    """One drawn request, and how to sign it once its URL is known."""

    route: Route
    segments: dict[str, str]
    query: list[tuple[str, str]]
    content_type: str | None
    body: bytes
    token: Callable[[FakeWebPubSub, str], str | None]


def signed(fake: FakeWebPubSub, url: str, *, key: str | None = None, **claims: Any) -> str:
    """``Bearer`` and a token signed like the SDK signs it (``aud`` the URL, ``exp`` in a minute), claims overridden."""
    body = {"aud": url, "exp": int(NOW) + 60, **claims}
    return "Bearer " + jwt.encode(body, key or fake.access_key, algorithm="HS256")


OTHER_KEY = "c29tZS1vdGhlci1rZXktdGhhdC1pcy1ub3QtdGhlLWZha2VzLWtleQ=="
HOSTILE_TOKENS: list[Callable[[FakeWebPubSub, str], str | None]] = [
    lambda fake, url: None,
    lambda fake, url: entra(),
    lambda fake, url: entra("NaN"),
    lambda fake, url: entra("-Infinity"),
    lambda fake, url: "Bearer " + raw_token("[" * 50_000),
    lambda fake, url: "Bearer " + raw_token("{}", header="[" * 50_000),
    lambda fake, url: "Bearer a\ud800.b.c",
    lambda fake, url: signed(fake, url, key=OTHER_KEY),
    lambda fake, url: signed(fake, url, exp=int(NOW) - 5),
    lambda fake, url: signed(fake, url, exp="soon"),
    lambda fake, url: signed(fake, url, nbf=int(NOW) + 100),
    lambda fake, url: signed(fake, url, exp=float("nan")),
]


@st.composite
def drawn_requests(draw: st.DrawFn) -> Drawn:
    route = draw(st.sampled_from(list(ROUTES)))
    segments: dict[str, str] = {}
    for name in route.segments:
        if not name.startswith("{"):
            continue
        known = {"hub": ["hub", "Hub", "other"], "userId": ["u", "v"], "group": ["g", "g2"],
                 "connectionId": ["{cid}"], "permission": ["sendToGroup", "joinLeaveGroup"]}[name[1:-1]]
        value = draw(st.one_of(st.sampled_from(known), st.sampled_from(known), HOSTILE_TEXT))  # 2/3 known
        encoded = quote(value, safe="", errors="surrogatepass")
        segments[name[1:-1]] = value if value == "{cid}" else draw(st.sampled_from([encoded, value]))
    query: list[tuple[str, str]] = []
    if draw(st.integers(0, 9)):
        query.append(("api-version", draw(st.sampled_from(SUPPORTED_API_VERSIONS))))
    else:
        query.append(("api-version", draw(HOSTILE_TEXT)))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(QUERY_KEYS))
        value = draw(INTEGERS if key in ("messageTtlSeconds", "maxpagesize", "top", "minutesToExpire") else
                     FILTERS | HOSTILE_TEXT if key == "filter" else HOSTILE_TEXT)
        query.append((key, value))
    token = draw(st.one_of(st.just(signed), st.just(signed), st.sampled_from(HOSTILE_TOKENS)))  # 2/3 valid
    return Drawn(route, segments, query, draw(CONTENT_TYPES), draw(BODIES), token)


ALLOWED = {200, 202, 204, 400, 401, 404, 405, 415}


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
@given(drawn=drawn_requests(), method_override=st.sampled_from([None] * 15 + ["GET", "PATCH", "OPTIONS", "get", "X"]))
def test_no_drawn_request_escapes_or_is_a_5xx_and_a_refused_one_changes_nothing(
    drawn: Drawn, method_override: str | None
) -> None:
    fake = FakeWebPubSub(clock=lambda: NOW)
    u = fake.connect("hub", user_id="u", groups=["g"], roles=["webpubsub.joinLeaveGroup.g"])
    fake.connect("hub", user_id="v", groups=["g", "g2"])
    fake.connect("other", user_id="u", groups=["g"])
    fake._service.grant_permission("hub", "sendToGroup", u.connection_id, target="g")
    path = drawn.route.template.format(**{k: v.replace("{cid}", u.connection_id) for k, v in drawn.segments.items()})
    url = fake.endpoint + path + "?" + "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}"
                                                for k, v in drawn.query)
    headers = {}
    authorization = drawn.token(fake, url)
    if authorization is not None:
        headers["Authorization"] = authorization
    if drawn.content_type is not None:
        headers["Content-Type"] = drawn.content_type
    request = FakeRequest(method_override or drawn.route.method, url, headers, drawn.body)
    before = picture(fake, "hub", "other")

    response = fake.handle(request)  # must not raise

    assert isinstance(response, FakeResponse)
    event(f"{response.status_code}")
    call = fake.rest_calls[-1]
    assert len(fake.rest_calls) == 1 and call.response is response
    assert response.status_code in ALLOWED, call
    if response.status_code >= 400:
        assert picture(fake, "hub", "other") == before, call
