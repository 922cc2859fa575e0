"""The REST surface through ``FakeWebPubSub.handle(FakeRequest)`` (service-behaviour §1, §2, §10, §11), no azure import.

Every request is signed like the Python SDK signs it (``conftest.RestCaller``). Status codes, headers and error
bodies are compared byte for byte with what the recordings of the real service show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest

from pytest_webpubsub import FakeClientConnection, FakeResponse, FakeWebPubSub
from pytest_webpubsub._rest.routes import ROUTES

SUPPORTED = "2021-10-01, 2022-11-01, 2023-07-01, 2024-01-01, 2024-12-01"
JSON_UTF8 = "application/json; charset=utf-8"
HUB = "/api/hubs/hub"


def header(response: FakeResponse, name: str) -> str | None:
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def error_body(response: FakeResponse) -> dict[str, Any]:
    return json.loads(response.body)


# ------------------------------------------------------------------------------- success of all 25 routes

# How a successful answer is framed (service-behaviour §1.1 and §11.3, tests/data/recordings/README.md "Headers"):
EMPTY_WITH_LENGTH = "Content-Length: 0, no body"  # 202 and bodiless 200 to PUT/POST
BARE = "no Content-Length, no body"  # 204 and HEAD 200
JSON_WITH_LENGTH = "JSON body with Content-Length"  # listings
JSON_CHUNKED = "JSON body without Content-Length"  # :generateToken (Transfer-Encoding: chunked)


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    status: int
    framing: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    content_type: str | None = None
    effect: Callable[[FakeWebPubSub, FakeClientConnection], bool] = lambda fake, client: True


SUCCESS_CASES: dict[str, RouteCase] = {
    "get_service_status": RouteCase("HEAD", "/api/health", 200, BARE),
    "send_to_all": RouteCase(
        "POST", HUB + "/:send", 202, EMPTY_WITH_LENGTH, body=b"hi", content_type="text/plain",
        effect=lambda fake, c: [m.data for m in c.received] == ["hi"],
    ),
    "send_to_user": RouteCase(
        "POST", HUB + "/users/u1/:send", 202, EMPTY_WITH_LENGTH, body=b'{"a":1}', content_type="application/json",
        effect=lambda fake, c: [m.data for m in c.received] == [{"a": 1}],
    ),
    "send_to_group": RouteCase(
        "POST", HUB + "/groups/g1/:send", 202, EMPTY_WITH_LENGTH, body=b"\x01",
        content_type="application/octet-stream",
        effect=lambda fake, c: [(m.data, m.group) for m in c.received] == [(b"\x01", "g1")],
    ),
    "send_to_connection": RouteCase(
        "POST", HUB + "/connections/{cid}/:send", 202, EMPTY_WITH_LENGTH, body=b"x", content_type="text/plain",
        effect=lambda fake, c: [m.data for m in c.received] == ["x"],
    ),
    "close_all_connections": RouteCase(
        "POST", HUB + "/:closeConnections", 204, BARE, query=[("reason", "r")],
        effect=lambda fake, c: not c.is_open and c.close_reason == "r",
    ),
    "close_group_connections": RouteCase(
        "POST", HUB + "/groups/g1/:closeConnections", 204, BARE, effect=lambda fake, c: not c.is_open
    ),
    "close_user_connections": RouteCase(
        "POST", HUB + "/users/u1/:closeConnections", 204, BARE, effect=lambda fake, c: not c.is_open
    ),
    "close_connection": RouteCase(
        "DELETE", HUB + "/connections/{cid}", 204, BARE, query=[("reason", "bye")],
        effect=lambda fake, c: not c.is_open and c.close_reason == "bye",
    ),
    "connection_exists": RouteCase("HEAD", HUB + "/connections/{cid}", 200, BARE),
    "user_exists": RouteCase("HEAD", HUB + "/users/u1", 200, BARE),
    "group_exists": RouteCase("HEAD", HUB + "/groups/g1", 200, BARE),
    "add_connection_to_group": RouteCase(
        "PUT", HUB + "/groups/g2/connections/{cid}", 200, EMPTY_WITH_LENGTH,
        effect=lambda fake, c: c.groups == {"g1", "g2"},
    ),
    "remove_connection_from_group": RouteCase(
        "DELETE", HUB + "/groups/g1/connections/{cid}", 204, BARE, effect=lambda fake, c: c.groups == set()
    ),
    "remove_connection_from_all_groups": RouteCase(
        "DELETE", HUB + "/connections/{cid}/groups", 204, BARE, effect=lambda fake, c: c.groups == set()
    ),
    "add_user_to_group": RouteCase(
        "PUT", HUB + "/users/u1/groups/g2", 200, EMPTY_WITH_LENGTH, effect=lambda fake, c: c.groups == {"g1", "g2"}
    ),
    "remove_user_from_group": RouteCase(
        "DELETE", HUB + "/users/u1/groups/g1", 204, BARE, effect=lambda fake, c: c.groups == set()
    ),
    "remove_user_from_all_groups": RouteCase(
        "DELETE", HUB + "/users/u1/groups", 204, BARE, effect=lambda fake, c: c.groups == set()
    ),
    "add_connections_to_groups": RouteCase(
        "POST", HUB + "/:addToGroups", 200, EMPTY_WITH_LENGTH,
        body=b'{"filter": "userId eq \'u1\'", "groups": ["g2", "g3"]}', content_type="application/json",
        effect=lambda fake, c: c.groups == {"g1", "g2", "g3"},
    ),
    "remove_connections_from_groups": RouteCase(
        "POST", HUB + "/:removeFromGroups", 200, EMPTY_WITH_LENGTH,
        body=b'{"filter": "userId eq \'u1\'", "groups": ["g1"]}', content_type="application/json",
        effect=lambda fake, c: c.groups == set(),
    ),
    "list_connections": RouteCase("GET", HUB + "/groups/g1/connections", 200, JSON_WITH_LENGTH),
    "grant_permission": RouteCase(
        "PUT", HUB + "/permissions/joinLeaveGroup/connections/{cid}", 200, EMPTY_WITH_LENGTH,
        query=[("targetName", "g9")],
        effect=lambda fake, c: fake._service.has_permission("hub", "joinLeaveGroup", c.connection_id, target="g9"),
    ),
    "revoke_permission": RouteCase(
        "DELETE", HUB + "/permissions/sendToGroup/connections/{cid}", 204, BARE, query=[("targetName", "g1")],
        effect=lambda fake, c: not fake._service.has_permission("hub", "sendToGroup", c.connection_id, target="g1"),
    ),
    "has_permission": RouteCase(
        "HEAD", HUB + "/permissions/sendToGroup/connections/{cid}", 200, BARE, query=[("targetName", "g1")]
    ),
    "get_client_access_token": RouteCase("POST", HUB + "/:generateToken", 200, JSON_CHUNKED),
}


def test_success_table_covers_every_route() -> None:
    assert len(ROUTES) == 25
    assert set(SUCCESS_CASES) == {route.name for route in ROUTES}
    for route in ROUTES:
        assert SUCCESS_CASES[route.name].method == route.method, route.name


@pytest.mark.parametrize("operation", list(SUCCESS_CASES))
def test_every_route_answers_its_exact_success_status_and_headers(fake: FakeWebPubSub, rest, operation: str) -> None:
    case = SUCCESS_CASES[operation]
    client = fake.connect("hub", user_id="u1", groups=["g1"], roles=["webpubsub.sendToGroup"])
    path = case.path.replace("{cid}", client.connection_id)
    response = rest.call(case.method, path, case.query, body=case.body, content_type=case.content_type)

    assert response.status_code == case.status
    assert header(response, "x-ms-error-code") is None
    if case.framing == EMPTY_WITH_LENGTH:
        assert (header(response, "Content-Length"), response.body, header(response, "Content-Type")) == ("0", b"", None)
    elif case.framing == BARE:
        framing = (header(response, "Content-Length"), response.body, header(response, "Content-Type"))
        assert framing == (None, b"", None)
    elif case.framing == JSON_WITH_LENGTH:
        assert header(response, "Content-Type") == JSON_UTF8
        assert header(response, "Content-Length") == str(len(response.body))
        json.loads(response.body)
    else:
        assert header(response, "Content-Type") == JSON_UTF8
        assert header(response, "Content-Length") is None
        assert set(json.loads(response.body)) == {"token"}
    if operation == "get_service_status":
        assert header(response, "api-supported-versions") is None
    else:
        assert header(response, "api-supported-versions") == SUPPORTED
    assert header(response, "Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    assert case.effect(fake, client)
    assert fake.rest_calls[-1].operation == operation


def test_health_needs_no_token_and_carries_no_api_supported_versions(rest) -> None:
    response = rest.call("HEAD", "/api/health", authorization=None)
    assert response.status_code == 200
    assert header(response, "api-supported-versions") is None


@pytest.mark.parametrize("version", ["2024-12-01", "2021-08-01-preview", None])
def test_health_answers_200_whatever_the_api_version(rest, version: str | None) -> None:
    # service-behaviour §1.3 row 1: a 2021-08-01-preview health call also got 200
    assert rest.call("HEAD", "/api/health", api_version=version).status_code == 200


# ------------------------------------------------------------------------------------------ 404 bodies

ERROR_CONNECTION_BODY = (
    b'{"code":"Error.Connection.NotExisted","message":"Connection `fake-connection-id` is not found.",'
    b'"target":"Connection","details":null,"inner":null}'
)
INFO_CONNECTION_BODY = (
    b'{"code":"Info.Connection.NotExisted","message":"Connection `fake-connection-id` is not found.",'
    b'"target":"Connection","details":null,"inner":null}'
)
WARNING_USER_BODY = (
    b'{"code":"Warning.User.NotExisted","message":"User `fake-user` is not found.","target":"User",'
    b'"details":null,"inner":null}'
)
WARNING_USER_SPACE_BODY = WARNING_USER_BODY.replace(b"fake-user", b"fake user")


@pytest.mark.parametrize(
    ("method", "path", "query", "code", "body", "length"),
    [
        pytest.param("PUT", HUB + "/groups/group1/connections/fake-connection-id", [], "Error.Connection.NotExisted",
                     ERROR_CONNECTION_BODY, 146, id="add_connection_to_group"),
        pytest.param("PUT", HUB + "/permissions/sendToGroup/connections/fake-connection-id", [("targetName", "group1")],
                     "Info.Connection.NotExisted", INFO_CONNECTION_BODY, 145, id="grant_permission"),
        pytest.param("PUT", HUB + "/permissions/joinLeaveGroup/connections/fake-connection-id", [],
                     "Info.Connection.NotExisted", INFO_CONNECTION_BODY, 145, id="grant_permission_without_target"),
        pytest.param("PUT", HUB + "/users/fake-user/groups/group1", [], "Warning.User.NotExisted", WARNING_USER_BODY,
                     121, id="add_user_to_group"),
        pytest.param("PUT", HUB + "/users/fake%20user/groups/group1", [], "Warning.User.NotExisted",
                     WARNING_USER_SPACE_BODY, 121, id="add_user_to_group_decoded_id"),
    ],
)
def test_404_bodies_are_byte_exact(
    rest, method: str, path: str, query: list[tuple[str, str]], code: str, body: bytes, length: int
) -> None:
    assert len(body) == length
    response = rest.call(method, path, query)
    assert response.status_code == 404
    assert response.body == body
    assert header(response, "Content-Length") == str(length)
    assert header(response, "Content-Type") == JSON_UTF8
    assert header(response, "x-ms-error-code") == code
    assert header(response, "api-supported-versions") == SUPPORTED


@pytest.mark.parametrize(
    ("path", "query", "code", "length"),
    [
        pytest.param(
            HUB + "/connections/fake-connection-id", [], "Warning.Connection.NotExisted", 148, id="connection"
        ),
        pytest.param(HUB + "/connections/wdaAxv0BjzT30a4ca9VT0gIRUenQK02", [], "Warning.Connection.NotExisted", 161,
                     id="connection_31_chars"),
        pytest.param(HUB + "/users/fake-user", [], "Warning.User.NotExisted", 121, id="user"),
        pytest.param(HUB + "/users/fake%20user", [], "Warning.User.NotExisted", 121, id="user_encoded"),
        pytest.param(HUB + "/users/live-user-not-exist", [], "Warning.User.NotExisted", 131, id="user_long"),
        pytest.param(HUB + "/permissions/sendToGroup/connections/fake-connection-id", [("targetName", "group1")],
                     "Info.Connection.NotExisted", 145, id="permission_unknown_connection"),
    ],
)
def test_head_404_has_no_body_but_the_length_and_code_of_the_body(
    rest, path: str, query: list[tuple[str, str]], code: str, length: int
) -> None:
    response = rest.call("HEAD", path, query)
    assert response.status_code == 404
    assert response.body == b""
    assert header(response, "Content-Length") == str(length)
    assert header(response, "Content-Type") == JSON_UTF8
    assert header(response, "x-ms-error-code") == code


@pytest.mark.parametrize("group", ["fake-group", "fake%20group", "live-group-not-exist"])
def test_head_group_404_has_the_warning_code_and_no_body(rest, group: str) -> None:
    # The real body of Warning.Group.NotExisted is unknown (service-behaviour §9.3): only status and code are asserted.
    response = rest.call("HEAD", HUB + "/groups/" + group)
    assert (response.status_code, response.body, header(response, "x-ms-error-code")) == (
        404,
        b"",
        "Warning.Group.NotExisted",
    )


def test_has_permission_for_a_live_connection_lacking_it_is_404_without_body(fake: FakeWebPubSub, rest) -> None:
    client = fake.connect("hub", roles=["webpubsub.sendToGroup.other"])
    response = rest.call("HEAD", HUB + f"/permissions/sendToGroup/connections/{client.connection_id}",
                         [("targetName", "g")])
    assert (response.status_code, response.body) == (404, b"")
    assert header(response, "x-ms-error-code") is not None


def test_grant_check_check_revoke_sequence_is_200_200_200_204(fake: FakeWebPubSub, rest) -> None:
    # the live recording's sequence
    cid = fake.connect("hub").connection_id
    path = HUB + f"/permissions/sendToGroup/connections/{cid}"
    methods = ("PUT", "HEAD", "HEAD", "DELETE")
    statuses = [rest.call(m, path, [("targetName", "group-live-1")]).status_code for m in methods]
    assert statuses == [200, 200, 200, 204]
    assert rest.call("HEAD", path, [("targetName", "group-live-1")]).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", HUB + "/connections/fake-connection-id/:send", 202),
        ("POST", HUB + "/users/fake-user/:send", 202),
        ("POST", HUB + "/groups/fake-group/:send", 202),
        ("DELETE", HUB + "/connections/fake-connection-id", 204),
        ("POST", HUB + "/users/fake-user/:closeConnections", 204),
        ("POST", HUB + "/groups/fake-group/:closeConnections", 204),
        ("DELETE", HUB + "/groups/fake-group/connections/fake-connection-id", 204),
        ("DELETE", HUB + "/connections/fake-connection-id/groups", 204),
        ("DELETE", HUB + "/users/fake-user/groups/fake-group", 204),
        ("DELETE", HUB + "/users/fake-user/groups", 204),
        ("DELETE", HUB + "/permissions/sendToGroup/connections/fake-connection-id", 204),
    ],
)
def test_operations_on_unknown_targets_succeed(rest, method: str, path: str, status: int) -> None:
    kwargs = {"body": b"x", "content_type": "text/plain"} if path.endswith(":send") else {}
    assert rest.call(method, path, **kwargs).status_code == status


def test_listing_an_unknown_group_is_an_empty_page_of_12_bytes(rest) -> None:
    response = rest.call("GET", HUB + "/groups/group1/connections", [("top", "10")])
    assert (response.status_code, response.body, header(response, "Content-Length")) == (200, b'{"value":[]}', "12")


def test_a_member_that_leaves_makes_the_group_404_again(fake: FakeWebPubSub, rest) -> None:
    client = fake.connect("hub", groups=["g"])
    assert rest.call("HEAD", HUB + "/groups/g").status_code == 200
    assert rest.call("DELETE", HUB + f"/groups/g/connections/{client.connection_id}").status_code == 204
    assert rest.call("HEAD", HUB + "/groups/g").status_code == 404


@pytest.mark.parametrize(
    "close",
    [
        "POST /api/hubs/hub/:closeConnections",
        "POST /api/hubs/hub/groups/g/:closeConnections",
        "POST /api/hubs/hub/users/u/:closeConnections",
        "DELETE /api/hubs/hub/connections/{cid}",
    ],
)
def test_close_is_synchronous_the_next_exists_check_is_404(fake: FakeWebPubSub, rest, close: str) -> None:
    client = fake.connect("hub", user_id="u", groups=["g"])
    method, path = close.replace("{cid}", client.connection_id).split(" ")
    assert rest.call(method, path, [("reason", "live-coverage")]).status_code == 204
    response = rest.call("HEAD", HUB + f"/connections/{client.connection_id}")
    assert (response.status_code, header(response, "Content-Length")) == (404, "161")
    assert rest.call("HEAD", HUB + "/users/u").status_code == 404
    assert rest.call("HEAD", HUB + "/groups/g").status_code == 404


# ------------------------------------------------------------------------------------------ names over REST


@pytest.mark.parametrize("hub", ["HUB", "Hub", "hub"])
def test_hub_in_the_path_is_case_insensitive(fake: FakeWebPubSub, rest, hub: str) -> None:
    client = fake.connect("hub", user_id="u")
    assert rest.call("HEAD", f"/api/hubs/{hub}/connections/{client.connection_id}").status_code == 200
    assert rest.call("HEAD", f"/api/hubs/{hub}/users/u").status_code == 200


def test_path_segments_are_percent_decoded(fake: FakeWebPubSub, rest) -> None:
    client = fake.connect("hub", user_id="fake user", groups=["a/b c"])
    assert rest.call("HEAD", HUB + "/users/fake%20user").status_code == 200
    assert rest.call("HEAD", HUB + "/groups/" + quote("a/b c", safe="")).status_code == 200
    assert rest.call("POST", HUB + "/users/fake%20user/:send", body=b"x", content_type="text/plain").status_code == 202
    assert [m.data for m in client.received] == ["x"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/hubs/1hub/:send"),
        ("POST", "/api/hubs/hub-1/:send"),
        ("POST", "/api/hubs/" + "h" * 129 + "/:send"),
        ("HEAD", HUB + "/groups/%20%20"),
        ("PUT", HUB + "/groups/a%0Ab/connections/c"),
        ("GET", HUB + "/groups/" + "g" * 1025 + "/connections"),
        ("PUT", HUB + "/permissions/admin/connections/c"),
        ("PUT", HUB + "/permissions/sendToGroup/connections/c?targetName=%20"),
    ],
)
def test_invalid_names_in_the_path_are_400_error_bad_request(rest, method: str, path: str) -> None:
    base, _, query = path.partition("?")
    response = rest.call(method, base, query or None, body=b"x", content_type="text/plain")
    assert response.status_code == 400
    assert header(response, "x-ms-error-code") == "Error.BadRequest"


def test_a_hub_name_of_128_characters_is_accepted(rest) -> None:
    hub = "h" * 128
    assert rest.call("POST", f"/api/hubs/{hub}/:send", body=b"x", content_type="text/plain").status_code == 202


def test_a_group_name_of_1024_characters_is_accepted(fake: FakeWebPubSub, rest) -> None:
    group = "g" * 1024
    cid = fake.connect("hub").connection_id
    assert rest.call("PUT", HUB + f"/groups/{group}/connections/{cid}").status_code == 200
    assert rest.call("HEAD", HUB + f"/groups/{group}").status_code == 200


# ------------------------------------------------------------------------------------------------- 401


def _unsigned(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


UNAUTHORIZED = {
    "no_header": lambda rest, url: {"authorization": None},
    "basic_scheme": lambda rest, url: {"authorization": "Basic dXNlcjpwYXNz"},
    "bearer_without_token": lambda rest, url: {"authorization": "Bearer "},
    "not_a_jwt": lambda rest, url: {"authorization": "Bearer not-a-jwt"},
    "bad_signature": lambda rest, url: {"key": rest.other_key},
    "expired": lambda rest, url: {"lifetime": -1},
    "expires_now": lambda rest, url: {"lifetime": 0},
    "no_exp": lambda rest, url: {"authorization": "Bearer " + _unsigned({"aud": url}, rest.fake.access_key)},
    "no_aud": lambda rest, url: {
        "authorization": "Bearer " + _unsigned({"exp": int(rest.now) + 60}, rest.fake.access_key)
    },
    "hs384": lambda rest, url: {
        "authorization": "Bearer "
        + _unsigned({"aud": url, "exp": int(rest.now) + 60}, rest.fake.access_key + "x" * 20, "HS384")
    },
    "audience_other_host": lambda rest, url: {"audience": url.replace("fake.webpubsub", "other.webpubsub")},
    "audience_other_port": lambda rest, url: {"audience": url.replace(".azure.com/", ".azure.com:8443/")},
    "audience_other_path": lambda rest, url: {"audience": url.replace("/:send", "/groups/g/:send")},
    "audience_other_hub": lambda rest, url: {"audience": url.replace("/hubs/hub/", "/hubs/other/")},
    "audience_no_slash_after_host": lambda rest, url: {"audience": url.replace(".com/api", ".comapi")},
    "entra_audience_expired": lambda rest, url: {
        "authorization": "Bearer "
        + _unsigned({"aud": "https://webpubsub.azure.com", "exp": int(rest.now) - 1}, rest.other_key)
    },
    "entra_audience_without_exp": lambda rest, url: {
        "authorization": "Bearer " + _unsigned({"aud": "https://webpubsub.azure.com"}, rest.other_key)
    },
    "unverifiable_with_other_audience": lambda rest, url: {
        "authorization": "Bearer "
        + _unsigned({"aud": "https://management.azure.com", "exp": int(rest.now) + 60}, rest.other_key)
    },
}


@pytest.mark.parametrize("case", list(UNAUTHORIZED))
def test_refused_tokens_get_401_with_an_empty_body_and_nothing_happens(fake: FakeWebPubSub, rest, case: str) -> None:
    client = fake.connect("hub")
    url = rest.url(HUB + "/:send")
    response = rest.call_url("POST", url, body=b"x", content_type="text/plain", **UNAUTHORIZED[case](rest, url))
    assert response.status_code == 401
    assert response.body == b""
    assert header(response, "x-ms-error-code") is None
    assert client.received == []
    assert fake.rest_calls[-1].error


AUTHORIZED = {
    "exact_url": lambda rest, url: {},
    "audience_without_query": lambda rest, url: {"audience": url.split("?")[0]},
    "audience_with_other_query": lambda rest, url: {"audience": url.split("?")[0] + "?api-version=2021-10-01&x=1"},
    "audience_http_scheme": lambda rest, url: {"audience": url.replace("https://", "http://")},
    "audience_wss_scheme": lambda rest, url: {"audience": url.replace("https://", "wss://")},
    "audience_trailing_slash": lambda rest, url: {"audience": url.split("?")[0] + "/"},
    "audience_host_upper_case": lambda rest, url: {"audience": url.replace("fake.webpubsub", "FAKE.WebPubSub")},
    "lower_case_bearer": lambda rest, url: {"authorization": "bearer " + rest.token(url)},
    "upper_case_bearer": lambda rest, url: {"authorization": "BEARER " + rest.token(url)},
    "expires_in_one_second": lambda rest, url: {"lifetime": 1},
    "extra_name_claim": lambda rest, url: {
        "authorization": "Bearer "
        + rest.token(url, extra={"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": "me"})
    },
    "entra_token": lambda rest, url: {
        "authorization": "Bearer "
        + _unsigned({"aud": "https://webpubsub.azure.com", "exp": int(rest.now) + 3600}, rest.other_key)
    },
    "entra_token_trailing_slash": lambda rest, url: {
        "authorization": "Bearer "
        + _unsigned({"aud": "https://webpubsub.azure.com/", "exp": int(rest.now) + 3600}, rest.other_key)
    },
}


@pytest.mark.parametrize("case", list(AUTHORIZED))
def test_accepted_tokens(fake: FakeWebPubSub, rest, case: str) -> None:
    client = fake.connect("hub")
    url = rest.url(HUB + "/:send")
    response = rest.call_url("POST", url, body=b"x", content_type="text/plain", **AUTHORIZED[case](rest, url))
    assert response.status_code == 202
    assert [m.data for m in client.received] == ["x"]


def test_request_with_trailing_slash_is_accepted_with_an_audience_without_it(fake: FakeWebPubSub, rest) -> None:
    url = rest.url(HUB + "/:send/")
    response = rest.call_url("POST", url, body=b"x", content_type="text/plain", audience=rest.url(HUB + "/:send"))
    assert response.status_code == 202


def test_either_access_key_is_accepted_when_the_fake_has_two() -> None:
    from pytest_webpubsub._core.clock import CountingIds
    from pytest_webpubsub._core.service import WebPubSubService
    from pytest_webpubsub._rest.dispatch import RestDispatcher
    from pytest_webpubsub._rest.http import FakeRequest

    keys = ["a" * 44, "b" * 44]
    dispatcher = RestDispatcher(WebPubSubService(ids=CountingIds()), endpoint="https://x.webpubsub.azure.com",
                                keys=keys, clock=lambda: 1000.0)
    url = "https://x.webpubsub.azure.com/api/hubs/hub/:send?api-version=2024-12-01"
    for key in keys + ["c" * 44]:
        token = jwt.encode({"aud": url, "exp": 1060}, key, algorithm="HS256")
        request = FakeRequest("POST", url, {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}, b"x")
        assert dispatcher.dispatch(request).status_code == (401 if key.startswith("c") else 202)


# ----------------------------------------------------------------------------------------------- api-version


@pytest.mark.parametrize(
    ("method", "path", "version", "status"),
    [
        ("POST", HUB + "/:send", None, 202),
        ("POST", HUB + "/:send", "2021-10-01", 202),
        ("POST", HUB + "/:send", "2024-12-01", 202),
        ("DELETE", HUB + "/connections/c/groups", "2022-11-01", 204),
        ("DELETE", HUB + "/connections/c/groups", "2021-10-01", 400),
        ("POST", HUB + "/:addToGroups", "2023-07-01", 200),
        ("POST", HUB + "/:addToGroups", "2022-11-01", 400),
        ("POST", HUB + "/:removeFromGroups", "2023-07-01", 200),
        ("POST", HUB + "/:removeFromGroups", "2021-10-01", 400),
        ("GET", HUB + "/groups/g/connections", "2024-12-01", 200),
        ("GET", HUB + "/groups/g/connections", "2024-01-01", 400),
        ("GET", HUB + "/groups/g/connections", "2023-07-01", 400),
        ("GET", HUB + "/groups/g/connections", None, 200),
        ("POST", HUB + "/:generateToken", "2021-10-01", 200),
    ],
)
def test_api_version_missing_is_latest_and_a_route_refuses_versions_before_it_existed(
    rest, method: str, path: str, version: str | None, status: int
) -> None:
    body, content_type = (b'{"groups":["g"]}', "application/json") if "Groups" in path else (b"x", "text/plain")
    response = rest.call(method, path, api_version=version, body=body, content_type=content_type)
    assert response.status_code == status


@pytest.mark.parametrize("version", ["2020-01-01", "2024-12-01-preview", "2025-01-01", "", "latest"])
def test_unknown_api_version_is_400_with_the_documented_message(rest, version: str) -> None:
    url = rest.url(HUB + "/:send", [("api-version", version)])
    response = rest.call_url("POST", url, body=b"x", content_type="text/plain")
    assert response.status_code == 400
    assert error_body(response)["message"] == (
        f"The HTTP resource that matches the request URI '{url}' does not support the API version '{version}'."
    )
    assert header(response, "x-ms-error-code") == error_body(response)["code"]
    assert header(response, "api-supported-versions") == SUPPORTED


def test_repeated_api_version_is_400(rest) -> None:
    query = [("api-version", "2024-12-01"), ("api-version", "2024-12-01")]
    response = rest.call("POST", HUB + "/:send", query, body=b"x", content_type="text/plain")
    assert response.status_code == 400


# ---------------------------------------------------------------------------------- unknown path and method


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", HUB + "/unknown"),
        ("POST", "/api/nothing"),
        ("GET", "/"),
        ("POST", HUB + "/:sendToAll"),
        ("GET", HUB + "/groups/g/connections/c/extra"),
        ("HEAD", "/api/healthz"),
    ],
)
def test_unknown_path_is_404_even_without_a_token(rest, method: str, path: str) -> None:
    response = rest.call(method, path, authorization=None)
    assert response.status_code == 404
    assert response.body == b""
    assert header(response, "x-ms-error-code") is None


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", HUB + "/:send", {"POST"}),
        ("PUT", HUB + "/:send", {"POST"}),
        ("GET", "/api/health", {"HEAD"}),
        ("PATCH", HUB + "/connections/c", {"DELETE", "HEAD"}),
        ("PUT", HUB + "/groups/g", {"HEAD"}),
        ("POST", HUB + "/groups/g/connections/c", {"PUT", "DELETE"}),
        ("GET", HUB + "/permissions/sendToGroup/connections/c", {"PUT", "DELETE", "HEAD"}),
        ("DELETE", HUB + "/groups/g/connections", {"GET"}),
        ("GET", HUB + "/:generateToken", {"POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(rest, method: str, path: str, allowed: set[str]) -> None:
    response = rest.call(method, path, authorization=None)
    assert response.status_code == 405
    assert set(header(response, "Allow").split(", ")) == allowed  # type: ignore[union-attr]
    assert fake_calls_operation(rest) is None


def fake_calls_operation(rest) -> str | None:  # type: ignore[no-untyped-def]
    return rest.fake.rest_calls[-1].operation


# ------------------------------------------------------------------------------------------ content types

SEND_PATHS = {
    "send_to_all": HUB + "/:send",
    "send_to_user": HUB + "/users/u/:send",
    "send_to_group": HUB + "/groups/g/:send",
    "send_to_connection": HUB + "/connections/{cid}/:send",
}


@pytest.fixture
def receivers(fake: FakeWebPubSub) -> tuple[FakeClientConnection, FakeClientConnection]:
    """A JSON client and a simple client, both user ``u`` in group ``g``."""
    return (
        fake.connect("hub", user_id="u", groups=["g"]),
        fake.connect("hub", user_id="u", groups=["g"], protocol=None),
    )


def send_path(operation: str, client: FakeClientConnection) -> str:
    return SEND_PATHS[operation].replace("{cid}", client.connection_id)


@pytest.mark.parametrize(
    ("content_type", "body", "json_data_type", "json_data", "raw_frame"),
    [
        ("text/plain", b"Hello World", "text", "Hello World", "Hello World"),
        ("text/plain; charset=utf-8", "h\u00e9".encode(), "text", "h\u00e9", "h\u00e9"),
        ("Text/Plain", b"x", "text", "x", "x"),
        ("application/json", b'{"Hello": "World"}', "json", {"Hello": "World"}, '{"Hello": "World"}'),
        ("application/json", b'"Hello World"', "json", "Hello World", '"Hello World"'),
        ("application/json; charset=utf-8", b"[1, 2]", "json", [1, 2], "[1, 2]"),
        ("application/json", b"null", "json", None, "null"),
        ("application/octet-stream", b"\x00\xffbin", "binary", b"\x00\xffbin", b"\x00\xffbin"),
        (None, b"no content type", "binary", b"no content type", b"no content type"),
    ],
)
@pytest.mark.parametrize("operation", list(SEND_PATHS))
def test_content_type_decides_what_json_and_simple_clients_receive(
    rest, receivers, operation: str, content_type: str | None, body: bytes, json_data_type: str, json_data: Any,
    raw_frame: Any,
) -> None:
    json_client, raw_client = receivers
    for client in (json_client, raw_client) if operation == "send_to_connection" else (json_client,):
        response = rest.call("POST", send_path(operation, client), body=body, content_type=content_type)
        assert response.status_code == 202
    assert [(m.data_type, m.data) for m in json_client.received] == [(json_data_type, json_data)]
    assert raw_client.frames == [raw_frame]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/html", b"<p>x</p>", 415),
        ("application/xml", b"<x/>", 415),
        ("application/x-www-form-urlencoded", b"a=b", 415),
        ("multipart/form-data", b"x", 415),
        ("application/json", b"{bad", 400),
        ("application/json", b"", 400),
        ("application/json", b"{'single': 'quotes'}", 400),
    ],
)
@pytest.mark.parametrize("operation", list(SEND_PATHS))
def test_unsupported_or_invalid_bodies_are_refused_and_deliver_nothing(
    fake: FakeWebPubSub, rest, receivers, operation: str, content_type: str, body: bytes, status: int
) -> None:
    response = rest.call("POST", send_path(operation, receivers[0]), body=body, content_type=content_type)
    assert response.status_code == status
    assert header(response, "x-ms-error-code") == error_body(response)["code"]
    if status == 400:
        assert error_body(response)["message"] == "The request body is not a valid JSON."
    assert fake.deliveries == ()


@pytest.mark.parametrize(("ttl", "status"), [("0", 202), ("1", 202), ("300", 202), ("301", 400), ("-1", 400),
                                             ("abc", 400), ("", 400)])
@pytest.mark.parametrize("operation", list(SEND_PATHS))
def test_message_ttl_seconds_must_be_0_to_300(
    fake: FakeWebPubSub, rest, receivers, operation: str, ttl: str, status: int
) -> None:
    response = rest.call("POST", send_path(operation, receivers[0]), [("messageTtlSeconds", ttl)], body=b"x",
                         content_type="text/plain")
    assert response.status_code == status
    assert len(receivers[0].received) == (0 if status == 400 else 1)
    if status == 400:
        assert header(response, "x-ms-error-code") == "Error.BadRequest"
        assert fake.deliveries == ()


def test_repeated_message_ttl_seconds_is_400(rest) -> None:
    query = [("messageTtlSeconds", "1"), ("messageTtlSeconds", "2")]
    assert rest.call("POST", HUB + "/:send", query, body=b"x", content_type="text/plain").status_code == 400


# ----------------------------------------------------------------------------------- excluded and filter


def test_excluded_and_filter_on_send_to_all(fake: FakeWebPubSub, rest) -> None:
    a, b, c = (fake.connect("hub", user_id=u) for u in ("a", "b", "c"))
    query = [("excluded", a.connection_id), ("excluded", "fake-conn-id"), ("filter", "userId ne 'c'")]
    assert rest.call("POST", HUB + "/:send", query, body=b"x", content_type="text/plain").status_code == 202
    assert [len(x.received) for x in (a, b, c)] == [0, 1, 0]


def test_excluded_and_filter_on_send_to_group(fake: FakeWebPubSub, rest) -> None:
    a, b, c = (fake.connect("hub", user_id=u, groups=["g"]) for u in ("a", "b", "c"))
    outsider = fake.connect("hub", user_id="b")
    query = [("excluded", c.connection_id), ("filter", "userId in ('a', 'b', 'c')")]
    assert rest.call("POST", HUB + "/groups/g/:send", query, body=b"x", content_type="text/plain").status_code == 202
    assert [len(x.received) for x in (a, b, c, outsider)] == [1, 1, 0, 0]


def test_filter_on_send_to_user_is_within_that_users_connections(fake: FakeWebPubSub, rest) -> None:
    a1, a2 = fake.connect("hub", user_id="a", groups=["g"]), fake.connect("hub", user_id="a")
    b = fake.connect("hub", user_id="b", groups=["g"])
    query = [("filter", "'g' in groups")]
    assert rest.call("POST", HUB + "/users/a/:send", query, body=b"x", content_type="text/plain").status_code == 202
    assert [len(x.received) for x in (a1, a2, b)] == [1, 0, 0]


@pytest.mark.parametrize("operation", ["send_to_all", "send_to_user", "send_to_group"])
def test_invalid_filter_is_400_and_delivers_nothing(fake: FakeWebPubSub, rest, receivers, operation: str) -> None:
    response = rest.call("POST", send_path(operation, receivers[0]), [("filter", "not length(userId) gt 5")],
                         body=b"x", content_type="text/plain")
    assert response.status_code == 400
    assert header(response, "x-ms-error-code") == "Error.BadRequest"
    assert fake.deliveries == ()


@pytest.mark.parametrize(
    ("path", "open_after"),
    [
        (HUB + "/:closeConnections", ["a"]),
        (HUB + "/groups/g/:closeConnections", ["a", "c"]),
        (HUB + "/users/u/:closeConnections", ["a", "b"]),
    ],
)
def test_close_with_excluded_and_reason(fake: FakeWebPubSub, rest, path: str, open_after: list[str]) -> None:
    clients = {
        "a": fake.connect("hub", user_id="u", groups=["g"]),
        "b": fake.connect("hub", groups=["g"]),
        "c": fake.connect("hub", user_id="u"),
    }
    query = [("excluded", clients["a"].connection_id), ("excluded", "fake-conn-1"), ("reason", "maintenance")]
    assert rest.call("POST", path, query).status_code == 204
    assert [name for name, c in clients.items() if c.is_open] == open_after
    closed = [c for c in clients.values() if not c.is_open]
    assert closed and all(c.close_reason == "maintenance" for c in closed)
    assert all(c.frames[-1] == '{"type":"system","event":"disconnected","message":"maintenance"}' for c in closed)


# ------------------------------------------------------------------------------------------------- listing


def members(response: FakeResponse) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.body
    return json.loads(response.body)["value"]


@pytest.mark.parametrize(("name", "raw", "status"), [
    ("maxpagesize", "1", 200), ("maxpagesize", "200", 200), ("maxpagesize", "0", 400), ("maxpagesize", "201", 400),
    ("maxpagesize", "x", 400), ("top", "1", 200), ("top", "2147483647", 200), ("top", "0", 400),
    ("top", "2147483648", 400), ("top", "-1", 400),
])
def test_maxpagesize_and_top_bounds(rest, name: str, raw: str, status: int) -> None:
    response = rest.call("GET", HUB + "/groups/g/connections", [(name, raw)])
    assert response.status_code == status


def test_listing_shows_user_id_null_for_anonymous_members_byte_exact(fake: FakeWebPubSub, rest) -> None:
    anonymous = fake.connect("hub", groups=["g"])
    response = rest.call("GET", HUB + "/groups/g/connections")
    expected = (f'{{"value":[{{"connectionId":"{anonymous.connection_id}","userId":null}}]}}').encode()
    assert response.body == expected
    assert header(response, "Content-Length") == "76"


def test_listing_shows_user_ids_and_no_next_link_when_everything_fits(fake: FakeWebPubSub, rest) -> None:
    clients = [fake.connect("hub", user_id=f"user{i}", groups=["g"]) for i in range(3)] + [
        fake.connect("hub", groups=["g"])
    ]
    fake.connect("hub", user_id="outsider", groups=["other"])
    payload = json.loads(rest.call("GET", HUB + "/groups/g/connections").body)
    assert set(payload) == {"value"}
    assert sorted((m["connectionId"], m["userId"]) for m in payload["value"]) == sorted(
        (c.connection_id, c.user_id) for c in clients
    )


@pytest.mark.parametrize(("count", "length"), [(6, 401), (3, 206), (5, 336), (0, 12)])
def test_listing_lengths_match_the_recorded_anonymous_listings(
    fake: FakeWebPubSub, rest, count: int, length: int
) -> None:
    for _ in range(count):
        fake.connect("hub", groups=["group1"])
    response = rest.call("GET", HUB + "/groups/group1/connections")
    assert header(response, "Content-Length") == str(length) == str(len(response.body))


@pytest.mark.parametrize(("top", "expected"), [("6", 6), ("3", 3), ("5", 5), (None, 6), ("100", 6)])
def test_top_caps_the_total_in_one_page(fake: FakeWebPubSub, rest, top: str | None, expected: int) -> None:
    for _ in range(6):
        fake.connect("hub", groups=["group1"])
    response = rest.call("GET", HUB + "/groups/group1/connections", [("top", top)] if top else None)
    payload = json.loads(response.body)
    assert len(payload["value"]) == expected
    assert "nextLink" not in payload


def follow(rest, first: FakeResponse) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every page from ``first`` on, following ``nextLink`` (signed for the link's own URL)."""
    pages = [json.loads(first.body)]
    while "nextLink" in pages[-1]:
        assert len(pages) < 20
        response = rest.call_url("GET", pages[-1]["nextLink"])
        assert response.status_code == 200
        pages.append(json.loads(response.body))
    return pages


