"""Survey campaigns: their questions (choice, scale, free text), and the answers, one set per customer.

A survey campaign carries its questions in the campaign (`CampaignIn.survey`); each notification
it stores holds them in its `data` (`{"survey": {...}}`), so the widget renders them from the
notification alone. A customer answers with `survey.answer`; the answers are checked against the
questions the notification carried and stored once per customer and campaign (a resend with the
same client_id is a duplicate, another set a conflict).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from server.errors import Problem
from server.protocol import ErrorCode, SurveyAnswered
from server.store.surveys import StoredAnswers, SurveyStore

QuestionId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,32}$")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Choice = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
MAX_TEXT = 2000


class Question(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One question: pick one of `choices`, a number from `min` to `max` (a scale), or free `text`."""

    id: QuestionId
    kind: Literal["choice", "scale", "text"]
    label: Label
    choices: Annotated[list[Choice], msgspec.Meta(max_length=10)] | None = None
    min: Annotated[int, msgspec.Meta(ge=0, le=10)] = 1
    max: Annotated[int, msgspec.Meta(ge=1, le=10)] = 5
    required: bool = False


class Survey(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The questions of a survey campaign, in order."""

    questions: Annotated[list[Question], msgspec.Meta(min_length=1, max_length=10)]


class SurveyAnswerOut(msgspec.Struct):
    customer_id: str  # the shop's id
    answers: dict[str, str | int]
    at: int


class SurveyResults(msgspec.Struct):
    campaign_id: str
    answered: int
    answers: list[SurveyAnswerOut]


def check_survey(kind: str, survey: Survey | None) -> None:
    """A survey campaign has questions that make sense; other kinds have none."""
    if kind != "survey":
        if survey is not None:
            raise Problem(ErrorCode.INVALID_REQUEST, "only a survey campaign carries questions")
        return
    if survey is None:
        raise Problem(ErrorCode.INVALID_REQUEST, "a survey campaign needs `survey` with its questions")
    ids = [q.id for q in survey.questions]
    if len(set(ids)) != len(ids):
        raise Problem(ErrorCode.INVALID_REQUEST, "question ids must differ")
    for q in survey.questions:
        if q.kind == "choice" and len(q.choices or []) < 2:
            raise Problem(ErrorCode.INVALID_REQUEST, f"question {q.id}: a choice needs two choices or more")
        if q.kind != "choice" and q.choices:
            raise Problem(ErrorCode.INVALID_REQUEST, f"question {q.id}: only a choice has choices")
        if q.kind == "scale" and q.min >= q.max:
            raise Problem(ErrorCode.INVALID_REQUEST, f"question {q.id}: a scale's min is below its max")


def answers_refused(survey: Survey, answers: dict[str, str | int]) -> str | None:
    """Why these answers do not fit these questions, or None when they do."""
    by_id = {q.id: q for q in survey.questions}
    for key, value in answers.items():
        q = by_id.get(key)
        if q is None:
            return f"no question {key}"
        if q.kind == "scale":
            if not isinstance(value, int) or isinstance(value, bool) or not q.min <= value <= q.max:
                return f"{key}: a number from {q.min} to {q.max}"
        elif not isinstance(value, str):
            return f"{key}: text"
        elif q.kind == "choice" and value not in (q.choices or []):
            return f"{key}: one of the choices"
        elif q.kind == "text" and len(value) > MAX_TEXT:
            return f"{key}: at most {MAX_TEXT} characters"
    missing = [q.id for q in survey.questions if q.required and answers.get(q.id) in (None, "")]
    if missing:
        return f"answer {', '.join(missing)}"
    if not any(v != "" for v in answers.values()):
        return "no answer given"
    return None


class SurveyService:
    """Customers answer surveys once; marketers read the answers."""

    def __init__(self, store: SurveyStore) -> None:
        self._store = store

    async def answer(
        self, customer_id: str, *, client_id: str, seq: int, answers: dict[str, str | int]
    ) -> SurveyAnswered:
        found = await self._store.survey_of(customer_id, seq)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no survey {seq} in your inbox", client_id)
        campaign_id, data = found
        try:
            survey = msgspec.convert(data.get("survey"), Survey)
        except msgspec.ValidationError:
            raise Problem(ErrorCode.NOT_FOUND, f"no survey {seq} in your inbox", client_id) from None
        cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in answers.items()}
        why = answers_refused(survey, cleaned)
        if why is not None:
            raise Problem(ErrorCode.INVALID_FRAME, why, client_id)
        stored = await self._store.store(campaign_id, customer_id, seq, client_id, cleaned)
        if stored == "conflict":
            raise Problem(ErrorCode.CONFLICT, "you answered this survey already", client_id)
        return SurveyAnswered(client_id=client_id, seq=seq, duplicate=stored == "duplicate")

    async def results(self, campaign_id: str, limit: int) -> SurveyResults:
        rows: list[StoredAnswers] = await self._store.answers(campaign_id, limit)
        count = await self._store.count(campaign_id)
        return SurveyResults(
            campaign_id=campaign_id,
            answered=count,
            answers=[
                SurveyAnswerOut(customer_id=r.external_id or r.customer_id, answers=r.answers, at=r.at) for r in rows
            ],
        )


def survey_data(survey: Survey) -> dict[str, Any]:
    """What a survey notification's `data` holds: the questions, for the widget."""
    return {"survey": msgspec.to_builtins(survey)}
