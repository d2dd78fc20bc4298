"""Announcements: who is notified (buildings, entrances, a district, the city), in which language,
in the posting's transaction; who may post where; attachments judged by content; reads counted once."""

import io
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfWriter
from sqlalchemy import func
from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.announcements import languages, service
from housing.announcements.models import Announcement, AnnouncementRead, Reach
from housing.announcements.queries import visible_announcements
from housing.clock import local_today
from housing.errors import Forbidden, Invalid, TooLarge, UnsupportedMediaType
from housing.notifications.models import Notification
from housing.registry.models import Building
from tests.factories.core import make_apartment, make_building, make_company, make_district, make_user
from tests.factories.requests import make_resident, png_bytes

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)
TEXTS = {
    "uz": service.Wording("Suv o'chiriladi", "Ertaga 10:00 dan 14:00 gacha sovuq suv bo'lmaydi."),
    "ru": service.Wording("Отключение воды", "Завтра с 10:00 до 14:00 не будет холодной воды."),
}


@dataclass
class Town:
    building: Building  # company A's, two entrances
    other: Building  # company B's, another district
    first: User  # resident of building, entrance 1, reads Russian
    second: User  # resident of building, entrance 2, reads English (not written in it)
    tenant: User  # a registered tenant (not an owner) of entrance 2
    far: User  # resident of the other building
    manager: User
    manager_b: User
    official: User
    admin: User


@pytest.fixture
def town(session: Session) -> Town:
    district, far_district = make_district(session), make_district(session)
    company_a, company_b = make_company(session), make_company(session)
    building = make_building(session, company_a, district_id=district.id)
    other = make_building(session, company_b, district_id=far_district.id)
    one = make_apartment(session, building, entrance=1)
    two = make_apartment(session, building, entrance=2)
    first, second = make_resident(session, one), make_resident(session, two)
    tenant = make_resident(session, two, owner=False)
    first.language, second.language = "ru", "en"
    far = make_resident(session, make_apartment(session, other, entrance=1))
    session.add_all([first, second])
    made = Town(
        building=building,
        other=other,
        first=first,
        second=second,
        tenant=tenant,
        far=far,
        manager=make_user(session, Role.manager, company_id=company_a.id),
        manager_b=make_user(session, Role.manager, company_id=company_b.id),
        official=make_user(session, Role.official),
        admin=make_user(session, Role.admin),
    )
    session.flush()
    return made


def post(session: Session, user: User, **kw) -> Announcement:
    fields = {"texts": TEXTS, "reach": Reach.buildings, "notice_chars": 500, "today": TODAY, "now": NOW} | kw
    return service.post_announcement(session, actor=Actor.of(user), **fields)


def notices(session: Session) -> dict[int, Notification]:
    return {n.user_id: n for n in session.exec(select(Notification))}


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_building_announcement_notifies_its_residents_each_in_their_language(session, town):
    posted = post(session, town.manager, targets=[service.Target(town.building.id)])

    written = notices(session)
    assert set(written) == {town.first.id, town.second.id, town.tenant.id}
    assert posted.recipients == 3
    assert written[town.first.id].params["title"] == "Отключение воды"  # theirs
    assert written[town.second.id].params["title"] == "Suv o'chiriladi"  # not written in English: Uzbek
    assert {n.kind for n in written.values()} == {"announcement"}
    assert {n.link for n in written.values()} == {f"/notices/announcements/{posted.id}"}
    assert written[town.first.id].dedupe_key == f"announcement:{posted.id}:{town.first.id}"


def test_an_entrance_announcement_reaches_that_entrance_only(session, town):
    post(session, town.manager, targets=[service.Target(town.building.id, 2)])

    assert set(notices(session)) == {town.second.id, town.tenant.id}
    assert [a.id for a in session.exec(visible_announcements(Actor.of(town.first), TODAY))] == []
    assert len(session.exec(visible_announcements(Actor.of(town.tenant), TODAY)).all()) == 1


