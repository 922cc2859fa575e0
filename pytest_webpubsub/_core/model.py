"""Records the core emits: messages as they were sent, one send shared by its recipients, and each delivery of
one message to one connection (built from a send when read)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, NamedTuple

from . import jsontext

DataType = Literal["text", "json", "binary"]
Source = Literal["server", "group"]


@dataclass(frozen=True)
class Message:
    """A payload with the data type the sender gave it (REST content type or JSON-protocol ``dataType``).

    ``payload`` holds the exact bytes: UTF-8 text for ``text``, the JSON text for ``json``, raw bytes for
    ``binary``.
    """

    payload: bytes
    data_type: DataType

    def __init__(self, payload: bytes, data_type: DataType) -> None:
        # The generated __init__ of a frozen dataclass, without its object.__setattr__ call per field (one message
        # per send): the fields go straight into the instance dict.
        fields = self.__dict__
        fields["payload"] = payload
        fields["data_type"] = data_type

    @cached_property
    def value(self) -> Any:
        """The payload as a client library would hand it over: ``str``, parsed JSON or ``bytes`` (parsed once)."""
        if self.data_type == "binary":
            return self.payload
        text = self.payload.decode("utf-8")
        return jsontext.loads(text) if self.data_type == "json" else text


class Send(NamedTuple):
    """One message sent once, in one hub: the record every recipient of that send shares.

    Fan-out hands this one object to every connection it reaches (no per-recipient record is built while
    sending); the per-recipient :class:`Delivery` is made from it when the log is read.
    """

    hub: str
    message: Message
    source: Source
    group: str | None = None
    from_user_id: str | None = None

    def to(self, connection_id: str, user_id: str | None) -> Delivery:
        """This send as delivered to one connection."""
        return Delivery(self.hub, connection_id, user_id, self.message, self.source, self.group, self.from_user_id)


class Delivery(NamedTuple):
    """One message delivered to one connection, in the order the service wrote it (an immutable record)."""

    hub: str
    connection_id: str
    user_id: str | None
    message: Message
    source: Source
    group: str | None = None
    from_user_id: str | None = None

    @property
    def data(self) -> Any:
        return self.message.value

    @property
    def data_type(self) -> DataType:
        return self.message.data_type
