"""The demo city's owners' meetings, in the demo resident's building: one closed last quarter
(a roof repair adopted, its protocol ready) and one under way (a management fee and the use of
the roof, voting open, the demo resident not yet voted). Once: a database that has meetings
gets none. Run through the service with past moments, so the roll, the hash chain, the
notices and the count are what a real meeting leaves; the other owners vote on paper, entered
by the demo manager with a scan, as most owners still do.
"""

import random
from datetime import datetime, timedelta

from fpdf import FPDF
from sqlalchemy import Engine
from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.clock import local_today
from housing.db import session_scope, utcnow
from housing.meetings import closing, drafting, publishing, reading, voting
from housing.meetings.models import Meeting
from housing.meetings.rules import Choice, DecisionKind
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids
from housing.registry.seeding import demo_username
from housing.settings import Settings

ROOF = {
    "uz": ("Tom ta'miri", "Uy tomini 2027 yil bahorida kapital ta'mirlash."),
    "ru": ("Ремонт кровли", "Капитальный ремонт кровли дома весной 2027 года."),
    "en": ("Roof repair", "A capital repair of the building's roof in spring 2027."),
}
ROOF_QUESTION = {
    "uz": ("Tomni kapital ta'mirlash smetasini tasdiqlash", "Smeta ilova qilingan."),
    "ru": ("Утвердить смету капитального ремонта кровли", "Смета приложена."),
    "en": ("Approve the estimate of the roof's capital repair", "The estimate is attached."),
}
YARD_QUESTION = {
    "uz": ("Hovlini haftada ikki marta tozalash", ""),
    "ru": ("Убирать двор два раза в неделю", ""),
    "en": ("Clean the yard twice a week", ""),
}
AUTUMN = {
    "uz": ("Boshqaruv haqi va tom", "Boshqaruv haqini tasdiqlash va tomdan foydalanish."),
    "ru": ("Плата за управление и кровля", "Утверждение платы за управление и использование кровли."),
    "en": ("Management fee and the roof", "Approving the management fee, and the use of the roof."),
}
FEE_QUESTION = {
    "uz": ("Boshqaruv haqini 1 m² uchun 2 100 so'm etib tasdiqlash", ""),
    "ru": ("Утвердить плату за управление 2 100 сумов за 1 м²", ""),
    "en": ("Approve a management fee of 2,100 UZS per m²", ""),
}
ANTENNA_QUESTION = {
    "uz": ("Tomning bir qismini aloqa operatoriga ijaraga berish", "Ijara haqi uy hisobiga tushadi."),
    "ru": ("Сдать часть кровли в аренду оператору связи", "Арендная плата поступает на счёт дома."),
    "en": ("Let part of the roof to a mobile operator", "The rent goes to the building's account."),
}


def _user(session: Session, role: Role) -> User | None:
    return session.exec(select(User).where(User.username == demo_username(role))).first()


def _scan(title: str) -> bytes:
    """A one-page PDF standing in for a signed paper ballot's scan."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=title)
    return bytes(pdf.output())


def _vote_on_paper(
    session: Session,
    clerk: Actor,
    meeting: Meeting,
    *,
    settings: Settings,
    start: datetime,
    leave_out: int | None,
    rng: random.Random,
    turnout: float,
    leaning: float,
) -> int:
    """Paper ballots for a share of the roll, one every 20 minutes from `start`, leaning towards `for`."""
    questions = reading.questions_of(session, meeting)
    entries = [v for v in reading.roll_of(session, meeting) if v.person_id != leave_out]
    voted = [v for v in entries if rng.random() < turnout]
    for number, voter in enumerate(voted):
        answers = {
            q.id: Choice.yes if rng.random() < leaning else rng.choice([Choice.no, Choice.abstain])
            for q in questions
        }
        voting.enter_paper_ballot(
            session,
            clerk,
            meeting,
            voter_id=voter.id,
            answers=answers,
            scan=_scan(f"Ballot {meeting.id}-{voter.id}"),
            settings=settings,
            now=start + timedelta(minutes=20 * number),
        )
    return len(voted)


def seed_demo_meetings(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        if session.exec(select(Meeting.id).limit(1)).first() is not None:
            return "demo meetings already there"
        manager, resident = _user(session, Role.manager), _user(session, Role.resident)
        if manager is None or resident is None or resident.person_id is None:
            return "no demo users to hold demo meetings"
        today, now = local_today(settings.timezone), utcnow()
        homes = home_apartment_ids(resident.person_id, today).subquery()
        home = session.exec(select(Apartment).where(Apartment.id.in_(select(homes.c.apartment_id)))).first()
        if home is None:
            return "the demo resident has no home to hold a meeting in"
        clerk, rng = Actor.of(manager), random.Random(13)  # noqa: S311 - a repeatable demo, not a secret
        notice = timedelta(days=settings.meetings.notice_days)

        # Last quarter's meeting: noticed, voted on paper, closed; the roof repair adopted.
        drafted = now - timedelta(days=100)
        starts = drafted + notice + timedelta(hours=1)
        ends = starts + timedelta(days=14)
        closed = drafting.draft_meeting(
            session,
            clerk,
            building_id=home.building_id,
            texts=ROOF,
            voting_starts=starts,
            voting_ends=ends,
            now=drafted,
        )
        drafting.add_question(
            session, clerk, closed, kind=DecisionKind.capital_repair, texts=ROOF_QUESTION, now=drafted
        )
        drafting.add_question(
            session, clerk, closed, kind=DecisionKind.ordinary, texts=YARD_QUESTION, now=drafted
        )
        drafting.attach_document(
            session,
            clerk,
            closed,
            title="Roof repair estimate",
            data=_scan("Roof repair estimate: 412,000,000 UZS"),
            settings=settings,
            now=drafted,
        )
        publishing.publish_meeting(session, clerk, closed, settings=settings, now=drafted)
        _vote_on_paper(
            session,
            clerk,
            closed,
            settings=settings,
            start=starts + timedelta(hours=1),
            leave_out=None,
            rng=rng,
            turnout=0.9,
            leaning=0.9,
        )
        closing.close_meeting(session, closed, actor=clerk, settings=settings, now=ends + timedelta(hours=1))

        # This month's meeting: voting open for another week; the demo resident has not voted yet.
        drafted = now - notice - timedelta(days=6)
        starts = drafted + notice + timedelta(hours=1)
        running = drafting.draft_meeting(
            session,
            clerk,
            building_id=home.building_id,
            texts=AUTUMN,
            voting_starts=starts,
            voting_ends=starts + timedelta(days=14),
            now=drafted,
        )
        in_two_months = (today.replace(day=1) + timedelta(days=62)).replace(day=1)
        drafting.add_question(
            session,
            clerk,
            running,
            kind=DecisionKind.management_fee,
            texts=FEE_QUESTION,
            fee_minor=210_000,
            effective_from=in_two_months,
            now=drafted,
        )
        drafting.add_question(
            session, clerk, running, kind=DecisionKind.common_property, texts=ANTENNA_QUESTION, now=drafted
        )
        publishing.publish_meeting(session, clerk, running, settings=settings, now=drafted)
        voted = _vote_on_paper(
            session,
            clerk,
            running,
            settings=settings,
            start=starts + timedelta(hours=1),
            leave_out=resident.person_id,
            rng=rng,
            turnout=0.35,
            leaning=0.7,
        )
    return f"2 demo owners' meetings held (one closed with its protocol, one voting: {voted} paper ballots so far)"
