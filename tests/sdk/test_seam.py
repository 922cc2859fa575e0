"""The azure-core seam: which requests the fake answers, which it refuses and which it leaves alone
(sdk-internals §1.2 hook C)."""

from __future__ import annotations

import io
import socket
import time
from typing import Any, Iterator

import pytest
import requests
import urllib3
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport._aiohttp import AioHttpTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransport
from requests.adapters import HTTPAdapter

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._hosts import HOSTS
from pytest_webpubsub.plugin import ini_options

from .support import FLAVOURS, HUB, key_client, opened

PATCHED = [(cls, name) for cls in (RequestsTransport, AioHttpTransport) for name in ("send", "sleep")]
ORIGINALS = {(cls, name): cls.__dict__.get(name) for cls, name in PATCHED}
"""The transport methods as azure-core defines them, captured at import, before any fake started."""


def unpatched() -> bool:
    return all(cls.__dict__.get(name) is ORIGINALS[(cls, name)] for cls, name in PATCHED)


@pytest.fixture(scope="module")
def early_clients(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Clients built while no fake is active and nothing is patched, as application code at import time would build
    them (before the plugin's session hold installed the seams)."""
    holds = 0
    while HOSTS.pinned:
        HOSTS.unpin()
        holds += 1
    try:
        assert unpatched()
        connection_string = FakeWebPubSub(ini_options(request.config)).connection_string
        clients = {flavour: key_client(flavour, connection_string) for flavour in FLAVOURS}
        yield clients
        clients["sync"].close()
    finally:
        for _ in range(holds):
            HOSTS.pin()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_client_built_before_the_fake_started_reaches_it(
    early_clients: dict[str, Any], webpubsub: FakeWebPubSub, flavour: str
) -> None:
    alice = webpubsub.connect(HUB, user_id="alice")

    async with opened(early_clients[flavour], "key") as sdk:
        await sdk.send_to_user("alice", "early", content_type="text/plain")
        assert await sdk.connection_exists(alice.connection_id) is True

    assert [m.data for m in alice.received] == ["early"]
    assert [call.operation for call in webpubsub.rest_calls] == ["send_to_user", "connection_exists"]


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)  # the refusal is what this test checks
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("operation", ["send_to_all", "connection_exists"])
async def test_azure_host_no_fake_owns_is_refused(webpubsub: FakeWebPubSub, flavour: str, operation: str) -> None:
    connection_string = webpubsub.connection_string.replace("fake.webpubsub", "other.webpubsub")
    # Default retries: azure-core retries a refused HEAD, and the back-off after a refusal must cost nothing.
    started = time.monotonic()
    async with opened(key_client(flavour, connection_string), "key") as sdk:
        with pytest.raises(ServiceRequestError, match="no fake owns 'other.webpubsub.azure.com'"):
            if operation == "send_to_all":
                await sdk.send_to_all({"n": 1})
            else:
                await sdk.connection_exists("c")

    assert time.monotonic() - started < 1.0
    assert webpubsub.rest_calls == []


def test_other_hosts_pass_through_to_requests(webpubsub: FakeWebPubSub, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[requests.PreparedRequest] = []

    def canned_send(session: requests.Session, prepared: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(prepared)
        raw = urllib3.HTTPResponse(io.BytesIO(b""), headers={"Content-Length": "0"}, status=202, preload_content=False)
        return HTTPAdapter().build_response(prepared, raw)

    monkeypatch.setattr(requests.Session, "send", canned_send)
    connection_string = f"Endpoint=https://example.org;AccessKey={webpubsub.access_key};Version=1.0;"

    with key_client("sync", connection_string) as client:
        assert client.send_to_all("hi", content_type="text/plain") is None

    assert [(p.method, p.url) for p in sent] == [
        ("POST", "https://example.org/api/hubs/chat/:send?api-version=2024-12-01")
    ]
    assert (sent[0].body, sent[0].headers["Content-Type"]) == ("hi", "text/plain")
    assert webpubsub.rest_calls == []


async def test_other_hosts_pass_through_to_aiohttp(webpubsub: FakeWebPubSub) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection_string = f"Endpoint=http://127.0.0.1;Port={port};AccessKey={webpubsub.access_key};Version=1.0;"

    async with opened(key_client("aio", connection_string, retry_total=0), "key") as sdk:
        with pytest.raises(ServiceRequestError) as raised:
            await sdk.send_to_all({"n": 1})

    assert "no fake owns" not in str(raised.value)
    assert webpubsub.rest_calls == []


@pytest.mark.usefixtures("seams_unpinned")
def test_stopping_the_last_fake_restores_the_transports() -> None:
    first = FakeWebPubSub(endpoint="https://first.webpubsub.azure.com")
    second = FakeWebPubSub(endpoint="https://second.webpubsub.azure.com")

    with first:
        assert RequestsTransport.send is not ORIGINALS[(RequestsTransport, "send")]
        with second:
            assert not unpatched()
        assert not unpatched()
        with key_client("sync", first.connection_string) as client:
            assert client.group_exists("g") is False
    assert unpatched()
    assert RequestsTransport.send is ORIGINALS[(RequestsTransport, "send")]
    assert AioHttpTransport.send is ORIGINALS[(AioHttpTransport, "send")]
    assert [call.operation for call in first.rest_calls] == ["group_exists"]


# ---------------------------------------------------------------- request and response translation (fast paths)


def test_azure_cores_header_store_is_read_in_one_call_and_gives_what_iterating_gives() -> None:
    from azure.core.rest import HttpRequest
    from azure.core.utils import case_insensitive_dict

    from pytest_webpubsub.transport import _CASE_INSENSITIVE_DICT, _headers, to_fake_request

    assert _CASE_INSENSITIVE_DICT is type(case_insensitive_dict())  # the layout this azure-core keeps is known
    headers = case_insensitive_dict({"Content-Type": "text/plain", "X-A": "1"})
    headers["x-a"] = "2"  # a later spelling replaces the name and the value
    headers["Authorization"] = "Bearer t"
    assert _headers(headers) == dict(headers.items()) == {"Content-Type": "text/plain", "x-a": "2", "Authorization":
                                                         "Bearer t"}
    assert _headers({"Plain": "dict"}) == {"Plain": "dict"}
    request = HttpRequest("post", "https://h/api", headers=headers, content=b"x")
    assert to_fake_request(request).headers == dict(request.headers.items())


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Length": "0"}, {"Content-Type": "text/plain"}, {"content-type": "a/b", "Other": "x"},
     {"Content-Type": "a/b", "CONTENT-TYPE": "c/d"}],
)
def test_the_content_type_of_an_answer_is_what_its_case_insensitive_headers_say(headers: dict[str, str]) -> None:
    from azure.core.rest import HttpRequest

    from pytest_webpubsub import FakeResponse
    from pytest_webpubsub.transport import FakeHttpResponse

    request = HttpRequest("GET", "https://h/")
    unread = FakeHttpResponse(request, FakeResponse(200, headers))
    read = FakeHttpResponse(request, FakeResponse(200, headers))
    assert unread.content_type == read.headers.get("Content-Type") == read.content_type
