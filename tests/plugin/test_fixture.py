"""The ``webpubsub`` fixture: a fresh, active fake per test that leaves nothing behind."""

from __future__ import annotations

import json
import os

import pytest

from pytest_webpubsub._core.clock import CountingIds

IN_ORDER = ("-p", "no:randomly")
"""Run the inner tests in file order even where pytest-randomly is installed: later tests check earlier ones."""

SEND_HELLO = """
from azure.messaging.webpubsubservice import WebPubSubServiceClient

def send_to_all(fake, text, hub="chat"):
    client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=hub)
    client.send_to_all(text, content_type="text/plain")
"""


def test_each_test_gets_a_fresh_active_fake(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SEND_HELLO)
    pytester.makepyfile(
        """
        from azure.messaging.webpubsubservice import WebPubSubServiceClient
        from conftest import send_to_all

        SEEN = []

        def test_a(webpubsub):
            assert webpubsub.active
            alice = webpubsub.connect("chat", user_id="alice", groups=["room"])
            send_to_all(webpubsub, "hello")
            assert [message.data for message in alice.received] == ["hello"]
            SEEN.append((webpubsub, alice.connection_id))

        def test_b(webpubsub):
            previous, alice_id = SEEN[0]
            assert webpubsub is not previous
            assert not previous.active
            assert webpubsub.active
            assert webpubsub.connections == []
            assert webpubsub.deliveries == ()
            assert webpubsub.lifecycle == ()
            assert webpubsub.rest_calls == []
            assert webpubsub._service.hubs() == []
            client = WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="chat")
            assert not client.connection_exists(alice_id)
            assert not client.user_exists("alice")
            assert not client.group_exists("room")
        """
    )
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=2)


def test_connection_ids_are_deterministic_per_test_id(pytester: pytest.Pytester) -> None:
    out = pytester.mkdir("ids")
    pytester.makepyfile(
        test_ids=f"""
        import json, pathlib

        def record(request, webpubsub):
            ids = [webpubsub.connect("chat").connection_id for _ in range(3)]
            path = pathlib.Path({str(out)!r}) / (request.node.name + ".json")
            path.write_text(json.dumps(ids))

        def test_a(request, webpubsub):
            record(request, webpubsub)

        def test_b(request, webpubsub):
            record(request, webpubsub)
        """
    )

    def ids(name: str) -> list[str]:
        return json.loads((out / f"{name}.json").read_text())

    pytester.runpytest().assert_outcomes(passed=2)
    first_a, first_b = ids("test_a"), ids("test_b")
    pytester.runpytest("-k", "test_b").assert_outcomes(passed=1, deselected=1)

    assert ids("test_b") == first_b, "ids must not depend on which tests ran before"
    assert len(set(first_a)) == 3
    assert not set(first_a) & set(first_b), "two tests must not share connection ids"
    seeded = CountingIds("test_ids.py::test_a")
    assert first_a == [seeded() for _ in range(3)], "ids are seeded by the test's node id"