def test_officials_reach_a_district_or_the_city(session, town):
    district = post(session, town.official, reach=Reach.district, district_id=town.other.district_id)
    assert set(notices(session)) == {town.far.id}

    city = post(session, town.official, reach=Reach.city, urgent=True)

    urgent = session.exec(select(Notification).where(Notification.kind == "announcement_urgent")).all()
    assert {n.user_id for n in urgent} == {town.first.id, town.second.id, town.tenant.id, town.far.id}
    assert all(n.urgent for n in urgent)
    seen_by_far = {a.id for a in session.exec(visible_announcements(Actor.of(town.far), TODAY))}
    seen_by_first = {a.id for a in session.exec(visible_announcements(Actor.of(town.first), TODAY))}
    assert seen_by_far == {district.id, city.id}
    assert seen_by_first == {city.id}


def test_staff_see_their_company_announcements_and_the_wide_ones_that_reach_them(session, town):
    own = post(session, town.manager, targets=[service.Target(town.building.id)])
    theirs = post(session, town.manager_b, targets=[service.Target(town.other.id)])
    far_district = post(session, town.official, reach=Reach.district, district_id=town.other.district_id)
    by_admin = post(session, town.admin, targets=[service.Target(town.building.id, 1)])

    seen = {a.id for a in session.exec(visible_announcements(Actor.of(town.manager), TODAY))}
    assert seen == {own.id, by_admin.id}
    seen_b = {a.id for a in session.exec(visible_announcements(Actor.of(town.manager_b), TODAY))}
    assert seen_b == {theirs.id, far_district.id}


@pytest.mark.parametrize(
    "who, fields, error, field",
    [
        ("manager", {"targets": []}, Invalid, "targets"),
        ("manager", {"targets": "other"}, Invalid, "targets"),  # another company's building
        ("manager", {"targets": "entrance 9"}, Invalid, "targets"),  # no such entrance
        ("manager", {"reach": Reach.city}, Forbidden, None),
        ("official", {"targets": "own"}, Forbidden, None),
        ("official", {"reach": Reach.district, "district_id": 2**31 - 1}, Invalid, "district_id"),
        ("official", {"reach": Reach.city, "targets": "own"}, Invalid, "targets"),
        ("manager", {"targets": "own", "texts": {}}, Invalid, "texts"),
        ("manager", {"targets": "own", "texts": {"de": TEXTS["uz"]}}, Invalid, "texts"),
        ("manager", {"targets": "own", "texts": {"en": service.Wording(" ", "text")}}, Invalid, "texts"),
        ("manager", {"targets": "own", "texts": {"en": service.Wording("title", "\n\t")}}, Invalid, "texts"),
        ("manager", {"targets": "own", "pinned_until": TODAY - timedelta(days=1)}, Invalid, "pinned_until"),
        ("manager", {"targets": "own", "pinned_until": TODAY + timedelta(days=400)}, Invalid, "pinned_until"),
    ],
)
def test_a_refused_post_writes_nothing(session, town, who, fields, error, field):
    shorthand = {
        "own": [service.Target(town.building.id)],
        "other": [service.Target(town.other.id)],
        "entrance 9": [service.Target(town.building.id, 9)],
    }
    if isinstance(fields.get("targets"), str):
        fields = fields | {"targets": shorthand[fields["targets"]]}
    with pytest.raises(error) as refused:
        post(session, getattr(town, who), **fields)

    assert refused.value.field == field
    assert count(session, Announcement) == 0 and count(session, Notification) == 0


def test_notices_are_written_in_the_posting_transaction(db, session, town):
    session.commit()
    post(session, town.manager, targets=[service.Target(town.building.id)])
    session.rollback()

    with Session(db) as fresh:
        assert count(fresh, Announcement) == 0 and count(fresh, Notification) == 0


def test_a_long_text_is_cut_in_the_notice_and_kept_whole_in_the_announcement(session, town):
    long = service.Wording("Title", "word " * 400)
    posted = post(
        session,
        town.manager,
        targets=[service.Target(town.building.id)],
        texts={"en": long},
        notice_chars=100,
    )

    text = notices(session)[town.second.id].params["text"]
    assert len(text) == 100 and text.endswith("…")
    assert service.texts_of(session, [posted.id])[posted.id]["en"].body == "word " * 400


