"""One rule, one place: change a configurable rule in settings and every consumer follows.

Each test builds the app, the jobs and billing from the same `Settings` (the `settings`
fixture below, changed per case) and checks the detector, billing, the jobs and the pages
against it; a consumer that kept its own copy of a number fails the changed cases.
"""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.jobs import daily_penalties, monthly_billing
from billing.ledger.service import penalty_key
from billing.models import Invoice, InvoiceLine, LedgerEntry, LedgerKind, Service
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing import scheduler
from housing.i18n import LANGUAGE_COOKIE
from housing.incidents.models import IncidentSource, ServiceIncident
from housing.requests import jobs as request_jobs
from housing.requests import service as request_service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestStatus, ServiceRequest
from housing.settings import Settings
from sensors.jobs import detect_incidents
from sensors.models import MeterKind, SensorKind
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import PASSWORD, make_apartment
from tests.factories.readings import add_measurements, make_sensor
from tests.factories.requests import make_category
from tests.factories.scores import add_incident
from tests.factories.sensors import make_meter
from tests.pages import log_in

API = "/api/v1"
TASHKENT = ZoneInfo("Asia/Tashkent")
QUARTER = timedelta(minutes=15)
OCTOBER = date(2026, 10, 1)
NOVEMBER_1 = date(2026, 11, 1)


@pytest.fixture
def groups() -> dict:
    """The setting groups a test changes; the default case changes nothing."""
    return {}


@pytest.fixture
def settings(database_url: str, groups: dict) -> Settings:
    return make_settings(database_url, **groups)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def page_as(client, username: str):
    answer = log_in(client, username, PASSWORD)
    assert answer.status_code == 200, answer.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


