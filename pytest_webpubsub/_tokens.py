"""Bearer tokens as the service checks and mints them (service-behaviour §1.6, §1.8, §3), on an injected clock.

REST calls carry ``Authorization: Bearer <jwt>``. Which kind of token it is decides what is checked:

* **Key token**: an HS256 token whose signature one of the access keys verifies (what the SDKs mint from a
  connection string). Its ``aud`` must name the request URL: host (with port) and path, compared without the
  scheme, the query or a trailing slash, host case-insensitively.
* **Entra token**: any other token (any ``alg``, any ``kid``: Entra ID issues RS256) whose ``aud`` is the Web PubSub
  Entra audience, ``https://webpubsub.azure.com`` (the SDKs ask for the scope ``https://webpubsub.azure.com/.default``),
  with or without a trailing slash. The fake cannot check Microsoft's signature offline, so it does not.
* Anything else is refused: an HS256 token no access key verifies and that does not name the Entra audience, or
  a key token naming the Entra audience (a key token must name the request URL).

For both kinds, ``exp`` must be a finite number later than now and ``nbf``, when present, a finite number not later
than now. Every refusal is :class:`UnauthorizedError` (401) with the reason; no input raises anything else.

Client access URLs carry ``access_token`` (or a bearer header), always a key token; its ``aud`` names
``<host>/client/hubs/<hub>``.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import jwt

from ._core.errors import UnauthorizedError

ENTRA_AUDIENCES = ("https://webpubsub.azure.com", "https://webpubsub.azure.com/")
CLIENT_PATHS = {"Default": "/client/hubs/", "MQTT": "/clients/mqtt/hubs/", "SocketIO": "/clients/socketio/hubs/"}
_DECODE_OPTIONS: jwt.types.Options = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
}
_UNVERIFIED_OPTIONS: jwt.types.Options = {"verify_signature": False, **_DECODE_OPTIONS}
_NOT_SIGNED_WITH_KEY = (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError)
"""What a token not signed with this key raises: another key or another algorithm (an Entra token, maybe)."""


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
    return _parse(lambda: jwt.decode(token, key, algorithms=["HS256"], options=_DECODE_OPTIONS))


def _parse(decode: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """Run one PyJWT decode: the claims, None when the token is not signed with that key, else 401."""
    try:
        return decode()
    except _NOT_SIGNED_WITH_KEY:
        return None
    except jwt.InvalidTokenError as error:
        raise UnauthorizedError(f"The access token is not a valid JWT: {error}") from None
    except (ValueError, TypeError, RecursionError) as error:  # what PyJWT cannot read: lone surrogates, nesting
        raise UnauthorizedError(f"The access token is not a valid JWT: {type(error).__name__}") from None


def _time_claim(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UnauthorizedError(f"The access token's '{name}' claim is not a finite number: {value!r}")
    return float(value)


def _check_expiry(claims: dict[str, Any], now: float) -> tuple[float, float | None]:
    """``exp`` must be a finite number after ``now``; ``nbf``, when present, a finite number not after it.

    Returns both (``nbf`` None when absent) once they pass.
    """
    expires = _time_claim(claims, "exp")
    if expires is None:
        raise UnauthorizedError("The access token has no 'exp' claim")
    _check_expires(expires, now)
    not_before = _time_claim(claims, "nbf")
    _check_not_before(not_before, now)
    return expires, not_before


def _check_expires(expires: float, now: float) -> None:
    if now >= expires:
        raise UnauthorizedError(f"The access token expired at {expires:.0f} (now is {now:.0f})")


def _check_not_before(not_before: float | None, now: float) -> None:
    if not_before is not None and now < not_before:
        raise UnauthorizedError(f"The access token is not valid before {not_before:.0f} (now is {now:.0f})")


def verify_rest_token(authorization: str | None, *, url: str, keys: Sequence[str], now: float) -> None:
    """Check the bearer token of one REST call; raise :class:`UnauthorizedError` (401) with the reason."""
    _verify_rest_token(authorization, url=url, keys=keys, now=now)


def _verify_rest_token(
    authorization: str | None, *, url: str, keys: Sequence[str], now: float
) -> tuple[float, float | None]:
    """:func:`verify_rest_token`, returning the accepted token's ``exp`` and ``nbf`` (None when absent)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("The request has no 'Authorization: Bearer <token>' header")
    token = token.strip()
    claims = _decode(token, keys)
    if claims is None:  # not a key token: an Entra token, or refused
        unverified = _unverified_claims(token)
        audience = unverified.get("aud")
        if not isinstance(audience, str) or audience not in ENTRA_AUDIENCES:
            raise UnauthorizedError(
                "The access token signature does not match the access key, and its audience "
                f"{audience!r} is not the Entra ID audience '{ENTRA_AUDIENCES[0]}'"
            )
        return _check_expiry(unverified, now)
    window = _check_expiry(claims, now)
    audience = claims.get("aud")
    if not isinstance(audience, str) or _normalise(audience) != _normalise(url):
        raise UnauthorizedError(f"The audience {audience!r} of the access token does not match the request URL")
    return window


class RestTokenVerifier:
    """:func:`verify_rest_token` for one set of access keys, remembering the tokens it accepted.

    Everything the full check judges but the time depends only on the ``Authorization`` header, the URL and the
    keys: signature, kind, audience, and that ``exp`` (and ``nbf`` when present) are finite numbers. Once the full
    check accepts a header for a URL, later calls with both unchanged only judge ``exp`` and ``nbf`` against their
    ``now``, in the full check's order and with its messages, so the cache never accepts what the full check would
    refuse. Refusals are not remembered (each runs the full check). At most ``max_entries`` are kept, oldest
    forgotten first.
    """

    __slots__ = ("_accepted", "_keys", "_max_entries")

    def __init__(self, keys: Sequence[str], *, max_entries: int = 256) -> None:
        self._keys = tuple(keys)
        self._max_entries = max_entries
        self._accepted: dict[tuple[str, str], tuple[float, float | None]] = {}

    def __call__(self, authorization: str | None, *, url: str, now: float) -> None:
        """Check the bearer token of one REST call; raise :class:`UnauthorizedError` (401) with the reason."""
        if authorization is None:
            verify_rest_token(authorization, url=url, keys=self._keys, now=now)
            return
        key = (authorization, url)
        window = self._accepted.get(key)
        if window is None:
            window = _verify_rest_token(authorization, url=url, keys=self._keys, now=now)
            if len(self._accepted) >= self._max_entries:
                self._accepted.pop(next(iter(self._accepted)), None)
            self._accepted[key] = window
            return
        expires, not_before = window
        if now >= expires or (not_before is not None and now < not_before):  # refused: say why, as the full check
            _check_expires(expires, now)
            _check_not_before(not_before, now)


def _unverified_claims(token: str) -> dict[str, Any]:
    claims = _parse(lambda: jwt.decode(token, options=_UNVERIFIED_OPTIONS))
    assert claims is not None  # nothing is verified, so nothing can fail to be signed with a key
    return claims


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
