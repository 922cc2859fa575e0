"""The room service: join, leave and speak in rooms through the Web PubSub service SDK.

A user may be connected from several devices (connections). Joining a room is per device, and so is leaving:
the user's other devices stay in the room.
"""

from __future__ import annotations

from azure.messaging.webpubsubservice import WebPubSubServiceClient


class RoomService:
    """Rooms as Web PubSub groups of one hub."""

    def __init__(self, client: WebPubSubServiceClient) -> None:
        self._client = client

    def join(self, room: str, *, connection_id: str) -> None:
        """Put one device of a user in ``room``."""
        self._client.add_connection_to_group(room, connection_id)

    def leave(self, room: str, *, connection_id: str, user_id: str) -> None:
        """Take one device out of ``room``; the user's other devices stay."""
        self._client.remove_connection_from_group(room, connection_id)

    def say(self, room: str, text: str) -> None:
        """Send ``text`` to every device in ``room``."""
        self._client.send_to_group(room, text, content_type="text/plain")


class NaiveRoomService(RoomService):
    """The same service with a planted bug: ``leave`` takes *every* device of the user out of the room.

    It looks right in every test where a user has one device; the property test in ``tests/`` finds the
    interleaving where it is wrong (two devices of one user in a room, one leaves).
    """

    def leave(self, room: str, *, connection_id: str, user_id: str) -> None:
        self._client.remove_user_from_group(room, user_id)
