"""Unit tests of the pure core (service-behaviour §1.3, §1.4, §2, §2.1, §4, §8, §10): ``WebPubSubService`` without HTTP.

Groups and users are derived views over connections; every refused call must leave the state untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import pytest

from pytest_webpubsub._core.errors import BadRequestError, NotFoundError
from pytest_webpubsub._core.log import DeliveryLog
from pytest_webpubsub._core.model import Delivery, Message, Send
from pytest_webpubsub._core.service import Connection, WebPubSubService

TEXT = Message(b"hi", "text")


class Endpoint:
    """Records what the service hands to one connection (the shared record of each send), through ``deliver``."""

    inbox = None

    def __init__(self) -> None:
        self.sends: list[Send] = []
        self.closes: list[str | None] = []

    def deliver(self, send: Send) -> bool:
        self.sends.append(send)
        return True

    def closed(self, reason: str | None) -> None:
        self.closes.append(reason)


@pytest.fixture
def log() -> DeliveryLog:
    return DeliveryLog()


@pytest.fixture
def service(log: DeliveryLog) -> WebPubSubService:
    return WebPubSubService(listeners=[log])


def connect(service: WebPubSubService, hub: str = "hub", **kwargs: Any) -> Connection:
    return service.open_connection(hub, Endpoint(), **kwargs)


def got(connection: Connection) -> list[Delivery]:
    """What ``connection``'s endpoint was handed, as deliveries to it."""
    sends: list[Send] = connection.endpoint.sends  # type: ignore[attr-defined]
    return [send.to(connection.connection_id, connection.user_id) for send in sends]


def receivers(*connections: Connection) -> dict[str, int]:
    """How many deliveries each connection got, keyed by connection id (zeros kept)."""
    return {c.connection_id: len(got(c)) for c in connections}


def snapshot(service: WebPubSubService) -> dict[str, Any]:
    """Everything observable about the state: connections, group and user indexes, memberships, permissions.

    Empty hubs are left out: a hub whose connections all closed stays listed and holds nothing.
    """
    state: dict[str, Any] = {}
    for hub in service.hubs():
        if not (hub.connections or hub.groups or hub.users):
            continue
        state[hub.name] = {
            "connections": {
                cid: (c.user_id, tuple(c.groups), c.is_open, repr(c.permissions)) for cid, c in hub.connections.items()
            },
            "groups": {g: tuple(members) for g, members in hub.groups.items()},
            "users": {u: tuple(conns) for u, conns in hub.users.items()},
        }
    return state


# ------------------------------------------------------------------------------ groups and users are views


def test_group_exists_while_it_has_a_member_and_vanishes_when_the_last_member_leaves(service: WebPubSubService) -> None:
    a = connect(service, groups=["g"])
    b = connect(service)
    service.add_connection_to_group("hub", "g", b.connection_id)
    assert service.group_exists("hub", "g") is True
    service.remove_connection_from_group("hub", "g", a.connection_id)
    assert service.group_exists("hub", "g") is True
    service.remove_connection_from_group("hub", "g", b.connection_id)
    assert service.group_exists("hub", "g") is False
    assert "g" not in service.hub("hub").groups


@pytest.mark.parametrize(
    "close",
    [
        pytest.param(lambda s, c: s.close_connection("hub", c.connection_id), id="close_connection"),
        pytest.param(lambda s, c: s.close_all("hub"), id="close_all"),
        pytest.param(lambda s, c: s.close_group("hub", "g"), id="close_group"),
        pytest.param(lambda s, c: s.close_user("hub", "u"), id="close_user"),
        pytest.param(lambda s, c: s.client_closed(c), id="client_closed"),
        pytest.param(lambda s, c: s.remove_connection_from_all_groups("hub", c.connection_id), id="remove_from_all"),
        pytest.param(lambda s, c: s.remove_user_from_group("hub", "g", "u"), id="remove_user_from_group"),
        pytest.param(lambda s, c: s.remove_user_from_all_groups("hub", "u"), id="remove_user_from_all_groups"),
        pytest.param(lambda s, c: s.remove_from_groups("hub", ["g"]), id="remove_from_groups"),
    ],
)
def test_group_vanishes_when_its_last_member_leaves_or_closes(
    service: WebPubSubService, close: Callable[[WebPubSubService, Connection], None]
) -> None:
    member = connect(service, user_id="u", groups=["g"])
    close(service, member)
    assert service.group_exists("hub", "g") is False
    assert service.group_members("hub", "g") == []
    assert service.hub("hub").groups == {}


def test_user_exists_while_it_has_at_least_one_connection(service: WebPubSubService) -> None:
    assert service.user_exists("hub", "u") is False
    first = connect(service, user_id="u")
    second = connect(service, user_id="u")
    assert service.user_exists("hub", "u") is True
    service.close_connection("hub", first.connection_id)
    assert service.user_exists("hub", "u") is True
    service.client_closed(second)
    assert service.user_exists("hub", "u") is False
    assert service.hub("hub").users == {}


@pytest.mark.parametrize("user_id", [None, ""], ids=["none", "empty"])
def test_connection_without_user_id_is_anonymous_and_creates_no_user(
    service: WebPubSubService, user_id: str | None
) -> None:
    connection = connect(service, user_id=user_id)
    assert connection.user_id is None
    assert service.hub("hub").users == {}


def test_user_is_not_a_group_member_merely_by_existing(service: WebPubSubService) -> None:
    connect(service, user_id="u")
    assert service.group_exists("hub", "u") is False


