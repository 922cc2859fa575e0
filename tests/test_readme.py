"""The README's examples are tests: every ```python block that defines a test runs, and must pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = [block for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "def test_" in block]


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{index}" for index in range(len(BLOCKS))])
def test_readme_example_passes(pytester: pytest.Pytester, block: str) -> None:
    if "websockets" in block:
        pytest.importorskip("websockets", minversion="16", reason="the in-memory websockets seam needs websockets >= 16")
    pytester.makepyfile(test_example="import pytest\n\n" + block)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")
    tests = block.count("def test_")
    result.assert_outcomes(passed=tests)
