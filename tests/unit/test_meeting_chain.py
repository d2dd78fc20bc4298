"""The ballots' hash chain and receipts: recomputable by anyone, broken by any edit."""

from decimal import Decimal

from sqlmodel import select

from housing.meetings import chain, receipts
from housing.meetings.models import Ballot, BallotAnswer
from housing.meetings.phases import Phase, phase
from housing.meetings.rules import Choice
from tests.factories import meetings as f
from tests.factories.core import make_apartment, make_building, make_owner


def links(n: int) -> list[chain.ChainLink]:
    made, previous = [], chain.GENESIS
    for sequence in range(1, n + 1):
        fields = {"sequence": sequence, "answers": {"1": "for"}, "owner": "Ўрмонов"}
        link = chain.ChainLink(previous, fields, chain.ballot_hash(previous, fields))
        made.append(link)
        previous = link.hash
    return made


def test_a_chain_verifies_and_any_change_breaks_it():
    good = links(3)
    assert chain.verify_chain(good, head=good[-1].hash)
    assert chain.verify_chain([], head=chain.GENESIS)
    edited = [good[0], good[1]._replace(fields={**good[1].fields, "answers": {"1": "against"}}), good[2]]
    assert not chain.verify_chain(edited)
    assert not chain.verify_chain([good[0], good[2]])  # one removed
    assert not chain.verify_chain(good[:2], head=good[-1].hash)  # the tail cut off
    assert not chain.verify_chain(list(reversed(good)))


def test_the_hash_is_of_canonical_json_whatever_the_key_order():
    assert chain.ballot_hash(chain.GENESIS, {"a": 1, "b": "ў"}) == chain.ballot_hash(
        chain.GENESIS, {"b": "ў", "a": 1}
    )
    assert len(chain.ballot_hash(chain.GENESIS, {})) == 64
    assert chain.receipt_of("ab" * 32) == "ab" * 8


def test_a_receipt_finds_its_ballot_in_the_register_and_a_tampered_answer_breaks_the_chain(session, settings):
    building = make_building(session)
    owners = [
        make_owner(session, make_apartment(session, building, area_m2=Decimal("41.5"))) for _ in range(3)
    ]
    meeting = f.published(session, settings, building)
    assert phase(meeting, f.VOTING) is Phase.voting and phase(meeting, f.ENDS) is Phase.counting
    ballots = [
        f.vote(session, f.resident(session, p), meeting, c) for p, c in zip(owners, Choice, strict=True)
    ]
    assert meeting.chain_head == ballots[-1].hash and ballots[1].prev_hash == ballots[0].hash
    assert receipts.verify_meeting_chain(session, meeting)
    receipt = chain.receipt_of(ballots[1].hash)
    found = receipts.find_receipt(session, meeting, f"  {receipt.upper()} ")
    assert found is not None and found.sequence == 2 and found.receipt == receipt
    assert found.choices == {f.questions(session, meeting)[0].id: Choice.no}
    for wrong in ("", "abc", "z" * 16, "0" * 16, receipt + "%", None):
        assert receipts.find_receipt(session, meeting, wrong) is None
    answer = session.exec(select(BallotAnswer).where(BallotAnswer.ballot_id == ballots[0].id)).one()
    answer.choice = Choice.no  # what the register would show if someone edited the table
    session.add(answer)
    session.flush()
    assert not receipts.verify_meeting_chain(session, meeting)
    assert session.exec(select(Ballot.sequence).order_by(Ballot.sequence)).all() == [1, 2, 3]
