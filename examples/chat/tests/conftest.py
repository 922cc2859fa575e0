from __future__ import annotations

from typing import Iterator

import pytest

from chat_app import ChatService
from pytest_webpubsub import FakeWebPubSub


@pytest.fixture
def chat(webpubsub: FakeWebPubSub) -> Iterator[ChatService]:
    """The app under test, built the way production builds it: from the environment.

    Depending on ``webpubsub`` makes the fake active, and its variables set, before the app reads them.
    """
    with ChatService() as service:
        yield service
