"""The fake's one clock: ``FakeClock`` itself, ``Options.clock``, and ``webpubsub.advance()`` against client token
expiry, minted tokens, the reliable recovery window and the SDK's REST calls (signed with wall time)."""

from __future__ import annotations

import math
import time
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import ConnectionRefused, FakeWebPubSub, Options
from pytest_webpubsub._core.clock import FakeClock, rest_token_time, wall_time
from pytest_webpubsub._protocol import RELIABLE_JSON

NOW = 1_700_000_000.0


# ------------------------------------------------------------------------------------------------ FakeClock


def test_the_clock_reads_its_source_at_every_call_and_adds_the_offset() -> None:
    now = [NOW]
    clock = FakeClock(lambda: now[0])
    assert clock() == NOW
    now[0] += 5
    assert clock() == NOW + 5
    clock.advance(10)
    clock.advance(0.5)
    assert (clock(), clock.offset) == (NOW + 15.5, 10.5)
    now[0] += 1
    assert clock() == NOW + 16.5


def test_the_default_source_is_time_time_looked_up_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    assert clock.source is wall_time
    monkeypatch.setattr(time, "time", lambda: NOW)  # what freezegun does to the time module
    clock.advance(60)
    assert clock() == NOW + 60
    assert repr(clock) == "FakeClock(wall time + 60 s)"


@pytest.mark.parametrize("seconds", [-1, -0.001, math.inf, -math.inf, math.nan, True, "5", None])
def test_advance_refuses_what_is_not_a_finite_forward_step(seconds: Any) -> None:
    clock = FakeClock(lambda: NOW)
    with pytest.raises(ValueError, match="seconds="):
        clock.advance(seconds)
    assert clock() == NOW


def test_rest_tokens_are_judged_on_the_source_not_the_advanced_clock() -> None:
    clock = FakeClock(lambda: NOW)
    clock.advance(3600)
    assert rest_token_time(clock) == NOW
    assert rest_token_time(lambda: NOW + 7) == NOW + 7  # a bare callable is its own source
    assert rest_token_time(clock, clock()) == NOW, "a reading the caller already took gives the same time"
    assert rest_token_time(lambda: NOW + 7, NOW + 9) == NOW + 9  # a bare callable: the reading given


# ------------------------------------------------------------------------------------------------ Options.clock


def test_options_wrap_any_clock_in_a_fake_clock_of_their_own() -> None:
    frozen = Options(clock=lambda: NOW)
    assert isinstance(frozen.clock, FakeClock) and frozen.clock() == NOW
    assert isinstance(Options().clock, FakeClock)
    assert Options().clock is not Options().clock  # never shared between two fakes built from fresh options
    mine = FakeClock(lambda: NOW)
    assert Options(clock=mine).clock is mine
    assert Options(clock=mine).merged({"hub": "chat"}).clock is mine
    with pytest.raises(ValueError, match="clock=5 must be a callable"):
        Options(clock=5)  # type: ignore[arg-type]


def test_each_fixture_gets_its_own_clock(webpubsub: FakeWebPubSub) -> None:
    assert webpubsub.clock is webpubsub.options.clock
    assert webpubsub.clock.offset == 0  # a clock advanced by an earlier test is not this one
    assert abs(webpubsub.clock() - time.time()) < 60


# ---------------------------------------------------------------------------------------------- client tokens


def key_client(fake: FakeWebPubSub, hub: str = "chat") -> WebPubSubServiceClient:
    return WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=hub)


def test_advance_expires_client_tokens_the_sdk_minted(webpubsub: FakeWebPubSub) -> None:
    url = key_client(webpubsub).get_client_access_token(user_id="ann", minutes_to_expire=5)["url"]
    webpubsub.advance(5 * 60 - 2)
    assert webpubsub.connect_url(url).user_id == "ann"
    webpubsub.advance(2)
    with pytest.raises(ConnectionRefused) as refused:
        webpubsub.connect_url(url)
    assert refused.value.status == 401
    assert "expired" in refused.value.reason


