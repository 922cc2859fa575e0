"""Roles and REST permission operations, seen through client actions (service-behaviour §4)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub.clients import FakeClientConnection

from .support import HUB, ack, connected, group_message, request

JOIN, SEND = "joinLeaveGroup", "sendToGroup"


def forbidden(ack_id: int, verb: str, group: str) -> str:
    return ack(ack_id, "Forbidden", f"The client does not have permission to {verb} group '{group}'.")


def can_join(client: FakeClientConnection, group: str) -> bool:
    """Join then leave ``group`` with acks; both must agree (join and leave share one permission)."""
    joined = client.join_group(group, ack_id=_next_id(client))
    left = client.leave_group(group, ack_id=_next_id(client))
    assert joined.success == left.success, (joined, left)
    if not joined.success:
        assert (joined.error_name, joined.error_message) == (
            "Forbidden", f"The client does not have permission to join group '{group}'.")
        assert (left.error_name, left.error_message) == (
            "Forbidden", f"The client does not have permission to leave group '{group}'.")
    return joined.success


def can_send(client: FakeClientConnection, group: str) -> bool:
    sent = client.send_to_group(group, "x", ack_id=_next_id(client))
    if not sent.success:
        assert (sent.error_name, sent.error_message) == (
            "Forbidden", f"The client does not have permission to send to group '{group}'.")
    return sent.success


def _next_id(client: FakeClientConnection) -> int:
    return max(client.acks, default=0) + 1


# ------------------------------------------------------------------------------------------------ role forms

ROLE_CASES = [
    # (roles, group, may join/leave, may send)
    ([], "g", False, False),
    (["webpubsub.joinLeaveGroup"], "g", True, False),
    (["webpubsub.joinLeaveGroup"], "any.group with spaces", True, False),
    (["webpubsub.sendToGroup"], "g", False, True),
    (["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], "g", True, True),
    (["webpubsub.joinLeaveGroup.g"], "g", True, False),
    (["webpubsub.joinLeaveGroup.g"], "h", False, False),
    (["webpubsub.joinLeaveGroup.g"], "G", False, False),
    (["webpubsub.joinLeaveGroup.g"], "g2", False, False),
    (["webpubsub.sendToGroup.g"], "g", False, True),
    (["webpubsub.sendToGroup.g"], "h", False, False),
    (["webpubsub.joinLeaveGroup.a.b"], "a.b", True, False),
    (["webpubsub.joinLeaveGroup.a.b"], "a", False, False),
    (["webpubsub.sendToGroup.g", "webpubsub.joinLeaveGroup.h"], "g", False, True),
    (["webpubsub.sendToGroup.g", "webpubsub.joinLeaveGroup.h"], "h", True, False),
    (["webpubsub.joinLeaveGroups.chat-*"], "chat-1", True, False),
    (["webpubsub.sendToGroups.chat-*"], "chat-1", False, True),
    (["webpubsub.sendToGroups.chat-*"], "chat.1", False, False),
    (["webpubsub.joinLeaveGroups.chat-*", "webpubsub.sendToGroup.exact"], "exact", False, True),
    (["webpubsub.joinLeaveGroups.chat-*", "webpubsub.sendToGroup.exact"], "chat-x", True, False),
    # not roles of the service
    (["webpubsub.JoinLeaveGroup"], "g", False, False),
    (["joinLeaveGroup"], "g", False, False),
    (["webpubsub.sendToGroupX"], "g", False, False),
    (["admin"], "g", False, False),
]


@pytest.mark.parametrize(("roles", "group", "join", "send"), ROLE_CASES)
def test_roles_decide_what_a_client_may_do(
    webpubsub: FakeWebPubSub, roles: list[str], group: str, join: bool, send: bool
) -> None:
    client = webpubsub.connect(HUB, user_id="u", roles=roles)
    assert (can_join(client, group), can_send(client, group)) == (join, send)
    sdk = webpubsub.service_client(HUB)
    assert sdk.has_permission(JOIN, client.connection_id, target_name=group) is join
    assert sdk.has_permission(SEND, client.connection_id, target_name=group) is send


def test_forbidden_acks_are_exact(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", groups=["g"])
    client.send_frame(request(type="joinGroup", group="g", ackId=1))
    client.send_frame(request(type="leaveGroup", group="g", ackId=2))
    client.send_frame(request(type="sendToGroup", group="g", dataType="text", data="x", ackId=3))
    assert client.frames == [
        connected(client), forbidden(1, "join", "g"), forbidden(2, "leave", "g"), forbidden(3, "send to", "g")
    ]
    assert client.groups == {"g"}, "a forbidden leave does not leave"


# from the wildcard roles documentation's examples, then the edges of the syntax
PATTERN_CASES = [
    ("chat-*", "chat-1", True),
    ("chat-*", "chat-room", True),
    ("chat-*", "chat-", True),
    ("chat-*", "chat.1", False),
    ("chat-*", "xchat-1", False),
    ("chat-*", "Chat-1", False),
    ("clientA.*", "clientA.alpha", True),
    ("clientA.*", "clientA.1", True),
    ("clientA.*", "clientA.alpha.room1", False),
    ("clientA.*", "clientB.alpha", False),
    ("clientA.**", "clientA.alpha", True),
    ("clientA.**", "clientA.alpha.room1", True),
    ("clientA.**", "clientB.anything", False),
    ("clientA.rooms.?1", "clientA.rooms.a1", True),
    ("clientA.rooms.?1", "clientA.rooms.11", True),
    ("clientA.rooms.?1", "clientA.rooms.1", False),
    ("clientA.rooms.?1", "clientA.rooms.a.1", False),
    ("literal\\*star", "literal*star", True),
    ("literal\\*star", "literalXstar", False),
    ("project\\*123", "project*123", True),
    ("what\\?", "what?", True),
    ("what\\?", "whats", False),
    ("back\\\\slash", "back\\slash", True),
    ("?", "a", True),
    ("?", ".", False),
    ("?", "ab", False),
    ("**", "a.b.c", True),
    ("a*b*c*d*e*", "aXbcdeYY", True),
    ("a*b*c*d*e*f*", "abcdef", False),
    ("**.**.*", "x.y.z", True),
    ("**.**.**", "x.y.z", False),
    ("a\\*\\*\\*\\*\\*\\*", "a******", True),
    ("x.*", "x.", True),
]


@pytest.mark.parametrize("kind", ["joinLeaveGroups", "sendToGroups"])
@pytest.mark.parametrize(("pattern", "group", "allowed"), PATTERN_CASES)
def test_wildcard_roles(webpubsub: FakeWebPubSub, kind: str, pattern: str, group: str, allowed: bool) -> None:
    client = webpubsub.connect(HUB, roles=[f"webpubsub.{kind}.{pattern}"])
    check = can_join if kind == "joinLeaveGroups" else can_send
    other = can_send if kind == "joinLeaveGroups" else can_join
    assert check(client, group) is allowed
    assert other(client, group) is False


def test_a_pattern_with_six_stars_grants_nothing_but_does_not_disturb_other_roles(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=["webpubsub.joinLeaveGroups.******", "webpubsub.joinLeaveGroups.ok*"])
    assert can_join(client, "abc") is False
    assert can_join(client, "okay") is True


@pytest.mark.parametrize(
    ("roles", "allowed", "denied"),
    [
        (["webpubsub.joinLeaveGroup"], ["g", "h"], []),
        (["webpubsub.joinLeaveGroup.g"], ["g"], ["h"]),
        (["webpubsub.joinLeaveGroups.team.*"], ["team.a"], ["team.a.b", "teams"]),
        ([], [], ["g"]),
    ],
)
def test_roles_from_a_client_access_token(
    webpubsub: FakeWebPubSub, roles: list[str], allowed: list[str], denied: list[str]
) -> None:
    url = webpubsub.service_client(HUB).get_client_access_token(user_id="u", roles=roles)["url"]
    client = webpubsub.connect_url(url)
    assert [can_join(client, group) for group in allowed + denied] == [True] * len(allowed) + [False] * len(denied)


def test_a_single_role_token_from_the_service_endpoint(webpubsub: FakeWebPubSub) -> None:
    sdk = webpubsub.service_client(HUB)
    url = sdk.get_client_access_token(roles=["webpubsub.sendToGroup.g"], groups=["g"])["url"]
    client = webpubsub.connect_url(url)
    assert client.groups == {"g"}
    assert (can_send(client, "g"), can_send(client, "h")) == (True, False)


# ------------------------------------------------------------------------------------------------ REST grant/revoke


@pytest.mark.parametrize("kind", [JOIN, SEND])
def test_a_grant_enables_the_client_action_for_that_group_only(webpubsub: FakeWebPubSub, kind: str) -> None:
    check = can_join if kind == JOIN else can_send
    client = webpubsub.connect(HUB)
    sdk = webpubsub.service_client(HUB)
    assert check(client, "g") is False
    sdk.grant_permission(kind, client.connection_id, target_name="g")
    assert sdk.has_permission(kind, client.connection_id, target_name="g") is True
    assert (check(client, "g"), check(client, "h")) == (True, False)
    other = can_send if kind == JOIN else can_join
    assert other(client, "g") is False


@pytest.mark.parametrize(
    "roles", [["webpubsub.joinLeaveGroup"], ["webpubsub.joinLeaveGroup.g"], ["webpubsub.joinLeaveGroups.*"]],
    ids=["all_groups", "literal", "pattern"],
)
def test_a_revoke_denies_even_where_a_role_allows(webpubsub: FakeWebPubSub, roles: list[str]) -> None:
    client = webpubsub.connect(HUB, roles=roles)
    sdk = webpubsub.service_client(HUB)
    sdk.revoke_permission(JOIN, client.connection_id, target_name="g")
    assert sdk.has_permission(JOIN, client.connection_id, target_name="g") is False
    assert can_join(client, "g") is False
    sdk.grant_permission(JOIN, client.connection_id, target_name="g")
    assert can_join(client, "g") is True


def test_a_revoke_of_one_group_leaves_the_others(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=["webpubsub.sendToGroup"])
    sdk = webpubsub.service_client(HUB)
    sdk.revoke_permission(SEND, client.connection_id, target_name="g")
    assert (can_send(client, "g"), can_send(client, "h")) == (False, True)
    assert (sdk.has_permission(SEND, client.connection_id, target_name="g"),
            sdk.has_permission(SEND, client.connection_id, target_name="h")) == (False, True)


def test_a_revoke_touches_only_its_own_permission(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, roles=["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"])
    webpubsub.service_client(HUB).revoke_permission(SEND, client.connection_id, target_name="g")
    assert (can_join(client, "g"), can_send(client, "g")) == (True, False)


def test_revoking_never_removes_membership(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u", roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    client.join_group("g", ack_id=1)
    sdk = webpubsub.service_client(HUB)
    sdk.revoke_permission(JOIN, client.connection_id, target_name="g")
    sdk.revoke_permission(SEND, client.connection_id, target_name="g")
    assert client.groups == {"g"}
    assert sdk.group_exists("g") is True
    sdk.send_to_group("g", "still here", content_type="text/plain")
    client.send_frame(request(type="leaveGroup", group="g", ackId=2))
    assert client.frames[1:] == [ack(1), group_message("g", "text", "still here"), forbidden(2, "leave", "g")]
    assert client.groups == {"g"}


def test_rest_group_operations_ignore_client_permissions(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB, user_id="u")
    sdk = webpubsub.service_client(HUB)
    sdk.revoke_permission(JOIN, client.connection_id, target_name="g")
    sdk.add_connection_to_group("g", client.connection_id)
    sdk.send_to_group("g", "in", content_type="text/plain")
    sdk.remove_connection_from_group("g", client.connection_id)
    sdk.send_to_group("g", "out", content_type="text/plain")
    sdk.add_user_to_group("h", "u")
    sdk.send_to_group("h", "user", content_type="text/plain")
    assert [(m.data, m.group) for m in client.received] == [("in", "g"), ("user", "h")]
    assert client.groups == {"h"}


def test_rest_sends_need_no_permission_and_grants_do_not_make_members(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB)
    sdk = webpubsub.service_client(HUB)
    sdk.grant_permission(JOIN, client.connection_id, target_name="g")
    sdk.send_to_group("g", "x", content_type="text/plain")
    assert client.groups == set()
    assert client.received == []


def test_a_grant_without_target_allows_every_group(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect(HUB)
    sdk = webpubsub.service_client(HUB)
    sdk.grant_permission(SEND, client.connection_id)
    assert sdk.has_permission(SEND, client.connection_id) is True
    assert (can_send(client, "a"), can_send(client, "b.c")) == (True, True)


def test_permissions_are_per_connection(webpubsub: FakeWebPubSub) -> None:
    first = webpubsub.connect(HUB, user_id="u")
    second = webpubsub.connect(HUB, user_id="u")
    webpubsub.service_client(HUB).grant_permission(JOIN, first.connection_id, target_name="g")
    assert (can_join(first, "g"), can_join(second, "g")) == (True, False)


def test_permission_operations_on_unknown_connections(webpubsub: FakeWebPubSub) -> None:
    sdk = webpubsub.service_client(HUB)
    client = webpubsub.connect(HUB)
    client.close()
    with pytest.raises(ResourceNotFoundError):
        sdk.grant_permission(JOIN, client.connection_id, target_name="g")
    assert sdk.has_permission(JOIN, client.connection_id, target_name="g") is False
    assert sdk.revoke_permission(JOIN, client.connection_id, target_name="g") is None
    assert [(c.operation, c.status_code) for c in webpubsub.rest_calls] == [
        ("grant_permission", 404), ("has_permission", 404), ("revoke_permission", 204)
    ]
