"""Neutral HTTP records shared by every adapter (azure-core, httpx, a live server)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import SplitResult, parse_qsl, urlsplit


@dataclass(frozen=True)
class FakeRequest:
    """One HTTP request as the fake service sees it, whatever client sent it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> None:
        # What the generated __init__ of a frozen dataclass does, without its object.__setattr__ call per field
        # (one record per REST call): the fields go straight into the instance dict.
        fields = self.__dict__
        fields["method"] = method
        fields["url"] = url
        fields["headers"] = headers
        fields["body"] = body

    @cached_property
    def parts(self) -> SplitResult:
        """The URL split into scheme, host, path, query and fragment (computed once)."""
        return urlsplit(self.url)

    def header(self, name: str) -> str | None:
        """Return a header value, matching the name case-insensitively.

        A scan rather than a cached lower-cased copy: every request is kept in ``rest_calls``, and a copy of its
        headers would be kept with it (about 600 bytes a call), for the two or three lookups dispatch makes.
        """
        exact = self.headers.get(name)  # the usual spelling first: SDKs send "Authorization", "Content-Type"
        if exact is not None:
            return exact
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def query(self) -> list[tuple[str, str]]:
        """Return the decoded query parameters in order, repeated keys kept."""
        return parse_qsl(self.parts.query, keep_blank_values=True)


@dataclass(frozen=True)
class FakeResponse:
    """One HTTP answer of the fake service."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def reason(self) -> str:
        """The reason phrase of the status (empty for an unusual status)."""
        return _REASONS.get(self.status_code, "")


_REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
