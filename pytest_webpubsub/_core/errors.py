"""Domain errors of the fake service: a stable code, a message and a target, no HTTP status.

The adapters (``_rest``) decide how each kind is put on the wire; the core only says what went wrong.
"""

from __future__ import annotations


class WebPubSubError(Exception):
    """Base class of every error the fake service raises for a request it refuses."""

    code: str = "Error.BadRequest"
    target: str | None = None

    def __init__(self, message: str, *, code: str | None = None, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if target is not None:
            self.target = target


class BadRequestError(WebPubSubError):
    """The request is malformed: an invalid name, parameter, body or filter (HTTP 400)."""

    code = "Error.BadRequest"
    target = "Request"


class UnsupportedMediaTypeError(WebPubSubError):
    """The request body has a content type the service does not take (HTTP 415)."""

    code = "Error.UnsupportedMediaType"
    target = "Request"


class NotFoundError(WebPubSubError):
    """The named connection, user or group does not exist (HTTP 404).

    The service prefixes the code with a level that depends on the operation: ``Warning`` for the
    existence checks and user-to-group, ``Error`` for connection-to-group, ``Info`` for permissions.
    """

    def __init__(self, kind: str, name: str, *, level: str = "Warning") -> None:
        super().__init__(f"{kind} `{name}` is not found.", code=f"{level}.{kind}.NotExisted", target=kind)
        self.kind = kind
        self.name = name
        self.level = level


class ForbiddenError(WebPubSubError):
    """A client action its permissions do not allow (an ack with ``Forbidden``)."""

    code = "Forbidden"
    target = "Permission"


class UnauthorizedError(WebPubSubError):
    """A token was refused: bad signature, expired, wrong audience or missing (HTTP 401)."""

    code = "Error.Unauthorized"
    target = "Authorization"
