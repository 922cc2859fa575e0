"""Injected faults that no call consumed fail the test at teardown (the test meant to hit them), unless turned off."""

from __future__ import annotations

import pytest


def test_an_unused_fault_fails_the_test_and_the_option_turns_it_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_fault_never_reached(webpubsub):
            webpubsub.inject_fault(503, operation="send_to_group", target="room", times=2)

        @pytest.mark.webpubsub(fail_on_unused_faults=False)
        def test_allowed(webpubsub):
            webpubsub.inject_fault(error="timeout")

        def test_consumed(webpubsub):
            alice = webpubsub.connect("hub", user_id="alice")
            webpubsub.inject_fault(error="connection", operation="connection_exists")
            assert webpubsub.service_client().connection_exists(alice.connection_id)  # HEAD: retried
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*injected faults that no REST call consumed: 503 x2 on send_to_group about 'room'.*"]
    )
