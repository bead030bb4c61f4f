"""REDCap's logic language: tokenizer and recursive-descent parser into a small tree.

An expression (branching logic, a calculation, ``@CALCTEXT``/``@CALCDATE``/``@IF``, a
``filterLogic``) is parsed once into a ``Node`` tree that is exported as JSON for the
browser (``Node.to_json``) and compiled into closures for the server
(``forms.evaluate.compile_expression``), so that validating an answer set never re-parses
anything and never calls ``eval``. A syntax error raises ``ExpressionError`` with a 1-based
line and column, the construct being read, and what REDCap itself does with it.

What REDCap accepts and this parser follows (REDCap 15.7, ``LogicLexer``/``LogicParser``):

* comment lines: a line whose first non-blank characters are ``//`` or ``#`` is ignored
  (a comment after logic on the same line is refused, as REDCap refuses it);
* ``=``, ``==``, ``===``, ``<>``, ``< >``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``and``/``&&``,
  ``or``/``||``, ``not``/``!``, ``+ - * / ^``, parentheses, ``true``/``false``, quoted text;
* ``[field]``, ``[field:value]``, ``[field(code)]`` (checkbox), ``[event][field]`` with an
  event name or an event smart variable (``[previous-event-name][weight]``), an instance
  suffix (``[weight][2]``, ``[weight][last-instance]``), and smart variables
  (``[record-name]``, ``[survey-url:consent]`` …, see ``forms.smart``);
* the special functions of ``forms.functions.FUNCTIONS``.

Grammar (lowest precedence first)::

    expr    := and (("or" | "||") and)*
    and     := not (("and" | "&&") not)*
    not     := ("not" | "!") not | compare
    compare := sum (comparison sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?
    primary := number | text | true | false | ref | name "(" args ")" | "(" expr ")"
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from forms import smart
from forms.errors import REDCAP_FAILS, REDCAP_REFUSES, ExpressionError
from forms.functions import COMPARISONS, FUNCTIONS
from forms.i18n import _

MAX_DEPTH = 60
_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)
      | (?P<num>\d+(?:\.\d*)?|\.\d+)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<ref>\[[^\[\]]*\])
      | (?P<op>====|===|!==|>==|<==|<>|<\ >|!=|<=|>=|==|&&|\|\||[=<>+\-*/^(),!])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
#: Operators REDCap rewrites before parsing, and what they become.
_SAME_AS = {"====": "=", "===": "=", "==": "=", "!==": "<>", "!=": "<>", "< >": "<>",
            ">==": ">=", "<==": "<=", "&&": "and", "||": "or", "!": "not"}
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\((-?\d+|[A-Za-z0-9._\-]+)\))?(?::(\w+))?$")
_EVENT = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_INSTANCE = re.compile(r"^\d+$")
#: Piping modifiers REDCap takes in text but not in logic (``[sex:label]``).
PIPING_ONLY = frozenset({"label", "checked", "unchecked", "ampm", "inline", "link",
                         "hideunderscore"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int
    end: int


@dataclass(frozen=True)
class Node:
    """One node of an expression tree. ``op`` is one of: literal, var, smart, not, neg, and,
    or, a comparison or arithmetic symbol, call. A ``var`` may carry ``event`` (a name or an
    event smart variable), ``code`` (checkbox choice) and ``instance``; a ``smart`` node
    carries its ``name`` and ``param`` (the text after the colon)."""

    op: str
    args: tuple[Node, ...] = ()
    value: str | float | int | bool | None = None
    name: str = ""
    event: str = ""
    code: str = ""
    offset: int = 0
    instance: str = ""
    param: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict for ``static/branching.js`` (which reads the same keys)."""
        if self.op == "literal":
            return {"op": "literal", "value": self.value}
        if self.op in ("var", "smart"):
            out: dict[str, Any] = {"op": self.op, "name": self.name}
            for key in ("event", "code", "instance", "param"):
                if getattr(self, key):
                    out[key] = getattr(self, key)
            return out
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

    def smart_variables(self) -> list[Node]:
        """The ``smart`` nodes, in order (and not the event prefixes of ``var`` nodes)."""
        return [n for n in self.walk() if n.op == "smart"]


