"""A reference model of the service's connection state, in plain dicts and sets, for the state machine.

It keeps, per hub key, the open connections (id → user and groups), and, per connection ever opened, the
messages the connection should have received and the close notices its endpoint should have seen. Groups and
users are derived views, so "no empty group or user" holds by construction. The add operations return the
``NotFoundError`` they predict as ``(kind, name)``, or None.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Optional

Expected = tuple[str, str, Optional[str]]
"""One delivery as the model predicts it: (text, source, group)."""

NotFound = Optional[tuple[str, str]]


@dataclass
class ModelConnection:
    hub: str
    user: str | None
    groups: set[str] = field(default_factory=set)


@dataclass
class ReferenceModel:
    hubs: dict[str, dict[str, ModelConnection]] = field(default_factory=dict)
    inbox: dict[str, list[Expected]] = field(default_factory=dict)
    close_notices: dict[str, list[str | None]] = field(default_factory=dict)

    # -- views ------------------------------------------------------------------------------------------

    def connections(self, hub: str) -> dict[str, ModelConnection]:
        return self.hubs.setdefault(hub.lower(), {})

    def groups(self, hub: str) -> dict[str, set[str]]:
        view: dict[str, set[str]] = {}
        for cid, connection in self.connections(hub).items():
            for group in connection.groups:
                view.setdefault(group, set()).add(cid)
        return view

    def users(self, hub: str) -> dict[str, set[str]]:
        view: dict[str, set[str]] = {}
        for cid, connection in self.connections(hub).items():
            if connection.user is not None:
                view.setdefault(connection.user, set()).add(cid)
        return view

    def selected(self, hub: str, user_filter: str | None) -> list[str]:
        """The connections a filter of the form ``userId eq '<user>'`` (or no filter) selects."""
        wanted = None if user_filter is None else user_filter.split("'")[1]
        return [cid for cid, c in self.connections(hub).items() if wanted is None or c.user == wanted]

    # -- lifecycle --------------------------------------------------------------------------------------

    def open(self, hub: str, cid: str, user: str | None, groups: Iterable[str]) -> None:
        self.connections(hub)[cid] = ModelConnection(hub.lower(), user or None, set(groups))
        self.inbox[cid] = []
        self.close_notices[cid] = []

    def close(self, hub: str, ids: Iterable[str], reason: str | None, *, notify: bool = True) -> None:
        for cid in list(ids):
            if self.connections(hub).pop(cid, None) is not None and notify:
                self.close_notices[cid].append(reason)

    def close_all(self, hub: str, excluded: Collection[str], reason: str | None) -> None:
        self.close(hub, [cid for cid in self.connections(hub) if cid not in excluded], reason)

    def close_user(self, hub: str, user: str, excluded: Collection[str], reason: str | None) -> None:
        self.close(hub, self.users(hub).get(user, set()) - set(excluded), reason)

    def close_group(self, hub: str, group: str, excluded: Collection[str], reason: str | None) -> None:
        self.close(hub, self.groups(hub).get(group, set()) - set(excluded), reason)

    # -- membership -------------------------------------------------------------------------------------

    def add_connection_to_group(self, hub: str, group: str, cid: str) -> NotFound:
        if cid not in self.connections(hub):
            return ("Connection", cid)
        self.connections(hub)[cid].groups.add(group)
        return None

    def remove_connection_from_groups(self, hub: str, groups: Iterable[str] | None, cid: str) -> None:
        """Leave ``groups`` (every group when None); unknown connections are ignored."""
        connection = self.connections(hub).get(cid)
        if connection is not None and groups is None:
            connection.groups.clear()
        elif connection is not None:
            connection.groups.difference_update(groups)

    def add_user_to_group(self, hub: str, group: str, user: str) -> NotFound:
        ids = self.users(hub).get(user)
        if not ids:
            return ("User", user)
        for cid in ids:
            self.connections(hub)[cid].groups.add(group)
        return None

    def remove_user_from_groups(self, hub: str, groups: Iterable[str] | None, user: str) -> None:
        for cid in self.users(hub).get(user, set()):
            self.remove_connection_from_groups(hub, groups, cid)

    def add_to_groups(self, hub: str, groups: Iterable[str], user_filter: str | None) -> None:
        for cid in self.selected(hub, user_filter):
            self.connections(hub)[cid].groups.update(groups)

    def remove_from_groups(self, hub: str, groups: Iterable[str], user_filter: str | None) -> None:
        for cid in self.selected(hub, user_filter):
            self.remove_connection_from_groups(hub, groups, cid)

    # -- sends ------------------------------------------------------------------------------------------

    def deliver(
        self, ids: Iterable[str], text: str, *, group: str | None = None, excluded: Collection[str] = ()
    ) -> None:
        for cid in set(ids) - set(excluded):
            self.inbox[cid].append((text, "server" if group is None else "group", group))
