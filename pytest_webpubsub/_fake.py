"""``FakeWebPubSub``: one fake Web PubSub resource — its state, REST surface, clients and patches."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import os
import threading
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import parse_qsl, urlsplit

from . import _protocol
from ._core.clock import CountingIds
from ._core.errors import UnauthorizedError
from ._core.log import DeliveryLog, LifecycleEvent
from ._core.model import Delivery
from ._core.service import Connection, WebPubSubService
from ._options import Options
from ._rest.dispatch import Fault, RestCall, RestDispatcher
from ._rest.http import FakeRequest, FakeResponse
from ._tokens import verify_client_url
from ._upstream import EventHandler, Upstream, UpstreamCall, UpstreamRequest, build_event
from .assertions import DeliveryAssertions
from ._session import CLOSE_POLICY_VIOLATION, RECOVERY_WINDOW_SECONDS, ClientSession, Link, SimpleMode
from .clients import FakeClientConnection, check_protocol

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
        self._sessions: dict[str, ClientSession] = {}  # recoverable (reliable, open) sessions by connection id
        self.service = WebPubSubService(
            ids=CountingIds(self.options.id_seed), listeners=[self._log, _ForgetClosed(self._sessions)]
        )
        self._rest = RestDispatcher(
            self.service, endpoint=self.endpoint, keys=[self.access_key], clock=self.options.clock
        )
        self._clients: list[FakeClientConnection] = []
        self._detached: dict[str, ClientSession] = {}
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
        proxy = self.options.reverse_proxy_endpoint
        if proxy is not None:
            proxy_host = urlsplit(proxy).netloc.lower()
            self._undo.append(patch_azure_core(proxy_host, self._handle_proxied))
            self._undo.append(route_httpx(proxy_host, self._handle_proxied))
        self._undo.extend(_patch_client_sdk(self))
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
            self._sweep()
            return self._rest.dispatch(request)

    def _handle_proxied(self, request: FakeRequest) -> FakeResponse:
        """A request through the gateway: forwarded with the gateway's prefix replaced by the endpoint."""
        proxy = (self.options.reverse_proxy_endpoint or "").rstrip("/")
        if not request.url.lower().startswith(proxy.lower() + "/"):
            return FakeResponse(404, {"Content-Length": "0"})
        forwarded = FakeRequest(request.method, self.endpoint + request.url[len(proxy) :], request.headers, request.body)
        return self.handle(forwarded)

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
        auto_ack: bool = True,
    ) -> FakeClientConnection:
        """Open a simulated client connection to ``hub`` (default: the configured ``hub`` option).

        ``protocol=None`` makes a simple WebSocket client; the default is ``json.webpubsub.azure.v1``.
        """
        check_protocol(protocol)

        def open_session(link: FakeClientConnection) -> ClientSession:
            return self.open_session(
                hub or self.options.hub, link, user_id=user_id, groups=groups, roles=roles, protocol=protocol
            )

        return self._track(FakeClientConnection(open_session, self._recover_client, auto_ack=auto_ack))

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
        a refused token raises :class:`ConnectionRefused` with the reason (the service answers 401). A simple
        client's URL may carry ``webpubsub_mode=sendToGroup&group=<g>``.
        """
        check_protocol(protocol)
        return self._track(
            FakeClientConnection(
                lambda link: self.handshake(url, link, protocol=protocol, authorization=authorization),
                self._recover_client,
                auto_ack=auto_ack,
            )
        )

    def handshake(
        self, url: str, link: Link, *, protocol: str | None, authorization: str | None = None
    ) -> ClientSession:
        """The WebSocket upgrade of ``url``: verify the token (or the recovery parameters) and open a session.

        Raises :class:`ConnectionRefused` where the service refuses the upgrade. A failed recovery is accepted
        and then closed with 1008 (``link.end``), as the service does. SDK adapters call this too.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss", "http", "https"):
            raise ConnectionRefused(f"{url!r} is not a WebSocket URL", status=400)
        if parts.netloc.lower() != self.host:
            raise ConnectionRefused(f"{parts.netloc!r} is not this fake's host {self.host!r}", status=404)
        query = dict(parse_qsl(parts.query))
        with self._lock:
            self._sweep()
            if "awps_connection_id" in query:
                return self._recover_session(query, link)
            try:
                identity = verify_client_url(
                    url, keys=[self.access_key], now=self.options.clock(), authorization=authorization
                )
            except UnauthorizedError as refused:
                raise ConnectionRefused(refused.message, status=401) from None
            return self.open_session(
                identity.hub,
                link,
                user_id=identity.user_id,
                groups=identity.groups,
                roles=identity.roles,
                protocol=protocol,
                simple_mode=_simple_mode(query) if protocol is None else SimpleMode(),
            )

    def open_session(
        self,
        hub: str,
        link: Link,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = _protocol.JSON,
        simple_mode: SimpleMode = SimpleMode(),
    ) -> ClientSession:
        """Open a connection whose frames go to ``link`` (no token check: the caller vouches for it)."""
        with self._lock:
            self._sweep()
            session = ClientSession(
                self.service,
                hub,
                link,
                user_id=user_id,
                groups=list(groups),
                roles=list(roles),
                protocol=protocol,
                simple_mode=simple_mode,
                clock=self.options.clock,
                reconnection_token=self._reconnection_token,
                on_detach=self._on_detach,
                lock=self._lock,
            )
            if session.reliable:
                self._sessions[session.connection.connection_id] = session
            return session

    def expire_dropped(self) -> None:
        """End the dropped reliable connections whose recovery window (30 s on the fake's clock) is over.

        Every REST call and connect does this first; call it after moving a frozen clock to see the effect.
        """
        with self._lock:
            self._sweep()

    @property
    def connections(self) -> list[FakeClientConnection]:
        """Every simulated client that is still open, in the order they connected."""
        return [client for client in self._clients if client.is_open]

    def _track(self, client: FakeClientConnection) -> FakeClientConnection:
        self._clients.append(client)
        return client

    def _reconnection_token(self, connection_id: str) -> str:
        digest = hmac.new(self.access_key.encode(), f"reconnect:{connection_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def _on_detach(self, session: ClientSession) -> None:
        self._detached[session.connection.connection_id] = session

    def _sweep(self) -> None:
        if not self._detached:
            return
        deadline = self.options.clock() - RECOVERY_WINDOW_SECONDS
        for key, session in list(self._detached.items()):
            if session.detached_at is None or not session.is_open:
                del self._detached[key]
            elif session.detached_at < deadline:  # kept for at least the window
                del self._detached[key]
                session.expire()

    def _recover_session(self, query: dict[str, str], link: Link) -> ClientSession:
        connection_id = query["awps_connection_id"]
        token = query.get("awps_reconnection_token", "")
        session = self._sessions.get(connection_id)
        if session is None or not hmac.compare_digest(token, self._reconnection_token(connection_id)):
            link.end(CLOSE_POLICY_VIOLATION, "The connection cannot be recovered.")
            raise RecoveryFailed(connection_id)
        self._detached.pop(connection_id, None)
        session.recover(link)
        return session

    def _recover_client(self, client: FakeClientConnection) -> None:
        session = client.session
        if not session.reliable or session.link is not None:
            raise RuntimeError(f"{client!r} is not a dropped reliable connection; nothing to recover")
        query = {
            "awps_connection_id": session.connection.connection_id,
            "awps_reconnection_token": session.reconnection_token or "",
        }
        with self._lock:
            self._sweep()
            self._recover_session(query, client)

    # -- the log ----------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every data message delivered to any connection, in delivery order."""
        return self._log.deliveries

    @property
    def lifecycle(self) -> tuple[LifecycleEvent, ...]:
        """Every connection opened or closed, in order."""
        return self._log.events

    # -- the app's event handler (upstream) --------------------------------------------------------------

    @functools.cached_property
    def _upstream(self) -> Upstream:
        """The upstream side, built on first use; the gateway and the sessions call it."""
        return Upstream(host=self.host, access_keys=[self.access_key], clock=self.options.clock)

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
        upstream = self._upstream
        if self.active and upstream.close not in self._undo:
            self._undo.append(upstream.close)  # stops its event loop and HTTP client with the fake
        return upstream.add_handler(
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


class _ForgetClosed:
    """Keeps the index of recoverable sessions free of closed connections."""

    def __init__(self, sessions: dict[str, ClientSession]) -> None:
        self._sessions = sessions

    def on_open(self, connection: Connection) -> None:
        pass

    def on_deliveries(self, deliveries: list[Delivery]) -> None:
        pass

    def on_close(self, connection: Connection, reason: str | None) -> None:
        self._sessions.pop(connection.connection_id, None)


class RecoveryFailed(Exception):
    """A reliable recovery was refused: the socket was accepted, then closed with 1008."""


def _simple_mode(query: dict[str, str]) -> SimpleMode:
    mode = query.get("webpubsub_mode", "sendEvent")
    if mode == "sendEvent":
        return SimpleMode()
    if mode == "sendToGroup" and query.get("group"):
        return SimpleMode(send_to_group=query["group"], no_echo=query.get("noEcho", "").lower() == "true")
    raise ConnectionRefused(
        f"webpubsub_mode={mode!r} needs one of sendEvent, or sendToGroup with a group", status=400
    )


class ConnectionRefused(Exception):
    """The fake refused a client connection; ``status`` is the HTTP status of the refused upgrade."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(f"pytest-webpubsub: connection refused ({status}): {message}")
        self.status = status
        self.reason = message


def _patch_client_sdk(fake: FakeWebPubSub) -> list[Callable[[], None]]:
    """Route the official client SDK (sync and aio) to ``fake`` when that SDK is installed."""
    try:
        import azure.messaging.webpubsubclient  # noqa: F401
    except ImportError:
        return []
    from ._sdk_async import patch_async_client
    from ._sdk_sync import patch_sync_client

    return [patch_sync_client(fake.host, fake), patch_async_client(fake.host, fake)]


def _set_env(name: str, value: str) -> Callable[[], None]:
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return restore
