"""The pytest plugin: the ``webpubsub`` fixture, its marker and ini options.

Imports only pytest and the options at import time; JWT, azure-core, respx and httpx load when a fake is
built (``test_plugin_import_is_cheap`` checks it in a subprocess).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

import pytest

from ._options import Options

if TYPE_CHECKING:
    from ._fake import FakeWebPubSub

_INI_OPTIONS = {
    "endpoint": "URL of the fake resource (default: %s)" % Options.endpoint,
    "access_key": "access key of the fake resource's connection string",
    "hub": "hub name exported to webpubsub_hub_env (default: hub)",
    "connection_string_env": "environment variable set to the fake's connection string during each test",
    "hub_env": "environment variable set to the hub name during each test",
    "reverse_proxy_endpoint": "URL of an API gateway in front of the resource, routed to the fake too",
}
MARKER = (
    "webpubsub(endpoint=..., access_key=..., hub='hub', connection_string_env=None, hub_env=None, "
    "reverse_proxy_endpoint=None, fail_on_unowned_hosts=True, clock=time.time, id_seed=...): configure the webpubsub fixture for this test; the closest marker wins. "
    "See the README's 'Configuration' section."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, help_text in _INI_OPTIONS.items():
        parser.addini(f"webpubsub_{name}", help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    try:
        ini_options(config)
    except (TypeError, ValueError) as error:
        raise pytest.UsageError(f"pytest-webpubsub: invalid ini option: {error}") from None


def ini_options(config: pytest.Config) -> Options:
    """The project's defaults: ini keys over the package defaults."""
    values = {name: config.getini(f"webpubsub_{name}") for name in _INI_OPTIONS}
    return Options().merged({name: value for name, value in values.items() if value not in (None, "")})


def pytest_report_header(config: pytest.Config) -> str:
    options = ini_options(config)
    return f"pytest-webpubsub: endpoint={options.endpoint}, hub={options.hub}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that carries the marker gets the fixture even if it does not ask for it."""
    for item in items:
        if item.get_closest_marker("webpubsub") is not None and "webpubsub" not in getattr(item, "fixturenames", ()):
            item.fixturenames.append("webpubsub")  # type: ignore[attr-defined]


def _marker_options(request: pytest.FixtureRequest) -> Options:
    options = ini_options(request.config)
    overrides: dict[str, Any] = {"id_seed": request.node.nodeid}
    for marker in reversed(list(request.node.iter_markers("webpubsub"))):
        if marker.args:
            raise TypeError("@pytest.mark.webpubsub takes keyword arguments only, e.g. webpubsub(hub='chat')")
        overrides.update(marker.kwargs)
    return options.merged(overrides)


@pytest.fixture
def webpubsub(request: pytest.FixtureRequest) -> Iterator[FakeWebPubSub]:
    """A fresh, active fake Web PubSub service for this test.

    SDK clients built from ``webpubsub.connection_string`` (or any client of ``webpubsub.endpoint``) reach it;
    ``webpubsub.connect(hub, ...)`` opens simulated client connections.
    """
    __tracebackhide__ = lambda info: info.errisinstance(TypeError)  # noqa: E731
    from ._fake import FakeWebPubSub
    from ._hosts import HOSTS

    fake = FakeWebPubSub(_marker_options(request))
    refused_before = len(HOSTS.refused)
    with fake:
        yield fake
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
