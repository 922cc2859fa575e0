"""The benchmark scripts keep working: ``benchmarks/run.py --smoke`` runs every case and reports its structure.

Timings are never asserted (they are not a test); only that each case ran and reported what it should.
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SPREAD = {"median", "min", "max", "n"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """The JSON results, the printed report and the Markdown report of one ``--smoke`` run."""
    directory = tmp_path_factory.mktemp("benchmarks")
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--smoke", "--json", str(directory / "results.json"),
         "--markdown", str(directory / "RESULTS.md")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads((directory / "results.json").read_text())
    return results, completed.stdout, (directory / "RESULTS.md").read_text()


def assert_spread(value: Any, *, positive: bool = True) -> None:
    assert set(value) == SPREAD
    assert value["min"] <= value["median"] <= value["max"]
    assert value["n"] >= 1
    if positive:
        assert value["min"] > 0
    assert all(math.isfinite(value[key]) for key in ("median", "min", "max"))


def test_smoke_runs_every_timed_case(smoke: tuple[dict[str, Any], str, str]) -> None:
    results, _, _ = smoke
    assert results["mode"] == "smoke"
    assert results["sections"] == ["send", "fanout", "history", "fixture", "alternatives"]
    assert set(results["machine"]) >= {"nproc", "cpu", "python", "packages", "commit"}


def test_send_reports_each_number_of_clients(smoke: tuple[dict[str, Any], str, str]) -> None:
    results, _, _ = smoke
    assert [row["connections"] for row in results["send"]] == [0, 1, 10]
    for row in results["send"]:
        for key in ("floor_us", "fake_us", "fake_transport_us", "ratio", "fake_transport_ratio"):
            assert_spread(row[key])


def test_fan_out_reports_each_group_size(smoke: tuple[dict[str, Any], str, str]) -> None:
    results, _, _ = smoke
    assert [row["members"] for row in results["fanout"]] == [10, 100]
    for row in results["fanout"]:
        for key in ("floor_us", "loop_us", "fake_us", "loop_ns_per_member", "fake_over_floor_plus_loop"):
            assert_spread(row[key])
        # what the fake adds over the floor may come out negative in a few noisy smoke calls
        assert_spread(row["fake_ns_per_member"], positive=False)
        assert_spread(row["added_over_loop"], positive=False)


def test_history_reports_two_checkpoints_and_memory(smoke: tuple[dict[str, Any], str, str]) -> None:
    history = smoke[0]["history"]
    assert [point["calls_before"] for point in history["checkpoints"]] == [10, 30]
    for point in history["checkpoints"]:
        for key in ("fake_us", "floor_us", "ratio"):
            assert_spread(point[key])
    assert history["growth"] > 0
    memory = history["memory"]
    assert memory["bytes_per_rest_call"] > 0
    assert 0 < memory["bytes_per_delivery"] <= memory["bytes_per_delivery_read"]


def test_fixture_and_import_costs_are_reported(smoke: tuple[dict[str, Any], str, str]) -> None:
    fixture = smoke[0]["fixture"]
    for key in ("empty_test_us", "trivial_fixture_test_us", "fixture_test_us", "first_fixture_test_us"):
        assert_spread(fixture[key])
    assert_spread(fixture["fixture_added_us"], positive=False)
    assert_spread(fixture["import"]["plugin_us"])
    assert_spread(fixture["import"]["pytest_us"])


def test_alternatives_are_the_four_ways(smoke: tuple[dict[str, Any], str, str]) -> None:
    rows = smoke[0]["alternatives"]
    assert [row["arm"] for row in rows] == ["floor", "fake", "responses", "mock"]
    for row in rows:
        assert_spread(row["us"])
        assert_spread(row["ratio_to_floor"])


def test_reports_print_and_render_every_section(smoke: tuple[dict[str, Any], str, str]) -> None:
    _, printed, rendered = smoke
    for heading in ("send_to_all, µs per call", "send_to_group fan-out", "history:", "fixture:", "post_to_room"):
        assert heading in printed
    for heading in ("## Targets", "## `send_to_all` against the bare floor", "## Fan-out", "## History",
                    "## The `webpubsub` fixture", "## The alternatives", "## What these numbers do not cover"):
        assert heading in rendered


def test_the_floor_shares_no_code_with_the_fake() -> None:
    tree = ast.parse((BENCHMARKS / "floor.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported  # the check reads the imports it means to read
    assert not [name for name in imported if name.split(".")[0] == "pytest_webpubsub"]
