"""A base for hypothesis state machines that test an application against a fresh fake Web PubSub per run.

Subclass :class:`WebPubSubStateMachine` and add only the rules and invariants of your application::

    from hypothesis import strategies as st
    from hypothesis.stateful import consumes, invariant, rule
    from pytest_webpubsub.stateful import WebPubSubStateMachine, clients

    class ChatMachine(WebPubSubStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.app = ChatApp(self.webpubsub.connection_string)  # the fake is active already

        @rule(target=clients, user=st.sampled_from(["ann", "bob"]))
        def connect(self, user):
            return self.connect(user_id=user)

        @rule(client=consumes(clients))
        def disconnect(self, client):
            self.disconnect(client)

    TestChat = ChatMachine.TestCase

Each run gets its own active :class:`~pytest_webpubsub.FakeWebPubSub` as ``self.webpubsub``; ``teardown()`` stops it
also when a step failed, so a subclass that overrides ``teardown`` must call ``super().teardown()``. The built-in
invariant checks that every data message went to a connection that was one of its targets when it was sent.

Importing this module imports hypothesis; the pytest plugin never does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant

from . import _protocol
from ._core.model import Delivery, Send
from ._fake import FakeWebPubSub

if TYPE_CHECKING:
    from ._core.service import Connection
    from .clients import FakeClientConnection

__all__ = ["WebPubSubStateMachine", "clients"]

clients: Bundle[FakeClientConnection] = Bundle("webpubsub_clients")
"""The bundle of simulated clients: return ``self.connect(...)`` from a rule with ``target=clients``."""


@dataclass(frozen=True)
class _Target:
    """What one helper send meant to reach: ``kind`` is all, user, group or connection; ``name`` its target."""

    hub: str
    kind: str
    name: str | None
    expected: frozenset[str]


class _TargetCheck:
    """Listens to one fake: judges each delivery against the hub as it was when the message was sent."""

    def __init__(self, fake: FakeWebPubSub) -> None:
        self._fake = fake
        self.target: _Target | None = None
        self.delivered: list[Delivery] = []
        self.violations: list[str] = []

    def on_open(self, connection: Connection) -> None:
        pass

    def on_close(self, connection: Connection, reason: str | None) -> None:
        pass

    def on_send(self, send: Send, recipients: Sequence[Connection]) -> None:
        hub = self._fake.snapshot(send.hub)  # one send, one hub; the service has not moved on yet
        for delivery in (send.to(connection.connection_id, connection.user_id) for connection in recipients):
            self.delivered.append(delivery)
            connection = hub.connections.get(delivery.connection_id)
            where = f"{delivery.data!r} to {delivery.connection_id} (user {delivery.user_id!r})"
            if connection is None:
                self.violations.append(f"{where}: not a connection of hub {hub.hub!r} when it was sent")
            elif delivery.group is not None and delivery.connection_id not in hub.groups.get(delivery.group, ()):
                self.violations.append(f"{where}: not a member of group {delivery.group!r} when it was sent")
            elif self.target is not None and delivery.connection_id not in self.target.expected:
                target = self.target
                self.violations.append(f"{where}: not a target of send_to_{target.kind}({target.name!r})")


class WebPubSubStateMachine(RuleBasedStateMachine):
    """A ``RuleBasedStateMachine`` whose ``self.webpubsub`` is a fresh, active fake for each run.

    * ``webpubsub_options``: options for each run's fake (as ``FakeWebPubSub(**webpubsub_options)``); the
      connection ids are seeded by the machine's class name, so a replayed run sees the same ids.
    * ``check_delivery_targets``: the invariant :meth:`deliveries_went_to_targets` (on by default).
    * helpers: :meth:`connect` / :meth:`disconnect` for the :data:`clients` bundle, ``send_to_*`` helpers that
      also check every target got the message, and :meth:`snapshot`.
    """

    clients: ClassVar[Bundle[FakeClientConnection]] = clients
    webpubsub_options: ClassVar[Mapping[str, Any]] = {}
    check_delivery_targets: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Stop the run's fake if a subclass's ``__init__`` fails after ours started it (no teardown follows)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def guarded_init(self: WebPubSubStateMachine, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except BaseException:
                fake = self.__dict__.get("webpubsub")
                if fake is not None:
                    fake.stop()
                raise

        cls.__init__ = guarded_init  # type: ignore[method-assign]

    def __init__(self) -> None:
        super().__init__()
        options = {"id_seed": type(self).__qualname__, **self.webpubsub_options}
        self.webpubsub = FakeWebPubSub(**options)
        self._check = _TargetCheck(self.webpubsub)
        if self.check_delivery_targets:
            self.webpubsub._add_listener(self._check)
        self._service_clients: dict[str, Any] = {}
        self.webpubsub.start()

    def teardown(self) -> None:
        """Stop this run's fake (close its clients, undo its patches). Call it from an overriding ``teardown``."""
        self.webpubsub.stop()

    # -- clients --------------------------------------------------------------------------------------------

    def connect(
        self,
        hub: str | None = None,
        *,
        user_id: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        protocol: str | None = _protocol.JSON,
    ) -> FakeClientConnection:
        """Open a simulated client (``FakeWebPubSub.connect``); return it from a rule with ``target=clients``."""
        return self.webpubsub.connect(hub, user_id=user_id, groups=groups, roles=roles, protocol=protocol)

    def disconnect(self, client: FakeClientConnection, *, close_frame: bool = True) -> None:
        """End ``client``: with a close frame (``close()``: the connection ends at once), or without one
        (``drop()``: a reliable connection waits 30 s on the fake's clock for recovery, others end)."""
        if close_frame:
            client.close()
        else:
            client.drop()

    def service_client(self, hub: str | None = None) -> Any:
        """The official service SDK client for ``hub`` (default: the ``hub`` option), one per hub and run."""
        key = hub if hub is not None else self.webpubsub.options.hub
        client = self._service_clients.get(key)
        if client is None:
            client = self._service_clients[key] = self.webpubsub.service_client(key)
        return client

    def snapshot(self, hub: str | None = None) -> Any:
        """``self.webpubsub.snapshot(hub)``: a frozen, comparable picture of the hub."""
        return self.webpubsub.snapshot(hub)

    # -- sends that know their targets -----------------------------------------------------------------------

    def send_to_all(self, message: Any, *, hub: str | None = None, excluded: Iterable[str] = (), **kwargs: Any) -> None:
        """``send_to_all`` through the SDK; checks the message reached every open connection not excluded."""
        skip = set(excluded)
        self._send(hub, "all", None, lambda snap: set(snap.connections) - skip,
                   lambda client: client.send_to_all(message, excluded=list(skip) or None, **kwargs))

    def send_to_user(self, user_id: str, message: Any, *, hub: str | None = None, **kwargs: Any) -> None:
        """``send_to_user`` through the SDK; checks the message reached every connection of ``user_id``."""
        self._send(hub, "user", user_id, lambda snap: set(snap.users.get(user_id, ())),
                   lambda client: client.send_to_user(user_id, message, **kwargs))

    def send_to_group(
        self, group: str, message: Any, *, hub: str | None = None, excluded: Iterable[str] = (), **kwargs: Any
    ) -> None:
        """``send_to_group`` through the SDK; checks the message reached every member not excluded."""
        skip = set(excluded)
        self._send(hub, "group", group, lambda snap: set(snap.groups.get(group, ())) - skip,
                   lambda client: client.send_to_group(group, message, excluded=list(skip) or None, **kwargs))

    def send_to_connection(self, connection_id: str, message: Any, *, hub: str | None = None, **kwargs: Any) -> None:
        """``send_to_connection`` through the SDK; checks the message reached that connection if it is open."""
        self._send(hub, "connection", connection_id, lambda snap: {connection_id} & set(snap.connections),
                   lambda client: client.send_to_connection(connection_id, message, **kwargs))

    def _send(
        self,
        hub: str | None,
        kind: str,
        name: str | None,
        targets: Callable[[Any], set[str]],
        send: Callable[[Any], None],
    ) -> None:
        hub_name = hub if hub is not None else self.webpubsub.options.hub
        expected = frozenset(targets(self.snapshot(hub_name)))
        first = len(self._check.delivered)
        self._check.target = _Target(hub_name, kind, name, expected)
        try:
            send(self.service_client(hub_name))
        finally:
            self._check.target = None
        reached = {delivery.connection_id for delivery in self._check.delivered[first:]}
        missed = sorted(expected - reached)
        if missed and self.check_delivery_targets:
            self._check.violations.append(f"send_to_{kind}({name!r}) did not reach its targets {missed}")

    # -- the invariant ----------------------------------------------------------------------------------------

    @invariant()
    def deliveries_went_to_targets(self) -> None:
        """Every data message so far went to an open connection of its hub, to a member of its group for group
        sends, and, for the ``send_to_*`` helpers, to exactly the targets the hub had when it was sent."""
        if self._check.violations:
            raise AssertionError(
                "pytest-webpubsub: deliveries that went to a connection that was not a target when sent:\n"
                + "\n".join(f"  - {violation}" for violation in self._check.violations)
            )
