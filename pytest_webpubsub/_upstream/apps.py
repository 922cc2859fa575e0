"""Calling an event handler: a WSGI app, an ASGI app, a plain callable, or a real HTTP server.

WSGI and ASGI apps are called through httpx's own transports; ASGI apps (and awaitables a callable returns) run
on an event loop of the fake's own, in a daemon thread started on first use, so that sync and async tests alike
can wait for them while the app calls the service back. Real HTTP calls use httpx with a timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Awaitable
from typing import Any, Callable, Literal, Optional, TypeVar

import httpx

from .records import UpstreamRequest, UpstreamResponse

AppKind = Literal["asgi", "wsgi", "callable", "http"]
APP_KINDS = ("asgi", "wsgi", "callable")
T = TypeVar("T")


class UpstreamTimeout(Exception):
    """An event handler did not answer within the timeout."""


def detect_kind(app: Any, app_kind: Optional[str]) -> AppKind:
    """The kind of ``app``: ``http`` for None; an async ``__call__`` is ASGI; two positional parameters WSGI;
    any other callable a plain callable. ``app_kind`` forces it."""
    if app is None:
        if app_kind is not None:
            raise ValueError(f"app_kind={app_kind!r} needs an app; app=None makes real HTTP calls to the URL")
        return "http"
    if not callable(app):
        raise TypeError(f"app={app!r} is not callable: pass a WSGI app, an ASGI app, a callable or None")
    if app_kind is not None:
        if app_kind not in APP_KINDS:
            raise ValueError(f"app_kind={app_kind!r} must be one of {', '.join(APP_KINDS)}")
        return app_kind  # type: ignore[return-value]
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__):
        return "asgi"
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):
        return "callable"
    positional = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return "wsgi" if len(positional) == 2 else "callable"


class EventLoopThread:
    """A private event loop running in a daemon thread; started on first use, ended by :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name="pytest-webpubsub upstream", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, make: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run the awaitable ``make()`` returns on the loop and wait for it, at most ``timeout`` seconds."""
        if threading.current_thread() is self._thread:
            # An app on this loop made the service call another in-process ASGI app synchronously:
            # run that one on a loop of its own, as a real service would call it concurrently.
            return _run_in_own_thread(make, timeout)
        future = asyncio.run_coroutine_threadsafe(_awaited(make), self._started())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise UpstreamTimeout(f"no answer within {timeout:g} s") from None

    def close(self, timeout: float) -> None:
        """Cancel what still runs on the loop and stop it; wait for its thread at most ``timeout`` seconds.
        A loop that an app blocks stops (and is closed by its thread) once the app lets go."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(_shutdown(), loop)
        thread.join(timeout)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _shutdown() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.get_running_loop().stop()


async def _awaited(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _run_in_own_thread(make: Callable[[], Awaitable[T]], timeout: float) -> T:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(_awaited(make))
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="pytest-webpubsub upstream (nested)", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise UpstreamTimeout(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _to_httpx(request: UpstreamRequest) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=list(request.headers.items()), content=request.body)


def _from_httpx(response: httpx.Response) -> UpstreamResponse:
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers.raw]
    return UpstreamResponse(response.status_code, headers, response.content)


class AppCaller:
    """Sends one request to one event handler and returns its answer; raises what the app raised,
    :class:`UpstreamTimeout` when no answer came in time, or httpx's error when the host is unreachable."""

    def __init__(self, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
        self.timeout = timeout
        self.loop = EventLoopThread()
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def call(self, app: Any, kind: AppKind, request: UpstreamRequest) -> UpstreamResponse:
        if kind == "wsgi":
            with httpx.Client(transport=httpx.WSGITransport(app), trust_env=False) as client:
                return _from_httpx(client.send(_to_httpx(request)))
        if kind == "asgi":
            return self.loop.run(lambda: _call_asgi(app, request), self.timeout)
        if kind == "callable":
            return self._call_callable(app, request)
        return self._call_http(request)

    def _call_callable(self, app: Callable[[UpstreamRequest], Any], request: UpstreamRequest) -> UpstreamResponse:
        answer = app(request)
        if inspect.isawaitable(answer):
            awaitable = answer
            answer = self.loop.run(lambda: awaitable, self.timeout)
        if answer is None:
            return UpstreamResponse(204)
        if not isinstance(answer, UpstreamResponse):
            raise TypeError(
                f"the event handler callable returned {answer!r}; return an UpstreamResponse, or None for 204"
            )
        return answer

    def _call_http(self, request: UpstreamRequest) -> UpstreamResponse:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout, trust_env=False)
            client = self._http
        try:
            return _from_httpx(client.send(_to_httpx(request)))
        except httpx.TimeoutException as error:
            raise UpstreamTimeout(f"no answer from {request.url} within {self.timeout:g} s ({error!r})") from None

    def close(self) -> None:
        """Stop the event loop and close the HTTP client (the fake calls this when it stops)."""
        self.loop.close(self.timeout)
        with self._lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()


async def _call_asgi(app: Any, request: UpstreamRequest) -> UpstreamResponse:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), trust_env=False) as client:
        return _from_httpx(await client.send(_to_httpx(request)))
