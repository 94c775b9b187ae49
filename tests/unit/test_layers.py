"""The layering rules, read from the source with ast: api/ and ws/ reach services, never the store;
the push engine never sees the database's row or transaction types; imports go api -> services -> store.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"

# Modules that still reach the store directly, and how (none today): anything not listed here
# fails the tests below.
NOT_YET_CONVERTED: dict[str, set[str]] = {}


def modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((SERVER / package).rglob("*.py")):
        name = ".".join(("server", *path.relative_to(SERVER).with_suffix("").parts))
        yield name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(tree: ast.Module) -> Iterator[str]:
    """Every module an `import` or `from ... import` names (`from server import store` gives server.store)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def store_attributes() -> set[str]:
    """Node's attributes that hold a store: assigned from a class imported from server.store."""
    tree = ast.parse((SERVER / "node.py").read_text(encoding="utf-8"))
    store_classes = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("server.store")
        for alias in node.names
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id in store_classes:
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        found.add(target.attr)
    return found


def node_uses(tree: ast.Module, attributes: set[str]) -> Iterator[str]:
    """`node.<attr>` and `<anything>.node.<attr>` for those attributes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in attributes:
            inner = node.value
            if (isinstance(inner, ast.Name) and inner.id == "node") or (
                isinstance(inner, ast.Attribute) and inner.attr == "node"
            ):
                yield f"node.{node.attr}"


def violations(package: str) -> dict[str, set[str]]:
    stores = store_attributes()
    found: dict[str, set[str]] = {}
    for name, tree in modules(package):
        wrong = {f"import {m}" for m in imported(tree) if m == "server.store" or m.startswith("server.store.")}
        wrong = {w for w in wrong if not any(o != w and w.startswith(o + ".") for o in wrong)}  # modules, not names
        wrong |= set(node_uses(tree, stores))
        if wrong:
            found[name] = wrong
    return found


def new(found: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        name: extra
        for name, uses in found.items()
        if (extra := uses - NOT_YET_CONVERTED.get(name, set()))
    }


def test_node_names_its_stores() -> None:
    # The test below is only as good as this list: it must see the stores Node holds.
    assert {"db", "_conversations", "_agents", "_customers", "_api_keys"} <= store_attributes()


def test_api_reaches_services_not_the_store() -> None:
    assert new(violations("api")) == {}, "api/ must call services (call.node.<service>), not the store"


def test_ws_reaches_services_not_the_store() -> None:
    assert new(violations("ws")) == {}, "ws/ must call services, not the store"


def test_the_rule_sees_a_new_import_and_a_new_store_call() -> None:
    tree = ast.parse("from server.store.campaigns import CampaignStore\nasync def f(call):\n"
                     "    await call.node._conversations.waiting()\n    await call.node.segments.all()\n")
    uses = {f"import {m}" for m in imported(tree)} | set(node_uses(tree, store_attributes()))
    assert {"import server.store.campaigns", "node._conversations"} <= uses
    assert "node.segments" not in uses


def test_push_never_sees_rows_transactions_or_the_database() -> None:
    for name, tree in modules("push"):
        for module in imported(tree):
            assert module != "sqlite3" and not module.startswith(("server.store.db", "aiosqlite")), (name, module)
            assert not module.startswith(("server.api", "server.ws")), (name, module)  # imports go one way


def test_the_store_imports_no_service_and_no_endpoint() -> None:
    for name, tree in modules("store"):
        for module in imported(tree):
            if module.startswith("server.") and not module.startswith(("server.store", "server.ids")):
                # The protocol's frame types (a stored notification is one) and nothing else.
                assert module.startswith("server.protocol"), (name, module)


def test_services_never_see_the_drivers_rows_or_transactions() -> None:
    # Decisions made in a transaction go through a unit of work of the store's (store/chat_writes.py);
    # a conflict comes back as store.db.Duplicate, not as the driver's error.
    for package in ("chat", "push", "auth", "mail", "api", "ws"):
        for name, tree in modules(package):
            for module in imported(tree):
                assert module != "sqlite3", name
                assert module not in ("server.store.db.Tx", "server.store.db.Row"), (name, module)


_SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)", re.S
)  # SQL here is written in capitals; prose ("Select a segment") is not


def sql_in(tree: ast.Module) -> list[str]:
    strings = (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    return [text for text in strings if _SQL.match(text)]


def test_no_sql_outside_the_store() -> None:
    for package in ("chat", "push", "auth", "mail", "api", "ws"):
        for name, tree in modules(package):
            assert sql_in(tree) == [], name


def test_the_sql_rule_sees_sql_and_not_prose() -> None:
    tree = ast.parse('a = "SELECT role, disabled FROM agents WHERE id = ?"\nb = "UPDATE conversations SET x = 1"\n'
                     'c = "Select a segment from the list"\nd = "Update your card"\n')
    assert sql_in(tree) == ["SELECT role, disabled FROM agents WHERE id = ?", "UPDATE conversations SET x = 1"]
