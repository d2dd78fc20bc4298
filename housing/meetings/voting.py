"""Voting: which roll entries an actor may vote for, online and paper ballots appended to the
meeting's hash chain under the one-ballot rule, and proxies.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlmodel import Session, col, select

from housing import filestore
from housing.accounts.models import Role
from housing.actors import Actor
from housing.errors import Conflict, Forbidden, Invalid
from housing.meetings import chain
from housing.meetings.guards import (
    REASON_CHARS,
    is_id,
    lock_meeting,
    plain_text,
    record_event,
    refuse_readers,
    require_staff,
)
from housing.meetings.models import (
    Ballot,
    BallotAnswer,
    BallotChannel,
    Meeting,
    MeetingProxy,
    MeetingStatus,
    MeetingVoter,
    ProxyStatus,
)
from housing.meetings.phases import Phase, phase
from housing.meetings.queries import CLERKS, ORGANIZERS
from housing.meetings.reading import questions_of
from housing.meetings.rules import (
    Choice,
    weight,
)
from housing.registry.models import (
    Apartment,
    Person,
)
from housing.settings import MeetingSettings

# Who votes for what


@dataclass(frozen=True)
class VoterEntry:
    voter_id: int
    apartment_id: int
    apartment_number: str
    owner_person_id: int
    owner_name: str
    share: Fraction
    weight: Fraction
    proxy_id: int | None  # the accepted proxy this actor votes through, None for their own share
    ballot: Ballot | None

    @property
    def as_proxy(self) -> bool:
        return self.proxy_id is not None


def _accepted_proxy(session: Session, voter_id: int) -> MeetingProxy | None:
    return session.exec(
        select(MeetingProxy).where(
            MeetingProxy.voter_id == voter_id, MeetingProxy.status == ProxyStatus.accepted
        )
    ).first()


def voter_entries(session: Session, actor: Actor, meeting: Meeting) -> list[VoterEntry]:
    """The roll entries this actor votes for: their own shares unless an accepted proxy holds
    them, and those they hold an accepted proxy for; each with its ballot if cast."""
    if actor.person_id is None or MeetingStatus(meeting.status) not in (
        MeetingStatus.published,
        MeetingStatus.closed,
    ):
        return []
    accepted = {
        p.voter_id: p
        for p in session.exec(
            select(MeetingProxy).where(
                MeetingProxy.meeting_id == meeting.id, MeetingProxy.status == ProxyStatus.accepted
            )
        )
    }
    query = (
        select(MeetingVoter, Apartment.number, Person.full_name)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .where(MeetingVoter.meeting_id == meeting.id)
        .order_by(Apartment.id, MeetingVoter.id)
    )
    mine = [
        (voter, number, name)
        for voter, number, name in session.exec(query)
        if (voter.person_id == actor.person_id and voter.id not in accepted)
        or (voter.id in accepted and accepted[voter.id].proxy_person_id == actor.person_id)
    ]
    ballots = {
        b.voter_id: b
        for b in session.exec(
            select(Ballot).where(
                Ballot.meeting_id == meeting.id, col(Ballot.voter_id).in_([v.id for v, _, _ in mine])
            )
        )
    }
    return [
        VoterEntry(
            voter_id=voter.id,
            apartment_id=voter.apartment_id,
            apartment_number=number,
            owner_person_id=voter.person_id,
            owner_name=name,
            share=Fraction(voter.share_numerator, voter.share_denominator),
            weight=weight(voter.share_numerator, voter.share_denominator, voter.area_m2),
            proxy_id=accepted[voter.id].id if voter.id in accepted else None,
            ballot=ballots.get(voter.id),
        )
        for voter, number, name in mine
    ]


# Ballots


def _voting_open(meeting: Meeting, now: datetime) -> None:
    current = phase(meeting, now)
    if current is Phase.voting:
        return
    if current is Phase.notice:
        raise Conflict(f"voting starts at {meeting.voting_starts:%Y-%m-%d %H:%M} UTC; no ballot before then")
    if current in (Phase.counting, Phase.closed):
        raise Conflict(f"voting ended at {meeting.voting_ends:%Y-%m-%d %H:%M} UTC; no ballot after it")
    raise Conflict(f"the meeting is {current.value}: it takes no ballots")


def _roll_entry(session: Session, meeting: Meeting, voter_id: Any) -> MeetingVoter:
    voter = session.get(MeetingVoter, voter_id) if is_id(voter_id) else None
    if voter is None or voter.meeting_id != meeting.id:
        raise Invalid(f"roll entry {voter_id} is not on this meeting's roll", field="voter_id")
    return voter


def _refuse_second(session: Session, meeting: Meeting, voter: MeetingVoter) -> None:
    """The one-ballot rule: the first ballot of a share stands; say which one it is."""
    ballot = session.exec(
        select(Ballot).where(Ballot.meeting_id == meeting.id, Ballot.voter_id == voter.id)
    ).first()
    if ballot is None:
        return
    when = f"{ballot.cast_at:%Y-%m-%d %H:%M} UTC"
    receipt = chain.receipt_of(ballot.hash)
    if BallotChannel(ballot.channel) is BallotChannel.paper:
        why = f"a paper ballot for this share was entered at {when}"
    elif ballot.proxy_id is not None:
        why = f"the proxy voted for this share online at {when}"
    else:
        why = f"the owner voted for this share online at {when}"
    raise Conflict(f"{why} (receipt {receipt}); each share has one ballot, the first", field="voter_id")


def _clean_answers(session: Session, meeting: Meeting, answers: Any, *, complete: bool) -> dict[int, Choice]:
    questions = {q.id: q.position for q in questions_of(session, meeting)}
    if not isinstance(answers, Mapping) or not answers:
        raise Invalid("answer at least one question", field="answers")
    cleaned = {}
    for key, choice in answers.items():
        question_id = int(key) if isinstance(key, str) and key.isdecimal() and len(key) < 10 else key
        if question_id not in questions:
            raise Invalid(f"question {question_id} is not on this meeting's agenda", field="answers")
        try:
            cleaned[question_id] = Choice(choice)
        except ValueError:
            raise Invalid(f"{choice!r} is not for, against or abstain", field="answers") from None
    missing = sorted(position for question_id, position in questions.items() if question_id not in cleaned)
    if complete and missing:
        raise Invalid(
            f"answer every question (for, against or abstain): {', '.join(map(str, missing))} left",
            field="answers",
        )
    return dict(sorted(cleaned.items()))


def ballot_fields(
    meeting_id: int,
    sequence: int,
    voter: MeetingVoter,
    channel: BallotChannel,
    cast_at: datetime,
    answers: Mapping[int, Choice],
) -> dict[str, Any]:
    """What a ballot's hash covers."""
    return {
        "meeting": meeting_id,
        "sequence": sequence,
        "voter": voter.id,
        "apartment": voter.apartment_id,
        "person": voter.person_id,
        "share": f"{voter.share_numerator}/{voter.share_denominator}",
        "area_m2": f"{Decimal(voter.area_m2):.2f}",
        "channel": BallotChannel(channel).value,
        "cast_at": cast_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "answers": {str(q): Choice(c).value for q, c in sorted(answers.items())},
    }


