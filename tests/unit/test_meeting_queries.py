"""Who sees which meeting: owners and residents their building's published ones and initiatives,
the managing company's staff all of them, other companies' staff none, officials and admins all."""

from datetime import date
from decimal import Decimal

from sqlmodel import select

from housing.accounts.models import Role
from housing.meetings import drafting, publishing, reading, voting
from housing.meetings.models import Meeting
from housing.meetings.queries import visible_meetings
from housing.registry import service as registry
from housing.registry.models import Ownership
from tests.factories import meetings as f
from tests.factories.core import (
    make_apartment,
    make_building,
    make_company,
    make_owner,
    make_person,
    make_user,
)

TODAY = date(2026, 11, 20)


def seen(session, actor) -> set[str]:
    meetings = session.exec(visible_meetings(actor, TODAY)).all()
    texts = reading.texts_of(session, [m.id for m in meetings])
    return {texts[m.id]["en"].title for m in meetings}


def titled(session, actor, building, title, **kw) -> Meeting:
    meeting = f.draft(session, actor, building, **kw)
    drafting.update_meeting(session, actor, meeting, texts={"en": (title, "")}, now=f.DRAFTED)
    return meeting


def test_each_actor_sees_the_meetings_of_their_scope(session, settings, tmp_path):
    building = make_building(session)
    flat = make_apartment(session, building, area_m2=Decimal("60"))
    owner_person = make_owner(session, flat)
    seller_person = make_owner(session, make_apartment(session, building, area_m2=Decimal("40")))
    owner, seller = f.resident(session, owner_person), f.resident(session, seller_person)
    tenant_person = make_person(session)
    registry.add_residence(
        session, apartment_id=flat.id, person_id=tenant_person.id, valid_from=date(2020, 1, 1)
    )
    tenant = f.resident(session, tenant_person)
    manager = f.manager_of(session, building)

    titled(session, manager, building, "draft")
    published = titled(session, manager, building, "published")
    publishing.publish_meeting(session, manager, published, settings=settings, now=f.DRAFTED)
    cancelled_draft = titled(session, manager, building, "cancelled draft")
    publishing.cancel_meeting(session, manager, cancelled_draft, reason="no", now=f.DRAFTED)
    called_off = titled(session, manager, building, "called off")
    publishing.publish_meeting(session, manager, called_off, settings=settings, now=f.DRAFTED)
    publishing.cancel_meeting(session, manager, called_off, reason="moved", now=f.DRAFTED)
    titled(session, owner, building, "initiative")

    # The seller sells after the record date: still on the roll, still sees what they vote in.
    sold = session.exec(select(Ownership).where(Ownership.person_id == seller_person.id)).one()
    registry.end_period(session, sold, date(2026, 11, 10))
    # A proxy from elsewhere sees the meeting once their power of attorney is accepted.
    deputy_person = make_person(session)
    deputy = f.resident(session, deputy_person)
    assert seen(session, deputy) == set()
    entry = voting.voter_entries(session, owner, published)[0]
    proxy = voting.submit_proxy(
        session,
        owner,
        published,
        voter_id=entry.voter_id,
        proxy_person_id=deputy_person.id,
        document=f.pdf_bytes(),
        settings=f.with_files(settings, tmp_path),
        now=f.DRAFTED,
    )
    assert seen(session, deputy) == set()
    voting.decide_proxy(session, manager, proxy, accept=True, now=f.DRAFTED)

    everything = {"draft", "published", "cancelled draft", "called off", "initiative"}
    residents_see = {"published", "called off", "initiative"}
    assert seen(session, owner) == residents_see
    assert seen(session, tenant) == residents_see
    assert seen(session, seller) == {"published", "called off"}  # on those rolls; no longer of the building
    assert seen(session, deputy) == {"published"}
    assert seen(session, manager) == everything
    assert seen(session, f.manager_of(session, building, Role.technician)) == everything
    assert seen(session, f.staff(session, make_company(session))) == set()
    assert seen(session, f.admin(session)) == everything
    assert seen(session, f.actor_of(make_user(session, Role.official))) == everything
    assert seen(session, f.resident(session, make_person(session))) == set()
    nobody = f.actor_of(make_user(session, Role.dispatcher, company_id=make_company(session).id))
    assert seen(session, nobody) == set()
