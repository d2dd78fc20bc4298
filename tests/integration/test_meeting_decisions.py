"""Owners' decisions take effect on their day, with no manual step (issue 13).

A decision to change the management company, under a frozen clock across its effective date:
the evening before, the old company sees the building's requests, meters, apartments and
invoices and the new one does not; from local midnight it is the other way round, the new
company's dispatcher assigns its own technician to the request filed with the old one, the
quality score's apartments move, and the next invoice is the new company's (its number in the
new company's sequence) at the new company's fee.

Played twice: once with the decision and the register's change made directly (as a closed
meeting leaves them), once through a real meeting (published, voted, closed by
`close_meeting`) that decides the new company and its fee from the same day.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.models import Basis, Invoice, InvoiceLine, Service
from billing.runs.service import run_billing
from housing.accounts.models import Role
from housing.clock import month
from housing.db import session_scope
from housing.meetings import closing, drafting, publishing
from housing.meetings.models import BuildingDecision
from housing.meetings.rules import Choice, DecisionKind, Outcome
from housing.notifications.models import Notification
from housing.registry.models import Building, Person
from housing.registry.service import change_management, current_manager
from housing.requests.service import escalate_overdue
from housing.scores.inputs import count_inputs
from housing.settings import Settings
from tests.conftest import FrozenClock
from tests.factories import meetings as meeting_factories
from tests.factories.billing import make_tariff
from tests.factories.core import login, make_apartment, make_building, make_company, make_owner, make_user
from tests.factories.decisions import make_decision
from tests.factories.requests import make_request
from tests.factories.sensors import make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
AREA = Decimal("54.30")


@dataclass
class Handover:
    """One building, two companies with their staff, and what the old company had there."""

    building_id: int
    old_id: int
    new_id: int
    apartment_ids: list[int]
    owner_ids: list[int]
    request_id: int
    meter_id: int
    old_staff: str  # user names
    new_staff: str
    new_technician_id: int
    manager_ids: dict[str, int]  # "old", "new": a manager of each company


def management_fee(session: Session, company_id: int, price_minor: int) -> None:
    """The company's own management fee (tiyin a m2) from 1 January 2026."""
    management = session.exec(select(Service).where(Service.code == "management")).one()
    make_tariff(
        session,
        management,
        basis=Basis.per_m2,
        valid_from=date(2026, 1, 1),
        price_minor=price_minor,
        company_id=company_id,
    )


def handover_city(db: Engine, filed_at: datetime) -> Handover:
    """A building of the old company (its own fee 2,000 UZS a m2) with two owned flats, a
    meter and a request filed with the old company; the new company's fee is 2,100 UZS a m2."""
    with Session(db, expire_on_commit=False) as session:
        old, new = make_company(session, name="Eski Servis"), make_company(session, name="Yangi Servis")
        management_fee(session, old.id, 200_000)
        management_fee(session, new.id, 210_000)
        building = make_building(session, old)
        flats = [make_apartment(session, building, area_m2=AREA) for _ in range(2)]
        owners = [make_owner(session, flat) for flat in flats]
        resident = make_user(session, Role.resident, person_id=owners[0].id)
        request = make_request(session, resident, flats[0], now=filed_at)
        meter = make_meter(session, apartment=flats[0])
        old_staff = make_user(session, Role.dispatcher, company_id=old.id)
        new_staff = make_user(session, Role.dispatcher, company_id=new.id)
        technician = make_user(session, Role.technician, company_id=new.id)
        managers = {
            "old": make_user(session, Role.manager, company_id=old.id).id,
            "new": make_user(session, Role.manager, company_id=new.id).id,
        }
        session.commit()
        return Handover(
            building_id=building.id,
            old_id=old.id,
            new_id=new.id,
            apartment_ids=[f.id for f in flats],
            owner_ids=[o.id for o in owners],
            request_id=request.id,
            meter_id=meter.id,
            old_staff=old_staff.username,
            new_staff=new_staff.username,
            new_technician_id=technician.id,
            manager_ids=managers,
        )


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TASHKENT)


