"""Service request verbs on a real database: filing, the lifecycle, rating, spam limits, photos."""

from datetime import date, timedelta

import pytest

from housing.accounts.models import Role
from housing.errors import Conflict, Forbidden, Invalid, RateLimited, TooLarge, UnsupportedMediaType
from housing.registry import service as registry
from housing.registry.models import Building
from housing.requests import service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestStatus as S
from tests.factories.core import make_apartment, make_company, make_user
from tests.factories.requests import (
    NOON,
    REOPEN_WINDOW,
    make_category,
    make_request,
    make_resident,
    move,
    png_bytes,
)


@pytest.fixture
def home(session):
    return make_apartment(session)


@pytest.fixture
def resident(session, home):
    return make_resident(session, home)


def resident_moves(session, request, to, *, now, reason="still leaking"):
    return service.transition_request(
        session,
        request,
        to=to,
        actor_id=None,
        mover=Mover.resident,
        now=now,
        reopen_window=REOPEN_WINDOW,
        reason=reason,
    )


# Filing


def test_a_request_goes_to_the_company_managing_the_building_and_keeps_it_after_a_handover(
    session, home, resident
):
    first_company = registry.current_manager(session, home.building_id, date(2026, 11, 17))
    request = make_request(session, resident, home)
    registry.change_management(
        session,
        session.get(Building, home.building_id),
        company_id=make_company(session).id,
        valid_from=date(2026, 12, 1),
    )
    session.refresh(request)
    assert request.company_id == first_company
    assert request.deadline_at == NOON + timedelta(days=1)
    [filed] = service.transitions_of(session, request.id)
    assert (filed.from_status, filed.to_status, filed.actor_id, filed.at) == (None, S.new, resident.id, NOON)


def test_the_emergency_flag_overrides_the_category_deadline(session, home, resident):
    lift = make_category(session, deadline_minutes=24 * 60)
    flagged = make_request(session, resident, home, lift, emergency=True)
    assert flagged.emergency is True
    assert flagged.deadline_at == NOON + timedelta(minutes=30)


def test_an_emergency_category_makes_its_requests_emergencies_by_default(session, home, resident):
    gas = make_category(session, deadline_minutes=30, emergency=True)
    request = make_request(session, resident, home, gas)
    assert request.emergency is True


def test_an_apartment_of_another_building_is_refused(session, home, resident):
    elsewhere = make_apartment(session)
    with pytest.raises(Invalid) as refused:
        make_request(session, resident, home, apartment_id=elsewhere.id)
    assert refused.value.field == "apartment_id"


def test_an_inactive_category_cannot_be_chosen(session, home, resident):
    retired = make_category(session, active=False)
    with pytest.raises(Invalid):
        make_request(session, resident, home, retired)


# Spam limits


def test_the_eleventh_request_of_a_day_is_refused_and_the_next_day_is_fine(session, home, resident):
    category = make_category(session)
    for i in range(10):
        make_request(session, resident, home, category, now=NOON + timedelta(minutes=i))
    with pytest.raises(RateLimited) as refused:
        make_request(session, resident, home, category, now=NOON + timedelta(hours=1))
    assert "at most 10 requests a day" in refused.value.detail
    # Local midnight in Tashkent is 19:00 UTC; the retry hint points there.
    assert refused.value.extra["retry_after"] == int(timedelta(hours=13).total_seconds())
    make_request(session, resident, home, category, now=NOON + timedelta(hours=14))


def test_the_same_request_twice_in_a_day_is_refused_even_with_other_spacing_and_case(session, home, resident):
    category = make_category(session)
    first = make_request(session, resident, home, category, description="No light on the  3rd floor")
    with pytest.raises(Conflict) as refused:
        make_request(
            session,
            resident,
            home,
            category,
            description="no light on the 3rd floor ",
            now=NOON + timedelta(hours=2),
        )
    assert refused.value.extra["request_id"] == first.id
    # The next day it may be filed again (it was not fixed).
    make_request(
        session,
        resident,
        home,
        category,
        description="No light on the 3rd floor",
        now=NOON + timedelta(days=1),
    )


