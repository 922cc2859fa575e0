"""The fake Web PubSub service: hubs, connections, groups, users and permissions, as one state machine.

Every REST operation and every client action is a plain method with Python arguments. The service never
performs I/O: it hands each delivery to the connection's :class:`Endpoint` (the simulated client or a live
socket) and reports deliveries, opens and closes to its listeners (the delivery log, the upstream sender).
Groups and users are views over connections: a group exists while it has a member, a user while it has a
live connection (service-behaviour §2.1). Names are checked with :mod:`names` before any state changes.

A hub comes into being when its first connection opens. Operations that name a hub no connection ever opened
read an empty hub and leave no trace: a refused or a no-op request changes nothing, ``hubs()`` included.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from . import names
from .clock import CountingIds, IdFactory
from .errors import BadRequestError, ForbiddenError, NotFoundError
from .filters import Filter, InvalidFilterError, compile_filter
from .model import Message, Send, Source
from .permissions import JOIN_LEAVE, SEND, Permissions
from .snapshot import HubSnapshot, snapshot_hub


class Endpoint(Protocol):
    """The receiving side of one connection (a simulated client, a live socket)."""

    @property
    def deliver(self) -> Callable[[Send], object]:
        """Take one data message, in service order (may be a plain attribute holding any callable).

        Returning ``False`` (exactly) means the message was not delivered (a reliable connection whose buffer
        overflowed, closing it): the service then does not log it. Anything else, ``None`` included, means the
        connection took it. Read once, when the connection opens (:attr:`Connection.deliver`).
        """

    @property
    def inbox(self) -> list[Any] | None:
        """A list the service appends each message to instead of calling :attr:`deliver` (an endpoint that only
        records what it takes), or None. Read once, when the connection opens (:attr:`Connection.inbox`)."""

    def closed(self, reason: str | None) -> None:
        """Learn that the service closed the connection (not called when the client closed it)."""


class ServiceListener(Protocol):
    """Observes the whole service: the delivery log, the upstream event sender."""

    def on_open(self, connection: Connection) -> None: ...

    def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
        """One send and the connections that took it, in delivery order (called once per send that reached
        anyone). ``recipients`` is shared and must not be changed; ``send.to(...)`` makes a :class:`Delivery`."""

    def on_close(self, connection: Connection, reason: str | None) -> None: ...


class Connection:
    """The service's state for one client connection (slotted: fan-out reads ``deliver`` of every recipient)."""

    __slots__ = ("inbox", "deliver", "hub", "connection_id", "user_id", "protocol", "endpoint", "permissions",
                 "groups", "is_open", "dropped")  # what fan-out reads first: in the object's first cache line

    def __init__(
        self,
        hub: str,
        connection_id: str,
        user_id: str | None,
        protocol: str | None,
        endpoint: Endpoint,
        permissions: Permissions,
    ) -> None:
        self.hub = hub
        self.connection_id = connection_id
        self.user_id = user_id
        self.protocol = protocol
        self.endpoint = endpoint
        self.permissions = permissions
        self.groups: dict[str, None] = {}
        self.is_open = True
        self.dropped = False
        """A reliable connection whose link is down while the service keeps it for recovery."""
        self.inbox: list[Any] | None = endpoint.inbox
        """Where fan-out appends this connection's messages, if the endpoint only records them (else None)."""
        self.deliver: Callable[[Send], object] = endpoint.deliver
        """How the service hands this connection a message when it has no :attr:`inbox`. Both are the endpoint's
        as they were at open; an endpoint that changes how it takes messages (a new link) calls :meth:`route`."""

    def route(self, deliver: Callable[[Send], object], inbox: list[Any] | None) -> None:
        """From now on, hand this connection's messages to ``inbox`` (appended) when given, else to ``deliver``."""
        self.inbox = inbox
        self.deliver = deliver

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Connection {self.connection_id} hub={self.hub!r} user={self.user_id!r} {state}>"


