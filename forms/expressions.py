"""REDCap's branching logic and calculations: tokenizer, recursive-descent parser, compiler.

An expression is parsed once, when the dictionary loads, into a small tree (``Node``) that can
be exported as JSON for the browser (``to_json``) and compiled into nested closures for the
server (``compile_expression``), so that validating an answer set never re-parses anything and
never calls ``eval``. Syntax errors raise ``ExpressionError`` with a 1-based line and column.

Grammar (lowest precedence first)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?
    primary := number | 'string' | "string" | true | false | ref | name "(" args ")" | "(" expr ")"
    ref     := "[" event "]" "[" field ["(" code ")"] "]" | "[" field ["(" code ")"] "]"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from forms.errors import ExpressionError
from forms.functions import FUNCTIONS, Env, Value, arithmetic, compare, truthy

MAX_DEPTH = 60
_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)
      | (?P<num>\d+(?:\.\d*)?|\.\d+)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<ref>\[[^\[\]]*\])
      | (?P<op><>|!=|<=|>=|==|&&|\|\||[=<>+\-*/^(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\(([A-Za-z0-9_.\-]+)\))?$")
_SMART = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
COMPARISONS = frozenset({"=", "==", "<>", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int
    end: int


@dataclass(frozen=True)
class Node:
    """One node of an expression tree. ``op`` is one of: literal, var, smart, not, neg, and,
    or, a comparison or arithmetic symbol, call."""

    op: str
    args: tuple[Node, ...] = ()
    value: str | float | int | bool | None = None
    name: str = ""
    event: str = ""
    code: str = ""
    offset: int = 0
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; the browser evaluator reads ``op``, ``args``, ``name``, ``code``."""
        if self.op == "literal":
            return {"op": "literal", "value": self.value}
        if self.op == "var":
            out: dict[str, Any] = {"op": "var", "name": self.name}
            if self.event:
                out["event"] = self.event
            if self.code:
                out["code"] = self.code
            return out
        if self.op == "smart":
            return {"op": "smart", "name": self.name}
        if self.op == "call":
            return {"op": "call", "name": self.name, "args": [a.to_json() for a in self.args]}
        return {"op": self.op, "args": [a.to_json() for a in self.args]}

    def walk(self) -> Iterator[Node]:
        yield self
        for arg in self.args:
            yield from arg.walk()

    def references(self) -> list[Node]:
        """The ``var`` nodes, in order, for checks at load time."""
        return [n for n in self.walk() if n.op == "var"]


