"""The delivery log: complete by default, bounded on request, cleared on request, always counting."""

from __future__ import annotations

import pytest

from pytest_webpubsub._core.log import DeliveryLog
from pytest_webpubsub._core.model import Delivery, Message
from pytest_webpubsub._core.service import WebPubSubService

TEXT = Message(b"hi", "text")


class Sink:
    def deliver(self, delivery: Delivery) -> bool:
        return True

    def closed(self, reason: str | None) -> None: ...


def sends(log: DeliveryLog, count: int) -> list[str]:
    """Run ``count`` sends to one connection through a service; return the connection id."""
    service = WebPubSubService(listeners=[log])
    connection = service.open_connection("hub", Sink())
    for index in range(count):
        service.send_to_all("hub", Message(str(index).encode(), "text"))
    return [connection.connection_id]


def test_by_default_every_delivery_is_kept() -> None:
    log = DeliveryLog()
    sends(log, 5)
    assert [d.message.payload for d in log.deliveries] == [b"0", b"1", b"2", b"3", b"4"]
    assert (log.delivery_count, log.forgotten, log.max_deliveries) == (5, 0, None)


def test_a_bounded_log_keeps_the_most_recent_deliveries_and_counts_them_all() -> None:
    log = DeliveryLog(max_deliveries=3)
    sends(log, 5)
    assert [d.message.payload for d in log.deliveries] == [b"2", b"3", b"4"]
    assert (log.delivery_count, log.forgotten, log.max_deliveries) == (5, 2, 3)


def test_a_zero_bound_keeps_nothing_but_counts() -> None:
    log = DeliveryLog(max_deliveries=0)
    sends(log, 4)
    assert log.deliveries == ()
    assert log.delivery_count == 4


def test_clear_forgets_records_but_not_the_count() -> None:
    log = DeliveryLog()
    sends(log, 3)
    assert len(log.events) == 1
    log.clear()
    assert (log.deliveries, log.events) == ((), ())
    assert (log.delivery_count, log.forgotten) == (3, 3)
    sends(log, 2)
    assert [d.message.payload for d in log.deliveries] == [b"0", b"1"]
    assert log.delivery_count == 5


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_deliveries"):
        DeliveryLog(max_deliveries=-1)
