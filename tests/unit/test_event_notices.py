"""Each event that concerns a resident or staff writes its notice with it, once, to the right people:
request moves and comments, emergencies and escalations, outages and sensor incidents, payments
and refunds, leaks and backwards readings. A cause run twice (a job, a webhook) notifies once;
a cause rolled back leaves no notice."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.models import Gateway, PaymentStatus
from billing.payments import service as payments
from billing.payments import webhooks
from billing.payments.gateway import GatewayEvent, Intent
from housing.accounts.models import Role
from housing.incidents.models import Utility
from housing.incidents.service import plan_outage
from housing.notifications.messages import render
from housing.notifications.models import Notification
from housing.notifications.service import Notice, notify_each
from housing.registry.models import Building
from housing.registry.service import current_manager
from housing.requests import service as requests
from housing.requests.jobs import sweep_deadlines
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestStatus
from sensors.jobs import detect_alerts, detect_incidents
from sensors.models import MeterKind, SensorKind
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_building, make_user
from tests.factories.readings import add_measurements, add_readings, make_meter, make_sensor
from tests.factories.requests import NOON, REOPEN_WINDOW, make_category, make_request, make_resident, move

TASHKENT = ZoneInfo("Asia/Tashkent")
QUARTER = timedelta(minutes=15)


def notices(session: Session, kind: str | None = None) -> list[Notification]:
    session.expire_all()
    query = select(Notification).order_by(Notification.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(session.exec(query))


def in_russian(notice: Notification) -> str:
    words = render(
        kind=notice.kind,
        params=notice.params,
        link=notice.link,
        language="ru",
        site_url="https://uy.example",
        timezone="Asia/Tashkent",
    )
    return f"{words.subject} | {words.text} | {words.url}"


@pytest.fixture
def household(session: Session):
    """An apartment with two resident accounts (owner and tenant) and a neighbour's in another building."""
    apartment = make_apartment(session)
    owner, tenant = make_resident(session, apartment), make_resident(session, apartment, owner=False)
    stranger = make_resident(session)
    session.commit()
    return apartment, owner, tenant, stranger


# Service requests


def test_each_staff_move_tells_the_requester_once_in_their_language(session, household):
    apartment, owner, *_ = household
    request = make_request(session, owner, apartment)
    assert notices(session) == []  # filing it is the resident's own doing
    move(session, request, RequestStatus.accepted, RequestStatus.in_progress)
    session.commit()

    found = notices(session, "request_status")
    assert [(n.user_id, n.params["status"]) for n in found] == [
        (owner.id, "accepted"),
        (owner.id, "in progress"),
    ]
    assert {n.link for n in found} == {f"/requests/{request.id}"}
    assert f"{request.id}: в работе" in in_russian(found[1])  # the status in the reader's words
    assert in_russian(found[1]).endswith(f"https://uy.example/requests/{request.id}")


def test_the_residents_own_reopening_does_not_notify_them(session, household):
    apartment, owner, *_ = household
    request = make_request(session, owner, apartment)
    move(session, request, RequestStatus.accepted, RequestStatus.resolved)
    requests.transition_request(
        session,
        request,
        to=RequestStatus.reopened,
        actor_id=owner.id,
        mover=Mover.resident,
        now=NOON + timedelta(hours=1),
        reopen_window=REOPEN_WINDOW,
        reason="still drips",
    )
    session.commit()
    assert [n.params["status"] for n in notices(session, "request_status")] == ["accepted", "resolved"]


def test_a_deferred_request_coming_back_tells_the_resident_once_however_often_the_sweep_runs(
    db, session, settings, household
):
    apartment, owner, *_ = household
    request = make_request(session, owner, apartment)
    move(session, request, RequestStatus.deferred, reason="parts", until=NOON + timedelta(days=1))
    session.commit()
    later = NOON + timedelta(days=1, minutes=5)
    sweep_deadlines(db, settings, now=later)
    sweep_deadlines(db, settings, now=later)
    assert [n.params["status"] for n in notices(session, "request_status")] == ["deferred", "new"]


def test_a_comment_the_resident_may_read_tells_them_an_internal_one_does_not(session, household):
    apartment, owner, *_ = household
    request = make_request(session, owner, apartment)
    dispatcher = make_user(session, Role.dispatcher, company_id=request.company_id)
    requests.add_comment(
        session, request, author_id=dispatcher.id, body="Internal: call the plumber", internal=True, now=NOON
    )
    requests.add_comment(
        session, request, author_id=dispatcher.id, body="We come  at 10:00", internal=False, now=NOON
    )
    requests.add_comment(session, request, author_id=owner.id, body="Thank you", internal=False, now=NOON)
    session.commit()

    [notice] = notices(session, "request_comment")
    assert notice.user_id == owner.id
    assert notice.params == {
        "number": request.id,
        "author": "the management company",
        "text": "We come at 10:00",
    }
    assert "We come at 10:00" in in_russian(notice)