def _locate(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def _error(text: str, offset: int, message: str) -> ExpressionError:
    line, column = _locate(text, offset)
    return ExpressionError(message, line=line, column=column, text=text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "'\"":
                raise _error(text, pos, f"the text starting with {char} is never closed")
            if char == "[":
                raise _error(text, pos, "'[' is never closed with ']'")
            raise _error(text, pos, f"unexpected character {char!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos, match.end()))
        pos = match.end()
    tokens.append(Token("eof", "", len(text), len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, message: str, token: Token | None = None) -> ExpressionError:
        return _error(self.text, (token or self.tok).offset, message)

    def describe(self, token: Token) -> str:
        return "the end of the expression" if token.kind == "eof" else repr(token.text)

    def keyword(self, word: str) -> bool:
        tok = self.tok
        return tok.kind == "name" and tok.text.lower() == word

    def op(self, *symbols: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in symbols

    def advance(self) -> Token:
        token = self.tok
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise self.fail("the expression is empty")
        node = self.expr()
        if self.tok.kind != "eof":
            raise self.fail(f"unexpected {self.describe(self.tok)}; is an operator missing?")
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep")
        node = self.and_()
        while self.keyword("or") or self.op("||"):
            start = self.advance().offset
            node = Node("or", (node, self.and_()), offset=start)
        self.depth -= 1
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.keyword("and") or self.op("&&"):
            start = self.advance().offset
            node = Node("and", (node, self.not_()), offset=start)
        return node

    def not_(self) -> Node:
        if self.keyword("not"):
            start = self.advance().offset
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep")
            node = Node("not", (self.not_(),), offset=start)
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        node = self.sum_()
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            token = self.advance()
            node = Node(token.text, (node, self.sum_()), offset=token.offset)
            if self.tok.kind == "op" and self.tok.text in COMPARISONS:
                raise self.fail("two comparisons in a row; join them with 'and' or 'or'")
        return node

    def sum_(self) -> Node:
        node = self.product()
        while self.op("+", "-"):
            token = self.advance()
            node = Node(token.text, (node, self.product()), offset=token.offset)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.op("*", "/"):
            token = self.advance()
            node = Node(token.text, (node, self.unary()), offset=token.offset)
        return node

    def unary(self) -> Node:
        if self.op("-", "+"):
            token = self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep")
            operand = self.unary()
            self.depth -= 1
            return Node("neg", (operand,), offset=token.offset) if token.text == "-" else operand
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        if self.op("^"):
            token = self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep")
            node = Node("^", (node, self.unary()), offset=token.offset)
            self.depth -= 1
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            number = float(tok.text)
            value: float | int = int(number) if number.is_integer() and "." not in tok.text \
                else number
            return Node("literal", value=value, offset=tok.offset)
        if tok.kind == "str":
            self.advance()
            return Node("literal", value=tok.text[1:-1], offset=tok.offset)
        if tok.kind == "ref":
            return self.reference()
        if tok.kind == "name":
            word = tok.text.lower()
            if word == "not":
                return self.not_()
            if word in ("true", "false") and not self._next_is("("):
                self.advance()
                return Node("literal", value=word == "true", offset=tok.offset)
            if self._next_is("("):
                return self.call()
            if word in ("and", "or"):
                raise self.fail(f"'{tok.text}' needs something on its left and right")
            raise self.fail(f"unknown word {tok.text!r}; field names go in square brackets, "
                            "text in quotes")
        if self.op("("):
            self.advance()
            node = self.expr()
            if not self.op(")"):
                raise self.fail(f"expected ')' but found {self.describe(self.tok)}")
            self.advance()
            return node
        raise self.fail(f"expected a value, a [field] or '(' but found {self.describe(tok)}")

    def _next_is(self, symbol: str) -> bool:
        following = self.tokens[self.pos + 1]
        return following.kind == "op" and following.text == symbol

    def reference(self) -> Node:
        first = self.advance()
        inner = first.text[1:-1].strip()
        following = self.tok
        if following.kind == "ref" and following.offset == first.end:
            self.advance()
            event = inner
            if not re.fullmatch(r"[a-z0-9_]+", event):
                raise self.fail(f"[{event}] is not an event name", first)
            return self._field(following, following.text[1:-1].strip(), event)
        return self._field(first, inner, "")

    def _field(self, token: Token, inner: str, event: str) -> Node:
        if _SMART.match(inner) and not event:
            return Node("smart", name=inner, offset=token.offset)
        match = _REF.match(inner)
        if match is None:
            raise self.fail(f"[{inner}] is not a field name; write [field] or [field(code)]",
                            token)
        return Node("var", name=match.group(1), code=match.group(2) or "", event=event,
                    offset=token.offset)

    def call(self) -> Node:
        name_tok = self.advance()
        name = name_tok.text.lower()
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {name_tok.text}()", name_tok)
        self.advance()  # "("
        args: list[Node] = []
        if not self.op(")"):
            args.append(self.expr())
            while self.op(","):
                self.advance()
                args.append(self.expr())
        if not self.op(")"):
            raise self.fail(f"expected ',' or ')' in {name}() but found "
                            f"{self.describe(self.tok)}")
        self.advance()
        low, high = FUNCTIONS[name].arity
        if len(args) < low or (high is not None and len(args) > high):
            expected = str(low) if low == high else f"{low} to {high}" if high else f"{low}+"
            noun = "argument" if expected == "1" else "arguments"
            raise self.fail(f"{name}() takes {expected} {noun}, not {len(args)}", name_tok)
        return Node("call", tuple(args), name=name, offset=name_tok.offset)


def parse_expression(text: str) -> Node:
    """Parse REDCap branching logic or a calculation; raises ``ExpressionError``."""
    return _Parser(text).parse()


Compiled = Callable[[Env], Value]


def compile_expression(node: Node) -> Compiled:
    """Turn a tree into nested closures evaluated against an ``Env``."""
    op = node.op
    if op == "literal":
        constant: Value = node.value if node.value is not None else ""
        return lambda env: constant
    if op == "var":
        return _compile_var(node)
    if op == "smart":
        if node.name == "event-name":
            return lambda env: env.event or ""
        return lambda env: ""
    args = [compile_expression(a) for a in node.args]
    if op == "and":
        left, right = args
        return lambda env: truthy(left(env)) and truthy(right(env))
    if op == "or":
        left, right = args
        return lambda env: truthy(left(env)) or truthy(right(env))
    if op == "not":
        (inner,) = args
        return lambda env: not truthy(inner(env))
    if op == "neg":
        (inner,) = args
        return lambda env: arithmetic("*", -1, inner(env))
    if op in COMPARISONS:
        left, right = args
        return lambda env: compare(op, left(env), right(env))
    if op in ("+", "-", "*", "/", "^"):
        left, right = args
        return lambda env: arithmetic(op, left(env), right(env))
    if op == "call":
        if node.name == "if":
            cond, then, other = args
            return lambda env: then(env) if truthy(cond(env)) else other(env)
        impl = FUNCTIONS[node.name].impl
        return lambda env: impl(env, [a(env) for a in args])
    raise ValueError(f"cannot compile node {op!r}")  # pragma: no cover - parser never makes it


def _compile_var(node: Node) -> Compiled:
    name, code, event = node.name, node.code, node.event

    def source(env: Env) -> Any:
        if not event or event == env.event:
            return env.values
        return env.others.get(event) or {}

    if code:
        def checked(env: Env) -> Value:
            value = source(env).get(name)
            if isinstance(value, list | tuple | set | frozenset):
                return "1" if code in value else "0"
            flag = source(env).get(f"{name}___{code}")
            return "1" if str(flag) in ("1", "True") else "0"
        return checked

    if not event:
        def plain(env: Env) -> Value:
            return _scalar(env.values.get(name))
        return plain

    def prefixed(env: Env) -> Value:
        return _scalar(source(env).get(name))
    return prefixed


def _scalar(value: object) -> Value:
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    iso = getattr(value, "isoformat", None)
    if iso is not None:
        return str(iso())
    return str(value)
