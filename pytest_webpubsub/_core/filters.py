"""The OData ``filter`` language of the Web PubSub send and bulk-group REST operations (service-behaviour §7).

``compile_filter`` tokenizes, parses (recursive descent) and type-checks a filter exactly once. The result is an
immutable :class:`Filter` holding a tree of small closures, so matching a candidate connection is a handful of
function calls with no re-parsing and no regular expressions.

Choices made where the sources are silent (each mirrors the emulator or OData's lifted-operator rules):

* ``gt``/``ge``/``lt``/``le`` compare integers only; ordering strings is rejected, as the emulator does.
* A null where a boolean is needed (an operand of ``and``/``or``/``not``, or the whole filter) counts as false,
  so ``not startswith(userId, 'a')`` matches anonymous connections.
* Function names, like identifiers and keywords, are case-insensitive.
* ``substring`` clamps a negative start to 0 and treats a negative length as 0; lengths count code points.
* Integer literals must fit in a signed 64-bit integer.
* A "clause" is a boolean leaf under ``and``/``or``/``not``; more than 100 is an error. Nesting of parentheses,
  ``not`` and function calls is capped at 64 levels so hostile input cannot exhaust the stack.
* In "Type 'X', expect 'Y'" messages an expression that may be null (anything built from ``userId`` or ``null``)
  is reported as ``'null'``, reproducing the service's documented text for ``not length(userId) gt 5``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

__all__ = ["MAX_CLAUSES", "Candidate", "Filter", "InvalidFilterError", "compile_filter"]

MAX_CLAUSES = 100
"""Most boolean clauses a filter may contain (the service documents "over 100 clauses" as risky)."""

_MAX_DEPTH = 64
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class InvalidFilterError(ValueError):
    """Raised for a filter the service would reject with HTTP 400.

    ``fragment`` is the offending part of the filter, ``reason`` says what is wrong with it and ``message`` is the
    full text formatted like the service's:
    ``Invalid syntax for 'not length(userId)': Type 'null', expect 'bool'. (Parameter 'filter')``.
    """

    def __init__(self, fragment: str, reason: str) -> None:
        self.fragment = fragment
        self.reason = reason
        self.message = f"Invalid syntax for '{fragment}': {reason}. (Parameter 'filter')"
        super().__init__(self.message)


class Candidate(Protocol):
    """What a filter reads from a connection (read-only, so frozen records qualify)."""

    @property
    def connection_id(self) -> str: ...

    @property
    def user_id(self) -> str | None: ...

    @property
    def groups(self) -> Collection[str]: ...


# --------------------------------------------------------------------------------------------------- tokens


class _Token(NamedTuple):
    kind: str  # "name" | "string" | "int" | "(" | ")" | "," | "end"
    value: object  # lower-cased word for names, decoded text for strings, int for ints
    start: int
    end: int


# Used at compile time only. The ``(?!')`` look-ahead makes "'it''s" unterminated as a whole instead of
# splitting it into "'it'" and "'s" (possessive quantifiers would need Python 3.11).
_TOKEN_RE = re.compile(
    r"(?P<string>'(?:[^']|'')*'(?!'))|(?P<int>[+-]?[0-9]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])"
    r"|(?P<space>\s+)|(?P<bad>.)",
    re.DOTALL,
)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN_RE.finditer(source):
        kind, text, start, end = match.lastgroup or "", match.group(), match.start(), match.end()
        value: object = text
        if kind == "space":
            continue
        if kind == "bad":
            if text == "'":
                raise InvalidFilterError(source[start:], "Unterminated string literal")
            raise InvalidFilterError(text, f"Unexpected character at position {start}")
        if kind == "string":
            value = text[1:-1].replace("''", "'")
        elif kind == "int":
            value = int(text)
            if not _INT_MIN <= int(text) <= _INT_MAX:
                raise InvalidFilterError(text, "Integer literal is out of range")
        elif kind == "name":
            value = text.lower()
        else:
            kind = text
        tokens.append(_Token(kind, value, start, end))
    tokens.append(_Token("end", None, len(source), len(source)))
    return tokens


# ---------------------------------------------------------------------------------------------------- nodes


class _Type(NamedTuple):
    kind: str  # "bool" | "int" | "string" | "collection" | "null"
    nullable: bool

    @property
    def label(self) -> str:
        return "null" if self.nullable else self.kind


_BOOL, _INT, _STRING, _NULL = _Type("bool", False), _Type("int", False), _Type("string", False), _Type("null", True)
_Evaluate = Callable[[Candidate], object]


class _Node(NamedTuple):
    """A type-checked expression compiled to an ``evaluate`` closure; ``start``/``end`` locate it in the source."""

    type: _Type
    start: int
    end: int
    evaluate: _Evaluate
    clauses: int = 1  # boolean leaves below and including this node


_FIELDS = {
    "userid": ("user_id", _Type("string", True)),
    "connectionid": ("connection_id", _STRING),
    "groups": ("groups", _Type("collection", False)),
}


def _call(impl: Callable[..., object], args: list[_Node]) -> _Evaluate:
    evaluators = [arg.evaluate for arg in args]

    def evaluate(candidate: Candidate) -> object:
        values = [evaluate_arg(candidate) for evaluate_arg in evaluators]
        return None if any(value is None for value in values) else impl(*values)  # f(null) is null

    return evaluate


def _ordering(op: Callable[[Any, Any], Any], left: _Evaluate, right: _Evaluate) -> _Evaluate:
    def evaluate(candidate: Candidate) -> object:
        a, b = left(candidate), right(candidate)
        return a is not None and b is not None and op(a, b)  # ordering with null is false

    return evaluate


def _membership(left: _Evaluate, right: _Evaluate) -> _Evaluate:
    def evaluate(candidate: Candidate) -> object:
        value = left(candidate)
        return value is not None and value in right(candidate)  # type: ignore[operator]

    return evaluate


def _logical(combine: Callable[[Iterable[bool]], bool], operands: list[_Node]) -> _Node:
    evaluators = [operand.evaluate for operand in operands]
    clauses = sum(operand.clauses for operand in operands)

    def evaluate(candidate: Candidate) -> object:
        return combine(evaluate_operand(candidate) is True for evaluate_operand in evaluators)  # null is false

    return _Node(_BOOL, operands[0].start, operands[-1].end, evaluate, clauses)


def _substring(text: str, start: int, length: int | None = None) -> str:
    start = max(start, 0)
    return text[start:] if length is None else text[start : start + max(length, 0)]


class _Function(NamedTuple):
    params: tuple[frozenset[str], ...]
    required: int
    result: str
    impl: Callable[..., object]


_S, _I = frozenset({"string"}), frozenset({"int"})
_FUNCTIONS: dict[str, _Function] = {
    "tolower": _Function((_S,), 1, "string", str.lower),
    "toupper": _Function((_S,), 1, "string", str.upper),
    "trim": _Function((_S,), 1, "string", str.strip),
    "substring": _Function((_S, _I, _I), 2, "string", _substring),
    "endswith": _Function((_S, _S), 2, "bool", str.endswith),
    "startswith": _Function((_S, _S), 2, "bool", str.startswith),
    "contains": _Function((_S, _S), 2, "bool", operator.contains),
    "indexof": _Function((_S, _S), 2, "int", str.find),
    "concat": _Function((_S, _S), 2, "string", operator.add),
    "length": _Function((frozenset({"string", "collection"}),), 1, "int", len),
}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}  # fmt: skip
_KEYWORDS = frozenset({"and", "or", "not", "in", *_COMPARISONS})
_LITERALS: dict[str, tuple[object, _Type]] = {"true": (True, _BOOL), "false": (False, _BOOL), "null": (None, _NULL)}


# --------------------------------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent, precedence high to low: ``not`` > comparisons and ``in`` > ``and`` > ``or``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0

    def error(self, start: int, end: int, reason: str) -> InvalidFilterError:
        return InvalidFilterError(self.source[start:end], reason)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += min(1, len(self.tokens) - 1 - self.index)  # never step past "end"
        return token

    def at_word(self, words: Collection[str]) -> bool:
        token = self.peek()
        return token.kind == "name" and token.value in words

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(token.start, len(self.source), f"Expression is nested more than {_MAX_DEPTH} levels deep")

    def expect_bool(self, node: _Node, start: int, end: int) -> None:
        if node.type.kind != "bool":
            raise self.error(start, end, f"Type '{node.type.label}', expect 'bool'")

    def parse(self) -> _Node:
        if not self.source.strip():
            raise InvalidFilterError(self.source, "Filter is empty")
        node = self.parse_or()
        token = self.peek()
        if token.kind == ")":
            raise self.error(token.start, len(self.source), "Unbalanced parentheses, ')' without a matching '('")
        if token.kind != "end":
            reason = "Unexpected text after a complete expression; expected 'and', 'or' or the end of the filter"
            raise self.error(token.start, len(self.source), reason)
        self.expect_bool(node, node.start, node.end)
        if node.clauses > MAX_CLAUSES:
            reason = f"Too many clauses ({node.clauses}), at most {MAX_CLAUSES} are allowed"
            raise self.error(0, len(self.source), reason)
        return node

    def parse_or(self) -> _Node:
        return self.parse_logical("or", self.parse_and, any)

    def parse_and(self) -> _Node:
        return self.parse_logical("and", self.parse_comparison, all)

    def parse_logical(self, word: str, parse_operand: Callable[[], _Node], combine: Callable[..., bool]) -> _Node:
        operands = [parse_operand()]
        while self.at_word((word,)):
            self.advance()
            operand = parse_operand()
            previous = operands[-1]
            self.expect_bool(previous, previous.start, operand.end)
            self.expect_bool(operand, previous.start, operand.end)
            operands.append(operand)
        return operands[0] if len(operands) == 1 else _logical(combine, operands)

    def parse_comparison(self) -> _Node:
        left = self.parse_unary()
        token = self.peek()
        if self.at_word(_COMPARISONS):
            self.advance()
            node = self.make_comparison(str(token.value), left, self.parse_unary())
        elif self.at_word(("in",)):
            self.advance()
            node = self.parse_in(left)
        else:
            return left
        following = self.peek()
        if self.at_word((*_COMPARISONS, "in")):
            reason = "Comparisons cannot be chained; combine them with 'and'/'or' and parentheses"
            raise self.error(left.start, following.end, reason)
        return node

    def make_comparison(self, op: str, left: _Node, right: _Node) -> _Node:
        kinds = (left.type.kind, right.type.kind)
        if op in ("eq", "ne"):
            if "collection" in kinds:
                raise self.error(left.start, right.end, f"Operator '{op}' cannot compare a collection")
            if kinds[0] != kinds[1] and "null" not in kinds:
                raise self.error(left.start, right.end, f"Operator '{op}' cannot compare '{kinds[0]}' with '{kinds[1]}'")
            l_eval, r_eval, compare = left.evaluate, right.evaluate, _COMPARISONS[op]
            # Python's None == None and None != "x" are exactly OData's null equality rules.
            return _Node(_BOOL, left.start, right.end, lambda c: compare(l_eval(c), r_eval(c)))
        # Choice (UNKNOWN in service-behaviour §7): like the emulator, ordering is defined on integers only.
        for kind in kinds:
            if kind not in ("int", "null"):
                reason = f"Operator '{op}' only compares integers, got '{kind}'"
                raise self.error(left.start, right.end, reason)
        return _Node(_BOOL, left.start, right.end, _ordering(_COMPARISONS[op], left.evaluate, right.evaluate))

    def parse_in(self, left: _Node) -> _Node:
        token = self.advance()
        if left.type.kind == "collection":
            raise self.error(left.start, token.end, "The left side of 'in' must be a single value, not a collection")
        if token.kind == "name" and token.value == "groups" and self.peek().kind != "(":
            if left.type.kind not in ("string", "null"):
                raise self.error(left.start, token.end, f"'groups' holds strings, cannot look up '{left.type.kind}'")
            return _Node(_BOOL, left.start, token.end, _membership(left.evaluate, operator.attrgetter("groups")))
        if token.kind != "(":
            raise self.error(left.start, token.end, "Expected a parenthesised list of literals or 'groups' after 'in'")
        values: set[object] = set()
        while True:
            item = self.advance()
            if item.kind == "end":
                raise self.error(token.start, item.end, "Missing ')' to close the 'in' list")
            value, type_ = self.literal(item)
            if type_ is None:
                raise self.error(item.start, item.end, "Expected a literal in the 'in' list")
            if type_.kind not in ("null", left.type.kind) and left.type.kind != "null":
                raise self.error(left.start, item.end, f"Cannot look up '{left.type.kind}' among '{type_.kind}' values")
            if value is not None:
                values.add(value)
            separator = self.advance()
            if separator.kind == "end":
                raise self.error(token.start, separator.end, "Missing ')' to close the 'in' list")
            if separator.kind == ")":
                members = frozenset(values)
                return _Node(_BOOL, left.start, separator.end, _membership(left.evaluate, lambda c: members))
            if separator.kind != ",":
                raise self.error(token.start, separator.end, "Expected ',' or ')' in the 'in' list")

    @staticmethod
    def literal(token: _Token) -> tuple[object, _Type | None]:
        if token.kind == "string":
            return token.value, _STRING
        if token.kind == "int":
            return token.value, _INT
        if token.kind == "name" and token.value in _LITERALS:
            return _LITERALS[str(token.value)]
        return None, None

    def parse_unary(self) -> _Node:
        token = self.peek()
        if not self.at_word(("not",)):
            return self.parse_primary()
        self.advance()
        self.enter(token)
        operand = self.parse_unary()
        self.depth -= 1
        self.expect_bool(operand, token.start, operand.end)
        evaluate = operand.evaluate
        return _Node(_BOOL, token.start, operand.end, lambda c: evaluate(c) is not True, operand.clauses)

    def parse_primary(self) -> _Node:
        token = self.advance()
        value, type_ = self.literal(token)
        if type_ is not None:
            return _Node(type_, token.start, token.end, lambda c: value)
        text = self.source[token.start : token.end]
        if token.kind == "(":
            self.enter(token)
            node = self.parse_or()
            close = self.advance()
            if close.kind != ")":
                reason = "Unbalanced parentheses, missing ')'" if close.kind == "end" else "Expected ')'"
                raise self.error(token.start, close.end, reason)
            self.depth -= 1
            return node._replace(start=token.start, end=close.end)
        if token.kind == "end":
            raise self.error(0, token.end, "Unexpected end of filter, expected an operand")
        if token.kind != "name":
            raise self.error(token.start, token.end, f"Unexpected '{text}', expected an operand")
        if token.value in _KEYWORDS:
            raise self.error(token.start, token.end, f"Unexpected keyword '{text}', expected an operand")
        if self.peek().kind == "(":
            return self.parse_call(token)
        if token.value in _FIELDS:
            attribute, type_ = _FIELDS[str(token.value)]
            return _Node(type_, token.start, token.end, operator.attrgetter(attribute))
        if token.value in _FUNCTIONS:
            raise self.error(token.start, token.end, f"Function '{text}' must be called with arguments")
        reason = f"Unknown identifier '{text}', expected 'userId', 'connectionId' or 'groups'"
        raise self.error(token.start, token.end, reason)

    def parse_call(self, name: _Token) -> _Node:
        function = _FUNCTIONS.get(str(name.value))
        if function is None:
            text = self.source[name.start : name.end]
            reason = f"'{text}' is not a function" if name.value in _FIELDS else f"Unknown function '{text}'"
            raise self.error(name.start, name.end, f"{reason}, expected one of: {', '.join(sorted(_FUNCTIONS))}")
        self.enter(self.advance())
        args: list[_Node] = []
        close = self.peek()
        if close.kind == ")":
            self.advance()
        while close.kind != ")":
            args.append(self.parse_or())
            close = self.advance()
            if close.kind == "end":
                raise self.error(name.start, close.end, "Missing ')' to close the argument list")
            if close.kind not in (",", ")"):
                raise self.error(name.start, close.end, "Expected ',' or ')' in the argument list")
        self.depth -= 1
        word, start, end = name.value, name.start, close.end
        if not function.required <= len(args) <= len(function.params):
            arity = "-".join(sorted({str(function.required), str(len(function.params))}))
            raise self.error(start, end, f"Function '{word}' takes {arity} argument(s), got {len(args)}")
        for position, (arg, allowed) in enumerate(zip(args, function.params), start=1):
            if arg.type.kind not in allowed and arg.type.kind != "null":
                expected = "' or '".join(sorted(allowed))
                reason = f"Argument {position} of '{word}' has type '{arg.type.kind}', expect '{expected}'"
                raise self.error(start, end, reason)
        nullable = any(arg.type.nullable for arg in args)
        return _Node(_Type(function.result, nullable), start, end, _call(function.impl, args))


# --------------------------------------------------------------------------------------------------- public


@dataclass(frozen=True)
class Filter:
    """A compiled, immutable filter; build one with :func:`compile_filter`."""

    source: str
    _root: _Node = field(repr=False, compare=False)

    def matches(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` is selected; a null result (e.g. ``startswith(userId, 'a')``, anonymous) is false."""
        return self._root.evaluate(candidate) is True


def compile_filter(source: str) -> Filter:
    """Parse, type-check and compile ``source`` once.

    Raises :class:`InvalidFilterError` for anything the service rejects with 400: empty input, bad syntax
    (unterminated string, unbalanced parentheses, trailing tokens, chained comparisons), unknown identifiers or
    functions, wrong arity, statically detectable type errors, a non-boolean result or more than
    :data:`MAX_CLAUSES` clauses.
    """
    return Filter(source, _Parser(source).parse())