def test_rest_calls_of_the_sdk_keep_working_after_advance(webpubsub: FakeWebPubSub) -> None:
    ann = webpubsub.connect("chat", user_id="ann")
    webpubsub.advance(7 * 24 * 3600)
    client = key_client(webpubsub)
    client.send_to_user("ann", "a week later", content_type="text/plain")
    assert client.user_exists("ann") is True
    assert [message.data for message in ann.received] == ["a week later"]
    assert [call.response.status_code for call in webpubsub.rest_calls] == [202, 200]


def rest_request(fake: FakeWebPubSub, exp: float) -> int:
    url = f"{fake.endpoint}/api/hubs/chat/:send?api-version=2024-12-01"
    token = jwt.encode({"aud": url, "exp": int(exp)}, fake.access_key, algorithm="HS256")
    from pytest_webpubsub import FakeRequest

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    return fake.handle(FakeRequest("POST", url, headers, b"x")).status_code


def test_a_rest_token_expired_on_both_clocks_is_still_refused() -> None:
    fake = FakeWebPubSub(clock=lambda: NOW)
    assert rest_request(fake, NOW + 10) == 202
    assert rest_request(fake, NOW - 1) == 401
    fake.advance(3600)
    assert rest_request(fake, NOW + 10) == 202  # unexpired on the source: signed before advance() moved time
    assert rest_request(fake, NOW - 1) == 401


class EntraCredential:
    """A TokenCredential whose tokens the fake accepts (it checks only the audience and expiry of Entra tokens)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires_on = int(time.time()) + 3600
        token = jwt.encode({"aud": "https://webpubsub.azure.com", "exp": expires_on}, "k" * 32, algorithm="HS256")
        return AccessToken(token, expires_on)


def test_tokens_the_service_mints_are_stamped_with_the_fake_clock(webpubsub: FakeWebPubSub) -> None:
    client = WebPubSubServiceClient(webpubsub.endpoint, "chat", credential=EntraCredential())
    webpubsub.advance(10_000)
    token = client.get_client_access_token(user_id="ann", minutes_to_expire=5)  # :generateToken on the fake
    claims = jwt.decode(token["token"], options={"verify_signature": False, "verify_exp": False, "verify_aud": False})
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - webpubsub.clock()) < 5
    assert webpubsub.connect_url(token["url"]).user_id == "ann"
    webpubsub.advance(300)
    with pytest.raises(ConnectionRefused, match="expired"):
        webpubsub.connect_url(token["url"])


# ------------------------------------------------------------------------------------------ the recovery window


@pytest.mark.webpubsub(clock=lambda: NOW)  # a frozen source: the window's edge is exact
def test_advance_ends_a_dropped_reliable_connection_after_the_recovery_window(webpubsub: FakeWebPubSub) -> None:
    client = webpubsub.connect("chat", groups=["g"], protocol=RELIABLE_JSON)
    client.drop()
    webpubsub.advance(30)
    assert client.is_open  # kept for at least 30 s
    client.recover()
    client.drop()
    webpubsub.advance(30.001)
    assert not client.is_open  # advance() ends what expired, no REST call or expire_dropped() needed
    assert webpubsub.snapshot("chat").groups == {}


def test_a_clock_given_in_the_options_is_the_one_advance_moves() -> None:
    now = [NOW]
    fake = FakeWebPubSub(clock=lambda: now[0])
    client = fake.connect("chat", protocol=RELIABLE_JSON)
    client.drop()
    now[0] += 20
    fake.advance(10.5)
    assert fake.clock() == NOW + 30.5
    assert not client.is_open


def test_reset_undoes_advance(webpubsub: FakeWebPubSub) -> None:
    webpubsub.advance(3600)
    webpubsub.reset()
    assert webpubsub.clock.offset == 0
    assert abs(webpubsub.clock() - time.time()) < 60
    clock = FakeClock(lambda: NOW, offset=5)
    clock.advance(10)
    clock.reset()
    assert clock() == NOW + 5
