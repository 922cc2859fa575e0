"""One small function per REST operation: read parameters, call the service, shape the answer.

Handlers raise the core's :class:`WebPubSubError` subclasses; ``dispatch`` turns them into status codes and
error bodies. What they answer is complete, the hub headers (``api-supported-versions``,
``Strict-Transport-Security``) included. Success codes are exactly the recorded ones (docs/service-behaviour.md
§1.1, §10.1). Each handler declares its route with :func:`~.routes.route`; the decorators fill the one route table
as this module is imported.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, overload
from urllib.parse import urlencode, urlsplit

from .. import _tokens
from .._core import jsontext, names
from .._core.errors import BadRequestError, NotFoundError, UnsupportedMediaTypeError
from .._core.model import DataType, Message
from .._core.service import WebPubSubService
from .http import FakeRequest, FakeResponse
from .routes import HEALTH_HEADERS, HUB, HUB_HEADERS, route

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_MEDIA_TYPES: dict[str, DataType] = {
    "application/json": "json",
    "text/plain": "text",
    "application/octet-stream": "binary",
}
DEFAULT_PAGE_SIZE = 200


@dataclass
class RestContext:
    """Everything a handler may read: the service, the request and its decoded parameters (read-only)."""

    service: WebPubSubService
    request: FakeRequest
    params: dict[str, str]
    query: dict[str, list[str]]
    endpoint: str
    signing_key: str
    now: float

    def one(self, name: str) -> str | None:
        """The single value of a query parameter (None when absent); 400 when it is repeated."""
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise BadRequestError(f"The query parameter '{name}' must not be repeated", target=name)
        return values[0]

    def many(self, name: str) -> list[str]:
        """Every value of a repeatable query parameter, in order."""
        return self.query.get(name, [])

    @overload
    def integer(self, name: str, bounds: tuple[int, int | None], default: int) -> int: ...

    @overload
    def integer(self, name: str, bounds: tuple[int, int | None], default: None = None) -> int | None: ...

    def integer(self, name: str, bounds: tuple[int, int | None], default: int | None = None) -> int | None:
        """The single value of an integer query parameter within ``bounds`` (``default`` when absent); else 400."""
        raw = self.one(name)
        return default if raw is None else names.check_int(name, raw, bounds)


# -- answers -------------------------------------------------------------------------------------------


# Handlers answer complete responses, the hub headers included; the bodiless ones are shared (their headers are
# read-only), so that a call builds no response at all.
ACCEPTED = FakeResponse(202, MappingProxyType({"Content-Length": "0", **HUB_HEADERS}))
OK = FakeResponse(200, MappingProxyType({"Content-Length": "0", **HUB_HEADERS}))
NO_CONTENT = FakeResponse(204, HUB_HEADERS)
FOUND = FakeResponse(200, HUB_HEADERS)
"""The answer of a HEAD check that found its object: 200 without Content-Length."""
HEALTHY = FakeResponse(200, HEALTH_HEADERS)


def accepted() -> FakeResponse:
    return ACCEPTED


def ok() -> FakeResponse:
    return OK


def no_content() -> FakeResponse:
    return NO_CONTENT


def exists(found: bool, error: NotFoundError) -> FakeResponse:
    """The answer of a HEAD check: 200 without Content-Length, or the 404 (its body dropped by dispatch)."""
    if not found:
        raise error
    return FOUND


def json_body(payload: Any, *, content_length: bool = True) -> FakeResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    if content_length:
        headers["Content-Length"] = str(len(body))
    return FakeResponse(200, {**headers, **HUB_HEADERS}, body)


# -- request parsing -----------------------------------------------------------------------------------


def read_message(ctx: RestContext) -> Message:
    """The body of a send: its data type from Content-Type (missing → binary, other types → 415)."""
    content_type = ctx.request.header("Content-Type")
    media_type, data_type = _media_type(content_type)
    if data_type is None:
        raise UnsupportedMediaTypeError(
            f"The content type '{content_type}' is not supported: use application/json, text/plain "
            "or application/octet-stream"
        )
    body = ctx.request.body
    if data_type != "binary":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestError(f"The request body is not valid UTF-8 for '{media_type}'.") from None
        if data_type == "json":
            try:
                jsontext.loads(text)
            except ValueError:
                raise BadRequestError("The request body is not a valid JSON.") from None
    return Message(body, data_type)


@functools.lru_cache(maxsize=64)
def _media_type(content_type: str | None) -> tuple[str, DataType | None]:
    """The media type of a send's Content-Type (missing: binary) and the data type it gives (None: refused)."""
    media_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    return media_type, _MEDIA_TYPES.get(media_type)


