"""Hypothesis strategies for property-based tests of code that uses Web PubSub.

Valid values are ones the real service accepts, by the same rules the fake enforces, so a property test exercises
your logic rather than the service's 400s; each ``invalid_*`` twin draws only values the service refuses (or, for
roles, ignores), to test your validation and error handling. ``filters()`` draws OData filters together with the
predicate they mean, and ``operations()`` draws sequences of service calls to replay on a service client.
Importing this module imports hypothesis; the pytest plugin never does.

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

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import jwt
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._core import names
from ._core.permissions import MAX_STARS

__all__ = [
    "ClientAccessClaims",
    "Operation",
    "Predicate",
    "client_access_claims",
    "filters",
    "group_names",
    "hub_names",
    "invalid_client_access_tokens",
    "invalid_group_names",
    "invalid_hub_names",
    "invalid_roles",
    "invalid_user_ids",
    "messages",
    "operations",
    "roles",
    "user_ids",
]

_GROUP_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\n\r")
_HUB_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_`,.[]"
_FAR_FUTURE = 4_102_444_800
"""2100-01-01: the ``exp`` of drawn tokens that must not fail on expiry."""


def _check_size(name: str, value: int, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidArgument(f"{name}={value!r} must be an integer {bounds}")


def _check_strategy(name: str, value: object) -> None:
    if not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(f"{name}={value!r} must be a hypothesis strategy")


# ------------------------------------------------------------------------------------------------------- names


def hub_names() -> st.SearchStrategy[str]:
    """Valid hub names: a letter, then up to 127 letters, digits and ``_`,.[]``. Shrinks towards ``"A"``."""
    return st.from_regex(names.HUB_PATTERN, fullmatch=True)


def invalid_hub_names() -> st.SearchStrategy[str]:
    """Hub names the service refuses with 400: empty, not starting with a letter, holding a character other than
    letters, digits and ``_`,.[]``, or longer than 128 characters. Shrinks towards ``""``."""
    valid_tail = st.text(_HUB_CHARACTERS, max_size=8)
    not_a_letter = st.characters(codec="utf-8").filter(lambda c: not ("A" <= c.upper() <= "Z"))
    not_allowed = st.characters(codec="utf-8").filter(lambda c: c not in _HUB_CHARACTERS)
    return st.one_of(
        st.just(""),
        st.tuples(not_a_letter, valid_tail).map("".join),
        st.tuples(hub_names(), not_allowed, valid_tail).map("".join),
        st.integers(129, 300).map(lambda size: "h" * size),
    ).filter(lambda hub: not names.HUB_PATTERN.fullmatch(hub))


def group_names(*, max_size: int = 64) -> st.SearchStrategy[str]:
    """Valid group names: 1 to ``max_size`` (at most 1024) characters, not only white space, no line breaks.

    Any other Unicode is allowed, as the service allows it, so names with ``/``, ``%``, spaces or emoji come up
    and test your URL handling. Shrinks towards short ASCII names.
    """
    _check_size("max_size", max_size, 1, names.GROUP_MAX_LENGTH)
    text = st.text(_GROUP_CHARACTERS, min_size=1, max_size=max_size)
    return text.filter(lambda name: not name.isspace())


def invalid_group_names() -> st.SearchStrategy[str]:
    """Group names the service refuses with 400: empty, only white space, with a line break, or longer than 1024
    characters. Shrinks towards ``""``."""
    spaces = st.text(st.sampled_from(" \t\x0b\x0c\u00a0\u2003\u3000"), min_size=1, max_size=8)
    with_break = st.tuples(group_names(max_size=8), st.sampled_from("\n\r"), st.text(max_size=8)).map("".join)
    too_long = st.integers(names.GROUP_MAX_LENGTH + 1, names.GROUP_MAX_LENGTH + 64).map(lambda size: "g" * size)
    return st.one_of(st.just(""), spaces, with_break, too_long)


def user_ids(*, max_size: int = 64) -> st.SearchStrategy[str]:
    """Non-empty user ids (any characters but line breaks). Shrinks towards ``"0"``."""
    _check_size("max_size", max_size, 1)
    return st.text(_GROUP_CHARACTERS, min_size=1, max_size=max_size)


def invalid_user_ids() -> st.SearchStrategy[str]:
    """User ids the service refuses in a REST path (400): only the empty one (it names no other rule)."""
    return st.just("")


# ------------------------------------------------------------------------------------------------------- roles


def roles(groups: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Role claims the service understands: the two permissions, their ``.<group>`` scoped forms and the
    wildcard ``joinLeaveGroups.<pattern>`` / ``sendToGroups.<pattern>`` forms (patterns with up to five ``*``)."""
    if groups is not None:
        _check_strategy("groups", groups)
    groups = groups if groups is not None else group_names(max_size=16)
    permission = st.sampled_from(["joinLeaveGroup", "sendToGroup"])
    plural = st.sampled_from(["joinLeaveGroups", "sendToGroups"])
    parts = st.lists(st.sampled_from(["*", "**", "?", "room", ".", "-", "a"]), min_size=1, max_size=5)
    pattern = parts.map("".join).filter(lambda text: text.count("*") <= MAX_STARS)
    return st.one_of(
        permission.map(lambda name: f"webpubsub.{name}"),
        st.tuples(permission, groups).map(lambda pair: f"webpubsub.{pair[0]}.{pair[1]}"),
        st.tuples(plural, pattern).map(lambda pair: f"webpubsub.{pair[0]}.{pair[1]}"),
    )


