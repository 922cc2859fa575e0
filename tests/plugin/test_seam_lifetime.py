"""The seams' lifetime under the plugin: installed at the first use of the fixture, kept for the session, removed
after it; while no fake is active every seam behaves as the unpatched library (passes through, refuses nothing)."""

from __future__ import annotations

import json
import sys

import pytest

IN_ORDER = ("-p", "no:randomly")

PATCHED = """
import importlib

import aiohttp
import httpcore
import websocket
from azure.core.pipeline.transport._aiohttp import AioHttpTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransport
from respx.mocks import HTTPCoreMocker
from websocket import _app, _core
from websockets.asyncio import client as websockets_asyncio
from websockets.sync import client as websockets_sync

SYNC_SDK = importlib.import_module("azure.messaging.webpubsubclient._client")
AIO_SDK = importlib.import_module("azure.messaging.webpubsubclient.aio._client")


def patched_attributes():
    \"\"\"Every attribute a seam replaces (by identity), and respx's registered routers.\"\"\"
    found = {
        "RequestsTransport.send": RequestsTransport.__dict__.get("send"),
        "RequestsTransport.sleep": RequestsTransport.__dict__.get("sleep"),
        "AioHttpTransport.send": AioHttpTransport.__dict__.get("send"),
        "AioHttpTransport.sleep": AioHttpTransport.__dict__.get("sleep"),
        "client SDK WebSocketAppSync": SYNC_SDK.WebSocketAppSync,
        "client SDK SendMessageErrorOptions": SYNC_SDK.SendMessageErrorOptions,
        "client SDK time": SYNC_SDK.time,
        "client SDK threading": SYNC_SDK.threading,
        "aio client SDK aiohttp": AIO_SDK.aiohttp,
        "aio client SDK asyncio": AIO_SDK.asyncio,
        "websocket connect": _core.connect,
        "WebSocketApp.create_dispatcher": _app.WebSocketApp.create_dispatcher,
        "websockets open_tcp_connection": getattr(websockets_asyncio.connect, "open_tcp_connection", None),
        "websockets open_connection": getattr(getattr(websockets_sync, "reconnect", None), "open_connection", None),
        "aiohttp ClientSession._ws_connect": aiohttp.ClientSession._ws_connect,
        "respx routers": tuple(HTTPCoreMocker.routers),
    }
    for target in HTTPCoreMocker.targets:
        module, _, name = target.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        for method in HTTPCoreMocker.target_methods:
            if hasattr(cls, method):
                found[f"{name}.{method}"] = getattr(cls, method)
    return found
"""


def test_every_seam_is_uninstalled_after_a_session_that_used_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(patched=PATCHED)
    pytester.makepyfile(
        test_uses_the_fixture="""
        from patched import patched_attributes
        from pytest_webpubsub._hosts import HOSTS

        BEFORE = patched_attributes()

        def test_with_the_fake(webpubsub):
            during = patched_attributes()
            # websockets before 16 has neither patched method (the seam refuses those versions at connect instead)
            absent = {name for name in BEFORE if name.startswith("websockets ") and BEFORE[name] is None}
            assert sorted(name for name in BEFORE if name not in absent and during[name] is BEFORE[name]) == []

        def test_after_the_fake():
            assert HOSTS.pinned and not HOSTS.active
        """
    )
    pytester.makepyfile(
        run_session="""
        import json, sys
        import pytest
        from patched import patched_attributes
        from pytest_webpubsub._hosts import HOSTS

        before = patched_attributes()
        code = pytest.main([  # respx is imported above, before pytest could rewrite its plugin's asserts
            "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "test_uses_the_fixture.py",
        ])
        after = patched_attributes()
        changed = sorted(name for name in before if after[name] is not before[name])
        print("RESULT " + json.dumps({"code": int(code), "changed": changed, "installed": len(HOSTS.installed),
                                      "pinned": HOSTS.pinned}))
        """
    )
    result = pytester.run(sys.executable, "run_session.py")
    line = next(line for line in result.outlines if line.startswith("RESULT "))
    assert json.loads(line[len("RESULT ") :]) == {"code": 0, "changed": [], "installed": 0, "pinned": False}


