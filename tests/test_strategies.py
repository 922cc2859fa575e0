"""The public hypothesis strategies draw only what the service accepts, and reach the fake intact."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub
from pytest_webpubsub import strategies as wps
from pytest_webpubsub._core import names
from pytest_webpubsub._core.errors import BadRequestError, UnauthorizedError
from pytest_webpubsub._core.filters import compile_filter
from pytest_webpubsub._core.permissions import Permissions
from pytest_webpubsub._tokens import verify_client_url

FAST = settings(
    max_examples=int(os.environ.get("STRATEGY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FAST
@given(wps.hub_names())
def test_hub_names_are_valid(hub: str) -> None:
    assert names.check_hub(hub) == hub.lower()


@FAST
@given(wps.group_names(max_size=1024))
def test_group_names_are_valid(group: str) -> None:
    assert names.check_group(group) == group


@FAST
@given(wps.roles())
def test_roles_grant_something(role: str) -> None:
    permissions = Permissions.from_roles([role])
    by_kind = permissions.by_kind.items()
    granted = [kind for kind, rules in by_kind if rules.every_group or rules.groups or rules.patterns]
    assert len(granted) == 1, role


@FAST
@given(group=wps.group_names(), user=wps.user_ids(), message=wps.messages())
def test_drawn_values_reach_a_member_through_the_sdk(group: str, user: str, message: tuple[object, str]) -> None:
    data, content_type = message
    with FakeWebPubSub() as service:
        member = service.connect("chat", user_id=user)
        client = service.service_client("chat")
        client.add_user_to_group(group, user)
        client.send_to_group(group, data, content_type=content_type)
    assert [(m.group, m.data) for m in member.received] == [(group, data)]


A_LIST: Any = ["g"]
A_STRING: Any = "ann"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: wps.group_names(max_size=0), "max_size=0 must be an integer between 1 and 1024"),
        (lambda: wps.group_names(max_size=1025), "max_size=1025 must be an integer between 1 and 1024"),
        (lambda: wps.user_ids(max_size=0), "max_size=0 must be an integer at least 1"),
        (lambda: wps.roles(groups=A_LIST), "groups=\\['g'\\] must be a hypothesis strategy"),
        (lambda: wps.client_access_claims(max_groups=-1), "max_groups=-1 must be an integer at least 0"),
        (lambda: wps.client_access_claims(user_ids=A_STRING), "user_ids='ann' must be a hypothesis strategy"),
        (lambda: wps.filters(max_clauses=0), "max_clauses=0 must be an integer between 1 and 100"),
        (lambda: wps.filters(max_clauses=101), "max_clauses=101 must be an integer between 1 and 100"),
        (lambda: wps.operations(min_size=3, max_size=2), "max_size=2 must be an integer at least 3"),
        (lambda: wps.operations(connection_ids=A_LIST), "connection_ids=\\['g'\\] must be a hypothesis strategy"),
        (lambda: wps.invalid_client_access_tokens(endpoint="x", hub="h", access_key="k"), "endpoint='x' must be"),
        (lambda: wps.invalid_client_access_tokens(endpoint=ENDPOINT, hub="", access_key="k"), "hub='' must be"),
    ],
)
def test_bad_arguments_are_refused_when_the_strategy_is_defined(make: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make()  # type: ignore[operator]


def test_strategies_compose(webpubsub: FakeWebPubSub) -> None:
    assert isinstance(st.lists(wps.group_names(), max_size=3), st.SearchStrategy)


# ------------------------------------------------------------------------------------------------ invalid twins


@FAST
@given(wps.invalid_hub_names())
def test_invalid_hub_names_are_refused(hub: str) -> None:
    with pytest.raises(BadRequestError):
        names.check_hub(hub)


@FAST
@given(wps.invalid_group_names())
def test_invalid_group_names_are_refused(group: str) -> None:
    with pytest.raises(BadRequestError):
        names.check_group(group)


@FAST
@given(wps.invalid_user_ids())
def test_invalid_user_ids_are_refused(user: str) -> None:
    with pytest.raises(BadRequestError):
        names.check_user_id(user)


@FAST
@given(wps.invalid_roles())
def test_invalid_roles_grant_nothing(role: str) -> None:
    permissions = Permissions.from_roles([role])
    assert not any(rules.every_group or rules.groups or rules.patterns for rules in permissions.by_kind.values())


def test_invalid_names_reach_the_fake_as_400s(webpubsub: FakeWebPubSub) -> None:
    from azure.core.exceptions import HttpResponseError

    client = webpubsub.service_client()

    @settings(max_examples=20, deadline=None)
    @given(group=wps.invalid_group_names())
    def check(group: str) -> None:
        with pytest.raises(HttpResponseError) as refused:
            client.send_to_group(group, "x", content_type="text/plain")
        assert refused.value.status_code == 400

    check()


ENDPOINT = "https://fake.webpubsub.azure.com"
KEY = FakeWebPubSub().access_key


@FAST
@given(wps.invalid_client_access_tokens(endpoint=ENDPOINT, hub="chat", access_key=KEY))
def test_invalid_client_access_tokens_are_refused_at_connect(token: str) -> None:
    url = f"wss://fake.webpubsub.azure.com/client/hubs/chat?access_token={token}"
    with pytest.raises(UnauthorizedError):
        verify_client_url(url, keys=[KEY], now=1_800_000_000)
    with pytest.raises(ConnectionRefused) as refused:
        FakeWebPubSub().connect_url(url)
    assert refused.value.status == 401


# ---------------------------------------------------------------------------------------------- access claims


@FAST
@given(wps.client_access_claims())
def test_client_access_claims_become_a_token_the_fake_honours(claims: wps.ClientAccessClaims) -> None:
    with FakeWebPubSub() as service:
        token = service.service_client("chat").get_client_access_token(**claims.token_kwargs())
        client = service.connect_url(token["url"])
        twin = service.connect("chat", **claims.connect_kwargs())
        assert (client.user_id, client.groups) == (claims.user_id, frozenset(claims.groups))
        pictures = service.snapshot("chat").connections
        mine, theirs = pictures[client.connection_id], pictures[twin.connection_id]
        assert (mine.user_id, mine.groups, dict(mine.permissions)) == (
            theirs.user_id, theirs.groups, dict(theirs.permissions)
        )
        assert 1 <= claims.minutes_to_expire <= 1440


# ---------------------------------------------------------------------------------------------------- filters

IDS = st.sampled_from(["c1", "c2", "c'3"])
USERS = st.sampled_from(["ann", "bob", "o'neil", "Ann"])
GROUPS = st.sampled_from(["lobby", "games", "it's"])
connections = st.tuples(IDS, st.none() | USERS, st.frozensets(GROUPS, max_size=3))


@settings(max_examples=int(os.environ.get("STRATEGY_EXAMPLES", "60")) * 5, deadline=None)
@given(wps.filters(user_ids=USERS, groups=GROUPS, connection_ids=IDS), st.lists(connections, min_size=1, max_size=6))
def test_a_filters_predicate_agrees_with_the_services_filter(
    drawn: tuple[str, wps.Predicate], candidates: list[tuple[str, str | None, frozenset[str]]]
) -> None:
    text, predicate = drawn
    compiled = compile_filter(text)

    class Candidate:
        def __init__(self, connection_id: str, user_id: str | None, groups: frozenset[str]) -> None:
            self.connection_id, self.user_id, self.groups = connection_id, user_id, groups

    for candidate in candidates:
        assert compiled.matches(Candidate(*candidate)) is predicate(*candidate), (text, candidate)


def test_a_filter_selects_the_connections_its_predicate_names(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.service_client("chat")
    members = [
        webpubsub.connect("chat", user_id=user, groups=groups)
        for user, groups in [("ann", ["lobby"]), ("bob", []), (None, ["games", "lobby"]), ("o'neil", ["it's"])]
    ]

    @settings(max_examples=30, deadline=None)
    @given(wps.filters())
    def check(drawn: tuple[str, wps.Predicate]) -> None:
        text, predicate = drawn
        before = {member.connection_id: len(member.received) for member in members}
        client.send_to_all("x", content_type="text/plain", filter=text)
        reached = {m.connection_id for m in members if len(m.received) > before[m.connection_id]}
        assert reached == {m.connection_id for m in members if predicate(m.connection_id, m.user_id, m.groups)}

    check()


@FAST
@given(wps.filters(max_clauses=2))
def test_a_drawn_predicate_shows_its_filter(drawn: tuple[str, wps.Predicate]) -> None:
    text, predicate = drawn
    assert repr(predicate) == f"<predicate of {text!r}>"


# ------------------------------------------------------------------------------------------------- operations


@FAST
@given(st.data())
def test_operations_apply_to_a_service_client_as_the_service_answers(data: st.DataObject) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    with FakeWebPubSub() as service:
        clients = [service.connect(user_id=user) for user in ("ann", "bob", "ann")]
        ids = st.sampled_from([client.connection_id for client in clients])
        operations = data.draw(wps.operations(connection_ids=ids, max_size=8))
        client = service.service_client()
        for operation in operations:
            assert repr(operation).startswith(operation.name + "(")
            try:
                operation.apply(client)
            except ResourceNotFoundError:
                snapshot = service.snapshot()
                if operation.name == "add_user_to_group":
                    assert operation.args[1] not in snapshot.users
                else:
                    assert operation.name in ("add_connection_to_group", "grant_permission"), operation
                    assert operation.args[1] not in snapshot.connections
        assert len(service.rest_calls) == len(operations)
        assert all(call.response.status_code < 500 for call in service.rest_calls)


async def test_an_operation_applies_to_the_aio_client_too(webpubsub: FakeWebPubSub) -> None:
    member = webpubsub.connect(user_id="ann")
    async with webpubsub.service_client(aio=True) as client:
        await wps.Operation("send_to_user", ("ann", "hi"), {"content_type": "text/plain"}).apply_async(client)
        assert await wps.Operation("user_exists", ("ann",)).apply_async(client) is True
    assert [m.data for m in member.received] == ["hi"]
