from __future__ import annotations

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Inner runs treat warnings as errors, like this project, and pin pytest-asyncio's loop scope."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-W error -o asyncio_default_fixture_loop_scope=function")
    return pytester
