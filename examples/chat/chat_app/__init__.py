"""A small chat backend on Azure Web PubSub (the example app that pytest-webpubsub tests)."""

from .service import ChatService

__all__ = ["ChatService"]
