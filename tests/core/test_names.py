"""Name and parameter rules (service-behaviour §2).

Each rule accepts exactly its range and refuses with a 400-style error.
"""

from __future__ import annotations

import pytest

from pytest_webpubsub._core import names
from pytest_webpubsub._core.errors import BadRequestError

# ------------------------------------------------------------------------------------------------------ hub

VALID_HUBS = [
    ("a", "a"),
    ("Z", "z"),
    ("hub", "hub"),
    ("Hub", "hub"),
    ("apicoverage", "apicoverage"),
    ("test_list_connections", "test_list_connections"),
    ("h0", "h0"),
    ("h_`,.[]", "h_`,.[]"),
    ("a" * 128, "a" * 128),
    ("A" + "9" * 127, "a" + "9" * 127),
]
INVALID_HUBS = [
    "",
    "a" * 129,
    "A" + "9" * 128,
    "1hub",
    "_hub",
    "`hub",
    ".hub",
    "[hub]",
    "hub-1",
    "hub name",
    "hub/x",
    "hüb",
    "hub\n",
    "\nhub",
    "hub ",
    " hub",
    "hub\t",
    "hub{x}",
]


@pytest.mark.parametrize(("hub", "key"), VALID_HUBS, ids=[repr(h[0])[:20] for h in VALID_HUBS])
def test_valid_hub_names_are_accepted_and_keyed_lower_case(hub: str, key: str) -> None:
    assert names.check_hub(hub) == key


