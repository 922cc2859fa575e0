"""The client SDK's own waits, made instant for clients connected to a fake.

``azure.messaging.webpubsubclient`` (sync ``_client.py`` and ``aio/_client.py``) waits real time in two places
that a test sits through, even when every answer comes at once:

* ``WebPubSubClient._retry`` retries a refused ``join_group`` / ``leave_group`` / ``send_to_group`` /
  ``send_event`` ``message_retry_total`` times (3 by default) with ``time.sleep`` / ``asyncio.sleep`` of
  0.8, 1.6 and 3.2 s: 5.6 s before the same ``SendMessageError`` is raised.
* On the reliable protocol, ``_connect`` starts a sequence-ack loop (``sequence_id_ack_periodically``) that sleeps
  1 s between acks. ``close()`` (and a reconnect or a recovery, before the new socket) waits for it: the aio
  client ``asyncio.wait_for(task, timeout=1.0)`` (1.00 s per close), the sync client ``Thread.join(0.1)``
  (0.10 s per close, the thread then lingers).

:func:`install` replaces the module globals ``time`` and ``threading`` of the sync module and ``asyncio`` of the
aio module with shims: every attribute is the real module's except

* ``sleep``: called from ``_retry`` of a client whose socket is a fake's, it returns at once (the aio one still
  yields to the event loop once). Called from the sequence-ack loop of a fake's client, it sleeps the same period
  but ends as soon as the SDK waits for that loop's thread or task, which then finds the client no longer
  connected and ends, as it would have a moment later. Any other call (another host's client, the reconnect and
  recovery back-offs, whose number of attempts is unbounded) sleeps for real;
* ``threading.Thread`` (sync): a thread whose ``join`` first wakes such a sleep;
* ``asyncio.wait_for`` (aio): the same for a task.

So the SDK makes the same attempts, raises the same errors and sends the same frames, without waiting. A client is
a fake's when its socket is :class:`~._sdk_sync.FakeWebSocketAppSync` (sync) or its ``_ws.sock`` is
:class:`~._sdk_async.FakeClientWebSocket` (aio); the calling SDK function and its ``self`` are read from the
caller's frame. No thread is added.

:func:`install` and :func:`uninstall` are idempotent; the caller counts references. Either SDK module may be
absent (the ``client`` extra not installed): that side is then left alone.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import time
import types
from collections.abc import Awaitable
from typing import Any, Callable, Optional, TypeVar

from ._hosts import HOSTS, Seam

__all__ = ["install", "installed", "uninstall", "wake_all"]

SYNC_MODULE = "azure.messaging.webpubsubclient._client"
AIO_MODULE = "azure.messaging.webpubsubclient.aio._client"
RETRY = "_retry"
"""The SDK method that sleeps between message attempts (the same name in both modules)."""
ACK_LOOP = "sequence_id_ack_periodically"
"""The SDK's reliable-protocol sequence-ack loop, nested in ``_connect`` (the same name in both modules)."""

_T = TypeVar("_T")

_lock = threading.Lock()
_replaced: list[tuple[types.ModuleType, str, Any, Any]] = []  # (module, global name, original, shim)
_parked_threads: dict[threading.Thread, threading.Event] = {}
_parked_tasks: dict[asyncio.Task[Any], asyncio.Future[None]] = {}


def install() -> None:
    """Replace the SDK modules' ``time``/``threading`` (sync) and ``asyncio`` (aio) globals by the shims."""
    with _lock:
        if _replaced:
            return
        sync_sdk = _import(SYNC_MODULE)
        if sync_sdk is not None:
            from ._sdk_sync import FakeWebSocketAppSync

            def sync_is_fake(client: Any) -> bool:
                return isinstance(getattr(client, "_ws", None), FakeWebSocketAppSync)

            _replace(sync_sdk, "time", _time_shim(sync_sdk, sync_is_fake))
            _replace(sync_sdk, "threading", _threading_shim())
        aio_sdk = _import(AIO_MODULE)
        if aio_sdk is not None:
            from ._sdk_async import FakeClientWebSocket

            def aio_is_fake(client: Any) -> bool:
                return isinstance(getattr(getattr(client, "_ws", None), "sock", None), FakeClientWebSocket)

            _replace(aio_sdk, "asyncio", _asyncio_shim(aio_sdk, aio_is_fake))


def uninstall() -> None:
    """Give the SDK modules their real globals back and end every sleep parked by a shim."""
    with _lock:
        replaced = list(_replaced)
        _replaced.clear()
        threads = list(_parked_threads)
        tasks = list(_parked_tasks)
    for module, name, original, shim in reversed(replaced):
        if getattr(module, name, None) is shim:
            setattr(module, name, original)
    _wake(threads, tasks)


def wake_all() -> None:
    """End every sleep parked by a shim (the sequence-ack loops of fakes' clients then see them gone and end)."""
    with _lock:
        threads = list(_parked_threads)
        tasks = list(_parked_tasks)
    _wake(threads, tasks)