@pytest.mark.parametrize("spelling", ["chat", "Chat", "CHAT", "cHaT"])
def test_hub_names_are_case_insensitive(service: WebPubSubService, spelling: str) -> None:
    connection = connect(service, "Chat", user_id="u", groups=["g"])
    assert service.connection_exists(spelling, connection.connection_id) is True
    assert service.user_exists(spelling, "u") is True
    assert service.group_exists(spelling, "g") is True
    assert connection.hub == "chat"
    assert [hub.name for hub in service.hubs()] == ["chat"]


def test_send_to_hub_in_another_case_reaches_the_same_connections(service: WebPubSubService) -> None:
    connection = connect(service, "Chat")
    service.send_to_all("CHAT", TEXT)
    assert len(got(connection)) == 1


@pytest.mark.parametrize(("joined", "asked"), [("Group", "group"), ("group", "GROUP"), ("g", "g "), ("g", " g")])
def test_group_names_are_case_and_space_sensitive(service: WebPubSubService, joined: str, asked: str) -> None:
    connect(service, groups=[joined])
    assert service.group_exists("hub", joined) is True
    assert service.group_exists("hub", asked) is False


@pytest.mark.parametrize(("user", "asked"), [("Alice", "alice"), ("alice", "ALICE")])
def test_user_ids_are_case_sensitive(service: WebPubSubService, user: str, asked: str) -> None:
    connection = connect(service, user_id=user)
    assert service.user_exists("hub", asked) is False
    service.send_to_user("hub", asked, TEXT)
    assert got(connection) == []


def test_hubs_are_isolated_from_each_other(service: WebPubSubService) -> None:
    here = connect(service, "one", user_id="u", groups=["g"])
    assert service.connection_exists("two", here.connection_id) is False
    assert service.user_exists("two", "u") is False
    assert service.group_exists("two", "g") is False
    service.send_to_all("two", TEXT)
    service.send_to_group("two", "g", TEXT)
    service.send_to_user("two", "u", TEXT)
    service.close_all("two")
    assert got(here) == []
    assert here.is_open is True


def test_connection_ids_are_unique_and_shaped_like_the_services(service: WebPubSubService) -> None:
    ids = [connect(service).connection_id for _ in range(50)]
    assert len(set(ids)) == 50
    for cid in ids:
        assert len(cid) == 31
        assert set(cid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert cid.endswith("02")


def test_group_members_are_ordered_by_connection_id(service: WebPubSubService) -> None:
    members = [connect(service, groups=["g"]) for _ in range(8)]
    listed = [c.connection_id for c in service.group_members("hub", "g")]
    assert listed == sorted(c.connection_id for c in members)


# ------------------------------------------------------------------------------------------------- sends


def test_send_to_all_reaches_every_connection_of_the_hub_once(service: WebPubSubService) -> None:
    a, b, c = connect(service), connect(service, user_id="u"), connect(service, groups=["g"])
    other = connect(service, "other")
    service.send_to_all("hub", TEXT)
    assert receivers(a, b, c, other) == {
        a.connection_id: 1, b.connection_id: 1, c.connection_id: 1, other.connection_id: 0
    }
    delivery = got(a)[0]
    assert (delivery.source, delivery.group, delivery.from_user_id, delivery.message) == ("server", None, None, TEXT)


def test_send_to_user_reaches_every_connection_of_that_user_regardless_of_groups(service: WebPubSubService) -> None:
    u1 = connect(service, user_id="u")
    u2 = connect(service, user_id="u", groups=["g"])
    u3 = connect(service, user_id="u", groups=["h", "g"])
    v = connect(service, user_id="v", groups=["g"])
    anon = connect(service)
    service.send_to_user("hub", "u", TEXT)
    assert receivers(u1, u2, u3, v, anon) == {
        u1.connection_id: 1, u2.connection_id: 1, u3.connection_id: 1, v.connection_id: 0, anon.connection_id: 0
    }
    assert {d.source for d in got(u2)} == {"server"}
    assert got(u2)[0].group is None


def test_group_send_reaches_each_member_exactly_once(service: WebPubSubService) -> None:
    a = connect(service, user_id="u", groups=["g", "g"])
    b = connect(service, user_id="u", groups=["g"])
    c = connect(service, groups=["h"])
    service.add_connection_to_group("hub", "g", a.connection_id)
    service.add_user_to_group("hub", "g", "u")
    service.add_to_groups("hub", ["g", "g"], filter="userId eq 'u'")
    service.send_to_group("hub", "g", TEXT)
    assert receivers(a, b, c) == {a.connection_id: 1, b.connection_id: 1, c.connection_id: 0}
    delivery = got(a)[0]
    assert (delivery.source, delivery.group, delivery.from_user_id) == ("group", "g", None)


def test_group_send_carries_the_publishers_user_id_when_given(service: WebPubSubService) -> None:
    member = connect(service, groups=["g"])
    service.send_to_group("hub", "g", TEXT, from_user_id="alice")
    assert got(member)[0].from_user_id == "alice"


def test_send_to_connection_reaches_only_that_connection(service: WebPubSubService) -> None:
    a, b = connect(service, user_id="u"), connect(service, user_id="u")
    service.send_to_connection("hub", a.connection_id, TEXT)
    assert receivers(a, b) == {a.connection_id: 1, b.connection_id: 0}
    assert got(a)[0].source == "server"


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda s: s.send_to_all("hub", TEXT), id="all"),
        pytest.param(lambda s: s.send_to_user("hub", "nobody", TEXT), id="unknown_user"),
        pytest.param(lambda s: s.send_to_group("hub", "empty", TEXT), id="empty_group"),
        pytest.param(lambda s: s.send_to_connection("hub", "fake-connection-id", TEXT), id="unknown_connection"),
    ],
)
def test_sends_to_nobody_succeed_silently(
    service: WebPubSubService, log: DeliveryLog, send: Callable[[Any], None]
) -> None:
    send(service)
    assert log.deliveries == ()


