"""Snapshots of a hub: frozen, comparable, equal while the hub is unchanged, and never changing afterwards."""

from __future__ import annotations

import pytest

from pytest_webpubsub._core.errors import BadRequestError
from pytest_webpubsub._core.model import Send
from pytest_webpubsub._core.service import WebPubSubService


class Sink:
    inbox = None

    def deliver(self, send: Send) -> bool:
        return True

    def closed(self, reason: str | None) -> None:
        pass


def test_two_snapshots_of_an_unchanged_hub_are_equal_and_a_snapshot_never_changes() -> None:
    service = WebPubSubService()
    alice = service.open_connection("Chat", Sink(), user_id="alice", groups=["room"], roles=["webpubsub.sendToGroup"])
    before = service.snapshot("chat")
    assert before == service.snapshot("CHAT")
    assert before.groups == {"room": frozenset({alice.connection_id})}
    assert before.users == {"alice": frozenset({alice.connection_id})}
    seen = before.connections[alice.connection_id]
    assert (seen.user_id, seen.groups, seen.protocol, seen.state) == ("alice", frozenset({"room"}), None, "open")
    assert seen.permissions["sendToGroup"].every_group

    service.add_connection_to_group("chat", "other", alice.connection_id)
    after = service.snapshot("chat")
    assert after != before
    assert before.groups == {"room": frozenset({alice.connection_id})}  # the old picture did not move
    with pytest.raises(TypeError):
        before.groups["x"] = frozenset()  # type: ignore[index]


def test_a_dropped_connection_shows_as_dropped_and_an_unknown_hub_is_empty_and_not_created() -> None:
    service = WebPubSubService()
    connection = service.open_connection("chat", Sink())
    connection.dropped = True
    assert service.snapshot("chat").connections[connection.connection_id].state == "dropped"
    empty = service.snapshot("nobody")
    assert (dict(empty.groups), dict(empty.users), dict(empty.connections)) == ({}, {}, {})
    assert [hub.name for hub in service.hubs()] == ["chat"]
    with pytest.raises(BadRequestError):
        service.snapshot("no-hub")
