"""store/db.py's `record`: the one way a row leaves the store, as a typed msgspec record."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
import pytest

from server.store.db import record, records


class Inner(msgspec.Struct):
    a: int


class Sample(msgspec.Struct):
    id: str
    flag: bool
    maybe_flag: bool | None
    tags: list[str]
    attributes: dict[str, Any]
    inner: Inner | None
    amount: float
    note: str | None


def rows(sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    return conn.execute(sql).fetchall()


def test_columns_fill_fields_by_name_json_text_becomes_lists_dicts_and_records_and_0_1_becomes_bool() -> None:
    [row] = rows(
        """SELECT 'x' AS note, 1.5 AS amount, '{"a": 2}' AS inner, '{"k": [1]}' AS attributes,
                  '["a","b"]' AS tags, NULL AS maybe_flag, 1 AS flag, 'cu_1' AS id, 'extra' AS ignored"""
    )
    got = record(row, Sample)
    assert got == Sample(
        id="cu_1", flag=True, maybe_flag=None, tags=["a", "b"], attributes={"k": [1]}, inner=Inner(2), amount=1.5,
        note="x",
    )
    assert type(got.flag) is bool


def test_null_stays_none_and_zero_is_false() -> None:
    [row] = rows(
        "SELECT 'cu_2' AS id, 0 AS flag, 0 AS maybe_flag, '[]' AS tags, '{}' AS attributes, NULL AS inner,"
        " 0 AS amount, NULL AS note"
    )
    got = record(row, Sample)
    assert (got.flag, got.maybe_flag, got.tags, got.attributes, got.inner, got.note) == (False, False, [], {}, None,
                                                                                          None)


def test_a_query_missing_a_field_is_a_bug_not_a_default() -> None:
    [row] = rows("SELECT 'cu_3' AS id")
    with pytest.raises(IndexError):
        record(row, Sample)


def test_records_keeps_the_order() -> None:
    found = rows("SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3")
    assert records(found, Inner) == [Inner(1), Inner(2), Inner(3)]
