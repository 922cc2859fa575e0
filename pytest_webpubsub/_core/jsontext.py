"""One strict JSON reader for everything clients and apps send (REST bodies, client frames).

The service parses JSON as RFC 8259 with .NET's reader, so some texts Python's ``json`` accepts are refused here:
``NaN`` / ``Infinity`` / ``-Infinity``, nesting deeper than :data:`MAX_DEPTH` (the .NET reader's default), strings
with a lone surrogate (``"\\ud800"``: not valid Unicode), and bytes that are not UTF-8. Every refusal, and any
other invalid text, raises :class:`InvalidJson`; nothing else escapes (a deep text never raises RecursionError).
"""

from __future__ import annotations

import json
from typing import Any, Union

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (System.Text.Json's default ``MaxDepth``)."""


class InvalidJson(ValueError):
    """The text is not JSON the service accepts; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def loads(text: Union[str, bytes, bytearray]) -> Any:
    """Parse ``text`` strictly (see the module docstring), or raise :class:`InvalidJson`."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJson("the text is not valid UTF-8") from None
    if _too_deep(text):
        raise InvalidJson(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except InvalidJson:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidJson(str(error) or "invalid JSON") from None
    _check_strings(value)
    return value


def _too_deep(text: str) -> bool:
    """Whether brackets outside strings nest deeper than MAX_DEPTH (cheap: only texts with many brackets are read)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates in any string or key (iteratively: depth is already bounded)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key)
                pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson("a string holds a lone surrogate, which is not valid Unicode") from None
