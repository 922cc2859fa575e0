"""Roles, wildcard group patterns and REST grants of one connection (service-behaviour §4)."""

from __future__ import annotations

import pytest

from pytest_webpubsub._core.permissions import (
    JOIN_LEAVE,
    MAX_STARS,
    SEND,
    Permissions,
    PermissionSet,
    compile_group_pattern,
)

# ------------------------------------------------------------------------------------------ wildcard patterns

# (pattern, group, matches) — the documented examples first (concept-wildcard-group-roles.md), then edge cases.
PATTERN_CASES = [
    ("chat-*", "chat-1", True),
    ("chat-*", "chat-room", True),
    ("chat-*", "chat-", True),
    ("chat-*", "chat.1", False),
    ("chat-*", "xchat-1", False),
    ("chat-*", "chat-1.x", False),
    ("clientA.*", "clientA.alpha", True),
    ("clientA.*", "clientA.1", True),
    ("clientA.*", "clientA.", True),
    ("clientA.*", "clientA.alpha.room1", False),
    ("clientA.*", "clientB.alpha", False),
    ("clientA.*", "clientA", False),
    ("clientA.**", "clientA.alpha", True),
    ("clientA.**", "clientA.alpha.room1", True),
    ("clientA.**", "clientA.", True),
    ("clientA.**", "clientB.anything", False),
    ("clientA.**", "clientA", False),
    ("clientA.rooms.?1", "clientA.rooms.a1", True),
    ("clientA.rooms.?1", "clientA.rooms.11", True),
    ("clientA.rooms.?1", "clientA.rooms.1", False),
    ("clientA.rooms.?1", "clientA.rooms.a.1", False),
    ("clientA.rooms.?1", "clientA.rooms..1", False),
    ("clientA.rooms.?1", "clientA.rooms.ab1", False),
    ("literal\\*star", "literal*star", True),
    ("literal\\*star", "literalXstar", False),
    ("literal\\*star", "literalstar", False),
    ("project\\*123", "project*123", True),
    ("q\\?", "q?", True),
    ("q\\?", "qx", False),
    ("back\\\\slash", "back\\slash", True),
    ("back\\\\slash", "backslash", False),
    ("back\\\\*", "back\\anything", True),
    ("back\\\\*", "back\\a.b", False),
    ("**", "any.thing.at.all", True),
    ("**", "", True),
    ("*", "no-dots", True),
    ("*", "has.dot", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "aXXbYYc", True),
    ("a*b*c", "aX.bc", False),
    ("?", "x", True),
    ("?", "", False),
    ("?", ".", False),
    ("?", "xy", False),
    ("Case*", "case1", False),
    ("Case*", "Case1", True),
    ("a.b", "a.b", True),
    ("a.b", "axb", False),
    ("(regex)[chars]+$", "(regex)[chars]+$", True),
    ("(regex)[chars]+$", "regex", False),
    ("line*", "line\nbreak", True),
]


@pytest.mark.parametrize(("pattern", "group", "matches"), PATTERN_CASES)
def test_wildcard_pattern_matching(pattern: str, group: str, matches: bool) -> None:
    compiled = compile_group_pattern(pattern)
    assert compiled is not None
    assert bool(compiled.fullmatch(group)) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        "*" * 5,
        "a*b*c*d*e*",
        "a.**.b.**.*",
        "\\*" * 10,
        "x\\**\\**",
    ],
)
def test_patterns_with_at_most_five_wildcard_stars_are_valid(pattern: str) -> None:
    assert MAX_STARS == 5
    assert compile_group_pattern(pattern) is not None


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "*" * 6,
        "a*b*c*d*e*f*",
        "**.**.**",
        "\\\\*" * 6,
        "trailing\\",
        "bad\\escape",
        "\\.",
    ],
    ids=["empty", "six_stars", "six_single_stars", "three_double_stars", "six_stars_after_escaped_backslash",
         "dangling_escape", "escaped_letter", "escaped_dot"],
)
def test_invalid_patterns_compile_to_none(pattern: str) -> None:
    assert compile_group_pattern(pattern) is None