@pytest.mark.parametrize(
    ("send", "expected_receivers"),
    [
        pytest.param(lambda s, ex: s.send_to_all("hub", TEXT, excluded=ex), {"b", "c"}, id="send_to_all"),
        pytest.param(lambda s, ex: s.send_to_group("hub", "g", TEXT, excluded=ex), {"b"}, id="send_to_group"),
    ],
)
def test_excluded_connections_get_nothing_and_unknown_excluded_ids_are_ignored(
    service: WebPubSubService, send: Callable[..., None], expected_receivers: set[str]
) -> None:
    conns = {"a": connect(service, groups=["g"]), "b": connect(service, groups=["g"]), "c": connect(service)}
    send(service, [conns["a"].connection_id, "fake-conn-1", "fake-conn-2"])
    assert {name for name, c in conns.items() if got(c)} == expected_receivers


@pytest.mark.parametrize(
    ("close", "expected_open"),
    [
        pytest.param(lambda s, ex: s.close_all("hub", excluded=ex), {"a", "x"}, id="close_all"),
        pytest.param(lambda s, ex: s.close_group("hub", "g", excluded=ex), {"a", "c", "x"}, id="close_group"),
        pytest.param(lambda s, ex: s.close_user("hub", "u", excluded=ex), {"a", "b", "x"}, id="close_user"),
    ],
)
def test_close_operations_spare_excluded_connections(
    service: WebPubSubService, close: Callable[..., None], expected_open: set[str]
) -> None:
    conns = {
        "a": connect(service, user_id="u", groups=["g"]),
        "b": connect(service, groups=["g"]),
        "c": connect(service, user_id="u"),
        "x": connect(service, "other", user_id="u", groups=["g"]),
    }
    close(service, [conns["a"].connection_id, "fake-conn-1"])
    assert {name for name, c in conns.items() if c.is_open} == expected_open


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        # scope = group g (a, b, c); filter keeps users u and v (a, b, d); excluded removes b -> a only
        pytest.param(
            lambda s, ex: s.send_to_group("hub", "g", TEXT, excluded=ex, filter="userId in ('u', 'v')"),
            {"a"},
            id="group_and_filter_and_excluded",
        ),
        # scope = hub; filter keeps members of g (a, b, c); excluded removes b
        pytest.param(
            lambda s, ex: s.send_to_all("hub", TEXT, excluded=ex, filter="'g' in groups"), {"a", "c"}, id="all_filter"
        ),
        # scope = user u (a, e); filter keeps connections in group g (a)
        pytest.param(lambda s, ex: s.send_to_user("hub", "u", TEXT, filter="'g' in groups"), {"a"}, id="user_filter"),
        # filter on anonymous connections within the group
        pytest.param(lambda s, ex: s.send_to_group("hub", "g", TEXT, filter="userId eq null"), {"c"}, id="null_user"),
        # a filter nobody matches
        pytest.param(lambda s, ex: s.send_to_all("hub", TEXT, filter="userId eq 'nobody'"), set(), id="no_match"),
    ],
)
def test_filters_are_anded_with_scope_and_excluded(
    service: WebPubSubService, send: Callable[..., None], expected: set[str]
) -> None:
    conns = {
        "a": connect(service, user_id="u", groups=["g"]),
        "b": connect(service, user_id="v", groups=["g"]),
        "c": connect(service, groups=["g"]),
        "d": connect(service, user_id="v"),
        "e": connect(service, user_id="u", groups=["h"]),
    }
    send(service, [conns["b"].connection_id])
    assert {name for name, c in conns.items() if got(c)} == expected
    assert all(len(got(c)) <= 1 for c in conns.values())


def test_filter_can_select_by_connection_id(service: WebPubSubService) -> None:
    a, b = connect(service, user_id="u"), connect(service, user_id="u")
    service.send_to_user("hub", "u", TEXT, filter=f"connectionId ne '{a.connection_id}'")
    assert receivers(a, b) == {a.connection_id: 0, b.connection_id: 1}


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda s: s.send_to_all("hub", TEXT, filter="userId eq"), id="all"),
        pytest.param(lambda s: s.send_to_user("hub", "u", TEXT, filter="not length(userId)"), id="user"),
        pytest.param(lambda s: s.send_to_group("hub", "g", TEXT, filter="(userId eq 'u'"), id="group"),
    ],
)
def test_invalid_filter_is_a_bad_request_and_delivers_nothing(
    service: WebPubSubService, log: DeliveryLog, send: Callable[[Any], None]
) -> None:
    connect(service, user_id="u", groups=["g"])
    with pytest.raises(BadRequestError) as refused:
        send(service)
    assert refused.value.code == "Error.BadRequest"
    assert log.deliveries == ()