def _append(
    session: Session,
    meeting: Meeting,
    voter: MeetingVoter,
    answers: dict[int, Choice],
    *,
    channel: BallotChannel,
    actor: Actor,
    proxy_id: int | None,
    scan: filestore.Stored | None,
    now: datetime,
) -> Ballot:
    """Appends the ballot to the (locked) meeting's chain."""
    sequence = meeting.ballots + 1
    fields = ballot_fields(meeting.id, sequence, voter, channel, now, answers)
    ballot = Ballot(
        meeting_id=meeting.id,
        voter_id=voter.id,
        sequence=sequence,
        channel=channel,
        cast_by=actor.user_id,
        proxy_id=proxy_id,
        scan_file=scan.name if scan else None,
        scan_type=scan.content_type if scan else None,
        cast_at=now,
        prev_hash=meeting.chain_head,
        hash=chain.ballot_hash(meeting.chain_head, fields),
    )
    session.add(ballot)
    session.flush()
    session.add_all(BallotAnswer(ballot_id=ballot.id, question_id=q, choice=c) for q, c in answers.items())
    meeting.ballots = sequence
    meeting.chain_head = ballot.hash
    session.add(meeting)
    action = "paper_ballot" if channel is BallotChannel.paper else "ballot"
    by = " by proxy" if proxy_id else ""
    record_event(
        session,
        meeting,
        actor,
        action,
        f"roll entry {voter.id}{by}; receipt {chain.receipt_of(ballot.hash)}",
        now,
    )
    session.flush()
    return ballot


def cast_ballot(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    answers: Mapping[int, Choice],
    now: datetime,
) -> Ballot:
    """An owner's (or their accepted proxy's) online ballot for one roll entry, answering every
    question."""
    if actor.role is not Role.resident or actor.person_id is None:
        raise Forbidden("owners and their proxies vote online; staff enter paper ballots")
    meeting = lock_meeting(session, meeting)
    _voting_open(meeting, now)
    voter = _roll_entry(session, meeting, voter_id)
    proxy = _accepted_proxy(session, voter.id)
    if proxy is not None and proxy.proxy_person_id == actor.person_id:
        proxy_id = proxy.id
    elif voter.person_id == actor.person_id:
        if proxy is not None:
            raise Conflict(
                "your power of attorney for this share was accepted: your proxy votes for it, not you",
                field="voter_id",
            )
        proxy_id = None
    else:
        raise Invalid(f"roll entry {voter_id} is not yours to vote for", field="voter_id")
    _refuse_second(session, meeting, voter)
    cleaned = _clean_answers(session, meeting, answers, complete=True)
    return _append(
        session,
        meeting,
        voter,
        cleaned,
        channel=BallotChannel.online,
        actor=actor,
        proxy_id=proxy_id,
        scan=None,
        now=now,
    )


