"""Benchmark: ``send_to_all`` through the fake against the same SDK call through a canned-202 transport.

The canned transport is the floor: the SDK's own pipeline (policies, JWT signing, serialisation) with an
answer that costs nothing. The ratio says what the fake adds on top. Run::

    python benchmarks/bench_send_to_all.py [--calls 2000] [--connections 0 1 10 100] [--rounds 5]

For each number of connected clients it prints both timings per call and their ratio. The two are measured
alternately in the same run, round after round, and each is the *fastest* round: on a shared machine noise only
ever adds time, so the minimum is the stable estimate (as ``timeit`` recommends). With 0 connections the ratio is the
cost of the fake's REST handling alone; with more, fan-out (a recorded delivery per recipient) adds to it.
"""

from __future__ import annotations

import argparse
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


def measure(connections: int, calls: int, rounds: int) -> tuple[float, float, float]:
    """Fastest floor time and fastest fake time (seconds per call) for one configuration, and their ratio."""
    with FakeWebPubSub() as fake:
        for index in range(connections):
            fake.connect("bench", user_id=f"user-{index}")
        through_fake = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub="bench")
        floor = WebPubSubServiceClient.from_connection_string(
            fake.connection_string, hub="bench", transport=FakeTransport(lambda request: CANNED_202)
        )
        _time_calls(through_fake, 200)  # warm-up: imports, caches
        _time_calls(floor, 200)
        fake_times, floor_times = [], []
        for _ in range(rounds):
            floor_times.append(_time_calls(floor, calls))
            fake_times.append(_time_calls(through_fake, calls))
        assert len(fake.deliveries) == connections * (200 + calls * rounds)
    return min(floor_times), min(fake_times), min(fake_times) / min(floor_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connections", type=int, nargs="+", default=[0, 1, 10, 100])
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args()

    print(f"send_to_all, {arguments.calls} calls x {arguments.rounds} rounds; floor = canned 202 transport")
    print(f"{'connections':>11}  {'floor us/call':>13}  {'fake us/call':>12}  {'ratio':>6}")
    for connections in arguments.connections:
        floor, fake, ratio = measure(connections, arguments.calls, arguments.rounds)
        print(f"{connections:>11}  {floor * 1e6:>13.1f}  {fake * 1e6:>12.1f}  {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
