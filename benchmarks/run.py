"""pytest-webpubsub benchmarks: what the fake costs against floors that share no code with it.

Run from the repository root with the project's test environment (``pip install -e ".[test]"``)::

    python benchmarks/run.py                 # full run (several minutes); adds callgrind counts if valgrind exists
    python benchmarks/run.py --quick         # the CI run, under a minute, timings only
    python benchmarks/run.py --smoke         # a few calls per case: checks the scripts work, measures nothing
    python benchmarks/run.py --instructions  # only the instruction counts under valgrind's callgrind
    python benchmarks/run.py --json out.json --markdown benchmarks/RESULTS.md

Cases (each one printed as a table; ``--sections`` picks some):

* ``send``: ``send_to_all`` through the fake, 0/1/10 connected JSON clients, token verification on, against the
  same SDK call through :class:`floor.BareTransport` (a bare transport answering an empty 202). The fake's own
  ``FakeTransport`` with a canned 202 is shown too, for reference: it is not a floor, it shares code with the fake.
* ``fanout``: ``send_to_group`` to 10 … 10,000 members against a bare loop appending one shared object to as many
  lists (and the SDK floor).
* ``history``: the cost of a call after 1,000 calls and after 100,000 (10 connected clients), and the memory each
  retained delivery and each REST call keep (tracemalloc).
* ``fixture``: the ``webpubsub`` fixture's setup + teardown per test against an empty test's own cost, from
  subprocess pytest runs of N and M tests; the plugin's import time (``-X importtime``).
* ``alternatives``: the same app call through the fake, through ``responses`` (canned 202 at the ``requests``
  layer) and through ``unittest.mock.patch`` of the SDK method.
* ``instructions``: CPU instructions per call under callgrind for ``send`` and ``fanout`` (the same on every run,
  unlike time on a shared machine).

Timed arms run interleaved in one process, round after round, in rotating order, and are timed in CPU time of
the process (``time.process_time``: on a shared machine, time given to other jobs is not charged); every table
gives the median and the spread (min–max) over rounds, and ratios are taken per round between the arms of that
round. Numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from arms import (  # noqa: E402
    ARMS,
    HUB,
    MESSAGE,
    Arm,
    Call,
    app_fake,
    app_floor,
    app_mock,
    app_responses,
    bare_loop,
    fake_with_clients,
    floor_client,
    group_fake,
    group_floor,
    send_fake,
    send_fake_transport,
    send_floor,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402

from pytest_webpubsub import FakeWebPubSub  # noqa: E402

SECTIONS = ("send", "fanout", "history", "fixture", "alternatives", "instructions")

# -- settings per mode ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    calls: int  # send_to_all calls per round and arm
    rounds: int
    connections: tuple[int, ...]
    fan_out: tuple[int, ...]
    fan_out_work: int  # deliveries per round and arm (calls = work // members, at least 2)
    history: tuple[int, int]  # the two checkpoints (calls made before measuring)
    history_block: int
    memory_calls: int
    fixture_tests: int  # tests of each kind per pytest run
    fixture_rounds: int
    import_runs: int
    alternative_calls: int
    instruction_calls: int


MODES = {
    "smoke": Settings(5, 2, (0, 1, 10), (10, 100), 200, (10, 30), 5, 20, 3, 1, 1, 5, 5),
    "quick": Settings(300, 5, (0, 1, 10), (10, 100, 1_000, 10_000), 20_000, (1_000, 10_000), 200, 300,
                      200, 2, 3, 300, 100),
    "full": Settings(2_000, 7, (0, 1, 10), (10, 100, 1_000, 10_000), 60_000, (1_000, 100_000), 500, 2_000,
                     1_000, 7, 15, 2_000, 300),
}


# -- statistics ------------------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of one measurement over rounds."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def show(stats: dict[str, float], scale: float = 1.0, digits: int = 1) -> str:
    return (f"{stats['median'] * scale:,.{digits}f} "
            f"[{stats['min'] * scale:,.{digits}f}–{stats['max'] * scale:,.{digits}f}]")


clock = time.process_time
"""CPU seconds of this process: time the scheduler gives to other jobs on a shared machine is not counted (wall
clock would charge a long call for every other job that ran meanwhile)."""


def time_calls(call: Call, calls: int) -> float:
    """CPU seconds per call over ``calls`` calls."""
    start = clock()
    for _ in range(calls):
        call()
    return (clock() - start) / calls


def interleaved(
    arms: Mapping[str, Arm], size: int, calls: int, rounds: int, *, warm: int = 20, fresh: bool = False
) -> dict[str, list[float]]:
    """Per-call seconds of every arm, one sample per round; arms alternate within a round, in rotating order.

    Arms are set up once and warmed by ``warm`` calls; with ``fresh``, each is set up and torn down again
    every round instead (for arms that cannot be active together), always outside the timed loop.
    """
    names = list(arms)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        calls_by_name = {} if fresh else {name: stack.enter_context(arms[name](size)) for name in names}
        for call in calls_by_name.values():
            for _ in range(warm):
                call()
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                if not fresh:
                    samples[name].append(time_calls(calls_by_name[name], calls))
                    continue
                with arms[name](size) as call:
                    for _ in range(warm):
                        call()
                    samples[name].append(time_calls(call, calls))
    return samples


def ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    return [a / b for a, b in zip(numerator, denominator)]


# -- cases -------------------------------------------------------------------------------------------------


def case_send(settings: Settings) -> list[dict[str, Any]]:
    """``send_to_all`` through the fake against the bare floor, per number of connected clients."""
    rows = []
    arms = {"floor": send_floor, "fake": send_fake, "fake_transport": send_fake_transport}
    for connections in settings.connections:
        samples = interleaved(arms, connections, settings.calls, settings.rounds)
        rows.append({
            "connections": connections,
            "floor_us": spread([s * 1e6 for s in samples["floor"]]),
            "fake_us": spread([s * 1e6 for s in samples["fake"]]),
            "fake_transport_us": spread([s * 1e6 for s in samples["fake_transport"]]),
            "ratio": spread(ratios(samples["fake"], samples["floor"])),
            "fake_transport_ratio": spread(ratios(samples["fake_transport"], samples["floor"])),
        })
    return rows


def case_fan_out(settings: Settings) -> list[dict[str, Any]]:
    """``send_to_group`` to N members against a bare loop over N lists (and the SDK floor)."""
    rows = []
    arms = {"floor": group_floor, "fake": group_fake, "loop": bare_loop}
    for members in settings.fan_out:
        calls = max(2, settings.fan_out_work // members)
        samples = interleaved(arms, members, calls, settings.rounds, warm=2)
        fake, floor, loop = samples["fake"], samples["floor"], samples["loop"]
        added = [f - s for f, s in zip(fake, floor)]  # what the fake adds to the SDK call
        rows.append({
            "members": members,
            "calls_per_round": calls,
            "floor_us": spread([s * 1e6 for s in floor]),
            "loop_us": spread([s * 1e6 for s in loop]),
            "fake_us": spread([s * 1e6 for s in fake]),
            "fake_ns_per_member": spread([a * 1e9 / members for a in added]),
            "loop_ns_per_member": spread([s * 1e9 / members for s in loop]),
            "added_over_loop": spread(ratios(added, loop)),
            "fake_over_floor_plus_loop": spread([f / (s + lp) for f, s, lp in zip(fake, floor, loop)]),
        })
    return rows


def case_history(settings: Settings) -> dict[str, Any]:
    """Cost per call at two history lengths (10 clients), interleaved with the floor; then retained memory."""
    first, last = settings.history
    block, rounds = settings.history_block, settings.rounds
    checkpoints: list[dict[str, Any]] = []
    with fake_with_clients(10) as fake:
        client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=HUB)
        floor = floor_client()

        def fake_call() -> None:
            client.send_to_all(MESSAGE)

        def floor_call() -> None:
            floor.send_to_all(MESSAGE)

        made = 0
        for checkpoint in (first, last):
            while made < checkpoint:
                fake_call()
                made += 1
            fake_times: list[float] = []
            floor_times: list[float] = []
            for round_index in range(rounds):
                order = [(floor_times, floor_call), (fake_times, fake_call)]
                for times, call in order if round_index % 2 == 0 else order[::-1]:
                    times.append(time_calls(call, block))
                made += block
            checkpoints.append({
                "calls_before": checkpoint,
                "fake_us": spread([t * 1e6 for t in fake_times]),
                "floor_us": spread([t * 1e6 for t in floor_times]),
                "ratio": spread(ratios(fake_times, floor_times)),
            })
        assert len(fake.deliveries) == 10 * made
    growth = float(checkpoints[1]["ratio"]["median"]) / float(checkpoints[0]["ratio"]["median"])
    return {"clients": 10, "block": block, "checkpoints": checkpoints, "growth": growth,
            "memory": retained_memory(settings.memory_calls)}


def retained_memory(calls: int) -> dict[str, float]:
    """Bytes kept per REST call (0 clients) and per delivery (10 clients): unread, after the clients' ``received``
    was read, and after ``webpubsub.deliveries`` was read too (each read makes and keeps records)."""

    def read_everything(fake: FakeWebPubSub, what: str) -> None:
        if what in ("clients", "log"):
            for connection in fake.connections:
                connection.received  # noqa: B018 -- renders and caches what came so far
        if what == "log":
            fake.deliveries  # noqa: B018 -- makes the per-recipient records and keeps them

    def kept(connections: int, read: str) -> float:
        with fake_with_clients(connections) as fake:
            client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=HUB)
            for _ in range(20):
                client.send_to_all(MESSAGE)
            read_everything(fake, read)
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for _ in range(calls):
                    client.send_to_all(MESSAGE)
                read_everything(fake, read)
                gc.collect()
                after = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            return (after - before) / calls

    per_call = kept(0, read="nothing")
    return {
        "bytes_per_rest_call": per_call,
        "bytes_per_delivery": (kept(10, read="nothing") - per_call) / 10,
        "bytes_per_delivery_read": (kept(10, read="clients") - per_call) / 10,
        "bytes_per_delivery_logged": (kept(10, read="log") - per_call) / 10,
    }


FIXTURE_TESTS = """
def test_empty_{index}():
    pass