def enter_paper_ballot(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    answers: Mapping[int, Choice],
    scan: bytes,
    settings: Any,
    now: datetime,
) -> Ballot:
    """Staff enter a signed paper ballot with its scan, during the voting period; a question
    left blank on paper is left out. A share with an accepted proxy: the paper is the proxy's."""
    require_staff(session, actor, meeting, now, CLERKS)
    meeting = lock_meeting(session, meeting)
    _voting_open(meeting, now)
    voter = _roll_entry(session, meeting, voter_id)
    _refuse_second(session, meeting, voter)
    cleaned = _clean_answers(session, meeting, answers, complete=False)
    proxy = _accepted_proxy(session, voter.id)
    group: MeetingSettings = settings.meetings
    stored = filestore.store(
        group.document_dir, f"m{meeting.id}-paper", scan, max_bytes=group.max_document_bytes, field="scan"
    )
    return _append(
        session,
        meeting,
        voter,
        cleaned,
        channel=BallotChannel.paper,
        actor=actor,
        proxy_id=proxy.id if proxy else None,
        scan=stored,
        now=now,
    )


# Proxies


def submit_proxy(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    proxy_person_id: int,
    document: bytes,
    settings: Any,
    now: datetime,
) -> MeetingProxy:
    """Uploads a power of attorney for one roll entry (staff, or the owner of that entry);
    staff accept or reject it."""
    refuse_readers(actor)
    meeting = lock_meeting(session, meeting)  # a proxy, the ballots and the decisions on proxies take turns
    if MeetingStatus(meeting.status) is not MeetingStatus.published or now >= meeting.voting_ends:
        raise Conflict("proxies are given between the notice and the end of voting")
    voter = _roll_entry(session, meeting, voter_id)
    is_owner = actor.role is Role.resident and actor.person_id == voter.person_id
    if not is_owner:
        require_staff(session, actor, meeting, now, CLERKS)
    person = session.get(Person, proxy_person_id) if is_id(proxy_person_id) else None
    if person is None:
        raise Invalid(f"person {proxy_person_id} does not exist", field="proxy_person_id")
    if proxy_person_id == voter.person_id:
        raise Invalid("the owner cannot be their own proxy", field="proxy_person_id")
    if session.exec(select(Ballot.id).where(Ballot.voter_id == voter.id)).first() is not None:
        raise Conflict("this share has voted already; a proxy could not vote for it", field="voter_id")
    if _accepted_proxy(session, voter.id) is not None:
        raise Conflict("this share already has an accepted proxy", field="voter_id")
    group: MeetingSettings = settings.meetings
    stored = filestore.store(
        group.document_dir,
        f"m{meeting.id}-proxy",
        document,
        max_bytes=group.max_document_bytes,
        field="document",
    )
    proxy = MeetingProxy(
        meeting_id=meeting.id,
        voter_id=voter.id,
        proxy_person_id=proxy_person_id,
        file=stored.name,
        content_type=stored.content_type,
        submitted_by=actor.user_id,
        created_at=now,
    )
    session.add(proxy)
    session.flush()
    record_event(
        session, meeting, actor, "proxy_submitted", f"roll entry {voter.id} to person {proxy_person_id}", now
    )
    session.flush()
    return proxy


def decide_proxy(
    session: Session, actor: Actor, proxy: MeetingProxy, *, accept: bool, reason: str = "", now: datetime
) -> MeetingProxy:
    """Staff accept a pending power of attorney (the proxy then votes for the share) or reject
    it, saying why."""
    meeting = session.get(Meeting, proxy.meeting_id)
    require_staff(session, actor, meeting, now, ORGANIZERS)
    meeting = lock_meeting(session, meeting)
    reason = plain_text(reason.strip(), "reason") if isinstance(reason, str) else ""
    if len(reason) > REASON_CHARS:
        raise Invalid(f"the reason is longer than {REASON_CHARS} characters", field="reason")
    if ProxyStatus(proxy.status) is not ProxyStatus.pending:
        raise Conflict(f"this proxy was {proxy.status} already")
    if MeetingStatus(meeting.status) is not MeetingStatus.published or now >= meeting.voting_ends:
        raise Conflict("proxies are decided before the voting ends")
    if accept:
        if session.exec(select(Ballot.id).where(Ballot.voter_id == proxy.voter_id)).first() is not None:
            raise Conflict("this share has voted already; its ballot stands and a proxy could not vote")
        if _accepted_proxy(session, proxy.voter_id) is not None:
            raise Conflict("this share already has an accepted proxy")
    elif not reason:
        raise Invalid("say why the power of attorney is rejected", field="reason")
    proxy.status = ProxyStatus.accepted if accept else ProxyStatus.rejected
    proxy.decided_by = actor.user_id
    proxy.decided_at = now
    proxy.reason = reason
    session.add(proxy)
    record_event(
        session,
        meeting,
        actor,
        "proxy_accepted" if accept else "proxy_rejected",
        f"proxy {proxy.id} for roll entry {proxy.voter_id}" + (f": {reason}" if reason else ""),
        now,
    )
    session.flush()
    return proxy