@pytest.mark.parametrize(
    ("query", "sizes"),
    [
        ([("maxpagesize", "2")], [2, 2, 1]),
        ([("maxpagesize", "1")], [1, 1, 1, 1, 1]),
        ([("maxpagesize", "5")], [5]),
        ([("maxpagesize", "200")], [5]),
        ([("maxpagesize", "2"), ("top", "3")], [2, 1]),
        ([("maxpagesize", "2"), ("top", "4")], [2, 2]),
        ([("maxpagesize", "2"), ("top", "2")], [2]),
        ([("maxpagesize", "3"), ("top", "100")], [3, 2]),
        ([("top", "3")], [3]),
    ],
)
def test_paging_follows_next_link_until_the_last_page_and_top_caps_the_total(
    fake: FakeWebPubSub, rest, query: list[tuple[str, str]], sizes: list[int]
) -> None:
    clients = [fake.connect("hub", user_id=f"u{i}", groups=["g"]) for i in range(5)]
    pages = follow(rest, rest.call("GET", HUB + "/groups/g/connections", query))
    assert [len(page["value"]) for page in pages] == sizes
    assert all(set(page) == {"value", "nextLink"} for page in pages[:-1])
    assert set(pages[-1]) == {"value"}
    listed = [m["connectionId"] for page in pages for m in page["value"]]
    assert len(listed) == len(set(listed)) == sum(sizes)
    assert set(listed) <= {c.connection_id for c in clients}
    if sum(sizes) == 5:
        assert set(listed) == {c.connection_id for c in clients}


