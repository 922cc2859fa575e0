"""Frozen, comparable pictures of one hub as the service sees it (for assertions and property tests).

A :class:`HubSnapshot` never changes after it is taken, and two snapshots of an unchanged hub are equal. It holds
plain values only (strings, frozensets, mapping proxies of them), so it is cheap to compare and safe to keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .permissions import Permissions, PermissionSet
    from .service import Connection, Hub

ConnectionState = Literal["open", "dropped"]


@dataclass(frozen=True)
class PermissionSnapshot:
    """One permission kind of one connection: every group, named groups, role patterns, and revoked groups."""

    every_group: bool
    groups: frozenset[str]
    patterns: tuple[str, ...]
    revoked: frozenset[str]

    @classmethod
    def of(cls, permission: PermissionSet) -> PermissionSnapshot:
        return cls(
            permission.every_group,
            frozenset(permission.groups),
            tuple(pattern.pattern for pattern in permission.patterns),
            frozenset(permission.revoked),
        )


@dataclass(frozen=True)
class ConnectionSnapshot:
    """One connection: its user, groups, subprotocol (None: a simple client), permissions and state.

    ``state`` is ``"open"``, or ``"dropped"`` for a reliable connection whose link is down while the service keeps
    it for recovery. ``permissions`` maps ``sendToGroup`` / ``joinLeaveGroup`` to a :class:`PermissionSnapshot`.
    """

    connection_id: str
    user_id: str | None
    groups: frozenset[str]
    protocol: str | None
    permissions: Mapping[str, PermissionSnapshot]
    state: ConnectionState

    @property
    def is_open(self) -> bool:
        """Whether the link is up (a dropped connection still exists on the service)."""
        return self.state == "open"

    def __hash__(self) -> int:
        return hash((self.connection_id, self.user_id, self.groups, self.protocol, self.state))

    def __repr__(self) -> str:
        user = "" if self.user_id is None else f" user={self.user_id!r}"
        groups = f" groups={sorted(self.groups)!r}" if self.groups else ""
        return f"<{self.connection_id}{user}{groups} {self.protocol or 'simple'} {self.state}>"


@dataclass(frozen=True)
class HubSnapshot:
    """One hub: ``groups`` and ``users`` map a name to the ids of its connections; ``connections`` maps an id to a
    :class:`ConnectionSnapshot`. Groups and users exist only while they have connections, as on the service."""

    hub: str
    groups: Mapping[str, frozenset[str]]
    users: Mapping[str, frozenset[str]]
    connections: Mapping[str, ConnectionSnapshot]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HubSnapshot):
            return NotImplemented
        return (self.hub, dict(self.groups), dict(self.users), dict(self.connections)) == (
            other.hub,
            dict(other.groups),
            dict(other.users),
            dict(other.connections),
        )

    def __hash__(self) -> int:
        return hash((self.hub, frozenset(self.groups.items()), frozenset(self.users.items())))

    def __repr__(self) -> str:
        return (
            f"HubSnapshot(hub={self.hub!r}, groups={ {k: sorted(v) for k, v in sorted(self.groups.items())} }, "
            f"users={ {k: sorted(v) for k, v in sorted(self.users.items())} }, "
            f"connections={sorted(self.connections.values(), key=lambda c: c.connection_id)})"
        )


def snapshot_connection(connection: Connection) -> ConnectionSnapshot:
    """The frozen picture of one connection."""
    permissions: Permissions = connection.permissions
    return ConnectionSnapshot(
        connection.connection_id,
        connection.user_id,
        frozenset(connection.groups),
        connection.protocol,
        MappingProxyType({kind: PermissionSnapshot.of(value) for kind, value in permissions.by_kind.items()}),
        "dropped" if connection.dropped else "open",
    )


def snapshot_hub(hub: Hub) -> HubSnapshot:
    """The frozen picture of one hub's state."""
    return HubSnapshot(
        hub.name,
        MappingProxyType({name: frozenset(members) for name, members in sorted(hub.groups.items())}),
        MappingProxyType({name: frozenset(members) for name, members in sorted(hub.users.items())}),
        MappingProxyType({key: snapshot_connection(c) for key, c in sorted(hub.connections.items())}),
    )
