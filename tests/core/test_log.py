"""The delivery log: complete by default, bounded on request, cleared on request, always counting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_webpubsub._core.log import DeliveryLog
from pytest_webpubsub._core.model import Message, Send
from pytest_webpubsub._core.service import WebPubSubService

TEXT = Message(b"hi", "text")


class Sink:
    inbox = None

    def deliver(self, send: Send) -> bool:
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


# ------------------------------------------------------------------- sends shared by their recipients, read lazily


class Recipient:
    """What the log reads of a connection: its id and user."""

    def __init__(self, index: int) -> None:
        self.connection_id = f"c{index}"
        self.user_id = f"u{index % 3}" if index % 2 else None


def test_one_send_to_many_is_one_entry_until_read_then_one_record_per_recipient_in_order() -> None:
    log = DeliveryLog()
    recipients = [Recipient(index) for index in range(4)]
    send = Send("hub", TEXT, "group", "g", "sender")
    log.on_send(send, recipients)  # type: ignore[arg-type]
    assert log.delivery_count == 4
    assert [(d.connection_id, d.user_id) for d in log.deliveries] == [(r.connection_id, r.user_id) for r in recipients]
    assert all(d.message is TEXT and (d.source, d.group, d.from_user_id) == ("group", "g", "sender")
               for d in log.deliveries)
    assert log.deliveries == log.deliveries, "reading twice gives the same records"


def test_a_bound_smaller_than_one_send_keeps_that_send_s_last_recipients() -> None:
    log = DeliveryLog(max_deliveries=3)
    log.on_send(Send("hub", TEXT, "server"), [Recipient(index) for index in range(5)])  # type: ignore[arg-type]
    assert [d.connection_id for d in log.deliveries] == ["c2", "c3", "c4"]
    assert (log.delivery_count, log.forgotten) == (5, 2)


# A log driven by drawn sends (of drawn sizes), reads and clears, against the plainest model: every delivery in a
# list, the bound applied on read. Reads in between matter: records made by one read must survive (or be forgotten)
# exactly like the unread sends after them.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(min_value=1, max_value=6)),
        st.tuples(st.just("read"), st.just(0)),
        st.tuples(st.just("clear"), st.just(0)),
    ),
    max_size=40,
)


@given(bound=st.one_of(st.none(), st.integers(min_value=0, max_value=8)), steps=operations)
def test_the_log_agrees_with_a_list_of_every_delivery(bound: int | None, steps: list[tuple[str, int]]) -> None:
    log = DeliveryLog(max_deliveries=bound)
    model: list[tuple[str, bytes]] = []
    cleared_at = 0
    sent = 0
    for operation, size in steps:
        if operation == "send":
            payload = str(sent).encode()
            sent += 1
            log.on_send(Send("hub", Message(payload, "text"), "server"), [Recipient(i) for i in range(size)])  # type: ignore[arg-type]
            model.extend((f"c{i}", payload) for i in range(size))
        elif operation == "clear":
            log.clear()
            cleared_at = len(model)
        kept = model[cleared_at:]
        if bound is not None:
            kept = kept[-bound:] if bound else []
        if operation == "read" or operation == "clear":
            assert [(d.connection_id, d.message.payload) for d in log.deliveries] == kept
        assert log.delivery_count == len(model)
    kept = model[cleared_at:]
    if bound is not None:
        kept = kept[-bound:] if bound else []
    assert [(d.connection_id, d.message.payload) for d in log.deliveries] == kept
    assert log.forgotten == len(model) - len(kept)
