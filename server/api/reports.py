"""Support reports for the shop manager: a period's conversations, response and resolution times, satisfaction."""

from __future__ import annotations

from starlette.responses import Response

from server.api.csv_export import Csv, csv_response
from server.api.endpoint import Call, Query, Resource, shop
from server.chat.support_report import CSV_HEADER, SupportReport, csv_rows

resource = Resource("reports")
# Admins (the shop manager) and marketers; the shop's back end with the `conversations` scope.
REPORTS = shop("conversations", "admin", "marketer")
_PERIOD = {
    "start": Query(
        str, None, "first day, YYYY-MM-DD in the reader's time zone (default: 29 days before end)", max_length=10
    ),
    "end": Query(str, None, "last day, YYYY-MM-DD, included (default: today)", max_length=10),
    "tz_offset": Query(int, 0, "the reader's time zone: minutes east of UTC", low=-840, high=840),
}


async def _report(call: Call) -> SupportReport:
    return await call.node.support_reports.report(call.query["start"], call.query["end"], call.query["tz_offset"])


@resource.endpoint(
    "GET",
    "/api/v1/reports/support",
    summary="Support report: conversations per day, first-response and resolution times, satisfaction, per agent",
    access=REPORTS,
    response=SupportReport,
    query=_PERIOD,
)
async def support_report(call: Call) -> SupportReport:
    return await _report(call)


@resource.endpoint(
    "GET",
    "/api/v1/reports/support.csv",
    summary="The support report as CSV: one line per agent, then the team's",
    access=REPORTS,
    response=Csv,
    query=_PERIOD,
)
async def support_report_csv(call: Call) -> Response:
    report = await _report(call)
    return await csv_response(f"support-{report.start}-{report.end}.csv", CSV_HEADER, csv_rows(report))
