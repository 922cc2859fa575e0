"""The host table: one normalisation of hosts, one refusal wording, seams installed with the first fake (or a pin),
removed with the last fake once no pin holds them, and refusing nothing while no fake is active."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from pytest_webpubsub import FakeWebPubSub
from pytest_webpubsub._hosts import HOSTS, SEAMS, HostTable, Owner, Seam, normalise_host
from pytest_webpubsub._rest.http import FakeResponse


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://Fake.WebPubSub.Azure.com/api", "fake.webpubsub.azure.com"),
        ("https://fake.webpubsub.azure.com.:443/x", "fake.webpubsub.azure.com"),
        ("wss://fake.webpubsub.azure.com:443/client", "fake.webpubsub.azure.com"),
        ("http://localhost:80", "localhost"),
        ("https://localhost:8443", "localhost:8443"),
        ("https://user:secret@fake.webpubsub.azure.com", "fake.webpubsub.azure.com"),
        ("https://[::1]:443/", "[::1]"),
        ("https://[::1]:9000/", "[::1]:9000"),
        ("fake.webpubsub.azure.com.", "fake.webpubsub.azure.com"),
    ],
)
def test_hosts_are_normalised_in_one_place(value: str, host: str) -> None:
    assert normalise_host(value) == host
    table = HostTable(seams=())
    owner = Owner(lambda request: FakeResponse(204), lambda: None)  # type: ignore[arg-type, return-value]
    table.add(host, owner)
    assert table.owner(value) is owner and table.owner(value) is owner, "asked twice: the remembered key is the same"
    table.remove(host)
    assert table.owner(value) is None


@pytest.mark.webpubsub(fail_on_unowned_hosts=False)
def test_a_trailing_dot_host_no_fake_owns_is_refused_by_every_seam(webpubsub: FakeWebPubSub) -> None:
    other = "https://nobody.webpubsub.azure.com."
    client = WebPubSubServiceClient.from_connection_string(
        f"Endpoint={other};AccessKey={webpubsub.access_key};Version=1.0;", hub="chat", retry_total=0
    )
    with pytest.raises(ServiceRequestError, match="no fake owns 'nobody.webpubsub.azure.com'"):
        client.send_to_all("hi", content_type="text/plain")
    with pytest.raises(httpx.ConnectError, match="no fake owns 'nobody.webpubsub.azure.com'"):
        httpx.post(f"{other}/api/hubs/chat/:send?api-version=2024-12-01")
    assert HOSTS.refused[-2:] == ["nobody.webpubsub.azure.com"] * 2


def test_a_trailing_dot_or_default_port_reaches_the_fake(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    for endpoint in ("https://fake.webpubsub.azure.com.", "https://FAKE.webpubsub.azure.com:443"):
        client = WebPubSubServiceClient.from_connection_string(
            f"Endpoint={endpoint};AccessKey={webpubsub.access_key};Version=1.0;", hub="chat"
        )
        client.send_to_user("alice", endpoint, content_type="text/plain")
    assert [message.data for message in alice.received] == [
        "https://fake.webpubsub.azure.com.", "https://FAKE.webpubsub.azure.com:443"
    ]


def test_port_443_in_the_connection_string_reaches_the_fake_through_the_sdk_and_httpx(webpubsub: FakeWebPubSub) -> None:
    alice = webpubsub.connect("chat", user_id="alice")
    connection_string = f"Endpoint={webpubsub.endpoint};AccessKey={webpubsub.access_key};Port=443;Version=1.0;"
    client = WebPubSubServiceClient.from_connection_string(connection_string, hub="chat")
    client.send_to_user("alice", "via sdk", content_type="text/plain")
    token = client.get_client_access_token(user_id="bob")
    bob = webpubsub.connect_url(token["url"])
    assert (alice.received[-1].data, bob.user_id) == ("via sdk", "bob")


@pytest.mark.usefixtures("seams_unpinned")
def test_a_failed_start_undoes_what_it_did_and_leaves_no_host_owned() -> None:
    fake = FakeWebPubSub(reverse_proxy_endpoint="https://fake.webpubsub.azure.com:443")  # its own host again
    with pytest.raises(RuntimeError, match="already owns"):
        fake.start()
    assert not fake.active
    assert HOSTS.hosts() == []
    assert HOSTS.installed == ()
    with FakeWebPubSub() as later:  # the next fake is not affected
        assert later.active


@pytest.mark.usefixtures("seams_unpinned")
def test_seams_are_installed_with_the_first_fake_and_removed_with_the_last() -> None:
    assert HOSTS.installed == ()
    with FakeWebPubSub():
        installed = HOSTS.installed
        with FakeWebPubSub(endpoint="https://second.webpubsub.azure.com"):
            assert HOSTS.installed == installed
            assert HOSTS.hosts() == ["fake.webpubsub.azure.com", "second.webpubsub.azure.com"]
        assert HOSTS.hosts() == ["fake.webpubsub.azure.com"]
    assert (HOSTS.hosts(), HOSTS.installed) == ([], ())
    assert {type(seam).__name__ for seam in installed} == {
        "RequestsTransportSeam", "AioHttpTransportSeam", "HttpxSeam", "SyncClientSeam", "AsyncClientSeam",
        "SdkWaitsSeam", "WebsocketClientSeam", "WebsocketsSeam", "AiohttpSeam",
    }


@pytest.mark.usefixtures("seams_unpinned")
def test_a_pin_keeps_the_seams_installed_without_a_fake_until_the_last_unpin() -> None:
    HOSTS.pin()
    try:
        pinned = HOSTS.installed
        assert len(pinned) == len(SEAMS)  # every library is installed here
        HOSTS.pin()  # holds are counted: a pytester session inside a session pins too
        with FakeWebPubSub():
            assert HOSTS.installed == pinned  # the fake reuses them
        HOSTS.unpin()
        assert (HOSTS.hosts(), HOSTS.installed) == ([], pinned)
    finally:
        HOSTS.unpin()
    assert HOSTS.installed == ()
    with pytest.raises(RuntimeError, match="without a matching pin"):
        HOSTS.unpin()


@pytest.mark.usefixtures("seams_unpinned")
def test_the_last_unpin_during_a_fake_leaves_the_seams_to_that_fake() -> None:
    HOSTS.pin()
    with FakeWebPubSub():
        HOSTS.unpin()
        assert HOSTS.installed != ()
    assert HOSTS.installed == ()


def test_nothing_is_refused_while_no_fake_is_active() -> None:
    HOSTS.pin()
    try:
        refused = len(HOSTS.refused)
        assert not HOSTS.active
        assert HOSTS.refuse("https://nobody.webpubsub.azure.com/api", "hint") is None
        with FakeWebPubSub():
            assert HOSTS.active
            assert HOSTS.refuse("https://nobody.webpubsub.azure.com/api", "hint") is not None
        assert HOSTS.refuse("https://nobody.webpubsub.azure.com/api", "hint") is None
        assert HOSTS.refused[refused:] == ["nobody.webpubsub.azure.com"]
    finally:
        HOSTS.unpin()


def test_a_seam_that_fails_to_install_leaves_none_installed() -> None:
    table = HostTable(seams=((f"{__name__}:RECORDING", ()), (f"{__name__}:BROKEN", ())))
    RECORDING.calls.clear()
    with pytest.raises(RuntimeError, match="cannot install"):
        table.pin()
    assert (table.installed, table.pinned, RECORDING.calls) == ((), False, ["install", "uninstall"])


class _Recording(Seam):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def install(self) -> None:
        self.calls.append("install")

    def uninstall(self) -> None:
        self.calls.append("uninstall")


class _Broken(Seam):
    def install(self) -> None:
        raise RuntimeError("cannot install")


RECORDING = _Recording()
BROKEN = _Broken()