def send_options(ctx: RestContext) -> None:
    """Validate the options every send takes: ``messageTtlSeconds`` (0–300; delivery is immediate)."""
    ctx.integer("messageTtlSeconds", names.MESSAGE_TTL_RANGE)


def read_groups_body(ctx: RestContext) -> tuple[list[str], str | None]:
    """The body of ``:addToGroups`` / ``:removeFromGroups``: ``{"groups": [...], "filter": "..."}``."""
    media_type = (ctx.request.header("Content-Type") or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(f"The content type '{media_type}' is not supported: use application/json")
    try:
        body = jsontext.loads(ctx.request.body or b"null")
    except ValueError:
        raise BadRequestError("The request body is not a valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object with 'groups'", target="groups")
    groups = body.get("groups")
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise BadRequestError("'groups' must be an array of group names", target="groups")
    filter_text = body.get("filter")
    if filter_text is not None and not isinstance(filter_text, str):
        raise BadRequestError("'filter' must be a string", target="filter")
    return groups, (filter_text or None)


# -- operations ----------------------------------------------------------------------------------------


@route("get_service_status", "HEAD", "/api/health")
def get_service_status(ctx: RestContext) -> FakeResponse:
    return HEALTHY


@route("send_to_all", "POST", HUB + "/:send")
def send_to_all(ctx: RestContext) -> FakeResponse:
    send_options(ctx)
    message = read_message(ctx)
    ctx.service.send_to_all(ctx.params["hub"], message, excluded=ctx.many("excluded"), filter=ctx.one("filter"))
    return accepted()


@route("send_to_user", "POST", HUB + "/users/{userId}/:send")
def send_to_user(ctx: RestContext) -> FakeResponse:
    send_options(ctx)
    message = read_message(ctx)
    ctx.service.send_to_user(ctx.params["hub"], ctx.params["userId"], message, filter=ctx.one("filter"))
    return accepted()


@route("send_to_group", "POST", HUB + "/groups/{group}/:send")
def send_to_group(ctx: RestContext) -> FakeResponse:
    send_options(ctx)
    message = read_message(ctx)
    ctx.service.send_to_group(
        ctx.params["hub"], ctx.params["group"], message, excluded=ctx.many("excluded"), filter=ctx.one("filter")
    )
    return accepted()


@route("send_to_connection", "POST", HUB + "/connections/{connectionId}/:send")
def send_to_connection(ctx: RestContext) -> FakeResponse:
    send_options(ctx)
    message = read_message(ctx)
    ctx.service.send_to_connection(ctx.params["hub"], ctx.params["connectionId"], message)
    return accepted()


@route("close_all_connections", "POST", HUB + "/:closeConnections")
def close_all_connections(ctx: RestContext) -> FakeResponse:
    ctx.service.close_all(ctx.params["hub"], excluded=ctx.many("excluded"), reason=ctx.one("reason"))
    return no_content()


@route("close_group_connections", "POST", HUB + "/groups/{group}/:closeConnections")
def close_group_connections(ctx: RestContext) -> FakeResponse:
    ctx.service.close_group(
        ctx.params["hub"], ctx.params["group"], excluded=ctx.many("excluded"), reason=ctx.one("reason")
    )
    return no_content()


@route("close_user_connections", "POST", HUB + "/users/{userId}/:closeConnections")
def close_user_connections(ctx: RestContext) -> FakeResponse:
    ctx.service.close_user(
        ctx.params["hub"], ctx.params["userId"], excluded=ctx.many("excluded"), reason=ctx.one("reason")
    )
    return no_content()


@route("close_connection", "DELETE", HUB + "/connections/{connectionId}")
def close_connection(ctx: RestContext) -> FakeResponse:
    ctx.service.close_connection(ctx.params["hub"], ctx.params["connectionId"], reason=ctx.one("reason"))
    return no_content()


@route("connection_exists", "HEAD", HUB + "/connections/{connectionId}")
def connection_exists(ctx: RestContext) -> FakeResponse:
    connection_id = ctx.params["connectionId"]
    found = ctx.service.connection_exists(ctx.params["hub"], connection_id)
    return exists(found, NotFoundError("Connection", connection_id))


@route("user_exists", "HEAD", HUB + "/users/{userId}")
def user_exists(ctx: RestContext) -> FakeResponse:
    user_id = ctx.params["userId"]
    return exists(ctx.service.user_exists(ctx.params["hub"], user_id), NotFoundError("User", user_id))


@route("group_exists", "HEAD", HUB + "/groups/{group}")
def group_exists(ctx: RestContext) -> FakeResponse:
    group = ctx.params["group"]
    return exists(ctx.service.group_exists(ctx.params["hub"], group), NotFoundError("Group", group))


@route("add_connection_to_group", "PUT", HUB + "/groups/{group}/connections/{connectionId}")
def add_connection_to_group(ctx: RestContext) -> FakeResponse:
    ctx.service.add_connection_to_group(ctx.params["hub"], ctx.params["group"], ctx.params["connectionId"])
    return ok()


@route("remove_connection_from_group", "DELETE", HUB + "/groups/{group}/connections/{connectionId}")
def remove_connection_from_group(ctx: RestContext) -> FakeResponse:
    ctx.service.remove_connection_from_group(ctx.params["hub"], ctx.params["group"], ctx.params["connectionId"])
    return no_content()


@route("remove_connection_from_all_groups", "DELETE", HUB + "/connections/{connectionId}/groups", "2022-11-01")
def remove_connection_from_all_groups(ctx: RestContext) -> FakeResponse:
    ctx.service.remove_connection_from_all_groups(ctx.params["hub"], ctx.params["connectionId"])
    return no_content()


@route("add_user_to_group", "PUT", HUB + "/users/{userId}/groups/{group}")
def add_user_to_group(ctx: RestContext) -> FakeResponse:
    ctx.service.add_user_to_group(ctx.params["hub"], ctx.params["group"], ctx.params["userId"])
    return ok()


@route("remove_user_from_group", "DELETE", HUB + "/users/{userId}/groups/{group}")
def remove_user_from_group(ctx: RestContext) -> FakeResponse:
    ctx.service.remove_user_from_group(ctx.params["hub"], ctx.params["group"], ctx.params["userId"])
    return no_content()


@route("remove_user_from_all_groups", "DELETE", HUB + "/users/{userId}/groups")
def remove_user_from_all_groups(ctx: RestContext) -> FakeResponse:
    ctx.service.remove_user_from_all_groups(ctx.params["hub"], ctx.params["userId"])
    return no_content()


@route("add_connections_to_groups", "POST", HUB + "/:addToGroups", "2023-07-01")
def add_connections_to_groups(ctx: RestContext) -> FakeResponse:
    groups, filter_text = read_groups_body(ctx)
    ctx.service.add_to_groups(ctx.params["hub"], groups, filter=filter_text)
    return ok()


@route("remove_connections_from_groups", "POST", HUB + "/:removeFromGroups", "2023-07-01")
def remove_connections_from_groups(ctx: RestContext) -> FakeResponse:
    groups, filter_text = read_groups_body(ctx)
    ctx.service.remove_from_groups(ctx.params["hub"], groups, filter=filter_text)
    return ok()


@route("list_connections", "GET", HUB + "/groups/{group}/connections", "2024-12-01")
def list_connections(ctx: RestContext) -> FakeResponse:
    """One page of group members, ordered by connection id; ``top`` caps the total across pages."""
    page_size = ctx.integer("maxpagesize", names.MAX_PAGE_SIZE_RANGE, DEFAULT_PAGE_SIZE)
    top = ctx.integer("top", names.TOP_RANGE)
    after = _decode_continuation(ctx.one("continuationToken"))
    members = ctx.service.group_members(ctx.params["hub"], ctx.params["group"])
    if after is not None:
        members = [member for member in members if member.connection_id > after]
    limit = page_size if top is None else min(page_size, top)
    page = members[:limit]
    payload: dict[str, Any] = {
        "value": [{"connectionId": member.connection_id, "userId": member.user_id} for member in page]
    }
    remaining = None if top is None else top - len(page)
    if len(members) > len(page) and remaining != 0:
        payload["nextLink"] = _next_link(ctx, page[-1].connection_id, page_size, remaining)
    return json_body(payload)


def _next_link(ctx: RestContext, last_id: str, page_size: int | None, top: int | None) -> str:
    query: dict[str, Any] = {"maxpagesize": page_size}
    if top is not None:
        query["top"] = top
    query["continuationToken"] = base64.urlsafe_b64encode(last_id.encode()).decode()
    query["api-version"] = ctx.one("api-version") or "2024-12-01"
    parts = urlsplit(ctx.request.url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def _decode_continuation(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        if not after:
            raise ValueError("empty continuation token")
        return after
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError(f"The continuation token '{token}' is not valid", target="continuationToken") from None


def _target(ctx: RestContext) -> str | None:
    return ctx.one("targetName")


@route("grant_permission", "PUT", HUB + "/permissions/{permission}/connections/{connectionId}")
def grant_permission(ctx: RestContext) -> FakeResponse:
    hub, permission, connection_id = ctx.params["hub"], ctx.params["permission"], ctx.params["connectionId"]
    ctx.service.grant_permission(hub, permission, connection_id, target=_target(ctx))
    return ok()


@route("revoke_permission", "DELETE", HUB + "/permissions/{permission}/connections/{connectionId}")
def revoke_permission(ctx: RestContext) -> FakeResponse:
    hub, permission, connection_id = ctx.params["hub"], ctx.params["permission"], ctx.params["connectionId"]
    ctx.service.revoke_permission(hub, permission, connection_id, target=_target(ctx))
    return no_content()


@route("has_permission", "HEAD", HUB + "/permissions/{permission}/connections/{connectionId}")
def has_permission(ctx: RestContext) -> FakeResponse:
    hub, permission, connection_id = ctx.params["hub"], ctx.params["permission"], ctx.params["connectionId"]
    target = _target(ctx)
    allowed = ctx.service.has_permission(hub, permission, connection_id, target=target)
    denied = NotFoundError("Permission", f"{permission}{'' if target is None else ' for ' + target}", level="Info")
    return exists(allowed, denied)


@route("get_client_access_token", "POST", HUB + "/:generateToken")
def get_client_access_token(ctx: RestContext) -> FakeResponse:
    """``:generateToken``: mint a client access token signed with the access key."""
    hub = ctx.params["hub"]
    names.check_hub(hub)
    minutes = ctx.integer("minutesToExpire", (names.MINUTES_TO_EXPIRE_MIN, None), 60)
    client_type = names.check_client_type(ctx.one("clientType") or "Default")
    groups = [names.check_group(group) for group in ctx.many("group")]
    token = _tokens.mint_client_token(
        endpoint=ctx.endpoint,
        hub=hub,
        key=ctx.signing_key,
        now=ctx.now,
        user_id=ctx.one("userId"),
        roles=ctx.many("role"),
        groups=groups,
        minutes_to_expire=minutes,
        client_type=client_type,
    )
    return json_body({"token": token}, content_length=False)
