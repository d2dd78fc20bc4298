"""What an owners' meeting's protocol says, in no particular language: `ProtocolData`, read from
a closed meeting by `protocol_data` (its stored count, its register of ballots, the chain's head
checked against the ballots' fields), or made by hand (tests, the benchmark). `protocol.py`
lays it out as a PDF.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from housing import i18n
from housing.errors import Conflict, NotFound
from housing.meetings import closing, reading, receipts
from housing.meetings.counting import Count
from housing.meetings.models import InitiatorKind, Meeting, MeetingStatus
from housing.meetings.receipts import RegisterRow
from housing.meetings.rules import DecisionKind, MeetingRules, Threshold
from housing.registry.models import Building, ManagementCompany
from housing.settings import CITY_TIMEZONE, Settings


@dataclass(frozen=True)
class ProtocolQuestion:
    """An agenda item as the protocol prints it; its votes are in `ProtocolData.count`."""

    id: int
    position: int
    kind: DecisionKind
    texts: Mapping[str, tuple[str, str]]  # language -> (title, body)
    threshold: Threshold  # the rule the question was counted by
    effective_from: date | None = None
    company_name: str | None = None  # management_company: the company chosen
    fee_minor: int | None = None  # management_fee: tiyin per m2 a month
    currency: str = "UZS"


@dataclass(frozen=True)
class ProtocolData:
    """Everything the protocol says, in no particular language; moments are UTC, shown on the
    city's clock (`timezone`). Made by `protocol_data`, or by hand (tests, the benchmark)."""

    meeting_id: int
    building_address: str
    texts: Mapping[str, tuple[str, str]]  # language -> (title, body)
    initiator: InitiatorKind
    initiator_name: str | None  # the initiating company's name
    published_at: datetime | None
    record_date: date | None
    voting_starts: datetime
    voting_ends: datetime
    closed_at: datetime | None
    count: Count
    quorum: Threshold
    questions: Sequence[ProtocolQuestion]
    register: Sequence[RegisterRow]  # in the chain's order
    chain_head: str
    chain_verified: bool | None = None  # the hashes recomputed from the tables match (None: not checked)
    timezone: str = CITY_TIMEZONE

    @property
    def languages(self) -> tuple[str, ...]:
        """The meeting's languages, in the platform's order: one protocol each."""
        return tuple(language for language in i18n.LANGUAGES if language in self.texts)


def protocol_data(session: Session, meeting: Meeting, *, settings: Settings) -> ProtocolData:
    """What the protocol of a closed meeting says: its stored count, its register of ballots and
    the chain's head, checked against the ballots' fields. Before the close it is refused (409):
    the register shows how each share voted, which nobody sees while the vote runs."""
    if MeetingStatus(meeting.status) is not MeetingStatus.closed:
        raise Conflict(
            "the protocol is made when the meeting is closed and counted; until then only the turnout"
            " is shown",
            field="meeting_id",
        )
    rules = MeetingRules.of(settings)
    building = session.get(Building, meeting.building_id)
    if building is None:  # a foreign key makes this unreachable
        raise NotFound("the meeting's building does not exist")
    questions = reading.questions_of(session, meeting)
    question_texts = reading.question_texts_of(session, [q.id for q in questions])
    company_ids = {meeting.company_id, *(q.company_id for q in questions)} - {None}
    names = dict(
        session.exec(
            select(ManagementCompany.id, ManagementCompany.name).where(
                col(ManagementCompany.id).in_(company_ids)
            )
        ).all()
    )
    texts = reading.texts_of(session, [meeting.id]).get(meeting.id, {})
    return ProtocolData(
        meeting_id=meeting.id,
        building_address=building.address,
        texts={language: (text.title, text.body) for language, text in texts.items()},
        initiator=InitiatorKind(meeting.initiator),
        initiator_name=names.get(meeting.company_id) if meeting.company_id else None,
        published_at=meeting.published_at,
        record_date=meeting.record_date,
        voting_starts=meeting.voting_starts,
        voting_ends=meeting.voting_ends,
        closed_at=meeting.closed_at,
        count=closing.meeting_count(session, meeting, settings=settings),
        quorum=rules.quorum,
        questions=[
            ProtocolQuestion(
                id=q.id,
                position=q.position,
                kind=DecisionKind(q.kind),
                texts={
                    language: (text.title, text.body)
                    for language, text in question_texts.get(q.id, {}).items()
                },
                threshold=rules.thresholds[DecisionKind(q.kind)],
                effective_from=q.effective_from,
                company_name=names.get(q.company_id) if q.company_id else None,
                fee_minor=q.fee_minor,
                currency=q.currency,
            )
            for q in questions
        ],
        register=receipts.ballot_register(session, meeting),
        chain_head=meeting.chain_head,
        chain_verified=receipts.verify_meeting_chain(session, meeting),
        timezone=settings.timezone,
    )
