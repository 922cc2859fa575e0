"""Many threads and an event loop on one fake at once: invariants hold, nothing deadlocks, nothing escapes.

Threads use the sync service SDK, an asyncio task group uses the aio SDK, simulated clients join, leave and send,
and readers read their records, all at the same time. Every wait is bounded by a timeout on a condition; no sleep.
"""

from __future__ import annotations

import asyncio
import random
import threading

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

from pytest_webpubsub import FakeWebPubSub

HUB = "chat"
THREADS = 6
OPERATIONS = 150
AIO_SENDS = 200
TIMEOUT = 120.0


def test_threads_and_an_event_loop_on_one_fake(webpubsub: FakeWebPubSub) -> None:
    members = [webpubsub.connect(HUB, user_id=f"user{index}", groups=["all"],
                                 roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]) for index in range(8)]
    errors: list[BaseException] = []
    done = threading.Event()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        client = WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub=HUB)
        mine = webpubsub.connect(HUB, user_id=f"worker{seed}", roles=["webpubsub.joinLeaveGroup"])
        try:
            for step in range(OPERATIONS):
                action = rng.randrange(6)
                if action == 0:
                    client.send_to_group("all", f"{seed}:{step}", content_type="text/plain")
                elif action == 1:
                    client.add_user_to_group("room", f"worker{seed}")
                elif action == 2:
                    client.remove_connection_from_group("room", mine.connection_id)
                elif action == 3:
                    assert mine.join_group(f"g{seed}").success
                elif action == 4:
                    members[rng.randrange(len(members))].send_to_group("all", {"n": step}, ack=False)
                else:
                    client.send_to_user(f"user{rng.randrange(8)}", b"\x00\x01", content_type="application/octet-stream")
        except BaseException as error:
            errors.append(error)

    def reader() -> None:
        try:
            while not done.is_set():
                for member in members:
                    member.received  # noqa: B018 - rendering while others write is the racy part
                webpubsub.deliveries  # noqa: B018
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    async def aio_sends() -> None:
        async with AsyncWebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub=HUB) as client:
            await asyncio.gather(*(client.send_to_group("all", {"aio": index}) for index in range(AIO_SENDS)))

    workers = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in workers + readers:
        thread.start()
    asyncio.run(asyncio.wait_for(aio_sends(), TIMEOUT))
    for thread in workers:
        thread.join(TIMEOUT)
    done.set()
    for thread in readers:
        thread.join(TIMEOUT)

    assert not any(thread.is_alive() for thread in workers + readers), "a thread is stuck: deadlock"
    assert errors == []
    assert all(call.status_code < 500 for call in webpubsub.rest_calls)
    # Every member got every message sent to "all", each once, in the order the service delivered them.
    deliveries = webpubsub.deliveries
    delivered_to = {m.connection_id: [d.data for d in deliveries if d.connection_id == m.connection_id]
                    for m in members}
    for member in members:
        assert [message.data for message in member.received] == delivered_to[member.connection_id]
    first = delivered_to[members[0].connection_id]
    aio = [data for data in first if isinstance(data, dict) and "aio" in data]
    assert sorted(item["aio"] for item in aio) == list(range(AIO_SENDS))
    # The indexes agree with the connections.
    snapshot = webpubsub._service.snapshot(HUB)
    for group, ids in snapshot.groups.items():
        assert all(group in snapshot.connections[cid].groups for cid in ids)
    for cid, connection in snapshot.connections.items():
        assert all(cid in snapshot.groups[group] for group in connection.groups)
