"""The widget's own modules that a first open needs, joined into one module: one request and one gzip dictionary.

Fourteen small modules gzipped one by one weigh about 2.6 KB more than the same text gzipped as
one file (each starts without the words the others taught the compressor), and each is a
request. Vendored files (static/vendor: Preact's minified builds) stay apart; the modules
fetched later (a dynamic `import()`, server/api/widget_build.py) stay apart and are pointed at
the joined module, so every module still exists once in the page.

How modules are joined keeps their meaning: each module's code is one block `{...}` (in a module,
strict code, its `const`, `let`, `class` and `function` declarations stay inside it, so no two
modules' names meet), run in the order the browser would run them (imports first, depth
first); what a module exports leaves its block as one object, `$$name = {...}`, and its
importers take their names from that object. Imports from vendored files are hoisted to the
top, once. What this does not support (`export default`, `import * as`, re-exports with
`from`, renamed exports, names not exported, import cycles) raises `Unbundleable`, and the
modules are then served one by one.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from server.api.minify import Reader, Token, join

__all__ = ["Unbundleable", "bundle"]


class Unbundleable(ValueError):
    """A module uses a form of import or export the joining does not support."""


IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*$")


@dataclass
class Import:
    target: str  # the imported module's name, resolved (widget/ui.js)
    default: str | None = None
    names: list[tuple[str, str]] = field(default_factory=list)  # (exported, local)


@dataclass
class Module:
    name: str
    body: list[Token]  # without its import statements and `export` words
    imports: list[Import]
    exports: list[str]


def _resolve(importer: str, specifier: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))


def _relative(importer: str, target: str) -> str:
    path = posixpath.relpath(target, posixpath.dirname(importer))
    return path if path.startswith(".") else "./" + path


def _unquoted(token: Token) -> str:
    if token.kind != "string":
        raise Unbundleable(f"expected a module name, found {token.text}")
    return token.text[1:-1]


def parse(name: str, text: str) -> Module:
    """A module's import statements, its exports, and the rest of its code."""
    tokens = Reader(text).tokens()
    body: list[Token] = []
    imports: list[Import] = []
    exports: list[str] = []
    depth = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        at_top = depth == 0 and token.kind == "name"
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if at_top and token.text == "import" and following is not None and following.text not in ("(", "."):
            i, found = _import(name, tokens, i + 1)
            imports.append(found)
            continue
        if at_top and token.text == "export" and following is not None:
            if following.text == "{":
                end = next((j for j in range(i + 2, len(tokens)) if tokens[j].text == "}"), None)
                if end is None:
                    raise Unbundleable(f"{name}: an export list is not closed")
                inside = [t.text for t in tokens[i + 2 : end]]
                listed = inside[0::2]
                # Only `export { a, b }`: names and commas in turn (no `as`, no `from`).
                if any(not IDENTIFIER.match(n) or n == "as" for n in listed) or any(c != "," for c in inside[1::2]) or (
                    end + 1 < len(tokens) and tokens[end + 1].text == "from"
                ):
                    raise Unbundleable(f"{name}: only plain export lists are joined")
                exports.extend(listed)
                i = end + 1
                if i < len(tokens) and tokens[i].text == ";":
                    i += 1
                continue
            declared = tokens[i + 2] if i + 2 < len(tokens) else None
            if following.text in ("function", "class", "const", "let", "var") and declared is not None:
                if declared.text == "*":  # function*
                    declared = tokens[i + 3]
                if not IDENTIFIER.match(declared.text):
                    raise Unbundleable(f"{name}: export {following.text} {declared.text} is not joined")
                exports.append(declared.text)
                i += 1  # the word `export` goes; the declaration stays
                continue
            raise Unbundleable(f"{name}: export {following.text} is not joined")
        if token.kind == "op" and token.text in ("(", "[", "{"):
            depth += 1
        elif token.kind == "op" and token.text in (")", "]", "}"):
            depth -= 1
        body.append(token)
        i += 1
    return Module(name, body, imports, exports)


def _import(name: str, tokens: list[Token], i: int) -> tuple[int, Import]:
    """The import statement whose clause starts at tokens[i]: where it ends, and what it takes."""
    found = Import(target="")
    if tokens[i].kind == "name" and tokens[i].text != "from":
        found.default = tokens[i].text
        i += 1
        if tokens[i].text == ",":
            i += 1
    if tokens[i].text == "*":
        raise Unbundleable(f"{name}: import * is not joined")
    if tokens[i].text == "{":
        i += 1
        while tokens[i].text != "}":
            exported = tokens[i].text
            local = exported
            if tokens[i + 1].text == "as":
                local = tokens[i + 2].text
                i += 2
            found.names.append((exported, local))
            i += 1
            if tokens[i].text == ",":
                i += 1
        i += 1
    if tokens[i].text == "from":
        i += 1
    found.target = _resolve(name, _unquoted(tokens[i]))
    i += 1
    if i < len(tokens) and tokens[i].text == ";":
        i += 1
    return i, found