def test_deliveries_are_logged_in_service_order(service: WebPubSubService, log: DeliveryLog) -> None:
    a, b = connect(service, user_id="u", groups=["g"]), connect(service)
    first, second, third = Message(b"1", "text"), Message(b"2", "json"), Message(b"\x03", "binary")
    service.send_to_group("hub", "g", first)
    service.send_to_all("hub", second)
    service.send_to_connection("hub", b.connection_id, third)
    assert [(d.connection_id, d.message) for d in log.deliveries] == [
        (a.connection_id, first),
        (a.connection_id, second),
        (b.connection_id, second),
        (b.connection_id, third),
    ]
    assert [d.message for d in got(a)] == [first, second]
    assert log.deliveries[0].user_id == "u"
    assert log.deliveries[0].hub == "hub"


# ------------------------------------------------------------------------------------------------ closing


def test_closing_removes_the_connection_from_every_index(service: WebPubSubService) -> None:
    target = connect(service, user_id="u", groups=["g1", "g2"])
    peer = connect(service, user_id="u", groups=["g1"])
    service.close_connection("hub", target.connection_id, reason="bye")
    hub = service.hub("hub")
    assert target.connection_id not in hub.connections
    assert hub.groups == {"g1": {peer.connection_id: peer}}
    assert hub.users == {"u": {peer.connection_id: peer}}
    assert target.is_open is False
    assert service.connection_exists("hub", target.connection_id) is False
    assert service.group_exists("hub", "g2") is False


def test_closed_connection_receives_nothing_afterwards(service: WebPubSubService) -> None:
    target = connect(service, user_id="u", groups=["g"])
    service.close_connection("hub", target.connection_id)
    service.send_to_all("hub", TEXT)
    service.send_to_user("hub", "u", TEXT)
    service.send_to_group("hub", "g", TEXT)
    service.send_to_connection("hub", target.connection_id, TEXT)
    assert got(target) == []


@pytest.mark.parametrize(
    ("close", "reason"),
    [
        pytest.param(lambda s, c: s.close_connection("hub", c.connection_id, reason="r1"), "r1", id="connection"),
        pytest.param(lambda s, c: s.close_all("hub", reason="r2"), "r2", id="all"),
        pytest.param(lambda s, c: s.close_group("hub", "g", reason="r3"), "r3", id="group"),
        pytest.param(lambda s, c: s.close_user("hub", "u"), None, id="user_without_reason"),
    ],
)
def test_service_close_tells_the_endpoint_and_the_listeners_the_reason(
    service: WebPubSubService, log: DeliveryLog, close: Callable[..., None], reason: str | None
) -> None:
    target = connect(service, user_id="u", groups=["g"])
    close(service, target)
    assert target.endpoint.closes == [reason]  # type: ignore[attr-defined]
    assert [(e.kind, e.connection_id, e.user_id, e.reason) for e in log.events] == [
        ("open", target.connection_id, "u", None),
        ("close", target.connection_id, "u", reason),
    ]


def test_client_close_does_not_notify_its_own_endpoint_and_is_idempotent(
    service: WebPubSubService, log: DeliveryLog
) -> None:
    target = connect(service, user_id="u")
    service.client_closed(target, "gone")
    service.client_closed(target, "again")
    assert target.endpoint.closes == []  # type: ignore[attr-defined]
    assert [(e.kind, e.reason) for e in log.events] == [("open", None), ("close", "gone")]


def test_closing_unknown_targets_is_a_no_op(service: WebPubSubService, log: DeliveryLog) -> None:
    survivor = connect(service, user_id="u", groups=["g"])
    before = snapshot(service)
    service.close_connection("hub", "fake-connection-id", reason="x")
    service.close_group("hub", "fake-group")
    service.close_user("hub", "fake-user")
    service.close_all("other")
    assert snapshot(service) == before
    assert survivor.is_open is True
    assert [e.kind for e in log.events] == ["open"]


# ------------------------------------------------------------------------------------------ group membership


def test_add_connection_to_unknown_connection_is_error_connection_not_existed(service: WebPubSubService) -> None:
    with pytest.raises(NotFoundError) as missing:
        service.add_connection_to_group("hub", "g", "fake-connection-id")
    assert (missing.value.code, missing.value.target, missing.value.message) == (
        "Error.Connection.NotExisted",
        "Connection",
        "Connection `fake-connection-id` is not found.",
    )
    assert service.group_exists("hub", "g") is False


@pytest.mark.parametrize(
    "remove",
    [
        pytest.param(lambda s, cid: s.remove_connection_from_group("hub", "other", cid), id="not_a_member"),
        pytest.param(lambda s, cid: s.remove_connection_from_group("hub", "g", "fake-connection-id"),
            id="unknown_conn"),
        pytest.param(lambda s, cid: s.remove_connection_from_all_groups("hub", "fake-connection-id"), id="unknown_all"),
        pytest.param(lambda s, cid: s.remove_user_from_group("hub", "g", "fake-user"), id="unknown_user"),
        pytest.param(lambda s, cid: s.remove_user_from_all_groups("hub", "fake-user"), id="unknown_user_all"),
        pytest.param(lambda s, cid: s.remove_from_groups("hub", ["other"]), id="bulk_other_group"),
    ],
)
def test_removing_what_is_not_there_is_a_no_op(service: WebPubSubService, remove: Callable[..., None]) -> None:
    member = connect(service, user_id="u", groups=["g"])
    before = snapshot(service)
    remove(service, member.connection_id)
    assert snapshot(service) == before


