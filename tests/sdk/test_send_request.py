"""``send_request``: raw requests through the SDK's pipeline (health, ``build_*_request`` helpers, bulk group
operations that SDK 1.3.0 has no method for). ``send_request`` never raises on a status, so the exact answer
is visible (service-behaviour §1.1, §1.3)."""

from __future__ import annotations

from azure.core.rest import HttpRequest
from azure.messaging.webpubsubservice._operations._operations import (
    build_web_pub_sub_service_add_connection_to_group_request,
    build_web_pub_sub_service_connection_exists_request,
    build_web_pub_sub_service_get_client_access_token_request,
    build_web_pub_sub_service_list_connections_request,
    build_web_pub_sub_service_send_to_all_request,
)

from pytest_webpubsub import FakeWebPubSub

from .support import HUB, Sdk

API_VERSION = {"api-version": "2024-12-01"}


async def test_health(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    response = await sdk.send_request(HttpRequest("HEAD", "/api/health"))

    assert response.status_code == 200
    assert response.content == b""
    assert "api-supported-versions" not in response.headers
    assert "Content-Length" not in response.headers
    assert webpubsub.rest_calls[0].operation == "get_service_status"


async def test_built_send_request_with_another_hub_spelling(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    request = build_web_pub_sub_service_send_to_all_request("CHAT", content="hi", content_type="text/plain")

    response = await sdk.send_request(request)

    assert (response.status_code, response.headers["Content-Length"], response.content) == (202, "0", b"")
    assert response.headers["api-supported-versions"] == "2021-10-01, 2022-11-01, 2023-07-01, 2024-01-01, 2024-12-01"
    assert [(m.data, m.data_type) for m in alice.received] == [("hi", "text")]


async def test_built_existence_check(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")

    found = await sdk.send_request(build_web_pub_sub_service_connection_exists_request(alice.connection_id, HUB))
    missing = await sdk.send_request(build_web_pub_sub_service_connection_exists_request("fake-connection-id", HUB))

    assert (found.status_code, found.content) == (200, b"")
    assert "Content-Length" not in found.headers
    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["x-ms-error-code"] == "Warning.Connection.NotExisted"
    assert missing.headers["Content-Type"] == "application/json; charset=utf-8"
    assert missing.headers["Content-Length"] == "148"


async def test_built_list_and_failed_add(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["room"])

    listing = await sdk.send_request(build_web_pub_sub_service_list_connections_request("room", HUB, top=1))
    failed = await sdk.send_request(
        build_web_pub_sub_service_add_connection_to_group_request("room", "fake-connection-id", HUB)
    )

    assert listing.status_code == 200
    assert listing.json() == {"value": [{"connectionId": alice.connection_id, "userId": "alice"}]}
    assert failed.status_code == 404
    assert failed.json()["code"] == failed.headers["x-ms-error-code"] == "Error.Connection.NotExisted"
    assert failed.headers["Content-Length"] == str(len(failed.content)) == "146"


async def test_built_generate_token_request(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    request = build_web_pub_sub_service_get_client_access_token_request(HUB, user_id="bob", groups=["room"])

    response = await sdk.send_request(request)

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    token = response.json()["token"]
    bob = webpubsub.connect_url(f"wss://fake.webpubsub.azure.com/client/hubs/{HUB}?access_token={token}")
    assert (bob.user_id, bob.groups) == ("bob", {"room"})


def _bulk(action: str, groups: list[str], filter: str) -> HttpRequest:
    return HttpRequest(
        "POST", f"/api/hubs/{HUB}/:{action}", params=API_VERSION, json={"groups": groups, "filter": filter}
    )


async def test_add_to_groups_and_remove_from_groups_by_filter(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice_one = webpubsub.connect(HUB, user_id="alice")
    alice_two = webpubsub.connect(HUB, user_id="alice", groups=["g2"])
    bob = webpubsub.connect(HUB, user_id="bob", groups=["g1"])

    added = await sdk.send_request(_bulk("addToGroups", ["g1", "g2"], "userId eq 'alice'"))
    assert (alice_one.groups, alice_two.groups, bob.groups) == ({"g1", "g2"}, {"g1", "g2"}, {"g1"})

    removed = await sdk.send_request(_bulk("removeFromGroups", ["g1"], "userId eq 'alice'"))
    assert (alice_one.groups, alice_two.groups, bob.groups) == ({"g2"}, {"g2"}, {"g1"})

    for response in (added, removed):
        assert (response.status_code, response.headers["Content-Length"], response.content) == (200, "0", b"")
    calls = webpubsub.rest_calls
    assert [call.operation for call in calls] == ["add_connections_to_groups", "remove_connections_from_groups"]
    assert {call.request.header("Content-Type") for call in calls} == {"application/json"}


async def test_bulk_group_operations_matching_nobody_change_nothing(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", groups=["g1"])

    added = await sdk.send_request(_bulk("addToGroups", ["g2"], "userId eq 'nobody'"))
    removed = await sdk.send_request(_bulk("removeFromGroups", ["g1"], "userId eq 'nobody'"))

    assert (added.status_code, removed.status_code) == (200, 200)
    assert alice.groups == {"g1"}
