"""``FakeWebPubSub``: one fake Web PubSub resource as a test touches it: state, REST, clients, activation.

The facade composes the pieces and owns their lifetime: the core state machine (``_core``), the REST dispatcher
(``_rest``), the connection gateway (``_gateway``) through which every client link connects, and the host table
(``_hosts``) through which the seams route SDK, httpx and socket traffic here while the fake is active.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from . import _protocol
from ._core.clock import CountingIds, FakeClock
from ._core.log import DeliveryLog, LifecycleEvent
from ._core.model import Delivery, Send
from ._core.service import Connection, ServiceListener, WebPubSubService
from ._core.snapshot import HubSnapshot
from ._faults import FAILURE_KINDS, FailureKind
from ._gateway import Gateway, RecoveryFailed
from ._hosts import HOSTS, Owner, normalise_host
from ._options import Options
from ._rest.dispatch import Fault, RestCall, RestDispatcher
from ._rest.http import FakeRequest, FakeResponse
from ._upstream import EventHandler, Upstream, UpstreamCall, UpstreamRequest, build_event
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
        self._undo: list[Callable[[], None]] = []
        self._fresh_state()

    def _fresh_state(self, upstream: Upstream | None = None) -> None:
        """Build the service, its REST surface, gateway and records from the options (nothing is active).

        ``upstream``: the event handlers to keep (a reset passes a renewed one); default: none yet.
        """
        self._log = DeliveryLog(max_deliveries=self.options.max_deliveries)
        self._service = WebPubSubService(ids=CountingIds(self.options.id_seed))
        self._upstream = upstream or Upstream(
            host=self.host,
            access_keys=[self.access_key],
            clock=self.options.clock,
            timeout=self.options.upstream_timeout,
        )
        self._gateway = Gateway(
            self._service,
            endpoint=self.endpoint,
            access_keys=[self.access_key],
            clock=self.options.clock,
            lock=self._lock,
            upstream=self._upstream,
        )
        self._service.add_listener(self._log)
        self._service.add_listener(self._gateway)
        self._rest = RestDispatcher(
            self._service,
            endpoint=self.endpoint,
            keys=[self.access_key],
            clock=self.options.clock,
            max_calls=self.options.max_rest_calls,
        )
        self._clients: list[FakeClientConnection] = []

    def __repr__(self) -> str:
        return f"<FakeWebPubSub {self.endpoint} {'active' if self.active else 'inactive'}>"

    # -- identity ---------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.options.endpoint.rstrip("/")

    @property
    def host(self) -> str:
        """The host (with port, if not the scheme's default) whose requests this fake answers."""
        return normalise_host(self.endpoint)

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
        """Route SDK, httpx and socket traffic for this fake's host to it, and export the configured variables.

        A start that fails partway undoes what it did: the fake stays inactive and owns no host.
        """
        if self.active:
            raise RuntimeError(f"{self!r} is already active")
        try:
            self._own(self.host, Owner(self.handle, lambda: self._gateway))
            proxy = self.options.reverse_proxy_endpoint
            if proxy is not None:
                self._own(normalise_host(proxy), Owner(self._handle_proxied, lambda: self._gateway))
            for name, value in (
                (self.options.connection_string_env, self.connection_string),
                (self.options.hub_env, self.options.hub),
            ):
                if name:
                    self._undo.append(_set_env(name, value))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Undo what ``start()`` did and close every simulated client that is still open.

        The event handlers get the events still queued (the clients' ``disconnected`` included) before the
        host is released; then the event loop of in-process ASGI apps and the HTTP client of real ones stop.
        """
        try:
            for client in self._clients:
                if client.is_open:
                    client.close()
        finally:
            try:
                self._upstream.close()
            finally:
                while self._undo:
                    self._undo.pop()()

    def _own(self, host: str, owner: Owner) -> None:
        HOSTS.add(host, owner)
        self._undo.append(lambda: HOSTS.remove(host))

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
        """Answer one REST request exactly as the service would.

        Every REST seam calls this; it is public for HTTP clients no seam covers (e.g. a ``responses`` callback).
        """
        try:
            with self._lock:
                self._gateway.expire_dropped()
                return self._rest.dispatch(request)
        finally:
            self._gateway.drain()  # the events it caused (a REST close's disconnected), with no lock held

    def _handle_proxied(self, request: FakeRequest) -> FakeResponse:
        """A request through the gateway: forwarded with the gateway's prefix replaced by the endpoint."""
        proxy = (self.options.reverse_proxy_endpoint or "").rstrip("/")
        if not request.url.lower().startswith(proxy.lower() + "/"):
            return FakeResponse(404, {"Content-Length": "0"})
        url = self.endpoint + request.url[len(proxy) :]
        forwarded = FakeRequest(request.method, url, request.headers, request.body)
        return self.handle(forwarded)

    @property
    def rest_calls(self) -> list[RestCall]:
        """Every REST call answered so far, in order, refused ones included (the most recent ``max_rest_calls``
        when that option bounds them)."""
        return list(self._rest.calls)

    @property
    def rest_call_count(self) -> int:
        """Every REST call since the start, those no longer kept included."""
        return self._rest.call_count

    def inject_fault(
        self,
        status: int | None = None,
        *,
        error: FailureKind | None = None,
        times: int = 1,
        operation: str | None = None,
        target: str | FakeClientConnection | None = None,
        delay: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` REST calls fail: answered with ``status`` (400-599), or, with ``error``, not
        answered at all: ``"connection"`` (azure-core's ``ServiceRequestError``, httpx's ``ConnectError``) or
        ``"timeout"`` (``ServiceResponseError``, ``httpx.ReadTimeout``). The SDK's real retry policy is what the
        application experiences; back-off sleeps after a fake's answer are skipped.

        ``operation`` (an SDK method name) and ``target`` (a group, a user id or a connection the call names) narrow
        which calls fail; ``delay`` seconds pass on the fake's clock before the call fails (nothing waits).
        ``retry_after`` sets the answer's ``Retry-After``. Faults no call consumed fail the test at teardown (the
        ``fail_on_unused_faults`` option), and injected failures are listed in assertion failure messages.
        """
        if operation is not None:
            from ._rest.routes import ROUTES

            known = [route.name for route in ROUTES]
            if operation not in known:
                raise ValueError(f"operation={operation!r} is not a REST operation; expected one of {', '.join(known)}")
        if (status is None) == (error is None):
            raise ValueError("inject_fault needs exactly one of status=<400-599> or error='connection'/'timeout'")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError(f"inject_fault needs an error status (400-599), got {status=}")
        if error is not None and error not in FAILURE_KINDS:
            raise ValueError(f"error={error!r} must be one of {', '.join(FAILURE_KINDS)}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times={times!r} must be a whole number >= 1")
        if not (isinstance(delay, (int, float)) and 0 <= delay < float("inf")):
            raise ValueError(f"delay={delay!r} must be a finite number of seconds >= 0")
        if target is not None and not isinstance(target, str):
            target = target.connection_id
        self._rest.faults.append(
            Fault(status, times, operation, retry_after, failure=error, target=target, delay=float(delay))
        )

    def inject_upstream_fault(
        self, event: str = "*", *, status: int | None = 500, error: FailureKind | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of the app's event handler for ``event`` (``"connect"``, ``"message"``,
        any user or system event; ``"*"``: any) fail without reaching the app: answered with ``status`` (the
        service acts on it as on the app's answer: a refused ``connect``, an ``InternalServerError`` ack), or, with
        ``error="timeout"``, not answered in time. Recorded in ``upstream_calls``; not an app error (the test asked
        for it), so ``fail_on_upstream_errors`` ignores it."""
        if error is not None:
            if error != "timeout":
                raise ValueError(f"error={error!r}: an event handler call can only time out (error='timeout')")
            status = None
        elif status is None or isinstance(status, bool) or not isinstance(status, int) or not 300 <= status <= 599:
            raise ValueError(f"status={status!r} must be a failing HTTP status (300-599), or pass error='timeout'")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times={times!r} must be a whole number >= 1")
        if not isinstance(event, str) or not event:
            raise ValueError(f"event={event!r} must be an event name or '*'")
        self._upstream.inject_fault(event, status=status, times=times)

    @property
    def pending_faults(self) -> list[str]:
        """The injected faults no call has consumed yet, described (``"503 x2 on send_to_all"``)."""
        return [fault.describe() for fault in self._rest.faults] + [
            fault.describe() for fault in self._upstream.faults
        ]

    def service_client(self, hub: str | None = None, *, aio: bool = False, **kwargs: Any) -> Any:
        """An official ``WebPubSubServiceClient`` (``aio=True``: the async one) for this fake's connection string."""
        if aio:
            from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

            return AsyncClient.from_connection_string(self.connection_string, hub=hub or self.options.hub, **kwargs)
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        hub = hub or self.options.hub
        return WebPubSubServiceClient.from_connection_string(self.connection_string, hub=hub, **kwargs)

    # -- clients ----------------------------------------------------------------------------------------

    def connect(
        self,
        hub: str | None = None,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = _protocol.JSON,
        auto_ack: bool = True,
    ) -> FakeClientConnection:
        """Open a simulated client connection to ``hub`` (default: the configured ``hub`` option).

        ``user_id``, ``roles`` and ``groups`` stand for the claims a client access token would carry.
        ``protocol=None`` makes a simple WebSocket client; the default is ``json.webpubsub.azure.v1``.
        """
        chosen = _protocol.by_name(protocol)
        target_hub = hub or self.options.hub

        def open_session(link: FakeClientConnection) -> Any:
            return self._gateway.open_session(
                target_hub, link, user_id=user_id, groups=groups, roles=roles, protocol=chosen
            )

        return self._track(FakeClientConnection(open_session, self._gateway.recover, auto_ack=auto_ack))

    def connect_url(
        self,
        url: str,
        *,
        protocol: str | None = _protocol.JSON,
        authorization: str | None = None,
        auto_ack: bool = True,
    ) -> FakeClientConnection:
        """Connect with a client access URL, as ``get_client_access_token()["url"]`` returns it.

        The token is checked like the service's upgrade does (signature, ``exp``, audience host and path);
        a refused token raises :class:`~pytest_webpubsub.ConnectionRefused` with the reason (the service answers
        401). A simple client's URL may carry ``webpubsub_mode=sendToGroup&group=<g>``.
        """
        offered = [_protocol.by_name(protocol).name or ""] if protocol is not None else []

        def handshake(link: FakeClientConnection) -> Any:
            session = self._gateway.handshake(url, link, offered=offered, authorization=authorization).session
            if session is None:
                raise RecoveryFailed(url)
            return session

        return self._track(FakeClientConnection(handshake, self._gateway.recover, auto_ack=auto_ack))

    def expire_dropped(self) -> None:
        """End the dropped reliable connections whose recovery window (30 s on the fake's clock) is over.

        Every REST call and connect does this first; call it after moving a frozen clock to see the effect.
        """
        self._gateway.expire_dropped()

    @property
    def connections(self) -> list[FakeClientConnection]:
        """Every simulated client that is still open, in the order they connected."""
        return [client for client in self._clients if client.is_open]

    def _track(self, client: FakeClientConnection) -> FakeClientConnection:
        self._clients.append(client)
        return client

    # -- the log ----------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every data message delivered to any connection, in delivery order (the most recent ``max_deliveries``
        when that option bounds them)."""
        with self._lock:  # the records are made from the logged sends as they are read
            return self._log.deliveries

    @property
    def delivery_count(self) -> int:
        """Every delivery since the start, those no longer kept included."""
        return self._log.delivery_count

    def clear_records(self) -> None:
        """Forget the recorded deliveries, lifecycle events and REST calls (the counts keep counting): for long
        runs, between the phases a test checks. Simulated clients keep what they received."""
        with self._lock:
            self._log.clear()
            self._rest.clear_calls()

    @property
    def lifecycle(self) -> tuple[LifecycleEvent, ...]:
        """Every connection opened or closed, in order."""
        return self._log.events

    # -- reset ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Return to a fresh state, as if just built: an empty service, every simulated client closed, no
        deliveries, lifecycle events, REST calls, injected faults or event handler calls, connection ids
        starting over.

        The fake stays active with the same endpoint and key, and keeps its event handlers (configuration,
        like the endpoint): the clients closed here raise their ``disconnected`` events before the calls are
        cleared, and handler failures from before the reset still fail the test. Call it at the start of each
        hypothesis example that uses the ``webpubsub`` fixture. Clients of the official client SDK opened before
        are not carried over: close them first.
        """
        for client in self._clients:  # without the lock: their disconnected events call the app
            if client.is_open:
                client.close()
        old = self._upstream
        old.close()
        with self._lock:
            self._fresh_state(old.renewed())
            self.clock.reset()

    # -- the app's event handler (upstream) --------------------------------------------------------------

    def add_event_handler(
        self,
        url_template: str,
        app: Any = None,
        *,
        hub: str | None = None,
        user_events: str = "*",
        system_events: Iterable[str] = ("connect", "connected", "disconnected"),
        app_kind: str | None = None,
    ) -> EventHandler:
        """Add an event handler setting to ``hub`` (default: the ``hub`` option), after the ordered ones.

        ``url_template`` may hold ``{hub}`` and ``{event}``. ``app`` is a WSGI app (Flask), an ASGI app
        (Starlette, FastAPI), or a callable taking an :class:`UpstreamRequest` and returning an
        :class:`UpstreamResponse` (None means 204); ``app=None`` makes real HTTP calls to the URL. ``app_kind``
        (``"wsgi"``, ``"asgi"``, ``"callable"``) overrides the detection. ``user_events`` is ``"*"``, ``""``
        (none), one name or ``"a,b"``; names are case-insensitive. For each event the first handler of the hub
        that subscribes to it is called.

        The abuse-protection handshake runs first, as when the service saves a hub setting: ``OPTIONS`` with
        ``{event}`` = ``validate``; unless the answer is 2xx with ``WebHook-Allowed-Origin`` ``*`` or this
        fake's host, :class:`AbuseProtectionError` is raised and nothing is added.
        """
        return self._upstream.add_handler(
            url_template,
            app,
            hub=hub or self.options.hub,
            user_events=user_events,
            system_events=system_events,
            app_kind=app_kind,
        )

    @property
    def upstream_calls(self) -> list[UpstreamCall]:
        """Every call of an event handler so far, in order, the abuse-protection handshakes included."""
        return list(self._upstream.calls)

    def build_event(
        self,
        event: str,
        *,
        connection_id: str,
        hub: str | None = None,
        user_id: str | None = None,
        data: Any = None,
        data_type: str = "text",
        claims: Mapping[str, Sequence[str] | str] | None = None,
        query: Mapping[str, Sequence[str] | str] | None = None,
        subprotocols: Sequence[str] = (),
        state: str | None = None,
    ) -> UpstreamRequest:
        """The exact signed request the service would send for ``event``, to post to the app yourself.

        ``event`` is ``connect`` (with ``claims``, ``query``, ``subprotocols``), ``connected``,
        ``disconnected`` (``data`` is the reason) or a user event (``data`` as ``data_type``: text from a str,
        json from any JSON value, binary from bytes). ``state`` is sent as ``ce-connectionState``. The URL is
        that of the hub's first handler subscribed to the event, else ``http://localhost/``.
        """
        return build_event(
            self._upstream,
            event,
            connection_id=connection_id,
            hub=hub or self.options.hub,
            user_id=user_id,
            data=data,
            data_type=data_type,
            claims=claims,
            query=query,
            subprotocols=subprotocols,
            state=state,
        )

    # -- time, snapshots and faults for property tests ----------------------------------------------------

    @property
    def clock(self) -> FakeClock:
        """The fake's one clock (``options.clock``): call it for the fake's time, ``advance()`` it to move time."""
        clock = self.options.clock
        assert isinstance(clock, FakeClock)  # Options wraps any callable in one
        return clock

    def advance(self, seconds: float) -> None:
        """Move the fake's clock ``seconds`` forward (no real sleep), then end what expired meanwhile.

        Client access tokens, ``minutes_to_expire`` and the 30-second recovery window of dropped reliable
        connections are judged on this clock. The service SDK's REST calls keep working: it signs them with wall
        time, so REST tokens are judged on the clock's source (the wall clock by default), not on the advance.
        """
        self.clock.advance(seconds)
        self.expire_dropped()

    def snapshot(self, hub: str | None = None) -> HubSnapshot:
        """A frozen, comparable picture of ``hub`` (default: the ``hub`` option): its groups, users and
        connections, each connection with its user, groups, protocol, permissions and open/dropped state."""
        with self._lock:
            return self._service.snapshot(self.options.hub if hub is None else hub)

    def drop_after(self, client: FakeClientConnection, deliveries: int = 1, *, close_frame: bool = False) -> None:
        """Lose ``client``'s link right after its ``deliveries``-th data message from now on.

        ``close_frame=False`` drops the link without a close handshake (``client.drop()``: a reliable connection
        waits for recovery, others end); ``close_frame=True`` closes it from the client side (``client.close()``).
        """
        if isinstance(deliveries, bool) or not isinstance(deliveries, int) or deliveries < 1:
            raise ValueError(f"deliveries={deliveries!r} must be a positive integer")
        self._add_listener(_DropAfter(client, deliveries, close_frame))

    def _add_listener(self, listener: ServiceListener) -> None:
        """Observe this fake's opens, deliveries and closes until ``reset()`` (for the package's own tools)."""
        with self._lock:
            self._service.add_listener(listener)


class _DropAfter:
    """Drops one client's link after its n-th delivery (then does nothing more)."""

    def __init__(self, client: FakeClientConnection, deliveries: int, close_frame: bool) -> None:
        self._client = client
        self._left = deliveries
        self._close_frame = close_frame

    def on_open(self, connection: Connection) -> None:
        pass

    def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
        if self._left <= 0:
            return
        connection_id = self._client.connection_id
        self._left -= sum(1 for connection in recipients if connection.connection_id == connection_id)
        if self._left <= 0:
            if self._close_frame:
                self._client.close()
            else:
                self._client.drop()

    def on_close(self, connection: Connection, reason: str | None) -> None:
        if connection.connection_id == self._client.connection_id:
            self._left = 0


def _set_env(name: str, value: str) -> Callable[[], None]:
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return restore
