"""The widget's own scripts made smaller as served: comments and layout whitespace out, every token kept.

Why not a published minifier: the ones on PyPI either join the text of nested template
literals (rjsmin collapses the spaces between the attributes of an htm template inside
another's `${}`, breaking it) or minify JavaScript only inside HTML. The widget's scripts are
ours, modern and written plainly, so a tokenizer of a page is enough, and it is checked:
- every token is kept as it was (names, strings, numbers, regular expressions, operators);
- a line break stays wherever dropping it could change the program (automatic semicolon
  insertion, `return` before a line break), and is dropped only where the token before cannot
  end a statement or the token after cannot begin one;
- inside an htm template (tagged `html`), whitespace with a line break goes next to a tag's `<`
  or `>` and becomes one line break elsewhere: htm drops such whitespace at the edges of text,
  a line break still separates attributes, and text renders it as one space;
- the result, minified again, is the same (a spacing mistake that joins two tokens into one
  shows up there); a source this cannot read is served as it is (`Unreadable`).
A `/` after `)`, `]` or `}` is read as a division, as it nearly always is: a regular expression
at the start of a statement after a block goes in parentheses.
Names are not shortened: gzip makes repeated long names cheap, and stack traces stay readable.
"""

from __future__ import annotations

import re

__all__ = ["Reader", "Token", "Unreadable", "join", "minify"]


class Unreadable(ValueError):
    """The source is not JavaScript this tokenizer reads (an unterminated string, comment or template)."""


NAME_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]")
SPACE = re.compile(r"[ \t\f\v\r\n\u00a0\ufeff\u2028\u2029]+")
NEWLINE = re.compile(r"[\r\n\u2028\u2029]")
HTM_LAYOUT = re.compile(r"\s*\n\s*")
HTM_BETWEEN_TAGS = re.compile(r"(?<=>)\s*\n\s*|\s*\n\s*(?=<)")
# Operators read as one token, longest first, so `a++ / 2` is a division and `a + ++b` keeps its space.
OPERATORS = sorted(
    (">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=", "<=", ">=",
     "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "%=", "&=", "|=", "^=", "**", "<<", ">>"),
    key=len, reverse=True,
)
# After these words an expression begins, so `/` starts a regular expression there.
BEFORE_EXPRESSION = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
                     "instanceof", "yield", "await"}
