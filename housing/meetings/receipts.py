"""The register of ballots as owners may read it, receipts looked up in it, and the hash chain
checked from it.
"""

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlmodel import Session, col, select

from housing.meetings import chain
from housing.meetings.models import (
    Ballot,
    BallotAnswer,
    BallotChannel,
    Meeting,
    MeetingProxy,
    MeetingVoter,
)
from housing.meetings.reading import roll_of
from housing.meetings.rules import (
    Choice,
    weight,
)
from housing.meetings.voting import ballot_fields
from housing.registry.models import (
    Apartment,
    Person,
)

# The register of ballots


@dataclass(frozen=True)
class RegisterRow:
    sequence: int
    ballot_id: int
    voter_id: int
    apartment_number: str
    owner_name: str
    share: Fraction
    weight: Fraction
    channel: BallotChannel
    proxy_name: str | None
    choices: dict[int, Choice]
    hash: str
    prev_hash: str
    cast_at: datetime

    @property
    def receipt(self) -> str:
        return chain.receipt_of(self.hash)


def _register(session: Session, meeting: Meeting, *, receipt: str | None = None) -> list[RegisterRow]:
    proxy_person = Person.__table__.alias("proxy_person")
    query = (
        select(Ballot, MeetingVoter, Apartment.number, Person.full_name, proxy_person.c.full_name)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .outerjoin(MeetingProxy, col(MeetingProxy.id) == Ballot.proxy_id)
        .outerjoin(proxy_person, proxy_person.c.id == MeetingProxy.proxy_person_id)
        .where(Ballot.meeting_id == meeting.id)
        .order_by(Ballot.sequence)
    )
    if receipt is not None:
        query = query.where(col(Ballot.hash).startswith(receipt, autoescape=True))
    rows = session.exec(query).all()
    choices: dict[int, dict[int, Choice]] = {ballot.id: {} for ballot, *_ in rows}
    if choices:
        answers = select(BallotAnswer.ballot_id, BallotAnswer.question_id, BallotAnswer.choice)
        if receipt is not None:
            answers = answers.where(col(BallotAnswer.ballot_id).in_(list(choices)))
        else:
            answers = answers.join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id).where(
                Ballot.meeting_id == meeting.id
            )
        for ballot_id, question_id, choice in session.exec(answers):
            choices[ballot_id][question_id] = Choice(choice)
    return [
        RegisterRow(
            sequence=ballot.sequence,
            ballot_id=ballot.id,
            voter_id=voter.id,
            apartment_number=number,
            owner_name=owner,
            share=Fraction(voter.share_numerator, voter.share_denominator),
            weight=weight(voter.share_numerator, voter.share_denominator, voter.area_m2),
            channel=BallotChannel(ballot.channel),
            proxy_name=proxy_name,
            choices=dict(sorted(choices[ballot.id].items())),
            hash=ballot.hash,
            prev_hash=ballot.prev_hash,
            cast_at=ballot.cast_at,
        )
        for ballot, voter, number, owner, proxy_name in rows
    ]


def ballot_register(session: Session, meeting: Meeting) -> list[RegisterRow]:
    """Every ballot in chain order: who (apartment, owner, share, weight), how it came (channel,
    proxy), the choices by question id, its hash (the receipt) and when."""
    return _register(session, meeting)


def find_receipt(session: Session, meeting: Meeting, receipt: str) -> RegisterRow | None:
    """The ballot a receipt (the first 16 or more hex digits of its hash) names, if any."""
    if not isinstance(receipt, str):
        return None
    receipt = receipt.strip().lower()
    if not chain.RECEIPT_DIGITS <= len(receipt) <= 64 or any(c not in "0123456789abcdef" for c in receipt):
        return None
    found = _register(session, meeting, receipt=receipt)
    return found[0] if found else None


def chain_links(session: Session, meeting: Meeting) -> list[chain.ChainLink]:
    """Each ballot's link, rebuilt from the tables, in chain order."""
    voters = {v.id: v for v in roll_of(session, meeting)}
    answers: dict[int, dict[int, Choice]] = {}
    query = (
        select(BallotAnswer.ballot_id, BallotAnswer.question_id, BallotAnswer.choice)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .where(Ballot.meeting_id == meeting.id)
    )
    for ballot_id, question_id, choice in session.exec(query):
        answers.setdefault(ballot_id, {})[question_id] = Choice(choice)
    ballots = session.exec(select(Ballot).where(Ballot.meeting_id == meeting.id).order_by(Ballot.sequence))
    return [
        chain.ChainLink(
            b.prev_hash,
            ballot_fields(
                meeting.id, b.sequence, voters[b.voter_id], b.channel, b.cast_at, answers.get(b.id, {})
            ),
            b.hash,
        )
        for b in ballots
    ]


def verify_meeting_chain(session: Session, meeting: Meeting) -> bool:
    """Every ballot's hash matches its fields and the previous hash, up to the meeting's head."""
    return chain.verify_chain(chain_links(session, meeting), head=meeting.chain_head)