def test_next_link_is_an_absolute_url_of_the_same_route(fake: FakeWebPubSub, rest) -> None:
    for _ in range(3):
        fake.connect("hub", groups=["g"])
    link = json.loads(rest.call("GET", HUB + "/groups/g/connections", [("maxpagesize", "1")]).body)["nextLink"]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == fake.endpoint
    assert parts.path == HUB + "/groups/g/connections"
    query = parse_qs(parts.query)
    assert query["maxpagesize"] == ["1"]
    assert query["api-version"] == ["2024-12-01"]
    assert len(query["continuationToken"]) == 1


def test_members_leaving_between_pages_are_not_listed_twice_nor_skipped(fake: FakeWebPubSub, rest) -> None:
    clients = [fake.connect("hub", groups=["g"]) for _ in range(4)]
    first = json.loads(rest.call("GET", HUB + "/groups/g/connections", [("maxpagesize", "2")]).body)
    seen = {m["connectionId"] for m in first["value"]}
    gone = next(c for c in clients if c.connection_id in seen)
    gone.close()
    rest_pages = follow(rest, rest.call_url("GET", first["nextLink"]))
    later = [m["connectionId"] for page in rest_pages for m in page["value"]]
    assert sorted(later) == sorted(c.connection_id for c in clients if c.connection_id not in seen)