def test_remove_connection_from_all_groups_keeps_other_members(service: WebPubSubService) -> None:
    target = connect(service, user_id="u", groups=["g1", "g2", "g3"])
    peer = connect(service, user_id="u", groups=["g2"])
    service.remove_connection_from_all_groups("hub", target.connection_id)
    assert dict(target.groups) == {}
    assert dict(peer.groups) == {"g2": None}
    assert sorted(service.hub("hub").groups) == ["g2"]
    assert target.is_open is True


def test_remove_user_from_group_and_from_all_groups_act_on_every_connection_of_the_user(
    service: WebPubSubService,
) -> None:
    a = connect(service, user_id="u", groups=["g1", "g2"])
    b = connect(service, user_id="u", groups=["g1"])
    other = connect(service, user_id="v", groups=["g1", "g2"])
    service.remove_user_from_group("hub", "g1", "u")
    assert (list(a.groups), list(b.groups), list(other.groups)) == (["g2"], [], ["g1", "g2"])
    service.remove_user_from_all_groups("hub", "u")
    assert (list(a.groups), list(b.groups), list(other.groups)) == ([], [], ["g1", "g2"])


def test_add_user_to_group_adds_every_current_connection_of_the_user(service: WebPubSubService) -> None:
    a, b = connect(service, user_id="u"), connect(service, user_id="u")
    other = connect(service, user_id="v")
    service.add_user_to_group("hub", "g", "u")
    assert {c.connection_id for c in service.group_members("hub", "g")} == {a.connection_id, b.connection_id}
    assert list(other.groups) == []


def test_add_user_to_group_does_not_apply_to_later_connections_of_the_user(service: WebPubSubService) -> None:
    earlier = connect(service, user_id="u")
    service.add_user_to_group("hub", "g", "u")
    later = connect(service, user_id="u")
    assert list(earlier.groups) == ["g"]
    assert list(later.groups) == []
    service.send_to_group("hub", "g", TEXT)
    assert receivers(earlier, later) == {earlier.connection_id: 1, later.connection_id: 0}


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param(lambda s: None, id="never_connected"),
        pytest.param(lambda s: s.client_closed(connect(s, user_id="fake-user")), id="all_connections_closed"),
        pytest.param(lambda s: connect(s, "other", user_id="fake-user"), id="connected_in_another_hub"),
        pytest.param(lambda s: connect(s, user_id="Fake-User"), id="other_case"),
    ],
)
def test_add_user_to_group_without_current_connections_is_warning_user_not_existed(
    service: WebPubSubService, setup: Callable[[WebPubSubService], Any]
) -> None:
    setup(service)
    before = snapshot(service)
    with pytest.raises(NotFoundError) as missing:
        service.add_user_to_group("hub", "g", "fake-user")
    assert (missing.value.code, missing.value.target, missing.value.message) == (
        "Warning.User.NotExisted",
        "User",
        "User `fake-user` is not found.",
    )
    assert snapshot(service) == before


def test_add_to_groups_without_filter_adds_every_connection_of_the_hub(service: WebPubSubService) -> None:
    conns = [connect(service), connect(service, user_id="u"), connect(service, groups=["x"])]
    elsewhere = connect(service, "other")
    service.add_to_groups("hub", ["g1", "g2"])
    assert all(list(c.groups)[-2:] == ["g1", "g2"] for c in conns)
    assert list(elsewhere.groups) == []


def test_add_and_remove_from_groups_with_filter_select_matching_connections(service: WebPubSubService) -> None:
    u, v, anon = connect(service, user_id="u"), connect(service, user_id="v"), connect(service)
    service.add_to_groups("hub", ["g1", "g2"], filter="userId ne 'v'")
    assert (list(u.groups), list(v.groups), list(anon.groups)) == (["g1", "g2"], [], ["g1", "g2"])
    service.remove_from_groups("hub", ["g1"], filter="userId eq null")
    assert (list(u.groups), list(v.groups), list(anon.groups)) == (["g1", "g2"], [], ["g2"])
    service.remove_from_groups("hub", ["g2", "g1"])
    assert service.hub("hub").groups == {}


def test_filter_sees_groups_as_they_were_before_the_bulk_operation(service: WebPubSubService) -> None:
    a = connect(service, groups=["src"])
    b = connect(service)
    service.add_to_groups("hub", ["dst"], filter="'src' in groups")
    assert (list(a.groups), list(b.groups)) == (["src", "dst"], [])


# ------------------------------------------------------------------------------------------------ permissions


def test_grant_check_revoke_with_target(service: WebPubSubService) -> None:
    c = connect(service)
    cid = c.connection_id
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is False
    service.grant_permission("hub", "sendToGroup", cid, target="g")
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is True
    assert service.has_permission("hub", "sendToGroup", cid, target="h") is False
    assert service.has_permission("hub", "joinLeaveGroup", cid, target="g") is False
    assert service.has_permission("hub", "sendToGroup", cid) is False
    service.revoke_permission("hub", "sendToGroup", cid, target="g")
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is False


def test_grant_and_revoke_without_target_apply_to_all_groups(service: WebPubSubService) -> None:
    cid = connect(service).connection_id
    service.grant_permission("hub", "joinLeaveGroup", cid)
    assert service.has_permission("hub", "joinLeaveGroup", cid) is True
    assert service.has_permission("hub", "joinLeaveGroup", cid, target="any") is True
    assert service.has_permission("hub", "sendToGroup", cid, target="any") is False
    service.revoke_permission("hub", "joinLeaveGroup", cid)
    assert service.has_permission("hub", "joinLeaveGroup", cid) is False
    assert service.has_permission("hub", "joinLeaveGroup", cid, target="any") is False


