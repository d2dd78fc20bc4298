"""Owners' meetings: the meeting and its agenda, the roll of who votes, ballots, proxies, the
initiative's signatures, what was done to the meeting, and the building's decisions.

The roll (`MeetingVoter`) is fixed when the meeting is published: one row per ownership in
force on the record date, with that ownership's share and the premises' area, so that an
ownership change during the vote does not change who votes for that share. Ballots are never
edited or deleted: each is appended to the meeting's hash chain (`sequence`, `prev_hash`,
`hash`), one per roll entry. Weights are exact: share (a fraction) times area (m2, two
decimals); a count's sums are stored as exact fractions ("p/q").
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field, updated_at_field
from housing.meetings.rules import Choice, DecisionKind, Outcome


class MeetingStatus(StrEnum):
    draft = "draft"  # the initiator edits the agenda
    initiative = "initiative"  # owners' draft gathering signatures until they hold enough votes
    published = "published"  # notice given; voting runs from voting_starts to voting_ends
    closed = "closed"  # counted; results and protocol final
    cancelled = "cancelled"


class InitiatorKind(StrEnum):
    company = "company"  # the building's management company
    admin = "admin"
    owners = "owners"  # owners together holding at least the initiative share of all votes


class BallotChannel(StrEnum):
    online = "online"
    paper = "paper"  # entered by staff from a signed paper ballot, with its scan


class ProxyStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    __table_args__ = (
        Index(None, "building_id", "status"),
        Index(None, "status", "voting_ends"),
        CheckConstraint("voting_ends > voting_starts", name="voting_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id")
    initiator: InitiatorKind = Field(sa_type=String(10))
    created_by: int = Field(foreign_key="user_account.id")
    company_id: int | None = Field(
        default=None, foreign_key="management_company.id", description="The initiating company, if one"
    )
    status: MeetingStatus = Field(default=MeetingStatus.draft, sa_type=String(12))
    voting_starts: datetime = Field(sa_type=UTCDateTime)
    voting_ends: datetime = Field(sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    record_date: date | None = Field(default=None, description="Whose ownership votes: fixed at publishing")
    total_area_m2: Decimal | None = Field(
        default=None, max_digits=12, decimal_places=2, description="All votes: every premises' area"
    )
    ballots: int = Field(default=0, description="Ballots appended so far (the chain's length)")
    chain_head: str = Field(default="0" * 64, max_length=64, description="The last ballot's hash")
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None, foreign_key="user_account.id")
    votes_cast: str | None = Field(default=None, max_length=80, description="Weight that voted (m2), p/q")
    quorum_reached: bool | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class MeetingText(SQLModel, table=True):
    """The meeting's title and introduction in one language (uz, ru or en)."""

    __tablename__ = "meeting_text"
    __table_args__ = (UniqueConstraint("meeting_id", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    language: str = Field(max_length=5)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=5000)


class MeetingQuestion(SQLModel, table=True):
    """One agenda item: its decision kind, what it would set, and after the count its result."""

    __tablename__ = "meeting_question"
    __table_args__ = (
        UniqueConstraint("meeting_id", "position"),
        CheckConstraint("fee_minor IS NULL OR fee_minor > 0", name="fee_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    position: int
    kind: DecisionKind = Field(sa_type=String(20))
    company_id: int | None = Field(
        default=None, foreign_key="management_company.id", description="management_company: the new one"
    )
    fee_minor: int | None = Field(default=None, description="management_fee: tiyin per m2 a month")
    currency: str = Field(default="UZS", max_length=3)
    effective_from: date | None = Field(default=None, description="When the decision takes effect")
    votes_for: str | None = Field(default=None, max_length=80, description="m2, exact fraction p/q")
    votes_against: str | None = Field(default=None, max_length=80)
    votes_abstain: str | None = Field(default=None, max_length=80)
    outcome: Outcome | None = Field(default=None, sa_type=String(10))


class QuestionText(SQLModel, table=True):
    __tablename__ = "meeting_question_text"
    __table_args__ = (UniqueConstraint("question_id", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="meeting_question.id")
    language: str = Field(max_length=5)
    title: str = Field(max_length=300)
    body: str = Field(default="", max_length=5000)


class MeetingDocument(SQLModel, table=True):
    """A document on the agenda (the proposed contract, an estimate), for one question or all."""

    __tablename__ = "meeting_document"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    question_id: int | None = Field(default=None, foreign_key="meeting_question.id")
    title: str = Field(max_length=200)
    file: str = Field(max_length=100, unique=True)
    content_type: str = Field(max_length=50)
    size_bytes: int
    uploaded_by: int = Field(foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class MeetingVoter(SQLModel, table=True):
    """One line of the roll: an ownership in force on the record date and the votes it carries."""

    __tablename__ = "meeting_voter"
    __table_args__ = (
        UniqueConstraint("meeting_id", "ownership_id"),
        Index(None, "meeting_id", "person_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    ownership_id: int = Field(foreign_key="ownership.id")
    apartment_id: int = Field(foreign_key="apartment.id")
    person_id: int = Field(foreign_key="person.id")
    share_numerator: int
    share_denominator: int
    area_m2: Decimal = Field(max_digits=8, decimal_places=2)


class MeetingSignature(SQLModel, table=True):
    """An owner's signature under an owners' initiative, with the votes it carried when signed."""

    __tablename__ = "meeting_signature"
    __table_args__ = (UniqueConstraint("meeting_id", "ownership_id"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    ownership_id: int = Field(foreign_key="ownership.id")
    person_id: int = Field(foreign_key="person.id")
    user_id: int = Field(foreign_key="user_account.id")
    share_numerator: int
    share_denominator: int
    area_m2: Decimal = Field(max_digits=8, decimal_places=2)
    signed_at: datetime = Field(sa_type=UTCDateTime)


class MeetingProxy(SQLModel, table=True):
    """A power of attorney for one roll entry: once staff accept it, the proxy votes instead of
    the owner."""

    __tablename__ = "meeting_proxy"
    __table_args__ = (
        Index(  # one accepted proxy per roll entry
            "ix_meeting_proxy_accepted_voter",
            "voter_id",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    voter_id: int = Field(foreign_key="meeting_voter.id", index=True)
    proxy_person_id: int = Field(foreign_key="person.id", index=True)
    status: ProxyStatus = Field(default=ProxyStatus.pending, sa_type=String(10))
    file: str = Field(max_length=100, unique=True, description="The power of attorney's scan")
    content_type: str = Field(max_length=50)
    submitted_by: int = Field(foreign_key="user_account.id")
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=300, description="Why it was rejected")
    created_at: datetime = created_at_field()


class Ballot(SQLModel, table=True):
    """One roll entry's vote, appended to the meeting's hash chain; never edited or deleted."""

    __tablename__ = "ballot"
    __table_args__ = (
        UniqueConstraint("meeting_id", "voter_id"),  # one ballot per ownership
        UniqueConstraint("meeting_id", "sequence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    voter_id: int = Field(foreign_key="meeting_voter.id")
    sequence: int = Field(description="1, 2, ... within the meeting: the chain's order")
    channel: BallotChannel = Field(sa_type=String(10))
    cast_by: int = Field(foreign_key="user_account.id", description="The owner, their proxy or staff")
    proxy_id: int | None = Field(default=None, foreign_key="meeting_proxy.id")
    scan_file: str | None = Field(default=None, max_length=100, unique=True)
    scan_type: str | None = Field(default=None, max_length=50)
    cast_at: datetime = Field(sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class BallotAnswer(SQLModel, table=True):
    __tablename__ = "ballot_answer"
    __table_args__ = (
        UniqueConstraint("ballot_id", "question_id"),
        Index(None, "question_id", "choice"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="ballot.id")
    question_id: int = Field(foreign_key="meeting_question.id")
    choice: Choice = Field(sa_type=String(10))


class MeetingEvent(SQLModel, table=True):
    """Everything an initiator, staff or the system did to a meeting, with who and when."""

    __tablename__ = "meeting_event"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", description="None: the system")
    action: str = Field(max_length=40)
    detail: str = Field(default="", max_length=500)
    at: datetime = Field(sa_type=UTCDateTime)


class BuildingDecision(SQLModel, table=True):
    """An adopted decision of a building's owners, as the rest of the platform reads it: the
    register (a new company), billing (the building's own management fee), the building's money
    report (a capital repair, the use of common property)."""

    __tablename__ = "building_decision"
    __table_args__ = (Index(None, "building_id", "kind", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id")
    meeting_id: int = Field(foreign_key="meeting.id")
    question_id: int = Field(foreign_key="meeting_question.id", unique=True)
    kind: DecisionKind = Field(sa_type=String(20))
    effective_from: date
    company_id: int | None = Field(default=None, foreign_key="management_company.id")
    fee_minor: int | None = None
    currency: str = Field(default="UZS", max_length=3)
    decided_at: datetime = Field(sa_type=UTCDateTime)
