"""The public records: case-insensitive headers that keep the sender's spelling, requests, responses, calls."""

from __future__ import annotations

import pytest

from pytest_webpubsub import UpstreamCall, UpstreamRequest, UpstreamResponse
from pytest_webpubsub._upstream import Headers


def test_headers_are_case_insensitive_and_keep_the_senders_spelling() -> None:
    headers = Headers({"ce-connectionId": "c1", "WebHook-Request-Origin": "h"})
    assert headers["CE-CONNECTIONID"] == "c1" and headers.get("webhook-request-origin") == "h"
    assert "Ce-ConnectionId" in headers and "ce-userId" not in headers and 1 not in headers  # type: ignore[comparison-overlap]
    assert dict(headers) == {"ce-connectionId": "c1", "WebHook-Request-Origin": "h"}
    assert list(headers) == ["ce-connectionId", "WebHook-Request-Origin"] and len(headers) == 2
    assert headers == {"CE-CONNECTIONID": "c1", "webhook-request-origin": "h"}
    assert headers != {"ce-connectionId": "c2", "WebHook-Request-Origin": "h"}
    assert hash(headers) == hash(Headers(dict(headers)))


def test_a_header_sent_twice_keeps_its_first_spelling_and_joins_the_values() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert dict(headers) == {"Set-Cookie": "a=1, b=2"}


def test_requests_and_responses_convert_their_headers_and_bodies() -> None:
    request = UpstreamRequest("POST", "http://h/", {"Content-Type": "application/json"}, b'{"a": [1]}')
    assert isinstance(request.headers, Headers) and request.json() == {"a": [1]} and request.text == '{"a": [1]}'
    response = UpstreamResponse(200, {"content-type": "text/plain"}, "héllo")
    assert response.body == "héllo".encode() and response.text == "héllo"
    assert response.headers["Content-Type"] == "text/plain"
    assert UpstreamResponse(204).headers == {} and UpstreamResponse(204).body == b""
    assert UpstreamResponse(200, body=b"[1]").json() == [1]
    assert UpstreamResponse(200, body=b"x") == UpstreamResponse(200, {}, b"x")


@pytest.mark.parametrize("status", [99, 600, "200", None])
def test_a_response_needs_an_http_status(status: object) -> None:
    with pytest.raises(ValueError, match="status"):
        UpstreamResponse(status)  # type: ignore[arg-type]


def test_a_call_without_an_answer_counts_as_500() -> None:
    request = UpstreamRequest("POST", "http://h/")
    assert UpstreamCall("hub", "connect", "c", None, request, None, "boom").status == 500
    assert UpstreamCall("hub", "connect", "c", None, request, UpstreamResponse(401)).status == 401
