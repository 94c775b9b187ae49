"""The one CSV writer: formula-like cells neutralised, numbers left as numbers, a safe file name."""

from __future__ import annotations

import csv
import io

from server.api.csv_export import cell, csv_response


def test_cells_that_a_spreadsheet_would_run_get_an_apostrophe() -> None:
    for value in ("=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert cell(value) == "'" + value
    assert cell("Gold member") == "Gold member"
    assert cell(-5) == "-5" and cell(2.5) == "2.5" and cell(None) == "" and cell(True) == "true"


async def test_a_response_is_a_download_that_reads_back() -> None:
    rows = [["=cmd|' /C calc'!A0", 12], ["Ann, \"A\"", -3]]
    response = await csv_response("report 2026/12.csv", ["name", "spent"], rows)
    assert response.media_type == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="report-2026-12.csv"'
    rows = list(csv.reader(io.StringIO(bytes(response.body).decode())))
    assert rows == [["name", "spent"], ["'=cmd|' /C calc'!A0", "12"], ["Ann, \"A\"", "-3"]]
