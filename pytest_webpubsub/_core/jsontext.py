"""The one strict JSON reader of the fake: RFC 8259 text as the service accepts it, or ValueError.

Python's :func:`json.loads` is looser than the service and can fail in ways the service never does:

* it accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259 §6);
* it accepts escaped lone surrogates (``"\\ud800"``), which no UTF-8 text can carry;
* it decodes ``bytes`` as UTF-16 or UTF-32 when they look like it, where the service reads UTF-8 only;
* it recurses once per nesting level, so ``"[" * 100000`` raises :class:`RecursionError`.

:func:`loads` refuses all of these with :class:`ValueError`. Nesting is limited to :data:`MAX_DEPTH` levels: the
service is a .NET application and ``System.Text.Json``, like Json.NET, stops at 64 levels by default; deeper text is
refused before Python's parser sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn, Union

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (``[[1]]`` has depth 2), as ``System.Text.Json``'s default."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be deeper than the number of openers: the common case costs two scans in C
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def loads(text: Union[str, bytes]) -> Any:
    """Parse one JSON text (``bytes`` must be UTF-8) strictly; raise :class:`ValueError` if the service would not.

    Refused: invalid syntax, ``NaN`` / ``Infinity`` / ``-Infinity``, lone surrogates (raw or escaped), invalid UTF-8,
    and nesting deeper than :data:`MAX_DEPTH`. Never raises anything but :class:`ValueError`.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError; UTF-8 never holds a surrogate
    elif _SURROGATE.search(text):
        raise ValueError("JSON text has a lone surrogate")
    _check_depth(text)
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # pragma: no cover - _check_depth bounds the depth well below the recursion limit
        raise ValueError("JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("JSON text has a lone surrogate in a string") from None
    return value