def invalid_roles() -> st.SearchStrategy[str]:
    """Role claims the service does not understand, so they grant nothing: a misspelt or wrongly cased name,
    a missing ``webpubsub.`` prefix, an empty target, a wildcard form without a pattern, a pattern with more
    than five ``*`` or a bad ``\\`` escape. A token may carry them; the connection just gets no permission."""
    name = st.sampled_from(["joinLeaveGroup", "sendToGroup"])
    plural = st.sampled_from(["joinLeaveGroups", "sendToGroups"])
    misspelt = st.sampled_from(
        ["webpubsub.JoinLeaveGroup", "webpubsub.sendtogroup", "WebPubSub.sendToGroup", "webpubsub.sendToGroupX",
         "webpubsub.joinGroup", "webpubsub.", "webpubsub", "role.sendToGroup"]
    )
    return st.one_of(
        misspelt,
        name,  # no prefix
        name.map(lambda n: f"webpubsub.{n}."),  # empty target
        plural.map(lambda n: f"webpubsub.{n}"),
        st.tuples(plural, st.integers(MAX_STARS + 1, MAX_STARS + 4)).map(lambda p: f"webpubsub.{p[0]}.{'*' * p[1]}"),
        st.tuples(plural, st.sampled_from(["\\", "a\\", "\\a", "room\\."])).map(lambda p: f"webpubsub.{p[0]}.{p[1]}"),
    )


