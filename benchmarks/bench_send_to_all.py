"""Benchmark: ``send_to_all`` through the fake against the same SDK call through a canned-202 transport.

The canned transport is the floor: the SDK's own pipeline (policies, JWT signing, serialisation) with an
answer that costs nothing. The ratio says what the fake adds on top. Run::

    python benchmarks/bench_send_to_all.py [--calls 500] [--connections 0 1 10 100] [--rounds 15]
    python benchmarks/bench_send_to_all.py --instructions      # needs valgrind

``--instructions`` counts CPU instructions per call under valgrind's callgrind instead of timing: slower to run,
but the same on every run whatever else the machine is doing, so its ratio is the one to compare across commits.

For each number of connected clients it prints both timings per call and their ratio. The two are measured
alternately in the same run, round after round, and each is the *fastest* round: on a shared machine noise only
ever adds time, so the minimum is the stable estimate (as ``timeit`` recommends). With 0 connections the ratio is the
cost of the fake's REST handling alone; with more, fan-out (a recorded delivery per recipient) adds to it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
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


def _run_calls(mode: str, connections: int, calls: int) -> None:
    """One process's work for ``--instructions``: set up, then make ``calls`` calls (``mode`` fake or floor)."""
    with FakeWebPubSub() as fake:
        for index in range(connections):
            fake.connect("bench", user_id=f"user-{index}")
        transport = {"transport": FakeTransport(lambda request: CANNED_202)} if mode == "floor" else {}
        client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub="bench", **transport)
        message = {"event": "tick", "value": 1}
        for _ in range(calls):
            client.send_to_all(message)


def _instructions(mode: str, connections: int, calls: int) -> int:
    """CPU instructions per call: a run with ``calls`` calls minus a run with none, over ``calls``."""
    counts = []
    for count in (0, calls):
        command = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--run", mode, str(connections), str(count),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
        counts.append(int(re.search(r"Collected : (\d+)", output).group(1)))  # type: ignore[union-attr]
    return (counts[1] - counts[0]) // calls


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connections", type=int, nargs="+", default=[0, 1, 10, 100])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.run:
        mode, connections, calls = arguments.run
        _run_calls(mode, int(connections), int(calls))
        return
    if arguments.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
        print(f"send_to_all, instructions per call (callgrind, {arguments.calls} calls); floor = canned 202 transport")
        print(f"{'connections':>11}  {'floor Ir/call':>13}  {'fake Ir/call':>12}  {'ratio':>6}")
        for connections in arguments.connections:
            floor = _instructions("floor", connections, arguments.calls)
            fake = _instructions("fake", connections, arguments.calls)
            print(f"{connections:>11}  {floor:>13,}  {fake:>12,}  {fake / floor:>5.2f}x")
        return

    print(f"send_to_all, {arguments.calls} calls x {arguments.rounds} rounds; floor = canned 202 transport")
    print(f"{'connections':>11}  {'floor us/call':>13}  {'fake us/call':>12}  {'ratio':>6}")
    for connections in arguments.connections:
        floor, fake, ratio = measure(connections, arguments.calls, arguments.rounds)
        print(f"{connections:>11}  {floor * 1e6:>13.1f}  {fake * 1e6:>12.1f}  {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