# ------------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("roles", "kind", "group", "allowed"),
    [
        (["webpubsub.joinLeaveGroup"], JOIN_LEAVE, "any", True),
        (["webpubsub.joinLeaveGroup"], JOIN_LEAVE, None, True),
        (["webpubsub.joinLeaveGroup"], SEND, "any", False),
        (["webpubsub.sendToGroup"], SEND, "any", True),
        (["webpubsub.sendToGroup"], JOIN_LEAVE, "any", False),
        (["webpubsub.sendToGroup.g"], SEND, "g", True),
        (["webpubsub.sendToGroup.g"], SEND, "G", False),
        (["webpubsub.sendToGroup.g"], SEND, "h", False),
        (["webpubsub.sendToGroup.g"], SEND, None, False),
        (["webpubsub.joinLeaveGroup.a.b"], JOIN_LEAVE, "a.b", True),
        (["webpubsub.joinLeaveGroup.a.b"], JOIN_LEAVE, "a", False),
        (["webpubsub.joinLeaveGroup.a*"], JOIN_LEAVE, "a*", True),
        (["webpubsub.joinLeaveGroup.a*"], JOIN_LEAVE, "ab", False),
        (["webpubsub.joinLeaveGroups.room-*"], JOIN_LEAVE, "room-1", True),
        (["webpubsub.joinLeaveGroups.room-*"], JOIN_LEAVE, "room-1.x", False),
        (["webpubsub.joinLeaveGroups.room-*"], SEND, "room-1", False),
        (["webpubsub.joinLeaveGroups.room-*"], JOIN_LEAVE, None, False),
        (["webpubsub.sendToGroups.tenant.**"], SEND, "tenant.a.b", True),
        (["webpubsub.sendToGroups.tenant.**"], SEND, "other.a", False),
        (["webpubsub.sendToGroups." + "*" * 6], SEND, "x", False),
        (["webpubsub.sendToGroup.g", "webpubsub.sendToGroups.h*"], SEND, "g", True),
        (["webpubsub.sendToGroup.g", "webpubsub.sendToGroups.h*"], SEND, "hat", True),
        (["webpubsub.sendToGroup.g", "webpubsub.sendToGroups.h*"], SEND, "x", False),
    ],
)
def test_roles_grant_what_they_name(roles: list[str], kind: str, group: str | None, allowed: bool) -> None:
    assert Permissions.from_roles(roles).allows(kind, group) is allowed


@pytest.mark.parametrize(
    "role",
    [
        "admin",
        "",
        "webpubsub",
        "webpubsub.",
        "webpubsub.unknown",
        "webpubsub.unknown.g",
        "webpubsub.joinLeaveGroup.",
        "webpubsub.sendToGroups",
        "webpubsub.sendToGroups.",
        "webpubsub.sendToGroups.bad\\escape",
        "other.sendToGroup",
        "sendToGroup",
        "joinLeaveGroup.g",
        "xwebpubsub.sendToGroup",
    ],
)
def test_unknown_or_malformed_roles_grant_nothing(role: str) -> None:
    permissions = Permissions.from_roles([role])
    for kind in (JOIN_LEAVE, SEND):
        for group in (None, "g", "", "any.thing"):
            assert permissions.allows(kind, group) is False, (kind, group)


def test_unknown_roles_do_not_disturb_known_ones() -> None:
    permissions = Permissions.from_roles(["admin", "webpubsub.sendToGroup.g", "webpubsub.bogus"])
    assert permissions.allows(SEND, "g") is True
    assert permissions.allows(SEND, "h") is False


# ------------------------------------------------------------------------------------------ grant and revoke


def test_grant_of_a_group_allows_only_that_group() -> None:
    permissions = Permissions()
    permissions.grant(SEND, "g")
    assert (permissions.allows(SEND, "g"), permissions.allows(SEND, "h"), permissions.allows(SEND, None)) == (
        True,
        False,
        False,
    )
    assert permissions.allows(JOIN_LEAVE, "g") is False


def test_grant_without_target_allows_every_group_and_lifts_earlier_revokes() -> None:
    permissions = Permissions.from_roles(["webpubsub.sendToGroup"])
    permissions.revoke(SEND, "g")
    assert permissions.allows(SEND, None) is False
    permissions.grant(SEND, None)
    assert (permissions.allows(SEND, "g"), permissions.allows(SEND, None)) == (True, True)


@pytest.mark.parametrize(
    "roles", [["webpubsub.sendToGroup"], ["webpubsub.sendToGroup.g"], ["webpubsub.sendToGroups.*"]]
)
def test_revoke_without_target_removes_role_derived_permissions_too(roles: list[str]) -> None:
    permissions = Permissions.from_roles(roles)
    permissions.revoke(SEND, None)
    assert permissions.allows(SEND, "g") is False
    assert permissions.allows(SEND, None) is False


def test_revoke_of_one_group_denies_it_despite_all_groups_and_pattern_roles() -> None:
    permissions = Permissions.from_roles(["webpubsub.joinLeaveGroup", "webpubsub.joinLeaveGroups.**"])
    permissions.revoke(JOIN_LEAVE, "g")
    assert permissions.allows(JOIN_LEAVE, "g") is False
    assert permissions.allows(JOIN_LEAVE, "h") is True
    assert permissions.allows(JOIN_LEAVE, None) is False
    permissions.grant(JOIN_LEAVE, "g")
    assert permissions.allows(JOIN_LEAVE, "g") is True
    assert permissions.allows(JOIN_LEAVE, None) is True


def test_revoke_only_touches_its_own_kind() -> None:
    permissions = Permissions.from_roles(["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    permissions.revoke(SEND, "g")
    assert permissions.allows(JOIN_LEAVE, "g") is True


def test_permission_set_defaults_deny_everything() -> None:
    empty = PermissionSet()
    assert (empty.allows(None), empty.allows("g")) == (False, False)