@pytest.mark.parametrize("token", ["abc", "!!!", "%%%", "not base64 at all", "a", "", "//8="])
def test_invalid_continuation_token_is_400(fake: FakeWebPubSub, rest, token: str) -> None:
    fake.connect("hub", groups=["g"])
    response = rest.call("GET", HUB + "/groups/g/connections", [("continuationToken", token)])
    assert response.status_code == 400
    assert header(response, "x-ms-error-code") == "Error.BadRequest"


# ------------------------------------------------------------------------------- :addToGroups / :removeFromGroups


@pytest.fixture
def trio(fake: FakeWebPubSub) -> dict[str, FakeClientConnection]:
    return {
        "u": fake.connect("hub", user_id="u", groups=["g1"]),
        "v": fake.connect("hub", user_id="v"),
        "anon": fake.connect("hub"),
        "elsewhere": fake.connect("other", user_id="u"),
    }


@pytest.mark.parametrize(
    ("body", "joined"),
    [
        ({"groups": ["g2"]}, {"u", "v", "anon"}),
        ({"groups": ["g2"], "filter": None}, {"u", "v", "anon"}),
        ({"groups": ["g2"], "filter": ""}, {"u", "v", "anon"}),
        ({"groups": ["g2"], "filter": "userId eq 'u'"}, {"u"}),
        ({"filter": "userId ne 'u'", "groups": ["g2", "g3"]}, {"v", "anon"}),
        ({"groups": ["g2"], "filter": "'g1' in groups"}, {"u"}),
        ({"groups": ["g2"], "filter": "userId eq 'nobody'"}, set()),
    ],
)
def test_add_to_groups_selects_hub_connections_by_filter_all_when_omitted(
    rest, trio: dict[str, FakeClientConnection], body: dict[str, Any], joined: set[str]
) -> None:
    response = rest.call("POST", HUB + "/:addToGroups", body=json.dumps(body).encode(), content_type="application/json")
    assert (response.status_code, header(response, "Content-Length")) == (200, "0")
    assert {name for name, c in trio.items() if "g2" in c.groups} == joined
    assert trio["elsewhere"].groups == frozenset()


