"""grant_permission / revoke_permission / has_permission through the real SDK (service-behaviour §4)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pytest_webpubsub import FakeWebPubSub

from .support import HUB, Sdk

PERMISSIONS = ["sendToGroup", "joinLeaveGroup"]


@pytest.mark.parametrize("permission", PERMISSIONS)
async def test_grant_check_revoke_for_one_group(sdk: Sdk, webpubsub: FakeWebPubSub, permission: str) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    cid = alice.connection_id

    assert await sdk.has_permission(permission, cid, target_name="room") is False
    assert await sdk.grant_permission(permission, cid, target_name="room") is None
    assert await sdk.has_permission(permission, cid, target_name="room") is True
    assert await sdk.has_permission(permission, cid, target_name="other") is False
    assert await sdk.revoke_permission(permission, cid, target_name="room") is None
    assert await sdk.has_permission(permission, cid, target_name="room") is False

    assert [(call.operation, call.status_code) for call in webpubsub.rest_calls] == [
        ("has_permission", 404),
        ("grant_permission", 200),
        ("has_permission", 200),
        ("has_permission", 404),
        ("revoke_permission", 204),
        ("has_permission", 404),
    ]
    assert all(call.request.url.count("targetName=") == 1 for call in webpubsub.rest_calls)


@pytest.mark.parametrize("permission", PERMISSIONS)
async def test_permissions_from_token_roles_are_visible_and_revocable(
    sdk: Sdk, webpubsub: FakeWebPubSub, permission: str
) -> None:
    alice = webpubsub.connect(HUB, user_id="alice", roles=[f"webpubsub.{permission}.room"])
    other = "joinLeaveGroup" if permission == "sendToGroup" else "sendToGroup"

    assert await sdk.has_permission(permission, alice.connection_id, target_name="room") is True
    assert await sdk.has_permission(other, alice.connection_id, target_name="room") is False

    await sdk.revoke_permission(permission, alice.connection_id, target_name="room")

    assert await sdk.has_permission(permission, alice.connection_id, target_name="room") is False


async def test_unknown_connection(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        await sdk.grant_permission("sendToGroup", "fake-connection-id", target_name="room")

    assert raised.value.response.headers["x-ms-error-code"] == "Info.Connection.NotExisted"
    assert raised.value.response.headers["Content-Length"] == "145"
    assert raised.value.response.json() == {
        "code": "Info.Connection.NotExisted",
        "message": "Connection `fake-connection-id` is not found.",
        "target": "Connection",
        "details": None,
        "inner": None,
    }
    assert await sdk.has_permission("sendToGroup", "fake-connection-id", target_name="room") is False
    assert await sdk.revoke_permission("sendToGroup", "fake-connection-id", target_name="room") is None

    calls = webpubsub.rest_calls
    assert [call.status_code for call in calls] == [404, 404, 204]
    assert calls[1].response.headers["x-ms-error-code"] == "Info.Connection.NotExisted"
    assert calls[1].response.body == b""
