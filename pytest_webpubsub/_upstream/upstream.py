"""The upstream side of one fake: its event handlers per hub, the calls made to them, the connections' state.

Blocking events (``connect``, user events) are called at once and their answers returned. Non-blocking ones
(``connected``, ``disconnected``) are queued and called, in order, by :meth:`Upstream.drain`: the gateway and
the sessions drain after the call that caused them has returned, the next blocking event drains first, and the
fixture drains at teardown. Nothing here holds a lock while an app runs, so an app may call the service back
from any thread.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .._core.model import Message
from .._core.names import HUB_PATTERN
from . import cloudevents
from .apps import AppCaller, AppKind, UpstreamTimeout, detect_kind
from .records import (
    AbuseProtectionError,
    ConnectDecision,
    ConnectEvent,
    ConnectionInfo,
    UpstreamCall,
    UpstreamRequest,
    UpstreamResponse,
    UserEventResult,
)

STATE_HEADER = "ce-connectionState"


@dataclass(frozen=True)
class EventHandler:
    """One event handler setting of a hub: where events go and which ones (``add_event_handler`` returns it)."""

    url_template: str
    hub: str
    user_events: tuple[str, ...] | None
    """Lower-cased names of the user events it gets; None for every one (``"*"``)."""
    system_events: tuple[str, ...]
    app: Any
    app_kind: AppKind

    def subscribes(self, event: str, *, system: bool) -> bool:
        """Whether this handler gets ``event`` (a system event if ``system``); names are case-insensitive."""
        name = event.lower()
        if system:
            return name in self.system_events
        return self.user_events is None or name in self.user_events


def _user_events(pattern: str) -> tuple[str, ...] | None:
    if not isinstance(pattern, str):
        raise TypeError(f"user_events={pattern!r} must be a str: '*', '' (none), 'message' or 'a,b'")
    names = tuple(name.strip().lower() for name in pattern.split(",") if name.strip())
    return None if "*" in names else names


def _system_events(events: Iterable[str] | str) -> tuple[str, ...]:
    names = events.split(",") if isinstance(events, str) else list(events)
    chosen = tuple(name.strip().lower() for name in names if name.strip())
    unknown = [name for name in chosen if name not in cloudevents.SYSTEM_EVENTS]
    if unknown:
        raise ValueError(
            f"system_events: unknown {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(cloudevents.SYSTEM_EVENTS)}"
        )
    return chosen


@dataclass
class UpstreamFault:
    """The next ``times`` calls of ``event`` (``*``: any) fail without reaching the app: ``status``, or a timeout."""

    event: str
    status: Optional[int]
    times: int

    def describe(self) -> str:
        """``upstream message: 500 x1``: for failure messages."""
        kind = "timeout" if self.status is None else str(self.status)
        return f"upstream {self.event}: {kind} x{self.times}"


class Upstream:
    """The event handlers of one fake and every call made to them.

    ``calls`` lists every call in order, the validations included; ``errors`` those whose app raised, timed
    out or could not be reached (the fixture fails the test at teardown when it is not empty).
    """

    def __init__(
        self, *, host: str, access_keys: Sequence[str], clock: Callable[[], float], timeout: float = 10.0
    ) -> None:
        if not access_keys:
            raise ValueError("access_keys must name at least one access key")
        self.host = host
        self.access_keys = tuple(access_keys)
        self._clock = clock
        self._caller = AppCaller(timeout)
        self._lock = threading.RLock()  # guards the lists below; never held while an app runs
        self._handlers: list[EventHandler] = []
        self._states: dict[str, str] = {}
        self._event_ids: dict[str, int] = {}
        self._pending: deque[tuple[str, ConnectionInfo, str | None]] = deque()
        self._draining = False
        self.calls: list[UpstreamCall] = []
        self.errors: list[UpstreamCall] = []
        self.faults: list[UpstreamFault] = []
        """Injected failures not consumed yet (``FakeWebPubSub.inject_upstream_fault``)."""

    @property
    def queued(self) -> int:
        """How many non-blocking events wait for the next :meth:`drain`."""
        return len(self._pending)

    @property
    def timeout(self) -> float:
        """Seconds an app may take to answer (real HTTP calls and in-process ASGI apps)."""
        return self._caller.timeout

    @property
    def handlers(self) -> list[EventHandler]:
        """Every handler added, in order."""
        with self._lock:
            return list(self._handlers)

    # -- configuration ---------------------------------------------------------------------------------

    def add_handler(
        self,
        url_template: str,
        app: Any = None,
        *,
        hub: str,
        user_events: str = "*",
        system_events: Iterable[str] | str = ("connect", "connected", "disconnected"),
        app_kind: Optional[str] = None,
    ) -> EventHandler:
        """Add a handler at the end of ``hub``'s list, after the abuse-protection handshake.

        Raises :class:`AbuseProtectionError` (and adds nothing) unless the handler answers the ``OPTIONS``
        probe with a 2xx and ``WebHook-Allowed-Origin`` ``*`` or this fake's host.
        """
        if not isinstance(hub, str) or not HUB_PATTERN.fullmatch(hub):
            raise ValueError(f"hub={hub!r} must be a hub name: a letter, then up to 127 letters, digits and _`,.[]")
        handler = EventHandler(
            url_template=cloudevents.check_template(url_template),
            hub=hub.lower(),
            user_events=_user_events(user_events),
            system_events=_system_events(system_events),
            app=app,
            app_kind=detect_kind(app, app_kind),
        )
        request = cloudevents.validate_request(url_template, hub, self.host)
        call = self._send(handler, cloudevents.VALIDATE, None, request)
        problem = cloudevents.validation_problem(call.response, self.host)
        if problem is not None:
            detail = f": {call.error.strip().splitlines()[-1]}" if call.error else ""
            raise AbuseProtectionError(
                f"the event handler {request.url} failed the abuse-protection handshake: OPTIONS answered "
                f"{problem}{detail}. Answer OPTIONS with a 2xx and the header WebHook-Allowed-Origin: * "
                f"(or {self.host}).",
                call=call,
            )
        with self._lock:
            self._handlers.append(handler)
        return handler

    def handles(self, hub: str, event: str, *, system: bool = False) -> bool:
        """Whether a handler of ``hub`` subscribes to the user event ``event`` (``system=True``: the system
        event); hub and event names are case-insensitive."""
        return self._handler(hub, event, system=system) is not None

    def _handler(self, hub: str, event: str, *, system: bool) -> EventHandler | None:
        key = hub.lower()
        with self._lock:
            for handler in self._handlers:
                if handler.hub == key and handler.subscribes(event, system=system):
                    return handler
        return None

    # -- events ----------------------------------------------------------------------------------------

    def connect(self, request: ConnectEvent) -> ConnectDecision:
        """The blocking ``connect`` event: call the handler and read its decision (accept when none)."""
        connection = request.connection
        handler = self._handler(connection.hub, "connect", system=True)
        if handler is None:
            return ConnectDecision(True, 200)
        self.drain()
        http = self.build(
            "connect", connection, body=cloudevents.connect_body(request), handler=handler
        )
        call = self._send(handler, "connect", connection, http)
        decision = cloudevents.connect_decision(call, request.subprotocols)
        if decision.accepted:
            self._keep_state(connection.connection_id, call.response)
        else:
            self.forget(connection.connection_id)
        return decision

    def connected(self, connection: ConnectionInfo) -> None:
        """Queue the ``connected`` event (non-blocking): it is sent by the next :meth:`drain`."""
        self._queue("connected", connection, None)

    def disconnected(self, connection: ConnectionInfo, reason: str | None) -> None:
        """Queue the ``disconnected`` event (non-blocking), with the close's reason; the connection's state
        is forgotten once it is sent."""
        self._queue("disconnected", connection, reason)

    def user_event(self, connection: ConnectionInfo, event: str, message: Message) -> UserEventResult:
        """The blocking user event ``event``: call the first handler subscribed to it and read its answer.

        Without one the result is not ok (the sessions keep today's behaviour by asking :meth:`handles` first).
        """
        handler = self._handler(connection.hub, event, system=False)
        if handler is None:
            return UserEventResult(False, error=f"no event handler of hub {connection.hub!r} subscribes to {event!r}")
        self.drain()
        http = self.build(event, connection, message=message, handler=handler)
        call = self._send(handler, event, connection, http)
        result = cloudevents.user_event_result(call)
        self._keep_state(connection.connection_id, call.response)
        return result

    def drain(self) -> None:
        """Send every queued non-blocking event, in order. If another drain is under way (an app called back
        while handling a queued event), that one sends what is queued and this returns at once."""
        with self._lock:
            if self._draining:
                return
            self._draining = True
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._draining = False
                        return
                    event, connection, reason = self._pending.popleft()
                self._send_queued(event, connection, reason)
        except BaseException:
            with self._lock:
                self._draining = False
            raise

    def close(self) -> None:
        """Send what is queued, then stop the event loop of in-process ASGI apps and the HTTP client."""
        try:
            self.drain()
        finally:
            self._caller.close()

    def renewed(self) -> Upstream:
        """A fresh upstream for a reset fake: the same handlers (not validated again: they are configuration)
        and timeout, no calls and no connection state. Failed calls are carried over, so that they still fail
        the test at teardown."""
        fresh = Upstream(host=self.host, access_keys=self.access_keys, clock=self._clock, timeout=self.timeout)
        with self._lock:
            fresh._handlers = list(self._handlers)
            fresh.errors = list(self.errors)
        return fresh

    def error_report(self, hint: str = "") -> str | None:
        """A failure message naming every call in ``errors`` with its error and traceback; None when none failed.

        ``hint`` ends the message (how to allow failures in a test that checks them).
        """
        with self._lock:
            errors = list(self.errors)
        if not errors:
            return None
        lines = [
            f"pytest-webpubsub: {len(errors)} event handler call(s) failed during this test: an exception escaped "
            "the app, or no answer came in time, and the service answered 500:"
        ]
        for call in errors:
            who = f" (connection {call.connection_id}, user {call.user_id})" if call.connection_id else ""
            lines.append(f"- {call.event} event, {call.request.method} {call.request.url}{who}:")
            lines.extend("    " + line for line in (call.error or "").rstrip().splitlines())
        if hint:
            lines.append(hint)
        return "\n".join(lines)

    def forget(self, connection_id: str) -> None:
        """Drop what is kept for a connection (its state and event ids)."""
        with self._lock:
            self._states.pop(connection_id, None)
            self._event_ids.pop(connection_id, None)

    def state(self, connection_id: str) -> str | None:
        """The connection's ``ce-connectionState``, as the last blocking event's answer set it."""
        with self._lock:
            return self._states.get(connection_id)

    # -- building requests -----------------------------------------------------------------------------

    def build(
        self,
        event: str,
        connection: ConnectionInfo,
        *,
        body: bytes = b"",
        message: Message | None = None,
        handler: EventHandler | None = None,
        state: str | None = None,
        event_id: int | None = None,
    ) -> UpstreamRequest:
        """The signed request of one event. A system event's ``body`` is given; a user event's is ``message``.

        The URL is ``handler``'s (or, without one, that of the hub's first handler subscribed to the event,
        else ``http://localhost/``). ``state`` and ``event_id`` default to the connection's own: its
        ``ce-connectionState``, and ``ce-id`` 0 for ``connect``, then 1, 2, ... per connection.
        """
        system = message is None
        with self._lock:
            if event_id is not None:
                pass
            elif system and event == "connect":
                event_id = 0
            else:
                event_id = self._event_ids.get(connection.connection_id, 0) + 1
                self._event_ids[connection.connection_id] = event_id
            current = self._states.get(connection.connection_id) if state is None else state
        if handler is None:
            handler = self._handler(connection.hub, event, system=system)
        url = "http://localhost/"
        if handler is not None:
            url = cloudevents.resolve(handler.url_template, connection.hub, event)
        return cloudevents.event_request(
            url,
            host=self.host,
            access_keys=self.access_keys,
            connection=connection,
            event=event,
            system=system,
            event_id=event_id,
            time=self._clock(),
            state=current,
            content_type=cloudevents.SYSTEM_CONTENT_TYPE if message is None
            else cloudevents.USER_CONTENT_TYPES[message.data_type],
            body=body if message is None else message.payload,
        )

    # -- internals -------------------------------------------------------------------------------------

    def _queue(self, event: str, connection: ConnectionInfo, reason: str | None) -> None:
        if self._handler(connection.hub, event, system=True) is None:
            if event == "disconnected":
                self.forget(connection.connection_id)
            return
        with self._lock:
            self._pending.append((event, connection, reason))

    def _send_queued(self, event: str, connection: ConnectionInfo, reason: str | None) -> None:
        handler = self._handler(connection.hub, event, system=True)
        if handler is not None:
            body = cloudevents.CONNECTED_BODY if event == "connected" else cloudevents.disconnected_body(reason)
            self._send(handler, event, connection, self.build(event, connection, body=body, handler=handler))
        if event == "disconnected":
            self.forget(connection.connection_id)

    def _send(
        self, handler: EventHandler, event: str, connection: ConnectionInfo | None, request: UpstreamRequest
    ) -> UpstreamCall:
        response: UpstreamResponse | None = None
        error: str | None = None
        fault = self._take_fault(event)
        injected = fault is not None
        if fault is not None:  # the app is not called: the test made this call fail
            if fault.status is None:
                error = f"injected fault: {request.method} {request.url} timed out"
            else:
                response = UpstreamResponse(fault.status)
        else:
            try:
                response = self._caller.call(handler.app, handler.app_kind, request)
            except UpstreamTimeout as timeout:
                error = f"UpstreamTimeout: {request.method} {request.url}: {timeout}"
            except Exception:
                error = traceback.format_exc()
        call = UpstreamCall(
            hub=handler.hub,
            event=event,
            connection_id=connection.connection_id if connection is not None else None,
            user_id=connection.user_id if connection is not None else None,
            request=request,
            response=response,
            error=error,
        )
        with self._lock:
            self.calls.append(call)
            if error is not None and not injected:  # an injected failure is what the test asked for
                self.errors.append(call)
        return call

    def inject_fault(self, event: str, *, status: int | None, times: int) -> None:
        """Make the next ``times`` calls of ``event`` (case-insensitive; ``*`` any) fail without calling the app:
        answered with ``status``, or, with None, timed out."""
        with self._lock:
            self.faults.append(UpstreamFault(event.lower(), status, times))

    def _take_fault(self, event: str) -> UpstreamFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.event in ("*", event.lower()):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _keep_state(self, connection_id: str, response: UpstreamResponse | None) -> None:
        if response is None or not 200 <= response.status <= 299 or STATE_HEADER not in response.headers:
            return
        value = response.headers[STATE_HEADER]
        with self._lock:
            if value:
                self._states[connection_id] = value
            else:
                self._states.pop(connection_id, None)


def build_event(
    upstream: Upstream,
    event: str,
    *,
    connection_id: str,
    hub: str,
    user_id: str | None = None,
    data: Any = None,
    data_type: str = "text",
    claims: Mapping[str, Sequence[str] | str] | None = None,
    query: Mapping[str, Sequence[str] | str] | None = None,
    subprotocols: Sequence[str] = (),
    state: str | None = None,
) -> UpstreamRequest:
    """The signed request the service would send for ``event`` (see ``FakeWebPubSub.build_event``)."""
    if not isinstance(event, str) or not event or event.lower() == cloudevents.VALIDATE:
        raise ValueError(f"event={event!r} must be connect, connected, disconnected or a user event's name")
    if not isinstance(connection_id, str) or not connection_id:
        raise ValueError(f"connection_id={connection_id!r} must be a non-empty string")
    subprotocols = [subprotocols] if isinstance(subprotocols, str) else list(subprotocols)
    connection = ConnectionInfo(hub, connection_id, user_id, subprotocols[0] if subprotocols else None)
    system = event in cloudevents.SYSTEM_EVENTS
    event_id = 0 if event == "connect" else 1
    if system and data is not None and event != "disconnected":
        raise ValueError(f"data is the user event's payload or the disconnected reason; {event} has none")
    if not system and (claims is not None or query is not None):
        raise ValueError("claims and query belong to the connect event")
    if event == "connect":
        body = cloudevents.connect_body(
            ConnectEvent(connection, claims=dict(claims or {}), query=dict(query or {}), subprotocols=subprotocols)
        )
    elif event == "connected":
        body = cloudevents.CONNECTED_BODY
    elif event == "disconnected":
        body = cloudevents.disconnected_body(data)
    else:
        message = cloudevents.to_message(data, data_type)
        return upstream.build(event, connection, message=message, state=state, event_id=event_id)
    return upstream.build(event, connection, body=body, state=state, event_id=event_id)

