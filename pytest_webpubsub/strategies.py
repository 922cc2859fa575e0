"""Hypothesis strategies for property-based tests of code that uses Web PubSub.

Every value drawn is one the real service accepts, by the same rules the fake enforces (``_core.names``), so a
property test exercises your logic rather than the service's 400s. Importing this module imports hypothesis;
the pytest plugin never does.

Example::

    from hypothesis import given
    from pytest_webpubsub import FakeWebPubSub, strategies as wps

    @given(group=wps.group_names(), user=wps.user_ids())
    def test_room_invites_reach_the_user(group, user):
        with FakeWebPubSub() as service:
            alice = service.connect("chat", user_id=user)
            service.service_client("chat").add_user_to_group(group, user)
            assert group in alice.groups
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._core import names

__all__ = ["group_names", "hub_names", "messages", "roles", "user_ids"]

_GROUP_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")


def hub_names() -> st.SearchStrategy[str]:
    """Valid hub names: a letter, then up to 127 letters, digits and ``_`,.[]``. Shrinks towards ``"A"``."""
    return st.from_regex(names.HUB_PATTERN, fullmatch=True)


def group_names(*, max_size: int = 64) -> st.SearchStrategy[str]:
    """Valid group names: 1 to ``max_size`` (at most 1024) characters, not only white space, no line breaks.

    Any other Unicode is allowed, as the service allows it, so names with ``/``, ``%``, spaces or emoji come up
    and test your URL handling. Shrinks towards short ASCII names.
    """
    if not 1 <= max_size <= names.GROUP_MAX_LENGTH:
        raise InvalidArgument(f"max_size={max_size!r} must be between 1 and {names.GROUP_MAX_LENGTH}")
    text = st.text(_GROUP_CHARACTERS, min_size=1, max_size=max_size)
    return text.filter(lambda name: not name.isspace())


def user_ids(*, max_size: int = 64) -> st.SearchStrategy[str]:
    """Non-empty user ids (any characters but line breaks). Shrinks towards ``"0"``."""
    if max_size < 1:
        raise InvalidArgument(f"max_size={max_size!r} must be at least 1")
    return st.text(_GROUP_CHARACTERS, min_size=1, max_size=max_size)


def roles(groups: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Role claims the service understands: the two permissions, their ``.<group>`` scoped forms and the
    wildcard ``joinLeaveGroups.<pattern>`` / ``sendToGroups.<pattern>`` forms (patterns with up to five ``*``)."""
    groups = groups if groups is not None else group_names(max_size=16)
    permission = st.sampled_from(["joinLeaveGroup", "sendToGroup"])
    plural = st.sampled_from(["joinLeaveGroups", "sendToGroups"])
    parts = st.lists(st.sampled_from(["*", "**", "?", "room", ".", "-", "a"]), min_size=1, max_size=5)
    pattern = parts.map("".join).filter(lambda text: text.count("*") <= 5)
    return st.one_of(
        permission.map(lambda name: f"webpubsub.{name}"),
        st.tuples(permission, groups).map(lambda pair: f"webpubsub.{pair[0]}.{pair[1]}"),
        st.tuples(plural, pattern).map(lambda pair: f"webpubsub.{pair[0]}.{pair[1]}"),
    )


def messages() -> st.SearchStrategy[tuple[Any, str]]:
    """``(message, content_type)`` pairs for the service SDK's ``send_to_*``: JSON values, text and bytes.

    A top-level ``None`` is left out: the SDK sends no body for it, which is not a JSON message.
    """
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=8,
    )
    return st.one_of(
        st.tuples(json_values.filter(lambda value: value is not None), st.just("application/json")),
        st.tuples(st.text(max_size=50), st.just("text/plain")),
        st.tuples(st.binary(max_size=50), st.just("application/octet-stream")),
    )
