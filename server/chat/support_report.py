"""The shop manager's support report: conversations per day, response and resolution times, satisfaction, per agent.

Definitions (docs/architecture.md, "The studio: segments and support reports"):
- A conversation belongs to the period by the day it was opened, in the reader's time zone
  (`tz_offset`, minutes east of UTC, as the browser knows it).
- First-response time: from the customer's first public message to the first public agent
  message after it. Private notes never count; a conversation with no reply yet has none.
  It counts for the agent who wrote that reply.
- Resolution time: from the conversation's opening to its (latest) close; one reopened and
  not closed again has none. Resolution, satisfaction and the conversation count go to the
  agent who has the conversation, or had it when it was closed.
- Median and 90th percentile interpolate linearly between the closest ranks (like numpy's
  default and spreadsheets' PERCENTILE.INC): the median of 1, 2, 3, 4 is 2.5.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Annotated

import msgspec

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode
from server.store.support_report import PeriodGroup, SupportReportStore

__all__ = ["AgentFigures", "DayCount", "Figures", "SupportReport", "SupportReports", "percentile"]

_DAY_MS = 86_400_000
MAX_DAYS = 366
DEFAULT_DAYS = 30
TzOffset = Annotated[int, msgspec.Meta(ge=-840, le=840)]


class Figures(msgspec.Struct):
    """One agent's or the team's figures; times in seconds, None where nothing was measured."""

    conversations: int
    answered: int
    first_response_median: float | None
    first_response_p90: float | None
    resolved: int
    resolution_median: float | None
    resolution_p90: float | None
    rated: int
    satisfaction_average: float | None
    # How many ratings of 1, 2, 3, 4 and 5.
    satisfaction: list[int]


class AgentFigures(msgspec.Struct):
    agent_id: str
    name: str
    figures: Figures


class DayCount(msgspec.Struct):
    """One day of the period: conversations opened, and the first-response times (seconds) of those answered."""

    day: str
    conversations: int
    first_response_median: float | None = None
    first_response_p90: float | None = None


class SupportReport(msgspec.Struct):
    start: str
    end: str
    tz_offset: int
    team: Figures
    agents: list[AgentFigures]
    days: list[DayCount]


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The `p` quantile (0..1) of sorted values, linear between the closest ranks; None if empty."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class _Tally:
    """One scope's figures as the store's rows give them."""

    __slots__ = ("conversations", "ratings", "resolutions", "responses")

    def __init__(self) -> None:
        self.conversations = 0
        self.ratings = [0, 0, 0, 0, 0]
        self.responses: list[int] = []
        self.resolutions: list[int] = []

    def figures(self) -> Figures:
        responses = sorted(self.responses)
        resolutions = sorted(self.resolutions)
        rated = sum(self.ratings)
        total = sum((i + 1) * n for i, n in enumerate(self.ratings))
        return Figures(
            conversations=self.conversations,
            answered=len(responses),
            first_response_median=_seconds(percentile(responses, 0.5)),
            first_response_p90=_seconds(percentile(responses, 0.9)),
            resolved=len(resolutions),
            resolution_median=_seconds(percentile(resolutions, 0.5)),
            resolution_p90=_seconds(percentile(resolutions, 0.9)),
            rated=rated,
            satisfaction_average=round(total / rated, 2) if rated else None,
            satisfaction=list(self.ratings),
        )


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{name} is a date like 2026-03-31") from None


class SupportReports:
    def __init__(self, store: SupportReportStore) -> None:
        self._store = store

    async def report(self, start: str | None, end: str | None, tz_offset: int) -> SupportReport:
        """The report for the days `start` to `end` (inclusive, the reader's dates); by default
        the last 30 days up to today."""
        offset_ms = tz_offset * 60_000
        today = dt.datetime.fromtimestamp((now_ms() + offset_ms) / 1000, dt.UTC).date()
        last = _day(end, "end") if end else today
        first = _day(start, "start") if start else last - dt.timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise Problem(ErrorCode.INVALID_REQUEST, "start is after end")
        days = (last - first).days + 1
        if days > MAX_DAYS:
            raise Problem(ErrorCode.INVALID_REQUEST, f"a report covers at most {MAX_DAYS} days")
        epoch = dt.date(1970, 1, 1)
        since = (first - epoch).days * _DAY_MS - offset_ms
        groups = await self._store.period(since, since + days * _DAY_MS)
        team, agents = self._tally(groups)
        per_day = [0] * days
        responses: list[list[int]] = [[] for _ in range(days)]
        for group in groups:
            per_day[group.day] += group.conversations
            responses[group.day] += group.responses
        for values in responses:
            values.sort()
        names = await self._store.agent_names(sorted(agents))
        return SupportReport(
            start=first.isoformat(),
            end=last.isoformat(),
            tz_offset=tz_offset,
            team=team.figures(),
            agents=sorted(
                (AgentFigures(agent_id=a, name=names.get(a, a), figures=t.figures()) for a, t in agents.items()),
                key=lambda found: (found.name.casefold(), found.agent_id),
            ),
            days=[
                DayCount(
                    day=(first + dt.timedelta(days=i)).isoformat(),
                    conversations=n,
                    first_response_median=_seconds(percentile(responses[i], 0.5)),
                    first_response_p90=_seconds(percentile(responses[i], 0.9)),
                )
                for i, n in enumerate(per_day)
            ],
        )

    @staticmethod
    def _tally(groups: list[PeriodGroup]) -> tuple[_Tally, dict[str, _Tally]]:
        team = _Tally()
        agents: dict[str, _Tally] = {}
        for group in groups:
            team.conversations += group.conversations
            team.ratings = [a + b for a, b in zip(team.ratings, group.ratings, strict=True)]
            team.resolutions += group.resolutions
            team.responses += group.responses
            if group.agent_id is not None:
                holder = agents.setdefault(group.agent_id, _Tally())
                holder.conversations += group.conversations
                holder.ratings = [a + b for a, b in zip(holder.ratings, group.ratings, strict=True)]
                holder.resolutions += group.resolutions
            if group.responder_id is not None:
                agents.setdefault(group.responder_id, _Tally()).responses += group.responses
        return team, agents


CSV_HEADER = (
    "scope",
    "agent",
    "conversations",
    "answered",
    "first response median (s)",
    "first response p90 (s)",
    "resolved",
    "resolution median (s)",
    "resolution p90 (s)",
    "rated",
    "satisfaction average",
    "rated 1",
    "rated 2",
    "rated 3",
    "rated 4",
    "rated 5",
)


def csv_rows(report: SupportReport) -> list[list[str | int | float | None]]:
    """The report as CSV lines: one per agent, then the team's."""
    lines: list[list[str | int | float | None]] = []
    for scope, name, f in [*(("agent", a.name, a.figures) for a in report.agents), ("team", "", report.team)]:
        lines.append(
            [
                scope,
                name,
                f.conversations,
                f.answered,
                f.first_response_median,
                f.first_response_p90,
                f.resolved,
                f.resolution_median,
                f.resolution_p90,
                f.rated,
                f.satisfaction_average,
                *f.satisfaction,
            ]
        )
    return lines