def test_an_emergency_alerts_the_companys_dispatchers_and_managers_only(session, household):
    apartment, owner, *_ = household
    building = make_building(session)
    company_id = current_manager(session, apartment.building_id, NOON.date())
    dispatcher = make_user(session, Role.dispatcher, company_id=company_id)
    manager = make_user(session, Role.manager, company_id=company_id)
    make_user(session, Role.technician, company_id=company_id)
    other = current_manager(session, building.id, NOON.date())
    make_user(session, Role.dispatcher, company_id=other)
    make_user(session, Role.dispatcher, company_id=company_id).is_active = False
    burst = make_category(session, name="Burst pipe", deadline_minutes=30, emergency=True)

    request = make_request(session, owner, apartment, burst, description="Water <b>everywhere</b>")
    make_request(session, owner, apartment, description="Not urgent")
    session.commit()

    found = notices(session, "staff_emergency")
    assert sorted(n.user_id for n in found) == sorted([dispatcher.id, manager.id])
    assert all(n.urgent and n.link == f"/requests/{request.id}" for n in found)
    assert found[0].params["category"] == "Burst pipe"
    assert found[0].params["text"] == "Water <b>everywhere</b>"  # stored as typed, escaped where shown


def test_an_escalation_alerts_officials_and_the_companys_managers_once(db, session, settings, household):
    apartment, owner, *_ = household
    request = make_request(session, owner, apartment)
    official = make_user(session, Role.official)
    manager = make_user(session, Role.manager, company_id=request.company_id)
    make_user(session, Role.dispatcher, company_id=request.company_id)
    session.commit()
    late = request.deadline_at + settings.requests.escalate_after + timedelta(minutes=1)

    sweep_deadlines(db, settings, now=late)
    sweep_deadlines(db, settings, now=late + timedelta(minutes=1))

    found = notices(session, "staff_escalation")
    assert sorted(n.user_id for n in found) == sorted([official.id, manager.id])
    assert found[0].params["days"] == 3


# Outages and sensor incidents


def test_a_planned_outage_tells_every_resident_of_its_building_only(session, household):
    apartment, owner, tenant, stranger = household
    same_building_elsewhere = make_apartment(session, session.get(Building, apartment.building_id))
    neighbour = make_resident(session, same_building_elsewhere)
    staff = make_user(
        session, Role.dispatcher, company_id=current_manager(session, apartment.building_id, NOON.date())
    )
    starts = datetime(2026, 11, 20, 9, tzinfo=TASHKENT)
    plan_outage(
        session,
        building_id=apartment.building_id,
        utility=Utility.hot_water,
        starts_at=starts,
        ends_at=starts + timedelta(hours=6),
        declared_by_id=staff.id,
        now=NOON,
    )
    session.commit()
    found = notices(session, "outage_planned")
    assert sorted(n.user_id for n in found) == sorted([owner.id, tenant.id, neighbour.id])
    assert stranger.id not in {n.user_id for n in found}
    assert found[0].params["service"] == "Hot water" and found[0].link == "/notices"
    text = in_russian(found[0])
    assert "Горячая вода" in text and "09:00" in text and "15:00" in text  # on the city's clock


def test_a_sensor_incident_tells_the_building_once_however_often_detection_runs(
    db, session, settings, household
):
    apartment, owner, tenant, _ = household
    building = session.get(Building, apartment.building_id)
    sensor = make_sensor(session, SensorKind.hot_water_temperature, building=building)
    nine = datetime(2026, 11, 20, 9, 0, tzinfo=TASHKENT)
    add_measurements(session, sensor, [(nine + i * QUARTER, "45") for i in range(7)])
    session.commit()

    detect_incidents(db, settings, now=nine + timedelta(hours=1, minutes=40))
    detect_incidents(db, settings, now=nine + timedelta(hours=1, minutes=50))

    found = notices(session, "incident")
    assert sorted(n.user_id for n in found) == sorted([owner.id, tenant.id])
    assert all(n.urgent for n in found)


def test_an_episode_already_over_when_detected_notifies_nobody(db, session, settings, household):
    apartment, *_ = household
    sensor = make_sensor(session, SensorKind.hot_water_temperature, apartment=apartment)
    nine = datetime(2026, 11, 20, 9, 0, tzinfo=TASHKENT)
    add_measurements(
        session,
        sensor,
        [(nine + i * QUARTER, v) for i, v in enumerate(["62", "40", "41", "42", "43", "44", "61"])],
    )
    session.commit()
    detect_incidents(db, settings, now=nine + timedelta(hours=3))
    assert notices(session, "incident") == []


# Payments and refunds


def test_a_payment_booked_by_a_webhook_delivered_twice_notifies_once(session, household):
    apartment, owner, tenant, _ = household
    make_billed_invoice(session, apartment, 10_000_000)
    attempt, _ = payments.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=10_000_000, user_id=owner.id
    )
    attempt.external_id = "pi_7"
    intent = Intent(id="pi_7", status=PaymentStatus.succeeded, amount_minor=10_000_000, currency="UZS")
    event = GatewayEvent(id="evt_7", type="payment_intent.succeeded", created=NOON, intent=intent)
    webhooks.handle_event(session, event)
    webhooks.handle_event(session, event)
    webhooks.handle_event(
        session, GatewayEvent(id="evt_8", type="payment_intent.succeeded", created=NOON, intent=intent)
    )
    session.commit()

    found = notices(session, "payment_received")
    assert sorted(n.user_id for n in found) == sorted([owner.id, tenant.id])
    assert found[0].params == {"amount_minor": 10_000_000, "currency": "UZS"}
    assert found[0].link == f"/payments/{attempt.id}"
    assert "100" in in_russian(found[0])