@pytest.mark.parametrize(
    "role",
    ["webpubsub.sendToGroup", "webpubsub.sendToGroup.g", "webpubsub.sendToGroups.*", "webpubsub.sendToGroups.**"],
)
def test_revoke_denies_a_group_even_where_a_role_allows_it_until_granted_again(
    service: WebPubSubService, role: str
) -> None:
    cid = connect(service, roles=[role]).connection_id
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is True
    service.revoke_permission("hub", "sendToGroup", cid, target="g")
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is False
    service.grant_permission("hub", "sendToGroup", cid, target="g")
    assert service.has_permission("hub", "sendToGroup", cid, target="g") is True


def test_revoke_of_one_group_keeps_an_all_groups_role_for_other_groups(service: WebPubSubService) -> None:
    cid = connect(service, roles=["webpubsub.joinLeaveGroup"]).connection_id
    service.revoke_permission("hub", "joinLeaveGroup", cid, target="g")
    assert service.has_permission("hub", "joinLeaveGroup", cid, target="h") is True
    assert service.has_permission("hub", "joinLeaveGroup", cid, target="g") is False


def test_revoking_never_removes_membership(service: WebPubSubService) -> None:
    c = connect(service, roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], groups=["g"])
    service.revoke_permission("hub", "joinLeaveGroup", c.connection_id, target="g")
    service.revoke_permission("hub", "sendToGroup", c.connection_id)
    assert list(c.groups) == ["g"]
    assert service.group_exists("hub", "g") is True


def test_permissions_belong_to_the_connection_not_the_user(service: WebPubSubService) -> None:
    first = connect(service, user_id="u")
    service.grant_permission("hub", "sendToGroup", first.connection_id, target="g")
    second = connect(service, user_id="u")
    assert service.has_permission("hub", "sendToGroup", second.connection_id, target="g") is False


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.grant_permission("hub", "sendToGroup", "fake-connection-id", target="g"), id="grant"),
        pytest.param(lambda s: s.has_permission("hub", "sendToGroup", "fake-connection-id", target="g"), id="check"),
        pytest.param(lambda s: s.has_permission("hub", "joinLeaveGroup", "fake-connection-id"), id="check_all"),
    ],
)
def test_grant_and_check_on_unknown_connection_are_info_connection_not_existed(
    service: WebPubSubService, call: Callable[[WebPubSubService], Any]
) -> None:
    with pytest.raises(NotFoundError) as missing:
        call(service)
    assert (missing.value.code, missing.value.target, missing.value.message) == (
        "Info.Connection.NotExisted",
        "Connection",
        "Connection `fake-connection-id` is not found.",
    )


def test_revoke_on_unknown_connection_is_a_no_op(service: WebPubSubService) -> None:
    service.revoke_permission("hub", "sendToGroup", "fake-connection-id", target="g")
    service.revoke_permission("hub", "joinLeaveGroup", "fake-connection-id")


# ----------------------------------------------------------------------------- validation before state changes


@pytest.mark.parametrize(
    ("call", "target"),
    [
        pytest.param(lambda s, cid: s.open_connection("hub", Endpoint(),
            groups=["ok", "  "]), "group", id="open_ws_group"),
        pytest.param(lambda s, cid: s.open_connection("1hub", Endpoint()), "hub", id="open_bad_hub"),
        pytest.param(lambda s, cid: s.add_connection_to_group("hub", "", cid), "group", id="add_empty_group"),
        pytest.param(lambda s, cid: s.add_connection_to_group("hub", "a\nb", cid), "group", id="add_newline_group"),
        pytest.param(lambda s, cid: s.add_connection_to_group("hub", "x" * 1025, cid), "group", id="add_long_group"),
        pytest.param(lambda s, cid: s.add_connection_to_group("hub", "g", ""), "connectionId", id="add_empty_conn"),
        pytest.param(lambda s, cid: s.add_connection_to_group("bad-hub", "g", cid), "hub", id="add_bad_hub"),
        pytest.param(lambda s, cid: s.add_user_to_group("hub", "\t", "u"), "group", id="add_user_ws_group"),
        pytest.param(lambda s, cid: s.add_user_to_group("hub", "g", ""), "userId", id="add_user_empty_user"),
        pytest.param(lambda s, cid: s.remove_connection_from_group("hub", " ", cid), "group", id="remove_ws_group"),
        pytest.param(lambda s, cid: s.remove_user_from_group("hub", "g", ""), "userId", id="remove_user_empty"),
        pytest.param(lambda s, cid: s.remove_user_from_all_groups("hub", ""), "userId", id="remove_user_all_empty"),
        pytest.param(lambda s, cid: s.remove_connection_from_all_groups("hub", ""),
            "connectionId", id="remove_all_empty"),
        pytest.param(lambda s, cid: s.add_to_groups("hub", []), "groups", id="bulk_add_no_groups"),
        pytest.param(lambda s, cid: s.add_to_groups("hub", ["new", ""]), "groups", id="bulk_add_one_bad_group"),
        pytest.param(lambda s, cid: s.add_to_groups("hub", ["new"], filter="userId eq"),
            "filter", id="bulk_add_bad_filter"),
        pytest.param(lambda s, cid: s.remove_from_groups("hub", []), "groups", id="bulk_remove_no_groups"),
        pytest.param(lambda s, cid: s.remove_from_groups("hub", ["g"], filter="(("),
            "filter", id="bulk_remove_bad_filter"),
        pytest.param(lambda s, cid: s.remove_from_groups("hub", ["g", "\n"]), "groups", id="bulk_remove_bad_group"),
        pytest.param(lambda s, cid: s.close_group("hub", "   "), "group", id="close_ws_group"),
        pytest.param(lambda s, cid: s.close_user("hub", ""), "userId", id="close_empty_user"),
        pytest.param(lambda s, cid: s.close_connection("hub", ""), "connectionId", id="close_empty_conn"),
        pytest.param(lambda s, cid: s.close_all("h b"), "hub", id="close_all_bad_hub"),
        pytest.param(lambda s, cid: s.send_to_group("hub", "", TEXT), "group", id="send_group_empty"),
        pytest.param(lambda s, cid: s.send_to_user("hub", "", TEXT), "userId", id="send_user_empty"),
        pytest.param(lambda s, cid: s.send_to_all("x" * 129, TEXT), "hub", id="send_all_long_hub"),
        pytest.param(lambda s, cid: s.send_to_connection("hub", "", TEXT), "connectionId", id="send_conn_empty"),
        pytest.param(lambda s, cid: s.grant_permission("hub", "admin", cid, target="g"), "permission", id="grant_bad"),
        pytest.param(lambda s, cid: s.grant_permission("hub", "sendToGroup", cid, target=" "),
            "targetName", id="grant_ws_target"),
        pytest.param(lambda s, cid: s.revoke_permission("hub", "sendToGroup", cid, target=""),
            "targetName", id="revoke_empty_target"),
        pytest.param(lambda s, cid: s.revoke_permission("hub", "send", cid), "permission", id="revoke_bad"),
        pytest.param(lambda s, cid: s.has_permission("hub", "joinLeaveGroup", "", target="g"),
            "connectionId", id="has_empty_conn"),
    ],
)
def test_invalid_names_are_refused_before_any_state_change(
    service: WebPubSubService, log: DeliveryLog, call: Callable[..., Any], target: str
) -> None:
    member = connect(service, user_id="u", groups=["g"], roles=["webpubsub.sendToGroup"])
    before = snapshot(service)
    events_before = log.events
    with pytest.raises(BadRequestError) as refused:
        call(service, member.connection_id)
    assert refused.value.code == "Error.BadRequest"
    assert refused.value.target == target
    assert snapshot(service) == before
    assert log.events == events_before
    assert log.deliveries == ()
    assert member.endpoint.closes == []  # type: ignore[attr-defined]


