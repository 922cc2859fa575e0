"""Configuring the fixture: the marker (closest wins), ini keys (beaten by the marker) and their validation."""

from __future__ import annotations

import pytest

INI = """
[pytest]
webpubsub_endpoint = https://ini.webpubsub.azure.com
webpubsub_hub = iniHub
webpubsub_connection_string_env = WPS_INI_CS
webpubsub_hub_env = WPS_INI_HUB
"""

VALID_OPTIONS = (
    "endpoint, access_key, hub, connection_string_env, hub_env, reverse_proxy_endpoint, fail_on_unowned_hosts, "
    "upstream_timeout, fail_on_upstream_errors, fail_on_unused_faults, max_deliveries, max_rest_calls, clock, id_seed"
)


def test_closest_marker_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        pytestmark = pytest.mark.webpubsub(hub="moduleHub", hub_env="WPS_HUB")

        def test_module_marker(webpubsub):
            assert os.environ["WPS_HUB"] == "moduleHub"
            assert webpubsub.endpoint == "https://fake.webpubsub.azure.com"

        @pytest.mark.webpubsub(hub="classHub", endpoint="https://class.webpubsub.azure.com")
        class TestClass:
            def test_class_marker_beats_module_marker(self, webpubsub):
                assert os.environ["WPS_HUB"] == "classHub"
                assert webpubsub.endpoint == "https://class.webpubsub.azure.com"

            @pytest.mark.webpubsub(hub="functionHub")
            def test_function_marker_beats_class_marker(self, webpubsub):
                assert os.environ["WPS_HUB"] == "functionHub"
                # keys the closer marker does not name still come from the class marker
                assert webpubsub.endpoint == "https://class.webpubsub.azure.com"
                assert webpubsub.connection_string.startswith("Endpoint=https://class.webpubsub.azure.com;")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_ini_options_apply(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import os
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        def test_ini(webpubsub):
            assert webpubsub.endpoint == "https://ini.webpubsub.azure.com"
            assert os.environ["WPS_INI_CS"] == webpubsub.connection_string
            assert os.environ["WPS_INI_HUB"] == "iniHub"
            alice = webpubsub.connect("iniHub", user_id="alice")
            client = WebPubSubServiceClient.from_connection_string(
                os.environ["WPS_INI_CS"], hub=os.environ["WPS_INI_HUB"]
            )
            client.send_to_user("alice", "hi", content_type="text/plain")
            assert [message.data for message in alice.received] == ["hi"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_marker_beats_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.webpubsub(
            endpoint="https://marker.webpubsub.azure.com", hub="markerHub", connection_string_env="WPS_MARKER_CS"
        )
        def test_marker(webpubsub):
            assert webpubsub.endpoint == "https://marker.webpubsub.azure.com"
            assert os.environ["WPS_MARKER_CS"] == webpubsub.connection_string
            assert "WPS_INI_CS" not in os.environ
            assert os.environ["WPS_INI_HUB"] == "markerHub"  # hub_env still comes from the ini
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_unknown_marker_option_is_a_one_line_error_listing_the_valid_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.webpubsub(hubb="chat")
        def test_typo(webpubsub):
            pass

        @pytest.mark.webpubsub(hubb="chat")
        def test_typo_marker_only():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    line = (
        "pytest-webpubsub: invalid @pytest.mark.webpubsub: "
        f"unknown pytest-webpubsub option(s) hubb; valid options: {VALID_OPTIONS}"
    )
    result.stdout.fnmatch_lines(
        ["*_ ERROR at setup of test_typo _*", line, "*_ ERROR at setup of test_typo_marker_only _*", line],
        consecutive=True,
    )
    assert_no_traceback(result)


def assert_no_traceback(result: pytest.RunResult) -> None:
    """A usage error is one line: no frames of the plugin, no chained exception."""
    output = result.stdout.str()
    assert "plugin.py" not in output
    assert "Traceback" not in output
    assert "During handling" not in output


def test_positional_marker_arguments_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.webpubsub("chat")
        def test_positional(webpubsub):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_positional _*",
            "pytest-webpubsub: invalid @pytest.mark.webpubsub: "
            "@pytest.mark.webpubsub takes keyword arguments only, e.g. webpubsub(hub='chat')",
        ],
        consecutive=True,
    )
    assert_no_traceback(result)


@pytest.mark.parametrize(
    ("ini_line", "message"),
    [
        (
            "webpubsub_endpoint = ftp://nope",
            "endpoint='ftp://nope' must be an http(s) URL such as 'https://fake.webpubsub.azure.com'",
        ),
        (
            "webpubsub_endpoint = https://",
            "endpoint='https://' must be an http(s) URL such as 'https://fake.webpubsub.azure.com'",
        ),
        (
            "webpubsub_hub = chat-room",
            "hub='chat-room' must be a hub name: a letter, then up to 127 letters, digits and _`,.[]",
        ),
    ],
)
def test_invalid_ini_value_is_a_usage_error(pytester: pytest.Pytester, ini_line: str, message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini_line}\n")
    pytester.makepyfile("def test_never_runs(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-webpubsub: invalid ini option: {message}"])


def test_invalid_marker_value_is_a_one_line_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.webpubsub(hub="chat-room")
        def test_bad_hub(webpubsub):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_bad_hub _*",
            "pytest-webpubsub: invalid @pytest.mark.webpubsub: "
            "hub='chat-room' must be a hub name: a letter, then up to 127 letters, digits and _`,.[]",
        ],
        consecutive=True,
    )
    assert_no_traceback(result)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.webpubsub(hub="chat")
        def test_strict(webpubsub):
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.webpubsub(endpoint=..., access_key=..., hub='hub', *"])


@pytest.mark.parametrize(
    ("ini", "header"),
    [
        ("", "pytest-webpubsub: endpoint=https://fake.webpubsub.azure.com, hub=hub"),
        (INI, "pytest-webpubsub: endpoint=https://ini.webpubsub.azure.com, hub=iniHub"),
    ],
)
def test_report_header_shows_the_endpoint(pytester: pytest.Pytester, ini: str, header: str) -> None:
    if ini:
        pytester.makeini(ini)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([header])


def test_ini_options_are_read_once_but_each_caller_gets_its_own_clock(pytestconfig: pytest.Config) -> None:
    from pytest_webpubsub.plugin import ini_options

    first, second = ini_options(pytestconfig), ini_options(pytestconfig)
    first.clock.advance(30)  # type: ignore[attr-defined]
    assert (first.endpoint, first.hub) == (second.endpoint, second.hub)
    assert second.clock.offset == 0  # type: ignore[attr-defined]
