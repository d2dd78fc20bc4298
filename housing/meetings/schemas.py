"""API models of owners' meetings: what clients send (XCreate, XUpdate, ...) and read (XRead).

Weights are m2 and percentages are of all votes or of the votes cast: each is given rounded
half up to 0.01 for people (`rules.shown`, a decimal string such as "54.30") and exactly as
a fraction ("p/q", `*_exact`) for anyone checking the count.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from housing.meetings.models import BallotChannel, InitiatorKind, MeetingStatus, ProxyStatus
from housing.meetings.phases import Phase
from housing.meetings.rules import Choice, DecisionKind, Outcome
from housing.schemas import ReadModel
from housing.validation import AwareMoment, Day, Id, InputModel

Language = Literal["uz", "ru", "en"]
TITLE_MAX, QUESTION_TITLE_MAX, BODY_MAX, REASON_MAX = 200, 300, 5000, 300
MAX_QUESTIONS = 50
FEE_MAX = 10**9  # tiyin per m2 a month


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _each_language_once(texts: list) -> list:
    languages = [t.language for t in texts]
    if len(set(languages)) != len(languages):
        raise ValueError("each language at most once")
    return texts


class MeetingTextIn(InputModel):
    language: Language
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field("", max_length=BODY_MAX, description="The introduction; stored as typed")

    _title = field_validator("title")(_not_blank)


class QuestionTextIn(InputModel):
    language: Language
    title: str = Field(min_length=1, max_length=QUESTION_TITLE_MAX)
    body: str = Field("", max_length=BODY_MAX)

    _title = field_validator("title")(_not_blank)


class MeetingCreate(InputModel):
    """A company's manager or an admin drafts a meeting; an owner of the building drafts an
    owners' initiative (signed by owners before it can be published)."""

    building_id: Id
    texts: list[MeetingTextIn] = Field(
        min_length=1, max_length=3, description="uz, ru, en: each at most once"
    )
    voting_starts: AwareMoment = Field(description="With its offset: 2026-12-20T09:00:00+05:00")
    voting_ends: AwareMoment

    _texts = field_validator("texts")(_each_language_once)

    @model_validator(mode="after")
    def _period(self) -> "MeetingCreate":
        if self.voting_ends <= self.voting_starts:
            raise ValueError("voting_ends must come after voting_starts")
        return self


class MeetingUpdate(InputModel):
    """Only before publishing; fields left out stay as they are."""

    texts: list[MeetingTextIn] | None = Field(None, min_length=1, max_length=3)
    voting_starts: AwareMoment | None = None
    voting_ends: AwareMoment | None = None

    @field_validator("texts")
    @classmethod
    def _languages(cls, texts: list[MeetingTextIn] | None) -> list[MeetingTextIn] | None:
        return None if texts is None else _each_language_once(texts)


class QuestionCreate(InputModel):
    """management_company needs `company_id` (the new company) and `effective_from` (after the
    vote ends); management_fee needs `fee_minor` (tiyin per m2 a month) and `effective_from`."""

    kind: DecisionKind
    texts: list[QuestionTextIn] = Field(min_length=1, max_length=3)
    company_id: Id | None = None
    fee_minor: int | None = Field(None, gt=0, le=FEE_MAX, description="tiyin per m2 a month")
    effective_from: Day | None = None

    _texts = field_validator("texts")(_each_language_once)


class CancelIn(InputModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)

    _reason = field_validator("reason")(_not_blank)


class AnswerIn(InputModel):
    question_id: Id
    choice: Choice = Field(description="for, against or abstain")


class BallotCreate(InputModel):
    """One roll entry's ballot (see `GET .../my-entries` for the entries you vote for); every
    question answered once."""

    voter_id: Id
    answers: list[AnswerIn] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("answers")
    @classmethod
    def _each_question_once(cls, answers: list[AnswerIn]) -> list[AnswerIn]:
        questions = [a.question_id for a in answers]
        if len(set(questions)) != len(questions):
            raise ValueError("each question at most once")
        return answers

    def choices(self) -> dict[int, Choice]:
        return {a.question_id: a.choice for a in self.answers}


class ProxyDecision(InputModel):
    accept: bool
    reason: str = Field("", max_length=REASON_MAX, description="Why it is rejected (required then)")

    @model_validator(mode="after")
    def _why(self) -> "ProxyDecision":
        if not self.accept and not self.reason.strip():
            raise ValueError("say why the proxy is rejected (reason)")
        return self


# Read models


class TextRead(ReadModel):
    language: str
    title: str
    body: str


class DocumentRead(ReadModel):
    id: int
    question_id: int | None
    title: str
    content_type: str
    size_bytes: int
    created_at: datetime
    url: str


class QuestionRead(ReadModel):
    id: int
    position: int
    kind: DecisionKind
    rule: str = Field(
        description="Votes for needed: all>1/2 (more than half of all votes), cast>1/2, all>=2/3"
    )
    company_id: int | None
    fee_minor: int | None
    currency: str
    effective_from: date | None
    texts: list[TextRead]
    outcome: Outcome | None = Field(None, description="After the close")


class MeetingRead(ReadModel):
    id: int
    building_id: int
    initiator: InitiatorKind
    company_id: int | None
    status: MeetingStatus
    phase: Phase
    voting_starts: datetime
    voting_ends: datetime
    published_at: datetime | None
    record_date: date | None
    total_area_m2: Decimal | None
    ballots: int
    chain_head: str
    closed_at: datetime | None
    quorum_reached: bool | None
    created_at: datetime
    texts: list[TextRead]
    questions: list[QuestionRead]
    documents: list[DocumentRead]


