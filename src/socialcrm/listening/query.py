"""The listening query language: keywords, "exact phrases", #hashtags, @mentions, AND/OR/NOT.

Grammar (NOT binds tightest, then AND, then OR; juxtaposition means AND)::

    query  := or
    or     := and ("OR" and)*
    and    := unary (["AND"] unary)*
    unary  := ("NOT" | "-") unary | "(" or ")" | TERM
    TERM   := '"' phrase '"' | #tag | @handle | word

Terms are compared case-insensitively on whole words: ``acme`` matches "Acme!" and "#acme" but
not "acmes". The parser is pure and small so it is trivially testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 4000
MAX_TERM_LENGTH = 200


class QuerySyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # normalised: case-folded, single spaces


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or

_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))')
_OPERATORS = {"AND", "OR", "NOT"}


def normalise_text(text: str) -> str:
    """What terms and mention texts are compared on: case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", text.casefold()).strip()


def _tokens(query: str) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise QuerySyntaxError("unclosed quote", position)
        start = match.start(match.lastgroup or 0)
        if match.group("paren"):
            found.append(("paren", match.group("paren"), start))
        elif match.group("phrase") is not None:
            found.append(("term", match.group("phrase"), start))
        else:
            word = match.group("word")
            if word in _OPERATORS:
                found.append(("op", word, start))
            elif word.startswith("-") and len(word) > 1:
                found.append(("op", "NOT", start))
                found.append(("term", word[1:], start + 1))
            else:
                found.append(("term", word, start))
        position = match.end()
    return found


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.index = 0
        self.length = len(query)

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self._or()
        leftover = self._peek()
        if leftover is not None:
            raise QuerySyntaxError(f"unexpected {leftover[1]!r}", leftover[2])
        return node

    def _or(self) -> Node:
        children = [self._and()]
        while (token := self._peek()) is not None and token[:2] == ("op", "OR"):
            self.index += 1
            children.append(self._and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _and(self) -> Node:
        children = [self._unary()]
        while (token := self._peek()) is not None:
            if token[:2] == ("op", "AND"):
                self.index += 1
            elif (token[0] == "op" and token[1] == "OR") or token[:2] == ("paren", ")"):
                break
            children.append(self._unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def _unary(self) -> Node:
        token = self._peek()
        if token is None:
            raise QuerySyntaxError("the query ends where a term was expected", self.length)
        kind, value, position = token
        self.index += 1
        if kind == "op" and value == "NOT":
            return Not(self._unary())
        if kind == "op":
            raise QuerySyntaxError(f"{value} needs a term before and after it", position)
        if value == "(":
            node = self._or()
            closing = self._peek()
            if closing is None or closing[:2] != ("paren", ")"):
                raise QuerySyntaxError("missing ')'", position)
            self.index += 1
            return node
        if value == ")":
            raise QuerySyntaxError("unexpected ')'", position)
        text = normalise_text(value)
        if not text or text in {"#", "@"}:
            raise QuerySyntaxError("empty term", position)
        if len(text) > MAX_TERM_LENGTH:
            raise QuerySyntaxError("term too long", position)
        return Term(text)


def parse(query: str) -> Node | None:
    """The query's tree, or None for an empty query (the rule then relies on its filters)."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError("query too long", MAX_QUERY_LENGTH)
    return _Parser(query).parse()


def terms(node: Node | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, Term):
        return {node.text}
    if isinstance(node, Not):
        return terms(node.child)
    found: set[str] = set()
    for child in node.children:
        found |= terms(child)
    return found


def required_any(node: Node | None) -> frozenset[str] | None:
    """Terms of which at least one must occur for ``node`` to match; None if none needs to.

    Matching uses it to look only at rules one of whose required terms occurs in a mention.
    """
    if node is None or isinstance(node, Not):
        return None
    if isinstance(node, Term):
        return frozenset({node.text})
    parts = [required_any(child) for child in node.children]
    if isinstance(node, Or):
        if any(p is None for p in parts):
            return None
        return frozenset().union(*[p for p in parts if p is not None])
    known = [p for p in parts if p is not None]
    return min(known, key=len) if known else None


def evaluate(node: Node | None, present: set[str] | frozenset[str]) -> bool:
    if node is None:
        return True
    if isinstance(node, Term):
        return node.text in present
    if isinstance(node, Not):
        return not evaluate(node.child, present)
    if isinstance(node, And):
        return all(evaluate(child, present) for child in node.children)
    return any(evaluate(child, present) for child in node.children)
