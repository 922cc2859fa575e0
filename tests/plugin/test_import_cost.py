"""pytest imports every installed plugin in every session, so the entry point must stay cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("azure", "respx", "httpx", "hypothesis", "aiohttp", "jwt", "cryptography")

SCRIPT = """
import json, sys
import {module}
forbidden = {forbidden!r}
print(json.dumps(sorted(
    name for name in sys.modules if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
)))
"""


def heavy_modules_after_importing(module: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(module=module, forbidden=FORBIDDEN)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def test_plugin_import_is_cheap() -> None:
    assert heavy_modules_after_importing("pytest_webpubsub.plugin") == []


@pytest.mark.parametrize(
    ("module", "heavy"), [("pytest_webpubsub.transport", "azure"), ("pytest_webpubsub._httpx", "respx")]
)
def test_the_check_sees_heavy_imports(module: str, heavy: str) -> None:
    """The check above would notice: the modules the fake loads lazily do import the heavy libraries."""
    assert heavy in heavy_modules_after_importing(module)
