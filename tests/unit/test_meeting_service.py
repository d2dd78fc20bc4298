"""The meeting verbs as users meet them: who may do what, every refusal with its reason and
nothing written, the one-ballot rule, the voting period, the close and its effects."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from housing.accounts.models import Role
from housing.errors import Conflict, Forbidden, Invalid, UnsupportedMediaType
from housing.meetings import closing, drafting, guards, jobs, publishing, reading, receipts, voting
from housing.meetings.models import (
    Ballot,
    BuildingDecision,
    InitiatorKind,
    Meeting,
    MeetingEvent,
    MeetingStatus,
    MeetingVoter,
)
from housing.meetings.phases import Phase, phase
from housing.meetings.rules import Choice, DecisionKind
from housing.notifications.models import Notification
from housing.registry.service import management_history
from tests.factories import meetings as f
from tests.factories.core import (
    make_apartment,
    make_building,
    make_company,
    make_owner,
    make_person,
    make_user,
)
from tests.factories.requests import png_bytes

F, A = Choice.yes, Choice.no


@pytest.fixture
def files(settings, tmp_path):
    return f.with_files(settings, tmp_path)


@pytest.fixture
def house(session):
    """A building of three flats (50, 30, 20 m2), each with an owner who has an account."""
    building = make_building(session)
    owners = [
        make_owner(session, make_apartment(session, building, area_m2=Decimal(a))) for a in ("50", "30", "20")
    ]
    residents = [f.resident(session, person) for person in owners]
    return building, owners, residents


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# Drafting: who initiates


def test_the_managing_companys_manager_an_admin_and_an_owner_draft_the_others_are_refused(session, house):
    building, _, residents = house
    manager = f.manager_of(session, building)
    assert f.draft(session, manager, building).initiator == InitiatorKind.company
    assert f.draft(session, f.admin(session), building).initiator == InitiatorKind.admin
    initiative = f.draft(session, residents[0], building)
    assert (initiative.initiator, initiative.status) == (InitiatorKind.owners, MeetingStatus.initiative)
    stranger = f.staff(session, make_company(session))
    with pytest.raises(Invalid, match="not one you may hold a meeting in") as refused:
        f.draft(session, stranger, building)
    assert refused.value.field == "building_id"
    with pytest.raises(Forbidden, match="officials read"):
        f.draft(session, f.actor_of(make_user(session, Role.official)), building)
    tenant = f.resident(session, make_person(session))
    with pytest.raises(Invalid):
        f.draft(session, tenant, building)
    technician = f.manager_of(session, building, Role.technician)
    with pytest.raises(Invalid):
        f.draft(session, technician, building)
    assert count(session, Meeting) == 3


@pytest.mark.parametrize(
    "texts, starts, ends, field",
    [
        ({}, f.STARTS, f.ENDS, "texts"),
        ({"de": ("Titel", "")}, f.STARTS, f.ENDS, "texts"),
        ({"en": ("  ", "body")}, f.STARTS, f.ENDS, "texts"),
        ({"en": ("x" * 201, "")}, f.STARTS, f.ENDS, "texts"),
        ({"en": ("Title\x00", "")}, f.STARTS, f.ENDS, "texts"),
        ({"en": ("Title", "body\x07")}, f.STARTS, f.ENDS, "texts"),
        (f.TEXTS, f.DRAFTED - timedelta(hours=1), f.ENDS, "voting_starts"),
        (f.TEXTS, f.STARTS, f.STARTS, "voting_ends"),
        (f.TEXTS, f.DRAFTED + timedelta(days=367), f.DRAFTED + timedelta(days=377), "voting_starts"),
        (f.TEXTS, f.STARTS, f.STARTS + timedelta(days=367), "voting_ends"),
        (f.TEXTS, f.STARTS.replace(tzinfo=None), f.ENDS, "voting_starts"),
    ],
)
def test_a_wrong_draft_is_refused_and_nothing_is_written(session, house, texts, starts, ends, field):
    building, _, _ = house
    with pytest.raises(Invalid) as refused:
        drafting.draft_meeting(
            session,
            f.manager_of(session, building),
            building_id=building.id,
            texts=texts,
            voting_starts=starts,
            voting_ends=ends,
            now=f.DRAFTED,
        )
    assert refused.value.field == field
    assert count(session, Meeting) == 0


def test_questions_that_change_the_company_or_the_fee_name_it_and_take_effect_after_the_vote(session, house):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.draft(session, manager, building, kinds=())
    current = guards.current_company_id(session, building.id, f.DRAFTED.date())
    other = make_company(session)
    texts = {"en": ("Change the company", "")}
    day_after = f.ENDS.date() + timedelta(days=1)
    wrong = [
        ({"kind": "weird"}, "kind"),
        ({"kind": DecisionKind.management_company, "effective_from": day_after}, "company_id"),
        (
            {"kind": DecisionKind.management_company, "company_id": current, "effective_from": day_after},
            "company_id",
        ),
        (
            {"kind": DecisionKind.management_company, "company_id": 999_999, "effective_from": day_after},
            "company_id",
        ),
        ({"kind": DecisionKind.management_company, "company_id": other.id}, "effective_from"),
        (
            {
                "kind": DecisionKind.management_company,
                "company_id": other.id,
                "effective_from": f.ENDS.date(),
            },
            "effective_from",
        ),
        ({"kind": DecisionKind.management_fee, "fee_minor": 0, "effective_from": day_after}, "fee_minor"),
        (
            {"kind": DecisionKind.management_fee, "fee_minor": 1, "effective_from": date(9999, 12, 31)},
            "effective_from",
        ),
        ({"kind": DecisionKind.management_fee, "fee_minor": True, "effective_from": day_after}, "fee_minor"),
        ({"kind": DecisionKind.ordinary, "company_id": other.id}, "company_id"),
        ({"kind": DecisionKind.ordinary, "fee_minor": 100}, "fee_minor"),
    ]
    for fields, field in wrong:
        with pytest.raises(Invalid) as refused:
            drafting.add_question(session, manager, meeting, texts=texts, now=f.DRAFTED, **fields)
        assert refused.value.field == field, fields
    assert f.questions(session, meeting) == []
    change = drafting.add_question(
        session,
        manager,
        meeting,
        kind=DecisionKind.management_company,
        company_id=other.id,
        effective_from=day_after,
        texts=texts,
        now=f.DRAFTED,
    )
    fee = drafting.add_question(
        session,
        manager,
        meeting,
        kind=DecisionKind.management_fee,
        fee_minor=200_000,
        effective_from=day_after,
        texts={"ru": ("Тариф", "")},
        now=f.DRAFTED,
    )
    assert (change.position, fee.position) == (1, 2)
    drafting.remove_question(session, manager, change, now=f.DRAFTED)
    assert [(q.id, q.position) for q in f.questions(session, meeting)] == [(fee.id, 1)]


def test_documents_are_checked_by_content_stored_and_read_back(session, house, files):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.draft(session, manager, building)
    question = f.questions(session, meeting)[0]
    with pytest.raises(UnsupportedMediaType) as refused:
        drafting.attach_document(
            session, manager, meeting, title="Contract", data=b"#!/bin/sh\n", settings=files, now=f.DRAFTED
        )
    assert refused.value.field == "data"
    with pytest.raises(Invalid):
        drafting.attach_document(
            session,
            manager,
            meeting,
            title="x",
            data=f.pdf_bytes(),
            question_id=999,
            settings=files,
            now=f.DRAFTED,
        )
    assert reading.documents_of(session, meeting) == []
    document = drafting.attach_document(
        session,
        manager,
        meeting,
        title="Contract",
        data=f.pdf_bytes(),
        question_id=question.id,
        settings=files,
        now=f.DRAFTED,
    )
    assert document.content_type == "application/pdf"
    assert reading.read_document(document, settings=files) == f.pdf_bytes()


# Publishing


def test_publishing_fixes_the_roll_and_all_votes_and_notifies_every_owner(session, house, settings):
    building, owners, residents = house
    make_apartment(session, building, area_m2=Decimal("12.34"))  # nobody owns it: still votes of the building
    meeting = f.published(session, settings, building)
    assert meeting.status == MeetingStatus.published and phase(meeting, f.DRAFTED) is Phase.notice
    assert meeting.record_date == date(2026, 11, 2)
    assert meeting.total_area_m2 == Decimal("112.34")
    assert sorted(v.person_id for v in reading.roll_of(session, meeting)) == sorted(p.id for p in owners)
    notices = session.exec(select(Notification).where(Notification.kind == "meeting_notice")).all()
    assert sorted(n.user_id for n in notices) == sorted(r.user_id for r in residents)
    # No language chosen: Uzbek, else Russian, else English (the meeting is written in en and ru).
    assert notices[0].params["title"] == "Общее собрание" and notices[0].link == f"/meetings/{meeting.id}"
    events = reading.events_of(session, meeting)
    assert [e.action for e in events] == ["drafted", "question_added", "published"]
    assert {e.user_id for e in events} == {meeting.created_by} and events[-1].at == f.DRAFTED
    assert (
        "record date 2026-11-02; roll of 3 shares; all votes 112.34 m2; 3 owners notified"
        in events[-1].detail
    )
    with pytest.raises(Conflict):
        publishing.publish_meeting(session, f.admin(session), meeting, settings=settings, now=f.DRAFTED)


@pytest.mark.parametrize(
    "starts, ends, field",
    [
        (f.DRAFTED + timedelta(days=13), f.DRAFTED + timedelta(days=23), "voting_starts"),  # 13 days' notice
        (f.STARTS, f.STARTS + timedelta(days=6), "voting_ends"),  # six days of voting
        (f.STARTS, f.STARTS + timedelta(days=61), "voting_ends"),
    ],
)
def test_publishing_refuses_a_short_notice_or_a_vote_too_short_or_long(
    session, house, settings, starts, ends, field
):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.draft(session, manager, building, starts=starts, ends=ends)
    with pytest.raises(Invalid) as refused:
        publishing.publish_meeting(session, manager, meeting, settings=settings, now=f.DRAFTED)
    assert refused.value.field == field
    assert meeting.status == MeetingStatus.draft and count(session, MeetingVoter) == 0
    assert count(session, Notification) == 0


def test_a_meeting_without_questions_is_not_published(session, house, settings):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.draft(session, manager, building, kinds=())
    with pytest.raises(Invalid, match="at least one question"):
        publishing.publish_meeting(session, manager, meeting, settings=settings, now=f.DRAFTED)


def test_an_owners_initiative_is_published_once_its_signatures_hold_a_tenth_of_all_votes(session, settings):
    building = make_building(session)
    areas = ("95.00", "5.00", "5.00")
    people = [make_owner(session, make_apartment(session, building, area_m2=Decimal(a))) for a in areas]
    big, small, other = (f.resident(session, p) for p in people)
    meeting = f.draft(session, small, building)
    publishing.sign_initiative(session, small, meeting, now=f.DRAFTED)
    with pytest.raises(Conflict, match="already signed"):
        publishing.sign_initiative(session, small, meeting, now=f.DRAFTED)
    with pytest.raises(Conflict, match="signed"):  # what owners signed cannot change
        drafting.update_meeting(session, small, meeting, texts={"en": ("Other", "")}, now=f.DRAFTED)
    with pytest.raises(Forbidden):
        publishing.publish_meeting(session, other, meeting, settings=settings, now=f.DRAFTED)
    with pytest.raises(Forbidden):  # the company does not run the owners' initiative
        publishing.publish_meeting(
            session, f.manager_of(session, building), meeting, settings=settings, now=f.DRAFTED
        )
    assert publishing.initiative_support(session, meeting, today=f.DRAFTED.date()) == (5, 105)
    with pytest.raises(Conflict, match=r"4\.76% of all votes; it needs 10\.00%"):
        publishing.publish_meeting(session, small, meeting, settings=settings, now=f.DRAFTED)
    publishing.sign_initiative(session, other, meeting, now=f.DRAFTED)  # 10 of 105: still under a tenth
    with pytest.raises(Conflict):
        publishing.publish_meeting(session, small, meeting, settings=settings, now=f.DRAFTED)
    publishing.sign_initiative(session, big, meeting, now=f.DRAFTED)
    publishing.publish_meeting(session, small, meeting, settings=settings, now=f.DRAFTED)
    assert meeting.status == MeetingStatus.published
    with pytest.raises(Conflict, match="only an owners' initiative"):
        publishing.sign_initiative(session, big, meeting, now=f.DRAFTED)


def test_only_owners_of_the_building_sign_an_initiative(session, house):
    building, _, residents = house
    meeting = f.draft(session, residents[0], building)
    with pytest.raises(Forbidden, match="own no premises"):
        publishing.sign_initiative(session, f.resident(session, make_person(session)), meeting, now=f.DRAFTED)
    with pytest.raises(Forbidden):
        publishing.sign_initiative(session, f.manager_of(session, building), meeting, now=f.DRAFTED)
    assert len(publishing.sign_initiative(session, residents[1], meeting, now=f.DRAFTED)) == 1


def test_a_meeting_is_cancelled_with_a_reason_before_voting_starts_and_not_after(session, house, settings):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.published(session, settings, building)
    with pytest.raises(Invalid):
        publishing.cancel_meeting(session, manager, meeting, reason=" ", now=f.DRAFTED)
    with pytest.raises(Conflict, match="only before voting starts"):
        publishing.cancel_meeting(session, manager, meeting, reason="mistake", now=f.VOTING)
    publishing.cancel_meeting(session, manager, meeting, reason="wrong date", now=f.DRAFTED)
    assert meeting.status == MeetingStatus.cancelled
    assert reading.events_of(session, meeting)[-1].detail == "wrong date"
    told = session.exec(select(Notification).where(Notification.kind == "meeting_cancelled")).all()
    assert len(told) == 3 and told[0].params["reason"] == "wrong date"


# Ballots: the voting period and the one-ballot rule


def test_no_ballot_before_the_start_at_the_end_or_after_the_close(session, house, settings):
    building, _, residents = house
    meeting = f.published(session, settings, building)
    for moment, reason in [(f.STARTS - timedelta(seconds=1), "voting starts"), (f.ENDS, "voting ended")]:
        with pytest.raises(Conflict, match=reason):
            f.vote(session, residents[0], meeting, F, now=moment)
    f.vote(session, residents[0], meeting, F, now=f.STARTS)  # the first moment counts
    closing.close_meeting(session, meeting, actor=None, settings=settings, now=f.ENDS)
    with pytest.raises(Conflict, match="voting ended"):
        f.vote(session, residents[1], meeting, F, now=f.ENDS)
    assert meeting.ballots == 1


def test_one_ballot_per_share_whoever_casts_it_and_each_refusal_says_why(session, house, files):
    building, owners, residents = house
    meeting = f.published(session, files, building)
    clerk = f.manager_of(session, building, Role.dispatcher)
    entry = voting.voter_entries(session, residents[0], meeting)[0]
    ballot = f.vote(session, residents[0], meeting, F)
    with pytest.raises(Conflict, match="the owner voted for this share online") as second:
        f.vote(session, residents[0], meeting, A, voter_id=entry.voter_id)
    assert ballot.hash[:16] in second.value.detail
    (q,) = f.questions(session, meeting)
    with pytest.raises(Conflict, match="the owner voted"):
        voting.enter_paper_ballot(
            session,
            clerk,
            meeting,
            voter_id=entry.voter_id,
            answers={q.id: A},
            scan=png_bytes(),
            settings=files,
            now=f.VOTING,
        )
    with pytest.raises(Conflict, match="has voted already"):
        voting.submit_proxy(
            session,
            residents[0],
            meeting,
            voter_id=entry.voter_id,
            proxy_person_id=owners[1].id,
            document=f.pdf_bytes(),
            settings=files,
            now=f.VOTING,
        )
    # A proxy uploaded before the owner votes cannot be accepted after it.
    second_entry = voting.voter_entries(session, residents[1], meeting)[0]
    proxy = voting.submit_proxy(
        session,
        clerk,
        meeting,
        voter_id=second_entry.voter_id,
        proxy_person_id=owners[2].id,
        document=f.pdf_bytes(),
        settings=files,
        now=f.VOTING,
    )
    f.vote(session, residents[1], meeting, A)
    with pytest.raises(Conflict, match="has voted already"):
        voting.decide_proxy(session, f.manager_of(session, building), proxy, accept=True, now=f.VOTING)
    # A paper ballot first, then the owner online.
    third_entry = voting.voter_entries(session, residents[2], meeting)[0]
    voting.enter_paper_ballot(
        session,
        clerk,
        meeting,
        voter_id=third_entry.voter_id,
        answers={q.id: F},
        scan=png_bytes(),
        settings=files,
        now=f.VOTING,
    )
    with pytest.raises(Conflict, match="a paper ballot for this share was entered"):
        f.vote(session, residents[2], meeting, A, voter_id=third_entry.voter_id)
    assert meeting.ballots == 3 and count(session, Ballot) == 3
    assert receipts.verify_meeting_chain(session, meeting)


def test_an_online_ballot_answers_every_question_of_the_agenda_and_only_it(session, house, settings):
    building, _, residents = house
    meeting = f.published(session, settings, building, kinds=(DecisionKind.ordinary, DecisionKind.ordinary))
    q1, q2 = f.questions(session, meeting)
    entry = voting.voter_entries(session, residents[0], meeting)[0]
    for answers, reason in [
        ({}, "at least one"),
        ({q1.id: F}, "answer every question"),
        ({q1.id: F, q2.id: "maybe"}, "not for, against or abstain"),
        ({q1.id: F, q2.id: F, 999: F}, "not on this meeting's agenda"),
    ]:
        with pytest.raises(Invalid, match=reason):
            voting.cast_ballot(
                session, residents[0], meeting, voter_id=entry.voter_id, answers=answers, now=f.VOTING
            )
    with pytest.raises(Invalid, match="not yours"):
        other = voting.voter_entries(session, residents[1], meeting)[0]
        voting.cast_ballot(
            session,
            residents[0],
            meeting,
            voter_id=other.voter_id,
            answers={q1.id: F, q2.id: F},
            now=f.VOTING,
        )
    assert count(session, Ballot) == 0 and meeting.ballots == 0
    with pytest.raises(Forbidden):
        voting.cast_ballot(
            session,
            f.manager_of(session, building),
            meeting,
            voter_id=entry.voter_id,
            answers={q1.id: F},
            now=f.VOTING,
        )


def test_turnout_shows_the_weight_voted_against_the_quorum(session, house, settings):
    building, _, residents = house
    meeting = f.published(session, settings, building)
    f.vote(session, residents[1], meeting, A)
    seen = closing.turnout(session, meeting, settings=settings)
    assert (seen.cast, seen.total, seen.quorum_needed, seen.quorum_reached) == (30, 100, 50, False)
    assert (seen.ballots, seen.roll, seen.percent) == (1, 3, 30)


# The close


def test_the_close_comes_after_the_vote_once(session, house, settings):
    building, _, residents = house
    meeting = f.published(session, settings, building)
    manager = f.manager_of(session, building)
    with pytest.raises(Conflict, match="voting runs until"):
        closing.close_meeting(session, meeting, actor=manager, settings=settings, now=f.VOTING)
    with pytest.raises(Forbidden):
        closing.close_meeting(session, meeting, actor=residents[0], settings=settings, now=f.AFTER)
    closing.close_meeting(session, meeting, actor=manager, settings=settings, now=f.AFTER)
    assert meeting.closed_by == manager.user_id and phase(meeting, f.AFTER) is Phase.closed
    with pytest.raises(Conflict, match="was closed"):
        closing.close_meeting(session, meeting, actor=f.admin(session), settings=settings, now=f.AFTER)
    results = session.exec(select(Notification).where(Notification.kind == "meeting_result")).all()
    assert sorted(n.user_id for n in results) == sorted(r.user_id for r in residents)


def test_an_adopted_company_change_moves_the_building_from_the_decided_day(session, house, settings):
    building, _, residents = house
    new = make_company(session)
    day = f.ENDS.date() + timedelta(days=5)
    meeting = f.published(
        session,
        settings,
        building,
        kinds=(DecisionKind.management_company,),
        company_id=new.id,
        effective_from=day,
    )
    f.vote(session, residents[0], meeting, F)  # 50 of 100: no quorum yet
    f.vote(session, residents[2], meeting, F)
    counted = closing.close_meeting(session, meeting, actor=None, settings=settings, now=f.AFTER)
    assert counted.questions[0].outcome == "adopted"
    history = management_history(session, building.id)
    assert [(h.company_id, h.valid_from) for h in history][-1] == (new.id, day)
    assert history[-2].valid_until == day
    (decision,) = session.exec(select(BuildingDecision)).all()
    assert (decision.kind, decision.company_id, decision.effective_from) == (
        DecisionKind.management_company,
        new.id,
        day,
    )


def test_a_company_change_the_register_refuses_is_recorded_and_the_close_goes_on(session, house, settings):
    building, _, residents = house
    new = make_company(session)
    day = f.ENDS.date() + timedelta(days=5)
    meeting = f.published(
        session,
        settings,
        building,
        kinds=(DecisionKind.management_company,),
        company_id=new.id,
        effective_from=day,
    )
    for resident in residents:
        f.vote(session, resident, meeting, F)
    # Meanwhile an admin hands the building to that company from a later day by hand.
    from housing.registry.service import change_management

    change_management(session, building, company_id=new.id, valid_from=day + timedelta(days=10))
    closing.close_meeting(session, meeting, actor=None, settings=settings, now=f.AFTER)
    assert meeting.status == MeetingStatus.closed
    refused = [e for e in reading.events_of(session, meeting) if e.action == "company_change_refused"]
    assert len(refused) == 1 and "must start after" in refused[0].detail
    assert session.exec(select(func.count()).select_from(BuildingDecision)).one() == 1


def test_the_close_job_counts_what_ended_and_reminders_go_once_to_who_has_not_voted(db, settings):
    from sqlmodel import Session

    with Session(db, expire_on_commit=False) as session:
        building = make_building(session)
        owners = [make_owner(session, make_apartment(session, building)) for _ in range(2)]
        residents = [f.resident(session, p) for p in owners]
        meeting = f.published(session, settings, building)
        f.vote(session, residents[0], meeting, F)
        session.commit()
    assert jobs.meeting_reminders(db, settings, now=f.VOTING) == "0 reminders for 0 meetings"
    near_end = f.ENDS - timedelta(days=1)
    assert jobs.meeting_reminders(db, settings, now=near_end) == "1 reminders for 1 meetings"
    assert jobs.meeting_reminders(db, settings, now=near_end) == "0 reminders for 1 meetings"
    assert jobs.close_meetings(db, settings, now=f.VOTING) == "0 meetings closed"
    assert jobs.close_meetings(db, settings, now=f.AFTER) == "1 meetings closed"
    assert jobs.close_meetings(db, settings, now=f.AFTER) == "0 meetings closed"
    with Session(db) as session:
        reminded = session.exec(select(Notification).where(Notification.kind == "meeting_reminder")).all()
        assert [n.user_id for n in reminded] == [residents[1].user_id]
        closed = session.get(Meeting, meeting.id)
        assert closed.status == MeetingStatus.closed and closed.closed_by is None
        assert (
            session.exec(select(MeetingEvent.action).where(MeetingEvent.meeting_id == meeting.id)).all()[-1]
            == "closed"
        )


def test_a_draft_is_edited_until_it_is_published_and_not_after(session, house, settings, files):
    building, _, _ = house
    manager = f.manager_of(session, building)
    meeting = f.draft(session, manager, building)
    later = f.STARTS + timedelta(days=1)
    drafting.update_meeting(
        session, manager, meeting, texts={"uz": ("Umumiy yig'ilish", "")}, voting_starts=later, now=f.DRAFTED
    )
    assert set(reading.texts_of(session, [meeting.id])[meeting.id]) == {"uz"}  # the texts are replaced
    assert (meeting.voting_starts, meeting.voting_ends) == (later, f.ENDS)
    with pytest.raises(Invalid) as refused:
        drafting.update_meeting(session, manager, meeting, voting_ends=later, now=f.DRAFTED)
    assert refused.value.field == "voting_ends" and meeting.voting_ends == f.ENDS
    with pytest.raises(Forbidden):
        drafting.update_meeting(session, f.staff(session, make_company(session)), meeting, now=f.DRAFTED)
    publishing.publish_meeting(session, manager, meeting, settings=settings, now=f.DRAFTED)
    for edit in (
        lambda: drafting.update_meeting(session, manager, meeting, texts={"en": ("x", "")}, now=f.DRAFTED),
        lambda: drafting.add_question(
            session, manager, meeting, kind="ordinary", texts={"en": ("x", "")}, now=f.DRAFTED
        ),
        lambda: drafting.remove_question(session, manager, f.questions(session, meeting)[0], now=f.DRAFTED),
        lambda: drafting.attach_document(
            session, manager, meeting, title="x", data=f.pdf_bytes(), settings=files, now=f.DRAFTED
        ),
    ):
        with pytest.raises(Conflict, match="published; its agenda can no longer change"):
            edit()
    assert len(f.questions(session, meeting)) == 1


def test_proxies_are_decided_by_managers_and_a_rejection_says_why(session, house, files):
    building, owners, residents = house
    meeting = f.published(session, files, building)
    entry = voting.voter_entries(session, residents[0], meeting)[0]

    def submit(actor, person_id=owners[1].id, document=None):
        return voting.submit_proxy(
            session, actor, meeting, voter_id=entry.voter_id, proxy_person_id=person_id,
            document=document or f.pdf_bytes(), settings=files, now=f.DRAFTED,
        )  # fmt: skip

    with pytest.raises(Forbidden):  # another owner cannot give this share away
        submit(residents[1])
    with pytest.raises(Invalid, match="their own proxy"):
        submit(residents[0], person_id=owners[0].id)
    with pytest.raises(Invalid) as refused:
        submit(residents[0], person_id=999_999)
    assert refused.value.field == "proxy_person_id"
    with pytest.raises(Invalid) as empty:
        voting.submit_proxy(
            session, residents[0], meeting, voter_id=entry.voter_id, proxy_person_id=owners[1].id, document=b"",
            settings=files, now=f.DRAFTED,
        )  # fmt: skip
    assert empty.value.field == "document"
    assert reading.proxies_of(session, meeting) == []
    first = submit(residents[0])
    manager = f.manager_of(session, building)
    with pytest.raises(Forbidden):  # a dispatcher uploads, a manager decides
        voting.decide_proxy(
            session, f.manager_of(session, building, Role.dispatcher), first, accept=True, now=f.DRAFTED
        )
    with pytest.raises(Invalid, match="say why"):
        voting.decide_proxy(session, manager, first, accept=False, reason="", now=f.DRAFTED)
    voting.decide_proxy(session, manager, first, accept=False, reason="not signed", now=f.DRAFTED)
    with pytest.raises(Conflict, match="rejected already"):
        voting.decide_proxy(session, manager, first, accept=True, now=f.DRAFTED)
    second = submit(residents[0])
    voting.decide_proxy(session, manager, second, accept=True, now=f.DRAFTED)
    with pytest.raises(Conflict, match="already has an accepted proxy"):
        submit(residents[0])
    assert [e.action for e in reading.events_of(session, meeting)][-4:] == [
        "proxy_submitted", "proxy_rejected", "proxy_submitted", "proxy_accepted",
    ]  # fmt: skip


def test_a_meeting_whose_close_fails_is_logged_and_the_others_still_close(db, settings, monkeypatch, caplog):
    """The close job isolates each meeting: one that fails is left for the next run, whole."""
    from sqlmodel import Session

    with Session(db, expire_on_commit=False) as session:
        meetings = []
        for _ in range(2):
            building = make_building(session)
            make_owner(session, make_apartment(session, building))
            meetings.append(f.published(session, settings, building))
        session.commit()
    broken, fine = (m.id for m in meetings)
    close = closing.close_meeting

    def failing_once(session, meeting, **kw):
        if meeting.id == broken:
            raise RuntimeError("the database went away")
        return close(session, meeting, **kw)

    monkeypatch.setattr(closing, "close_meeting", failing_once)
    assert jobs.close_meetings(db, settings, now=f.AFTER) == "1 meetings closed, 1 failed"
    assert f"meeting {broken}: the close failed" in caplog.text
    with Session(db) as session:
        statuses = {m.id: m.status for m in session.exec(select(Meeting))}
        assert statuses == {broken: MeetingStatus.published, fine: MeetingStatus.closed}
    monkeypatch.setattr(closing, "close_meeting", close)
    assert jobs.close_meetings(db, settings, now=f.AFTER) == "1 meetings closed"
    with Session(db) as session:
        assert {m.status for m in session.exec(select(Meeting))} == {MeetingStatus.closed}