@pytest.mark.parametrize(
    ("body", "left"),
    [
        ({"groups": ["g1"]}, {"u"}),
        ({"groups": ["g1"], "filter": "userId eq 'v'"}, set()),
        ({"groups": ["g1", "never"], "filter": "userId eq 'u'"}, {"u"}),
    ],
)
def test_remove_from_groups_selects_hub_connections_by_filter_all_when_omitted(
    rest, trio: dict[str, FakeClientConnection], body: dict[str, Any], left: set[str]
) -> None:
    response = rest.call("POST", HUB + "/:removeFromGroups", body=json.dumps(body).encode(),
                         content_type="application/json")
    assert (response.status_code, header(response, "Content-Length")) == (200, "0")
    assert {name for name, client in trio.items() if "g1" not in client.groups and name == "u"} == left
    assert all("g1" not in client.groups for name, client in trio.items() if name != "u")


@pytest.mark.parametrize("operation", [":addToGroups", ":removeFromGroups"])
@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b'{"groups": []}', 400),
        ("application/json", b'{"filter": "userId eq \'u\'"}', 400),
        ("application/json", b'{"groups": "g1"}', 400),
        ("application/json", b'{"groups": [1]}', 400),
        ("application/json", b'{"groups": ["g2", ""]}', 400),
        ("application/json", b'{"groups": ["g2", " "]}', 400),
        ("application/json", b'{"groups": ["g1"], "filter": "userId eq"}', 400),
        ("application/json", b'{"groups": ["g1"], "filter": 5}', 400),
        ("application/json", b'["g1"]', 400),
        ("application/json", b"{not json", 400),
        ("application/json", b"", 400),
        ("text/plain", b'{"groups": ["g1"]}', 415),
        ("application/octet-stream", b'{"groups": ["g1"]}', 415),
        (None, b'{"groups": ["g1"]}', 415),
    ],
)
def test_bulk_group_operations_refuse_bad_bodies_without_changing_anything(
    fake: FakeWebPubSub, rest, trio: dict[str, FakeClientConnection], operation: str, content_type: str | None,
    body: bytes, status: int
) -> None:
    before = {name: c.groups for name, c in trio.items()}
    response = rest.call("POST", HUB + "/" + operation, body=body, content_type=content_type)
    assert response.status_code == status
    assert header(response, "x-ms-error-code") == error_body(response)["code"]
    assert {name: c.groups for name, c in trio.items()} == before


