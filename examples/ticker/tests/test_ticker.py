"""The ticker end to end, offline: the service SDK negotiates the URL, ``websockets`` opens it, quotes flow.

The ``webpubsub`` fixture (pytest-webpubsub) starts an in-memory fake for each test and exports its connection
string; the websockets client reaches the same fake in process: no socket, no port, no sleeping. Every wait is
bounded by a timeout on a condition.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import websockets
from ticker_app import Quote, SubscriptionRefused, TickerServer, watch

TIMEOUT = 5.0


async def collect(stream, count):
    """Up to ``count`` quotes (fewer if the service ends the stream); the stream is closed afterwards."""
    quotes = []
    try:
        async for quote in stream:
            quotes.append(quote)
            if len(quotes) == count:
                break
    finally:
        await stream.aclose()
    return quotes


async def start_watching(url, symbols, count):
    """A task collecting quotes, started once the client's subscriptions were acknowledged."""
    subscribed = asyncio.Event()
    task = asyncio.ensure_future(collect(watch(url, symbols, on_subscribed=subscribed.set), count))
    await asyncio.wait_for(subscribed.wait(), TIMEOUT)
    return task


async def test_quotes_arrive_in_order_for_the_watched_symbols(webpubsub):
    server = TickerServer()
    watching = await start_watching(server.negotiate("ann"), ["MSFT"], count=3)

    # A market-data feed publishes from another thread while the client's event loop waits in recv().
    ticks = [("MSFT", 1.0), ("AAPL", 9.0), ("MSFT", 2.0), ("MSFT", 3.0)]
    feed = threading.Thread(target=lambda: [server.publish(symbol, price) for symbol, price in ticks])
    feed.start()
    quotes = await asyncio.wait_for(watching, TIMEOUT)
    feed.join()

    assert quotes == [Quote("MSFT", 1.0), Quote("MSFT", 2.0), Quote("MSFT", 3.0)]
    webpubsub.assert_delivered(user="ann", group="quotes-msft", times=3)
    webpubsub.assert_not_delivered(user="ann", group="quotes-aapl")


async def test_a_halt_ends_the_stream_cleanly(webpubsub):
    server = TickerServer()
    watching = await start_watching(server.negotiate("ann"), ["MSFT"], count=10)

    server.publish("MSFT", 1.5)
    server.halt("ann", reason="market closed")

    assert await asyncio.wait_for(watching, TIMEOUT) == [Quote("MSFT", 1.5)]  # ended by the service
    closed = [event for event in webpubsub.lifecycle if event.kind == "close"]
    assert [event.reason for event in closed] == ["market closed"]


async def test_a_url_without_the_join_role_cannot_subscribe(webpubsub):
    url = TickerServer().client.get_client_access_token(user_id="ann")["url"]  # no roles

    with pytest.raises(SubscriptionRefused):
        await collect(watch(url, ["MSFT"]), 1)


async def test_an_expired_url_is_refused_with_401(webpubsub):
    url = TickerServer().negotiate("ann", minutes=-1)

    with pytest.raises(websockets.InvalidStatus) as refused:
        await collect(watch(url, ["MSFT"]), 1)

    assert refused.value.response.status_code == 401