def test_trivial_{index}(trivial):
    pass


def test_fixture_{index}(webpubsub):
    pass
"""
"""One test of each kind: no fixture, a do-nothing generator fixture, the ``webpubsub`` fixture. A run repeats
the three in turn, so every kind meets the same machine state."""
TIMING_CONFTEST = """
import json, os, time
import pytest

DURATIONS = []

@pytest.fixture
def trivial():
    yield None

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.process_time()
    yield
    DURATIONS.append((item.name.rsplit("_", 1)[0], time.process_time() - start))

def pytest_sessionfinish(session):
    with open(os.environ["BENCHMARK_DURATIONS"], "w") as out:
        json.dump(DURATIONS, out)
"""


def pytest_round(directory: Path, tests: int) -> dict[str, list[float]]:
    """One subprocess pytest run of empty tests with and without the fixture, alternating; seconds per test.

    Each test is timed from the start to the end of its whole run protocol (setup, call, teardown, report),
    so the numbers leave out interpreter start-up and collection. The first test of each kind is left out (the
    first fixture test pays the one-time import of the SDK and of the fake; it is returned as ``first_fixture``).
    """
    (directory / "conftest.py").write_text(TIMING_CONFTEST)
    ini = "[pytest]\n"
    if importlib.util.find_spec("pytest_asyncio") is not None:  # silence its warning about an unset loop scope
        ini += "asyncio_default_fixture_loop_scope = function\n"
    (directory / "pytest.ini").write_text(ini)
    (directory / "test_cases.py").write_text("".join(FIXTURE_TESTS.format(index=i) for i in range(tests)))
    out = directory / "durations.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "test_cases.py"]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "BENCHMARK_DURATIONS": str(out)}
    completed = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=environment)
    if completed.returncode != 0 or f"{3 * tests} passed" not in completed.stdout:
        raise RuntimeError(f"pytest run failed:\n{completed.stdout}\n{completed.stderr}")
    durations: dict[str, list[float]] = {"test_empty": [], "test_trivial": [], "test_fixture": []}
    for name, seconds in json.loads(out.read_text()):
        durations[name].append(seconds)
    durations["first_fixture"] = durations["test_fixture"][:1]
    return {kind: values[1:] if kind.startswith("test_") else values for kind, values in durations.items()}


def case_fixture(settings: Settings) -> dict[str, Any]:
    """Per-test cost of the fixture (setup + teardown) against an empty test, medians per pytest run."""
    empty: list[float] = []
    trivial: list[float] = []
    with_fixture: list[float] = []
    first: list[float] = []
    with tempfile.TemporaryDirectory() as name:
        for _ in range(settings.fixture_rounds):
            durations = pytest_round(Path(name), settings.fixture_tests)
            empty.append(statistics.median(durations["test_empty"]))
            trivial.append(statistics.median(durations["test_trivial"]))
            with_fixture.append(statistics.median(durations["test_fixture"]))
            first.append(durations["first_fixture"][0])
    added = [f - e for f, e in zip(with_fixture, empty)]
    return {
        "tests_per_run": settings.fixture_tests,
        "empty_test_us": spread([e * 1e6 for e in empty]),
        "trivial_fixture_test_us": spread([t * 1e6 for t in trivial]),
        "fixture_test_us": spread([f * 1e6 for f in with_fixture]),
        "fixture_added_us": spread([a * 1e6 for a in added]),
        "first_fixture_test_us": spread([f * 1e6 for f in first]),
        "ratio": spread(ratios(added, empty)),
        "import": import_time(settings.import_runs),
    }


def import_time(runs: int) -> dict[str, Any]:
    """Microseconds ``import pytest_webpubsub.plugin`` adds once pytest is imported (``-X importtime``)."""
    plugin, base = [], []
    for _ in range(runs):
        command = [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_webpubsub.plugin"]
        lines = subprocess.run(command, capture_output=True, text=True, check=True).stderr.splitlines()
        rows = [re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line) for line in lines]
        entries = [(int(m.group(1)), m.group(3), m.group(4)) for m in rows if m]
        end_of_pytest = next(i for i, (_, indent, module) in enumerate(entries) if module == "pytest" and not indent)
        base.append(sum(self_us for self_us, _, _ in entries[: end_of_pytest + 1]))
        plugin.append(sum(self_us for self_us, _, _ in entries[end_of_pytest + 1 :]))
    return {"plugin_us": spread([float(p) for p in plugin]), "pytest_us": spread([float(b) for b in base])}


def case_alternatives(settings: Settings) -> list[dict[str, Any]]:
    """The chat app's ``post_to_room`` through the fake, ``responses`` and ``mock.patch``, with the floor."""
    arms = {"floor": app_floor, "fake": app_fake, "responses": app_responses, "mock": app_mock}
    samples = interleaved(arms, 0, settings.alternative_calls, settings.rounds, fresh=True)
    return [
        {"arm": name, "us": spread([s * 1e6 for s in samples[name]]),
         "ratio_to_floor": spread(ratios(samples[name], samples["floor"]))}
        for name in arms
    ]


