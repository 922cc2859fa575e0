"""The one options object of the fake, with the one set of defaults the fixture, marker, ini keys and
context manager all share."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from ._core.clock import FakeClock
from ._core.names import HUB_PATTERN

DEFAULT_ENDPOINT = "https://fake.webpubsub.azure.com"
DEFAULT_ACCESS_KEY = "cHl0ZXN0LXdlYnB1YnN1Yi1mYWtlLWFjY2Vzcy1rZXktMDAwMDE="
"""44 characters, like a real key; at least 32 bytes so PyJWT signs without an InsecureKeyLengthWarning."""


@dataclass(frozen=True)
class Options:
    """How a :class:`FakeWebPubSub` is set up. Every field is keyword-only in practice and validated.

    * ``endpoint``: the fake resource's URL; the SDK clients built for this host reach the fake.
    * ``access_key``: the key in the connection string; tokens signed with it are accepted.
    * ``hub``: the hub name exported to ``hub_env`` and used by ``service_client()`` by default.
    * ``connection_string_env`` / ``hub_env``: environment variables to set while the fake is active (the pytest
      plugin also sets the ini's ones for the whole session).
    * ``reverse_proxy_endpoint``: an API gateway in front of the resource (the SDK's ``reverse_proxy_endpoint``);
      requests to it are forwarded to the fake, with the gateway's URL prefix replaced by the endpoint.
    * ``fail_on_unowned_hosts``: the fixture fails a test during which a seam refused an Azure host no fake owns,
      even when the application swallowed the error (turn it off for tests of that refusal itself).
    * ``upstream_timeout``: seconds an event handler may take to answer (real HTTP calls and in-process ASGI
      apps); one that has not answered by then counts as failed (500).
    * ``fail_on_upstream_errors``: the fixture fails a test during which an event handler call failed (an
      exception escaped the app, or it did not answer in time), even when the service's answer was what the test
      expected (turn it off for tests of those failures themselves).
    * ``fail_on_unused_faults``: the fixture fails a test that ends with injected faults no call consumed (a
      fault the test expected to hit, but nothing reached it).
    * ``max_deliveries`` / ``max_rest_calls``: keep only the most recent deliveries / REST calls for assertions
      (None: all of them); the counts ``delivery_count`` / ``rest_call_count`` still count every one. For long
      property-based runs, together with ``clear_records()``.
    * ``clock``: the fake's one clock (POSIX seconds): token expiry, minted tokens and the reliable recovery
      window read it. Any callable is wrapped in a :class:`FakeClock` (its source), so ``clock.advance()`` and
      ``FakeWebPubSub.advance()`` work whatever was given; the default reads ``time.time()`` at every call.
    * ``id_seed``: seeds the deterministic connection ids.
    """

    endpoint: str = DEFAULT_ENDPOINT
    access_key: str = DEFAULT_ACCESS_KEY
    hub: str = "hub"
    connection_string_env: str | None = None
    hub_env: str | None = None
    reverse_proxy_endpoint: str | None = None
    fail_on_unowned_hosts: bool = True
    upstream_timeout: float = 10.0
    fail_on_upstream_errors: bool = True
    fail_on_unused_faults: bool = True
    max_deliveries: Optional[int] = None
    max_rest_calls: Optional[int] = None
    clock: Callable[[], float] = field(default_factory=FakeClock)
    id_seed: str = "pytest-webpubsub"

    def __post_init__(self) -> None:
        if not isinstance(self.clock, FakeClock):
            if not callable(self.clock):
                raise ValueError(f"clock={self.clock!r} must be a callable returning POSIX seconds")
            object.__setattr__(self, "clock", FakeClock(self.clock))
        scheme, _, rest = self.endpoint.partition("://")
        if scheme not in ("http", "https") or not rest.strip("/"):
            raise ValueError(f"endpoint={self.endpoint!r} must be an http(s) URL such as {DEFAULT_ENDPOINT!r}")
        if self.reverse_proxy_endpoint is not None:
            proxy_scheme, _, proxy_rest = self.reverse_proxy_endpoint.partition("://")
            if proxy_scheme not in ("http", "https") or not proxy_rest.strip("/"):
                raise ValueError(f"reverse_proxy_endpoint={self.reverse_proxy_endpoint!r} must be an http(s) URL")
        if not self.access_key:
            raise ValueError("access_key must not be empty")
        if not isinstance(self.hub, str) or not HUB_PATTERN.fullmatch(self.hub):
            raise ValueError(
                f"hub={self.hub!r} must be a hub name: a letter, then up to 127 letters, digits and _`,.[]"
            )
        if isinstance(self.upstream_timeout, bool) or not isinstance(self.upstream_timeout, (int, float)) or not (
            0 < self.upstream_timeout < float("inf")
        ):
            raise ValueError(f"upstream_timeout={self.upstream_timeout!r} must be a positive number of seconds")
        for flag in ("fail_on_upstream_errors", "fail_on_unused_faults", "fail_on_unowned_hosts"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag}={getattr(self, flag)!r} must be True or False")
        for bound in ("max_deliveries", "max_rest_calls"):
            value = getattr(self, bound)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{bound}={value!r} must be None or a whole number >= 0")
        for name in ("connection_string_env", "hub_env"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name}={value!r} must be a non-empty environment variable name or None")

    @property
    def connection_string(self) -> str:
        """``Endpoint=...;AccessKey=...;Version=1.0;``, as the portal shows it (a port, if any, as ``Port=``)."""
        parts = urlsplit(self.endpoint.rstrip("/"))
        port = f"Port={parts.port};" if parts.port else ""
        return f"Endpoint={parts.scheme}://{parts.hostname}{parts.path};AccessKey={self.access_key};{port}Version=1.0;"

    def environment(self) -> dict[str, str]:
        """The environment variables these options export: ``connection_string_env`` and ``hub_env``, if set."""
        exported = {self.connection_string_env: self.connection_string, self.hub_env: self.hub}
        return {name: value for name, value in exported.items() if name}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return _FIELD_NAMES

    def merged(self, overrides: Mapping[str, Any]) -> Options:
        """A copy with ``overrides`` applied; unknown names raise ``TypeError`` listing the valid ones."""
        if not overrides:
            return self  # frozen: the same options
        unknown = overrides.keys() - _FIELD_SET
        if unknown:
            valid = ", ".join(_FIELD_NAMES)
            raise TypeError(f"unknown pytest-webpubsub option(s) {', '.join(sorted(unknown))}; valid options: {valid}")
        return type(self)(**{**vars(self), **overrides})  # dataclasses.replace, without its per-call field walk


_FIELD_NAMES = tuple(field.name for field in dataclasses.fields(Options))
_FIELD_SET = frozenset(_FIELD_NAMES)