def sees(client: TestClient, username: str, city: Handover) -> dict[str, bool]:
    """What a staff member sees of the building now: its request, meter, flat and building
    (each one by id and in its list)."""
    headers = login(client, username)  # a token of this moment (the clock moves weeks)

    def found(path: str) -> bool:
        status = client.get(path, headers=headers).status_code
        assert status in (200, 404), (path, status)
        return status == 200

    def listed(path: str, wanted: int) -> bool:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return wanted in [item["id"] for item in response.json()["items"]]

    flat = city.apartment_ids[0]
    return {
        "request": found(f"/api/v1/requests/{city.request_id}"),
        "requests": listed("/api/v1/requests", city.request_id),
        "meter": found(f"/api/v1/meters/{city.meter_id}"),
        "meters": listed("/api/v1/meters", city.meter_id),
        "apartment": found(f"/api/v1/apartments/{flat}"),
        "building": found(f"/api/v1/buildings/{city.building_id}"),
    }


EVERYTHING = dict.fromkeys(("request", "requests", "meter", "meters", "apartment", "building"), True)
NOTHING = dict.fromkeys(EVERYTHING, False)


def check_the_handover(client: TestClient, db: Engine, clock: FrozenClock, city: Handover, day: date) -> None:
    """The evening before `day` the old company has the building; from its midnight the new one."""
    clock.set(local(day) - timedelta(minutes=1))
    assert sees(client, city.old_staff, city) == EVERYTHING
    assert sees(client, city.new_staff, city) == NOTHING

    clock.set(local(day))
    assert sees(client, city.new_staff, city) == EVERYTHING
    assert sees(client, city.old_staff, city) == NOTHING
    new_staff = login(client, city.new_staff)
    assigned = client.put(
        f"/api/v1/requests/{city.request_id}/assignment",
        json={"assignee_id": city.new_technician_id},
        headers=new_staff,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == city.new_technician_id

    with session_scope(db) as session:  # the deadline sweep escalates the request, days overdue
        assert (
            escalate_overdue(session, now=clock.moment, after=timedelta(days=3), timezone="Asia/Tashkent")
            == 1
        )
    with Session(db) as session:
        told = session.exec(select(Notification.user_id).where(Notification.kind == "staff_escalation")).all()
        assert city.manager_ids["new"] in told
        assert city.manager_ids["old"] not in told
        assert current_manager(session, city.building_id, day) == city.new_id
        # The quality score's apartment-months move with the building from the same day
        tallies = count_inputs(session, [month(day, "Asia/Tashkent")], as_of=local(day, 12))
        managed = tallies[day.replace(day=1)]
        assert managed[city.new_id]["incident_hours"].sample_size == len(city.apartment_ids)


def management_line(session: Session, apartment_id: int, period: date) -> tuple[Invoice, InvoiceLine]:
    return session.exec(
        select(Invoice, InvoiceLine)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(Invoice.apartment_id == apartment_id, Invoice.period == period, Service.code == "management")
    ).one()


def bill(db: Engine, clock: FrozenClock, period: date, today: date) -> None:
    """The monthly run on the 1st at 02:00, as the scheduler runs it."""
    clock.set(local(today, 2))
    with session_scope(db) as session:
        summary = run_billing(session, period=period, today=today)
    assert summary.issued > 0


def test_a_company_change_moves_the_building_on_its_day_and_the_next_invoice_is_the_new_companys(
    frozen_clock: FrozenClock, db: Engine, client: TestClient, tashkent_tariffs: None
) -> None:
    november = date(2026, 11, 1)
    frozen_clock.set(local(date(2026, 10, 20), 12))
    city = handover_city(db, frozen_clock.moment)
    with Session(db) as session:
        building = session.get(Building, city.building_id)
        make_decision(
            session,
            building,
            kind=DecisionKind.management_company,
            effective_from=november,
            company_id=city.new_id,
        )
        change_management(session, building, company_id=city.new_id, valid_from=november)
        session.commit()

    check_the_handover(client, db, frozen_clock, city, november)

    bill(db, frozen_clock, date(2026, 10, 1), november)  # October: still the old company's month
    bill(db, frozen_clock, november, date(2026, 12, 1))
    with Session(db) as session:
        october, october_fee = management_line(session, city.apartment_ids[0], date(2026, 10, 1))
        assert (october.company_id, october_fee.amount_minor) == (city.old_id, 10_860_000)  # 54.30 x 2,000
        invoice, fee = management_line(session, city.apartment_ids[0], november)
        assert (invoice.company_id, fee.amount_minor) == (city.new_id, 11_403_000)  # 54.30 x 2,100
        assert invoice.number == "2026-000001"  # the first in the new company's sequence
    # The account's invoices go with the apartment (billing/invoices/queries.py): the new company
    # reads its own November invoice beside the old company's October one
    invoices = client.get("/api/v1/invoices", headers=login(client, city.new_staff)).json()["items"]
    mine = {
        (i["period"], i["company_id"], i["number"])
        for i in invoices
        if i["apartment_id"] == city.apartment_ids[0]
    }
    assert mine == {("2026-10-01", city.old_id, "2026-000001"), ("2026-11-01", city.new_id, "2026-000001")}


def test_a_closed_meeting_hands_the_building_over_with_its_decided_fee(
    frozen_clock: FrozenClock, db: Engine, client: TestClient, settings: Settings, tashkent_tariffs: None
) -> None:
    """A real meeting: the owners choose the new company and its fee (2,200 UZS a m2), both from
    1 December; `close_meeting` writes the decisions and the register's change."""
    december = date(2026, 12, 1)
    frozen_clock.set(meeting_factories.DRAFTED)
    city = handover_city(db, meeting_factories.DRAFTED)
    with Session(db, expire_on_commit=False) as session:
        building = session.get(Building, city.building_id)
        manager = meeting_factories.staff(session, city.old_id)
        meeting = meeting_factories.draft(session, manager, building, kinds=())
        for kind, fields in (
            (DecisionKind.management_company, {"company_id": city.new_id}),
            (DecisionKind.management_fee, {"fee_minor": 220_000}),
        ):
            drafting.add_question(
                session,
                manager,
                meeting,
                kind=kind,
                texts={"en": (str(kind), "")},
                effective_from=december,
                now=meeting_factories.DRAFTED,
                **fields,
            )
        publishing.publish_meeting(
            session, manager, meeting, settings=settings, now=meeting_factories.DRAFTED
        )
        for owner_id in city.owner_ids:
            owner = meeting_factories.resident(session, session.get_one(Person, owner_id))
            meeting_factories.vote(session, owner, meeting, Choice.yes)
        count = closing.close_meeting(
            session, meeting, actor=None, settings=settings, now=meeting_factories.AFTER
        )
        session.commit()
        outcomes = [q.outcome for q in meeting_factories.questions(session, meeting)]
        assert outcomes == [Outcome.adopted, Outcome.adopted], count
        decisions = session.exec(
            select(BuildingDecision.kind).where(BuildingDecision.meeting_id == meeting.id)
        ).all()
        assert sorted(decisions) == sorted([DecisionKind.management_company, DecisionKind.management_fee])

    check_the_handover(client, db, frozen_clock, city, december)

    bill(db, frozen_clock, december, date(2027, 1, 1))
    with Session(db) as session:
        invoice, fee = management_line(session, city.apartment_ids[0], december)
        assert (invoice.company_id, fee.amount_minor) == (city.new_id, 11_946_000)  # 54.30 x 2,200 decided
        assert invoice.number == "2026-000001"
        assert fee.explanation["building_fee"][0]["price_minor"] == 220_000
