"""How many steps the state machines ran in this process, for the session summary printed by tests/conftest.py.

Hypothesis checks a machine's invariants once before its first step and once after every step, so a machine
counts its invariant checks and, at teardown, records that count minus one as its steps.
"""

from __future__ import annotations

from collections import Counter

STEPS: Counter[str] = Counter()
"""Steps run, by machine class name."""
RUNS: Counter[str] = Counter()
"""Machine runs (examples), by machine class name."""


class StepCounter:
    """Counts the steps of one machine run: call :meth:`check` from an invariant and :meth:`record` at teardown."""

    def __init__(self, machine: str) -> None:
        self.machine = machine
        self.checks = 0

    def check(self) -> None:
        self.checks += 1

    def record(self) -> None:
        STEPS[self.machine] += max(self.checks - 1, 0)
        RUNS[self.machine] += 1
