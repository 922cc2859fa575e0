"""The raw WebSocket seams in the one host table: optional, lazy, and refusing Azure hosts no fake owns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._hosts import SEAMS, HostTable, Owner

from .drivers import needs_websockets_16

RAW_SEAMS = {
    "pytest_webpubsub._ws_websocket_client:SEAM": ("websocket",),
    "pytest_webpubsub._ws_websockets:SEAM": ("websockets",),
    "pytest_webpubsub._ws_aiohttp:SEAM": ("aiohttp",),
}


def test_each_raw_seam_needs_only_its_library() -> None:
    assert {name: requires for name, requires in SEAMS if name in RAW_SEAMS} == RAW_SEAMS


def test_a_seam_whose_library_is_missing_is_neither_imported_nor_installed() -> None:
    table = HostTable(seams=(("pytest_webpubsub._ws_websockets:SEAM", ("websockets", "no_such_library_here")),))
    with FakeWebPubSub() as fake:
        table.add("other.example", Owner(fake.handle, lambda: None))  # type: ignore[arg-type, return-value]
        assert table.installed == ()
        table.remove("other.example")


def test_the_plugin_import_loads_no_socket_library() -> None:
    script = (
        "import json, sys; import pytest_webpubsub.plugin; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('websocket', 'websockets', 'aiohttp') or m.startswith('pytest_webpubsub._ws_'))))"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout) == []


@pytest.mark.parametrize(
    "opening",
    [
        pytest.param("import websockets.sync.client as c; c.connect(URL, legacy=True)", marks=needs_websockets_16),
        "import websocket; websocket.create_connection(URL)",
        pytest.param("import asyncio, websockets; asyncio.run(websockets.connect(URL).connect())",
                     marks=needs_websockets_16),
    ],
    ids=["websockets-sync", "websocket-client", "websockets-asyncio"],
)
def test_an_unowned_azure_host_fails_the_test_even_when_the_error_is_swallowed(
    pytester: pytest.Pytester, opening: str
) -> None:
    pytester.makepyfile(
        f"""
        URL = "wss://unowned.webpubsub.azure.com/client/hubs/chat?access_token=x"

        def test_app(webpubsub):
            try:
                {opening}
            except Exception as error:
                assert "no fake owns 'unowned.webpubsub.azure.com'" in str(error)
            else:
                raise AssertionError("connected")
        """
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-W", "error", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*tried to reach Azure Web PubSub at unowned.webpubsub.azure.com*"])