def half_up(value: Fraction) -> int:
    return int(Decimal(value.numerator / value.denominator).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def hot_water_line(session: Session, apartment_id: int) -> InvoiceLine:
    session.expire_all()
    return session.exec(
        select(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(Invoice.apartment_id == apartment_id, Service.code == "hot_water")
    ).one()


# Hot water: the norm, the tolerance, the steps and the cold-water threshold


@pytest.mark.parametrize(
    ("groups", "norm", "step_c", "rate", "cold_below"),
    [
        ({}, 60, 3, Fraction(1, 1000), 40),
        ({"meters": {"hot_water_min_c": 65}}, 65, 3, Fraction(1, 1000), 40),
        ({"meters": {"hot_water_min_c": 55}}, 55, 3, Fraction(1, 1000), 40),
        ({"meters": {"hot_water_min_c": 65, "hot_water_cold_below_c": "45"}}, 65, 3, Fraction(1, 1000), 45),
        (
            {"meters": {"hot_water_step_c": "1", "hot_water_step_deduction": "0.002"}},
            60,
            1,
            Fraction(2, 1000),
            40,
        ),
    ],
    ids=["defaults", "norm-65", "norm-55", "cold-below-45", "step-1C-0.2%"],
)
def test_the_hot_water_rules_move_the_detector_billing_and_the_pages(
    client, session: Session, db: Engine, settings: Settings, city: City, norm, step_c, rate, cold_below
):
    """Building A's water runs at 57 C for 3 hours, building B's at 42 C; each flat is billed by the norm."""
    allowed = 5  # HOUSING_METERS__HOT_WATER_ALLOWED_DEVIATION_C, unchanged here
    seed_tashkent_tariffs(db)
    start = datetime(2026, 10, 20, 9, 0, tzinfo=TASHKENT)
    warm = make_sensor(session, SensorKind.hot_water_temperature, building=city.building_a)
    cool = make_sensor(session, SensorKind.hot_water_temperature, building=city.building_b)
    for sensor, value in ((warm, "57"), (cool, "42")):
        add_measurements(
            session,
            sensor,
            [(start + i * QUARTER, value) for i in range(12)] + [(start + 12 * QUARTER, "70")],
        )
    session.commit()

    detect_incidents(db, settings, now=start + timedelta(hours=4))

    session.expire_all()
    found = {i.building_id: i for i in session.exec(select(ServiceIncident))}
    for building, temperature in ((city.building_a, 57), (city.building_b, 42)):
        incident = found.get(building.id)
        if temperature >= norm - allowed:
            assert incident is None, f"{temperature} C is within the {norm} C norm's tolerance"
            continue
        assert incident is not None, f"{temperature} C is below {norm} - {allowed} C"
        assert incident.deviation == Decimal(norm - temperature)
        assert incident.ended_at - incident.started_at == timedelta(hours=3)

    monthly_billing(db, settings, today=NOVEMBER_1)

    for apartment, temperature in ((city.home, 57), (city.far_away, 42)):
        line = hot_water_line(session, apartment.id)
        if temperature >= norm - allowed:
            assert line.deduction_minor == 0
            assert "cold_water" not in line.explanation
            continue
        if temperature < cold_below:  # the hours are repriced as cold water, nothing else comes off
            assert line.explanation["cold_water_hours"] == "3"
            assert f"below {cold_below} C billed as cold water" in line.explanation["cold_water"]
            assert line.deduction_minor == 0
            continue
        assert "cold_water" not in line.explanation  # billing sees the temperature the detector saw
        steps = Fraction(norm - temperature - allowed, step_c)
        assert line.deduction_minor == half_up(line.amount_minor * 3 * steps * rate)
        assert f"3 h at {norm - temperature} C below {norm} C" in line.deduction_reason

    official = page_as(client, "official")
    page = text(official.get("/city/incidents?period=2026-10").text)
    for temperature in (57, 42):
        if temperature < norm - allowed:
            assert f"{norm - temperature} C below the {norm} C norm" in page


def test_the_invoice_page_explains_the_deduction_with_the_configured_norm(
    client, session: Session, db: Engine, city: City, database_url: str
):
    """The resident reads the norm the run was given, on the page and in the API."""
    seed_tashkent_tariffs(db)
    add_incident(
        session,
        city.building_a,
        origin="sensor:HW-1",
        started=datetime(2026, 10, 20, 9, tzinfo=TASHKENT),
        ended=datetime(2026, 10, 20, 19, tzinfo=TASHKENT),
        deviation=Decimal(14),  # 58 C against a 72 C norm
    )
    session.commit()
    monthly_billing(db, make_settings(database_url, meters={"hot_water_min_c": 72}), today=NOVEMBER_1)

    line = hot_water_line(session, city.home.id)
    assert "10 h at 14 C below 72 C, 9 C beyond the allowed deviation" in line.deduction_reason
    resident = page_as(client, "resident")
    page = resident.get(f"/invoices/{line.invoice_id}")
    assert page.status_code == 200
    assert "below 72 C" in page.text


# Late penalties: the rate, the cap and the due day


@pytest.mark.parametrize(
    ("groups", "expected", "shown"),
    [
        ({}, [1_000, 1_000, 1_000, 1_000, 1_000], "0.1%"),
        ({"billing": {"penalty_rate": "0.004"}}, [4_000, 4_000, 4_000, 4_000, 4_000], "0.4%"),
        ({"billing": {"penalty_rate": "0.004", "penalty_cap": "0.01"}}, [4_000, 4_000, 2_000], "0.4%"),
        ({"billing": {"penalty_cap": "0"}}, [], None),
        ({"billing": {"penalty_rate": "0.0005", "penalty_cap": "1"}}, [500, 500, 500, 500, 500], "0.05%"),
    ],
    ids=["defaults", "organisation-rate", "cap-1%", "no-penalty", "half-rate"],
)
def test_the_penalty_job_books_the_configured_rate_up_to_the_configured_cap(
    session: Session, db: Engine, settings: Settings, expected, shown
):
    apartment = make_apartment(session)
    invoice = make_billed_invoice(session, apartment, 1_000_000)  # October's, due on 15 November
    session.commit()

    for day in range(15, 21):  # the due day itself books nothing
        daily_penalties(db, settings, today=date(2026, 11, day))
        daily_penalties(db, settings, today=date(2026, 11, day))  # a second run adds nothing

    session.expire_all()
    entries = session.exec(
        select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.penalty).order_by(LedgerEntry.occurred_at)
    ).all()
    assert [e.amount_minor for e in entries] == expected
    assert [e.dedupe_key for e in entries] == [
        penalty_key(invoice.id, date(2026, 11, 16 + i)) for i in range(len(expected))
    ]
    assert all(e.reference.startswith(f"{shown} of 1000000 tiyin overdue") for e in entries)


@pytest.mark.parametrize(("groups", "due_day"), [({}, 15), ({"billing": {"due_day": 25}}, 25)])
def test_invoices_are_due_on_the_configured_day_and_late_from_the_day_after(
    session: Session, db: Engine, settings: Settings, frozen_clock, due_day
):
    seed_tashkent_tariffs(db)
    apartment = make_apartment(session)
    session.commit()

    frozen_clock.at(NOVEMBER_1, 2)  # issued on time: the due day, not the minimum time to pay, decides
    monthly_billing(db, settings, today=NOVEMBER_1)

    invoice = session.exec(select(Invoice).where(Invoice.apartment_id == apartment.id)).one()
    assert invoice.due_date == date(2026, 11, due_day)
    assert daily_penalties(db, settings, today=date(2026, 11, due_day)).endswith(": 0 entries added")
    assert daily_penalties(db, settings, today=date(2026, 11, due_day + 1)).endswith(": 1 entries added")


# Requests: the emergency deadline


@pytest.mark.parametrize(
    ("groups", "minutes"),
    [
        ({}, 30),
        ({"requests": {"emergency_deadline_minutes": 10}}, 10),
        ({"requests": {"emergency_deadline_minutes": 45}}, 45),
    ],
)
def test_the_emergency_deadline_moves_filing_resuming_open311_and_the_call_form(
    frozen_clock, client, app, session: Session, db: Engine, settings: Settings, city: City, minutes
):
    tight = make_category(session, code="quick", name="Quick", deadline_minutes=20)
    emergency_category = make_category(
        session, code="burst_pipe", name="Burst pipe", deadline_minutes=24 * 60, emergency=True
    )
    session.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    frozen_clock.set(now)

    def filed(category_id: int, emergency: bool) -> timedelta:
        body = {"apartment_id": city.home.id, "category_id": category_id, "emergency": emergency}
        answer = client.post(
            f"{API}/requests",
            json=body | {"description": f"Water everywhere {category_id} {emergency}"},
            headers=city.headers["resident"],
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        return datetime.fromisoformat(created["deadline_at"]) - datetime.fromisoformat(created["created_at"])

    assert filed(city.category.id, True) == timedelta(minutes=minutes)  # a 1-day category
    assert filed(city.category.id, False) == timedelta(days=1)
    assert filed(tight.id, True) == timedelta(minutes=min(20, minutes))  # the tighter of the two

    # A deferred emergency comes back with a fresh emergency deadline, from the job.
    request = session.get(ServiceRequest, city.home_request.id)
    request.emergency = True
    request_service.transition_request(
        session,
        request,
        to=RequestStatus.deferred,
        actor_id=city.users["dispatcher"],
        mover=Mover.staff,
        now=now,
        reopen_window=settings.requests.reopen_window,
        emergency_deadline=settings.requests.emergency_deadline,
        reason="parts ordered",
        until=now + timedelta(hours=1),
    )
    session.commit()
    back = now + timedelta(hours=2)
    request_jobs.sweep_deadlines(db, settings, now=back)
    session.expire_all()
    resumed = session.get(ServiceRequest, city.home_request.id)
    assert resumed.deadline_at.astimezone(UTC) == (back + timedelta(minutes=minutes)).astimezone(UTC)

    services = client.get("/open311/v2/services.json").json()
    [burst] = [s for s in services if s["service_code"] == emergency_category.code]
    assert (
        burst["description"] == f"Emergency: the management company must contain it within {minutes} minutes"
    )

    dispatcher = page_as(client, "dispatcher")
    form = dispatcher.get("/console/requests/new", params={"building_id": city.building_a.id})
    assert form.status_code == 200
    assert f"Emergency: contain within {minutes} minutes" in form.text


# Outage allowances


@pytest.mark.parametrize(
    ("groups", "allowed_hours"),
    [({}, 4), ({"outages": {"hot_water_hours": 12}}, 12), ({"outages": {"hot_water_hours": 9.5}}, 9.5)],
)
def test_the_outage_allowance_moves_the_building_list_the_city_page_and_its_csv(
    client, session: Session, settings: Settings, city: City, allowed_hours
):
    incident = add_incident(  # 10 hours without hot water
        session,
        city.building_a,
        origin="sensor:HW-1",
        started=datetime(2026, 10, 20, 9, tzinfo=TASHKENT),
        ended=datetime(2026, 10, 20, 19, tzinfo=TASHKENT),
        deviation=Decimal(30),
    )
    session.commit()
    over = allowed_hours < 10

    listed = client.get(f"{API}/buildings/{city.building_a.id}/incidents", headers=city.headers["admin"])
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["allowed_hours"], item["over_allowance"]) == (allowed_hours, over)

    official = page_as(client, "official")
    page = official.get("/city/incidents?period=2026-10")
    row = text(re.search(rf'<tr data-incident="{incident.id}"[^>]*>(.*?)</tr>', page.text, re.S).group(1))
    assert f"{allowed_hours:g} h" in row
    assert ("over the allowance" in row) is over
    exported = list(csv.DictReader(io.StringIO(official.get("/city/incidents.csv?period=2026-10").text)))
    assert [r["over_allowance"] for r in exported] == ["yes" if over else "no"]


@pytest.mark.parametrize(
    ("groups", "cold_days"),
    [
        ({}, 0),
        ({"outages": {"planned_hot_water_hours": 240}}, 2),
        ({"outages": {"planned_hot_water_hours": 1}}, Fraction(287, 24)),
    ],
)
def test_billing_deducts_a_planned_outage_only_beyond_the_configured_allowance(
    session: Session, db: Engine, settings: Settings, cold_days
):
    """A 12-day planned hot-water outage; beyond its allowance the hours are billed as cold water."""
    seed_tashkent_tariffs(db)
    apartment = make_apartment(session, registered_residents=3)
    begins = datetime(2026, 10, 1, tzinfo=TASHKENT)
    add_incident(
        session,
        building_id=apartment.building_id,
        source=IncidentSource.planned,
        origin="staff",
        started=begins,
        ended=begins + timedelta(days=12),
        deviation=Decimal(40),
    )
    session.commit()

    monthly_billing(db, settings, today=NOVEMBER_1)

    line = hot_water_line(session, apartment.id)
    hot, cold = 18_000_000, 14_705_880  # 3 people x 60,000 and x 49,019.60 UZS
    share = Fraction(cold_days) / 31
    assert line.amount_minor == half_up(hot * (1 - share) + cold * share)


# The city's calendar: one time zone for pages and jobs


class _Recorded(scheduler.BlockingScheduler):
    """The real scheduler, with the jobs `run_forever` adds kept instead of run."""

    started: "list[_Recorded]" = []

    def start(self, *args, **kwargs) -> None:
        _Recorded.started.append(self)


@pytest.mark.parametrize(
    ("groups", "zone"),
    [
        ({}, "Asia/Tashkent"),
        ({"timezone": "Europe/Moscow"}, "Europe/Moscow"),
        ({"timezone": "America/New_York"}, "America/New_York"),
    ],
)
def test_every_calendar_job_runs_on_the_configured_time_zone(
    monkeypatch, tmp_path, db: Engine, settings: Settings, zone
):
    settings.scheduler.heartbeat_file = tmp_path / "heartbeat"
    monkeypatch.setattr(scheduler, "BlockingScheduler", _Recorded)
    monkeypatch.setattr(scheduler.signal, "signal", lambda *args: None)
    _Recorded.started.clear()

    scheduler.run_forever(settings)

    [started] = _Recorded.started
    city = ZoneInfo(zone)
    assert str(started.timezone) == zone
    jobs = {job.id: job for job in started.get_jobs()}
    assert set(jobs) == {job.name for job in scheduler.JOBS} | {"start-up"}  # the catch-up at start
    calendar = [job.name for job in scheduler.JOBS if isinstance(job.trigger, scheduler.Cron)]
    assert len(calendar) >= 5
    for name in calendar:
        assert str(jobs[name].trigger.timezone) == zone, name
    billing_run = jobs["monthly-billing"].trigger.get_next_fire_time(None, datetime(2026, 11, 15, tzinfo=UTC))
    assert billing_run == datetime(2026, 12, 1, 2, 0, tzinfo=city)
    penalties = jobs["daily-penalties"].trigger.get_next_fire_time(
        None, datetime(2026, 11, 15, 12, tzinfo=UTC)
    )
    assert penalties.astimezone(city).time().isoformat() == "01:30:00"
    assert settings.scheduler.timezone == zone  # the deprecated name reads the same zone


def test_a_second_time_zone_for_the_job_calendar_is_refused(database_url):
    with pytest.raises(ValidationError, match="HOUSING_SCHEDULER__TIMEZONE"):
        make_settings(database_url, timezone="Asia/Tashkent", scheduler={"timezone": "UTC"})
    same = make_settings(database_url, timezone="UTC", scheduler={"timezone": "UTC"})
    assert (same.timezone, same.scheduler.timezone) == ("UTC", "UTC")
    with pytest.raises(ValidationError, match="IANA time zone"):
        make_settings(database_url, timezone="Tashkent")


# Requests: the reopen window and escalation


@pytest.mark.parametrize(("groups", "days"), [({}, 7), ({"requests": {"reopen_days": 1}}, 1)])
def test_the_reopen_window_follows_the_setting(frozen_clock, client, app, session: Session, city: City, days):
    now = datetime.now(UTC).replace(microsecond=0)
    frozen_clock.set(now)
    resolved = city.home_request
    for to in ("accepted", "resolved"):
        answer = client.post(
            f"{API}/requests/{resolved.id}/transitions", json={"to": to}, headers=city.headers["dispatcher"]
        )
        assert answer.status_code == 201, answer.text

    def reopen_after(elapsed: timedelta) -> int:
        frozen_clock.set(now + elapsed)
        answer = client.post(
            f"{API}/requests/{resolved.id}/transitions",
            json={"to": "reopened", "reason": "drips again"},
            headers=city.headers["resident"],
        )
        return answer.status_code

    assert reopen_after(timedelta(days=days, hours=1)) == 409
    assert reopen_after(timedelta(days=days) - timedelta(hours=1)) == 201


@pytest.mark.parametrize(("groups", "days"), [({}, 3), ({"requests": {"escalate_after_days": 1}}, 1)])
def test_escalation_follows_the_setting(session: Session, db: Engine, settings: Settings, city: City, days):
    deadline = city.home_request.deadline_at
    request_jobs.sweep_deadlines(db, settings, now=deadline + timedelta(days=days) - timedelta(minutes=1))
    session.expire_all()
    assert session.get(ServiceRequest, city.home_request.id).escalated is False
    request_jobs.sweep_deadlines(db, settings, now=deadline + timedelta(days=days, minutes=1))
    session.expire_all()
    assert session.get(ServiceRequest, city.home_request.id).escalated is True


# Meters: the reading window


def _window(around: int, inside: bool) -> dict:
    if inside:
        return {"window_start_day": min(around, 28), "window_end_day": around}
    other = 1 if around != 1 else 2
    return {"window_start_day": other, "window_end_day": other}


@pytest.mark.parametrize("inside", [True, False])
def test_the_reading_window_moves_the_api_and_the_meters_page(
    client, session: Session, city: City, database_url: str, inside: bool
):
    today = datetime.now(TASHKENT).date()
    window = _window(today.day, inside)
    app = client.app
    app.state.settings = make_settings(database_url, meters=window)
    meter = make_meter(session, apartment=city.home, kind=MeterKind.cold_water, smart=False)
    session.commit()

    answer = client.post(
        f"{API}/meters/{meter.id}/readings", json={"value": "12.5"}, headers=city.headers["resident"]
    )
    assert (answer.status_code == 201) is inside, answer.text

    resident = page_as(client, "resident")
    page = text(resident.get(f"/apartments/{city.home.id}/meters").text)
    start, end = window["window_start_day"], window["window_end_day"]
    assert f"accepted from day {start} to day {end} of each month" in page
    assert ("The window for readings is closed today." in page) is not inside
