"""The strict JSON reader: RFC 8259 text as the service accepts it, and InvalidJson (a ValueError) for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_webpubsub._core import jsontext
from pytest_webpubsub._core.jsontext import MAX_DEPTH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1]", [1]),
        (b'{"a": [1, 2.5, null, true, "x"]}', {"a": [1, 2.5, None, True, "x"]}),
        (" \t\r\n1 \n", 1),
        ('"\\ud83d\\ude00"', "\U0001f600"),  # an escaped surrogate pair is one character
        ("\"\U0001f600\"", "\U0001f600"),
        ('"\\\\ud800"', "\\ud800"),  # an escaped backslash: no surrogate here
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
        ('["' + "[" * 1000 + '"]', ["[" * 1000]),  # brackets inside strings are not nesting
        ('{"a":' * (MAX_DEPTH - 1) + "{}" + "}" * (MAX_DEPTH - 1), json.loads('{"a":' * 63 + "{}" + "}" * 63)),
    ],
)
def test_json_texts_are_read(text: str | bytes, expected: Any) -> None:
    assert jsontext.loads(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[1]x",
        "{'a': 1}",
        "NaN",
        "[Infinity]",
        '{"a": -Infinity}',
        "[" * 100_000,  # RecursionError in json.loads
        "[" * 100_000 + "]" * 100_000,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"a":' * MAX_DEPTH + "{}" + "}" * MAX_DEPTH,
        '"\\ud800"',  # an escaped lone high surrogate
        '"\\udc00x"',  # an escaped lone low surrogate
        '["\\ud800", "\\ude00"]',  # two halves in different strings are two lone surrogates
        '"\ud800"',  # a raw lone surrogate in str input
        b"\xff",  # invalid UTF-8
        b'"\xed\xa0\x80"',  # an encoded surrogate is invalid UTF-8
        b"\xff\xfe[\x001\x00]\x00",  # UTF-16 with a BOM: json.loads(bytes) would read it
        b"\xef\xbb\xbf[1]",  # a UTF-8 BOM
        '"a\x00b"',  # control characters must be escaped
    ],
)
def test_what_the_service_would_refuse_is_invalid_json(text: str | bytes) -> None:
    with pytest.raises(jsontext.InvalidJson):
        jsontext.loads(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_every_json_value_round_trips(value: Any) -> None:
    assert jsontext.loads(json.dumps(value)) == value
    assert jsontext.loads(json.dumps(value, ensure_ascii=False).encode()) == value


@given(st.binary(max_size=64) | st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_give_a_value_or_invalid_json(data: bytes) -> None:
    try:
        jsontext.loads(data)
    except jsontext.InvalidJson:
        pass


@given(st.text(alphabet="[]{}\":,1 \\u", max_size=400))
def test_bracket_soup_never_raises_anything_but_invalid_json(text: str) -> None:
    try:
        jsontext.loads(text * 50)
    except jsontext.InvalidJson:
        pass


def _outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error)


json_ish = st.text(alphabet=" \t\n[]{}\":,-.0123456789eEtrufalsn\\xNI\ufeff", max_size=40)


@given(json_ish | json_values.map(json.dumps) | json_values.map(lambda value: f" {json.dumps(value)}\n"))
def test_the_reader_answers_what_pythons_strict_parser_answers(text: str) -> None:
    """The shortcut past ``decode``'s whitespace scans changes no value and no error message."""
    reference = _outcome(lambda raw: json.loads(raw, parse_constant=jsontext._refuse_constant), text)
    assert _outcome(jsontext._decode, text) == (
        reference if not text.startswith("\ufeff") else _outcome(jsontext._DECODER.decode, text)
    )
    if text.startswith("\ufeff"):
        assert _outcome(jsontext.loads, text)[1].startswith("Unexpected UTF-8 BOM")