@pytest.mark.parametrize("hub", INVALID_HUBS, ids=[repr(h)[:20] for h in INVALID_HUBS])
def test_invalid_hub_names_are_bad_requests(hub: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        names.check_hub(hub)
    assert refused.value.code == "Error.BadRequest"
    assert refused.value.target == "hub"


def test_hub_length_limit_is_exactly_128() -> None:
    assert names.check_hub("h" * 128) == "h" * 128
    with pytest.raises(BadRequestError):
        names.check_hub("h" * 129)


# ---------------------------------------------------------------------------------------------------- group

VALID_GROUPS = [
    "g",
    "group1",
    "Group With Spaces",
    " leading",
    "trailing ",
    " x ",
    "a\tb",
    "with.dots.and-dashes",
    "ünïcödé",
    "表情😀",
    "fake group",
    "x" * 1024,
    " " * 1023 + "x",
    "*",
    "'quoted'",
]
INVALID_GROUPS = [
    "",
    " ",
    "   ",
    "\t",
    "\t \t",
    "\u00a0",
    "\u3000",
    "x" * 1025,
    " " * 1025,
    "a\nb",
    "trailing\n",
    "\nleading",
    "\n",
    "a\r\nb",
]


@pytest.mark.parametrize("group", VALID_GROUPS, ids=[repr(g)[:20] for g in VALID_GROUPS])
def test_valid_group_names_are_returned_unchanged(group: str) -> None:
    assert names.check_group(group) == group


@pytest.mark.parametrize("group", INVALID_GROUPS, ids=[repr(g)[:20] for g in INVALID_GROUPS])
def test_invalid_group_names_are_bad_requests_naming_the_parameter(group: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        names.check_group(group, parameter="targetName")
    assert refused.value.code == "Error.BadRequest"
    assert refused.value.target == "targetName"


def test_group_length_limit_is_exactly_1024() -> None:
    assert names.GROUP_MAX_LENGTH == 1024
    assert names.check_group("g" * 1024) == "g" * 1024
    with pytest.raises(BadRequestError) as refused:
        names.check_group("g" * 1025)
    assert refused.value.target == "group"


# ---------------------------------------------------------------------------------------- ids and permission


@pytest.mark.parametrize(
    ("check", "target"), [(names.check_user_id, "userId"), (names.check_connection_id, "connectionId")]
)
def test_user_and_connection_ids_must_not_be_empty(check, target: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequestError) as refused:
        check("")
    assert refused.value.target == target


@pytest.mark.parametrize("value", ["u", "fake user", "-qB2jCwKOim8Mr77R2fZ5gMHeaBgu02", " ", "ü", "a/b"])
def test_user_and_connection_ids_are_otherwise_opaque(value: str) -> None:
    assert names.check_user_id(value) == value
    assert names.check_connection_id(value) == value


@pytest.mark.parametrize("permission", ["sendToGroup", "joinLeaveGroup"])
def test_known_permissions_are_accepted(permission: str) -> None:
    assert names.check_permission(permission) == permission


@pytest.mark.parametrize("permission", ["", "send", "joinGroup", "sendToGroups", "webpubsub.sendToGroup", "admin"])
def test_unknown_permissions_are_bad_requests(permission: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        names.check_permission(permission)
    assert refused.value.target == "permission"


# ------------------------------------------------------------------------------------------- integer ranges


@pytest.mark.parametrize(
    ("name", "raw", "bounds", "expected"),
    [
        ("messageTtlSeconds", "0", names.MESSAGE_TTL_RANGE, 0),
        ("messageTtlSeconds", "300", names.MESSAGE_TTL_RANGE, 300),
        ("maxpagesize", "1", names.MAX_PAGE_SIZE_RANGE, 1),
        ("maxpagesize", "200", names.MAX_PAGE_SIZE_RANGE, 200),
        ("top", "1", names.TOP_RANGE, 1),
        ("top", "2147483647", names.TOP_RANGE, 2147483647),
        ("minutesToExpire", "1", (names.MINUTES_TO_EXPIRE_MIN, None), 1),
        ("minutesToExpire", "525600", (names.MINUTES_TO_EXPIRE_MIN, None), 525600),
    ],
)
def test_integers_within_range_are_parsed(name: str, raw: str, bounds, expected: int) -> None:  # type: ignore[no-untyped-def]
    assert names.check_int(name, raw, bounds) == expected


@pytest.mark.parametrize(
    ("name", "raw", "bounds"),
    [
        ("messageTtlSeconds", "-1", names.MESSAGE_TTL_RANGE),
        ("messageTtlSeconds", "301", names.MESSAGE_TTL_RANGE),
        ("messageTtlSeconds", "abc", names.MESSAGE_TTL_RANGE),
        ("messageTtlSeconds", "1.5", names.MESSAGE_TTL_RANGE),
        ("messageTtlSeconds", "", names.MESSAGE_TTL_RANGE),
        ("maxpagesize", "0", names.MAX_PAGE_SIZE_RANGE),
        ("maxpagesize", "201", names.MAX_PAGE_SIZE_RANGE),
        ("top", "0", names.TOP_RANGE),
        ("top", "2147483648", names.TOP_RANGE),
        ("minutesToExpire", "0", (names.MINUTES_TO_EXPIRE_MIN, None)),
        ("minutesToExpire", "-5", (names.MINUTES_TO_EXPIRE_MIN, None)),
    ],
)
def test_integers_out_of_range_or_malformed_are_bad_requests_naming_the_parameter(
    name: str, raw: str, bounds  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(BadRequestError) as refused:
        names.check_int(name, raw, bounds)
    assert refused.value.target == name


def test_range_constants_match_the_documented_ranges() -> None:
    assert names.MESSAGE_TTL_RANGE == (0, 300)
    assert names.MAX_PAGE_SIZE_RANGE == (1, 200)
    assert names.TOP_RANGE == (1, 2147483647)
    assert names.MINUTES_TO_EXPIRE_MIN == 1


# ---------------------------------------------------------------------------------------------- clientType


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Default", "Default"),
        ("default", "Default"),
        ("DEFAULT", "Default"),
        ("MQTT", "MQTT"),
        ("mqtt", "MQTT"),
        ("Mqtt", "MQTT"),
        ("SocketIO", "SocketIO"),
        ("socketio", "SocketIO"),
    ],
)
def test_client_types_are_case_insensitive_and_include_socketio(raw: str, canonical: str) -> None:
    assert names.check_client_type(raw) == canonical


@pytest.mark.parametrize("raw", ["", "Bogus", "Socket.IO", "MQTT5", " Default"])
def test_unknown_client_types_are_bad_requests(raw: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        names.check_client_type(raw)
    assert refused.value.target == "clientType"
