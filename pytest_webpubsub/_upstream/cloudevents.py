"""The service's CloudEvents, built and read: pure functions, no I/O (docs/service-behaviour.md §6).

Requests are CloudEvents in binary mode: the attributes in ``ce-*`` headers, the data as the body. Answers are
read the way the service reads them: a ``connect`` answer becomes a :class:`ConnectDecision`, a user event's a
:class:`UserEventResult`, a validation answer passes or says what was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .._core.model import DataType, Message
from .records import (
    ConnectDecision,
    ConnectEvent,
    ConnectionInfo,
    UpstreamCall,
    UpstreamRequest,
    UpstreamResponse,
    UserEventResult,
)

SYSTEM_EVENTS = ("connect", "connected", "disconnected")
VALIDATE = "validate"
SYSTEM_CONTENT_TYPE = "application/json; charset=utf-8"
USER_CONTENT_TYPES: dict[DataType, str] = {
    "text": "text/plain",
    "json": "application/json",
    "binary": "application/octet-stream",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_template(url_template: str) -> str:
    """Return ``url_template`` if the service would accept it as a hub setting, else raise ``ValueError``.

    An http(s) URL; ``{hub}`` and ``{event}`` are the only parameters, and not in the host.
    """
    if not isinstance(url_template, str):
        raise TypeError(f"url_template must be a str, got {type(url_template).__name__}")
    for name in _PLACEHOLDER.findall(url_template):
        if name not in ("hub", "event"):
            raise ValueError(f"url_template={url_template!r}: unknown parameter {{{name}}}; use {{hub}} and {{event}}")
    scheme, _, rest = url_template.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if scheme.lower() not in ("http", "https") or not authority:
        raise ValueError(f"url_template={url_template!r} must be an http(s) URL such as 'http://localhost/eventhandler'")
    if "{" in authority or "}" in authority:
        raise ValueError(f"url_template={url_template!r}: {{hub}} and {{event}} are not allowed in the host")
    return url_template


def resolve(url_template: str, hub: str, event: str) -> str:
    """The URL of one event: ``{hub}`` is the lower-cased hub (as ``ce-hub``), ``{event}`` the event name."""
    return url_template.replace("{hub}", quote(hub.lower(), safe="")).replace("{event}", quote(event, safe=""))


def signature(access_keys: Sequence[str], connection_id: str) -> str:
    """``ce-signature``: ``sha256=<hex HMAC-SHA256(key, connection id)>`` for each access key, comma-separated."""
    message = connection_id.encode("utf-8")
    return ",".join(
        "sha256=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest() for key in access_keys
    )


def cloud_time(seconds: float) -> str:
    """``ce-time``: UTC, e.g. ``2021-01-01T00:00:00Z``."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_request(url_template: str, hub: str, host: str) -> UpstreamRequest:
    """The abuse-protection probe: ``OPTIONS`` with ``{event}`` = ``validate``."""
    headers = {"WebHook-Request-Origin": host, "ce-awpsversion": "1.0"}
    return UpstreamRequest("OPTIONS", resolve(url_template, hub, VALIDATE), headers)


def validation_problem(response: UpstreamResponse | None, host: str) -> str | None:
    """Why an answer to the probe fails the handshake, or None when it passes."""
    if response is None:
        return "no answer"
    allowed = response.headers.get("WebHook-Allowed-Origin")
    if not 200 <= response.status <= 299:
        return f"status {response.status} (expected 2xx)"
    if allowed is None:
        return "no WebHook-Allowed-Origin header"
    if allowed.strip() != "*" and allowed.strip().lower() != host.lower():
        return f"WebHook-Allowed-Origin: {allowed!r} (expected '*' or {host!r})"
    return None


def event_request(
    url: str,
    *,
    host: str,
    access_keys: Sequence[str],
    connection: ConnectionInfo,
    event: str,
    system: bool,
    event_id: int,
    time: float,
    state: str | None,
    content_type: str,
    body: bytes,
) -> UpstreamRequest:
    """One event as the service POSTs it, with exactly the service's headers in the service's order."""
    kind = "sys" if system else "user"
    headers = {
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": f"azure.webpubsub.{kind}.{event}",
        "ce-source": f"/hubs/{connection.hub.lower()}/client/{connection.connection_id}",
        "ce-id": str(event_id),
        "ce-time": cloud_time(time),
        "ce-hub": connection.hub.lower(),
        "ce-connectionId": connection.connection_id,
        "ce-eventName": event,
    }
    if connection.user_id is not None:
        headers["ce-userId"] = connection.user_id
    if connection.subprotocol:
        headers["ce-subprotocol"] = connection.subprotocol
    if state:
        headers["ce-connectionState"] = state
    headers["ce-signature"] = signature(access_keys, connection.connection_id)
    headers["WebHook-Request-Origin"] = host
    headers["Content-Type"] = content_type
    return UpstreamRequest("POST", url, headers, body)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _values(mapping: Mapping[str, Sequence[str]], *, drop: str) -> dict[str, list[str]]:
    return {
        name: [values] if isinstance(values, str) else list(values)
        for name, values in mapping.items()
        if name.lower() != drop
    }


