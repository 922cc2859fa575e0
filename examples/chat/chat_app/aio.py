"""Async variants for asyncio web frameworks, on the SDK's ``aio`` client (azure-core's aiohttp transport)."""

from __future__ import annotations

from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from .service import settings


def _client() -> WebPubSubServiceClient:
    connection_string, hub = settings()
    return WebPubSubServiceClient.from_connection_string(connection_string, hub=hub)


async def post_to_room_async(room: str, author: str, text: str) -> None:
    """Same as :meth:`ChatService.post_to_room`, without blocking the event loop."""
    async with _client() as client:
        await client.send_to_group(room, {"author": author, "text": text})


async def who_is_in_async(room: str) -> list[str]:
    """Same as :meth:`ChatService.who_is_in`, paging with ``async for``."""
    async with _client() as client:
        return sorted({member.user_id async for member in client.list_connections(group=room) if member.user_id})