# Two characters that would read as another token (or a comment) if the space between them went.
JOINING = {"++", "--", "+-", "-+", "//", "/*", "==", "=>", "!=", "<=", ">=", "&&", "||", "??", "?.", "**", "<<", ">>",
           "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "..", "<!", "->"}
# A line break after a token of the first kind and before one of the second may end a statement.
MAY_END = {")", "]", "}", "++", "--"}
MAY_BEGIN = {"(", "[", "{", "+", "-", "!", "~", "++", "--", "...", "#"}


class Token:
    """One token and what came before it: any whitespace or comment, and whether a line break."""

    __slots__ = ("break_before", "kind", "space_before", "text")

    def __init__(self, kind: str, text: str, space_before: bool, break_before: bool) -> None:
        self.kind = kind  # name (identifiers, keywords, numbers), string, template, regex, op
        self.text = text
        self.space_before = space_before
        self.break_before = break_before


class Reader:
    """One pass over the source; a template's `${...}` is read by the same reader, recursively."""

    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0

    def tokens(self, in_substitution: bool = False) -> list[Token]:
        out: list[Token] = []
        depth = 0
        s = self.s
        while True:
            space, newline = self._gap()
            if self.i >= len(s):
                if in_substitution:
                    raise Unreadable("a template's ${ is not closed")
                return out
            c = s[self.i]
            if in_substitution and c == "}" and depth == 0:
                self.i += 1
                return out
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if NAME_CHAR.match(c) or (c == "." and s[self.i + 1 : self.i + 2].isdigit()):
                kind, text = "name", self._name()
            elif c in "'\"":
                kind, text = "string", self._string(c)
            elif c == "`":
                tagged_htm = bool(out) and out[-1].kind == "name" and out[-1].text == "html"
                kind, text = "template", self._template(tagged_htm)
            elif c == "/" and self._regex_allowed(out):
                kind, text = "regex", self._regex()
            else:
                kind, text = "op", self._operator()
            out.append(Token(kind, text, space, newline))

    def _gap(self) -> tuple[bool, bool]:
        """Skips whitespace and comments; says whether there was any, and whether a line break."""
        s = self.s
        space = newline = False
        while self.i < len(s):
            found = SPACE.match(s, self.i)
            if found:
                space = True
                newline = newline or bool(NEWLINE.search(found.group()))
                self.i = found.end()
            elif s.startswith("//", self.i):
                line_end = NEWLINE.search(s, self.i)
                self.i = line_end.start() if line_end else len(s)
                space = True
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    raise Unreadable("a comment is not closed")
                space = True
                newline = newline or bool(NEWLINE.search(s, self.i, end))
                self.i = end + 2
            else:
                break
        return space, newline

    def _name(self) -> str:
        """A name or a number (`1.5`, `.5` and `86_400_000` are one token; `1e-3` is three, joined as they were)."""
        s, start = self.s, self.i
        number = s[start] == "." or s[start].isdigit()
        self.i += 1
        while self.i < len(s) and (NAME_CHAR.match(s[self.i]) or (
                number and s[self.i] == "." and s[self.i + 1 : self.i + 2].isdigit())):
            self.i += 1
        return s[start : self.i]

    def _string(self, quote: str) -> str:
        s, start = self.s, self.i
        self.i += 1
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == quote:
                self.i += 1
                return s[start : self.i]
            elif c in "\r\n":
                break
            else:
                self.i += 1
        raise Unreadable("a string is not closed")

    def _template(self, tagged_htm: bool) -> str:
        s = self.s
        self.i += 1
        parts = ["`"]
        chunk_start = self.i
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == "`" or s.startswith("${", self.i):
                chunk = s[chunk_start : self.i]
                parts.append(HTM_LAYOUT.sub("\n", HTM_BETWEEN_TAGS.sub("", chunk)) if tagged_htm else chunk)
                if c == "`":
                    self.i += 1
                    parts.append("`")
                    return "".join(parts)
                self.i += 2
                parts.append("${" + join(self.tokens(in_substitution=True)) + "}")
                chunk_start = self.i
            else:
                self.i += 1
        raise Unreadable("a template is not closed")

    def _regex_allowed(self, before: list[Token]) -> bool:
        if not before:
            return True
        last = before[-1]
        if last.kind == "name":
            return last.text in BEFORE_EXPRESSION
        if last.kind != "op":
            return False
        return last.text not in (")", "]", "}", "++", "--")

    def _regex(self) -> str:
        s, start = self.s, self.i
        self.i += 1
        in_class = False
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c in "\r\n":
                break
            self.i += 1
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                while self.i < len(s) and NAME_CHAR.match(s[self.i]):
                    self.i += 1  # flags
                return s[start : self.i]
        raise Unreadable("a regular expression is not closed")

    def _operator(self) -> str:
        for op in OPERATORS:
            if self.s.startswith(op, self.i):
                self.i += len(op)
                return op
        self.i += 1
        return self.s[self.i - 1]


def _may_end(token: Token) -> bool:
    return token.kind != "op" or token.text in MAY_END


def _may_begin(token: Token) -> bool:
    return token.kind != "op" or token.text in MAY_BEGIN


def join(tokens: list[Token]) -> str:
    out: list[str] = []
    previous: Token | None = None
    for token in tokens:
        if previous is not None:
            if token.break_before and _may_end(previous) and _may_begin(token):
                out.append("\n")
            elif token.space_before and (
                (NAME_CHAR.match(previous.text[-1]) and NAME_CHAR.match(token.text[0]))
                or previous.text[-1] + token.text[0] in JOINING
                or (previous.kind == "name" and previous.text[0].isdigit() and token.text[0] == ".")
            ):
                out.append(" ")
        out.append(token.text)
        previous = token
    return "".join(out)


def minify(source: str) -> str:
    """The source with its comments and layout whitespace removed; raises `Unreadable`."""
    result = join(Reader(source).tokens())
    if join(Reader(result).tokens()) != result:
        raise Unreadable("minifying twice changed the result: a spacing rule is missing")
    return result
