"""Apps that read their configuration at import time: the ini's variables are set for the whole session."""

from __future__ import annotations

import os

import pytest

from pytest_webpubsub import FakeWebPubSub, Options

IN_ORDER = ("-p", "no:randomly")

INI = """
[pytest]
webpubsub_connection_string_env = WPS_APP_CS
webpubsub_hub_env = WPS_APP_HUB
webpubsub_hub = chat
"""

APP = """
import os

from azure.messaging.webpubsubservice import WebPubSubServiceClient

# read once, at import, as settings modules do
CONNECTION_STRING = os.environ["WPS_APP_CS"]
HUB = os.environ["WPS_APP_HUB"]
client = WebPubSubServiceClient.from_connection_string(CONNECTION_STRING, hub=HUB)


def announce(text):
    client.send_to_all(text, content_type="text/plain")
"""

TESTS = """
import os

import app


def test_the_module_level_client_reaches_this_tests_fake(webpubsub):
    assert app.CONNECTION_STRING == webpubsub.connection_string
    alice = webpubsub.connect(user_id="alice")
    app.announce("hello")
    assert [message.data for message in alice.received] == ["hello"]


def test_and_the_next_tests_fake(webpubsub):
    bob = webpubsub.connect(user_id="bob")
    app.announce("again")
    webpubsub.assert_delivered(to=bob, data="again", times=1)
    assert len(webpubsub.deliveries) == 1


def test_the_variables_are_there_without_the_fixture():
    assert os.environ["WPS_APP_CS"] == app.CONNECTION_STRING
    assert os.environ["WPS_APP_HUB"] == "chat"
"""


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WPS_APP_CS", "WPS_APP_HUB"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_environment")
def test_an_app_reading_os_environ_at_import_is_collected_and_passes(pytester: pytest.Pytester) -> None:
    """No conftest.py: the ini alone is enough."""
    pytester.makeini(INI)
    pytester.makepyfile(app=APP, test_app=TESTS)
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=3)
    assert "WPS_APP_CS" not in os.environ
    assert "WPS_APP_HUB" not in os.environ


@pytest.mark.usefixtures("clean_environment")
def test_without_the_ini_keys_the_import_fails_at_collection(pytester: pytest.Pytester) -> None:
    """The check above would notice: the app really does need the variables at import."""
    pytester.makeini("[pytest]\nwebpubsub_hub = chat\n")
    pytester.makepyfile(app=APP, test_app=TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*KeyError: 'WPS_APP_CS'*"])


@pytest.mark.usefixtures("clean_environment")
def test_a_root_conftest_may_import_the_app(pytester: pytest.Pytester) -> None:
    """Root conftest.py files load before pytest_configure: the variables are already set then."""
    pytester.makeini(INI)
    pytester.makeconftest("import app\n")
    pytester.makepyfile(app=APP, test_app=TESTS)
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=3)


@pytest.mark.usefixtures("clean_environment")
def test_under_xdist_every_worker_has_the_variables(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)  # when this suite itself runs under xdist
    pytester.makeini(INI)
    pytester.makepyfile(app=APP, test_app=TESTS)
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=3)


def test_previous_values_come_back_after_the_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WPS_APP_CS", "the developer's own")
    monkeypatch.delenv("WPS_APP_HUB", raising=False)
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import os

        def test_overridden():
            assert os.environ["WPS_APP_CS"].startswith("Endpoint=https://fake.webpubsub.azure.com;")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert os.environ["WPS_APP_CS"] == "the developer's own"
    assert "WPS_APP_HUB" not in os.environ


@pytest.mark.usefixtures("clean_environment")
def test_a_marker_applies_during_its_test_only(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import os
        import pytest

        SESSION = os.environ["WPS_APP_CS"]

        @pytest.mark.webpubsub(endpoint="https://marker.webpubsub.azure.com", hub="other")
        def test_marker_values(webpubsub):
            assert os.environ["WPS_APP_CS"] == webpubsub.connection_string != SESSION
            assert os.environ["WPS_APP_HUB"] == "other"

        @pytest.mark.webpubsub(connection_string_env="WPS_RENAMED", hub_env=None)
        def test_marker_names(webpubsub):
            assert os.environ["WPS_RENAMED"] == webpubsub.connection_string == SESSION
            assert "WPS_APP_CS" not in os.environ  # this test's options do not export it
            assert "WPS_APP_HUB" not in os.environ

        def test_session_values_again():
            assert os.environ["WPS_APP_CS"] == SESSION
            assert os.environ["WPS_APP_HUB"] == "chat"
            assert "WPS_RENAMED" not in os.environ

        def test_session_values_with_the_fixture(webpubsub):
            assert os.environ["WPS_APP_CS"] == SESSION == webpubsub.connection_string
        """
    )
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=4)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fake.webpubsub.azure.com",
        "https://contoso.webpubsub.azure.com/",
        "http://localhost:8080",
        "https://gateway.example.com/webpubsub/",
    ],
)
def test_the_session_value_is_the_fakes_connection_string(endpoint: str) -> None:
    options = Options(endpoint=endpoint, connection_string_env="CS", hub_env="HUB", hub="chat")
    assert options.environment() == {"CS": FakeWebPubSub(options).connection_string, "HUB": "chat"}
    assert Options().environment() == {}
