"""The verbs Payme and Click share (`billing.payments.merchant`), on SQLite: a transaction keyed
by the provider's id opens once, performs once into the ledger, cancels before (nothing moved)
or after (a refund) perform, and takes over the payer's checkout of the same account and amount.
The providers' wire formats are tested at their endpoints."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from billing.ledger.service import balance
from billing.models import Gateway, InvoiceStatus, LedgerEntry, LedgerKind, PaymentStatus
from billing.payments import merchant
from billing.payments.merchant import Limits, MerchantRefused, Refusal
from housing.accounts.models import Role
from housing.errors import Invalid
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_owner, make_user

NOW = datetime(2026, 11, 10, 9, tzinfo=UTC)
LIMITS = Limits(min_minor=100_000, max_minor=1_000_000_000)


@pytest.fixture
def owing(session: Session):
    apartment = make_apartment(session)
    older = make_billed_invoice(session, apartment, 20_000_000, period=date(2026, 9, 1))
    newer = make_billed_invoice(session, apartment, 10_000_000, period=date(2026, 10, 1))
    payer = make_user(session, Role.resident, person_id=make_owner(session, apartment).id)
    session.commit()
    return apartment, older, newer, payer


def open_one(session, apartment, external_id="tx-1", amount=25_000_000, gateway=Gateway.payme, now=NOW):
    return merchant.open_transaction(
        session,
        gateway,
        external_id=external_id,
        account_number=apartment.account_number,
        amount_minor=amount,
        limits=LIMITS,
        provider_time=now,
        now=now,
    )


def entries(session, apartment_id, kind):
    return session.exec(
        select(LedgerEntry.amount_minor).where(
            LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind == kind
        )
    ).all()


def test_a_transaction_opens_once_and_performs_once_into_the_ledger_oldest_invoice_first(session, owing):
    apartment, older, newer, _ = owing
    attempt, new = open_one(session, apartment)
    again, new_again = open_one(session, apartment)
    assert new and not new_again and again.id == attempt.id
    assert attempt.status is PaymentStatus.pending and attempt.opened_at == NOW
    assert entries(session, apartment.id, LedgerKind.payment) == []
    later = NOW + timedelta(minutes=3)
    assert merchant.perform_transaction(session, attempt, now=later) is True
    assert merchant.perform_transaction(session, attempt, now=later + timedelta(hours=1)) is False
    assert entries(session, apartment.id, LedgerKind.payment) == [-25_000_000]
    assert attempt.performed_at == later
    booked = session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)).one()
    assert booked.occurred_at == later and booked.reference == "tx-1"
    session.refresh(older)
    session.refresh(newer)
    assert older.status == InvoiceStatus.paid and newer.status == InvoiceStatus.partially_paid


def test_more_than_the_debt_is_kept_as_prepayment(session, owing):
    apartment, *_ = owing
    attempt, _ = open_one(session, apartment, amount=50_000_000)
    merchant.perform_transaction(session, attempt, now=NOW)
    assert balance(session, apartment.id) == -20_000_000


def test_cancel_before_perform_moves_no_money_and_cannot_be_performed_after(session, owing):
    apartment, *_ = owing
    attempt, _ = open_one(session, apartment)
    assert merchant.cancel_transaction(session, attempt, reason=3, now=NOW) is True
    assert merchant.cancel_transaction(session, attempt, reason=5, now=NOW + timedelta(hours=1)) is False
    assert (
        attempt.status is PaymentStatus.canceled and attempt.cancel_reason == 3 and attempt.canceled_at == NOW
    )
    with pytest.raises(MerchantRefused) as refused:
        merchant.perform_transaction(session, attempt, now=NOW)
    assert refused.value.refusal is Refusal.cannot_perform
    assert entries(session, apartment.id, LedgerKind.payment) == []


def test_cancel_after_perform_books_one_refund_of_the_whole_payment(session, owing):
    apartment, *_ = owing
    before = balance(session, apartment.id)
    attempt, _ = open_one(session, apartment)
    merchant.perform_transaction(session, attempt, now=NOW)
    assert merchant.cancel_transaction(session, attempt, reason=5, now=NOW + timedelta(hours=2)) is True
    assert merchant.cancel_transaction(session, attempt, reason=5, now=NOW + timedelta(hours=3)) is False
    assert attempt.status is PaymentStatus.refunded and attempt.canceled_at == NOW + timedelta(hours=2)
    assert entries(session, apartment.id, LedgerKind.refund) == [25_000_000]
    assert balance(session, apartment.id) == before
    with pytest.raises(MerchantRefused) as refused:
        merchant.perform_transaction(session, attempt, now=NOW)
    assert refused.value.refusal is Refusal.cannot_perform


def test_a_payment_partly_handed_back_at_the_office_cannot_be_cancelled_by_the_provider(session, owing):
    from billing.payments.service import refund_payment

    apartment, _, _, payer = owing
    attempt, _ = open_one(session, apartment)
    merchant.perform_transaction(session, attempt, now=NOW)
    refund_payment(
        session, None, attempt=attempt, amount_minor=1_000_000, user_id=payer.id, reason="cash back"
    )
    with pytest.raises(MerchantRefused) as refused:
        merchant.cancel_transaction(session, attempt, reason=5, now=NOW)
    assert refused.value.refusal is Refusal.cannot_cancel
    assert entries(session, apartment.id, LedgerKind.refund) == [1_000_000]


@pytest.mark.parametrize("account", ["", "no-such-account", "\x00", "9" * 500])
def test_an_unknown_account_is_refused(session, owing, account):
    with pytest.raises(MerchantRefused) as refused:
        merchant.check_payable(session, account_number=account, amount_minor=1_000_000, limits=LIMITS)
    assert refused.value.refusal is Refusal.unknown_account


@pytest.mark.parametrize("amount", [0, -1, 99_999, 1_000_000_001, 10**30])
def test_amounts_outside_the_limits_are_refused_and_nothing_is_opened(session, owing, amount):
    apartment, *_ = owing
    with pytest.raises(MerchantRefused) as refused:
        open_one(session, apartment, amount=amount)
    assert refused.value.refusal is Refusal.amount_out_of_limits
    assert merchant.find_transaction(session, Gateway.payme, "tx-1") is None


@pytest.mark.parametrize("amount", [100_000, 1_000_000_000])
def test_the_limits_themselves_are_accepted(session, owing, amount):
    apartment, *_ = owing
    attempt, new = open_one(session, apartment, amount=amount)
    assert new and attempt.amount_minor == amount


def test_the_same_id_at_two_providers_is_two_transactions(session, owing):
    apartment, *_ = owing
    payme, _ = open_one(session, apartment, gateway=Gateway.payme)
    click, new = open_one(session, apartment, gateway=Gateway.click)
    assert new and payme.id != click.id


def test_the_payers_checkout_is_taken_over_by_the_providers_first_call(session, owing, frozen_clock):
    apartment, _, _, payer = owing
    frozen_clock.set(NOW - timedelta(minutes=5))
    checkout = merchant.start_checkout(
        session,
        Gateway.click,
        apartment_id=apartment.id,
        amount_minor=25_000_000,
        limits=LIMITS,
        user_id=payer.id,
        client_key="form-1",
    )
    twice = merchant.start_checkout(
        session,
        Gateway.click,
        apartment_id=apartment.id,
        amount_minor=25_000_000,
        limits=LIMITS,
        user_id=payer.id,
        client_key="form-1",
    )
    assert twice.id == checkout.id and checkout.status is PaymentStatus.created
    other_amount, _ = open_one(
        session, apartment, external_id="c-0", amount=30_000_000, gateway=Gateway.click
    )
    assert other_amount.id != checkout.id
    taken, new = open_one(session, apartment, external_id="c-1", gateway=Gateway.click)
    assert new and taken.id == checkout.id and taken.external_id == "c-1"
    assert taken.status is PaymentStatus.pending and taken.created_by_id == payer.id
    another, _ = open_one(session, apartment, external_id="c-2", gateway=Gateway.click)
    assert another.id != checkout.id


def test_a_checkout_older_than_the_window_is_not_taken_over(session, owing, frozen_clock):
    apartment, _, _, payer = owing
    frozen_clock.set(NOW - timedelta(hours=24, seconds=1))
    old = merchant.start_checkout(
        session,
        Gateway.payme,
        apartment_id=apartment.id,
        amount_minor=25_000_000,
        limits=LIMITS,
        user_id=payer.id,
    )
    attempt, new = open_one(session, apartment)
    assert new and attempt.id != old.id and old.status is PaymentStatus.created


def test_a_checkout_outside_the_limits_is_refused(session, owing):
    apartment, _, _, payer = owing
    with pytest.raises(Invalid):
        merchant.start_checkout(
            session, Gateway.payme, apartment_id=apartment.id, amount_minor=1, limits=LIMITS, user_id=payer.id
        )


def test_checkouts_never_opened_are_abandoned_and_opened_ones_are_not(session, owing, frozen_clock):
    apartment, _, _, payer = owing
    frozen_clock.set(NOW)
    stale = merchant.start_checkout(
        session,
        Gateway.payme,
        apartment_id=apartment.id,
        amount_minor=1_000_000,
        limits=LIMITS,
        user_id=payer.id,
    )
    opened = merchant.start_checkout(
        session,
        Gateway.payme,
        apartment_id=apartment.id,
        amount_minor=2_000_000,
        limits=LIMITS,
        user_id=payer.id,
    )
    open_one(session, apartment, external_id="p-1", amount=2_000_000)
    session.flush()
    later = NOW + timedelta(days=2)
    assert merchant.abandon_checkouts(session, before=NOW + timedelta(hours=1), now=later) == 1
    assert stale.status is PaymentStatus.canceled and stale.canceled_at == later
    assert opened.status is PaymentStatus.pending
    assert merchant.abandon_checkouts(session, before=NOW + timedelta(hours=1), now=later) == 0


def test_the_statement_window_is_the_providers_own_time_both_ends_included(session, owing):
    apartment, *_ = owing
    for i, minutes in enumerate((0, 10, 20)):
        open_one(session, apartment, external_id=f"w-{i}", now=NOW + timedelta(minutes=minutes))
    found = merchant.transactions_between(session, Gateway.payme, NOW, NOW + timedelta(minutes=10))
    assert [a.external_id for a in found] == ["w-0", "w-1"]
    assert merchant.transactions_between(session, Gateway.click, NOW, NOW + timedelta(days=1)) == []
