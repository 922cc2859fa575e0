"""Injected transport failures: what a seam raises, in its library's own terms, instead of an answer.

``webpubsub.inject_fault(error="connection" | "timeout")`` makes the REST surface raise :class:`InjectedFailure`
for the chosen calls; each REST seam turns it into the exception its library raises for that failure, so the SDK's
real retry policy is what the application experiences:

| kind | azure-core (sync and aio) | httpx |
| --- | --- | --- |
| ``connection`` | ``ServiceRequestError`` (the request never reached the service) | ``httpx.ConnectError`` |
| ``timeout`` | ``ServiceResponseError`` (sent, no answer in time) | ``httpx.ReadTimeout`` |
"""

from __future__ import annotations

from typing import Literal

FailureKind = Literal["connection", "timeout"]
FAILURE_KINDS: tuple[FailureKind, ...] = ("connection", "timeout")


class InjectedFailure(Exception):
    """An injected connection failure or timeout for one REST call (never reaches application code as such)."""

    def __init__(self, kind: FailureKind, operation: str) -> None:
        self.kind = kind
        self.operation = operation
        what = "could not connect" if kind == "connection" else "timed out waiting for the answer"
        super().__init__(f"pytest-webpubsub: injected fault: {operation} {what}")