PASS_THROUGH = """
import asyncio
import http.server
import socket
import threading

import aiohttp
import httpx
import pytest
import requests
import websocket
import websockets.sync.client
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest

AZURE = "nobody.webpubsub.azure.com"


class Hello(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    break
                body += chunk
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 6))
        self.end_headers()
        self.wfile.write(b"hello " + body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def no_dns(monkeypatch):
    \"\"\"Name resolution fails at once, as without a network; the hosts asked are recorded.\"\"\"
    asked = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host in ("127.0.0.1", "localhost"):
            return real(host, *args, **kwargs)
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_fake_test_first(webpubsub):
    webpubsub.connect("chat", user_id="alice")


def test_requests_httpx_and_azure_core_pass_through(local_server):
    assert requests.post(local_server, data=b"requests").text == "hello requests"
    assert httpx.post(local_server, content=b"httpx").text == "hello httpx"
    with RequestsTransport() as transport:
        response = transport.send(HttpRequest("POST", local_server, content=b"azure-core"))
        assert response.text() == "hello azure-core"


def test_httpx_does_not_go_through_respx_while_no_fake_is_active(local_server, monkeypatch):
    from respx.mocks import HTTPCoreMocker
    from pytest_webpubsub import FakeWebPubSub

    asked = []

    class Routers(list):
        def __iter__(self):
            asked.append(len(self))
            return super().__iter__()

    monkeypatch.setattr(HTTPCoreMocker, "routers", Routers())
    assert httpx.post(local_server, content=iter([b"not ", b"read ", b"first"])).text == "hello not read first"
    assert asked == []  # httpcore's own method, as unpatched: respx never looked at the request
    with FakeWebPubSub(endpoint="https://other.webpubsub.azure.com") as fake:
        httpx.get(fake.endpoint + "/api/health?api-version=2024-12-01")
        assert fake.rest_call_count == 1
    assert asked and asked[0] == 1  # while a fake is active, respx asks the fake's router


def test_an_azure_host_fails_as_the_network_fails_not_with_a_refusal(no_dns):
    from pytest_webpubsub._hosts import HOSTS

    refused = len(HOSTS.refused)
    failures = []
    with RequestsTransport() as transport:
        with pytest.raises(ServiceRequestError) as failure:
            transport.send(HttpRequest("GET", f"https://{AZURE}/api/health"))
        failures.append(str(failure.value))
    with pytest.raises(httpx.ConnectError) as failure:
        httpx.get(f"https://{AZURE}/api/health")
    failures.append(str(failure.value))
    with pytest.raises(websocket.WebSocketException) as failure:
        websocket.create_connection(f"wss://{AZURE}/client/hubs/chat")
    failures.append(str(failure.value))
    with pytest.raises(OSError) as failure:
        websockets.sync.client.connect(f"wss://{AZURE}/client/hubs/chat", open_timeout=5)
    failures.append(str(failure.value))

    async def aiohttp_ws():
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(f"wss://{AZURE}/client/hubs/chat")

    with pytest.raises(aiohttp.ClientConnectorError) as failure:
        asyncio.run(aiohttp_ws())
    failures.append(str(failure.value))
    assert [message for message in failures if "pytest-webpubsub" in message] == []
    assert no_dns.count(AZURE) == 5  # every library went to the network
    assert len(HOSTS.refused) == refused


def test_the_client_sdks_get_their_own_classes():
    import importlib

    sync_sdk = importlib.import_module("azure.messaging.webpubsubclient._client")
    aio_sdk = importlib.import_module("azure.messaging.webpubsubclient.aio._client")
    from pytest_webpubsub._sdk_sync import _BASE_ACK_OPTIONS, _BASE_APP

    app = sync_sdk.WebSocketAppSync(f"wss://{AZURE}/client/hubs/chat")
    assert type(app) is _BASE_APP
    assert type(sync_sdk.SendMessageErrorOptions(ack_id=1)) is _BASE_ACK_OPTIONS
    assert aio_sdk.aiohttp.ClientSession is aiohttp.ClientSession
    dispatcher = websocket.WebSocketApp(f"wss://{AZURE}/x").create_dispatcher(10)
    assert type(dispatcher).__module__.startswith("websocket")
"""


