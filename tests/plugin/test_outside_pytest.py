"""``FakeWebPubSub`` without pytest: a context manager and a decorator, run as plain scripts in a subprocess."""

from __future__ import annotations

import pytest

PRELUDE = """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from pytest_webpubsub import FakeWebPubSub
from azure.core.pipeline.transport._requests_basic import RequestsTransport

ORIGINAL_SEND = RequestsTransport.send

def send_to_user(fake, user, text, hub="chat"):
    client = WebPubSubServiceClient.from_connection_string(fake.connection_string, hub=hub)
    client.send_to_user(user, text, content_type="text/plain")
"""


def run_script(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    script = pytester.makepyfile(script=PRELUDE + body)
    result = pytester.runpython(script)
    assert result.ret == 0, result.stderr.str()
    return result


def test_context_manager_returns_the_active_service(pytester: pytest.Pytester) -> None:
    result = run_script(
        pytester,
        """
fake = FakeWebPubSub(endpoint="https://script.webpubsub.azure.com")
with fake as service:
    assert service is fake and service.active
    assert RequestsTransport.send is not ORIGINAL_SEND
    alice = service.connect("chat", user_id="alice")
    send_to_user(service, "alice", "hi")
    assert [message.data for message in alice.received] == ["hi"]
assert not fake.active
assert not alice.is_open, "stopping closes the simulated clients"
assert RequestsTransport.send is ORIGINAL_SEND
print("context manager: ok")
""",
    )
    result.stdout.fnmatch_lines(["context manager: ok"])


def test_decorator_on_a_sync_function(pytester: pytest.Pytester) -> None:
    result = run_script(
        pytester,
        """
fake = FakeWebPubSub()

@fake
def greet(user):
    '''Greets one user.'''
    assert fake.active
    connection = fake.connect("chat", user_id=user)
    send_to_user(fake, user, f"hello {user}")
    return connection.received[-1].data

assert greet.__name__ == "greet" and greet.__doc__ == "Greets one user."
assert not fake.active
assert greet("alice") == "hello alice"
assert not fake.active
assert greet("bob") == "hello bob", "the fake can be entered again"
assert RequestsTransport.send is ORIGINAL_SEND
print("sync decorator: ok")
""",
    )
    result.stdout.fnmatch_lines(["sync decorator: ok"])


def test_decorator_on_an_async_function(pytester: pytest.Pytester) -> None:
    result = run_script(
        pytester,
        """
import asyncio
import inspect
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

fake = FakeWebPubSub()

@fake
async def greet(user):
    assert fake.active
    connection = fake.connect("chat", user_id=user)
    async with AsyncClient.from_connection_string(fake.connection_string, hub="chat") as client:
        await client.send_to_user(user, f"hello {user}", content_type="text/plain")
    return connection.received[-1].data

assert inspect.iscoroutinefunction(greet)
assert greet.__name__ == "greet"
assert not fake.active, "decorating does not start the fake"
assert asyncio.run(greet("alice")) == "hello alice"
assert not fake.active
print("async decorator: ok")
""",
    )
    result.stdout.fnmatch_lines(["async decorator: ok"])


def test_decorated_function_that_raises_still_stops_the_fake(pytester: pytest.Pytester) -> None:
    result = run_script(
        pytester,
        """
fake = FakeWebPubSub()

@fake
def boom():
    raise ValueError("boom")

try:
    boom()
except ValueError:
    pass
assert not fake.active
assert RequestsTransport.send is ORIGINAL_SEND
print("raising decorator: ok")
""",
    )
    result.stdout.fnmatch_lines(["raising decorator: ok"])
