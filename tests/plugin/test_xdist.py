"""The fixture under pytest-xdist: every worker's tests get their own fake and the same ids as a serial run."""

from __future__ import annotations

import json

import pytest


def test_fixture_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)  # when this suite itself runs under xdist
    out = pytester.mkdir("ids")
    (out / "serial").mkdir()
    (out / "xdist").mkdir()
    pytester.makepyfile(
        test_many=f"""
        import json, os, pathlib
        import pytest
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        @pytest.mark.parametrize("n", range(6))
        def test_own_state(request, webpubsub, n):
            members = [webpubsub.connect("chat", user_id=f"user{{i}}", groups=["room"]) for i in range(n + 1)]
            client = WebPubSubServiceClient.from_connection_string(webpubsub.connection_string, hub="chat")
            client.send_to_group("room", f"message {{n}}", content_type="text/plain")
            webpubsub.assert_delivered(data=f"message {{n}}", times=n + 1)
            assert len(webpubsub.deliveries) == n + 1
            assert [member.received[0].data for member in members] == [f"message {{n}}"] * (n + 1)
            worker = os.environ.get("PYTEST_XDIST_WORKER", "serial")
            path = pathlib.Path({str(out)!r}) / ("serial" if worker == "serial" else "xdist") / f"{{n}}.json"
            path.write_text(json.dumps({{"worker": worker, "ids": [member.connection_id for member in members]}}))
        """
    )

    def recorded(mode: str) -> dict[int, dict[str, object]]:
        return {n: json.loads((out / mode / f"{n}.json").read_text()) for n in range(6)}

    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])
    pytester.runpytest("-p", "no:xdist").assert_outcomes(passed=6)
    xdist, serial = recorded("xdist"), recorded("serial")
    assert {run["worker"] for run in xdist.values()} == {"gw0", "gw1"}
    assert {n: run["ids"] for n, run in xdist.items()} == {n: run["ids"] for n, run in serial.items()}
