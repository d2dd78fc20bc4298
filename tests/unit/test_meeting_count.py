"""The count, exactly, through the service: co-owners, an owner of several apartments,
non-residential premises, the quorum and the two-thirds boundaries, a proxy, a paper ballot and an
ownership change after the record date."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlmodel import select

from housing.errors import Conflict
from housing.meetings import closing, reading, receipts, voting
from housing.meetings.models import BallotChannel, BuildingDecision
from housing.meetings.rules import Choice, DecisionKind, Outcome, percent, shown
from housing.registry import service as registry
from housing.registry.models import Ownership
from tests.factories import meetings as f
from tests.factories.core import make_apartment, make_building, make_owner, make_person

F, A, X = Choice.yes, Choice.no, Choice.abstain


@pytest.fixture
def files(settings, tmp_path):
    return f.with_files(settings, tmp_path)


def close(session, settings, meeting):
    """Closes the meeting, holding the database's sums to the row-by-row count first."""
    live = closing.meeting_count(session, meeting, settings=settings)
    assert live == closing.reference_count(session, meeting, settings=settings)
    return closing.close_meeting(session, meeting, actor=None, settings=settings, now=f.AFTER)


def two_flats(session, first: str, second: str):
    building = make_building(session)
    owners = []
    for area in (first, second):
        owners.append(make_owner(session, make_apartment(session, building, area_m2=Decimal(area))))
    return building, owners


def test_a_building_of_co_owners_several_flats_a_shop_a_proxy_a_paper_ballot_and_a_sale(session, files):
    building = make_building(session)
    flat = make_apartment(session, building, number="1", area_m2=Decimal("60.00"))
    one_third = make_owner(session, flat, share="1/3")
    two_thirds = make_owner(session, flat, share="2/3")
    second = make_apartment(session, building, number="2", area_m2=Decimal("40.50"))
    third = make_apartment(session, building, number="3", area_m2=Decimal("30.25"))
    landlord = make_owner(session, second)
    registry.add_ownership(
        session, apartment_id=third.id, person_id=landlord.id, share=Fraction(1), valid_from=date(2020, 1, 1)
    )
    shop = make_apartment(session, building, number="S1", area_m2=Decimal("69.25"), residential=False)
    shopkeeper = make_owner(session, shop)
    meeting = f.published(
        session, files, building, kinds=(DecisionKind.ordinary, DecisionKind.capital_repair)
    )
    assert meeting.total_area_m2 == Decimal("200.00")  # the shop's area counts among all votes
    roll = reading.roll_of(session, meeting)
    assert len(roll) == 5

    # After the record date the co-owner with a third sells it: the buyer does not vote for it.
    sold = session.exec(select(Ownership).where(Ownership.person_id == one_third.id)).one()
    registry.end_period(session, sold, date(2026, 11, 10))
    buyer = make_person(session)
    registry.add_ownership(
        session, apartment_id=flat.id, person_id=buyer.id, share=Fraction(1, 3), valid_from=date(2026, 11, 10)
    )
    assert voting.voter_entries(session, f.resident(session, buyer), meeting) == []
    seller = f.resident(session, one_third)
    f.vote(session, seller, meeting, [F, F])

    # The owner of flats 2 and 3 gives flat 2's vote to a proxy; staff accept it.
    owner = f.resident(session, landlord)
    entries = {e.apartment_number: e for e in voting.voter_entries(session, owner, meeting)}
    assert entries["2"].weight == Fraction("40.5") and entries["3"].weight == Fraction("30.25")
    deputy = make_person(session, full_name="Proxy Person")
    clerk = f.manager_of(session, building)
    proxy = voting.submit_proxy(
        session,
        owner,
        meeting,
        voter_id=entries["2"].voter_id,
        proxy_person_id=deputy.id,
        document=f.pdf_bytes(),
        settings=files,
        now=f.DRAFTED,
    )
    voting.decide_proxy(session, clerk, proxy, accept=True, reason="", now=f.DRAFTED)
    assert [e.apartment_number for e in voting.voter_entries(session, owner, meeting)] == ["3"]
    f.vote(session, f.resident(session, deputy), meeting, [F, F], voter_id=entries["2"].voter_id)
    with pytest.raises(Conflict, match="your proxy votes"):
        f.vote(session, owner, meeting, [A, A], voter_id=entries["2"].voter_id)
    f.vote(session, owner, meeting, [X, F], voter_id=entries["3"].voter_id)

    # The shop's owner signs a paper ballot, leaving the capital repair blank.
    shop_entry = next(v for v in roll if v.apartment_id == shop.id)
    q1, q2 = f.questions(session, meeting)
    assert [
        e.apartment_number for e in voting.voter_entries(session, f.resident(session, shopkeeper), meeting)
    ] == ["S1"]
    paper = voting.enter_paper_ballot(
        session,
        clerk,
        meeting,
        voter_id=shop_entry.id,
        answers={q1.id: F},
        scan=f.pdf_bytes(),
        settings=files,
        now=f.VOTING,
    )
    assert paper.channel == BallotChannel.paper and paper.scan_file

    live = closing.meeting_count(session, meeting, settings=files)
    counted = close(session, files, meeting)
    assert counted == live
    assert counted.total == 200
    assert counted.cast == Fraction("160")  # 20 + 40.5 + 30.25 + 69.25; the two-thirds co-owner did not vote
    assert counted.quorum  # 80% of all votes
    ordinary, repair = counted.questions
    assert (ordinary.votes_for, ordinary.votes_against, ordinary.votes_abstain) == (
        Fraction("129.75"),
        0,
        Fraction("30.25"),
    )
    assert ordinary.outcome is Outcome.adopted
    assert shown(percent(ordinary.votes_for, counted.total)) == Decimal("64.88")  # 64.875, half up
    assert (repair.votes_for, repair.votes_against, repair.votes_abstain) == (Fraction("90.75"), 0, 0)
    assert repair.outcome is Outcome.rejected  # 90.75 < 2/3 of 200
    assert closing.meeting_count(session, meeting, settings=files) == counted  # from the stored results

    register = receipts.ballot_register(session, meeting)
    assert [(r.apartment_number, r.channel, r.proxy_name) for r in register] == [
        ("1", BallotChannel.online, None),
        ("2", BallotChannel.online, "Proxy Person"),
        ("3", BallotChannel.online, None),
        ("S1", BallotChannel.paper, None),
    ]
    assert register[0].share == Fraction(1, 3) and register[0].weight == 20
    assert register[-1].choices == {q1.id: F} and q2.id not in register[-1].choices
    # The co-owner of two thirds was on the roll and did not vote: nobody voted for that share.
    assert [e.ballot for e in voting.voter_entries(session, f.resident(session, two_thirds), meeting)] == [
        None
    ]
    decisions = session.exec(BuildingDecision.__table__.select()).all()
    assert [d.question_id for d in decisions] == [q1.id]


