"""``FakeWebPubSub``: one fake Web PubSub resource — its state, REST surface, clients and patches."""

from __future__ import annotations

import functools
import inspect
import os
import threading
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import urlsplit

from . import _protocol
from ._core.clock import CountingIds
from ._core.errors import UnauthorizedError
from ._core.log import DeliveryLog, LifecycleEvent
from ._core.model import Delivery
from ._core.service import WebPubSubService
from ._options import Options
from ._rest.dispatch import Fault, RestCall, RestDispatcher
from ._rest.http import FakeRequest, FakeResponse
from ._tokens import verify_client_url
from .assertions import DeliveryAssertions
from .clients import FakeClientConnection

F = TypeVar("F", bound=Callable[..., Any])


class FakeWebPubSub(DeliveryAssertions):
    """A fake Azure Web PubSub resource, in memory.

    Use it as the ``webpubsub`` fixture, or as a context manager or decorator outside pytest::

        with FakeWebPubSub() as service:
            client = WebPubSubServiceClient.from_connection_string(service.connection_string, hub="chat")
            alice = service.connect("chat", user_id="alice")
            client.send_to_user("alice", "hi", content_type="text/plain")
            assert alice.received[0].data == "hi"

    While active, azure-core and httpx requests for its host are answered by the fake.
    """

    def __init__(self, options: Options | None = None, **overrides: Any) -> None:
        self.options = (options or Options()).merged(overrides)
        self._lock = threading.RLock()
        self._log = DeliveryLog()
        self.service = WebPubSubService(ids=CountingIds(self.options.id_seed), listeners=[self._log])
        self._rest = RestDispatcher(
            self.service, endpoint=self.endpoint, keys=[self.access_key], clock=self.options.clock
        )
        self._clients: list[FakeClientConnection] = []
        self._undo: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<FakeWebPubSub {self.endpoint} {'active' if self.active else 'inactive'}>"

    # -- identity ---------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.options.endpoint.rstrip("/")

    @property
    def host(self) -> str:
        """The host (with port, if any) whose requests this fake answers."""
        return urlsplit(self.endpoint).netloc.lower()

    @property
    def access_key(self) -> str:
        return self.options.access_key

    @property
    def connection_string(self) -> str:
        """``Endpoint=...;AccessKey=...;Version=1.0;``, as the portal shows it."""
        parts = urlsplit(self.endpoint)
        port = f"Port={parts.port};" if parts.port else ""
        origin = f"{parts.scheme}://{parts.hostname}{parts.path}"
        return f"Endpoint={origin};AccessKey={self.access_key};{port}Version=1.0;"

    # -- activation -------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool(self._undo)

    def start(self) -> FakeWebPubSub:
        """Route SDK and httpx requests for this fake's host to it, and export the configured variables."""
        if self.active:
            raise RuntimeError(f"{self!r} is already active")
        from ._httpx import route_httpx
        from .transport import patch_azure_core

        self._undo.append(patch_azure_core(self.host, self.handle))
        self._undo.append(route_httpx(self.host, self.handle))
        for name, value in ((self.options.connection_string_env, self.connection_string),
                            (self.options.hub_env, self.options.hub)):
            if name:
                self._undo.append(_set_env(name, value))
        return self

    def stop(self) -> None:
        """Undo what ``start()`` did and close every simulated client that is still open."""
        for client in self._clients:
            if client.is_open:
                client.close()
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> FakeWebPubSub:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __call__(self, function: F) -> F:
        """Use the fake as a decorator: active for each call of ``function`` (sync or async)."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # -- REST -------------------------------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one REST request exactly as the service would (the entry point of every adapter)."""
        with self._lock:
            return self._rest.dispatch(request)

    @property
    def rest_calls(self) -> list[RestCall]:
        """Every REST call answered so far, in order, refused ones included."""
        return list(self._rest.calls)

    def inject_fault(
        self, status: int, *, times: int = 1, operation: str | None = None, retry_after: float | None = None
    ) -> None:
        """Answer the next ``times`` REST calls (of ``operation``, an SDK method name, or any) with ``status``.

        Use it to exercise azure-core's retries: ``inject_fault(503, times=2)`` makes the next two calls fail
        and the third reach the fake. Back-off sleeps after a fake's answer are skipped.
        """
        if operation is not None:
            from ._rest.routes import ROUTES

            known = [route.name for route in ROUTES]
            if operation not in known:
                raise ValueError(f"operation={operation!r} is not a REST operation; expected one of {', '.join(known)}")
        if times < 1 or not 400 <= status <= 599:
            raise ValueError(f"inject_fault needs an error status (400-599) and times >= 1, got {status=}, {times=}")
        self._rest.faults.append(Fault(status, times, operation, retry_after))

    def service_client(self, hub: str | None = None, *, aio: bool = False, **kwargs: Any) -> Any:
        """An official ``WebPubSubServiceClient`` (``aio=True``: the async one) for this fake's connection string."""
        if aio:
            from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

            return AsyncClient.from_connection_string(self.connection_string, hub=hub or self.options.hub, **kwargs)
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        return WebPubSubServiceClient.from_connection_string(self.connection_string, hub=hub or self.options.hub, **kwargs)

    # -- clients ----------------------------------------------------------------------------------------

    def connect(
        self,
        hub: str | None = None,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = _protocol.JSON,
    ) -> FakeClientConnection:
        """Open a simulated client connection to ``hub`` (default: the configured ``hub`` option).

        ``protocol=None`` makes a simple WebSocket client; the default is ``json.webpubsub.azure.v1``.
        """
        with self._lock:
            client = FakeClientConnection(
                self.service, hub or self.options.hub, user_id=user_id, groups=list(groups), roles=list(roles), protocol=protocol
            )
            self._clients.append(client)
            return client

    def connect_url(
        self, url: str, *, protocol: str | None = _protocol.JSON, authorization: str | None = None
    ) -> FakeClientConnection:
        """Connect with a client access URL, as ``get_client_access_token()["url"]`` returns it.

        The token is checked like the service's upgrade does (signature, ``exp``, audience host and path);
        a refused token raises :class:`ConnectionRefused` with the reason (the service answers 401).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss", "http", "https"):
            raise ConnectionRefused(f"{url!r} is not a WebSocket URL", status=400)
        if parts.netloc.lower() != self.host:
            raise ConnectionRefused(f"{parts.netloc!r} is not this fake's host {self.host!r}", status=404)
        try:
            identity = verify_client_url(
                url, keys=[self.access_key], now=self.options.clock(), authorization=authorization
            )
        except UnauthorizedError as refused:
            raise ConnectionRefused(refused.message, status=401) from None
        return self.connect(
            identity.hub, user_id=identity.user_id, groups=identity.groups, roles=identity.roles, protocol=protocol
        )

    @property
    def connections(self) -> list[FakeClientConnection]:
        """Every simulated client that is still open, in the order they connected."""
        return [client for client in self._clients if client.is_open]

    # -- the log ----------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every data message delivered to any connection, in delivery order."""
        return self._log.deliveries

    @property
    def lifecycle(self) -> tuple[LifecycleEvent, ...]:
        """Every connection opened or closed, in order."""
        return self._log.events


class ConnectionRefused(Exception):
    """The fake refused a client connection; ``status`` is the HTTP status of the refused upgrade."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(f"pytest-webpubsub: connection refused ({status}): {message}")
        self.status = status
        self.reason = message


def _set_env(name: str, value: str) -> Callable[[], None]:
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return restore
