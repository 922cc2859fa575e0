"""Roles and REST grants of one connection, and the check the service makes for a group (service-behaviour §4).

A connection's permission for a group comes from its roles (``webpubsub.joinLeaveGroup``, the ``.<group>``
scoped forms and the ``webpubsub.joinLeaveGroups.<pattern>`` wildcard forms, the same for sendToGroup) and
from REST grants. A REST revoke denies a group even where a role allows it, until it is granted again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Pattern

JOIN_LEAVE = "joinLeaveGroup"
SEND = "sendToGroup"
PERMISSIONS = (JOIN_LEAVE, SEND)
_ROLE_PREFIX = "webpubsub."
_PATTERN_FORMS = {"joinLeaveGroups": JOIN_LEAVE, "sendToGroups": SEND}
MAX_STARS = 5


def compile_group_pattern(pattern: str) -> Pattern[str] | None:
    """Compile a wildcard group pattern; ``None`` when it is not valid (it then grants nothing).

    ``?`` is one character but ``.``, ``*`` any run without ``.``, ``**`` any run, ``\\`` escapes
    ``\\``, ``*`` and ``?``; at most five ``*``.
    """
    if not pattern:
        return None
    out: list[str] = []
    index = stars = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in "\\*?":
                return None
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            stars += 1
            if pattern.startswith("**", index):
                stars += 1
                out.append(".*")
                index += 2
                continue
            out.append(r"[^.]*")
        elif char == "?":
            out.append(r"[^.]")
        else:
            out.append(re.escape(char))
        index += 1
    if stars > MAX_STARS:
        return None
    return re.compile("".join(out), re.DOTALL)


@dataclass
class PermissionSet:
    """What one connection may do for one permission kind."""

    every_group: bool = False
    groups: set[str] = field(default_factory=set)
    patterns: list[Pattern[str]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)

    def allows(self, group: str | None) -> bool:
        """Whether the permission holds for ``group``; ``None`` asks about every group at once."""
        if group is None:
            return self.every_group and not self.revoked
        if group in self.revoked:
            return False
        return self.every_group or group in self.groups or any(p.fullmatch(group) for p in self.patterns)

    def grant(self, group: str | None) -> None:
        if group is None:
            self.every_group = True
            self.revoked.clear()
        else:
            self.revoked.discard(group)
            self.groups.add(group)

    def revoke(self, group: str | None) -> None:
        if group is None:
            self.every_group = False
            self.groups.clear()
            self.patterns.clear()
            self.revoked.clear()
        else:
            self.groups.discard(group)
            self.revoked.add(group)


@dataclass
class Permissions:
    """Both permission kinds of one connection."""

    by_kind: dict[str, PermissionSet] = field(default_factory=lambda: {kind: PermissionSet() for kind in PERMISSIONS})

    @classmethod
    def from_roles(cls, roles: Iterable[str]) -> Permissions:
        """Build the permissions the service derives from role claims. Unknown roles grant nothing."""
        permissions = cls()
        for role in roles:
            if not role.startswith(_ROLE_PREFIX):
                continue
            name, dot, target = role[len(_ROLE_PREFIX) :].partition(".")
            if name in PERMISSIONS and bool(dot) == bool(target):
                permissions.by_kind[name].grant(target or None)
            elif name in _PATTERN_FORMS and target:
                compiled = compile_group_pattern(target)
                if compiled is not None:
                    permissions.by_kind[_PATTERN_FORMS[name]].patterns.append(compiled)
        return permissions

    def allows(self, permission: str, group: str | None) -> bool:
        return self.by_kind[permission].allows(group)

    def grant(self, permission: str, group: str | None) -> None:
        self.by_kind[permission].grant(group)

    def revoke(self, permission: str, group: str | None) -> None:
        self.by_kind[permission].revoke(group)
