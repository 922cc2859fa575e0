"""Fixtures shared by the tests that drive the official client SDK (sync and aio) against the fake."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from pytest_webpubsub import FakeWebPubSub

HUB = "chat"


@pytest.fixture
def client_url(webpubsub: FakeWebPubSub) -> Callable[..., str]:
    """``client_url(user_id=..., roles=[...], groups=[...])``: a fresh client access URL for the hub ``chat``.

    Minted by the official service SDK, as an app's negotiate endpoint would; pass ``hub=`` for another hub.
    """

    def mint(*, hub: str = HUB, **token_options: Any) -> str:
        url: str = webpubsub.service_client(hub).get_client_access_token(**token_options)["url"]
        return url

    return mint