@dataclass
class Hub:
    """The connections of one hub, indexed by id, group and user.

    Fan-out reads the whole hub or a group as a tuple made once and kept until that membership changes (the service
    calls :meth:`changed`): a send then copies nothing, and the log keeps the same tuple for every send to an
    unchanged group.
    """

    name: str
    connections: dict[str, Connection] = field(default_factory=dict)
    groups: dict[str, dict[str, Connection]] = field(default_factory=dict)
    users: dict[str, dict[str, Connection]] = field(default_factory=dict)
    _everyone: tuple[Connection, ...] | None = field(default=None, repr=False, compare=False)
    _members: dict[str, tuple[Connection, ...]] = field(default_factory=dict, repr=False, compare=False)

    def everyone(self) -> tuple[Connection, ...]:
        """Every connection of the hub in the order they opened (a tuple shared until one opens or closes)."""
        view = self._everyone
        if view is None:
            view = self._everyone = tuple(self.connections.values())
        return view

    def members(self, group: str) -> tuple[Connection, ...]:
        """The members of ``group`` in the order they joined (a tuple shared until its membership changes)."""
        view = self._members.get(group)
        if view is None:
            members = self.groups.get(group)
            if not members:
                return ()
            view = self._members[group] = tuple(members.values())
        return view

    def changed(self, *, group: str | None = None) -> None:
        """Forget the views a change made stale: ``group``'s membership, or (no group) the set of connections."""
        if group is None:
            self._everyone = None
        else:
            self._members.pop(group, None)