class MeetingSummary(ReadModel):
    """A meeting in a list: without its agenda."""

    id: int
    building_id: int
    initiator: InitiatorKind
    status: MeetingStatus
    phase: Phase
    voting_starts: datetime
    voting_ends: datetime
    published_at: datetime | None
    closed_at: datetime | None
    quorum_reached: bool | None
    title: str = Field(description="In the reader's language when written in it")
    language: str


class SupportRead(ReadModel):
    """An owners' initiative's signatures against the share of all votes it needs."""

    signed_m2: Decimal
    total_m2: Decimal
    signed_percent: Decimal
    needed_percent: Decimal
    enough: bool
    signatures: int = Field(description="Ownership shares the actor signed for just now")


class BallotRead(ReadModel):
    id: int
    voter_id: int
    sequence: int
    channel: BallotChannel
    cast_at: datetime
    hash: str
    receipt: str = Field(description="Find the ballot in the published register with it")


class VoterEntryRead(ReadModel):
    voter_id: int
    apartment_id: int
    apartment_number: str
    owner_name: str
    share: str = Field(description="The ownership share, p/q")
    weight_m2: Decimal
    weight_exact: str
    as_proxy: bool
    proxy_id: int | None
    ballot: BallotRead | None


class RollEntryRead(ReadModel):
    """A line of the roll (fixed at publishing): an ownership share and the votes it carries."""

    voter_id: int
    apartment_id: int
    apartment_number: str
    owner_person_id: int
    owner_name: str
    share: str = Field(description="p/q")
    weight_m2: Decimal
    weight_exact: str
    voted: bool = Field(description="Whether a ballot stands for it (never how it voted)")


class ProxyRead(ReadModel):
    id: int
    meeting_id: int
    voter_id: int
    proxy_person_id: int
    status: ProxyStatus
    content_type: str
    submitted_by: int
    decided_by: int | None
    decided_at: datetime | None
    reason: str
    created_at: datetime


class TurnoutRead(ReadModel):
    """Weight voted so far against the quorum; never how anyone voted."""

    cast_m2: Decimal
    total_m2: Decimal
    quorum_m2: Decimal = Field(description="The quorum rule's share of all votes")
    cast_percent: Decimal
    quorum_reached: bool
    ballots: int
    roll: int = Field(description="Ownership shares on the roll")
    cast_exact: str
    total_exact: str


class QuestionResult(ReadModel):
    question_id: int
    position: int
    kind: DecisionKind
    rule: str
    title: str
    votes_for_m2: Decimal
    votes_against_m2: Decimal
    votes_abstain_m2: Decimal
    for_percent_of_all: Decimal
    against_percent_of_all: Decimal
    abstain_percent_of_all: Decimal
    for_percent_of_cast: Decimal
    against_percent_of_cast: Decimal
    abstain_percent_of_cast: Decimal
    votes_for_exact: str
    votes_against_exact: str
    votes_abstain_exact: str
    outcome: Outcome


class ResultsRead(ReadModel):
    final: bool = Field(description="True once the meeting is closed; before, the count so far")
    total_m2: Decimal
    cast_m2: Decimal
    cast_percent: Decimal
    quorum: bool
    ballots: int
    roll: int
    total_exact: str
    cast_exact: str
    chain_head: str
    questions: list[QuestionResult]


class RegisterRowRead(ReadModel):
    sequence: int
    apartment_number: str
    owner_name: str
    share: str
    weight_m2: Decimal
    channel: BallotChannel
    proxy_name: str | None
    choices: dict[str, Choice] = Field(description="By question id")
    receipt: str
    hash: str
    prev_hash: str
    cast_at: datetime


class RegisterRead(ReadModel):
    chain_head: str
    intact: bool = Field(description="Every ballot's hash matches its fields and the one before it")
    rows: list[RegisterRowRead]


class EventRead(ReadModel):
    id: int
    user_id: int | None
    action: str
    detail: str
    at: datetime


# The city's officials


class CityKindRead(ReadModel):
    kind: DecisionKind
    put: int = Field(description="Questions of this kind on the agendas of the meetings held")
    adopted: int
    rejected: int
    no_quorum: int


class CityDistrictRead(ReadModel):
    district_id: int
    district: str
    meetings: int
    quorum: int
    company_changes: int


class CityCompanyRead(ReadModel):
    company_id: int
    company: str
    meetings: int = Field(description="Held in buildings it managed on their record date")
    quorum: int
    buildings_lost: int
    buildings_gained: int
    score: float | None = Field(description="Its latest quality score of a month up to `until`")
    score_period: date | None


class CityCompanyPage(ReadModel):
    items: list[CityCompanyRead]
    total: int
    limit: int
    offset: int


class CityMeetingsRead(ReadModel):
    since: str = Field(description="First month, YYYY-MM")
    until: str = Field(description="Last month, YYYY-MM")
    district_id: int | None
    meetings: int = Field(description="Closed meetings whose vote ended in the period")
    quorum: int
    decisions: int = Field(description="Questions adopted")
    company_changes: int
    kinds: list[CityKindRead]
    districts: list[CityDistrictRead]
    companies: CityCompanyPage
