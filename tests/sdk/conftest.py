"""Fixtures for the end-to-end tests that drive the official ``azure-messaging-webpubsubservice`` SDK."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from pytest_webpubsub import FakeWebPubSub

from .support import AUTHS, FLAVOURS, Sdk, build_client, opened


@pytest.fixture(params=[f"{flavour}-{auth}" for flavour in FLAVOURS for auth in AUTHS])
async def sdk(request: pytest.FixtureRequest, webpubsub: FakeWebPubSub) -> AsyncIterator[Sdk]:
    """An opened client of the fake's hub ``chat`` in each flavour: sync or aio, access key or Entra ID."""
    flavour, auth = request.param.split("-")
    async with opened(build_client(webpubsub, flavour, auth), auth) as client:
        yield client