def test_refused_open_connection_consumes_no_connection_id() -> None:
    refused_first = WebPubSubService()
    with pytest.raises(BadRequestError):
        refused_first.open_connection("hub", Endpoint(), groups=[""])
    fresh = WebPubSubService()
    assert refused_first.open_connection("hub", Endpoint()).connection_id == fresh.open_connection(
        "hub", Endpoint()
    ).connection_id


# ------------------------------------------------------------------------------ deliveries an endpoint refuses


class RefusingEndpoint(Endpoint):
    """A connection that cannot take messages (a reliable connection whose buffer overflowed)."""

    def deliver(self, send: Send) -> bool:
        self.sends.append(send)
        return False


def test_a_delivery_the_endpoint_refuses_is_not_logged(service: WebPubSubService, log: DeliveryLog) -> None:
    taker = connect(service, groups=["g"])
    refuser = service.open_connection("hub", RefusingEndpoint(), groups=["g"])
    service.send_to_group("hub", "g", TEXT)
    service.send_to_connection("hub", refuser.connection_id, TEXT)
    assert [d.connection_id for d in log.deliveries] == [taker.connection_id]
    assert log.delivery_count == 1
    assert [d.connection_id for d in got(refuser)] == [refuser.connection_id] * 2, "it was offered both"


def test_a_send_every_endpoint_refuses_reaches_no_listener(service: WebPubSubService) -> None:
    calls: list[tuple[Send, Sequence[Connection]]] = []

    class Listener:
        def on_open(self, connection: Connection) -> None: ...

        def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
            calls.append((send, recipients))

        def on_close(self, connection: Connection, reason: str | None) -> None: ...

    service = WebPubSubService(listeners=[Listener()])
    service.open_connection("hub", RefusingEndpoint())
    service.send_to_all("hub", TEXT)
    assert calls == []


def test_an_endpoint_closing_itself_while_taking_a_message_does_not_disturb_the_fan_out(
    service: WebPubSubService, log: DeliveryLog
) -> None:
    """What a reliable connection does on overflow: it asks the service to close it and refuses the message."""

    class Overflowing(Endpoint):
        connection_id = ""

        def deliver(self, send: Send) -> bool:
            service.close_connection(send.hub, self.connection_id, reason="full")
            return False

    first = connect(service)
    endpoint = Overflowing()
    overflowing = service.open_connection("hub", endpoint)
    endpoint.connection_id = overflowing.connection_id
    last = connect(service)
    service.send_to_all("hub", TEXT)
    assert [d.connection_id for d in log.deliveries] == [first.connection_id, last.connection_id]
    assert overflowing.is_open is False
    assert overflowing.endpoint.closes == ["full"]  # type: ignore[attr-defined]


def test_deliveries_are_plain_named_tuples(service: WebPubSubService, log: DeliveryLog) -> None:
    connection = connect(service, user_id="u", groups=["g"])
    service.send_to_group("hub", "g", TEXT, from_user_id="sender")
    (delivery,) = log.deliveries
    assert type(delivery) is Delivery
    assert delivery == Delivery("hub", connection.connection_id, "u", TEXT, "group", "g", "sender")
    assert delivery._asdict()["from_user_id"] == "sender"


