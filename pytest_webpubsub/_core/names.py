"""Syntax and range rules for names and parameters, in one table (service-behaviour §2).

Every rule raises :class:`BadRequestError` with a message that names the parameter and the rule, the way the
service answers 400. The REST adapter, simulated clients and hypothesis strategies share these rules.
"""

from __future__ import annotations

import re

from .errors import BadRequestError

HUB_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}")
GROUP_MAX_LENGTH = 1024
PERMISSIONS = ("sendToGroup", "joinLeaveGroup")
MESSAGE_TTL_RANGE = (0, 300)
MAX_PAGE_SIZE_RANGE = (1, 200)
TOP_RANGE = (1, 2147483647)
MINUTES_TO_EXPIRE_MIN = 1
CLIENT_TYPES = ("Default", "MQTT", "SocketIO")


def check_hub(hub: str) -> str:
    """Validate a hub name and return its key (hubs are case-insensitive)."""
    if not HUB_PATTERN.fullmatch(hub):
        raise BadRequestError(
            f"Invalid hub name '{hub}': a hub name starts with a letter and has 1 to 128 characters of "
            "letters, digits and _`,.[]",
            target="hub",
        )
    return hub.lower()


def check_group(group: str, *, parameter: str = "group") -> str:
    """Validate a group name: 1 to 1024 characters, not only white space, no line breaks."""
    if not group or len(group) > GROUP_MAX_LENGTH or group.isspace() or "\n" in group or "\r" in group:
        raise BadRequestError(
            f"Invalid group name '{group}': a group name has 1 to {GROUP_MAX_LENGTH} characters, "
            "is not only white space and has no line breaks",
            target=parameter,
        )
    return group


def check_user_id(user_id: str) -> str:
    """Validate a user id named in a path: not empty."""
    if not user_id:
        raise BadRequestError("The user id must not be empty", target="userId")
    return user_id


def check_connection_id(connection_id: str) -> str:
    """Validate a connection id named in a path: not empty."""
    if not connection_id:
        raise BadRequestError("The connection id must not be empty", target="connectionId")
    return connection_id


def check_permission(permission: str) -> str:
    """Validate a permission name of the permission routes (case-sensitive, as the spec's union)."""
    if permission not in PERMISSIONS:
        raise BadRequestError(
            f"Invalid permission '{permission}': expected one of {', '.join(PERMISSIONS)}", target="permission"
        )
    return permission


def check_int(name: str, raw: str, bounds: tuple[int, int | None]) -> int:
    """Parse an integer query parameter and check it lies within ``bounds`` (upper bound optional)."""
    low, high = bounds
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"The value '{raw}' of '{name}' is not a valid integer", target=name) from None
    if value < low or (high is not None and value > high):
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequestError(f"The value {value} of '{name}' is out of range: it must be {allowed}", target=name)
    return value


def check_client_type(raw: str) -> str:
    """Validate ``clientType`` of ``:generateToken`` (case-insensitive) and return its canonical spelling."""
    for client_type in CLIENT_TYPES:
        if raw.lower() == client_type.lower():
            return client_type
    raise BadRequestError(
        f"Invalid clientType '{raw}': expected one of {', '.join(CLIENT_TYPES)}", target="clientType"
    )