def _variable(module: str) -> str:
    stem = posixpath.splitext(posixpath.basename(module))[0]
    return "$$" + re.sub(r"\W", "_", stem)


def _taking(found: Import, variable: str) -> str:
    if found.default is not None:
        raise Unbundleable(f"a default import from {found.target} is not joined")
    names = ",".join(exported if exported == local else f"{exported}:{local}" for exported, local in found.names)
    return f"const{{{names}}}={variable};"


def _import_statement(found: Import, specifier: str) -> str:
    clause = []
    if found.default is not None:
        clause.append(found.default)
    if found.names:
        clause.append("{" + ",".join(e if e == loc else f"{e} as {loc}" for e, loc in found.names) + "}")
    if not clause:
        raise Unbundleable(f"an import of {found.target} for its side effects is not joined")
    return f'import {",".join(clause)} from"{specifier}";'


def bundle(entry: str, sources: dict[str, str], joined: set[str]) -> tuple[str, dict[str, str]]:
    """`entry` and the modules of `joined` it imports, as one module's text to serve as `entry`;
    and the other modules of `sources` that import any of them, rewritten to import from it."""
    modules = {name: parse(name, sources[name]) for name in joined}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise Unbundleable(f"an import cycle through {name}")
        visiting.add(name)
        for found in modules[name].imports:
            if found.target in modules:
                visit(found.target)
        visiting.discard(name)
        order.append(name)

    visit(entry)
    variables = {name: _variable(name) for name in order}
    if len(set(variables.values())) != len(variables):
        raise Unbundleable("two joined modules have the same file name")

    def check_names(found: Import) -> None:
        missing = [e for e, _ in found.names if e not in modules[found.target].exports]
        if missing:
            raise Unbundleable(f"{found.target} does not export {', '.join(missing)}")

    hoisted: dict[str, tuple[str, str]] = {}  # local name -> (module, exported name)
    hoisted_imports: list[str] = []
    blocks: list[str] = []
    for name in order:
        module = modules[name]
        takes: list[str] = []
        for found in module.imports:
            if found.target in modules:
                check_names(found)
                takes.append(_taking(found, variables[found.target]))
                continue
            bindings = [(found.target, "default", found.default)] if found.default else []
            bindings += [(found.target, e, loc) for e, loc in found.names]
            if not bindings:
                raise Unbundleable(f"{name}: an import of {found.target} for its side effects is not joined")
            for target, exported, local in bindings:
                if local in hoisted and hoisted[local] != (target, exported):
                    raise Unbundleable(f"{local} names two different imports")
                if local not in hoisted:
                    hoisted[local] = (target, exported)
                    one = Import(target, default=local if exported == "default" else None,
                                 names=[] if exported == "default" else [(exported, local)])
                    hoisted_imports.append(_import_statement(one, _relative(entry, target)))
        exported = ",".join(module.exports)
        blocks.append("{" + "".join(takes) + "\n" + join(module.body) + f"\n{variables[name]}={{{exported}}};}}")
    entry_exports = modules[entry].exports
    if any(n in hoisted for n in entry_exports):
        raise Unbundleable("the entry exports a name it imports from a vendored module")
    text = "".join(hoisted_imports) + "\nlet " + ",".join(variables[n] for n in order) + ";\n" + "\n".join(blocks)
    text += f"\nexport const{{{','.join(entry_exports)}}}={variables[entry]};export{{{','.join(variables.values())}}};"

    rewritten: dict[str, str] = {}
    for name, source in sources.items():
        if name in modules:
            continue
        other = parse(name, source)
        into = [found for found in other.imports if found.target in modules]
        if not into:
            continue
        lines: list[str] = []
        for found in other.imports:
            if found.target in modules:
                check_names(found)
                variable = variables[found.target]
                lines.append(f'import{{{variable}}}from"{_relative(name, entry)}";{_taking(found, variable)}')
            else:
                lines.append(_import_statement(found, _relative(name, found.target)))
        body = join(other.body)
        if other.exports:
            body += "\nexport{" + ",".join(other.exports) + "};"
        rewritten[name] = "".join(lines) + "\n" + body
    return text, rewritten