def test_a_test_after_a_fake_test_sees_the_libraries_unchanged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_pass_through=PASS_THROUGH)
    result = pytester.runpytest_subprocess(*IN_ORDER)
    result.assert_outcomes(passed=5)


def test_a_test_after_a_fake_test_sees_the_libraries_unchanged_with_a_users_respx_router(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_respx="""
        import httpcore
        import httpx
        import pytest
        import respx

        ORIGINAL = httpcore.ConnectionPool.handle_request

        def test_a_users_router_started_before_the_first_fake(respx_mock, webpubsub):
            respx_mock.get("https://mocked.example/").respond(201)
            httpx.get(webpubsub.endpoint + "/api/health?api-version=2024-12-01")
            assert webpubsub.rest_call_count == 1  # answered by the fake, not the network
            assert httpx.get("https://mocked.example/").status_code == 201

        def test_a_fake_test_after_it(webpubsub):
            httpx.get(webpubsub.endpoint + "/api/health?api-version=2024-12-01")
            assert webpubsub.rest_call_count == 1  # answered by the fake, not the network

        def test_no_router_and_no_fake():
            from respx.mocks import HTTPCoreMocker

            assert HTTPCoreMocker.routers == [] and HTTPCoreMocker._patches == []
            wrapper = httpcore.ConnectionPool.handle_request  # the seam's, kept for the session
            assert (wrapper is not ORIGINAL, wrapper.__module__) == (True, "pytest_webpubsub._httpx")

        def test_the_users_router_alone_decides(respx_mock):
            respx_mock.get("https://mocked.example/").respond(201, text="mocked")
            assert httpx.get("https://mocked.example/").status_code == 201
            with pytest.raises(respx.models.AllMockedAssertionError, match="RESPX: .* not mocked"):
                httpx.get("https://nobody.webpubsub.azure.com/api/health")
            assert [call.request.url.host for call in respx_mock.calls] == ["mocked.example"]

        def test_and_the_fake_still_answers_beside_it(respx_mock, webpubsub):
            respx_mock.get("https://mocked.example/").respond(201)
            httpx.get(webpubsub.endpoint + "/api/health?api-version=2024-12-01")
            assert webpubsub.rest_call_count == 1  # answered by the fake, not the network
            assert httpx.get("https://mocked.example/").status_code == 201
        """
    )
    pytester.runpytest_subprocess(*IN_ORDER).assert_outcomes(passed=5)


def test_each_xdist_worker_pins_its_own_and_isolation_holds(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)  # when this suite itself runs under xdist
    pytester.makepyfile(test_pass_through=PASS_THROUGH)
    pytester.makepyfile(
        test_workers="""
        import os
        import pytest
        from pytest_webpubsub._hosts import HOSTS

        @pytest.mark.parametrize("n", range(8))
        def test_own_fake(webpubsub, n):
            alice = webpubsub.connect("chat", user_id="alice")
            assert alice.connection_id == webpubsub.connections[0].connection_id
            assert HOSTS.hosts() == ["fake.webpubsub.azure.com"] and HOSTS.pinned
            assert len(webpubsub.lifecycle) == 1

        @pytest.mark.parametrize("n", range(4))
        def test_no_fake(n):
            assert not HOSTS.active
        """
    )
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=17)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])
