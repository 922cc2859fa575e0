"""The public hypothesis strategies draw only what the service accepts, and reach the fake intact."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub import strategies as wps
from pytest_webpubsub._core import names
from pytest_webpubsub._core.permissions import Permissions

FAST = settings(max_examples=int(os.environ.get("STRATEGY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    granted = [kind for kind, rules in permissions.by_kind.items() if rules.every_group or rules.groups or rules.patterns]
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


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: wps.group_names(max_size=0), "max_size=0 must be between 1 and 1024"),
        (lambda: wps.group_names(max_size=1025), "max_size=1025 must be between 1 and 1024"),
        (lambda: wps.user_ids(max_size=0), "max_size=0 must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_when_the_strategy_is_defined(make: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make()  # type: ignore[operator]


def test_strategies_compose(webpubsub: FakeWebPubSub) -> None:
    assert isinstance(st.lists(wps.group_names(), max_size=3), st.SearchStrategy)