def claim_values(claims: Mapping[str, Any]) -> dict[str, list[str]]:
    """A token's claims as the ``connect`` event carries them: every claim, each as a list of strings
    (``role: "a"`` and ``role: ["a"]`` both become ``["a"]``; numbers and booleans as JSON writes them)."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    return {
        name: [text(item) for item in value] if isinstance(value, (list, tuple)) else [text(value)]
        for name, value in claims.items()
    }


def connect_body(event: ConnectEvent) -> bytes:
    """The ``connect`` event's body: claims, query (without ``access_token``), headers (without
    ``Authorization``), subprotocols, clientCertificates; every map is name -> list of strings."""
    return _dump(
        {
            "claims": _values(event.claims, drop=""),
            "query": {name: values for name, values in _values(event.query, drop="").items() if name != "access_token"},
            "headers": _values(event.headers, drop="authorization"),
            "subprotocols": list(event.subprotocols),
            "clientCertificates": [dict(certificate) for certificate in event.client_certificates],
        }
    )


def disconnected_body(reason: str | None) -> bytes:
    """The ``disconnected`` event's body: ``{"reason": ...}`` (null when the close gave none)."""
    return _dump({"reason": reason})


CONNECTED_BODY = b"{}"


def _failure(call: UpstreamCall) -> str:
    if call.response is None:
        first = (call.error or "no answer").strip().splitlines()[-1]
        return f"the {call.event} event handler gave no answer ({first})"
    return f"the {call.event} event handler answered {call.response.status}"


def connect_decision(call: UpstreamCall, offered: Sequence[str]) -> ConnectDecision:
    """Read the ``connect`` answer: 2xx accepts (a JSON body may set userId, groups, roles, subprotocol),
    4xx refuses with that status, anything else refuses with 500."""
    response = call.response
    if response is None or not 200 <= response.status <= 299:
        status = response.status if response is not None and 400 <= response.status <= 499 else 500
        return ConnectDecision(False, status, _failure(call))
    if not response.body.strip():
        return ConnectDecision(True, response.status)
    try:
        answer = response.json()
    except (ValueError, RecursionError):
        return ConnectDecision(False, 500, "the connect event handler answered a body that is not JSON")
    if not isinstance(answer, dict):
        return ConnectDecision(False, 500, "the connect event handler answered JSON that is not an object")
    problem = _connect_problem(answer, offered)
    if problem is not None:
        return ConnectDecision(False, 500, f"the connect event handler answered {problem}")
    groups = answer.get("groups")
    roles = answer.get("roles")
    return ConnectDecision(
        True,
        response.status,
        user_id=answer.get("userId"),
        groups=tuple(groups) if groups else None,  # only a non-empty list replaces the token's groups
        roles=tuple(roles) if roles is not None else None,  # an empty list removes the token's roles
        subprotocol=answer.get("subprotocol") or None,
    )


def _connect_problem(answer: dict[str, Any], offered: Sequence[str]) -> str | None:
    user_id = answer.get("userId")
    if user_id is not None and (not isinstance(user_id, str) or not user_id):
        return f"userId {user_id!r} (expected a non-empty string)"
    for name in ("groups", "roles"):
        value = answer.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)):
            return f"{name} {value!r} (expected a list of non-empty strings)"
    subprotocol = answer.get("subprotocol")
    if subprotocol is not None and subprotocol != "" and subprotocol not in offered:
        return f"subprotocol {subprotocol!r}, which the client did not offer ({', '.join(offered) or 'none'})"
    return None


def reply_data_type(content_type: str | None) -> DataType:
    """The data type of a user event's reply: ``text/*`` is text, JSON is json, anything else binary."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media.startswith("text/"):
        return "text"
    return "binary"


def user_event_result(call: UpstreamCall) -> UserEventResult:
    """Read a user event's answer: 2xx with a body is the reply, 2xx without one is nothing, else a failure."""
    response = call.response
    if response is None or not 200 <= response.status <= 299:
        return UserEventResult(False, error=_failure(call))
    if not response.body:
        return UserEventResult(True)
    data_type = reply_data_type(response.headers.get("Content-Type"))
    try:
        if data_type == "json":
            json.loads(response.body.decode("utf-8"))
        elif data_type == "text":
            response.body.decode("utf-8")
    except (ValueError, RecursionError):
        problem = f"the {call.event} event handler answered a {data_type} body that is not valid"
        return UserEventResult(False, error=problem)
    return UserEventResult(True, Message(response.body, data_type))


def to_message(data: Any, data_type: str) -> Message:
    """A user event's payload: ``text`` from a str, ``json`` from any JSON value (bytes: the JSON text itself),
    ``binary`` from bytes."""
    if data_type == "text":
        if isinstance(data, (bytes, bytearray)):
            return Message(bytes(data), "text")
        if not isinstance(data, str) and data is not None:
            raise TypeError(f"data_type='text' needs str data, got {type(data).__name__}")
        return Message((data or "").encode("utf-8"), "text")
    if data_type == "json":
        if isinstance(data, (bytes, bytearray)):
            return Message(bytes(data), "json")
        return Message(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), "json")
    if data_type == "binary":
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview, type(None))):
            raise TypeError(f"data_type='binary' needs bytes data, got {type(data).__name__}")
        return Message(bytes(data or b""), "binary")
    raise ValueError(f"data_type={data_type!r} must be text, json or binary")