@pytest.mark.parametrize(
    "voted, other, quorum",
    [("50.00", "50.00", False), ("50.01", "49.99", True)],
    ids=["exactly half: no quorum", "just above half: quorum"],
)
def test_the_quorum_is_more_than_half_of_all_votes(session, settings, voted, other, quorum):
    building, (voter, _) = two_flats(session, voted, other)
    meeting = f.published(session, settings, building)
    f.vote(session, f.resident(session, voter), meeting, F)
    counted = close(session, settings, meeting)
    assert counted.cast == Fraction(voted) and counted.quorum is quorum
    assert counted.questions[0].outcome is (Outcome.adopted if quorum else Outcome.no_quorum)
    assert meeting.quorum_reached is quorum


@pytest.mark.parametrize(
    "voted, other, outcome",
    [("200.00", "100.00", Outcome.adopted), ("199.99", "100.01", Outcome.rejected)],
    ids=["exactly two thirds: adopted", "just under: rejected"],
)
def test_a_major_decision_needs_two_thirds_of_all_votes(session, settings, voted, other, outcome):
    building, (voter, _) = two_flats(session, voted, other)
    meeting = f.published(session, settings, building, kinds=(DecisionKind.capital_repair,))
    f.vote(session, f.resident(session, voter), meeting, F)
    counted = close(session, settings, meeting)
    assert counted.quorum
    assert counted.questions[0].outcome is outcome


def test_an_ordinary_decision_is_a_majority_of_the_votes_cast(session, settings):
    building = make_building(session)
    areas = ("30.00", "25.00", "24.00", "21.00")
    owners = [make_owner(session, make_apartment(session, building, area_m2=Decimal(a))) for a in areas]
    meeting = f.published(session, settings, building)
    for person, choice in zip(owners[:3], (F, A, X), strict=True):
        f.vote(session, f.resident(session, person), meeting, choice)
    counted = close(session, settings, meeting)
    # 30 for of 79 cast: not more than half of the votes cast, though abstentions count as cast.
    assert counted.cast == 79 and counted.quorum
    assert counted.questions[0].outcome is Outcome.rejected
