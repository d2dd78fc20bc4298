"""The twin's shared facts: each counts what it promises and nothing beside it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.models import LedgerKind
from housing.incidents.models import IncidentSource, Utility
from housing.incidents.service import close_incident, open_incident
from housing.requests.models import RequestStatus
from housing.twin import facts
from sensors.models import Alert, AlertKind
from tests.factories.billing import make_billed_invoice, make_ledger_entry
from tests.factories.core import make_apartment, make_building
from tests.factories.readings import make_meter
from tests.factories.requests import NOON, make_category, make_request, make_resident, move

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def _cold(
    session, apartment, *, started_at=T0, utility=Utility.heating, source=IncidentSource.sensor, whole=False
):
    return open_incident(
        session,
        building_id=apartment.building_id,
        apartment_id=None if whole else apartment.id,
        utility=utility,
        source=source,
        origin=f"sensor:{apartment.id}:{utility}:{source}:{whole}",
        started_at=started_at,
        deviation=Decimal("2.50"),
    )


def test_a_cold_flat_is_an_open_heating_incident_of_an_apartment_sensor(session):
    building = make_building(session)
    longest, later, warm_again, hot_water, planned, whole = (
        make_apartment(session, building) for _ in range(6)
    )
    _cold(session, later, started_at=T0 + timedelta(hours=2))
    _cold(session, longest, started_at=T0)
    close_incident(session, _cold(session, warm_again), ended_at=T0 + timedelta(hours=3))
    _cold(session, hot_water, utility=Utility.hot_water)
    _cold(session, planned, source=IncidentSource.planned)
    _cold(session, whole, whole=True)
    elsewhere = make_apartment(session)
    _cold(session, elsewhere)

    mine = facts.cold_flats(session, [building.id])
    assert [(f.apartment_id, f.since, f.deviation) for f in mine] == [
        (longest.id, T0, Decimal("2.50")),
        (later.id, T0 + timedelta(hours=2), Decimal("2.50")),
    ]
    assert {f.apartment_id for f in facts.cold_flats(session)} == {longest.id, later.id, elsewhere.id}
    assert facts.cold_flats(session, []) == []
    assert set(facts.by_building(facts.cold_flats(session))) == {building.id, elsewhere.building_id}


def test_an_overdue_request_is_open_and_past_its_deadline(session):
    building = make_building(session)
    category = make_category(session, deadline_minutes=60)
    apartment = make_apartment(session, building)
    resident = make_resident(session, apartment)
    filed = [make_request(session, resident, apartment, category, now=NOON) for _ in range(4)]
    move(session, filed[1], RequestStatus.accepted)  # still open
    move(session, filed[2], RequestStatus.accepted, RequestStatus.resolved)  # done
    move(session, filed[3], RequestStatus.deferred, reason="parts ordered", until=NOON + timedelta(days=3))
    deadline = filed[0].deadline_at

    assert facts.overdue_requests(session, deadline, [building.id]) == {}  # at the deadline: not yet
    after = deadline + timedelta(seconds=1)
    assert facts.overdue_requests(session, after, [building.id]) == {building.id: 2}
    assert facts.overdue_requests(session, after, [building.id + 1]) == {}
    assert facts.overdue_requests(session, after) == {building.id: 2}
    assert [r.id for r in facts.open_requests(session, [building.id])] == [filed[0].id, filed[1].id]


def test_a_debt_past_due_owes_now_on_an_invoice_due_before_today(session):
    building = make_building(session)
    owing, due_today, paid_up, in_credit = (make_apartment(session, building) for _ in range(4))
    day = date(2026, 11, 16)
    make_billed_invoice(session, owing, 500_000, due_date=date(2026, 11, 15))
    make_billed_invoice(session, due_today, 500_000, due_date=day)
    make_billed_invoice(session, paid_up, 500_000, due_date=date(2026, 11, 15))
    make_ledger_entry(session, paid_up, kind=LedgerKind.payment, amount_minor=-500_000)
    make_billed_invoice(session, in_credit, 500_000, due_date=date(2026, 11, 15))
    make_ledger_entry(session, in_credit, kind=LedgerKind.payment, amount_minor=-700_000)
    elsewhere = make_apartment(session)
    make_billed_invoice(session, elsewhere, 100, due_date=date(2026, 10, 15))

    assert facts.debts_past_due(session, day, [building.id]) == {owing.id: 500_000}
    assert facts.debts_past_due(session, day) == {owing.id: 500_000, elsewhere.id: 100}
    assert facts.debts_past_due(session, day + timedelta(days=1), [building.id]) == {
        owing.id: 500_000,
        due_today.id: 500_000,
    }


def test_open_alerts_leave_closed_ones_out(session):
    building = make_building(session)
    apartment = make_apartment(session, building)
    flat_meter = make_meter(session, apartment=apartment)
    common = make_meter(session, building=building)
    session.add(Alert(meter_id=flat_meter.id, kind=AlertKind.leak, opened_at=T0, detail="night flow"))
    session.add(Alert(meter_id=common.id, kind=AlertKind.stale, opened_at=T0 + timedelta(hours=1)))
    session.add(
        Alert(
            meter_id=flat_meter.id, kind=AlertKind.backwards, opened_at=T0, closed_at=T0 + timedelta(hours=1)
        )
    )
    session.flush()

    found = facts.open_alerts(session, [building.id])
    assert [(a.apartment_id, a.kind, a.detail) for a in found] == [
        (apartment.id, AlertKind.leak, "night flow"),
        (None, AlertKind.stale, ""),
    ]
    assert facts.open_alerts(session, [building.id + 1]) == []