def test_bulk_group_operation_accepts_json_with_charset(rest, trio: dict[str, FakeClientConnection]) -> None:
    response = rest.call("POST", HUB + "/:addToGroups", body=b'{"groups":["g9"]}',
                         content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    assert "g9" in trio["v"].groups


# ----------------------------------------------------------------------------------------------- :generateToken


def generate(rest, query: list[tuple[str, str]] | None = None, hub: str = "hub") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = rest.call("POST", f"/api/hubs/{hub}/:generateToken", query)
    assert response.status_code == 200, response.body
    token = json.loads(response.body)["token"]
    return {"token": token, "header": jwt.get_unverified_header(token)}


def decode(rest, token: str, audience: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return jwt.decode(token, rest.fake.access_key, algorithms=["HS256"], audience=audience,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


def test_generated_token_defaults(rest) -> None:
    minted = generate(rest)
    claims = decode(rest, minted["token"], "https://fake.webpubsub.azure.com/client/hubs/hub")
    assert claims["aud"] == "https://fake.webpubsub.azure.com/client/hubs/hub"
    assert claims["iat"] == claims["nbf"] == int(rest.now)
    assert claims["exp"] - claims["iat"] == 3600
    assert not {"sub", "role", "webpubsub.group"} & set(claims)
    assert minted["header"]["alg"] == "HS256"
    assert minted["header"]["typ"] == "JWT"
    assert minted["header"]["kid"].startswith("s-")


def test_generated_token_carries_user_roles_groups_and_lifetime(rest) -> None:
    query = [("userId", "user1"), ("role", "webpubsub.sendToGroup"), ("role", "webpubsub.joinLeaveGroup.g1"),
             ("minutesToExpire", "10"), ("group", "group1"), ("group", "group 2"), ("clientType", "Default")]
    claims = decode(rest, generate(rest, query)["token"], "https://fake.webpubsub.azure.com/client/hubs/hub")
    assert claims["sub"] == "user1"
    assert claims["role"] == ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.g1"]
    assert claims["webpubsub.group"] == ["group1", "group 2"]
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize(
    ("client_type", "audience"),
    [
        ("Default", "https://fake.webpubsub.azure.com/client/hubs/hub"),
        ("default", "https://fake.webpubsub.azure.com/client/hubs/hub"),
        ("MQTT", "https://fake.webpubsub.azure.com/clients/mqtt/hubs/hub"),
        ("mqtt", "https://fake.webpubsub.azure.com/clients/mqtt/hubs/hub"),
    ],
)
def test_generated_token_audience_depends_on_client_type(rest, client_type: str, audience: str) -> None:
    claims = decode(rest, generate(rest, [("clientType", client_type)])["token"], audience)
    assert claims["aud"] == audience


def test_generated_token_for_socketio_is_accepted(rest) -> None:
    # service-behaviour §11.1: the real service answered 200 with a token for clientType=SocketIO
    token = generate(rest, [("userId", "live-user-1"), ("group", "group-live-1"), ("clientType", "SocketIO")])["token"]
    claims = jwt.decode(token, rest.fake.access_key, algorithms=["HS256"],
                        options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert claims["sub"] == "live-user-1"


@pytest.mark.parametrize(
    "query",
    [
        [("clientType", "Bogus")],
        [("minutesToExpire", "0")],
        [("minutesToExpire", "-1")],
        [("minutesToExpire", "abc")],
        [("group", "")],
        [("group", " ")],
        [("userId", "a"), ("userId", "b")],
    ],
    ids=lambda q: "&".join(f"{k}={v}" for k, v in q),
)
def test_generate_token_refuses_bad_parameters_with_400(rest, query: list[tuple[str, str]]) -> None:
    response = rest.call("POST", HUB + "/:generateToken", query)
    assert response.status_code == 400
    assert header(response, "x-ms-error-code") == "Error.BadRequest"


def test_generated_token_opens_a_client_connection_with_its_identity(fake: FakeWebPubSub, rest) -> None:
    query = [("userId", "alice"), ("role", "webpubsub.sendToGroup.g1"), ("group", "g1"), ("group", "g2")]
    token = generate(rest, query)["token"]
    client = fake.connect_url(f"wss://fake.webpubsub.azure.com/client/hubs/hub?access_token={token}")
    assert (client.user_id, client.groups) == ("alice", frozenset({"g1", "g2"}))
    assert fake._service.has_permission("hub", "sendToGroup", client.connection_id, target="g1") is True
    assert fake._service.has_permission("hub", "sendToGroup", client.connection_id, target="g2") is False


# -------------------------------------------------------------------------------------------- injected faults


def test_injected_fault_answers_the_next_calls_then_the_fake_answers(fake: FakeWebPubSub, rest) -> None:
    client = fake.connect("hub")
    fake.inject_fault(503, times=2)
    statuses = [rest.call("POST", HUB + "/:send", body=b"x", content_type="text/plain") for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 202]
    assert (statuses[0].body, header(statuses[0], "Content-Length")) == (b"", "0")
    assert header(statuses[0], "Retry-After") is None
    assert [m.data for m in client.received] == ["x"]
    assert [c.error for c in fake.rest_calls] == ["injected fault 503", "injected fault 503", None]


def test_injected_fault_for_one_operation_leaves_others_alone(fake: FakeWebPubSub, rest) -> None:
    fake.inject_fault(500, operation="send_to_user", retry_after=1.5)
    assert rest.call("POST", HUB + "/:send", body=b"x", content_type="text/plain").status_code == 202
    faulted = rest.call("POST", HUB + "/users/u/:send", body=b"x", content_type="text/plain")
    assert (faulted.status_code, header(faulted, "Retry-After")) == (500, "1.5")
    assert rest.call("POST", HUB + "/users/u/:send", body=b"x", content_type="text/plain").status_code == 202


def test_injected_fault_comes_before_authentication(fake: FakeWebPubSub, rest) -> None:
    fake.inject_fault(429, retry_after=2)
    response = rest.call("POST", HUB + "/:send", authorization=None)
    assert (response.status_code, header(response, "Retry-After")) == (429, "2")
    assert rest.call("POST", HUB + "/:send", authorization=None).status_code == 401


def test_injected_fault_is_not_used_up_by_unknown_paths(fake: FakeWebPubSub, rest) -> None:
    fake.inject_fault(503)
    assert rest.call("GET", HUB + "/nothing").status_code == 404
    assert rest.call("HEAD", "/api/health").status_code == 503
    assert rest.call("HEAD", "/api/health").status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 200},
        {"status": 302},
        {"status": 600},
        {"status": 503, "times": 0},
        {"status": 503, "operation": "send_to_everyone"},
    ],
)
def test_inject_fault_refuses_bad_arguments(fake: FakeWebPubSub, kwargs: dict[str, Any]) -> None:
    status = kwargs.pop("status")
    with pytest.raises(ValueError):
        fake.inject_fault(status, **kwargs)


def test_every_call_is_recorded_with_its_operation(fake: FakeWebPubSub, rest) -> None:
    rest.call("HEAD", "/api/health")
    rest.call("POST", HUB + "/:send", body=b"x", content_type="text/plain", authorization=None)
    rest.call("GET", "/nothing")
    calls = fake.rest_calls
    assert [(c.operation, c.status_code) for c in calls] == [
        ("get_service_status", 200),
        ("send_to_all", 401),
        (None, 404),
    ]
    url = "https://fake.webpubsub.azure.com/api/hubs/hub/:send?api-version=2024-12-01"
    assert str(calls[1]).startswith(f"POST {url} -> 401")


# ----------------------------------------------------------------------------------------- bounded call log


def test_the_dispatcher_can_keep_only_the_most_recent_calls_and_still_count_them_all() -> None:
    from pytest_webpubsub._core.service import WebPubSubService
    from pytest_webpubsub._rest.dispatch import RestDispatcher
    from pytest_webpubsub._rest.http import FakeRequest

    endpoint = "https://fake.webpubsub.azure.com"
    dispatcher = RestDispatcher(
        WebPubSubService(), endpoint=endpoint, keys=["k" * 32], clock=lambda: 0.0, max_calls=2
    )
    for index in range(3):
        dispatcher.dispatch(FakeRequest("HEAD", f"{endpoint}/api/health?n={index}", {}))
    assert [call.request.url[-1] for call in dispatcher.calls] == ["1", "2"]
    assert dispatcher.call_count == 3
    dispatcher.clear_calls()
    assert list(dispatcher.calls) == [] and dispatcher.call_count == 3
    with pytest.raises(ValueError, match="max_calls"):
        RestDispatcher(WebPubSubService(), endpoint=endpoint, keys=["k"], clock=lambda: 0.0, max_calls=-1)


# ------------------------------------------------------------------------- repeated calls (the plan cache)


def test_a_repeated_url_keeps_the_order_of_checks(fake: FakeWebPubSub, rest) -> None:
    """What the method and URL decide is remembered, but each call still meets route, fault, token, api-version."""
    url = rest.url(HUB + "/:send", [("api-version", "2020-01-01")])
    first = rest.call_url("POST", url, body=b"x", content_type="text/plain")
    assert first.status_code == 400  # the URL's verdict, now remembered
    assert rest.call_url("POST", url, body=b"x", authorization="Bearer x.y.z").status_code == 401  # token first
    fake.inject_fault(503, operation="send_to_all")
    assert rest.call_url("POST", url, body=b"x", authorization=None).status_code == 503  # a fault before the token
    again = rest.call_url("POST", url, body=b"x", content_type="text/plain")
    assert (again.status_code, again.body, dict(again.headers)) == (400, first.body, dict(first.headers))
    assert rest.call_url("GET", url).status_code == 405  # another method, another plan
    assert [call.operation for call in fake.rest_calls] == ["send_to_all"] * 4 + [None]


def test_a_repeated_call_answers_alike_and_shared_answers_are_read_only(fake: FakeWebPubSub, rest) -> None:
    alice = fake.connect("hub", user_id="alice")
    answers = [rest.call("POST", HUB + "/:send", body=b"hi", content_type="text/plain") for _ in range(3)]
    assert {(answer.status_code, tuple(answer.headers.items()), answer.body) for answer in answers} == {
        (202, (("Content-Length", "0"), ("api-supported-versions", SUPPORTED),
               ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")), b"")
    }
    assert [message.data for message in alice.received] == ["hi"] * 3
    with pytest.raises(TypeError):
        answers[0].headers["Content-Length"] = "1"  # type: ignore[index]


def test_the_plans_one_dispatcher_keeps_are_bounded(fake: FakeWebPubSub, rest) -> None:
    from pytest_webpubsub._rest.dispatch import MAX_PLANS

    for index in range(MAX_PLANS + 10):
        assert rest.call("HEAD", f"{HUB}/users/user-{index}").status_code == 404
    assert len(fake._rest._plans) == MAX_PLANS
    assert rest.call("HEAD", f"{HUB}/users/user-0").status_code == 404  # forgotten, planned again