# -- instruction counts ------------------------------------------------------------------------------------


WARM_CALLS = 20


def worker(arm: str, size: int, calls: int) -> None:
    """One process's work under callgrind: set ``arm`` up, warm it, make ``calls`` calls, tear down.

    The measured calls run inside ``functools.reduce``, the one C function callgrind is told to count in
    (``--toggle-collect``), so the count leaves out start-up, imports, set-up, warm-up and teardown.
    """
    with ARMS[arm](size) as call:
        for _ in range(WARM_CALLS):
            call()
        functools.reduce(lambda _, __: call(), range(calls), None)


def instructions(arm: str, size: int, calls: int) -> int:
    """CPU instructions per call of ``arm`` (after a warm-up), under valgrind's callgrind."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no",
        "--toggle-collect=functools_reduce", sys.executable, __file__, "--worker", arm, str(size), str(calls),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stderr
    match = re.search(r"Collected : (\d+)", output)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{output[-2000:]}")
    return int(match.group(1)) // calls


def case_instructions(settings: Settings) -> dict[str, Any]:
    """Instructions per call: ``send`` (0/1/10 clients), ``fanout`` (10 … 10,000 members), the alternatives.

    The floors do not depend on the size, so each is counted once. Two callgrind runs go at a time.
    """
    calls = settings.instruction_calls

    def group_calls(members: int) -> int:
        return max(2, min(calls, 20_000 // members))

    jobs: dict[tuple[str, int], int] = {("send_floor", 0): calls, ("group_floor", 0): calls}
    for connections in settings.connections:
        jobs[("send_fake", connections)] = calls
        jobs[("send_fake_transport", connections)] = calls
    for members in settings.fan_out:
        jobs[("group_fake", members)] = group_calls(members)
        jobs[("loop", members)] = group_calls(members)
    for arm in ("app_floor", "app_fake", "app_responses", "app_mock"):
        jobs[(arm, 0)] = calls
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: instructions(job[0][0], job[0][1], job[1]), jobs.items())))
    send_floor, group_floor = counts[("send_floor", 0)], counts[("group_floor", 0)]
    send = []
    for connections in settings.connections:
        fake, reference = counts[("send_fake", connections)], counts[("send_fake_transport", connections)]
        send.append({"connections": connections, "floor": send_floor, "fake": fake, "fake_transport": reference,
                     "ratio": fake / send_floor, "fake_transport_ratio": reference / send_floor})
    fan_out = []
    for members in settings.fan_out:
        fake, loop = counts[("group_fake", members)], counts[("loop", members)]
        fan_out.append({"members": members, "calls": group_calls(members), "floor": group_floor, "fake": fake,
                        "loop": loop, "per_member_fake": (fake - group_floor) / members,
                        "per_member_loop": loop / members, "added_over_loop": (fake - group_floor) / loop,
                        "fake_over_floor_plus_loop": fake / (group_floor + loop)})
    alternatives = [
        {"arm": arm, "instructions": counts[(f"app_{arm}", 0)],
         "ratio_to_floor": counts[(f"app_{arm}", 0)] / counts[("app_floor", 0)]}
        for arm in ("floor", "fake", "responses", "mock")
    ]
    return {"calls": calls, "send": send, "fan_out": fan_out, "alternatives": alternatives}


# -- the machine and the report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = {}
    for name in ("pytest-webpubsub", "azure-core", "azure-messaging-webpubsubservice", "pytest", "requests",
                 "responses", "pyjwt"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": packages,
        "commit": commit or "unknown",
        "load_average": [round(value, 2) for value in load],
        "valgrind": shutil.which("valgrind") is not None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"# pytest-webpubsub benchmarks ({results['mode']}): {m['cpu']}, {m['nproc']} CPUs, {m['python']}, "
          f"load {m['load_average']}")
    print("# median [min–max] over rounds; ratios per round between arms of the same round")
    if "send" in results:
        print("\nsend_to_all, µs per call (floor: bare transport answering 202; FakeTransport: canned 202, reference)")
        print(f"{'clients':>7}  {'floor':>22}  {'fake':>22}  {'fake/floor':>20}  {'fake_transport/floor':>20}")
        for row in results["send"]:
            print(f"{row['connections']:>7}  {show(row['floor_us']):>22}  {show(row['fake_us']):>22}  "
                  f"{show(row['ratio'], digits=2):>20}  {show(row['fake_transport_ratio'], digits=2):>20}")
    if "fanout" in results:
        print("\nsend_to_group fan-out: µs per call; ns per member = (fake - floor) / members; loop = bare append loop")
        print(f"{'members':>7}  {'floor':>20}  {'fake':>26}  {'loop':>22}  {'fake ns/member':>18}  "
              f"{'loop ns/member':>14}  {'(fake-floor)/loop':>18}  {'fake/(floor+loop)':>18}")
        for row in results["fanout"]:
            print(f"{row['members']:>7}  {show(row['floor_us']):>20}  {show(row['fake_us']):>26}  "
                  f"{show(row['loop_us']):>22}  {show(row['fake_ns_per_member'], digits=0):>18}  "
                  f"{show(row['loop_ns_per_member'], digits=0):>14}  {show(row['added_over_loop'], digits=2):>18}  "
                  f"{show(row['fake_over_floor_plus_loop'], digits=2):>18}")
    if "history" in results:
        history = results["history"]
        print(f"\nhistory: send_to_all with {history['clients']} clients, blocks of {history['block']} calls")
        for point in history["checkpoints"]:
            print(f"  after {point['calls_before']:>7,} calls: fake {show(point['fake_us'])} µs, "
                  f"floor {show(point['floor_us'])} µs, ratio {show(point['ratio'], digits=2)}")
        print(f"  growth of the ratio: {history['growth']:.3f}x")
        memory = history["memory"]
        print(f"  retained: {memory['bytes_per_rest_call']:,.0f} B per REST call, "
              f"{memory['bytes_per_delivery']:,.0f} B per delivery "
              f"({memory['bytes_per_delivery_read']:,.0f} B once `received` was read, "
              f"{memory['bytes_per_delivery_logged']:,.0f} B once `deliveries` was read too)")
    if "fixture" in results:
        fixture = results["fixture"]
        print(f"\nfixture: µs per test, medians of pytest runs of {fixture['tests_per_run']} tests of each kind")
        print(f"  empty test {show(fixture['empty_test_us'])}; with a do-nothing fixture "
              f"{show(fixture['trivial_fixture_test_us'])}; with webpubsub {show(fixture['fixture_test_us'])};"
              f" added {show(fixture['fixture_added_us'])} = {show(fixture['ratio'], digits=2)}x the empty test;"
              f" first fixture test of a run {show(fixture['first_fixture_test_us'], digits=0)}")
        imports = fixture["import"]
        print(f"  import pytest_webpubsub.plugin after pytest: {show(imports['plugin_us'], digits=0)} µs "
              f"(import pytest itself: {show(imports['pytest_us'], digits=0)} µs)")
    if "alternatives" in results:
        print("\nthe chat app's post_to_room, µs per call")
        for row in results["alternatives"]:
            print(f"  {row['arm']:>10}: {show(row['us']):>24}  {show(row['ratio_to_floor'], digits=2):>20}x floor")
    if "instructions" in results:
        counts = results["instructions"]
        if counts is None:
            print("\ninstructions: skipped (valgrind is not installed)")
            return
        print(f"\ninstructions per call (callgrind, {counts['calls']} calls after {WARM_CALLS} warm-up calls)")
        for row in counts["send"]:
            print(f"  send_to_all, {row['connections']:>2} clients: floor {row['floor']:>10,}  fake {row['fake']:>10,}"
                  f"  {row['ratio']:.3f}x   (FakeTransport {row['fake_transport']:,} = "
                  f"{row['fake_transport_ratio']:.3f}x)")
        for row in counts["fan_out"]:
            print(f"  send_to_group, {row['members']:>6} members: floor {row['floor']:>10,}  fake {row['fake']:>12,}"
                  f"  loop {row['loop']:>10,}  per member {row['per_member_fake']:,.0f} vs "
                  f"{row['per_member_loop']:,.0f}  {row['added_over_loop']:.2f}x  "
                  f"fake/(floor+loop) {row['fake_over_floor_plus_loop']:.2f}x")
        for row in counts["alternatives"]:
            print(f"  post_to_room via {row['arm']:>9}: {row['instructions']:>10,}  {row['ratio_to_floor']:.3f}x floor")


def command_line() -> str:
    """How this run was started, without the output options (they change nothing measured)."""
    arguments, skip = [], False
    for argument in sys.argv[1:]:
        if argument.startswith(("--json=", "--markdown=")):
            continue
        if skip or argument in ("--json", "--markdown"):
            skip = not skip
            continue
        arguments.append(argument)
    return " ".join(["python", "benchmarks/run.py", *arguments])


def run(mode: str, sections: list[str]) -> dict[str, Any]:
    settings = MODES[mode]
    results: dict[str, Any] = {"mode": mode, "command": command_line(), "machine": machine(), "sections": sections}
    cases: dict[str, Callable[[Settings], Any]] = {
        "send": case_send, "fanout": case_fan_out, "history": case_history, "fixture": case_fixture,
        "alternatives": case_alternatives,
    }
    for section in sections:
        started = time.perf_counter()
        if section == "instructions":
            results[section] = case_instructions(settings) if shutil.which("valgrind") else None
        else:
            results[section] = cases[section](settings)
        results.setdefault("seconds", {})[section] = round(time.perf_counter() - started, 1)
        print(f"# {section}: {results['seconds'][section]} s", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the CI run: fewer rounds, timings only (< 60 s)")
    group.add_argument("--smoke", action="store_true", help="a few calls per case, to check the scripts run")
    group.add_argument("--instructions", action="store_true", help="only instruction counts under callgrind")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, help="run only these cases")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--markdown", type=Path, help="also write the results as a Markdown report to this file")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.worker:
        arm, size, calls = arguments.worker
        worker(arm, int(size), int(calls))
        return
    mode = "smoke" if arguments.smoke else "quick" if arguments.quick else "full"
    if arguments.sections:
        sections = list(arguments.sections)
    elif arguments.instructions:
        sections = ["instructions"]
    elif mode == "full":
        sections = list(SECTIONS)
    else:
        sections = [section for section in SECTIONS if section != "instructions"]
    if arguments.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    results = run(mode, sections)
    print_report(results)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    if arguments.markdown:
        from report import markdown

        arguments.markdown.write_text(markdown(results))


if __name__ == "__main__":
    main()
