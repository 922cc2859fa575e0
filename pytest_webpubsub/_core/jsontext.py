"""One strict JSON reader for everything clients and apps send (REST bodies, client frames, bulk-group bodies).

The service parses JSON as RFC 8259 with .NET's reader. Python's :func:`json.loads` is looser, and can fail in
ways the service never does:

* it accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259 §6);
* it accepts lone surrogates in strings (``"\\ud800"``), which are not valid Unicode;
* it decodes ``bytes`` as UTF-16 or UTF-32 when they look like it, where the service reads UTF-8 only;
* it recurses once per nesting level, so ``"[" * 100000`` raises :class:`RecursionError`.

:func:`loads` refuses all of these, and any other invalid text, with :class:`InvalidJson` (a :class:`ValueError`);
nothing else escapes. Nesting is limited to :data:`MAX_DEPTH` levels, ``System.Text.Json``'s default ``MaxDepth``;
deeper text is refused before Python's parser sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, NoReturn, Union

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (``[[1]]`` has depth 2): System.Text.Json's default."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """The text is not JSON the service accepts; the message says why."""


def _refuse_constant(name: str) -> NoReturn:
    raise InvalidJson(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
"""One decoder for every call: ``json.loads`` with ``parse_constant`` would build one (and its scanner) per call."""
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]  # set by __init__


def _decode(text: str) -> Any:
    """``_DECODER.decode(text)``, with its two whitespace scans skipped when a value spans the whole text.

    ``decode`` scans whitespace, calls ``scan_once`` where the value starts and refuses anything but whitespace
    after it. With no whitespace around the value, ``scan_once(text, 0)`` is exactly that call, so its value and
    its errors are ``decode``'s; any other text goes through ``decode`` itself.
    """
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:  # no value at 0: leading whitespace, or not JSON (decode says which, in its words)
        return _DECODER.decode(text)
    return value if end == len(text) else _DECODER.decode(text)


def _too_deep(text: str) -> bool:
    """Whether brackets outside strings nest deeper than :data:`MAX_DEPTH`.

    Cheap: a text with at most MAX_DEPTH brackets cannot be too deep (two scans in C); otherwise the strings are cut
    out and the brackets counted with regular expressions, which agree with the JSON tokenizer up to the first
    syntax error, where Python's parser stops anyway.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def loads(text: Union[str, bytes, bytearray]) -> Any:
    """Parse one JSON text (``bytes`` must be UTF-8) strictly, or raise :class:`InvalidJson` saying why.

    Refused: invalid syntax, ``NaN`` / ``Infinity`` / ``-Infinity``, lone surrogates (raw or escaped), invalid UTF-8
    (a byte order mark included), and nesting deeper than :data:`MAX_DEPTH`.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")  # UTF-8 never holds a surrogate
        except UnicodeDecodeError:
            raise InvalidJson("the text is not valid UTF-8") from None
    elif not text.isascii() and _SURROGATE.search(text):  # ASCII holds no surrogate
        raise InvalidJson("a string holds a lone surrogate, which is not valid Unicode")
    if len(text) > MAX_DEPTH and _too_deep(text):  # a shorter text cannot hold MAX_DEPTH + 1 brackets
        raise InvalidJson(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        if text.startswith("\ufeff"):  # what json.loads refuses before parsing, with the same message
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _decode(text)
    except InvalidJson:
        raise
    except (ValueError, RecursionError) as error:  # RecursionError: not reachable below MAX_DEPTH, kept as a guard
        raise InvalidJson(str(error) or "invalid JSON") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):  # only then can an escape have produced a lone surrogate
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson("a string holds a lone surrogate, which is not valid Unicode") from None
    return value
