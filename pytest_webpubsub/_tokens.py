"""HS256 tokens as the service checks and mints them (service-behaviour §1.6, §1.8, §3), on an injected clock.

* REST calls carry ``Authorization: Bearer <jwt>`` signed with the access key; ``aud`` is the request URL.
  The service checks the signature, ``exp`` and the audience's host and path (query and scheme ignored).
* Entra ID (TokenCredential) calls carry a bearer token for the audience ``https://webpubsub.azure.com``;
  the fake cannot check Microsoft's signature, so it checks only that audience and ``exp``.
* Client access URLs carry ``access_token``; its ``aud`` names ``<host>/client/hubs/<hub>``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit

import jwt

from ._core.errors import UnauthorizedError

ENTRA_AUDIENCES = ("https://webpubsub.azure.com", "https://webpubsub.azure.com/")
CLIENT_PATHS = {"Default": "/client/hubs/", "MQTT": "/clients/mqtt/hubs/", "SocketIO": "/clients/socketio/hubs/"}
_DECODE_OPTIONS = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}


@dataclass(frozen=True)
class ClientIdentity:
    """What a verified client access token grants: the hub it names, user, roles, groups and all claims."""

    hub: str
    user_id: str | None
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    claims: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def _normalise(url: str) -> tuple[str, str]:
    """Reduce a URL to what the service compares: lower-cased host with port, path without trailing slash."""
    parts = urlsplit(url)
    return parts.netloc.lower(), parts.path.rstrip("/")


def _decode(token: str, keys: Sequence[str]) -> dict[str, Any] | None:
    """The claims of ``token`` if one of ``keys`` signed it, else None; 401 for a malformed token."""
    for key in keys:
        claims = _verified_claims(token, key)
        if claims is not None:
            return dict(claims)
    return None


@functools.lru_cache(maxsize=1024)
def _verified_claims(token: str, key: str) -> dict[str, Any] | None:
    """Check the HS256 signature once per (token, key): the SDK reuses a token for a whole second."""
    try:
        return jwt.decode(token, key, algorithms=["HS256"], options=_DECODE_OPTIONS)
    except jwt.InvalidSignatureError:
        return None
    except jwt.InvalidTokenError as error:
        raise UnauthorizedError(f"The access token is not a valid JWT: {error}") from None


def _check_expiry(claims: dict[str, Any], now: float) -> None:
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)):
        raise UnauthorizedError("The access token has no 'exp' claim")
    if now >= expires:
        raise UnauthorizedError(f"The access token expired at {int(expires)} (now is {int(now)})")


def verify_rest_token(authorization: str | None, *, url: str, keys: Sequence[str], now: float) -> None:
    """Check the bearer token of one REST call; raise :class:`UnauthorizedError` (401) with the reason."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("The request has no 'Authorization: Bearer <token>' header")
    token = token.strip()
    claims = _decode(token, keys)
    if claims is None:
        unverified = _unverified_claims(token)
        if unverified.get("aud") not in ENTRA_AUDIENCES:
            raise UnauthorizedError("The access token signature does not match the access key")
        _check_expiry(unverified, now)
        return
    _check_expiry(claims, now)
    audience = claims.get("aud")
    if not isinstance(audience, str) or _normalise(audience) != _normalise(url):
        raise UnauthorizedError(f"The audience '{audience}' of the access token does not match the request URL")


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, options={"verify_signature": False, **_DECODE_OPTIONS})
    except jwt.InvalidTokenError as error:
        raise UnauthorizedError(f"The access token is not a valid JWT: {error}") from None


def mint_client_token(
    *,
    endpoint: str,
    hub: str,
    key: str,
    now: float,
    user_id: str | None = None,
    roles: Sequence[str] = (),
    groups: Sequence[str] = (),
    minutes_to_expire: int = 60,
    client_type: str = "Default",
) -> str:
    """Mint a client access token the way ``:generateToken`` does (``kid``, ``iss``, ``nbf``/``iat``/``exp``)."""
    issued = int(now)
    claims: dict[str, Any] = {
        "nbf": issued,
        "exp": issued + minutes_to_expire * 60,
        "iat": issued,
        "aud": endpoint.rstrip("/").lower() + CLIENT_PATHS[client_type] + hub,
        "iss": "https://webpubsub.azure.com",
    }
    if user_id:
        claims["sub"] = user_id
    if roles:
        claims["role"] = list(roles)
    if groups:
        claims["webpubsub.group"] = list(groups)
    kid = "s-" + str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


def verify_client_url(
    url: str, *, keys: Sequence[str], now: float, authorization: str | None = None
) -> ClientIdentity:
    """Check a client access URL (``wss://host/client/hubs/<hub>?access_token=...``) like the upgrade does.

    The token may also come in an ``Authorization: Bearer`` header. Raises :class:`UnauthorizedError` (401).
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    path = parts.path.rstrip("/")
    prefix = CLIENT_PATHS["Default"]
    if path.startswith(prefix) and len(path) > len(prefix):
        hub = path[len(prefix) :]
    elif path == "/client" and query.get("hub"):
        hub = query["hub"][0]
        path = prefix + hub
    else:
        raise UnauthorizedError(f"'{parts.path}' is not a client endpoint: expected /client/hubs/<hub>")
    tokens = query.get("access_token") or []
    if not tokens and authorization and authorization.lower().startswith("bearer "):
        tokens = [authorization[7:].strip()]
    if not tokens:
        raise UnauthorizedError("The client URL has no access_token and anonymous connections are denied")
    claims = _decode(tokens[0], keys)
    if claims is None:
        raise UnauthorizedError("The access token signature does not match the access key")
    _check_expiry(claims, now)
    audience = claims.get("aud")
    expected = (parts.netloc.lower(), path.lower())
    if not isinstance(audience, str):
        raise UnauthorizedError("The access token has no 'aud' claim")
    host, audience_path = _normalise(audience)
    if (host, audience_path.lower()) != expected:
        raise UnauthorizedError(
            f"The audience '{audience}' of the access token does not match '{parts.netloc}{path}'"
        )
    subject = claims.get("sub")
    return ClientIdentity(
        hub=hub,
        user_id=str(subject) if subject else None,
        roles=_as_tuple(claims.get("role")),
        groups=_as_tuple(claims.get("webpubsub.group")),
        claims=claims,
    )