def test_a_dispatcher_filing_for_a_resident_uses_that_residents_allowance(session, home, resident):
    dispatcher = make_user(session, Role.dispatcher, company_id=make_company(session).id)
    category = make_category(session)
    for i in range(10):
        make_request(session, resident, home, category, now=NOON + timedelta(minutes=i))
    with pytest.raises(RateLimited):
        make_request(
            session, resident, home, category, filed_by_id=dispatcher.id, now=NOON + timedelta(hours=1)
        )


# The lifecycle


def test_a_request_walks_the_main_line_with_every_step_recorded(session, home, resident):
    request = make_request(session, resident, home)
    move(session, request, S.accepted, S.in_progress, S.resolved, S.closed, actor_id=resident.id)
    assert request.status == S.closed
    assert request.accepted_at == NOON + timedelta(minutes=1)
    assert request.resolved_at == NOON + timedelta(minutes=3)
    assert request.closed_at == NOON + timedelta(minutes=4)
    steps = [(t.from_status, t.to_status) for t in service.transitions_of(session, request.id)]
    assert steps == [
        (None, S.new),
        (S.new, S.accepted),
        (S.accepted, S.in_progress),
        (S.in_progress, S.resolved),
        (S.resolved, S.closed),
    ]


def test_a_move_not_allowed_from_the_current_status_is_a_conflict_and_changes_nothing(
    session, home, resident
):
    request = make_request(session, resident, home)
    with pytest.raises(Conflict) as refused:
        move(session, request, S.resolved)
    assert refused.value.status == 409
    assert "from new it may become: accepted, rejected, deferred" in refused.value.detail
    assert request.status == S.new
    assert len(service.transitions_of(session, request.id)) == 1


def test_a_resident_cannot_make_staff_moves_nor_staff_reopen(session, home, resident):
    request = make_request(session, resident, home)
    with pytest.raises(Forbidden):
        resident_moves(session, request, S.accepted, now=NOON)
    move(session, request, S.accepted, S.resolved)
    with pytest.raises(Forbidden):
        move(session, request, S.reopened, reason="staff may not")


def test_rejecting_needs_a_reason(session, home, resident):
    request = make_request(session, resident, home)
    with pytest.raises(Invalid) as refused:
        move(session, request, S.rejected, reason="  ")
    assert refused.value.field == "reason"
    move(session, request, S.rejected, reason="not the company's property")
    assert request.status == S.rejected
    assert request.accepted_at is not None  # a rejection is a response too


def test_deferring_needs_a_date_in_the_future(session, home, resident):
    request = make_request(session, resident, home)
    with pytest.raises(Invalid) as past:
        move(session, request, S.deferred, reason="parts on order", until=NOON - timedelta(hours=1))
    assert (past.value.field, past.value.detail) == ("until", "until must be in the future")
    with pytest.raises(Invalid):
        move(session, request, S.deferred, reason="parts on order")
    move(session, request, S.deferred, reason="parts on order", until=NOON + timedelta(days=3))
    assert request.deferred_until == NOON + timedelta(days=3)


def test_the_resident_reopens_within_seven_days_and_the_clock_restarts(session, home, resident):
    request = make_request(session, resident, home)
    move(session, request, S.accepted, S.resolved)
    resolved_at = request.resolved_at
    later = resolved_at + timedelta(days=6)
    resident_moves(session, request, S.reopened, now=later)
    assert (request.status, request.reopen_count, request.resolved_at) == (S.reopened, 1, None)
    assert request.deadline_at == later + timedelta(days=1)
    move(session, request, S.resolved, now=later)
    with pytest.raises(Conflict) as too_late:
        resident_moves(session, request, S.reopened, now=request.resolved_at + timedelta(days=8))
    assert "within 7 days" in too_late.value.detail