def _wake(threads: list[threading.Thread], tasks: list[asyncio.Task[Any]]) -> None:
    for thread in threads:
        _wake_thread(thread)
    for task in tasks:
        _wake_task(task)


def installed() -> bool:
    """Whether the shims are in place."""
    with _lock:
        return bool(_replaced)


def _import(name: str) -> Optional[types.ModuleType]:
    try:
        return importlib.import_module(name)
    except ImportError:  # the client SDK, or aiohttp for its aio module, is not installed
        return None


def _replace(module: types.ModuleType, name: str, shim: Any) -> None:
    _replaced.append((module, name, getattr(module, name), shim))
    setattr(module, name, shim)


def _caller(frame: Any, sdk: types.ModuleType, is_fake: Callable[[Any], bool]) -> Optional[str]:
    """``RETRY`` or ``ACK_LOOP`` when ``frame`` is that SDK function running for a fake's client, else None."""
    if frame is None or frame.f_globals is not vars(sdk):
        return None
    name: str = frame.f_code.co_name
    if name not in (RETRY, ACK_LOOP):
        return None
    return name if is_fake(frame.f_locals.get("self")) else None


class _ModuleShim(types.ModuleType):
    """A module that is ``real`` but for the attributes its subclass defines."""

    def __init__(self, real: types.ModuleType) -> None:
        super().__init__(real.__name__, real.__doc__)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return f"<pytest-webpubsub shim of {self._real!r}>"


# -- sync: time.sleep and threading.Thread.join ----------------------------------------------------------


def _time_shim(sdk: types.ModuleType, is_fake: Callable[[Any], bool]) -> types.ModuleType:
    class TimeShim(_ModuleShim):
        def sleep(self, seconds: float) -> None:
            caller = _caller(sys._getframe(1), sdk, is_fake)
            if caller == RETRY:
                return
            if caller == ACK_LOOP:
                _park_thread(seconds)
                return
            time.sleep(seconds)

    return TimeShim(time)


def _park_thread(seconds: float) -> None:
    """Sleep ``seconds`` unless the SDK joins this thread first."""
    thread = threading.current_thread()
    wake = threading.Event()
    with _lock:
        _parked_threads[thread] = wake
    try:
        wake.wait(seconds)
    finally:
        with _lock:
            if _parked_threads.get(thread) is wake:
                del _parked_threads[thread]


def _wake_thread(thread: threading.Thread) -> None:
    with _lock:
        wake = _parked_threads.get(thread)
    if wake is not None:
        wake.set()


class WakingThread(threading.Thread):
    """``threading.Thread`` for the SDK module: ``join`` first ends a sequence-ack sleep this thread is in."""

    def join(self, timeout: Optional[float] = None) -> None:
        _wake_thread(self)
        super().join(timeout)


def _threading_shim() -> types.ModuleType:
    class ThreadingShim(_ModuleShim):
        Thread = WakingThread

    return ThreadingShim(threading)


# -- aio: asyncio.sleep and asyncio.wait_for -------------------------------------------------------------


def _asyncio_shim(sdk: types.ModuleType, is_fake: Callable[[Any], bool]) -> types.ModuleType:
    class AsyncioShim(_ModuleShim):
        def sleep(self, delay: float, result: Any = None) -> Awaitable[Any]:
            caller = _caller(sys._getframe(1), sdk, is_fake)
            if caller == RETRY:
                return asyncio.sleep(0, result)
            if caller == ACK_LOOP:
                return _park_task(delay, result)
            return asyncio.sleep(delay, result)

        def wait_for(self, fut: Awaitable[_T], timeout: Optional[float]) -> Awaitable[_T]:
            if isinstance(fut, asyncio.Task):
                _wake_task(fut)
            return asyncio.wait_for(fut, timeout)

    return AsyncioShim(asyncio)


async def _park_task(delay: float, result: Any) -> Any:
    """``asyncio.sleep(delay, result)`` that ends early when the SDK waits for the sleeping task."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    wake: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(delay, _resolve, wake)
    if task is not None:
        with _lock:
            _parked_tasks[task] = wake
    try:
        await wake
        return result
    finally:
        timer.cancel()
        if task is not None:
            with _lock:
                if _parked_tasks.get(task) is wake:
                    del _parked_tasks[task]


def _wake_task(task: asyncio.Task[Any]) -> None:
    with _lock:
        wake = _parked_tasks.get(task)
    if wake is None:
        return
    loop = wake.get_loop()
    try:
        running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _resolve(wake)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(_resolve, wake)


def _resolve(wake: asyncio.Future[None]) -> None:
    if not wake.done():
        wake.set_result(None)


class SdkWaitsSeam(Seam):
    """The shims as a seam: in place while the seams are installed. Only fakes' clients are ever sped up, so with no
    fake active every wait is the real one."""

    def install(self) -> None:
        install()

    def uninstall(self) -> None:
        uninstall()

    def release(self, host: str) -> None:
        """The last fake is stopping: end the sleeps its clients' loops are parked in, as :meth:`uninstall` would."""
        if HOSTS.hosts() == [host]:
            wake_all()


SEAM = SdkWaitsSeam()