class WebPubSubService:
    """In-memory state of one Web PubSub resource. Hubs are created on first use and keyed case-insensitively."""

    def __init__(self, *, ids: IdFactory | None = None, listeners: Iterable[ServiceListener] = ()) -> None:
        self._ids: IdFactory = ids if ids is not None else CountingIds()
        self._listeners = list(listeners)
        self._hubs: dict[str, Hub] = {}
        self._hub_names: dict[str, Hub] = {}  # every spelling seen, validated once
        self._vacant: dict[str, Hub] = {}  # spellings of hubs no connection opened in yet: validated, empty

    def add_listener(self, listener: ServiceListener) -> None:
        """Observe opens, deliveries and closes from now on (after the listeners already added)."""
        self._listeners.append(listener)

    # -- hubs and lookups -------------------------------------------------------------------------------

    def hub(self, hub: str) -> Hub:
        """Return the state of ``hub`` (validated, case-insensitive), creating it empty on first use."""
        state = self._hub_names.get(hub)
        if state is None:
            key = names.check_hub(hub)
            state = self._hubs.get(key)
            if state is None:
                state = self._hubs[key] = Hub(key)
            self._hub_names[hub] = state
        return state

    def _lookup(self, hub: str) -> Hub:
        """The state of ``hub`` (validated) if a connection ever opened in it, else an empty one the hub table
        does not hold (kept per spelling, at most :data:`_VACANT_SPELLINGS`: operations on an empty hub change
        nothing, they only read it)."""
        state = self._hub_names.get(hub)
        if state is not None:
            return state
        vacant = self._vacant.get(hub)
        key = names.check_hub(hub) if vacant is None else vacant.name
        state = self._hubs.get(key)
        if state is not None:
            self._hub_names[hub] = state
            self._vacant.pop(hub, None)
            return state
        if vacant is None:
            if len(self._vacant) >= _VACANT_SPELLINGS:
                self._vacant.clear()
            vacant = self._vacant[hub] = Hub(key)
        return vacant

    def hubs(self) -> list[Hub]:
        """Every hub a connection opened in (hubs emptied since included)."""
        return list(self._hubs.values())

    def snapshot(self, hub: str) -> HubSnapshot:
        """A frozen, comparable picture of ``hub`` (an unknown hub is empty; looking does not create it)."""
        key = names.check_hub(hub)
        state = self._hubs.get(key)
        return snapshot_hub(state if state is not None else Hub(key))

    def connection_exists(self, hub: str, connection_id: str) -> bool:
        names.check_connection_id(connection_id)
        return connection_id in self._lookup(hub).connections

    def user_exists(self, hub: str, user_id: str) -> bool:
        names.check_user_id(user_id)
        return user_id in self._lookup(hub).users

    def group_exists(self, hub: str, group: str) -> bool:
        names.check_group(group)
        return group in self._lookup(hub).groups

    def group_members(self, hub: str, group: str) -> list[Connection]:
        """The members of ``group`` ordered by connection id (the order paging relies on)."""
        names.check_group(group)
        members = self._lookup(hub).groups.get(group, {})
        return [members[key] for key in sorted(members)]

    # -- connection lifecycle ---------------------------------------------------------------------------

    def open_connection(
        self,
        hub: str,
        endpoint: Endpoint,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = None,
        connection_id: str | None = None,
    ) -> Connection:
        """Accept a new connection, join its initial groups and tell the listeners.

        ``connection_id`` is one :meth:`new_connection_id` allocated before (default: a new one).
        """
        state = self.hub(hub)
        initial_groups = [names.check_group(group) for group in groups]
        connection = Connection(
            hub=state.name,
            connection_id=connection_id or self._ids(),
            user_id=user_id or None,
            protocol=protocol,
            endpoint=endpoint,
            permissions=Permissions.from_roles(roles),
        )
        state.connections[connection.connection_id] = connection
        state.changed()
        if connection.user_id is not None:
            state.users.setdefault(connection.user_id, {})[connection.connection_id] = connection
        for group in initial_groups:
            self._join(state, connection, group)
        for listener in self._listeners:
            listener.on_open(connection)
        return connection

    def new_connection_id(self) -> str:
        """Allocate the id of a connection about to open (the ``connect`` event carries it before it opens)."""
        return self._ids()

    def close_connection(self, hub: str, connection_id: str, *, reason: str | None = None) -> None:
        """Close one connection; unknown ids are ignored, as the service does (204)."""
        names.check_connection_id(connection_id)
        connection = self._lookup(hub).connections.get(connection_id)
        if connection is not None:
            self._close(connection, reason, notify_endpoint=True)

    def close_all(self, hub: str, *, excluded: Collection[str] = (), reason: str | None = None) -> None:
        self._close_many(self._lookup(hub).connections.values(), excluded, reason)

    def close_group(self, hub: str, group: str, *, excluded: Collection[str] = (), reason: str | None = None) -> None:
        names.check_group(group)
        self._close_many(self._lookup(hub).groups.get(group, {}).values(), excluded, reason)

    def close_user(self, hub: str, user_id: str, *, excluded: Collection[str] = (), reason: str | None = None) -> None:
        names.check_user_id(user_id)
        self._close_many(self._lookup(hub).users.get(user_id, {}).values(), excluded, reason)

    def client_closed(self, connection: Connection, reason: str | None = None) -> None:
        """The client side ended the connection: drop it without notifying its own endpoint."""
        if connection.is_open:
            self._close(connection, reason, notify_endpoint=False)

    # -- sends ------------------------------------------------------------------------------------------

    def send_to_all(
        self, hub: str, message: Message, *, excluded: Collection[str] = (), filter: str | None = None
    ) -> None:
        matcher = _compile(filter)
        self._fan_out(self._lookup(hub).everyone(), message, "server", excluded=excluded, matcher=matcher)

    def send_to_user(self, hub: str, user_id: str, message: Message, *, filter: str | None = None) -> None:
        names.check_user_id(user_id)
        matcher = _compile(filter)
        self._fan_out(self._lookup(hub).users.get(user_id, {}).values(), message, "server", matcher=matcher)

    def send_to_group(
        self,
        hub: str,
        group: str,
        message: Message,
        *,
        excluded: Collection[str] = (),
        filter: str | None = None,
        from_user_id: str | None = None,
    ) -> None:
        names.check_group(group)
        matcher = _compile(filter)
        members = self._lookup(hub).members(group)
        self._fan_out(
            members, message, "group", group=group, excluded=excluded, matcher=matcher, from_user_id=from_user_id
        )

    def send_to_connection(self, hub: str, connection_id: str, message: Message) -> None:
        names.check_connection_id(connection_id)
        connection = self._lookup(hub).connections.get(connection_id)
        if connection is not None:
            self._fan_out((connection,), message, "server")

    # -- group membership -------------------------------------------------------------------------------

    def add_connection_to_group(self, hub: str, group: str, connection_id: str) -> None:
        names.check_group(group)
        names.check_connection_id(connection_id)
        state = self._lookup(hub)
        connection = state.connections.get(connection_id)
        if connection is None:
            raise NotFoundError("Connection", connection_id, level="Error")
        self._join(state, connection, group)

    def remove_connection_from_group(self, hub: str, group: str, connection_id: str) -> None:
        names.check_group(group)
        names.check_connection_id(connection_id)
        state = self._lookup(hub)
        connection = state.connections.get(connection_id)
        if connection is not None:
            self._leave(state, connection, group)

    def remove_connection_from_all_groups(self, hub: str, connection_id: str) -> None:
        names.check_connection_id(connection_id)
        state = self._lookup(hub)
        connection = state.connections.get(connection_id)
        if connection is not None:
            for group in list(connection.groups):
                self._leave(state, connection, group)

    def add_user_to_group(self, hub: str, group: str, user_id: str) -> None:
        """Add the user's *current* connections; 404 when the user has none (service-behaviour §10.15)."""
        names.check_group(group)
        names.check_user_id(user_id)
        state = self._lookup(hub)
        connections = state.users.get(user_id)
        if not connections:
            raise NotFoundError("User", user_id)
        for connection in list(connections.values()):
            self._join(state, connection, group)

    def remove_user_from_group(self, hub: str, group: str, user_id: str) -> None:
        names.check_group(group)
        names.check_user_id(user_id)
        state = self._lookup(hub)
        for connection in list(state.users.get(user_id, {}).values()):
            self._leave(state, connection, group)

    def remove_user_from_all_groups(self, hub: str, user_id: str) -> None:
        names.check_user_id(user_id)
        state = self._lookup(hub)
        for connection in list(state.users.get(user_id, {}).values()):
            for group in list(connection.groups):
                self._leave(state, connection, group)

    def add_to_groups(self, hub: str, groups: Iterable[str], *, filter: str | None = None) -> None:
        """``:addToGroups``: add every hub connection the filter selects (all of them without one)."""
        self._bulk(hub, groups, filter, self._join)

    def remove_from_groups(self, hub: str, groups: Iterable[str], *, filter: str | None = None) -> None:
        """``:removeFromGroups``: remove every hub connection the filter selects (all without one)."""
        self._bulk(hub, groups, filter, self._leave)

    def _bulk(
        self, hub: str, groups: Iterable[str], filter: str | None, change: Callable[[Hub, Connection, str], None]
    ) -> None:
        checked = _check_group_list(groups)
        matcher = _compile(filter)
        state = self._lookup(hub)
        for connection in list(state.connections.values()):
            if matcher is None or matcher.matches(_Candidate(connection)):
                for group in checked:
                    change(state, connection, group)

    # -- client actions (checked against the connection's permissions; REST operations never are) ----------

    def join_group_as_client(self, connection: Connection, group: str) -> None:
        """A client's ``joinGroup``: needs joinLeaveGroup permission for ``group``."""
        names.check_group(group)
        if not connection.permissions.allows(JOIN_LEAVE, group):
            raise ForbiddenError(f"The client does not have permission to join group '{group}'.")
        self._join(self._hubs[connection.hub], connection, group)

    def leave_group_as_client(self, connection: Connection, group: str) -> None:
        """A client's ``leaveGroup``: needs joinLeaveGroup permission for ``group``."""
        names.check_group(group)
        if not connection.permissions.allows(JOIN_LEAVE, group):
            raise ForbiddenError(f"The client does not have permission to leave group '{group}'.")
        self._leave(self._hubs[connection.hub], connection, group)

    def send_to_group_as_client(
        self, connection: Connection, group: str, message: Message, *, no_echo: bool = False
    ) -> None:
        """A client's ``sendToGroup``: needs sendToGroup permission; the sender need not be a member."""
        names.check_group(group)
        if not connection.permissions.allows(SEND, group):
            raise ForbiddenError(f"The client does not have permission to send to group '{group}'.")
        members = self._hubs[connection.hub].members(group)
        excluded = (connection.connection_id,) if no_echo else ()
        self._fan_out(members, message, "group", group=group, excluded=excluded, from_user_id=connection.user_id)

    # -- permissions ------------------------------------------------------------------------------------

    def grant_permission(self, hub: str, permission: str, connection_id: str, *, target: str | None = None) -> None:
        self._permission_target(hub, permission, connection_id, target).grant(permission, target)

    def revoke_permission(self, hub: str, permission: str, connection_id: str, *, target: str | None = None) -> None:
        names.check_permission(permission)
        names.check_connection_id(connection_id)
        if target is not None:
            names.check_group(target, parameter="targetName")
        connection = self._lookup(hub).connections.get(connection_id)
        if connection is not None:
            connection.permissions.revoke(permission, target)

    def has_permission(self, hub: str, permission: str, connection_id: str, *, target: str | None = None) -> bool:
        return self._permission_target(hub, permission, connection_id, target).allows(permission, target)

    # -- internals --------------------------------------------------------------------------------------

    def _permission_target(self, hub: str, permission: str, connection_id: str, target: str | None) -> Permissions:
        names.check_permission(permission)
        names.check_connection_id(connection_id)
        if target is not None:
            names.check_group(target, parameter="targetName")
        connection = self._lookup(hub).connections.get(connection_id)
        if connection is None:
            raise NotFoundError("Connection", connection_id, level="Info")
        return connection.permissions

    def _join(self, state: Hub, connection: Connection, group: str) -> None:
        connection.groups[group] = None
        state.groups.setdefault(group, {})[connection.connection_id] = connection
        state.changed(group=group)

    def _leave(self, state: Hub, connection: Connection, group: str) -> None:
        if group in connection.groups:
            del connection.groups[group]
            members = state.groups[group]
            del members[connection.connection_id]
            if not members:
                del state.groups[group]
            state.changed(group=group)

    def _close_many(self, connections: Iterable[Connection], excluded: Collection[str], reason: str | None) -> None:
        skip = set(excluded)
        for connection in [c for c in connections if c.connection_id not in skip]:
            self._close(connection, reason, notify_endpoint=True)

    def _close(self, connection: Connection, reason: str | None, *, notify_endpoint: bool) -> None:
        state = self._hubs[connection.hub]
        for group in list(connection.groups):
            self._leave(state, connection, group)
        del state.connections[connection.connection_id]
        state.changed()
        if connection.user_id is not None:
            peers = state.users[connection.user_id]
            del peers[connection.connection_id]
            if not peers:
                del state.users[connection.user_id]
        connection.is_open = False
        if notify_endpoint:
            connection.endpoint.closed(reason)
        for listener in self._listeners:
            listener.on_close(connection, reason)

    def _fan_out(
        self,
        connections: Iterable[Connection],
        message: Message,
        source: Source,
        *,
        group: str | None = None,
        excluded: Collection[str] = (),
        matcher: Filter | None = None,
        from_user_id: str | None = None,
    ) -> None:
        recipients: Sequence[Connection] = (  # a hub's or a group's view is a tuple already: nothing copied
            connections if isinstance(connections, tuple) else tuple(connections)
        )
        if excluded:
            skip = set(excluded)
            recipients = [connection for connection in recipients if connection.connection_id not in skip]
        if matcher is not None:
            recipients = [connection for connection in recipients if matcher.matches(_Candidate(connection))]
        if not recipients:
            return
        send = Send(recipients[0].hub, message, source, group, from_user_id)
        refused: list[Connection] = []
        for connection in recipients:  # the hot loop: one append or one call per recipient, nothing built
            inbox = connection.inbox
            if inbox is not None:
                inbox.append(send)
            elif connection.deliver(send) is False:  # an overflowing reliable buffer: not delivered
                refused.append(connection)
        if refused:
            recipients = [connection for connection in recipients if connection not in refused]
            if not recipients:
                return
        for listener in self._listeners:
            listener.on_send(send, recipients)


_VACANT_SPELLINGS = 256
"""How many spellings of hubs without connections are kept validated (a hostile run may name thousands)."""


class _Candidate:
    """The view of a connection that OData filters read."""

    __slots__ = ("connection_id", "user_id", "groups")

    def __init__(self, connection: Connection) -> None:
        self.connection_id = connection.connection_id
        self.user_id = connection.user_id
        self.groups = connection.groups.keys()


def _compile(filter: str | None) -> Filter | None:
    if filter is None:
        return None
    try:
        return compile_filter(filter)
    except InvalidFilterError as error:
        raise BadRequestError(str(error), target="filter") from None


def _check_group_list(groups: Iterable[str]) -> list[str]:
    checked = [names.check_group(group, parameter="groups") for group in groups]
    if not checked:
        raise BadRequestError("The request must name at least one group in 'groups'", target="groups")
    return checked
