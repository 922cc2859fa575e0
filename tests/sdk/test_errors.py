"""Errors as the SDK surfaces them: status, exception type, ``x-ms-error-code`` and body (service-behaviour §1.1, §1.8,
§2, §7; tests/data/recordings/README.md "404 bodies")."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub

from .support import FLAVOURS, HUB, Sdk, entra_token, key_client, opened

FAR_FUTURE = 4_102_444_800.0  # 2100-01-01, long after any token the SDK signs now
WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDAwMDE="


async def test_add_unknown_connection_to_group(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        await sdk.add_connection_to_group("room", "fake-connection-id")

    response = raised.value.response
    assert response.status_code == 404
    assert response.headers["x-ms-error-code"] == "Error.Connection.NotExisted"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "code": "Error.Connection.NotExisted",
        "message": "Connection `fake-connection-id` is not found.",
        "target": "Connection",
        "details": None,
        "inner": None,
    }
    assert response.headers["Content-Length"] == "146"
    assert response.headers["api-supported-versions"] == "2021-10-01, 2022-11-01, 2023-07-01, 2024-01-01, 2024-12-01"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_wrong_access_key_is_unauthorized(webpubsub: FakeWebPubSub, flavour: str) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")
    connection_string = webpubsub.connection_string.replace(webpubsub.access_key, WRONG_KEY)

    async with opened(key_client(flavour, connection_string), "key") as sdk:
        with pytest.raises(ClientAuthenticationError) as raised:
            await sdk.send_to_all({"n": 1})

    assert raised.value.status_code == 401
    assert alice.received == []
    assert [call.status_code for call in webpubsub.rest_calls] == [401]
    assert "signature" in webpubsub.rest_calls[0].error


class _WrongAudienceCredential:
    """A valid-looking Entra token, but for Azure Resource Manager instead of Web PubSub."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return entra_token(audience="https://management.azure.com")


def test_entra_token_for_another_audience_is_unauthorized(webpubsub: FakeWebPubSub) -> None:
    with WebPubSubServiceClient(endpoint=webpubsub.endpoint, hub=HUB, credential=_WrongAudienceCredential()) as client:
        with pytest.raises(ClientAuthenticationError):
            client.send_to_all({"n": 1})

    assert [call.status_code for call in webpubsub.rest_calls] == [401]


@pytest.mark.webpubsub(clock=lambda: FAR_FUTURE)
async def test_expired_tokens_are_unauthorized(sdk: Sdk, webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")

    with pytest.raises(ClientAuthenticationError):
        await sdk.send_to_all({"n": 1})

    assert alice.received == []
    assert "expired" in webpubsub.rest_calls[-1].error
    if sdk.auth == "entra":
        with pytest.raises(ClientAuthenticationError):
            await sdk.get_client_access_token(user_id="alice")
    else:
        access = await sdk.get_client_access_token(user_id="alice")
        with pytest.raises(ConnectionRefused) as refused:
            webpubsub.connect_url(access["url"])
        assert refused.value.status == 401
    assert [call.status_code for call in webpubsub.rest_calls] == [401] * len(webpubsub.rest_calls)


BLANK = "   "
INVALID_GROUP_CALLS = [
    pytest.param(lambda sdk: sdk.send_to_group(BLANK, {"n": 1}), id="send_to_group"),
    pytest.param(lambda sdk: sdk.add_connection_to_group(BLANK, "fake-connection-id"), id="add_connection_to_group"),
    pytest.param(lambda sdk: sdk.group_exists(BLANK), id="group_exists"),
    pytest.param(lambda sdk: sdk.close_group_connections(BLANK), id="close_group_connections"),
    pytest.param(lambda sdk: sdk.list_connections(group=BLANK), id="list_connections"),
]


@pytest.mark.parametrize("operation", INVALID_GROUP_CALLS)
async def test_whitespace_group_name_is_a_bad_request(
    sdk: Sdk, webpubsub: FakeWebPubSub, operation: Callable[[Sdk], Awaitable[Any]]
) -> None:
    member = webpubsub.connect(HUB, user_id="alice", groups=["room"])

    with pytest.raises(HttpResponseError) as raised:
        await operation(sdk)

    assert raised.value.status_code == 400
    assert raised.value.response.headers["x-ms-error-code"] == "Error.BadRequest"
    assert [call.status_code for call in webpubsub.rest_calls] == [400]
    assert member.received == [] and member.is_open


INVALID_FILTER_SENDS = [
    pytest.param(lambda sdk, odata: sdk.send_to_all({"n": 1}, filter=odata), id="send_to_all"),
    pytest.param(lambda sdk, odata: sdk.send_to_user("alice", {"n": 1}, filter=odata), id="send_to_user"),
    pytest.param(lambda sdk, odata: sdk.send_to_group("room", {"n": 1}, filter=odata), id="send_to_group"),
]


@pytest.mark.parametrize("odata", ["userId eq", "not length(userId) gt 5", "nosuchfield eq 'x'"])
@pytest.mark.parametrize("send", INVALID_FILTER_SENDS)
async def test_invalid_filter_is_a_bad_request_and_delivers_nothing(
    sdk: Sdk, webpubsub: FakeWebPubSub, send: Callable[[Sdk, str], Awaitable[Any]], odata: str
) -> None:
    webpubsub.connect(HUB, user_id="alice", groups=["room"])

    with pytest.raises(HttpResponseError) as raised:
        await send(sdk, odata)

    assert raised.value.status_code == 400
    body = raised.value.response.json()
    assert body["code"] == raised.value.response.headers["x-ms-error-code"] == "Error.BadRequest"
    assert body["message"].endswith("(Parameter 'filter')")
    assert webpubsub.deliveries == ()


LEAKY_SENDS = [
    pytest.param(lambda sdk: sdk.send_to_all({"n": 1}, message_ttl_seconds=5), id="send_to_all"),
    pytest.param(lambda sdk: sdk.send_to_user("alice", {"n": 1}, message_ttl_seconds=5), id="send_to_user"),
    pytest.param(lambda sdk: sdk.send_to_group("room", {"n": 1}, message_ttl_seconds=5), id="send_to_group"),
    pytest.param(lambda sdk: sdk.send_to_connection("c", {"n": 1}, message_ttl_seconds=5), id="send_to_connection"),
]


@pytest.mark.parametrize("send", LEAKY_SENDS)
async def test_message_ttl_seconds_leaks_to_the_transport_like_the_real_one(
    sdk: Sdk, webpubsub: FakeWebPubSub, send: Callable[[Sdk], Awaitable[Any]]
) -> None:
    webpubsub.connect(HUB, user_id="alice", groups=["room"])

    with pytest.raises(TypeError, match="unexpected keyword argument 'message_ttl_seconds'"):
        await send(sdk)

    assert webpubsub.rest_calls == []
    assert webpubsub.deliveries == ()
