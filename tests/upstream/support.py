"""Event handler apps for the upstream tests: one scripted behaviour served by Flask (WSGI), Starlette (ASGI)
and the standard library's HTTP server, written the way the official samples write theirs."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pytest_webpubsub._upstream import ConnectionInfo, Upstream

HOST = "fake.webpubsub.azure.com"
KEY = "cHl0ZXN0LXdlYnB1YnN1Yi1mYWtlLWFjY2Vzcy1rZXktMDAwMDE="
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ALICE = ConnectionInfo("Chat", "conn-1", "alice", "json.webpubsub.azure.v1")
Answer = tuple[int, dict[str, str], bytes]


def signed_by(header: str | None, connection_id: str, key: str) -> bool:
    """The check the SDK handlers make: one of the comma-separated ``sha256=`` values matches the key."""
    expected = "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(part.strip(), expected) for part in (header or "").split(","))


@dataclass
class Seen:
    """What the app received, read through the framework (header names looked up case-insensitively)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Script:
    """How the handler answers: ``answers[event]`` (default 204), the key it verifies signatures with, the
    origin it allows, and hooks run while an event is handled (``hook`` sync, ``async_hook`` in ASGI apps)."""

    key: str = KEY
    allowed_origin: str | None = "echo"
    validate_status: int = 200
    answers: dict[str, Answer] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    hook: Callable[[Seen], None] | None = None
    async_hook: Callable[[Seen], Awaitable[None]] | None = None
    raise_on: str | None = None

    def receive(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Seen:
        seen = Seen(method, path, {name.lower(): value for name, value in headers.items()}, body)
        self.seen.append(seen)
        return seen

    def answer(self, seen: Seen) -> Answer:
        if seen.method == "OPTIONS":
            origin = seen.header("WebHook-Request-Origin") if self.allowed_origin == "echo" else self.allowed_origin
            return self.validate_status, ({"WebHook-Allowed-Origin": origin} if origin else {}), b""
        if not signed_by(seen.header("ce-signature"), seen.header("ce-connectionId") or "", self.key):
            return 401, {}, b""
        event = seen.header("ce-eventName") or ""
        if event == self.raise_on:
            raise RuntimeError(f"the app failed on {event}")
        if self.hook is not None:
            self.hook(seen)
        return self.answers.get(event, (204, {}, b""))

    @property
    def events(self) -> list[str]:
        return [seen.header("ce-eventName") or "validate" for seen in self.seen]


def flask_app(script: Script) -> Flask:
    app = Flask("eventhandler")

    @app.route("/eventhandler", methods=["OPTIONS", "POST"])
    @app.route("/api/<hub>/<event>", methods=["OPTIONS", "POST"])
    def eventhandler(hub: str | None = None, event: str | None = None) -> Any:
        seen = script.receive(request.method, request.path, dict(request.headers.items()), request.get_data())
        status, headers, body = script.answer(seen)
        return body, status, headers

    return app


def starlette_app(script: Script) -> Starlette:
    async def eventhandler(request: Request) -> Response:
        seen = script.receive(request.method, request.url.path, request.headers, await request.body())
        status, headers, body = script.answer(seen)
        if script.async_hook is not None and request.method == "POST":
            await script.async_hook(seen)
        return Response(body, status_code=status, headers=headers)

    methods = ["OPTIONS", "POST"]
    return Starlette(routes=[Route("/eventhandler", eventhandler, methods=methods),
                             Route("/api/{hub}/{event}", eventhandler, methods=methods)])


def make_app(kind: str, script: Script) -> Any:
    return flask_app(script) if kind == "flask" else starlette_app(script)


def make_upstream(**overrides: Any) -> Upstream:
    options: dict[str, Any] = {"host": HOST, "access_keys": [KEY], "clock": lambda: NOW}
    options.update(overrides)
    return Upstream(**options)


class _Handler(BaseHTTPRequestHandler):
    script: Script
    release: threading.Event

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = self.server.script.receive(self.command, self.path, dict(self.headers.items()), body)  # type: ignore[attr-defined]
        if seen.header("ce-eventName") == "slow":
            self.server.release.wait(30)  # type: ignore[attr-defined]
        status, headers, content = self.server.script.answer(seen)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_OPTIONS = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(script: Script) -> Iterator[str]:
    """Serve ``script`` on 127.0.0.1 (a free port) while the generator is open; yields the base URL.
    An event named ``slow`` is answered only when the server stops."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.script = script  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join()
