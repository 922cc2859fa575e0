"""The server side: negotiates client URLs and publishes quotes with the official service SDK."""

from __future__ import annotations

import os

from azure.messaging.webpubsubservice import WebPubSubServiceClient

HUB = "ticker"


def group_of(symbol: str) -> str:
    """The Web PubSub group a symbol's quotes are published to."""
    return f"quotes-{symbol.lower()}"


class TickerServer:
    """Built from ``WEBPUBSUB_CONNECTION_STRING``, like in production; it knows nothing about tests."""

    def __init__(self) -> None:
        self.client = WebPubSubServiceClient.from_connection_string(os.environ["WEBPUBSUB_CONNECTION_STRING"], hub=HUB)

    def negotiate(self, user_id: str, *, minutes: int = 60) -> str:
        """The URL a browser or a script opens: it may join and leave quote groups, nothing else."""
        token = self.client.get_client_access_token(
            user_id=user_id, roles=["webpubsub.joinLeaveGroup"], minutes_to_expire=minutes
        )
        return str(token["url"])

    def publish(self, symbol: str, price: float) -> None:
        """Send one quote to everyone watching ``symbol``."""
        self.client.send_to_group(group_of(symbol), {"symbol": symbol, "price": price})

    def halt(self, user_id: str, reason: str) -> None:
        """Disconnect every connection of ``user_id``."""
        self.client.close_user_connections(user_id, reason=reason)
