"""Replay the recordings of the REAL service (``tests/data/recordings/*.json``) against a fresh fake.

The 94 recordings are test data kept in this repository (source, licence and contents: the README beside them).
A missing directory or a different file count is a failure, never a skip: this is the strongest fidelity test.

Each recording is one test. Every entry is re-issued with the same method, path, query and body (content type
from the recorded request headers), with the host rewritten to the fake's and the request signed like the SDK
signs it. The fake must answer the same status, ``x-ms-error-code``, ``Content-Length`` (where the real one is
known), ``Content-Type``, ``api-supported-versions`` and, where one was recorded, the same JSON body.

State the recording implies is created on the way (see :class:`Replay`): a connection id that first shows up in a
group listing is a WebSocket client the test had opened; the fake opens one with the token it minted for the
recording's last ``:generateToken`` call (or an anonymous member of the group when the recording has none), and
maps the real id to the fake's id for the rest of the file. The real ``Warning.Group.NotExisted`` body is unknown
(service-behaviour §9.3), so only its status and code are compared.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from pytest_webpubsub import FakeClientConnection, FakeResponse, FakeWebPubSub
from pytest_webpubsub._rest.routes import ROUTES, resolve

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "recordings"
EXPECTED_FILES = 94
RECORDED_HOST = "https://Sanitized.webpubsub.azure.com"
SANITIZED = "Sanitized"
CLIENT_PATHS = {"default": "/client/hubs/", "mqtt": "/clients/mqtt/hubs/"}

FILES = sorted(RECORDINGS.glob("*.json"))


def load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["Entries"]


def header(headers: Any, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def request_body(entry: dict[str, Any]) -> tuple[bytes, str | None]:
    """The request body as bytes, and its content type, from how the recording stores it."""
    content_type = header(entry["RequestHeaders"], "Content-Type")
    stored = entry["RequestBody"]
    if stored is None:
        return b"", content_type
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        body = json.dumps(stored).encode("utf-8")
    elif media_type == "application/octet-stream":
        body = base64.b64decode(stored)
    else:
        body = stored.encode("utf-8")
    return body, content_type


def is_listing(entry: dict[str, Any]) -> bool:
    return entry["RequestMethod"] == "GET" and urlsplit(entry["RequestUri"]).path.endswith("/connections")


class Replay:
    """Re-issues the entries of one recording against one fake, creating the state they imply."""

    def __init__(self, fake: FakeWebPubSub, rest: Any) -> None:
        self.fake = fake
        self.rest = rest
        self.ids: dict[str, str] = {}  # recorded connection id -> fake connection id
        self.implicit: dict[str, FakeClientConnection] = {}  # fake id -> client opened by the replay
        self.touched: set[str] = set()  # fake ids a request has named
        self.tokens: dict[str, str] = {}  # hub key -> last Default client token minted by the fake

    # -- implied state ----------------------------------------------------------------------------------

    def before_listing(self, hub: str, group: str, recorded: list[dict[str, Any]]) -> None:
        """Make the fake group hold the members the real listing shows."""
        recorded_ids = [member["connectionId"] for member in recorded]
        if recorded_ids and not any(rid in self.ids for rid in recorded_ids):
            # an entirely new set of members: the test closed its previous clients (never named by a request)
            current = [c.connection_id for c in self.fake._service.group_members(hub, group)]
            if current and all(cid in self.implicit and cid not in self.touched for cid in current):
                for cid in current:
                    self.implicit[cid].close()
        for member in recorded:
            if member["connectionId"] not in self.ids:
                client = self.open_client(hub, group, member["userId"] is not None)
                self.ids[member["connectionId"]] = client.connection_id
                self.implicit[client.connection_id] = client

    def open_client(self, hub: str, group: str, has_user: bool) -> FakeClientConnection:
        token = self.tokens.get(hub.lower())
        if token is None:
            assert not has_user, "a listed member has a user id but the recording minted no token"
            return self.fake.connect(hub, groups=[group])
        client = self.fake.connect_url(f"wss://{self.fake.host}/client/hubs/{hub}?access_token={token}")
        assert group in client.groups, f"the token of the recording does not put its clients into {group!r}"
        assert (client.user_id is not None) == has_user
        return client

    # -- one entry --------------------------------------------------------------------------------------

    def replay(self, entry: dict[str, Any]) -> FakeResponse:
        uri: str = entry["RequestUri"]
        assert uri.startswith(RECORDED_HOST + "/")
        if is_listing(entry) and entry["StatusCode"] == 200:
            segments = urlsplit(uri).path.split("/")
            self.before_listing(segments[3], segments[5], entry["ResponseBody"]["value"])
        for recorded_id, fake_id in self.ids.items():
            if recorded_id in uri:
                uri = uri.replace(recorded_id, fake_id)
                self.touched.add(fake_id)
        url = self.fake.endpoint + uri[len(RECORDED_HOST) :]
        body, content_type = request_body(entry)
        recorded_length = header(entry["RequestHeaders"], "Content-Length")
        if recorded_length is not None:
            assert len(body) == int(recorded_length), "the replayed body differs from the recorded one"
        response = self.rest.call_url(entry["RequestMethod"], url, body=body, content_type=content_type)
        if entry["StatusCode"] == 200 and "/:generateToken" in uri:
            self.after_token(url, response)
        return response

    def after_token(self, url: str, response: FakeResponse) -> None:
        """Check the minted token decodes with the access key for its audience; keep Default tokens."""
        parts = urlsplit(url)
        hub = parts.path.split("/")[3]
        client_type = (parse_qs(parts.query).get("clientType") or ["Default"])[0].lower()
        token = json.loads(response.body)["token"]
        if client_type in CLIENT_PATHS:
            audience = self.fake.endpoint.lower() + CLIENT_PATHS[client_type] + hub
            jwt.decode(token, self.fake.access_key, algorithms=["HS256"], audience=audience,
                       options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
        if client_type == "default":
            self.tokens[hub.lower()] = token

    # -- comparison -------------------------------------------------------------------------------------

    def compare(self, number: int, entry: dict[str, Any], response: FakeResponse) -> list[str]:
        where = f"entry {number}: {entry['RequestMethod']} {entry['RequestUri'][len(RECORDED_HOST):]}"
        problems: list[str] = []

        def expect(what: str, real: Any, fake: Any) -> None:
            if real != fake:
                problems.append(f"{where}: {what}: real {real!r}, fake {fake!r}")

        real_headers = entry["ResponseHeaders"]
        code = header(real_headers, "x-ms-error-code")
        expect("status", entry["StatusCode"], response.status_code)
        expect("x-ms-error-code", code, header(response.headers, "x-ms-error-code"))
        expect("api-supported-versions", header(real_headers, "api-supported-versions"),
               header(response.headers, "api-supported-versions"))
        expect("Content-Type", header(real_headers, "Content-Type"), header(response.headers, "Content-Type"))
        if header(real_headers, "Strict-Transport-Security") is not None:
            expect("Strict-Transport-Security", header(real_headers, "Strict-Transport-Security"),
                   header(response.headers, "Strict-Transport-Security"))

        real_length = header(real_headers, "Content-Length")
        fake_length = header(response.headers, "Content-Length")
        stored = entry["ResponseBody"]
        if code == "Warning.Group.NotExisted":
            expect("body", b"", response.body)  # a HEAD: no body; the real length is not comparable
        elif is_listing(entry) and response.status_code == 200:
            expect("Content-Length (of the fake's own body)", str(len(response.body)), fake_length)
            listed = json.loads(response.body)
            expect("compact JSON", json.dumps(listed, separators=(",", ":")).encode(), response.body)
            expect("members", sorted((self.ids.get(m["connectionId"], m["connectionId"]), m["userId"] is None)
                                     for m in stored["value"]),
                   sorted((m["connectionId"], m["userId"] is None) for m in listed["value"]))
            expect("keys", sorted(stored), sorted(listed))
            for member in listed["value"]:
                if member["userId"] is not None:
                    member["userId"] = SANITIZED
            expect("Content-Length (user ids sanitized)", real_length,
                   str(len(json.dumps(listed, separators=(",", ":")))))
        else:
            expect("Content-Length", real_length, fake_length)
            if stored is None:
                expect("body", b"", response.body)
            elif set(stored) == {"token"}:
                fake_body = json.loads(response.body)
                expect("token body keys", ["token"], sorted(fake_body))
                token = fake_body.get("token")
                expect("token is a JWT", True, isinstance(token, str) and token.count(".") == 2)
            else:
                expect("body", stored, json.loads(response.body))
                expect("body length", real_length, str(len(response.body)))
        return problems


def replay_cases() -> list[Any]:
    """One case per recording; a single failing case when there is none (an empty parametrization would skip)."""
    if not FILES:
        return [pytest.param(RECORDINGS / "no-recording-found.json", id="no-recording-found")]
    return [pytest.param(path, id=path.stem) for path in FILES]


@pytest.mark.parametrize("path", replay_cases())
def test_fake_answers_like_the_real_service(fake: FakeWebPubSub, rest: Any, path: Path) -> None:
    assert path.is_file(), f"the recordings of the real service are missing from {RECORDINGS}"
    replay = Replay(fake, rest)
    problems: list[str] = []
    for number, entry in enumerate(load(path), 1):
        problems += replay.compare(number, entry, replay.replay(entry))
    assert not problems, "\n".join(problems)


def test_all_recordings_are_present() -> None:
    assert RECORDINGS.is_dir(), f"the recordings of the real service are missing: no directory {RECORDINGS}"
    assert len(FILES) == EXPECTED_FILES, (
        f"expected the {EXPECTED_FILES} recordings listed in {RECORDINGS / 'README.md'}, found {len(FILES)}"
    )


def test_the_recordings_exercise_every_route() -> None:
    seen = set()
    for path in FILES:
        for entry in load(path):
            route = resolve(entry["RequestMethod"], urlsplit(entry["RequestUri"]).path).route
            assert route is not None, entry["RequestUri"]
            seen.add(route.name)
    assert seen == {route.name for route in ROUTES}


@pytest.mark.parametrize(
    ("code", "status", "length"),
    [
        ("Error.Connection.NotExisted", 404, "146"),
        ("Info.Connection.NotExisted", 404, "145"),
        ("Warning.User.NotExisted", 404, "121"),
    ],
)
def test_the_recorded_404_lengths_the_docs_quote(code: str, status: int, length: str) -> None:
    found = [
        entry
        for path in FILES
        if path.name.startswith("test_generated_api_coverage")
        for entry in load(path)
        if header(entry["ResponseHeaders"], "x-ms-error-code") == code and entry["ResponseBody"] is not None
    ]
    assert found
    assert {(e["StatusCode"], header(e["ResponseHeaders"], "Content-Length")) for e in found} == {(status, length)}


@pytest.mark.parametrize("kept", [0, 1], ids=["directory-missing", "files-missing"])
def test_missing_recordings_fail_instead_of_skipping(pytester: pytest.Pytester, kept: int) -> None:
    """This module run from a copy of the tests whose recordings are gone (or partly gone) fails; nothing skips."""
    here = Path(__file__).resolve().parent
    pytester.makeini("[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n")
    rest = pytester.mkdir("tests").joinpath("rest")
    rest.mkdir()
    for name in ("conftest.py", "test_recordings.py"):
        rest.joinpath(name).write_text(here.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    if kept:
        data = pytester.path.joinpath("tests", "data", "recordings")
        data.mkdir(parents=True)
        data.joinpath(FILES[0].name).write_bytes(FILES[0].read_bytes())
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--import-mode=importlib", "-k", "not test_missing_recordings_fail",
        str(rest / "test_recordings.py"),
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, result.stdout.str()
    assert "skipped" not in outcomes, result.stdout.str()
    expected = ["*FAILED*test_all_recordings_are_present*"]
    if not kept:  # the replay itself fails too, rather than vanishing as an empty parametrization
        expected.insert(0, "*FAILED*test_fake_answers_like_the_real_service[[]no-recording-found[]]*")
    result.stdout.fnmatch_lines(expected)
