"""Which active fake owns which host, and the seams that route client libraries to it.

One :data:`HOSTS` table serves every seam (azure-core, httpx, the client SDK's sync and aio sockets, and any seam
added later). A :class:`Seam` is one place where a client library is patched (respx's ``Mocker`` is the model): it
is installed when the first fake becomes active, or when the table is pinned, and removed when the last fake has
stopped and no pin holds it; it asks the table who owns a URL's host. While some fake is active, a
``*.webpubsub.azure.com`` host that no fake owns is refused by every seam with the same words
(:meth:`HostTable.refuse`), in the seam's own exception type, so a test never reaches Azure; the refusal is
recorded so that the fixture fails the test even when the application swallowed the error. While no fake is
active, an installed seam passes everything through to the library unchanged and refuses nothing.

The pytest plugin pins the table at the first use of the fixture and unpins it at the end of the session: installing
the seams costs more than a test, and a pinned table costs each fake a dictionary insert.

Seams are named here as ``module:instance`` and imported only when the first fake starts (the plugin import stays
cheap), and only when the library they patch is installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import threading
from typing import TYPE_CHECKING, Callable, ClassVar, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._gateway import Gateway
    from ._rest.http import FakeRequest, FakeResponse

AZURE_HOST_SUFFIX = ".webpubsub.azure.com"
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

SEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pytest_webpubsub.transport:REQUESTS_SEAM", ("azure.core", "requests")),
    ("pytest_webpubsub.transport:AIOHTTP_SEAM", ("azure.core", "aiohttp")),
    ("pytest_webpubsub._httpx:SEAM", ("httpx", "respx")),
    ("pytest_webpubsub._sdk_sync:SEAM", ("azure.messaging.webpubsubclient", "websocket")),
    ("pytest_webpubsub._sdk_async:SEAM", ("azure.messaging.webpubsubclient", "aiohttp")),
    ("pytest_webpubsub._sdk_waits:SEAM", ("azure.messaging.webpubsubclient",)),
    ("pytest_webpubsub._ws_websocket_client:SEAM", ("websocket",)),
    ("pytest_webpubsub._ws_websockets:SEAM", ("websockets",)),
    ("pytest_webpubsub._ws_aiohttp:SEAM", ("aiohttp",)),
)
"""Every seam as ``module:instance`` with the modules it needs (an optional library not installed: no patch), in
install order."""


def normalise_host(url_or_netloc: str, scheme: Optional[str] = None) -> str:
    """``host[:port]`` as the table keys it: lower case, no trailing dot, no default port, no user info.

    Accepts a URL (``https://Fake.webpubsub.azure.com.:443/x`` -> ``fake.webpubsub.azure.com``) or a bare netloc
    (with ``scheme`` to know the default port). An unparsable value comes back lower-cased, matching nothing.
    """
    if "://" in url_or_netloc:
        parts = urlsplit(url_or_netloc)
        scheme, netloc = parts.scheme.lower(), parts.netloc
    else:
        netloc = url_or_netloc
    netloc = netloc.rpartition("@")[2].lower()
    host, port = netloc, ""
    if netloc.startswith("["):  # IPv6 literal
        end = netloc.find("]")
        host, port = netloc[: end + 1], netloc[end + 2 :] if end >= 0 and netloc[end + 1 : end + 2] == ":" else ""
    elif ":" in netloc:
        host, _, port = netloc.rpartition(":")
    host = host.rstrip(".")
    if port and scheme is not None and port == str(_DEFAULT_PORTS.get(scheme, "")):
        port = ""
    return f"{host}:{port}" if port else host


_host_key = functools.lru_cache(maxsize=256)(normalise_host)
""":func:`normalise_host` remembered for the URLs seams route on every request (an SDK client repeats a few)."""


def is_azure_host(host: str) -> bool:
    """Whether a normalised ``host[:port]`` is a real Web PubSub host."""
    return host.rsplit(":", 1)[0].endswith(AZURE_HOST_SUFFIX) if host else False


class Owner:
    """What an active fake offers the seams for one host: REST answers and the connection gateway."""

    __slots__ = ("handle", "_gateway")

    def __init__(self, handle: Callable[[FakeRequest], FakeResponse], gateway: Callable[[], Gateway]) -> None:
        self.handle = handle
        self._gateway = gateway

    @property
    def gateway(self) -> Gateway:
        """The fake's gateway now (a reset fake has a new one)."""
        return self._gateway()


class Seam:
    """One patch point of one client library. Subclasses say what they need and how to (un)install."""

    hint: ClassVar[str] = "Build the client from webpubsub.connection_string"
    """What to do instead, for the refusal of an unowned Azure host."""

    def install(self) -> None:
        """Patch the library (the first fake became active)."""

    def uninstall(self) -> None:
        """Undo :meth:`install` exactly (the last fake stopped)."""

    def release(self, host: str) -> None:
        """The owner of ``host`` is leaving: end what this seam still has open for it (sockets, threads)."""

    def activate(self) -> None:
        """The first fake became active (the seam is installed)."""

    def deactivate(self) -> None:
        """The last fake stopped (the seam may stay installed: it must then pass everything through)."""


class HostTable:
    """Owners by normalised host; installs every available seam with the first owner (or a pin), removes them when
    the last owner has left and no pin holds them."""

    def __init__(self, seams: tuple[tuple[str, tuple[str, ...]], ...] = SEAMS) -> None:
        self.lock = threading.RLock()
        self._seam_names = seams
        self._seams: list[Seam] = []
        self._installed = False
        self._pins = 0
        self._owners: dict[str, Owner] = {}
        self.refused: list[str] = []
        """Every Azure host a seam refused in this process, in order."""

    def add(self, host: str, owner: Owner) -> None:
        """Make ``owner`` answer for ``host``; raise RuntimeError if another active fake owns it."""
        host = normalise_host(host)
        with self.lock:
            if host in self._owners:
                raise RuntimeError(
                    f"pytest-webpubsub: another active FakeWebPubSub already owns the host {host!r}; "
                    "give each fake its own endpoint"
                )
            if not self._installed:
                self._install()
            if not self._owners:
                for seam in self._seams:
                    seam.activate()
            self._owners[host] = owner

    def remove(self, host: str) -> None:
        """``host``'s owner leaves: every seam releases what it has for the host; the last owner unpatches (unless
        the table is pinned)."""
        host = normalise_host(host)
        with self.lock:
            if host not in self._owners:
                return
            seams = self._seams
        try:  # without the lock: releasing waits for reader threads that may route through the table
            for seam in seams:
                seam.release(host)
        finally:
            with self.lock:
                self._owners.pop(host, None)
                if not self._owners:
                    for seam in self._seams:
                        seam.deactivate()
                    if not self._pins:
                        self._uninstall()

    def pin(self) -> None:
        """Install the seams now and keep them installed, with or without owners, until the matching :meth:`unpin`.

        While no fake is active the installed seams pass everything through and refuse nothing. Holds are counted
        (a pytest session run inside another, by ``pytester``, pins and unpins its own).
        """
        with self.lock:
            if not self._installed:
                self._install()
            self._pins += 1

    def unpin(self) -> None:
        """Drop one hold of :meth:`pin`; after the last, the seams are removed now if no fake is active, else with
        the last fake."""
        with self.lock:
            if self._pins == 0:
                raise RuntimeError("pytest-webpubsub: unpin() without a matching pin()")
            self._pins -= 1
            if not self._pins and not self._owners:
                self._uninstall()

    @property
    def pinned(self) -> bool:
        """Whether some :meth:`pin` holds the seams installed."""
        return self._pins > 0

    def owner(self, url: str) -> Optional[Owner]:
        """The owner of ``url``'s host (a URL or a ``scheme``-less netloc), or None."""
        return self._owners.get(_host_key(url))

    def hosts(self) -> list[str]:
        return sorted(self._owners)

    def refuse(self, url: str, hint: str) -> Optional[str]:
        """For an Azure host no fake owns while some fake is active: record the refusal and return why and what to
        do; else None (with no fake active, nothing is refused: the seams behave as the unpatched libraries)."""
        if not self._owners:
            return None
        host = normalise_host(url)
        if not is_azure_host(host) or host in self._owners:
            return None
        self.refused.append(host)
        owned = ", ".join(self.hosts()) or "none"
        return (
            f"pytest-webpubsub: no fake owns {host!r}, and tests must not reach Azure. "
            f"Hosts owned by active fakes: {owned}. {hint}, or set the fake's endpoint "
            "(marker @pytest.mark.webpubsub(endpoint=...) or ini webpubsub_endpoint)."
        )

    @property
    def active(self) -> bool:
        """Whether some fake owns a host now (else every installed seam passes everything through)."""
        return bool(self._owners)

    @property
    def installed(self) -> tuple[Seam, ...]:
        """The seams patched in now, in install order."""
        return tuple(self._seams)

    def _install(self) -> None:
        seams: list[Seam] = []
        try:
            for name, requires in self._seam_names:
                if not all(_importable(module) for module in requires):
                    continue
                seam = _load(name)
                seam.install()
                seams.append(seam)
        except BaseException:
            while seams:
                seams.pop().uninstall()
            raise
        self._seams = seams
        self._installed = True

    def _uninstall(self) -> None:
        seams, self._seams, self._installed = self._seams, [], False
        for seam in reversed(seams):  # a new list above: a remove() outside the lock may still iterate this one
            seam.uninstall()


def _load(name: str) -> Seam:
    """The seam ``module:instance`` (its module is imported now, not with the plugin)."""
    module_name, _, attribute = name.partition(":")
    seam: Seam = getattr(importlib.import_module(module_name), attribute)
    return seam


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


HOSTS = HostTable()
"""The one table of this process."""
