"""Chat rooms on Azure Web PubSub: a room is a group, and a user is in a room on each device that joined it."""

from .service import NaiveRoomService, RoomService

__all__ = ["NaiveRoomService", "RoomService"]