def _locate(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def _error(text: str, offset: int, message: str, construct: str = "",
           redcap: str = REDCAP_REFUSES) -> ExpressionError:
    line, column = _locate(text, offset)
    return ExpressionError(message, line=line, column=column, text=text, construct=construct,
                           redcap=redcap)


def strip_comments(text: str) -> str:
    """REDCap's comment lines (``//`` or ``#`` first on the line) blanked out, keeping every
    other character where it was so that errors point at the right line and column."""
    lines = text.split("\n")
    kept = [" " * len(line) if line.lstrip().startswith(("//", "#")) else line
            for line in lines]
    return "\n".join(kept)


def tokenize(text: str) -> list[Token]:
    source = strip_comments(text)
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            char = source[pos]
            if char in "'\"":
                raise _error(text, pos, _("the text starting with {quote} is never closed")
                             .format(quote=char), _("quoted text"))
            if char == "[":
                raise _error(text, pos, _("'[' is never closed with ']'"), _("a [field]"))
            if char == "#":
                raise _error(text, pos, _("unexpected character '#'; a comment must be on a "
                                          "line of its own, starting with # or //"),
                             _("a comment"))
            raise _error(text, pos, _("unexpected character {char}").format(char=repr(char)))
        kind = match.lastgroup or ""
        if kind == "op" and match.group() == "/" and source.startswith("//", pos):
            raise _error(text, pos, _("'//' starts a comment only at the beginning of a "
                                      "line; put the comment on a line of its own"),
                         _("a comment"))
        if kind != "space":
            word = match.group()
            tokens.append(Token(kind, _SAME_AS.get(word, word) if kind == "op" else word,
                                pos, match.end()))
        pos = match.end()
    tokens.append(Token("eof", "", len(source), len(source)))
    return tokens


@dataclass(frozen=True)
class Note:
    """Something REDCap accepts that is probably a slip: the expression works, and the
    data manager is told (``parse_with_notes``)."""

    line: int
    column: int
    code: str
    message: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.notes: list[Note] = []

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, message: str, token: Token | None = None, construct: str = "",
             redcap: str = REDCAP_REFUSES) -> ExpressionError:
        return _error(self.text, (token or self.tok).offset, message, construct, redcap)

    def describe(self, token: Token) -> str:
        return _("the end of the expression") if token.kind == "eof" else repr(token.text)

    def keyword(self, word: str) -> bool:
        tok = self.tok
        return tok.kind == "name" and tok.text.lower() == word

    def op(self, *symbols: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in symbols

    def advance(self) -> Token:
        token = self.tok
        self.pos += 1
        return token

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(_("the expression is nested more than {depth} levels deep")
                            .format(depth=MAX_DEPTH), construct=_("nesting"),
                            redcap=REDCAP_FAILS)

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise self.fail(_("the expression is empty"))
        node = self.expr()
        if self.tok.kind != "eof":
            raise self.fail(_("unexpected {found}; is an operator missing?").format(
                found=self.describe(self.tok)))
        return node

    def expr(self) -> Node:
        self.deeper()
        node = self.and_()
        while self.keyword("or") or self.op("or"):
            start = self.advance().offset
            node = Node("or", (node, self.and_()), offset=start)
        self.depth -= 1
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.keyword("and") or self.op("and"):
            start = self.advance().offset
            node = Node("and", (node, self.not_()), offset=start)
        return node

    def not_(self) -> Node:
        if self.keyword("not") or self.op("not"):
            start = self.advance().offset
            self.deeper()
            node = Node("not", (self.not_(),), offset=start)
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        node = self.sum_()
        chained = 0
        while self.tok.kind == "op" and self.tok.text in COMPARISONS:
            token = self.advance()
            node = Node(token.text, (node, self.sum_()), offset=token.offset)
            chained += 1
            if chained == 2:
                line, column = _locate(self.text, token.offset)
                self.notes.append(Note(
                    line, column, "chained_comparison",
                    _("two comparisons in a row ('{operator}' at line {line}, column "
                      "{column}) are read left to right, as REDCap's data entry page reads "
                      "them: the first comparison gives true or false (1 or 0), which is then "
                      "compared with the next value. That is rarely what is meant: join two "
                      "comparisons with 'and' or 'or'.").format(
                          operator=token.text, line=line, column=column)))
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
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return Node("neg", (operand,), offset=token.offset) if token.text == "-" else operand
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        if self.op("^"):
            token = self.advance()
            self.deeper()
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
                raise self.fail(_("'{word}' needs something on its left and right").format(
                    word=tok.text))
            raise self.fail(_("unknown word {word}; field names go in square brackets, text "
                              "in quotes").format(word=repr(tok.text)))
        if self.op("not"):
            return self.not_()
        if self.op("("):
            self.advance()
            node = self.expr()
            if not self.op(")"):
                raise self.fail(_("expected ')' but found {found}").format(
                    found=self.describe(self.tok)), construct=_("parentheses"))
            self.advance()
            return node
        raise self.fail(_("expected a value, a [field] or '(' but found {found}").format(
            found=self.describe(tok)))

    def _next_is(self, symbol: str) -> bool:
        following = self.tokens[self.pos + 1]
        return following.kind == "op" and following.text == symbol

    def _adjacent_ref(self, previous: Token) -> Token | None:
        following = self.tok
        if following.kind == "ref" and following.offset == previous.end:
            return following
        return None

    def reference(self) -> Node:
        """``[a]``, ``[a][b]`` or ``[a][b][c]`` written without spaces, as REDCap reads them:
        an optional event, a field or smart variable, an optional instance."""
        first = self.advance()
        parts = [first]
        while len(parts) < 3 and self._adjacent_ref(parts[-1]) is not None:
            parts.append(self.advance())
        inners = [p.text[1:-1].strip() for p in parts]
        if len(parts) > 1 and self._is_instance(inners[-1]):
            instance_tok, instance = parts.pop(), inners.pop()
            if len(parts) == 2:
                return self._with_event(parts, inners, instance)
            node = self._field_or_smart(parts[0], inners[0], "")
            if node.op != "var":
                raise self.fail(_("[{instance}] follows [{previous}], which is not a field")
                                .format(instance=instance, previous=inners[0]),
                                instance_tok, _("an instance"))
            return Node("var", name=node.name, code=node.code, offset=node.offset,
                        instance=instance)
        if len(parts) == 3:
            raise self.fail(_("[{text}] is not an instance number or an instance smart "
                              "variable such as [last-instance]").format(text=inners[2]),
                            parts[2], _("an instance"))
        if len(parts) == 2:
            return self._with_event(parts, inners, "")
        return self._field_or_smart(first, inners[0], "")

    @staticmethod
    def _is_instance(inner: str) -> bool:
        return bool(_INSTANCE.match(inner)) or inner in smart.INSTANCE_SUFFIXES

    def _with_event(self, parts: list[Token], inners: list[str], instance: str) -> Node:
        event, inner = inners
        if event not in smart.EVENT_PREFIXES and not _EVENT.match(event):
            raise self.fail(_("[{event}] is not an event name (lower-case letters, digits "
                              "and underscores) nor an event smart variable such as "
                              "[previous-event-name]").format(event=event), parts[0],
                            _("an [event][field]"))
        node = self._field_or_smart(parts[1], inner, event)
        if node.op == "smart":
            return Node("smart", name=node.name, param=node.param, event=event,
                        offset=parts[0].offset)
        return Node("var", name=node.name, code=node.code, event=event, instance=instance,
                    offset=parts[0].offset)

    def _field_or_smart(self, token: Token, inner: str, event: str) -> Node:
        if smart.is_smart(inner):
            name, param = smart.split(inner)
            return Node("smart", name=name, param=param, offset=token.offset)
        match = _FIELD.match(inner)
        if match is None:
            head = smart.split(inner)[0]
            if "-" in head and re.fullmatch(r"[a-z0-9\-]+", head):
                raise self.fail(_("[{text}] is not one of REDCap's smart variables").format(
                    text=inner), token, _("a smart variable"))
            raise self.fail(_("[{text}] is not a field name; write [field] or "
                              "[field(code)]").format(text=inner), token, _("a [field]"))
        name, code, modifier = match.group(1), match.group(2) or "", match.group(3) or ""
        if modifier and modifier != "value":
            if modifier in PIPING_ONLY:
                raise self.fail(_("[{text}]: ':{modifier}' shows an answer in a label or "
                                  "note; in logic write [{name}]").format(
                                      text=inner, modifier=modifier, name=name),
                                token, _("a piped [field]"))
            raise self.fail(_("[{text}]: ':{modifier}' is not something REDCap adds to a "
                              "field name").format(text=inner, modifier=modifier),
                            token, _("a [field]"))
        return Node("var", name=name, code=code, event=event, offset=token.offset)

    def call(self) -> Node:
        name_tok = self.advance()
        name = name_tok.text.lower()
        if name not in FUNCTIONS:
            raise self.fail(_("unknown function {name}(); REDCap's functions are "
                              "{functions}").format(name=name_tok.text,
                                                    functions=", ".join(sorted(FUNCTIONS))),
                            name_tok, f"{name_tok.text}()")
        self.advance()  # "("
        args: list[Node] = []
        if not self.op(")"):
            args.append(self.expr())
            while self.op(","):
                self.advance()
                args.append(self.expr())
        if not self.op(")"):
            raise self.fail(_("expected ',' or ')' in {name}() but found {found}").format(
                name=name, found=self.describe(self.tok)), construct=f"{name}()")
        self.advance()
        low, high = FUNCTIONS[name].arity
        if len(args) < low or (high is not None and len(args) > high):
            expected = str(low) if low == high else \
                _("{low} to {high}").format(low=low, high=high) if high else f"{low}+"
            message = _("{name}() takes 1 argument, not {count}") if expected == "1" else \
                _("{name}() takes {expected} arguments, not {count}")
            raise self.fail(message.format(name=name, expected=expected, count=len(args)),
                            name_tok, f"{name}()", REDCAP_FAILS)
        return Node("call", tuple(args), name=name, offset=name_tok.offset)


def parse_expression(text: str) -> Node:
    """Parse REDCap logic or a calculation; raises ``ExpressionError``."""
    return _Parser(text).parse()


def parse_with_notes(text: str) -> tuple[Node, list[Note]]:
    """Parse, and list what parsed but is probably not what the author meant."""
    parser = _Parser(text)
    return parser.parse(), parser.notes


__all__ = ["COMPARISONS", "Node", "Note", "Token", "parse_expression", "parse_with_notes",
           "strip_comments", "tokenize"]