def test_marker_alone_activates_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        @pytest.mark.webpubsub(connection_string_env="WPS_MARKER_ONLY")
        def test_function_marker(request):
            assert "webpubsub" in request.fixturenames
            assert "WPS_MARKER_ONLY" in os.environ  # exported before the test body runs
            client = WebPubSubServiceClient.from_connection_string(os.environ["WPS_MARKER_ONLY"], hub="chat")
            assert client.connection_exists("nobody") is False  # answered by the fake
            assert request.getfixturevalue("webpubsub").active

        @pytest.mark.webpubsub(hub="chat")
        class TestClassMarker:
            def test_method(self, request):
                assert "webpubsub" in request.fixturenames
                assert request.getfixturevalue("webpubsub").active

        def test_unmarked(request):
            assert "webpubsub" not in request.fixturenames
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_environment_variables_are_set_during_the_test_and_restored_after(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WPS_PRESET", "preset")
    monkeypatch.delenv("WPS_FRESH", raising=False)
    pytester.makepyfile(
        """
        import os
        import pytest
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        exporting = pytest.mark.webpubsub(connection_string_env="WPS_PRESET", hub_env="WPS_FRESH", hub="chat")

        @exporting
        def test_during(webpubsub):
            assert os.environ["WPS_PRESET"] == webpubsub.connection_string
            assert os.environ["WPS_FRESH"] == "chat"
            alice = webpubsub.connect("chat", user_id="alice")
            client = WebPubSubServiceClient.from_connection_string(
                os.environ["WPS_PRESET"], hub=os.environ["WPS_FRESH"]
            )
            client.send_to_user("alice", "hi", content_type="text/plain")
            assert [message.data for message in alice.received] == ["hi"]

        @exporting
        def test_during_fails(webpubsub):
            raise RuntimeError("the test body failed")

        def test_after():
            assert os.environ["WPS_PRESET"] == "preset"
            assert "WPS_FRESH" not in os.environ
        """
    )
    result = pytester.runpytest(*IN_ORDER)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the test body failed"])
    assert os.environ["WPS_PRESET"] == "preset"
    assert "WPS_FRESH" not in os.environ


@pytest.mark.usefixtures("seams_unpinned")
def test_azure_core_transport_is_restored_after_the_session_and_idle_between_fakes(pytester: pytest.Pytester) -> None:
    from azure.core.pipeline.transport._aiohttp import AioHttpTransport
    from azure.core.pipeline.transport._requests_basic import RequestsTransport

    originals = {
        "sync send": RequestsTransport.send,
        "sync sleep": RequestsTransport.sleep,
        "async send": AioHttpTransport.send,
        "async sleep": AioHttpTransport.sleep,
    }
    pytester.makeconftest(
        """
        from azure.core.pipeline.transport._aiohttp import AioHttpTransport
        from azure.core.pipeline.transport._requests_basic import RequestsTransport

        def methods():
            return {
                "sync send": RequestsTransport.send,
                "sync sleep": RequestsTransport.sleep,
                "async send": AioHttpTransport.send,
                "async sleep": AioHttpTransport.sleep,
            }

        ORIGINALS = methods()
        """
    )
    pytester.makepyfile(
        """
        import pytest
        import requests
        from azure.core.pipeline.transport._requests_basic import RequestsTransport
        from conftest import ORIGINALS, methods

        def test_patched_while_active(webpubsub):
            patched = methods()
            assert all(patched[name] is not ORIGINALS[name] for name in ORIGINALS)

        def test_patched_and_failing(webpubsub):
            raise RuntimeError("the test body failed")

        def test_idle_between_fakes(monkeypatch):
            from azure.core.exceptions import ServiceRequestError
            from azure.core.rest import HttpRequest
            from pytest_webpubsub._hosts import HOSTS

            assert HOSTS.pinned and not HOSTS.active  # kept for the session, no fake active
            reached = []

            def network(self, request, **kwargs):  # requests' adapter, standing for the network
                reached.append(request.url)
                raise requests.exceptions.ConnectionError("no network here")

            monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", network)
            refused = len(HOSTS.refused)
            transport = RequestsTransport()
            with pytest.raises(ServiceRequestError, match="no network here"):
                transport.send(HttpRequest("GET", "https://nobody.webpubsub.azure.com/api/health"))
            assert (reached, len(HOSTS.refused)) == (["https://nobody.webpubsub.azure.com/api/health"], refused)
        """
    )
    pytester.runpytest(*IN_ORDER).assert_outcomes(passed=2, failed=1)
    assert RequestsTransport.send is originals["sync send"]
    assert {
        "sync send": RequestsTransport.send,
        "sync sleep": RequestsTransport.sleep,
        "async send": AioHttpTransport.send,
        "async sleep": AioHttpTransport.sleep,
    } == originals


def test_two_fakes_with_different_endpoints_work_side_by_side(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SEND_HELLO)
    pytester.makepyfile(
        """
        from pytest_webpubsub import FakeWebPubSub
        from conftest import send_to_all

        def test_two_fakes(webpubsub):
            with FakeWebPubSub(endpoint="https://other.webpubsub.azure.com") as other:
                here = webpubsub.connect("chat")
                there = other.connect("chat")
                send_to_all(webpubsub, "to the fixture's fake")
                send_to_all(other, "to the other fake")
                assert [message.data for message in here.received] == ["to the fixture's fake"]
                assert [message.data for message in there.received] == ["to the other fake"]
            assert not other.active
            send_to_all(webpubsub, "still answered")
            assert [message.data for message in here.received][-1] == "still answered"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_two_fakes_with_the_same_endpoint_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SEND_HELLO)
    pytester.makepyfile(
        """
        import pytest
        from pytest_webpubsub import FakeWebPubSub
        from conftest import send_to_all

        @pytest.mark.parametrize("endpoint", ["https://fake.webpubsub.azure.com", "https://FAKE.webpubsub.azure.com/"])
        def test_same_host(webpubsub, endpoint):
            twin = FakeWebPubSub(endpoint=endpoint)
            with pytest.raises(RuntimeError, match="already owns the host 'fake.webpubsub.azure.com'"):
                twin.start()
            assert not twin.active
            alice = webpubsub.connect("chat")
            send_to_all(webpubsub, "the fixture's fake still answers")
            assert [message.data for message in alice.received] == ["the fixture's fake still answers"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


SWALLOWED_REFUSAL = """
    import pytest
    from azure.core.exceptions import ServiceRequestError
    from azure.messaging.webpubsubservice import WebPubSubServiceClient

    {marker}
    def test_app_swallows_the_error(webpubsub):
        wrong = webpubsub.connection_string.replace("fake.webpubsub", "prod.webpubsub")
        client = WebPubSubServiceClient.from_connection_string(wrong, hub="chat", retry_total=0)
        try:
            client.send_to_all("hi", content_type="text/plain")
        except ServiceRequestError:
            pass  # the application logs and carries on
"""


def test_a_refused_azure_host_fails_the_test_even_when_the_app_swallows_the_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SWALLOWED_REFUSAL.format(marker=""))

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-webpubsub: during this test the code tried to reach Azure Web PubSub at "
            "prod.webpubsub.azure.com, which no fake owns (1 request(s) refused; the fake's host is "
            "'fake.webpubsub.azure.com')*",
        ]
    )


def test_a_test_of_the_refusal_itself_can_allow_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SWALLOWED_REFUSAL.format(marker="@pytest.mark.webpubsub(fail_on_unowned_hosts=False)"))

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
