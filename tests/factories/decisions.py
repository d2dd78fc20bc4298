"""Building decisions as a closed meeting leaves them, made directly (no vote): for the tests of
what a decision does elsewhere (billing, the register). Plain functions; each flushes."""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from housing.accounts.models import Role
from housing.meetings.models import BuildingDecision, InitiatorKind, Meeting, MeetingQuestion, MeetingStatus
from housing.meetings.rules import DecisionKind, Outcome
from housing.registry.models import Building
from tests.factories.core import make_user


def make_decision(
    session: Session,
    building: Building,
    *,
    kind: DecisionKind,
    effective_from: date,
    company_id: int | None = None,
    fee_minor: int | None = None,
    decided_at: datetime | None = None,
) -> BuildingDecision:
    """An adopted question of a closed meeting of the building, and the decision it left."""
    decided_at = decided_at or datetime.combine(effective_from, datetime.min.time(), UTC) - timedelta(days=20)
    admin = make_user(session, Role.admin)
    meeting = Meeting(
        building_id=building.id,
        initiator=InitiatorKind.admin,
        created_by=admin.id,
        status=MeetingStatus.closed,
        voting_starts=decided_at - timedelta(days=14),
        voting_ends=decided_at,
        closed_at=decided_at,
    )
    session.add(meeting)
    session.flush()
    question = MeetingQuestion(
        meeting_id=meeting.id,
        position=1,
        kind=kind,
        company_id=company_id,
        fee_minor=fee_minor,
        effective_from=effective_from,
        outcome=Outcome.adopted,
    )
    session.add(question)
    session.flush()
    decision = BuildingDecision(
        building_id=building.id,
        meeting_id=meeting.id,
        question_id=question.id,
        kind=kind,
        effective_from=effective_from,
        company_id=company_id,
        fee_minor=fee_minor,
        decided_at=decided_at,
    )
    session.add(decision)
    session.flush()
    return decision