def test_opening_counts_once_and_marks_the_notification_read(session, town):
    posted = post(session, town.manager, targets=[service.Target(town.building.id)])

    assert service.mark_read(session, posted, user_id=town.first.id, now=NOW) is True
    assert service.mark_read(session, posted, user_id=town.first.id, now=NOW + timedelta(hours=1)) is False

    assert service.read_counts(session, [posted.id]) == {posted.id: 1}
    assert count(session, AnnouncementRead) == 1
    read = notices(session)
    assert read[town.first.id].read_at == NOW
    assert read[town.second.id].read_at is None


# Attachments: by content, not by name


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("data, content_type", [(png_bytes(), "image/png"), (pdf_bytes(), "application/pdf")])
def test_an_image_or_a_pdf_is_stored_with_its_checked_type(session, town, tmp_path: Path, data, content_type):
    attachment = service.Attachment(data, tmp_path, 1 << 20)
    posted = post(session, town.manager, targets=[service.Target(town.building.id)], attachment=attachment)

    assert posted.attachment_type == content_type
    assert (tmp_path / posted.attachment_file).read_bytes() == data


@pytest.mark.parametrize(
    "data, error",
    [
        (b"%PDF-1.7\n<script>alert(1)</script>", UnsupportedMediaType),  # only claims to be a PDF
        (pdf_bytes()[: len(pdf_bytes()) // 3], UnsupportedMediaType),  # truncated
        (b"#!/bin/sh\nrm -rf /\n", UnsupportedMediaType),
        (png_bytes()[:40], UnsupportedMediaType),
        (b"", UnsupportedMediaType),
        (b"\0" * 2048, TooLarge),
    ],
)
def test_anything_else_is_refused_and_nothing_is_written(session, town, tmp_path: Path, data, error):
    attachment = service.Attachment(data, tmp_path, 1024)
    with pytest.raises(error):
        post(session, town.manager, targets=[service.Target(town.building.id)], attachment=attachment)

    assert count(session, Announcement) == 0 and count(session, Notification) == 0
    assert list(tmp_path.iterdir()) == []


# The reader's language


@pytest.mark.parametrize(
    "written, reader, shown",
    [
        ({"uz", "ru", "en"}, "ru", "ru"),
        ({"ru", "en"}, "uz", "ru"),
        ({"en"}, "uz", "en"),
        ({"uz", "en"}, None, "uz"),
        ({"en", "uz"}, "de", "uz"),
    ],
)
def test_a_reader_sees_their_language_else_the_city_order(written, reader, shown):
    assert languages.pick({code: code.upper() for code in written}, reader) == (shown, shown.upper())


def test_no_text_at_all_is_a_programming_error():
    with pytest.raises(ValueError):
        languages.pick({}, "uz")


def test_the_demo_city_gets_a_pinned_an_urgent_and_a_city_wide_announcement_once(db, settings):
    from housing.announcements.seeding import seed_demo_announcements
    from housing.registry.seeding import reset_demo_users, seed_city

    seed_city(db, apartments=100, companies=2)
    reset_demo_users(db, settings, password_for=lambda role: f"{role}-password-1")

    assert "3 demo announcements" in seed_demo_announcements(db, settings)
    assert "already there" in seed_demo_announcements(db, settings)

    with Session(db) as session:
        posted = session.exec(select(Announcement)).all()
        resident = session.exec(select(User).where(User.username == "demo-resident")).one()
        seen = session.exec(visible_announcements(Actor.of(resident), local_today(settings.timezone))).all()
        inbox = session.exec(select(Notification).where(Notification.user_id == resident.id)).all()
    assert len(posted) == 3 and len(seen) == 3 and len(inbox) == 3
    assert [a.reach for a in posted if a.pinned_until] == [Reach.buildings]
    assert [a.reach for a in posted if a.urgent] == [Reach.buildings]
    assert [a.recipients >= 1 for a in posted if a.reach == Reach.city] == [True]


def test_two_openings_at_the_same_moment_count_once(db, session, town):
    posted = post(session, town.manager, targets=[service.Target(town.building.id)])
    session.commit()
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def open_it() -> None:
        with Session(db) as own:
            barrier.wait(timeout=10)
            results.append(service.mark_read(own, posted, user_id=town.first.id, now=NOW))
            own.commit()

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, True]
    with Session(db) as fresh:
        assert service.read_counts(fresh, [posted.id]) == {posted.id: 1}
