"""Helpers for driving the official service SDK (sync and ``aio``) against the fake.

``Sdk`` wraps one ``WebPubSubServiceClient`` so a test calls every flavour the same way:
``await sdk.send_to_all(...)`` awaits the aio client and simply calls the sync one.
"""

from __future__ import annotations

import inspect
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import jwt
from azure.core.credentials import AccessToken
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AioWebPubSubServiceClient

from pytest_webpubsub import FakeClientConnection, FakeWebPubSub

HUB = "chat"
ENTRA_AUDIENCE = "https://webpubsub.azure.com"
ENTRA_SCOPE = "https://webpubsub.azure.com/.default"
_ENTRA_SIGNING_KEY = "a-key-only-microsoft-entra-would-know-0123456789"

FLAVOURS = ("sync", "aio")
AUTHS = ("key", "entra")
CLIENTS = {"sync": WebPubSubServiceClient, "aio": AioWebPubSubServiceClient}


def entra_token(*, audience: str = ENTRA_AUDIENCE, lifetime: int = 3600) -> AccessToken:
    """A bearer token shaped like Entra ID's for Web PubSub: a JWT with its audience and a future ``exp``.

    The fake cannot check Microsoft's signature, so any HS256 key will do.
    """
    expires_on = int(time.time()) + lifetime
    token = jwt.encode({"aud": audience, "exp": expires_on}, _ENTRA_SIGNING_KEY, algorithm="HS256")
    return AccessToken(token, expires_on)


@dataclass
class FakeCredential:
    """A sync ``TokenCredential``; ``scopes`` records what each ``get_token`` call asked for."""

    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return entra_token()


@dataclass
class AsyncFakeCredential:
    """The ``AsyncTokenCredential`` twin of :class:`FakeCredential`."""

    scopes: list[tuple[str, ...]] = field(default_factory=list)

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return entra_token()

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> AsyncFakeCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


CREDENTIALS: dict[str, Callable[[], Any]] = {"sync": FakeCredential, "aio": AsyncFakeCredential}


def key_client(flavour: str, connection_string: str, **kwargs: Any) -> Any:
    return CLIENTS[flavour].from_connection_string(connection_string, hub=HUB, **kwargs)


def entra_client(flavour: str, endpoint: str, **kwargs: Any) -> Any:
    return CLIENTS[flavour](endpoint=endpoint, hub=HUB, credential=CREDENTIALS[flavour](), **kwargs)


def build_client(webpubsub: FakeWebPubSub, flavour: str, auth: str, **kwargs: Any) -> Any:
    """A client of ``webpubsub``: from its connection string (``key``) or with a TokenCredential (``entra``)."""
    if auth == "key":
        return key_client(flavour, webpubsub.connection_string, **kwargs)
    return entra_client(flavour, webpubsub.endpoint, **kwargs)


@dataclass
class Sdk:
    """One opened SDK client; every client method is available as a coroutine function."""

    client: Any
    flavour: str
    auth: str

    @property
    def credential(self) -> Any:
        return self.client._config.credential

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call

    async def list_connections(self, **kwargs: Any) -> list[tuple[str, str | None]]:
        """Every listed member as ``(connection_id, user_id)``, sorted (the service's order is not stable)."""
        pager = self.client.list_connections(**kwargs)
        members = [m async for m in pager] if self.flavour == "aio" else list(pager)
        return sorted((member.connection_id, member.user_id) for member in members)

    async def page_sizes(self, **kwargs: Any) -> list[int]:
        """How many members each page of ``list_connections`` held."""
        pages = self.client.list_connections(**kwargs).by_page()
        if self.flavour == "aio":
            return [len([m async for m in page]) async for page in pages]
        return [len(list(page)) for page in pages]

    async def send_request(self, request: Any, **kwargs: Any) -> Any:
        """``send_request`` with the body read, so ``.json()``/``.content`` work for both flavours."""
        if self.flavour == "aio":
            response = await self.client.send_request(request, **kwargs)
            await response.read()
            return response
        return self.client.send_request(request, **kwargs)


@asynccontextmanager
async def opened(client: Any, auth: str) -> AsyncIterator[Sdk]:
    """Enter ``client`` (sync or aio) and close it afterwards, so no session outlives the test."""
    if isinstance(client, AioWebPubSubServiceClient):
        async with client:
            yield Sdk(client, "aio", auth)
    else:
        with client:
            yield Sdk(client, "sync", auth)


def data_frames(connection: FakeClientConnection) -> list[dict[str, Any]]:
    """The JSON frames a PubSub client got after its ``system/connected`` frame, parsed."""
    first, *rest = connection.frames
    assert json.loads(first)["event"] == "connected"
    return [json.loads(frame) for frame in rest]
