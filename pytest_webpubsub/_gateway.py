"""The connection gateway: where client connections of one fake come and go.

Every link (simulated clients, the client-SDK adapters, raw WebSocket libraries, a live server) opens its
connection here: :meth:`Gateway.handshake` is the WebSocket upgrade of a client access URL (token check, simple-mode
query parameters, subprotocol selection, recovery of a dropped reliable connection), :meth:`Gateway.open_session`
opens one without a token. The gateway keeps the index of recoverable sessions, ends dropped ones whose recovery
window is over, and derives reconnection tokens. It never does I/O: links are in-memory objects.

It also raises the connection's events for the app's event handler (:class:`~._upstream.Upstream`): the blocking
``connect`` between the token check and the opening (no lock is held while the app answers, and the connection id
it is told is the one the connection keeps), then ``connected``, and ``disconnected`` once when an opened connection
ends. Those two are queued under the lock and sent by :meth:`Gateway.drain` once no lock is held.

Layering: facade → adapters → gateway → sessions → core. Nothing here imports the facade or an adapter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional
from urllib.parse import parse_qs, parse_qsl, urlsplit

from . import _protocol
from ._core import names
from ._core.clock import Clock
from ._core.errors import BadRequestError, UnauthorizedError
from ._core.service import Connection, WebPubSubService
from ._hosts import normalise_host
from ._protocol import ClientProtocol
from ._session import CLOSE_POLICY_VIOLATION, RECOVERY_WINDOW_SECONDS, ClientSession, Link, SimpleMode, holds_lock
from ._tokens import verify_client_url
from ._upstream import ConnectEvent, ConnectionInfo, Upstream
from ._upstream.cloudevents import claim_values


class ConnectionRefused(Exception):
    """The fake refused a client connection; ``status`` is the HTTP status of the refused upgrade.

    ``reason`` says why (for a 401: which token check failed).
    """

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(f"pytest-webpubsub: connection refused ({status}): {reason}")
        self.status = status
        self.reason = reason


ConnectionRefused.__module__ = "pytest_webpubsub"


class RecoveryFailed(Exception):
    """A reliable recovery was refused: the socket was accepted, then closed with 1008."""


class Handshake(NamedTuple):
    """What a WebSocket upgrade decided: the session opened (or recovered) and the protocol selected.

    ``session`` is None when a recovery failed: the upgrade was accepted and the link already ended with 1008.
    """

    session: Optional[ClientSession]
    protocol: ClientProtocol


class Gateway:
    """The connection side of one fake service (see the module docstring)."""

    def __init__(
        self,
        service: WebPubSubService,
        *,
        endpoint: str,
        access_keys: Sequence[str],
        clock: Clock,
        lock: threading.RLock,
        upstream: Upstream | None = None,
    ) -> None:
        self.service = service
        self.lock = lock
        self.upstream = upstream
        self._opened: dict[str, ConnectionInfo] = {}  # connections whose connect succeeded, until they end
        self._host = normalise_host(endpoint)
        self._keys = tuple(access_keys)
        self._clock = clock
        self._recoverable: dict[str, ClientSession] = {}  # open reliable sessions by connection id
        self._detached: dict[str, ClientSession] = {}  # dropped reliable sessions waiting for recovery

    # -- opening -----------------------------------------------------------------------------------------

    def handshake(
        self,
        url: str,
        link: Link,
        *,
        offered: Sequence[str] = (),
        authorization: Optional[str] = None,
    ) -> Handshake:
        """The WebSocket upgrade of ``url`` with the subprotocols the client ``offered``.

        Raises :class:`ConnectionRefused` where the service refuses the upgrade (bad URL 400, foreign host 404, token
        401). A recovery (``awps_connection_id`` in the query) that fails is accepted and then closed with 1008
        through ``link.end``, as the service does: the result's ``session`` is then None.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss", "http", "https"):
            raise ConnectionRefused(f"{url!r} is not a WebSocket URL", status=400)
        if normalise_host(url) != self._host:
            raise ConnectionRefused(f"{parts.netloc!r} is not this fake's host {self._host!r}", status=404)
        protocol = _protocol.select(offered)
        query = dict(parse_qsl(parts.query))
        try:
            with self.lock:
                self._sweep()
                if "awps_connection_id" in query:
                    recovered = self._recover(
                        query["awps_connection_id"], query.get("awps_reconnection_token", ""), link
                    )
                    return Handshake(recovered, protocol if recovered is None else recovered.protocol)
                try:
                    identity = verify_client_url(url, keys=self._keys, now=self._clock(), authorization=authorization)
                except UnauthorizedError as refused:
                    raise ConnectionRefused(refused.message, status=401) from None
                simple_mode = _simple_mode(query) if not protocol.framed else SimpleMode()
        finally:
            self.drain()
        session = self._open(
            identity.hub,
            link,
            user_id=identity.user_id,
            groups=identity.groups,
            roles=identity.roles,
            protocol=protocol,
            simple_mode=simple_mode,
            offered=offered,
            claims=claim_values(identity.claims),
            query=parse_qs(parts.query, keep_blank_values=True),
        )
        return Handshake(session, session.protocol)

    def open_session(
        self,
        hub: str,
        link: Link,
        *,
        user_id: Optional[str] = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: ClientProtocol = _protocol.JSON_V1,
        simple_mode: SimpleMode = SimpleMode(),
    ) -> ClientSession:
        """Open a connection whose frames go to ``link``, with no token check (the caller vouches for it).

        ``user_id``, ``roles`` and ``groups`` stand for the claims ``sub``, ``role`` and ``webpubsub.group`` of a
        token, and ``protocol`` for the subprotocol the client offered, in the ``connect`` event.
        An invalid hub or group name is refused like the service's upgrade: :class:`ConnectionRefused` with 400;
        the event handler's refusal of ``connect``: :class:`ConnectionRefused` with its status.
        """
        groups, roles = list(groups), list(roles)
        claims: dict[str, list[str]] = {}
        if user_id:
            claims["sub"] = [user_id]
        if roles:
            claims["role"] = roles
        if groups:
            claims["webpubsub.group"] = groups
        return self._open(
            hub,
            link,
            user_id=user_id,
            groups=groups,
            roles=roles,
            protocol=protocol,
            simple_mode=simple_mode,
            offered=[protocol.name] if protocol.name else [],
            claims=claims,
            query={},
        )

    def _open(
        self,
        hub: str,
        link: Link,
        *,
        user_id: Optional[str],
        groups: Sequence[str],
        roles: Sequence[str],
        protocol: ClientProtocol,
        simple_mode: SimpleMode,
        offered: Sequence[str],
        claims: dict[str, list[str]],
        query: dict[str, list[str]],
    ) -> ClientSession:
        """Check the names, allocate the id, ask the app (``connect``, no lock held), then open the session."""
        try:
            with self.lock:
                self._sweep()
                try:
                    names.check_hub(hub)
                    for group in groups:
                        names.check_group(group)
                except BadRequestError as invalid:
                    raise ConnectionRefused(invalid.message, status=400) from None
                connection_id = self.service.new_connection_id()
        finally:
            self.drain()
        subprotocol = protocol.name
        upstream = self.upstream
        if upstream is not None and upstream.handles(hub, "connect", system=True):
            event = ConnectEvent(
                ConnectionInfo(hub, connection_id, user_id or None, protocol.name),
                claims=claims,
                query=query,
                subprotocols=list(offered),
            )
            decision = upstream.connect(event)
            if not decision.accepted:
                raise ConnectionRefused(decision.reason or "the connect event handler refused", status=decision.status)
            if decision.user_id is not None:
                user_id = decision.user_id
            if decision.groups is not None:
                groups = list(decision.groups)
            if decision.roles is not None:
                roles = list(decision.roles)
            if decision.subprotocol is not None:
                protocol = _protocol.select([decision.subprotocol])
                subprotocol = decision.subprotocol
                if not protocol.framed:
                    simple_mode = SimpleMode()  # a custom subprotocol: a simple client in sendEvent mode
            status = 500  # the app accepted: a name the service cannot use is the app's failure
        else:
            status = 400
        try:
            with self.lock:
                self._sweep()
                try:
                    session = ClientSession(
                        self.service,
                        hub,
                        link,
                        user_id=user_id,
                        groups=list(groups),
                        roles=list(roles),
                        protocol=protocol,
                        simple_mode=simple_mode,
                        clock=self._clock,
                        reconnection_token=self.reconnection_token,
                        on_detach=self._on_detach,
                        lock=self.lock,
                        upstream=upstream,
                        connection_id=connection_id,
                        subprotocol=subprotocol,
                    )
                except BadRequestError as invalid:
                    if upstream is not None:
                        upstream.forget(connection_id)
                    raise ConnectionRefused(invalid.message, status=status) from None
                if session.reliable:
                    self._recoverable[connection_id] = session
                if upstream is not None and session.is_open:
                    self._opened[connection_id] = session.info
                    upstream.connected(session.info)
                return session
        finally:
            self.drain()

    def recover(self, session: ClientSession, link: Link) -> None:
        """Reconnect a dropped reliable ``session`` on ``link`` with its id and reconnection token.

        Raises :class:`RecoveryFailed` (after ending ``link`` with 1008) when the service no longer has it.
        """
        try:
            with self.lock:
                self._sweep()
                recovered = self._recover(session.connection.connection_id, session.reconnection_token or "", link)
                if recovered is None:
                    raise RecoveryFailed(session.connection.connection_id)
        finally:
            self.drain()

    # -- time --------------------------------------------------------------------------------------------

    def expire_dropped(self) -> None:
        """End the dropped reliable connections whose recovery window is over (on the fake's clock)."""
        if not self._detached:  # the common case, on every REST call: nothing to lock for
            return
        with self.lock:
            self._sweep()
        self.drain()

    def drain(self) -> None:
        """Send the queued ``connected`` / ``disconnected`` events, unless this thread holds the service lock
        (then the outermost call that released it sends them: an app must never run under the lock)."""
        upstream = self.upstream
        if upstream is not None and upstream.queued and not holds_lock(self.lock):  # most calls queue nothing
            upstream.drain()

    def reconnection_token(self, connection_id: str) -> str:
        """The token a reliable client presents to recover ``connection_id`` (derived from the access key)."""
        digest = hmac.new(self._keys[0].encode(), f"reconnect:{connection_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    # -- the service's listener --------------------------------------------------------------------------

    def on_open(self, connection: Connection) -> None:
        pass

    def on_send(self, send: object, recipients: object) -> None:
        pass

    def on_close(self, connection: Connection, reason: Optional[str]) -> None:
        """A closed connection can no longer be recovered; ``disconnected`` is queued (once) with the reason."""
        self._recoverable.pop(connection.connection_id, None)
        self._detached.pop(connection.connection_id, None)
        info = self._opened.pop(connection.connection_id, None)
        if info is not None and self.upstream is not None:
            self.upstream.disconnected(info, reason)

    # -- internals ---------------------------------------------------------------------------------------

    def _on_detach(self, session: ClientSession) -> None:
        self._detached[session.connection.connection_id] = session

    def _sweep(self) -> None:
        if not self._detached:
            return
        deadline = self._clock() - RECOVERY_WINDOW_SECONDS
        for key, session in list(self._detached.items()):
            if session.detached_at is None or not session.is_open:
                del self._detached[key]
            elif session.detached_at < deadline:  # kept for at least the window
                del self._detached[key]
                session.expire()

    def _recover(self, connection_id: str, token: str, link: Link) -> Optional[ClientSession]:
        session = self._recoverable.get(connection_id)
        expected = self.reconnection_token(connection_id).encode()
        if session is None or not hmac.compare_digest(token.encode("utf-8", "replace"), expected):
            link.end(CLOSE_POLICY_VIOLATION, "The connection cannot be recovered.")
            return None
        self._detached.pop(connection_id, None)
        session.recover(link)
        return session


def _simple_mode(query: dict[str, str]) -> SimpleMode:
    mode = query.get("webpubsub_mode", "sendEvent")
    if mode == "sendEvent":
        return SimpleMode()
    if mode == "sendToGroup" and query.get("group"):
        return SimpleMode(send_to_group=query["group"], no_echo=query.get("noEcho", "").lower() == "true")
    raise ConnectionRefused(f"webpubsub_mode={mode!r} needs one of sendEvent, or sendToGroup with a group", status=400)

