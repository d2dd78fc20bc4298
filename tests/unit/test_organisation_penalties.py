"""Organisations' late penalty: 0.4% a day (individuals 0.1%), each with its own cap, for
premises organisations hold more than half of on the penalty day."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from billing.ledger.penalties import DEFAULT_PENALTIES, PenaltyRules, organisation_held
from billing.ledger.service import accrue_penalties, organisation_rates, penalty_payer
from billing.models import LedgerEntry, LedgerKind
from billing.rules import BillingRules
from housing.registry.models import Ownership, PersonKind
from housing.settings import BillingSettings, MeterSettings, OutageSettings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_building, make_owner, make_person

DUE = date(2026, 11, 15)  # an October invoice's due date
RULES = PenaltyRules.of(BillingSettings())
_tax = iter(range(200_000_001, 299_999_999))


def organisation(session: Session, apartment, share: str = "1", **kw):
    return make_owner(session, apartment, share, kind=PersonKind.organisation, tax_id=str(next(_tax)), **kw)


def penalties(session: Session, apartment_id: int) -> list[int]:
    return list(
        session.exec(
            select(LedgerEntry.amount_minor)
            .where(LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind == LedgerKind.penalty)
            .order_by(LedgerEntry.occurred_at)
        ).all()
    )


def test_the_rules_come_from_settings_and_the_organisations_pair_applies_to_their_premises():
    assert BillingRules.of(BillingSettings(), *_defaults()).penalties == RULES
    assert (RULES.rate, RULES.cap) == (Decimal("0.001"), Decimal("0.5"))
    held = RULES.applying(True)
    assert (held.rate, held.cap, held.percent(), held.cap_percent()) == (
        Decimal("0.004"),
        Decimal("0.5"),
        "0.4%",
        "50%",
    )
    assert RULES.applying(False).percent() == "0.1%"
    custom = PenaltyRules.of(
        BillingSettings(organisation_penalty_rate="0.002", organisation_penalty_cap="0.1")
    )
    assert (custom.applying(True).rate, custom.applying(True).cap) == (Decimal("0.002"), Decimal("0.1"))
    # Rules built without an organisations' pair charge everyone the same.
    plain = PenaltyRules(rate=Decimal("0.001"), cap=Decimal("0.5"))
    assert plain.applying(True) == plain.applying(False)


@pytest.mark.parametrize(
    ("shares", "held"),
    [
        ([], False),  # nobody on the register: the individuals' rate
        ([(1, 1, True)], True),
        ([(1, 1, False)], False),
        ([(1, 2, True), (1, 2, False)], False),  # exactly half is not more than half
        ([(501, 1000, True), (499, 1000, False)], True),
        ([(1, 3, True), (1, 3, True), (1, 3, False)], True),  # two organisations together
        ([(1, 4, True)], True),  # an incomplete register: measured against the shares in force
        ([(1, 4, True), (1, 4, False)], False),
    ],
)
def test_more_than_half_of_the_shares_in_force_makes_premises_an_organisations(shares, held):
    assert organisation_held(shares) is held


def test_an_organisation_pays_four_times_a_persons_penalty_on_the_same_debt_day_after_day(
    session: Session,
):
    building = make_building(session)
    person_flat, firm_flat = make_apartment(session, building), make_apartment(session, building)
    make_owner(session, person_flat)
    organisation(session, firm_flat)
    for flat in (person_flat, firm_flat):
        make_billed_invoice(session, flat, 1_000_000)

    for day in [DUE, *(DUE + timedelta(days=n) for n in range(1, 6))]:
        accrue_penalties(session, today=day, rules=RULES)

    assert penalties(session, person_flat.id) == [1_000] * 5  # none on the due date itself
    assert penalties(session, firm_flat.id) == [4_000] * 5
    [reference] = session.exec(
        select(LedgerEntry.reference).where(
            LedgerEntry.apartment_id == firm_flat.id, LedgerEntry.kind == LedgerKind.penalty
        )
    ).all()[:1]
    assert reference.startswith("0.4% of 1000000 tiyin overdue")
    assert (
        RULES.applying(penalty_payer(session, firm_flat.id, DUE) is PersonKind.organisation).percent()
        == "0.4%"
    )
    assert (
        RULES.applying(penalty_payer(session, person_flat.id, DUE) is PersonKind.organisation).percent()
        == "0.1%"
    )


def test_each_pays_up_to_its_own_cap(session: Session):
    rules = PenaltyRules(
        rate=Decimal("0.001"),
        cap=Decimal("0.002"),
        organisation_rate=Decimal("0.004"),
        organisation_cap=Decimal("0.01"),
    )
    person_flat, firm_flat = make_apartment(session), make_apartment(session)
    make_owner(session, person_flat)
    organisation(session, firm_flat)
    for flat in (person_flat, firm_flat):
        make_billed_invoice(session, flat, 1_000_000)

    for n in range(1, 6):
        accrue_penalties(session, today=DUE + timedelta(days=n), rules=rules)

    assert penalties(session, person_flat.id) == [1_000, 1_000]  # 0.2% of 1,000,000
    assert penalties(session, firm_flat.id) == [4_000, 4_000, 2_000]  # 1% of it


def test_the_rate_follows_the_shares_in_force_on_each_penalty_day(session: Session):
    """Half and half: the person's rate; the organisation buys the other half on the 18th."""
    flat = make_apartment(session)
    seller = make_owner(session, flat, "1/2")
    organisation(session, flat, "1/2")
    make_billed_invoice(session, flat, 1_000_000)
    sale = DUE + timedelta(days=3)
    end_and_sell(session, flat.id, seller.id, sale)

    for n in range(1, 6):
        accrue_penalties(session, today=DUE + timedelta(days=n), rules=RULES)

    assert penalties(session, flat.id) == [1_000, 1_000, 4_000, 4_000, 4_000]
    assert organisation_rates(session, [flat.id], sale - timedelta(days=1)) == set()
    assert organisation_rates(session, [flat.id], sale) == {flat.id}


def end_and_sell(session: Session, apartment_id: int, seller_id: int, day: date) -> None:
    """The seller's half ends on `day` and a second organisation holds it from then."""
    row = session.exec(
        select(Ownership).where(Ownership.apartment_id == apartment_id, Ownership.person_id == seller_id)
    ).one()
    row.valid_until = day
    session.add(row)
    session.flush()
    buyer = make_person(session, kind=PersonKind.organisation, tax_id=str(next(_tax)))
    session.add(
        Ownership(
            apartment_id=apartment_id,
            person_id=buyer.id,
            share_numerator=1,
            share_denominator=2,
            valid_from=day,
        )
    )
    session.flush()


def _defaults():
    return MeterSettings(), OutageSettings()


def test_the_default_rules_are_the_settings_defaults():
    assert DEFAULT_PENALTIES == RULES
