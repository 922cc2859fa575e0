"""A price ticker on Azure Web PubSub: the server publishes quotes, clients watch them over raw WebSockets."""

from .client import Quote, SubscriptionRefused, watch
from .server import TickerServer

__all__ = ["Quote", "SubscriptionRefused", "TickerServer", "watch"]