def test_refunds_notify_each_amount_handed_back_once(session, household):
    apartment, owner, *_ = household
    attempt = payments.record_manual_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=30_000_000,
        gateway=Gateway.office,
        reference="R-9",
        paid_at=NOON,
        user_id=None,
    )
    payments.refund_payment(session, None, attempt=attempt, amount_minor=10_000_000, user_id=None, reason="x")
    payments.book_refund_upto(session, attempt, 10_000_000, user_id=None)  # the same total again: nothing
    payments.refund_payment(session, None, attempt=attempt, amount_minor=5_000_000, user_id=None, reason="y")
    session.commit()

    amounts = [
        n.params["amount_minor"] for n in notices(session, "payment_refunded") if n.user_id == owner.id
    ]
    assert amounts == [10_000_000, 5_000_000]
    assert len(notices(session, "payment_received")) == 2  # owner and tenant, for the office payment


def test_a_payment_rolled_back_leaves_no_notice(db: Engine, household):
    apartment, *_ = household
    with Session(db) as session:
        payments.record_manual_payment(
            session,
            apartment_id=apartment.id,
            amount_minor=1_000_000,
            gateway=Gateway.bank,
            reference="B-1",
            paid_at=NOON,
            user_id=None,
        )
        session.rollback()
    with Session(db) as session:
        assert notices(session) == []


# Meter alerts


def night(day: date, start: str, flows: list[str]) -> list[tuple[datetime, Decimal]]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=TASHKENT)
    value, rows = Decimal(start), [(midnight, Decimal(start))]
    for i, flow in enumerate(flows, start=1):
        value += Decimal(flow)
        rows.append((midnight + i * QUARTER, value))
    return rows


def test_a_leak_on_the_residents_own_meter_tells_them_once_a_common_meters_tells_nobody(
    db, session, settings, household
):
    apartment, owner, tenant, _ = household
    own = make_meter(session, apartment=apartment, kind=MeterKind.cold_water)
    common = make_meter(session, kind=MeterKind.cold_water)
    for meter in (own, common):
        add_readings(session, meter, night(date(2026, 11, 20), "100", ["0.004"] * 24))
    session.commit()
    morning = datetime(2026, 11, 20, 6, 10, tzinfo=TASHKENT)
    detect_alerts(db, settings, now=morning)
    detect_alerts(db, settings, now=morning + timedelta(hours=1))

    found = notices(session, "meter_leak")
    assert sorted(n.user_id for n in found) == sorted([owner.id, tenant.id])
    assert found[0].params["meter"] == own.serial and found[0].urgent
    assert found[0].link == f"/apartments/{apartment.id}/meters"


def test_a_backwards_reading_tells_the_resident(db, session, settings, household):
    apartment, owner, *_ = household
    meter = make_meter(session, apartment=apartment, kind=MeterKind.electricity)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    add_readings(session, meter, [(now - timedelta(hours=3), "500"), (now - timedelta(hours=2), "480")])
    session.commit()
    detect_alerts(db, settings, now=now)
    detect_alerts(db, settings, now=now + timedelta(minutes=60))
    found = notices(session, "meter_backwards")
    assert owner.id in {n.user_id for n in found} and len(found) == 2


def test_the_dispatcher_filing_an_emergency_after_a_call_is_not_alerted_of_it(session, household):
    apartment, owner, *_ = household
    company_id = current_manager(session, apartment.building_id, NOON.date())
    caller_taker = make_user(session, Role.dispatcher, company_id=company_id)
    colleague = make_user(session, Role.dispatcher, company_id=company_id)
    burst = make_category(session, deadline_minutes=30, emergency=True)
    make_request(session, owner, apartment, burst, filed_by_id=caller_taker.id)
    session.commit()
    assert [n.user_id for n in notices(session, "staff_emergency")] == [colleague.id]


def test_a_deduplicated_batch_counts_only_its_new_notices(session):
    """What a job reports ("3 reminders sent") is the rows written, on PostgreSQL too (whose
    driver answers -1 for a batch's row count)."""
    users = [make_resident(session) for _ in range(3)]
    batch = [Notice(user.id, {"amount": "1"}, "/invoices") for user in users]
    now = datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert notify_each(session, batch, kind="payment_overdue", dedupe="overdue:7", now=now) == 3
    assert notify_each(session, batch, kind="payment_overdue", dedupe="overdue:7", now=now) == 0
    assert notify_each(session, batch[:1], kind="payment_overdue", dedupe="overdue:8", now=now) == 1
    assert len(notices(session, "payment_overdue")) == 4
