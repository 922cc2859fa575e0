"""Tests for the OData filter language (service-behaviour §7)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_webpubsub._core.filters import MAX_CLAUSES, Filter, InvalidFilterError, compile_filter


@dataclass(frozen=True)
class Conn:
    connection_id: str = "conn-1"
    user_id: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)


def conn(user: str | None = None, *groups: str, cid: str = "conn-1") -> Conn:
    return Conn(connection_id=cid, user_id=user, groups=frozenset(groups))


ANON = conn()
USER1 = conn("user1", "group1", cid="c-user1")
USER2 = conn("user2", "group2", cid="c-user2")
USER1_NO_GROUP = conn("user1", cid="123")
LISTENER = conn("listener-7", "group1", "group2", cid="c-listener")
SHOUTY = conn("USER1", cid="c-shouty")
PADDED = conn("  pad  ", cid="c-pad")
QUOTED = conn("user'1", cid="c-quoted")
EVERYONE = [ANON, USER1, USER2, USER1_NO_GROUP, LISTENER, SHOUTY, PADDED, QUOTED]


def selected(source: str) -> set[str]:
    compiled = compile_filter(source)
    return {c.connection_id for c in EVERYONE if compiled.matches(c)}


def ids(*conns: Conn) -> set[str]:
    return {c.connection_id for c in conns}


# ---------------------------------------------------- documented examples (service-behaviour §7)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'group1' in groups or 'group2' in groups", ids(USER1, USER2, LISTENER)),
        ("userId in ('user1','user2') and 'group1' in groups", ids(USER1)),
        ("userId eq 'user1' and connectionId ne '123'", ids(USER1)),
        ("userId eq 'user1' and (not ('group1' in groups))", ids(USER1_NO_GROUP)),
        ("startswith(userId, 'listener-')", ids(LISTENER)),
        ("userId ne 'user1'", ids(ANON, USER2, LISTENER, SHOUTY, PADDED, QUOTED)),
        ("userId eq 'live-user-1'", set()),
        ("userId ne 'nobody'", ids(*EVERYONE)),
    ],
)
def test_documented_examples(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


# ------------------------------------------------------------------------------------------ functions


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("tolower(userId) eq 'user1'", ids(USER1, USER1_NO_GROUP, SHOUTY)),
        ("toupper(userId) eq 'USER2'", ids(USER2)),
        ("trim(userId) eq 'pad'", ids(PADDED)),
        ("substring(userId, 4) eq '1'", ids(USER1, USER1_NO_GROUP, SHOUTY)),
        ("substring(userId, 0, 8) eq 'listener'", ids(LISTENER)),
        ("substring(userId, 100) eq ''", ids(*EVERYONE) - ids(ANON)),
        ("substring(userId, -3, 2) eq 'us'", ids(USER1, USER2, USER1_NO_GROUP, QUOTED)),
        ("substring(userId, 1, -1) eq ''", ids(*EVERYONE) - ids(ANON)),
        ("endswith(userId, '2')", ids(USER2)),
        ("endswith(connectionId, 'listener')", ids(LISTENER)),
        ("startswith(connectionId, 'c-user')", ids(USER1, USER2)),
        ("contains(userId, 'ser')", ids(USER1, USER2, USER1_NO_GROUP, QUOTED)),
        ("contains(userId, 'SER')", ids(SHOUTY)),
        ("indexof(userId, 'er') eq 2", ids(USER1, USER2, USER1_NO_GROUP, QUOTED)),
        ("indexof(userId, 'zzz') eq -1", ids(*EVERYONE) - ids(ANON)),
        ("indexof(userId, 'l') eq 0", ids(LISTENER)),
        ("concat(userId, '@x') eq 'user1@x'", ids(USER1, USER1_NO_GROUP)),
        ("concat(concat('c-', userId), '') eq connectionId", ids(USER1, USER2)),
        ("length(userId) eq 5", ids(USER1, USER2, USER1_NO_GROUP, SHOUTY)),
        ("length(userId) gt 6", ids(PADDED, LISTENER)),
        ("length(groups) eq 0", ids(ANON, USER1_NO_GROUP, SHOUTY, PADDED, QUOTED)),
        ("length(groups) ge 2", ids(LISTENER)),
        ("length(connectionId) lt 4", ids(USER1_NO_GROUP)),
        ("length(trim(userId)) eq 3", ids(PADDED)),
        ("startswith(tolower(userId), 'user')", ids(USER1, USER2, USER1_NO_GROUP, SHOUTY, QUOTED)),
    ],
)
def test_functions(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


# ------------------------------------------------------------------------------------------ operators


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true", ids(*EVERYONE)),
        ("false", set()),
        ("length(userId) ge 5 and length(userId) le 5", ids(USER1, USER2, USER1_NO_GROUP, SHOUTY)),
        ("length(groups) gt 1 or length(groups) lt 1", ids(*EVERYONE) - ids(USER1, USER2)),
        ("1 lt 2", ids(*EVERYONE)),
        ("-1 lt +1", ids(*EVERYONE)),
        ("5 ge 5 and not (5 gt 5)", ids(*EVERYONE)),
        ("connectionId in ('123', 'c-pad', 'nope')", ids(USER1_NO_GROUP, PADDED)),
        ("connectionId in ('123')", ids(USER1_NO_GROUP)),
        ("userId in groups", set()),
        ("concat('group', '1') in groups", ids(USER1, LISTENER)),
        ("length(userId) in (5, 10)", ids(USER1, USER2, USER1_NO_GROUP, SHOUTY, LISTENER)),
        ("true in (true)", ids(*EVERYONE)),
        ("('group1' in groups) eq true", ids(USER1, LISTENER)),
        ("(userId eq 'user1') eq (connectionId eq '123')", ids(*EVERYONE) - ids(USER1)),
        ("startswith(userId, 'user') eq false", ids(LISTENER, SHOUTY, PADDED)),
        ("not true eq false", ids(*EVERYONE)),  # (not true) eq false
        ("((((userId eq 'user2'))))", ids(USER2)),
        ("not not (userId eq 'user2')", ids(USER2)),
    ],
)
def test_operators(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # and binds tighter than or
        ("userId eq 'user2' or userId eq 'user1' and connectionId eq '123'", ids(USER2, USER1_NO_GROUP)),
        ("(userId eq 'user2' or userId eq 'user1') and connectionId eq '123'", ids(USER1_NO_GROUP)),
        ("connectionId eq '123' and userId eq 'user1' or userId eq 'user2'", ids(USER2, USER1_NO_GROUP)),
        # not binds tighter than and/or
        ("not (userId eq 'user1') and 'group2' in groups", ids(USER2, LISTENER)),
        ("not (userId eq 'user1' or userId eq null)", ids(USER2, LISTENER, SHOUTY, PADDED, QUOTED)),
        ("not (length(userId) gt 5)", ids(ANON, USER1, USER2, USER1_NO_GROUP, SHOUTY)),
        ("userId eq 'a' or userId eq 'b' or userId eq 'user2' or false", ids(USER2)),
        ("true and true and true and userId eq null", ids(ANON)),
    ],
)
def test_precedence(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


# --------------------------------------------------------------------------------------------- nulls


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("userId eq null", ids(ANON)),
        ("null eq userId", ids(ANON)),
        ("userId ne null", ids(*EVERYONE) - ids(ANON)),
        ("null eq null", ids(*EVERYONE)),
        ("null ne null", set()),
        ("tolower(userId) eq null", ids(ANON)),
        ("length(userId) eq null", ids(ANON)),
        ("concat(userId, 'x') ne null", ids(*EVERYONE) - ids(ANON)),
        ("length(userId) lt 100", ids(*EVERYONE) - ids(ANON)),
        ("length(userId) ge 0", ids(*EVERYONE) - ids(ANON)),
        ("length(userId) gt null", set()),
        ("null le null", set()),
        ("userId in ('user1', null)", ids(USER1, USER1_NO_GROUP)),
        ("null in ('a', null)", set()),
        ("null in groups", set()),
        ("userId in groups", set()),
        ("startswith(userId, 'u') eq null", ids(ANON)),
        # a null where a boolean is needed counts as false
        ("startswith(userId, 'user')", ids(USER1, USER2, USER1_NO_GROUP, QUOTED)),
        ("not startswith(userId, 'user')", ids(ANON, LISTENER, SHOUTY, PADDED)),
        ("startswith(userId, 'x') or userId eq null", ids(ANON)),
        ("contains(null, 'a') or true", ids(*EVERYONE)),
        ("userId ne 'user1' and userId ne 'user2'", ids(ANON, LISTENER, SHOUTY, PADDED, QUOTED)),
    ],
)
def test_null_semantics(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


# ------------------------------------------------------------------------------ case, quoting, spacing


@pytest.mark.parametrize(
    "source",
    [
        "userId eq 'user1'",
        "UserId eq 'user1'",
        "USERID EQ 'user1'",
        "userid Eq 'user1' AND ConnectionID NE 'c-user1' OR false",
        "'group1' IN GROUPS and USERID in ('user1') and not (UserId eq NULL) and TRUE",
        "StartsWith(userId, 'user1') and ToLower(userId) eq 'user1' and LENGTH(Groups) eq 0",
        "  userId   eq\t'user1'\n",
        "userId eq'user1'",
        "(userId eq 'user1')and(connectionId eq '123')",
    ],
)
def test_case_insensitive_names_and_whitespace(source: str) -> None:
    assert selected(source) <= ids(USER1, USER1_NO_GROUP)
    assert selected(source)


def test_values_are_case_sensitive() -> None:
    assert selected("userId eq 'USER1'") == ids(SHOUTY)
    assert selected("'GROUP1' in groups") == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("userId eq 'user''1'", ids(QUOTED)),
        ("contains(userId, '''')", ids(QUOTED)),
        ("userId in ('user''1', 'x')", ids(QUOTED)),
        ("userId eq ''", set()),
        ("'''' eq ''''", ids(*EVERYONE)),
        ("userId eq ' and userId eq '", set()),  # keywords inside a string are plain text
    ],
)
def test_string_quoting(source: str, expected: set[str]) -> None:
    assert selected(source) == expected


# ------------------------------------------------------------------------------------------- invalid


def test_documented_error_message() -> None:
    with pytest.raises(InvalidFilterError) as excinfo:
        compile_filter("not length(userId) gt 5")
    error = excinfo.value
    assert error.message == "Invalid syntax for 'not length(userId)': Type 'null', expect 'bool'. (Parameter 'filter')"
    assert str(error) == error.message
    assert error.message.startswith("Invalid syntax for ")
    assert error.message.endswith("(Parameter 'filter')")
    assert error.fragment == "not length(userId)"
    assert error.reason == "Type 'null', expect 'bool'"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        # empty
        ("", "Filter is empty"),
        ("   \t ", "Filter is empty"),
        # lexical
        ("userId eq 'abc", "for ''abc': Unterminated string literal"),
        ("userId eq 'it''s", "Unterminated string literal"),
        ("userId eq \"a\"", "for '\"': Unexpected character at position 10"),
        ("userId eq 'a' && true", "Unexpected character"),
        ("length(userId) gt 5.5", "Unexpected character"),
        ("userId eq 'a' - 1", "Unexpected character"),
        ("length(groups) eq 99999999999999999999", "Integer literal is out of range"),
        # structure
        ("userId eq 'a' 'b'", "for ''b'': Unexpected text after a complete expression"),
        ("userId eq 'a' userId", "expected 'and', 'or' or the end of the filter"),
        ("(userId eq 'a'", "for '(userId eq 'a'': Unbalanced parentheses, missing ')'"),
        ("((userId eq 'a')", "Unbalanced parentheses, missing ')'"),
        ("userId eq 'a')", "for ')': Unbalanced parentheses, ')' without a matching '('"),
        ("(userId eq 'a' 'b')", "Expected ')'"),
        ("()", "Unexpected ')', expected an operand"),
        ("userId eq", "for 'userId eq': Unexpected end of filter, expected an operand"),
        ("userId eq 'a' and", "Unexpected end of filter"),
        ("and userId eq 'a'", "for 'and': Unexpected keyword 'and', expected an operand"),
        ("userId eq eq 'a'", "Unexpected keyword 'eq'"),
        ("not", "Unexpected end of filter"),
        (",", "Unexpected ','"),
        # chained comparisons
        ("userId eq 'a' eq 'b'", "for 'userId eq 'a' eq': Comparisons cannot be chained"),
        ("1 lt 2 lt 3", "Comparisons cannot be chained"),
        ("'a' in groups in ('a')", "Comparisons cannot be chained"),
        # identifiers and functions
        ("protocol eq 'json.webpubsub.azure.v1'", "for 'protocol': Unknown identifier 'protocol'"),
        ("user_id eq 'a'", "Unknown identifier 'user_id'"),
        ("userId/name eq 'a'", "Unexpected character"),
        ("foo(userId)", "for 'foo': Unknown function 'foo', expected one of: concat, contains"),
        ("matchesPattern(userId, 'a')", "Unknown function 'matchesPattern'"),
        ("userId(1) eq 'a'", "'userId' is not a function"),
        ("tolower eq 'a'", "Function 'tolower' must be called with arguments"),
        ("tolower() eq 'a'", "Function 'tolower' takes 1 argument(s), got 0"),
        ("tolower(userId, 'x') eq 'a'", "takes 1 argument(s), got 2"),
        ("substring(userId) eq 'a'", "for 'substring(userId)': Function 'substring' takes 2-3 argument(s), got 1"),
        ("substring(userId, 1, 2, 3) eq 'a'", "takes 2-3 argument(s), got 4"),
        ("startswith(userId)", "Function 'startswith' takes 2 argument(s), got 1"),
        ("concat('a', 'b', 'c') eq 'abc'", "takes 2 argument(s), got 3"),
        ("startswith(userId, 'a',)", "Unexpected ')', expected an operand"),
        ("startswith(userId 'a')", "Expected ',' or ')' in the argument list"),
        ("startswith(userId, 'a'", "Missing ')' to close the argument list"),
        # types
        ("not length(userId) gt 5", "for 'not length(userId)': Type 'null', expect 'bool'"),
        ("not length(connectionId) gt 5", "for 'not length(connectionId)': Type 'int', expect 'bool'"),
        ("not 'g1' in groups", "for 'not 'g1'': Type 'string', expect 'bool'"),
        ("not userId", "Type 'null', expect 'bool'"),
        ("not null", "Type 'null', expect 'bool'"),
        ("userId", "for 'userId': Type 'null', expect 'bool'"),
        ("connectionId", "for 'connectionId': Type 'string', expect 'bool'"),
        ("groups", "Type 'collection', expect 'bool'"),
        ("'a'", "Type 'string', expect 'bool'"),
        ("1", "Type 'int', expect 'bool'"),
        ("null", "Type 'null', expect 'bool'"),
        ("tolower(userId)", "for 'tolower(userId)': Type 'null', expect 'bool'"),
        ("(length(groups))", "for '(length(groups))': Type 'int', expect 'bool'"),
        ("userId and true", "for 'userId and true': Type 'null', expect 'bool'"),
        ("true or connectionId", "for 'true or connectionId': Type 'string', expect 'bool'"),
        ("true and false or 1", "Type 'int', expect 'bool'"),
        ("userId gt 'a'", "for 'userId gt 'a'': Operator 'gt' only compares integers, got 'string'"),
        ("connectionId le 'z'", "Operator 'le' only compares integers, got 'string'"),
        ("true lt false", "only compares integers, got 'bool'"),
        ("length(groups) ge groups", "only compares integers, got 'collection'"),
        ("userId eq 1", "Operator 'eq' cannot compare 'string' with 'int'"),
        ("length(userId) ne 'five'", "Operator 'ne' cannot compare 'int' with 'string'"),
        ("('g' in groups) eq 'true'", "cannot compare 'bool' with 'string'"),
        ("groups eq null", "Operator 'eq' cannot compare a collection"),
        ("groups in ('a')", "The left side of 'in' must be a single value, not a collection"),
        ("userId in ('a', 1)", "Cannot look up 'string' among 'int' values"),
        ("1 in groups", "'groups' holds strings, cannot look up 'int'"),
        ("userId in userId", "Expected a parenthesised list of literals or 'groups' after 'in'"),
        ("userId in 'a'", "Expected a parenthesised list of literals or 'groups'"),
        ("userId in (connectionId)", "Expected a literal in the 'in' list"),
        ("userId in ()", "Expected a literal in the 'in' list"),
        ("userId in ('a',)", "Expected a literal in the 'in' list"),
        ("userId in ('a' 'b')", "Expected ',' or ')' in the 'in' list"),
        ("userId in ('a'", "Missing ')' to close the 'in' list"),
        ("tolower(1) eq 'a'", "Argument 1 of 'tolower' has type 'int', expect 'string'"),
        ("startswith(userId, 1)", "Argument 2 of 'startswith' has type 'int', expect 'string'"),
        ("substring(userId, '1') eq 'a'", "Argument 2 of 'substring' has type 'string', expect 'int'"),
        ("length(1) eq 1", "Argument 1 of 'length' has type 'int', expect 'collection' or 'string'"),
        ("contains(groups, 'a')", "has type 'collection', expect 'string'"),
        ("tolower(userId eq 'a') eq 'a'", "has type 'bool', expect 'string'"),
    ],
)
def test_invalid_filters(source: str, fragment: str) -> None:
    with pytest.raises(InvalidFilterError) as excinfo:
        compile_filter(source)
    message = excinfo.value.message
    assert message.startswith("Invalid syntax for '")
    assert message.endswith(". (Parameter 'filter')")
    assert fragment in message


def test_clause_limit() -> None:
    clause = "userId eq 'u'"
    at_limit = " or ".join([clause] * MAX_CLAUSES)
    assert not compile_filter(at_limit).matches(USER1)
    mixed = " and ".join(["(" + " or ".join([clause] * 10) + ")"] * 10)
    compile_filter(mixed)
    with pytest.raises(InvalidFilterError, match=r"Too many clauses \(101\), at most 100 are allowed"):
        compile_filter(at_limit + " or " + clause)
    with pytest.raises(InvalidFilterError, match="Too many clauses"):
        compile_filter(mixed + " and not (" + clause + ")")


@pytest.mark.parametrize("opener", ["(", "not (", "tolower("])
def test_deep_nesting_is_rejected_not_a_crash(opener: str) -> None:
    source = opener * 500 + "true"
    with pytest.raises(InvalidFilterError, match="nested more than 64 levels"):
        compile_filter(source)
    compile_filter("(" * 30 + "userId eq 'a'" + ")" * 30)


# ------------------------------------------------------------------------------------------- Filter


def test_filter_is_an_immutable_value() -> None:
    compiled = compile_filter("userId eq 'user1'")
    assert isinstance(compiled, Filter)
    assert compiled.source == "userId eq 'user1'"
    assert compiled == compile_filter("userId eq 'user1'")
    assert hash(compiled) == hash(compile_filter("userId eq 'user1'"))
    assert "userId eq 'user1'" in repr(compiled)
    with pytest.raises(AttributeError):
        compiled.source = "true"  # type: ignore[misc]


def test_matches_accepts_any_collection_of_groups() -> None:
    @dataclass
    class Mutable:
        connection_id: str
        user_id: str | None
        groups: list[str]

    candidate = Mutable("c", "u", ["g1"])
    compiled = compile_filter("'g1' in groups and length(groups) eq 1")
    assert compiled.matches(candidate)
    candidate.groups.append("g2")
    assert not compiled.matches(candidate)


# ----------------------------------------------------------------------------------------- properties

users = st.one_of(st.none(), st.text(max_size=20))
group_sets = st.frozensets(st.text(max_size=5), max_size=4)
candidates = st.builds(Conn, connection_id=st.text(min_size=1, max_size=10), user_id=users, groups=group_sets)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@given(target=st.text(), other=users)
def test_eq_literal_selects_exactly_that_user(target: str, other: str | None) -> None:
    compiled = compile_filter(f"userId eq {quote(target)}")
    assert compiled.matches(Conn(user_id=target))
    assert compiled.matches(Conn(user_id=other)) == (other == target)
    assert compile_filter(f"userId ne {quote(target)}").matches(Conn(user_id=other)) == (other != target)


@given(group=st.text(), candidate=candidates)
def test_in_groups_is_membership(group: str, candidate: Conn) -> None:
    assert compile_filter(f"{quote(group)} in groups").matches(candidate) == (group in candidate.groups)


ATOMS = [
    "userId eq null",
    "userId eq 'a'",
    "startswith(userId, 'a')",  # null for anonymous connections
    "contains(connectionId, 'x')",
    "'g' in groups",
    "length(groups) gt 1",
    "length(userId) le 2",
    "userId in ('a', 'ab', '')",
    "true",
    "false",
]
atoms = st.sampled_from(ATOMS)


@given(atom=atoms, candidate=candidates)
def test_not_negates(atom: str, candidate: Conn) -> None:
    assert compile_filter(f"not ({atom})").matches(candidate) != compile_filter(atom).matches(candidate)


@given(left=atoms, right=atoms, candidate=candidates)
def test_and_or_are_boolean_connectives(left: str, right: str, candidate: Conn) -> None:
    a, b = compile_filter(left).matches(candidate), compile_filter(right).matches(candidate)
    assert compile_filter(f"{left} or {right}").matches(candidate) == (a or b)
    assert compile_filter(f"{left} and {right}").matches(candidate) == (a and b)
    assert compile_filter(f"not ({left} or {right})").matches(candidate) == (not a and not b)


@given(source=st.text(max_size=40))
def test_arbitrary_text_compiles_or_raises_invalid_filter(source: str) -> None:
    try:
        compiled = compile_filter(source)
    except InvalidFilterError as error:
        assert error.message.endswith("(Parameter 'filter')")
    else:
        assert isinstance(compiled.matches(Conn(user_id="u", groups=frozenset({"g"}))), bool)


@given(
    tokens=st.lists(
        st.sampled_from(
            ["userId", "groups", "connectionId", "'a'", "1", "-2", "null", "true", "(", ")", ",", "eq", "ne", "gt",
             "in", "and", "or", "not", "tolower", "length", "substring", "startswith", "concat"]
        ),
        max_size=12,
    ),
    candidate=candidates,
)  # fmt: skip
def test_token_soup_compiles_or_raises_invalid_filter(tokens: list[str], candidate: Conn) -> None:
    try:
        compiled = compile_filter(" ".join(tokens))
    except InvalidFilterError:
        return
    assert isinstance(compiled.matches(candidate), bool)
