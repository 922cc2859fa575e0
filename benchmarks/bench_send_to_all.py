"""Benchmark: ``send_to_all`` through the fake against the same SDK call through a canned-202 transport.

The canned transport is the floor: the SDK's own pipeline (policies, JWT signing, serialisation) with an
answer that costs nothing. The ratio says what the fake adds on top. Run::

    python benchmarks/bench_send_to_all.py [--calls 2000] [--connections 10] [--rounds 5]

It prints both timings per call and the ratio (median over rounds, the two measured alternately in the
same run so machine noise hits both).
"""

from __future__ import annotations

import argparse
import statistics
import time

from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import FakeResponse, FakeWebPubSub
from pytest_webpubsub.transport import FakeTransport

CANNED_202 = FakeResponse(202, {"Content-Length": "0"})


def _time_calls(client: WebPubSubServiceClient, calls: int) -> float:
    message = {"event": "tick", "value": 1}
    start = time.perf_counter()
    for _ in range(calls):
        client.send_to_all(message)
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()

    with FakeWebPubSub() as fake:
        for index in range(arguments.connections):
            fake.connect("bench", user_id=f"user-{index}")
        through_fake = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub="bench")
        floor = WebPubSubServiceClient.from_connection_string(
            fake.connection_string, hub="bench", transport=FakeTransport(lambda request: CANNED_202)
        )
        _time_calls(through_fake, 200)  # warm-up: imports, caches
        _time_calls(floor, 200)
        ratios, fake_times, floor_times = [], [], []
        for _ in range(arguments.rounds):
            floor_time = _time_calls(floor, arguments.calls)
            fake_time = _time_calls(through_fake, arguments.calls)
            floor_times.append(floor_time)
            fake_times.append(fake_time)
            ratios.append(fake_time / floor_time)
        delivered = len(fake.deliveries)

    print(f"send_to_all to {arguments.connections} connections, {arguments.calls} calls x {arguments.rounds} rounds")
    print(f"  canned 202 transport (floor): {statistics.median(floor_times) * 1e6:8.1f} us/call")
    print(f"  through the fake:             {statistics.median(fake_times) * 1e6:8.1f} us/call")
    print(f"  ratio fake/floor (median):    {statistics.median(ratios):8.3f}x   (target <= 1.25x)")
    print(f"  deliveries recorded:          {delivered}")


if __name__ == "__main__":
    main()
