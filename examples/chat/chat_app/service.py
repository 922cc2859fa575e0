"""The chat backend: every feature is one call of the official Web PubSub service SDK.

The app builds its own ``WebPubSubServiceClient`` from ``WEBPUBSUB_CONNECTION_STRING`` and the hub name in
``WEBPUBSUB_HUB`` (default ``chat``). It knows nothing about tests: in production the variables point at a
real resource, under pytest the ``webpubsub`` fixture exports a fake's connection string.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from azure.core.exceptions import ResourceNotFoundError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

DEFAULT_HUB = "chat"
ADMIN_FILTER = "startswith(userId, 'admin-')"


def settings() -> tuple[str, str]:
    """The connection string and hub name from the environment."""
    try:
        connection_string = os.environ["WEBPUBSUB_CONNECTION_STRING"]
    except KeyError:
        raise RuntimeError("set WEBPUBSUB_CONNECTION_STRING to the Web PubSub resource's connection string") from None
    return connection_string, os.environ.get("WEBPUBSUB_HUB", DEFAULT_HUB)


class ChatService:
    """Rooms are Web PubSub groups; users are Web PubSub user ids."""

    def __init__(self) -> None:
        connection_string, self.hub = settings()
        self.client = WebPubSubServiceClient.from_connection_string(connection_string, hub=self.hub)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ChatService:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def issue_client_url(self, user_id: str, rooms: Iterable[str]) -> str:
        """The URL a browser connects to: joined to ``rooms``, allowed to post and join/leave only there."""
        rooms = list(rooms)
        roles = [role for room in rooms for role in (f"webpubsub.joinLeaveGroup.{room}", f"webpubsub.sendToGroup.{room}")]
        return self.client.get_client_access_token(user_id=user_id, roles=roles, groups=rooms)["url"]

    def post_to_room(self, room: str, author: str, text: str) -> None:
        """A chat message, as JSON, to everyone in ``room``."""
        self.client.send_to_group(room, {"author": author, "text": text})

    def broadcast_except(self, room: str, text: str, excluded_connection_ids: Iterable[str]) -> None:
        """A plain-text notice to ``room``, skipping some connections (e.g. the sender's own)."""
        self.client.send_to_group(room, text, content_type="text/plain", excluded=list(excluded_connection_ids))

    def announce(self, text: str) -> None:
        """A plain-text announcement to every connection of the hub."""
        self.client.send_to_all(text, content_type="text/plain")

    def notify_admins(self, text: str) -> None:
        """A plain-text alert to the connections of users whose id starts with ``admin-``."""
        self.client.send_to_all(text, content_type="text/plain", filter=ADMIN_FILTER)

    def direct_message(self, to_user: str, from_user: str, text: str) -> None:
        """A private JSON message to every connection of ``to_user``."""
        self.client.send_to_user(to_user, {"from": from_user, "text": text})

    def kick(self, user_id: str, reason: str) -> None:
        """Disconnect every connection of ``user_id``; PubSub clients are told the reason."""
        self.client.close_user_connections(user_id, reason=reason)

    def move_user(self, user_id: str, from_room: str, to_room: str) -> bool:
        """Move a user's connections between rooms; False when the user has no connection (offline)."""
        self.client.remove_user_from_group(from_room, user_id)
        try:
            self.client.add_user_to_group(to_room, user_id)
        except ResourceNotFoundError:
            return False
        return True

    def who_is_in(self, room: str) -> list[str]:
        """The signed-in users in ``room``, sorted, each once (anonymous connections are skipped)."""
        members = self.client.list_connections(group=room)
        return sorted({member.user_id for member in members if member.user_id})

    def mute(self, connection_id: str, room: str) -> None:
        """Stop one connection from posting to ``room`` (it still receives the room's messages)."""
        self.client.revoke_permission("sendToGroup", connection_id, target_name=room)

    def can_post(self, connection_id: str, room: str) -> bool:
        return self.client.has_permission("sendToGroup", connection_id, target_name=room)