# ------------------------------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class ClientAccessClaims:
    """What a client access token grants: user (None: anonymous), roles, initial groups and lifetime."""

    user_id: str | None
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    minutes_to_expire: int = 60

    def token_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the service SDK's ``get_client_access_token``."""
        return {
            "user_id": self.user_id,
            "roles": list(self.roles),
            "groups": list(self.groups),
            "minutes_to_expire": self.minutes_to_expire,
        }

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``FakeWebPubSub.connect`` (a simulated client with the same identity)."""
        return {"user_id": self.user_id, "roles": self.roles, "groups": self.groups}


def client_access_claims(
    *,
    user_ids: st.SearchStrategy[str] | None = None,
    roles: st.SearchStrategy[str] | None = None,
    groups: st.SearchStrategy[str] | None = None,
    max_roles: int = 3,
    max_groups: int = 3,
) -> st.SearchStrategy[ClientAccessClaims]:
    """Valid :class:`ClientAccessClaims`: an optional user, up to ``max_roles`` roles and ``max_groups`` groups
    (each list without duplicates), and ``minutes_to_expire`` from 1 to 1440. Shrinks towards an anonymous client
    with no roles or groups that expires in a minute."""
    for label, strategy in (("user_ids", user_ids), ("roles", roles), ("groups", groups)):
        if strategy is not None:
            _check_strategy(label, strategy)
    _check_size("max_roles", max_roles, 0)
    _check_size("max_groups", max_groups, 0)
    users = user_ids if user_ids is not None else _user_ids(max_size=16)
    role_values = roles if roles is not None else _roles()
    group_values = groups if groups is not None else group_names(max_size=16)
    return st.builds(
        ClientAccessClaims,
        user_id=st.none() | users,
        roles=st.lists(role_values, max_size=max_roles, unique=True).map(tuple),
        groups=st.lists(group_values, max_size=max_groups, unique=True).map(tuple),
        minutes_to_expire=st.integers(names.MINUTES_TO_EXPIRE_MIN, 24 * 60),
    )


def invalid_client_access_tokens(*, endpoint: str, hub: str, access_key: str) -> st.SearchStrategy[str]:
    """Client access tokens for ``wss://<endpoint host>/client/hubs/<hub>?access_token=...`` that the service
    refuses at connect (401), each with one defect: signed with another key, expired (``exp`` before 2001), no
    ``exp``, an audience of another hub or host, or not a JWT at all. Use the fake's ``endpoint`` and
    ``access_key``."""
    for label, value in (("endpoint", endpoint), ("hub", hub), ("access_key", access_key)):
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"{label}={value!r} must be a non-empty string")
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidArgument(f"endpoint={endpoint!r} must be an http(s) URL, as the connection string's Endpoint")
    audience = f"{endpoint.rstrip('/').lower()}/client/hubs/{hub}"
    host = endpoint.split("://", 1)[1].rstrip("/")

    def sign(claims: dict[str, Any], key: str = access_key) -> str:
        return jwt.encode(claims, key, algorithm="HS256")

    good = {"aud": audience, "exp": _FAR_FUTURE}
    other_key = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=32, max_size=48).filter(
        lambda key: key != access_key
    )
    other_hub = hub_names().filter(lambda other: other.lower() != hub.lower())
    other_host = st.sampled_from(["elsewhere.webpubsub.azure.com", "localhost", host + ".evil.example"])
    return st.one_of(
        other_key.map(lambda key: sign(good, key)),
        st.integers(0, 1_000_000_000).map(lambda exp: sign({**good, "exp": exp})),
        st.just(sign({"aud": audience})),
        other_hub.map(lambda other: sign({**good, "aud": f"{endpoint.rstrip('/')}/client/hubs/{other}"})),
        other_host.map(lambda other: sign({**good, "aud": f"https://{other}/client/hubs/{hub}"})),
        st.sampled_from(["", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]),
    )


# ----------------------------------------------------------------------------------------------------- messages


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


_user_ids, _roles, _messages = user_ids, roles, messages
"""The strategies under names that keyword arguments of the same name do not hide."""

# ------------------------------------------------------------------------------------------------------ filters

Predicate = Callable[[str, Optional[str], Collection[str]], bool]
"""Whether a filter selects a connection, given its ``(connection_id, user_id, groups)``."""


@dataclass(frozen=True)
class _Clause:
    text: str
    test: Predicate = field(compare=False)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _atoms(
    users: st.SearchStrategy[str], groups: st.SearchStrategy[str], ids: st.SearchStrategy[str]
) -> st.SearchStrategy[_Clause]:
    def user_clause(template: str, test: Callable[[str | None, str], bool]) -> st.SearchStrategy[_Clause]:
        return users.map(lambda u: _Clause(template.format(_quote(u)), lambda c, uid, g: test(uid, u)))

    return st.one_of(
        user_clause("userId eq {}", lambda uid, u: uid == u),
        user_clause("userId ne {}", lambda uid, u: uid != u),
        st.just(_Clause("userId eq null", lambda c, uid, g: uid is None)),
        st.just(_Clause("userId ne null", lambda c, uid, g: uid is not None)),
        groups.map(lambda grp: _Clause(f"{_quote(grp)} in groups", lambda c, uid, g: grp in g)),
        ids.map(lambda cid: _Clause(f"connectionId eq {_quote(cid)}", lambda c, uid, g: c == cid)),
        ids.map(lambda cid: _Clause(f"connectionId ne {_quote(cid)}", lambda c, uid, g: c != cid)),
        st.lists(users, min_size=1, max_size=3).map(
            lambda us: _Clause(
                f"userId in ({', '.join(map(_quote, us))})", lambda c, uid, g: uid is not None and uid in us
            )
        ),
        user_clause("startswith(userId, {})", lambda uid, u: uid is not None and uid.startswith(u)),
        user_clause("endswith(userId, {})", lambda uid, u: uid is not None and uid.endswith(u)),
        user_clause("contains(userId, {})", lambda uid, u: uid is not None and u in uid),
        st.integers(0, 4).map(
            lambda n: _Clause(f"length(userId) gt {n}", lambda c, uid, g: uid is not None and len(uid) > n)
        ),
        st.integers(0, 3).map(lambda n: _Clause(f"length(groups) ge {n}", lambda c, uid, g: len(g) >= n)),
    )


def _combine(children: st.SearchStrategy[_Clause]) -> st.SearchStrategy[_Clause]:
    pairs = st.tuples(children, children)
    return st.one_of(
        pairs.map(lambda p: _Clause(f"({p[0].text}) and ({p[1].text})", _both(p[0].test, p[1].test))),
        pairs.map(lambda p: _Clause(f"({p[0].text}) or ({p[1].text})", _either(p[0].test, p[1].test))),
        children.map(lambda x: _Clause(f"not ({x.text})", _negate(x.test))),
    )


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda c, u, g: left(c, u, g) and right(c, u, g)


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda c, u, g: left(c, u, g) or right(c, u, g)


def _negate(inner: Predicate) -> Predicate:
    return lambda c, u, g: not inner(c, u, g)


def filters(
    *,
    user_ids: st.SearchStrategy[str] | None = None,
    groups: st.SearchStrategy[str] | None = None,
    connection_ids: st.SearchStrategy[str] | None = None,
    max_clauses: int = 6,
) -> st.SearchStrategy[tuple[str, Predicate]]:
    """Valid OData ``filter`` texts with the predicate each means: ``(text, predicate)`` where
    ``predicate(connection_id, user_id, groups)`` tells whether the filter selects that connection.

    Clauses compare ``userId`` (with ``eq``/``ne``/``in``, ``null``, ``startswith``/``endswith``/``contains`` and
    ``length``), ``connectionId`` and ``groups`` (``'g' in groups``, ``length(groups)``), joined with ``and``,
    ``or`` and ``not`` (up to ``max_clauses``, at most 100). Literals are drawn from ``user_ids``, ``groups`` and
    ``connection_ids``: pass the strategies your connections use, so the filters select some of them (the
    defaults are small pools, with a quote to exercise escaping). Shrinks towards ``userId eq 'ann'``.
    """
    for label, strategy in (("user_ids", user_ids), ("groups", groups), ("connection_ids", connection_ids)):
        if strategy is not None:
            _check_strategy(label, strategy)
    _check_size("max_clauses", max_clauses, 1, 100)
    users = user_ids if user_ids is not None else st.sampled_from(["ann", "bob", "o'neil"])
    group_values = groups if groups is not None else st.sampled_from(["lobby", "games", "it's"])
    ids = connection_ids if connection_ids is not None else st.text("abc", min_size=1, max_size=3)
    clauses = st.recursive(_atoms(users, group_values, ids), _combine, max_leaves=max_clauses)
    return clauses.map(lambda clause: (clause.text, _Meaning(clause.text, clause.test)))


class _Meaning:
    """The predicate of one drawn filter, shown by its text in failure reports."""

    __slots__ = ("_test", "_text")

    def __init__(self, text: str, test: Predicate) -> None:
        self._text = text
        self._test = test

    def __call__(self, connection_id: str, user_id: str | None, groups: Collection[str]) -> bool:
        return self._test(connection_id, user_id, groups)

    def __repr__(self) -> str:
        return f"<predicate of {self._text!r}>"


# --------------------------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """One service call: the service SDK method ``name`` with ``args`` and ``kwargs``. ``apply(client)`` makes it
    on a ``WebPubSubServiceClient`` (``await apply_async(client)`` on the ``aio`` one) and returns what the SDK
    returns (or raises what it raises)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, client: Any) -> Any:
        """Make the call on a sync ``WebPubSubServiceClient``."""
        return getattr(client, self.name)(*self.args, **self.kwargs)

    async def apply_async(self, client: Any) -> Any:
        """Make the call on an ``aio`` ``WebPubSubServiceClient``."""
        return await getattr(client, self.name)(*self.args, **self.kwargs)

    def __repr__(self) -> str:
        arguments = [repr(arg) for arg in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{self.name}({', '.join(arguments)})"


def _operation(
    name: str, *args: st.SearchStrategy[Any], **kwargs: st.SearchStrategy[Any]
) -> st.SearchStrategy[Operation]:
    return st.builds(Operation, st.just(name), st.tuples(*args), st.fixed_dictionaries(kwargs))


def _send(
    name: str, *targets: st.SearchStrategy[Any], bodies: st.SearchStrategy[tuple[Any, str]]
) -> st.SearchStrategy[Operation]:
    return st.tuples(st.tuples(*targets), bodies).map(
        lambda drawn: Operation(name, (*drawn[0], drawn[1][0]), {"content_type": drawn[1][1]})
    )


def operations(
    *,
    user_ids: st.SearchStrategy[str] | None = None,
    groups: st.SearchStrategy[str] | None = None,
    connection_ids: st.SearchStrategy[str] | None = None,
    messages: st.SearchStrategy[tuple[Any, str]] | None = None,
    min_size: int = 0,
    max_size: int = 10,
) -> st.SearchStrategy[list[Operation]]:
    """Lists of :class:`Operation` (``min_size`` to ``max_size``): sends to all, users and groups, adding and
    removing users to and from groups, and closing users', groups' or all connections. With ``connection_ids``
    (e.g. ``st.sampled_from`` the ids of your clients) the per-connection calls come too: send, add, remove,
    close, and grant or revoke a permission. Arguments are always valid, but the service answers 404 (the SDK
    raises ``ResourceNotFoundError``) to ``add_user_to_group`` for a user with no connection and to
    ``add_connection_to_group`` / ``grant_permission`` for a connection that is gone; your test decides whether
    that is an error. Shrinks towards fewer, earlier-listed operations."""
    for label, strategy in (("user_ids", user_ids), ("groups", groups), ("connection_ids", connection_ids),
                            ("messages", messages)):
        if strategy is not None:
            _check_strategy(label, strategy)
    _check_size("min_size", min_size, 0)
    _check_size("max_size", max_size, min_size)
    users = user_ids if user_ids is not None else st.sampled_from(["ann", "bob"])
    group_values = groups if groups is not None else st.sampled_from(["lobby", "games"])
    bodies = messages if messages is not None else _messages()
    reasons = st.none() | st.sampled_from(["bye"])
    choices = [
        _send("send_to_all", bodies=bodies),
        _send("send_to_user", users, bodies=bodies),
        _send("send_to_group", group_values, bodies=bodies),
        _operation("add_user_to_group", group_values, users),
        _operation("remove_user_from_group", group_values, users),
        _operation("remove_user_from_all_groups", users),
        _operation("close_user_connections", users, reason=reasons),
        _operation("close_group_connections", group_values, reason=reasons),
        _operation("close_all_connections", reason=reasons),
    ]
    if connection_ids is not None:
        permissions = st.sampled_from(names.PERMISSIONS)
        choices += [
            _send("send_to_connection", connection_ids, bodies=bodies),
            _operation("add_connection_to_group", group_values, connection_ids),
            _operation("remove_connection_from_group", group_values, connection_ids),
            _operation("remove_connection_from_all_groups", connection_ids),
            _operation("close_connection", connection_ids, reason=reasons),
            _operation("grant_permission", permissions, connection_ids, target_name=st.none() | group_values),
            _operation("revoke_permission", permissions, connection_ids, target_name=st.none() | group_values),
        ]
    return st.lists(st.one_of(choices), min_size=min_size, max_size=max_size)

