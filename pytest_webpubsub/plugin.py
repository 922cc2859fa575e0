"""The pytest plugin: the ``webpubsub`` fixture, its marker and ini options.

Imports only pytest, the options and the core's clock at import time; JWT, azure-core, respx and httpx load when a
fake is built (``test_plugin_import_is_cheap`` checks it in a subprocess). The seams are installed at the first use of
the fixture and kept to the end of the session (see :meth:`~._hosts.HostTable.pin`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._core.clock import FakeClock
from ._options import Options

if TYPE_CHECKING:
    from ._fake import FakeWebPubSub
    from ._hosts import HostTable

_INI_OPTIONS = {
    "endpoint": f"URL of the fake resource (default: {Options.endpoint})",
    "access_key": "access key of the fake resource's connection string",
    "hub": "hub name exported to webpubsub_hub_env (default: hub)",
    "connection_string_env": "environment variable set to the fake's connection string for the whole session",
    "hub_env": "environment variable set to the hub name for the whole session",
    "reverse_proxy_endpoint": "URL of an API gateway in front of the resource, routed to the fake too",
    "upstream_timeout": "seconds an event handler may take to answer (default: 10)",
    "fail_on_upstream_errors": "fail a test during which an event handler call failed (default: true)",
}
MARKER = (
    "webpubsub(endpoint=..., access_key=..., hub='hub', connection_string_env=None, hub_env=None, "
    "reverse_proxy_endpoint=None, fail_on_unowned_hosts=True, upstream_timeout=10.0, fail_on_upstream_errors=True, "
    "fail_on_unused_faults=True, max_deliveries=None, max_rest_calls=None, clock=FakeClock(), id_seed=...): "
    "configure the "
    "webpubsub fixture for this test; the closest marker wins. See the README's 'Configuration' section."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, help_text in _INI_OPTIONS.items():
        parser.addini(f"webpubsub_{name}", help_text, default=None)


_SESSION_ENVIRONMENT = pytest.StashKey[dict[str, str]]()
"""The variables the ini keys exported for the whole session (name -> value)."""
_INI_OPTIONS_CACHE = pytest.StashKey[Options]()
"""The ini keys over the defaults, read once per session."""
_PINNED = pytest.StashKey[bool]()
"""Set once this session has pinned the seams (unpinned by a cleanup of the config)."""


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Export the ini's variables before the root conftest.py files (and what they import) are loaded."""
    _export_session_environment(early_config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    try:
        _ini_defaults(config)
    except (TypeError, ValueError) as error:
        raise pytest.UsageError(f"pytest-webpubsub: invalid ini option: {error}") from None
    _export_session_environment(config)  # when the plugin was registered too late for the hook above


def _export_session_environment(config: pytest.Config) -> None:
    """Set ``webpubsub_connection_string_env`` / ``webpubsub_hub_env`` for the whole session, restored at its end.

    Applications that read their configuration at import time (a settings module, a module-level client) then
    find it while pytest collects them. The value is the one every test's fake uses unless a marker changes it.
    """
    if _SESSION_ENVIRONMENT in config.stash:
        return
    try:
        exported = _ini_defaults(config).environment()
    except (TypeError, ValueError):
        return  # pytest_configure reports it as a usage error
    config.stash[_SESSION_ENVIRONMENT] = exported
    if not exported:
        return
    patch = pytest.MonkeyPatch()
    for name, value in exported.items():
        patch.setenv(name, value)
    config.add_cleanup(patch.undo)


def ini_options(config: pytest.Config) -> Options:
    """The project's defaults: ini keys over the package defaults, with a clock of their own."""
    return _ini_defaults(config).merged({"clock": FakeClock()})


def _ini_defaults(config: pytest.Config) -> Options:
    """:func:`ini_options`, read once per session; its clock is shared, so callers replace it."""
    cached = config.stash.get(_INI_OPTIONS_CACHE, None)
    if cached is None:
        cached = config.stash[_INI_OPTIONS_CACHE] = _read_ini_options(config)
    return cached


def _read_ini_options(config: pytest.Config) -> Options:
    values = {name: config.getini(f"webpubsub_{name}") for name in _INI_OPTIONS}
    chosen = {name: value for name, value in values.items() if value not in (None, "")}
    if "upstream_timeout" in chosen:
        try:
            chosen["upstream_timeout"] = float(chosen["upstream_timeout"])
        except ValueError:
            raise ValueError(f"upstream_timeout={chosen['upstream_timeout']!r} must be a number of seconds") from None
    if "fail_on_upstream_errors" in chosen:
        chosen["fail_on_upstream_errors"] = _ini_bool("fail_on_upstream_errors", chosen["fail_on_upstream_errors"])
    return Options().merged(chosen)


def _ini_bool(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"{name}={value!r} must be true or false")


def pytest_report_header(config: pytest.Config) -> str:
    options = _ini_defaults(config)
    return f"pytest-webpubsub: endpoint={options.endpoint}, hub={options.hub}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that carries the marker gets the fixture even if it does not ask for it."""
    for item in items:
        if item.get_closest_marker("webpubsub") is not None and "webpubsub" not in getattr(item, "fixturenames", ()):
            item.fixturenames.append("webpubsub")  # type: ignore[attr-defined]


def _marker_options(request: pytest.FixtureRequest) -> Options:
    options = _ini_defaults(request.config)
    overrides: dict[str, Any] = {"clock": FakeClock(), "id_seed": request.node.nodeid}  # each test its own clock
    for marker in reversed(list(request.node.iter_markers("webpubsub"))):
        if marker.args:
            raise TypeError("@pytest.mark.webpubsub takes keyword arguments only, e.g. webpubsub(hub='chat')")
        overrides.update(marker.kwargs)
    return options.merged(overrides)


def _pin_for_the_session(config: pytest.Config, hosts: HostTable) -> None:
    """Keep the seams installed from now to the end of the session (installing them costs more than a test).

    While no fake is active they pass everything through; the config's cleanup removes them after the session.
    """
    hosts.pin()
    config.stash[_PINNED] = True
    config.add_cleanup(hosts.unpin)


@pytest.fixture
def webpubsub(request: pytest.FixtureRequest) -> Iterator[FakeWebPubSub]:
    """A fresh, active fake Web PubSub service for this test.

    SDK clients built from ``webpubsub.connection_string`` (or any client of ``webpubsub.endpoint``) reach it;
    ``webpubsub.connect(hub, ...)`` opens simulated client connections. During the test the environment holds
    exactly the variables this test's options export: a session-wide variable of the ini that a marker renamed
    away is hidden until the test ends.
    """
    try:
        options = _marker_options(request)
    except (TypeError, ValueError) as error:
        usage_error = str(error)
    else:
        usage_error = ""
    if usage_error:  # failed outside the except block, so that no chained traceback buries the one line
        pytest.fail(f"pytest-webpubsub: invalid @pytest.mark.webpubsub: {usage_error}", pytrace=False)
    from ._fake import FakeWebPubSub
    from ._hosts import HOSTS

    config = request.config
    if not config.stash.get(_PINNED, False):
        _pin_for_the_session(config, HOSTS)
    fake = FakeWebPubSub(options)
    refused_before = len(HOSTS.refused)
    session_environment = config.stash.get(_SESSION_ENVIRONMENT, None)
    hidden = session_environment.keys() - options.environment().keys() if session_environment else ()
    if hidden:
        with pytest.MonkeyPatch.context() as patch:
            for name in hidden:
                patch.delenv(name, raising=False)
            with fake:
                yield fake
    else:
        with fake:
            yield fake
    upstream_failures = fake._upstream.error_report(
        hint="If these failures are what the test checks, mark it "
        "@pytest.mark.webpubsub(fail_on_upstream_errors=False) and read webpubsub.upstream_calls."
    )
    if upstream_failures is not None and fake.options.fail_on_upstream_errors:
        pytest.fail(upstream_failures, pytrace=False)
    if fake.pending_faults and fake.options.fail_on_unused_faults:
        pytest.fail(
            "pytest-webpubsub: injected faults that no REST call consumed: "
            + "; ".join(fake.pending_faults)
            + ". The code under test never made the call the fault was for (check operation= and target=); if that "
            "is what the test checks, mark it @pytest.mark.webpubsub(fail_on_unused_faults=False).",
            pytrace=False,
        )
    refused = HOSTS.refused[refused_before:]
    if refused and fake.options.fail_on_unowned_hosts:
        hosts = ", ".join(sorted(set(refused)))
        pytest.fail(
            f"pytest-webpubsub: during this test the code tried to reach Azure Web PubSub at {hosts}, which no fake "
            f"owns ({len(refused)} request(s) refused; the fake's host is {fake.host!r}). Point the client at "
            "webpubsub.endpoint / webpubsub.connection_string, or set the fake's endpoint. If the refusal is what the "
            "test checks, mark it @pytest.mark.webpubsub(fail_on_unowned_hosts=False).",
            pytrace=False,
        )