def test_reopening_needs_a_reason(session, home, resident):
    request = make_request(session, resident, home)
    move(session, request, S.accepted, S.resolved)
    with pytest.raises(Invalid):
        resident_moves(session, request, S.reopened, now=NOON + timedelta(hours=1), reason=None)


# Rating


def test_the_resident_rates_a_resolved_request_once(session, home, resident):
    request = make_request(session, resident, home)
    with pytest.raises(Conflict):
        service.rate_request(session, request, person_id=resident.person_id, rating=5, comment=None, now=NOON)
    move(session, request, S.accepted, S.resolved)
    service.rate_request(
        session, request, person_id=resident.person_id, rating=4, comment=" quick ", now=NOON
    )
    assert (request.rating, request.rating_comment, request.rated_at) == (4, "quick", NOON)
    with pytest.raises(Conflict) as twice:
        service.rate_request(session, request, person_id=resident.person_id, rating=1, comment=None, now=NOON)
    assert "already rated 4" in twice.value.detail
    assert request.rating == 4


def test_someone_else_cannot_rate_the_request(session, home, resident):
    flatmate = make_resident(session, home, owner=False)
    request = make_request(session, resident, home)
    move(session, request, S.accepted, S.resolved)
    with pytest.raises(Forbidden):
        service.rate_request(session, request, person_id=flatmate.person_id, rating=1, comment=None, now=NOON)
    assert request.rating is None


# Assignment and photos


def test_only_staff_of_the_handling_company_can_be_assigned(session, home, resident):
    request = make_request(session, resident, home)
    ours = make_user(session, Role.technician, company_id=request.company_id)
    successor = make_company(session)
    theirs = make_user(session, Role.technician, company_id=successor.id)
    today = date(2026, 11, 17)
    with pytest.raises(Invalid):
        service.assign_request(session, request, assignee_id=theirs.id, today=today)
    with pytest.raises(Invalid):
        service.assign_request(session, request, assignee_id=resident.id, today=today)
    service.assign_request(session, request, assignee_id=ours.id, today=today)
    assert request.assignee_id == ours.id
    # From the handover the successor handles the building's requests: its staff, not ours
    building = session.get(Building, home.building_id)
    registry.change_management(session, building, company_id=successor.id, valid_from=date(2026, 12, 1))
    with pytest.raises(Invalid):
        service.assign_request(session, request, assignee_id=ours.id, today=date(2026, 12, 1))
    service.assign_request(session, request, assignee_id=theirs.id, today=date(2026, 12, 1))
    assert request.assignee_id == theirs.id


def test_a_photo_is_stored_on_disk_and_only_real_images_are_kept(session, home, resident, tmp_path):
    request = make_request(session, resident, home)
    kwargs = {"uploaded_by_id": resident.id, "photo_dir": tmp_path, "max_bytes": 10_000, "max_photos": 2}
    photo = service.attach_photo(session, request, data=png_bytes(), **kwargs)
    assert photo.content_type == "image/png"
    assert (tmp_path / photo.file_name).read_bytes() == png_bytes()
    with pytest.raises(UnsupportedMediaType):
        service.attach_photo(session, request, data=b"%PDF-1.7 definitely a photo", **kwargs)
    with pytest.raises(UnsupportedMediaType):
        service.attach_photo(session, request, data=png_bytes()[:40], **kwargs)  # truncated
    with pytest.raises(TooLarge):
        service.attach_photo(session, request, data=png_bytes((400, 400)) + b"\0" * 10_000, **kwargs)
    service.attach_photo(session, request, data=png_bytes(), **kwargs)
    with pytest.raises(Conflict):
        service.attach_photo(session, request, data=png_bytes(), **kwargs)
    assert len(list(tmp_path.iterdir())) == 2
