"""websockets < 16 (the last release for Python 3.9 is 15) has no patch point for the in-memory socket: there the
seam refuses a fake's host and an unowned Azure host at once with a clear error, so nothing reaches the network."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.sync.client import connect as sync_connect

from pytest_webpubsub import FakeWebPubSub

pytestmark = pytest.mark.skipif(
    int(websockets.__version__.split(".")[0]) >= 16, reason="websockets >= 16 is routed to the fake in memory"
)


def test_the_asyncio_client_fails_at_once_for_a_fakes_host_saying_to_upgrade(webpubsub: FakeWebPubSub) -> None:
    url = webpubsub.service_client("chat").get_client_access_token()["url"]

    async def open_it() -> None:  # built inside the loop: on Python 3.9 building it outside would create one
        await websockets.connect(url)

    loop = asyncio.new_event_loop()  # not asyncio.run: it would drop (unclosed) a loop another test left current
    try:
        with pytest.raises(OSError) as refused:
            loop.run_until_complete(open_it())
    finally:
        loop.close()
    assert "websockets >= 16" in str(refused.value)


def test_the_sync_client_fails_at_once_for_a_fakes_host_saying_to_upgrade(webpubsub: FakeWebPubSub) -> None:
    url = webpubsub.service_client("chat").get_client_access_token()["url"]
    with pytest.raises(OSError) as refused:
        sync_connect(url)
    assert "websockets >= 16" in str(refused.value)


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)
def test_an_unowned_azure_host_is_refused(webpubsub: FakeWebPubSub) -> None:
    with pytest.raises(OSError, match="no fake owns"):
        sync_connect("wss://nobody.webpubsub.azure.com/client/hubs/chat")
