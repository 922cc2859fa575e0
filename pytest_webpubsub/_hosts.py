"""Which active fake owns which host: the routing table every seam shares (azure-core, httpx, client SDKs).

Each seam keeps one :class:`HostTable`. The first fake to register installs the seam's patch, the last one to
leave removes it; a host has at most one owner. A ``*.webpubsub.azure.com`` host that no fake owns is refused
by every seam with :func:`refuse_unowned_host`, so a test never reaches Azure, and recorded for the fixture.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Iterable, TypeVar

AZURE_HOST_SUFFIX = ".webpubsub.azure.com"
T = TypeVar("T")


def is_azure_host(netloc: str) -> bool:
    """Whether a ``host[:port]`` is a real Web PubSub host."""
    return netloc.rsplit(":", 1)[0].lower().endswith(AZURE_HOST_SUFFIX) if netloc else False


REFUSED_HOSTS: list[str] = []
"""Every Azure host a seam refused in this process, in order: the fixture fails a test that caused one, even if
the application swallowed the error (a test must never have tried to reach Azure)."""


def refuse_unowned_host(host: str, owned: Iterable[str], *, hint: str) -> str:
    """Record the refusal of an Azure host no fake owns; return why it is refused and what to do instead."""
    REFUSED_HOSTS.append(host)
    hosts = ", ".join(sorted(owned)) or "none"
    return (
        f"pytest-webpubsub: no fake owns {host!r}, and tests must not reach Azure. "
        f"Hosts owned by active fakes: {hosts}. {hint}, or set the fake's endpoint "
        "(marker @pytest.mark.webpubsub(endpoint=...) or ini webpubsub_endpoint)."
    )


class HostTable(Generic[T]):
    """Owners by host (lower-cased), reference-counting one patch: installed with the first, removed with the last."""

    def __init__(self, install: Callable[[], None], uninstall: Callable[[], None]) -> None:
        self.lock = threading.RLock()
        self._owners: dict[str, T] = {}
        self._install = install
        self._uninstall = uninstall

    def add(self, host: str, owner: T) -> None:
        with self.lock:
            host = host.lower()
            if host in self._owners:
                raise RuntimeError(
                    f"pytest-webpubsub: another active FakeWebPubSub already owns the host {host!r}; "
                    "give each fake its own endpoint"
                )
            self._owners[host] = owner
            if len(self._owners) == 1:
                self._install()

    def remove(self, host: str) -> None:
        with self.lock:
            if self._owners.pop(host.lower(), None) is not None and not self._owners:
                self._uninstall()

    def get(self, host: str) -> T | None:
        return self._owners.get(host.lower())

    def hosts(self) -> list[str]:
        return list(self._owners)