# --------------------------------------------------------------------------------- unknown hubs leave no trace


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.connection_exists("ghost", "c"),
        lambda s: s.user_exists("ghost", "u"),
        lambda s: s.group_exists("ghost", "g"),
        lambda s: s.group_members("ghost", "g"),
        lambda s: s.send_to_all("ghost", TEXT),
        lambda s: s.send_to_user("ghost", "u", TEXT),
        lambda s: s.send_to_group("ghost", "g", TEXT),
        lambda s: s.send_to_connection("ghost", "c", TEXT),
        lambda s: s.close_all("ghost"),
        lambda s: s.close_group("ghost", "g"),
        lambda s: s.close_user("ghost", "u"),
        lambda s: s.close_connection("ghost", "c"),
        lambda s: s.remove_connection_from_group("ghost", "g", "c"),
        lambda s: s.remove_connection_from_all_groups("ghost", "c"),
        lambda s: s.remove_user_from_group("ghost", "g", "u"),
        lambda s: s.remove_user_from_all_groups("ghost", "u"),
        lambda s: s.add_to_groups("ghost", ["g"]),
        lambda s: s.remove_from_groups("ghost", ["g"]),
        lambda s: s.revoke_permission("ghost", "sendToGroup", "c"),
        lambda s: s.add_connection_to_group("ghost", "g", "c"),
        lambda s: s.add_user_to_group("ghost", "g", "u"),
        lambda s: s.grant_permission("ghost", "sendToGroup", "c"),
        lambda s: s.has_permission("ghost", "sendToGroup", "c"),
    ],
)
def test_operations_on_a_hub_no_connection_opened_in_create_nothing(
    service: WebPubSubService, log: DeliveryLog, call: Callable[[WebPubSubService], Any]
) -> None:
    connect(service, "chat", user_id="u", groups=["g"])
    for _ in range(2):  # the second time the spelling is known to be valid and empty
        try:
            call(service)
        except NotFoundError:
            pass  # a 404 must leave no trace either
    assert [hub.name for hub in service.hubs()] == ["chat"]
    assert log.deliveries == ()


def test_a_hub_named_before_any_connection_opened_in_it_is_found_once_one_opens(
    service: WebPubSubService, log: DeliveryLog
) -> None:
    service.send_to_all("Ghost", TEXT)
    assert service.group_members("Ghost", "g") == [] and service.hubs() == []
    connection = connect(service, "ghost", groups=["g"])
    service.send_to_all("Ghost", TEXT)
    assert service.connection_exists("Ghost", connection.connection_id)
    assert service.group_members("Ghost", "g") == [connection]
    assert [d.connection_id for d in log.deliveries] == [connection.connection_id]


def test_the_spellings_of_hubs_without_connections_kept_are_bounded(service: WebPubSubService) -> None:
    for index in range(1000):
        service.send_to_all(f"hub{index}", TEXT)
    assert len(service._vacant) <= 256
    assert service.hubs() == []


# ------------------------------------------------------------------------------------- how messages reach endpoints


class Inbox(Endpoint):
    """An endpoint that only records what it takes: the service appends to its list and never calls deliver."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox = self.sends  # type: ignore[assignment]

    def deliver(self, send: Send) -> bool:
        raise AssertionError("deliver() called for an endpoint with an inbox")


def test_an_endpoint_s_inbox_gets_each_send_appended_in_order(service: WebPubSubService, log: DeliveryLog) -> None:
    with_inbox = service.open_connection("hub", Inbox(), groups=["g"])
    with_deliver = connect(service, groups=["g"])
    service.send_to_group("hub", "g", TEXT)
    service.send_to_all("hub", Message(b"2", "text"))
    assert [d.message.payload for d in got(with_inbox)] == [b"hi", b"2"]
    assert with_inbox.endpoint.sends == with_deliver.endpoint.sends, "the same shared sends, by either way"  # type: ignore[attr-defined]
    assert [d.connection_id for d in log.deliveries] == [with_inbox.connection_id, with_deliver.connection_id] * 2


def test_route_changes_how_a_connection_takes_messages(service: WebPubSubService) -> None:
    connection = connect(service)
    later: list[Send] = []
    connection.route(lambda send: False, None)  # refuses from now on
    service.send_to_all("hub", TEXT)
    connection.route(lambda send: None, later)  # an inbox wins over deliver
    service.send_to_all("hub", Message(b"2", "text"))
    assert got(connection) == [] and [send.message.payload for send in later] == [b"2"]


def test_a_send_to_an_unchanged_group_shares_one_tuple_of_recipients(service: WebPubSubService) -> None:
    seen: list[Sequence[Connection]] = []

    class Listener:
        def on_open(self, connection: Connection) -> None: ...

        def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
            seen.append(recipients)

        def on_close(self, connection: Connection, reason: str | None) -> None: ...

    service.add_listener(Listener())
    first = connect(service, groups=["g"])
    service.send_to_group("hub", "g", TEXT)
    service.send_to_group("hub", "g", TEXT)
    second = connect(service, groups=["g"])
    service.send_to_group("hub", "g", TEXT)
    service.remove_connection_from_group("hub", "g", first.connection_id)
    service.send_to_group("hub", "g", TEXT)
    assert seen[0] is seen[1] and seen[0] == (first,)
    assert seen[2] == (first, second) and seen[3] == (second,)
